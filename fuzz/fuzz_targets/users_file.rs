//! The users file parser (`address:argon2-hash[:quota]` lines): never
//! panics; an error names a line of the input and never its content; what
//! parses renders back to the same text (LF line ends) and re-parses equal;
//! every account's address is canonical and its quota non-zero.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_accounts::{canonical_address, UsersFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match UsersFile::parse(text) {
        Ok(file) => {
            let rendered = file.render();
            let normalized: String = text
                .lines()
                .map(|l| format!("{}\n", l.trim_end_matches('\r')))
                .collect();
            assert_eq!(rendered, normalized);
            assert_eq!(UsersFile::parse(&rendered).ok().as_ref(), Some(&file));
            for entry in file.entries() {
                assert_eq!(canonical_address(entry.address()).as_deref(), Some(entry.address()));
                assert_ne!(entry.quota(), Some(0));
            }
        }
        Err(error) => {
            let line = error.line().expect("a parse error names its line");
            assert!(line >= 1 && line <= text.lines().count().max(1));
            let shown = format!("{error} {error:?}");
            let bad = text.lines().nth(line - 1).unwrap_or("").trim();
            if bad.len() >= 16 {
                assert!(!shown.contains(bad), "{shown}");
            }
        }
    }
});
