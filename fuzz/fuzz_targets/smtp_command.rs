//! The command parser fed one arbitrary line.
//!
//! Every option set is tried: strict, lenient, and both with SMTPUTF8. Whatever
//! parses must serialize to one CRLF-terminated line that parses back to the
//! same command under the same options and under the strict grammar, and every
//! error must map to a 5xx reply.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::{Command, ParseOptions};

fuzz_target!(|line: &[u8]| {
    for opts in [
        ParseOptions::strict(),
        ParseOptions::lenient(),
        ParseOptions::strict().with_smtputf8(true),
        ParseOptions::lenient().with_smtputf8(true),
    ] {
        match Command::parse_with(line, &opts) {
            Ok(cmd) => {
                let wire = cmd.to_bytes();
                let body = wire
                    .strip_suffix(b"\r\n")
                    .expect("a command serializes with CRLF");
                assert!(
                    !body.contains(&b'\r') && !body.contains(&b'\n'),
                    "CR or LF inside {body:?}"
                );
                assert_eq!(Command::parse_with(body, &opts).as_ref(), Ok(&cmd));
                let strict = ParseOptions::strict().with_smtputf8(opts.smtputf8);
                assert_eq!(Command::parse_with(body, &strict).as_ref(), Ok(&cmd));
            }
            Err(e) => assert!(e.reply().is_permanent(), "{e:?} maps to a non-5xx reply"),
        }
    }
});
