//! EHLO capabilities read from an arbitrary reply.
//!
//! Whatever `Capabilities::from_ehlo_reply` accepts must survive `to_reply`,
//! serialization, parsing and reading again unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::{Capabilities, Reply};

fuzz_target!(|bytes: &[u8]| {
    let Ok(reply) = Reply::parse(bytes) else {
        return;
    };
    let Ok(caps) = Capabilities::from_ehlo_reply(&reply) else {
        return;
    };
    let out = caps.to_reply();
    let wire = out.to_bytes();
    let parsed = Reply::parse(&wire).expect("capabilities serialize to a valid reply");
    assert_eq!(parsed, out);
    let again = Capabilities::from_ehlo_reply(&parsed).expect("its own reply reads back");
    assert_eq!(again, caps);
    // The accessors agree with the extension list.
    assert_eq!(caps.max_size(), again.max_size());
    assert_eq!(caps.auth_mechanisms(), again.auth_mechanisms());
});
