//! Property tests of the users file: what is written reads back the same,
//! any text parses or fails cleanly, and errors never show a line's content.

use mail_accounts::{format_quota, UsersFile};
use proptest::prelude::*;

/// Valid argon2 PHC strings (cheap parameters; the parser checks the form,
/// not the password).
const HASHES: [&str; 2] = [
    "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$nnvBv7XdFHzd+ZwuLuA7nKT4OR/MyGGPmv1Ff4l3/Yg",
    "$argon2i$v=19$m=16,t=2,p=1$YW5vdGhlcnNhbHQ$Q0FSQ0hFQ0sxMjM0NTY3ODkwYWJjZGVmZ2hpams",
];

fn local_part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._+=!#$%&'*/?^`{|}~-]{1,20}".prop_filter("no leading #", |s| !s.starts_with('#'))
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,2}\\.[a-z]{2,5}",
        Just("bücher.example".to_owned()),
        Just("EXAMPLE.ORG".to_owned()),
    ]
}

#[derive(Debug, Clone)]
enum Line {
    Comment(String),
    Blank(String),
    User {
        local: String,
        domain: String,
        hash: usize,
        quota: Option<u64>,
        spaced: bool,
    },
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        "[ \t]{0,3}#[^\r\n]{0,30}".prop_map(Line::Comment),
        "[ \t]{0,3}".prop_map(Line::Blank),
        (
            local_part(),
            domain(),
            0..2usize,
            proptest::option::of(1u64..),
            any::<bool>()
        )
            .prop_map(|(local, domain, hash, quota, spaced)| Line::User {
                local,
                domain,
                hash,
                quota,
                spaced
            }),
    ]
}

fn text_of(lines: &[Line]) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut text = String::new();
    for line in lines {
        match line {
            Line::Comment(c) | Line::Blank(c) => text.push_str(c),
            Line::User {
                local,
                domain,
                hash,
                quota,
                spaced,
            } => {
                let key = mail_accounts::canonical_address(&format!("{local}@{domain}")).unwrap();
                if !seen.insert(key) {
                    continue;
                }
                let sep = if *spaced { " : " } else { ":" };
                text.push_str(&format!("{local}@{domain}{sep}{}", HASHES[*hash]));
                if let Some(quota) = quota {
                    text.push_str(&format!("{sep}{}", format_quota(*quota)));
                }
            }
        }
        text.push('\n');
    }
    text
}

proptest! {
    #[test]
    fn a_valid_file_renders_back_byte_for_byte(lines in proptest::collection::vec(line(), 0..20)) {
        let text = text_of(&lines);
        let file = UsersFile::parse(&text).unwrap();
        prop_assert_eq!(file.render(), text.clone());
        // CRLF line ends read the same.
        let crlf = UsersFile::parse(&text.replace('\n', "\r\n")).unwrap();
        prop_assert_eq!(&crlf, &file);
    }

    #[test]
    fn edits_then_render_then_parse_round_trip(
        lines in proptest::collection::vec(line(), 0..12),
        extra in (local_part(), domain(), proptest::option::of(1u64..)),
    ) {
        let mut file = UsersFile::parse(&text_of(&lines)).unwrap();
        let address = format!("{}@{}", extra.0, extra.1);
        let hash = UsersFile::parse(&format!("x@x.example:{}", HASHES[1])).unwrap().entries().next().unwrap().hash().clone();
        if file.get(&address).is_some() {
            file.set_quota(&address, extra.2).unwrap();
            file.set_password(&address, hash).unwrap();
        } else {
            file.add(&address, hash, extra.2).unwrap();
        }
        let again = UsersFile::parse(&file.render()).unwrap();
        prop_assert_eq!(&again, &file);
        prop_assert_eq!(again.get(&address).map(|e| e.quota()), Some(extra.2));
        let first = file.entries().next().map(|e| e.address().to_owned());
        if let Some(first) = first {
            file.remove(&first).unwrap();
            prop_assert!(UsersFile::parse(&file.render()).unwrap().get(&first).is_none());
        }
    }

    #[test]
    fn any_text_parses_or_fails_without_showing_a_line(text in "(\\PC{0,40}(\r|\n|\r\n)?){0,6}") {
        match UsersFile::parse(&text) {
            Ok(file) => {
                prop_assert_eq!(UsersFile::parse(&file.render()).unwrap(), file);
            }
            Err(error) => {
                let shown = format!("{error} {error:?}");
                prop_assert!(error.line().is_some());
                for line in text.lines() {
                    let line = line.trim();
                    if line.len() > 12 {
                        prop_assert!(!shown.contains(line), "{} shows {:?}", shown, line);
                    }
                }
            }
        }
    }
}
