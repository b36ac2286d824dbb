//! DKIM-Signature values: never panics; a signature that parses has From signed, a domain,
//! and an identity within that domain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_auth::dkim::DkimSignature;

fuzz_target!(|data: &[u8]| {
    if let Ok(sig) = DkimSignature::parse(data) {
        assert!(sig.signed_headers.iter().any(|h| h.eq_ignore_ascii_case("from")));
        assert!(!sig.domain.is_empty());
        assert!(sig.identity.to_ascii_lowercase().ends_with(&sig.domain));
        if let (Some(t), Some(x)) = (sig.timestamp, sig.expiration) {
            assert!(x >= t);
        }
    }
});
