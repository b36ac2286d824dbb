//! The tag=value list of DKIM and DMARC records: never panics; every tag read has a valid
//! name and a value that holds no ';'.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(tags) = mailwire_auth::tag_list::parse_tag_list(&input) {
        assert!(tags.len() <= mailwire_auth::tag_list::MAX_TAGS);
        for (name, value) in tags {
            assert!(name.starts_with(|c: char| c.is_ascii_alphabetic()), "{name:?}");
            assert!(!value.contains(';'));
        }
    }
});
