//! Reads arbitrary bytes as an IMAP search-column file
//! (`.mailwire-imapsearch`) and as one bare record: never a panic; the good
//! part never runs past the input; every record that verifies re-encodes
//! to exactly its own bytes at its offset (the format is canonical), and
//! the owned columns made from it encode to the same record.
#![no_main]

use imap_proto::columns::{parse_payload, scan_columns, verify_record, Columns, COLUMNS_MAGIC};
use imap_proto::summary::CacheKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(r) = parse_payload(data) {
        assert_eq!(&r.encode()[8..], data);
    }
    if let Some(payload) = verify_record(data) {
        assert_eq!(payload, &data[8..]);
    }
    let mut file = COLUMNS_MAGIC.to_vec();
    file.extend_from_slice(data);
    for bytes in [data, &file[..]] {
        let (records, good) = scan_columns(bytes);
        assert!(good <= bytes.len());
        let mut end = if records.is_empty() { good } else { COLUMNS_MAGIC.len() };
        for (at, r) in &records {
            let record = r.encode();
            assert_eq!(*at, end);
            assert_eq!(&bytes[*at..*at + record.len()], &record[..]);
            end = at + record.len();
            if let Ok(unique) = std::str::from_utf8(r.unique) {
                let mut c = Columns::default();
                c.set(r);
                let key = CacheKey {
                    uid: r.uid,
                    size: r.size,
                    mtime: r.mtime,
                    unique: unique.to_owned(),
                };
                assert_eq!(c.encode_record(&key), record);
                assert!(r.is_for(r.uid, r.size, r.mtime, unique));
            }
        }
        assert_eq!(end, good);
    }
});
