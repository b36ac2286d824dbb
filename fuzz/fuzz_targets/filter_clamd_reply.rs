//! clamd's reply to zINSTREAM: never panics; a virus name or an error text
//! that parses is one printable line (safe in an SMTP reply and a header),
//! and the verdict's text is too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_filter::{parse_clamd_reply, ClamdReply};

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = parse_clamd_reply(data) {
        match reply {
            ClamdReply::Clean => {}
            ClamdReply::Virus(name) | ClamdReply::Error(name) => {
                assert!(name.len() <= 200);
                assert!(name.bytes().all(|b| (0x20..0x7f).contains(&b)), "{name:?}");
            }
        }
    }
});
