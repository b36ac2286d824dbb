//! DATA throughput on about 1 MB of mail text: 76-octet lines, some starting
//! with a dot.
//!
//! Run with `cargo bench -p smtp-proto --bench data`. The `naive_*` benches
//! are a byte-at-a-time un-stuffer written the obvious way, as a baseline for
//! the vectorised one.

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use smtp_proto::data::{dot_stuff, DotStuffer, DotUnstuffer, UnstufferConfig};
use std::sync::LazyLock;

fn main() {
    divan::main();
}

/// Size of a network read in the streaming benches.
const READ: usize = 64 * 1024;

/// About 1 MB of body text with CRLF line endings.
static BODY: LazyLock<Vec<u8>> = LazyLock::new(|| mail_text(1 << 20));

/// The same body as it travels after the 354 reply.
static WIRE: LazyLock<Vec<u8>> = LazyLock::new(|| dot_stuff(&BODY));

/// Deterministic prose wrapped at 76 octets; one line in 40 starts with a dot.
fn mail_text(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "message",
        "server",
        "delivery",
        "of",
        "a",
        "to",
        "and",
        "report",
        "quarterly",
        "attached",
        "please",
        "find",
        "regards",
        "meeting",
        "on",
        "Tuesday",
        "we",
        "will",
        "review",
        "numbers",
        "in",
        "detail",
        "thanks",
        "for",
        "your",
        "patience",
        "with",
        "this",
        "request",
        "ok",
        "https://example.org/x",
    ];
    let mut state: u32 = 0x2545_f491;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as usize
    };
    let mut text = Vec::with_capacity(len + 128);
    let mut lines = 0usize;
    while text.len() < len {
        let mut line = Vec::with_capacity(78);
        if lines % 40 == 39 {
            line.push(b'.');
        }
        loop {
            let word = WORDS[next() % WORDS.len()].as_bytes();
            if line.len() + word.len() + 1 > 76 {
                break;
            }
            if !line.is_empty() && line != b"." {
                line.push(b' ');
            }
            line.extend_from_slice(word);
        }
        text.extend_from_slice(&line);
        text.extend_from_slice(b"\r\n");
        lines += 1;
    }
    text
}

#[divan::bench]
fn stuff_whole(bencher: Bencher) {
    let body = BODY.as_slice();
    bencher
        .counter(BytesCount::of_slice(body))
        .bench(|| dot_stuff(black_box(body)));
}

#[divan::bench]
fn stuff_streaming(bencher: Bencher) {
    let body = BODY.as_slice();
    let mut out = Vec::with_capacity(body.len() + body.len() / 32);
    bencher.counter(BytesCount::of_slice(body)).bench_local(|| {
        out.clear();
        let mut stuffer = DotStuffer::new();
        for chunk in black_box(body).chunks(READ) {
            stuffer.stuff(chunk, &mut out);
        }
        stuffer.finish(&mut out);
        out.len()
    });
}

#[divan::bench]
fn unstuff_whole(bencher: Bencher) {
    let wire = WIRE.as_slice();
    let mut out = Vec::with_capacity(wire.len());
    bencher.counter(BytesCount::of_slice(wire)).bench_local(|| {
        out.clear();
        let mut data = DotUnstuffer::new(UnstufferConfig::default());
        data.feed(black_box(wire), &mut out).consumed
    });
}

#[divan::bench]
fn unstuff_streaming(bencher: Bencher) {
    let wire = WIRE.as_slice();
    let mut out = Vec::with_capacity(wire.len());
    bencher.counter(BytesCount::of_slice(wire)).bench_local(|| {
        out.clear();
        let mut data = DotUnstuffer::new(UnstufferConfig::default());
        let mut consumed = 0;
        for chunk in black_box(wire).chunks(READ) {
            consumed += data.feed(chunk, &mut out).consumed;
        }
        consumed
    });
}

#[divan::bench]
fn unstuff_without_line_limit(bencher: Bencher) {
    let wire = WIRE.as_slice();
    let mut out = Vec::with_capacity(wire.len());
    let config = UnstufferConfig::default().without_line_limit();
    bencher.counter(BytesCount::of_slice(wire)).bench_local(|| {
        out.clear();
        let mut data = DotUnstuffer::new(config);
        data.feed(black_box(wire), &mut out).consumed
    });
}

/// The baseline: one byte at a time, one push per byte.
fn naive_unstuff(wire: &[u8], out: &mut Vec<u8>) -> usize {
    let mut line_start = true;
    let mut i = 0;
    while i < wire.len() {
        if line_start && wire[i] == b'.' {
            if wire[i..].starts_with(b".\r\n") {
                return i + 3;
            }
            i += 1;
        }
        line_start = wire[i..].starts_with(b"\r\n");
        if line_start {
            out.extend_from_slice(b"\r\n");
            i += 2;
        } else if let Some(&byte) = wire.get(i) {
            out.push(byte);
            i += 1;
        }
    }
    i
}

#[divan::bench]
fn naive_unstuff_whole(bencher: Bencher) {
    let wire = WIRE.as_slice();
    let mut out = Vec::with_capacity(wire.len());
    bencher.counter(BytesCount::of_slice(wire)).bench_local(|| {
        out.clear();
        naive_unstuff(black_box(wire), &mut out)
    });
}
