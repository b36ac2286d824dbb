//! Decodes arbitrary header text as RFC 2047; the decoded text, encoded again, must decode to
//! itself, and the encoded words must be short ASCII.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mime_codec::rfc2047;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let decoded = rfc2047::decode(&input);
    let words = rfc2047::encode_words(&decoded);
    for w in &words {
        assert!(w.is_ascii() && w.len() <= 75, "{w:?}");
    }
    assert_eq!(rfc2047::decode(&words.join("\r\n ")), decoded);
});
