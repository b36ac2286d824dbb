//! MTA-STS policy files and `_mta-sts` TXT records: never panics; a policy that parses
//! writes out and reads back to the same policy, and every MX pattern matches a host one
//! label below a wildcard (or the host itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_auth::mta_sts::{StsPolicy, StsRecord};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if let Ok(policy) = StsPolicy::parse(&input) {
        assert_eq!(StsPolicy::parse(&policy.to_string()).as_ref(), Ok(&policy));
        for pattern in &policy.mx {
            let host = if pattern.wildcard {
                format!("mx.{}", pattern.domain)
            } else {
                pattern.domain.clone()
            };
            assert!(policy.matches_mx(&host));
        }
    }
    if let Ok(record) = StsRecord::parse(&input) {
        assert!(!record.id.is_empty() && record.id.len() <= 32);
    }
});
