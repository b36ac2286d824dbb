//! Parses arbitrary bytes as a folder index (`.mailwire-uidlist`): never a
//! panic; what parses re-encodes to an index that parses to the same value,
//! and a version 2 file re-encodes to exactly its own bytes (the format is
//! canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use maildrop::index::UidIndex;

fuzz_target!(|data: &[u8]| {
    if let Ok(index) = UidIndex::parse(data) {
        let bytes = index.encode();
        assert_eq!(UidIndex::parse(&bytes).as_ref(), Ok(&index));
        if data.starts_with(b"mailwire-uidlist 2 ") {
            assert_eq!(bytes, data);
        }
        for pair in index.entries.windows(2) {
            assert!(pair[0].uid < pair[1].uid);
        }
        assert!(index.entries.iter().all(|e| e.uid < index.uid_next));
    }
});
