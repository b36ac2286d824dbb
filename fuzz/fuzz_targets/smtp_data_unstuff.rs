//! The DATA un-stuffer fed arbitrary bytes in arbitrary chunks.
//!
//! Input layout: byte 0 picks the policies and the line limit, byte 1 the
//! chunk sizes, the rest is the wire. Checks that chunked and one-piece runs
//! agree on everything, and that re-stuffing the content and un-stuffing it
//! again gives the content back (line endings made CRLF).

#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::data::{
    BareLineEndingPolicy, DataViolation, DotStuffer, DotUnstuffer, UnstufferConfig,
};

fn policy(bits: u8) -> BareLineEndingPolicy {
    match bits % 3 {
        0 => BareLineEndingPolicy::Reject,
        1 => BareLineEndingPolicy::ConvertToCrlf,
        _ => BareLineEndingPolicy::Keep,
    }
}

fn config(control: u8) -> UnstufferConfig {
    UnstufferConfig {
        bare_lf: policy(control & 0b11),
        bare_cr: policy((control >> 2) & 0b11),
        max_line_len: match control >> 4 {
            0 => None,
            15 => Some(1000),
            n => Some(usize::from(n) * 3),
        },
    }
}

/// Chunk sizes cycling through three values taken from one byte.
fn sizes(seed: u8) -> [usize; 3] {
    [
        usize::from(seed & 0b111) + 1,
        usize::from((seed >> 3) & 0b111) + 1,
        usize::from(seed >> 6) * 17 + 1,
    ]
}

struct Run {
    content: Vec<u8>,
    consumed: usize,
    done: bool,
    violation: Option<DataViolation>,
    content_len: u64,
}

fn run(config: UnstufferConfig, wire: &[u8], sizes: &[usize]) -> Run {
    let mut data = DotUnstuffer::new(config);
    let mut content = Vec::new();
    let mut consumed = 0;
    let mut rest = wire;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        let progress = data.feed(piece, &mut content);
        assert!(progress.consumed <= piece.len());
        consumed += progress.consumed;
        if progress.done {
            break;
        }
        assert_eq!(progress.consumed, piece.len());
        rest = tail;
    }
    Run {
        content,
        consumed,
        done: data.is_done(),
        violation: data.violation(),
        content_len: data.content_len(),
    }
}

/// Every bare CR and bare LF made CRLF.
fn crlf_only(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len());
    let mut i = 0;
    while let Some(&byte) = content.get(i) {
        match byte {
            b'\r' if content.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(byte),
        }
        i += 1;
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let [control, seed, wire @ ..] = input else {
        return;
    };
    let config = config(*control);
    let whole = run(config, wire, &[usize::MAX]);
    let pieces = run(config, wire, &sizes(*seed));
    assert_eq!(pieces.content, whole.content);
    assert_eq!(pieces.consumed, whole.consumed);
    assert_eq!(pieces.done, whole.done);
    assert_eq!(pieces.violation, whole.violation);
    assert_eq!(pieces.content_len, whole.content_len);
    assert_eq!(whole.content_len, whole.content.len() as u64);
    if whole.done {
        assert!(whole.content.is_empty() || whole.content.ends_with(b"\r\n"));
    } else {
        assert_eq!(whole.consumed, wire.len());
    }

    // Send the content on as a relay would, and receive it again.
    let mut stuffer = DotStuffer::new();
    let mut wire_again = Vec::new();
    for piece in whole.content.chunks(sizes(*seed)[0]) {
        stuffer.stuff(piece, &mut wire_again);
    }
    stuffer.finish(&mut wire_again);
    let strict = UnstufferConfig::default().without_line_limit();
    let again = run(strict, &wire_again, &[usize::MAX]);
    assert!(again.done);
    assert_eq!(again.consumed, wire_again.len());
    assert_eq!(again.violation, None);
    let mut expected = crlf_only(&whole.content);
    if !expected.is_empty() && !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(again.content, expected);
    let clean = expected == whole.content;
    if whole.done && whole.violation.is_none() && clean {
        // Nothing to repair: the round trip is the identity.
        assert_eq!(again.content, whole.content);
    }
    let keeps = config.bare_lf == BareLineEndingPolicy::Keep
        || config.bare_cr == BareLineEndingPolicy::Keep;
    if whole.violation.is_none() && !keeps {
        // Neither rejected nor kept: no bare line ending reached the content.
        assert_eq!(crlf_only(&whole.content), whole.content);
    }
});
