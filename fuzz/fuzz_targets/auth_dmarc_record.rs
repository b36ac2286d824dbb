//! DMARC records: never panics; a record that parses has pct in 0..=100.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_auth::dmarc::DmarcRecord;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(record) = DmarcRecord::parse(&input) {
        assert!(record.percent <= 100);
    }
});
