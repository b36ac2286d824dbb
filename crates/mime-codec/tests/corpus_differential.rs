//! Corpus differential test: every message of a corpus of real-world mail is read by our parser
//! and by Python's standard `email` package (policy.default), and the two must agree on the
//! subject, the addresses, the part structure, the file names and the decoded text of at least
//! 99% of the messages, field by field.
//!
//! The corpus is Python's own email test messages (`test/test_email/data`, found through
//! python3 or `MAILWIRE_PYTHON_EMAIL_DATA`, which `tests/setup/15-python-testdata.sh` sets) and
//! the messages in `tests/corpus/`, written for this project from bug reports against mail
//! parsers. Where we read a message better than Python on purpose, `tests/corpus/deviations.txt`
//! names the message, the field and why; such a pair is left out of the ratio but must still
//! disagree, so the list cannot go stale. Run with `--nocapture` to see the table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mime_codec::{Body, Message, Part};

/// Prints, per message, one fact per line; every free-form value is hex-encoded UTF-8.
const SCRIPT: &str = r#"
import sys, email, email.policy
h = lambda s: s.encode('utf-8', 'surrogateescape').hex() or '-'
for path in sys.argv[1:]:
    print('FILE', path.encode().hex())
    msg = email.message_from_bytes(open(path, 'rb').read(), policy=email.policy.default)
    try:
        s = msg['Subject']
        print('S', '!' if s is None else h(str(s)))
    except Exception as e:
        print('S', 'ERR')
    for name in ['From', 'To', 'Cc', 'Reply-To']:
        try:
            for v in msg.get_all(name) or []:
                for a in v.addresses:
                    print('A', name, h(a.display_name), h(a.addr_spec))
        except Exception as e:
            print('A', name, 'ERR', 'ERR')
    for part in msg.walk():
        fn = None
        try:
            fn = part.get_filename()
        except Exception:
            fn = 'ERR'
        print('P', h(part.get_content_type()), '!' if fn is None else h(fn))
        if part.get_content_maintype() == 'text' and not part.is_multipart():
            try:
                print('T', h(part.get_content()))
            except Exception as e:
                print('T', 'ERR')
    print('END')
"#;

/// One parser's reading of one message, field by field.
#[derive(Debug, Default, Clone, PartialEq)]
struct Reading {
    subject: String,
    addresses: Vec<String>,
    structure: Vec<String>,
    file_names: Vec<String>,
    texts: Vec<String>,
}

const FIELDS: [&str; 5] = ["subject", "addresses", "structure", "file names", "text"];

impl Reading {
    fn field(&self, i: usize) -> String {
        match i {
            0 => self.subject.clone(),
            1 => format!("{:?}", self.addresses),
            2 => format!("{:?}", self.structure),
            3 => format!("{:?}", self.file_names),
            _ => format!("{:?}", self.texts),
        }
    }
}

fn unhex(s: &str) -> String {
    if s == "-" {
        return String::new();
    }
    let bytes: Vec<u8> = (0..s.len() / 2)
        .map(|i| {
            u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or_else(|_| panic!("not hex: {s}"))
        })
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Line endings as LF, so that CRLF and LF messages compare by content.
fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

fn python_readings(files: &[PathBuf]) -> BTreeMap<PathBuf, Reading> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .args(files)
        .output()
        .expect(
            "python3 must be installed to run the corpus differential test (see tests/run-all.sh)",
        );
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut all = BTreeMap::new();
    let mut path = PathBuf::new();
    let mut r = Reading::default();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "FILE" => {
                path = PathBuf::from(unhex(f[1]));
                r = Reading::default();
            }
            "S" => {
                r.subject = match f[1] {
                    "!" => "(none)".into(),
                    "ERR" => "(python error)".into(),
                    v => unhex(v),
                }
            }
            "A" if f[2] == "ERR" => r.addresses.push(format!("{} (python error)", f[1])),
            "A" => r
                .addresses
                .push(format!("{} {:?} <{}>", f[1], unhex(f[2]), unhex(f[3]))),
            "P" => {
                r.structure.push(unhex(f[1]));
                r.file_names.push(match f[2] {
                    "!" => "(none)".into(),
                    v => unhex(v),
                });
            }
            "T" => r.texts.push(match f[1] {
                "ERR" => "(python error)".into(),
                v => lf(&unhex(v)),
            }),
            "END" => {
                all.insert(path.clone(), std::mem::take(&mut r));
            }
            other => panic!("unexpected line from python: {other}"),
        }
    }
    all
}

/// Parts in the order of Python's `walk()`: each part, then its children, and a nested
/// message's own parts after the `message/rfc822` part that holds it.
fn walk<'m, 'a>(p: &'m Part<'a>, out: &mut Vec<&'m Part<'a>>) {
    out.push(p);
    match p.body() {
        Body::Multipart { parts, .. } | Body::DeliveryStatus(parts) => {
            parts.iter().for_each(|c| walk(c, out));
        }
        Body::Message(m) => walk(m.root(), out),
        _ => {}
    }
}

fn our_reading(bytes: &[u8]) -> Reading {
    let m = Message::parse(bytes);
    let mut r = Reading {
        subject: m.subject().map_or("(none)".into(), |s| s.into_owned()),
        ..Reading::default()
    };
    for (name, list) in [
        ("From", m.from()),
        ("To", m.to()),
        ("Cc", m.cc()),
        ("Reply-To", m.reply_to()),
    ] {
        for mb in list.iter().flat_map(|a| a.mailboxes()) {
            r.addresses.push(format!(
                "{name} {:?} <{}>",
                mb.name().unwrap_or(""),
                mb.address()
            ));
        }
    }
    let mut parts = Vec::new();
    walk(m.root(), &mut parts);
    for p in parts {
        r.structure.push(p.content_type().essence());
        r.file_names
            .push(p.file_name().map_or("(none)".into(), str::to_owned));
        if p.content_type().media_type == "text" && !matches!(p.body(), Body::Multipart { .. }) {
            r.texts
                .push(lf(&p.text().map(|t| t.text).unwrap_or_default()));
        }
    }
    r
}

fn python_data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("MAILWIRE_PYTHON_EMAIL_DATA") {
        return PathBuf::from(d);
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg("import test.test_email, os; print(os.path.dirname(test.test_email.__file__) + '/data')")
        .output()
        .expect("python3 must be installed to run the corpus differential test (see tests/run-all.sh)");
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        out.status.success() && dir.join("msg_01.txt").is_file(),
        "Python's email test messages are missing (test/test_email/data): run through \
         tests/run-all.sh, whose tests/setup/15-python-testdata.sh installs them \
         (libpython3.X-testsuite) and sets MAILWIRE_PYTHON_EMAIL_DATA"
    );
    dir
}

fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    v.sort();
    v
}

fn short(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn agrees_with_python_on_a_corpus_of_real_world_messages() {
    let python_dir = python_data_dir();
    let corpus_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files = files_in(&python_dir, |n| {
        n.starts_with("msg_") && n.ends_with(".txt")
    });
    let python_count = files.len();
    files.extend(files_in(&corpus_dir, |n| n.ends_with(".eml")));
    assert!(
        python_count >= 40,
        "only {python_count} messages in {}",
        python_dir.display()
    );

    let deviations: Vec<(String, String, String)> =
        std::fs::read_to_string(corpus_dir.join("deviations.txt"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut f = l.splitn(3, '|').map(|s| s.trim().to_owned());
                let (a, b, c) = (
                    f.next().unwrap(),
                    f.next().unwrap(),
                    f.next().unwrap_or_default(),
                );
                assert!(
                    FIELDS.contains(&b.as_str()),
                    "deviations.txt: unknown field {b}"
                );
                (a, b, c)
            })
            .collect();

    let py = python_readings(&files);
    let mut agree = [0usize; 5];
    let mut counted = [0usize; 5];
    let mut report = String::new();
    let mut stale = Vec::new();
    for path in &files {
        let ours = our_reading(&std::fs::read(path).unwrap());
        let theirs = py
            .get(path)
            .unwrap_or_else(|| panic!("python skipped {}", path.display()));
        for (i, field) in FIELDS.iter().enumerate() {
            let (a, b) = (ours.field(i), theirs.field(i));
            let deviation = deviations
                .iter()
                .any(|(f, fl, _)| *f == short(path) && fl == field);
            if deviation {
                if a == b {
                    stale.push(format!("{} {field}", short(path)));
                }
                continue;
            }
            counted[i] += 1;
            if a == b {
                agree[i] += 1;
            } else {
                report.push_str(&format!(
                    "{} {field}:\n  ours:   {a}\n  python: {b}\n",
                    short(path)
                ));
            }
        }
    }
    println!("{report}");
    let deviating = |field: &str| deviations.iter().filter(|d| d.1 == field).count();
    println!(
        "{} messages ({python_count} from Python's test data), {} deliberate deviations",
        files.len(),
        deviations.len()
    );
    let mut failed = Vec::new();
    for (i, field) in FIELDS.iter().enumerate() {
        let ratio = agree[i] as f64 / counted[i] as f64;
        let all = counted[i] + deviating(field);
        println!(
            "{field:>10}: {}/{} agree ({:.1}%); {}/{all} ({:.1}%) counting the deviations",
            agree[i],
            counted[i],
            ratio * 100.0,
            agree[i],
            agree[i] as f64 * 100.0 / all as f64
        );
        if ratio < 0.99 {
            failed.push(*field);
        }
    }
    assert!(
        stale.is_empty(),
        "deviations.txt lists pairs that now agree: {stale:?}"
    );
    assert!(
        failed.is_empty(),
        "under 99% agreement on {failed:?}:\n{report}"
    );
}
