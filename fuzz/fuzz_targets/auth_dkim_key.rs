//! DKIM key records (`v=DKIM1; k=...; p=...`): never panics; an RSA key that parses has at
//! least 1024 bits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_auth::dkim::{KeyRecord, KeyType};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(record) = KeyRecord::parse(&input) {
        match record.key.key_type() {
            KeyType::Rsa => assert!(record.key.bits() >= 1024),
            KeyType::Ed25519 => assert_eq!(record.key.bits(), 256),
        }
    }
});
