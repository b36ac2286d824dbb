//! SPF records: never panics, and evaluating any record that parses against an in-memory zone
//! (where every name points back at the record) ends within the lookup limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_auth::spf::{check_mail_from, SpfQuery, SpfRecord};
use mailwire_auth::MemoryResolver;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    if SpfRecord::parse(&input).is_ok() {
        let dns = MemoryResolver::new()
            .txt("example.com", &input)
            .txt("a.example.com", &input)
            .ip("example.com", "192.0.2.1".parse().unwrap())
            .mx("example.com", 10, "a.example.com");
        let outcome = check_mail_from(
            &dns,
            &SpfQuery { ip: "192.0.2.1".parse().unwrap(), helo: "h.example.com", sender: "u-x@example.com" },
        );
        assert!(outcome.lookups <= 11, "{outcome:?}");
    }
});
