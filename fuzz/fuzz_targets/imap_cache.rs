//! Reads arbitrary bytes as an IMAP summary cache file
//! (`.mailwire-imapcache`): never a panic; the good part never runs past
//! the input; every record that verifies re-encodes to exactly its own
//! bytes (the format is canonical), and a summary that decodes re-encodes
//! to its input.
#![no_main]

use imap_proto::summary::{encode_record, scan_cache, Summary, CACHE_MAGIC};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(s) = Summary::decode(data) {
        assert_eq!(s.encode(), data);
    }
    let mut file = CACHE_MAGIC.to_vec();
    file.extend_from_slice(data);
    for bytes in [data, &file[..]] {
        let (records, good) = scan_cache(bytes);
        assert!(good <= bytes.len());
        let mut end = if records.is_empty() { good } else { CACHE_MAGIC.len() };
        for (offset, key, summary) in &records {
            let record = encode_record(key, summary);
            let at = usize::try_from(*offset).unwrap();
            assert_eq!(at, end);
            assert_eq!(&bytes[at..at + record.len()], &record[..]);
            end = at + record.len();
        }
        assert_eq!(end, good);
    }
});
