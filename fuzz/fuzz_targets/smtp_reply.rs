//! The reply parser fed arbitrary bytes, whole and line by line.
//!
//! `Reply::parse` and a `ReplyParser` fed the CRLF-separated lines must agree;
//! whatever parses must serialize to a reply that parses back to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::{Reply, ReplyParser};

/// The CRLF-terminated lines of `bytes` (without CRLF) and what follows the last CRLF.
fn lines(bytes: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut lines = Vec::new();
    let mut rest = bytes;
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        lines.push(&rest[..end]);
        rest = &rest[end + 2..];
    }
    (lines, rest)
}

fuzz_target!(|bytes: &[u8]| {
    let whole = Reply::parse(bytes);

    // Line by line: the first completed reply, or the first error.
    let (lines, tail) = lines(bytes);
    let mut parser = ReplyParser::new();
    let mut by_line = None;
    for (n, line) in lines.iter().enumerate() {
        match parser.push_line(line) {
            Ok(None) => {}
            Ok(Some(reply)) => {
                by_line = Some((Ok(reply), n + 1 == lines.len() && tail.is_empty()));
                break;
            }
            Err(e) => {
                assert!(parser.is_idle(), "the parser resets after an error");
                by_line = Some((Err(e), false));
                break;
            }
        }
    }

    match &whole {
        Ok(reply) => {
            // A whole reply is exactly its lines, the last one completing it.
            let Some((Ok(line_reply), true)) = &by_line else {
                panic!("Reply::parse succeeded but line by line gave {by_line:?}");
            };
            assert_eq!(line_reply, reply);
            let again = Reply::parse(&reply.to_bytes());
            assert_eq!(again.as_ref(), Ok(reply));
            assert_eq!(reply.to_string().as_bytes(), &reply.to_bytes()[..]);
        }
        Err(e) => {
            assert!(e.reply().is_permanent());
            if let Some((Err(line_err), _)) = &by_line {
                assert_eq!(line_err, e, "whole and line-by-line errors differ");
            }
        }
    }
});
