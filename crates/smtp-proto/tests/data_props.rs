//! Properties of DATA stuffing, un-stuffing and BDAT chunks, checked against
//! a deliberately naive byte-at-a-time model and across arbitrary chunkings.

use proptest::prelude::*;
use smtp_proto::data::{
    dot_stuff, BareLineEndingPolicy, BdatChunk, DataViolation, DotStuffer, DotUnstuffer,
    UnstufferConfig,
};

/// What an un-stuffer run ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    content: Vec<u8>,
    consumed: usize,
    done: bool,
    violation: Option<DataViolation>,
}

/// The reference: RFC 5321 §4.5.2 read one byte at a time, with no
/// buffering tricks. Only a real CRLF starts a line.
fn model(config: UnstufferConfig, wire: &[u8]) -> Outcome {
    let mut content = Vec::new();
    let mut violation = None;
    let too_long = |len: usize| config.max_line_len.is_some_and(|limit| len + 2 > limit);
    let mut i = 0;
    let mut line_start = true;
    let mut line_len = 0;
    loop {
        if line_start {
            let rest = &wire[i..];
            if rest.starts_with(b".\r\n") {
                return Outcome {
                    content,
                    consumed: i + 3,
                    done: true,
                    violation,
                };
            }
            if rest == b"." || rest == b".\r" {
                break;
            }
            if rest.first() == Some(&b'.') {
                i += 1;
            }
            line_start = false;
        }
        let Some(&byte) = wire.get(i) else { break };
        let bare = match byte {
            b'\r' => match wire.get(i + 1) {
                Some(b'\n') => {
                    if too_long(line_len) {
                        record(
                            DataViolation::LineTooLong {
                                limit: config.max_line_len.unwrap_or(0),
                            },
                            &mut violation,
                        );
                    }
                    content.extend_from_slice(b"\r\n");
                    i += 2;
                    line_len = 0;
                    line_start = true;
                    continue;
                }
                None => break,
                Some(_) => Some((config.bare_cr, DataViolation::BareCr)),
            },
            b'\n' => Some((config.bare_lf, DataViolation::BareLf)),
            _ => None,
        };
        match bare {
            Some((policy, v)) => {
                if too_long(line_len) {
                    record(
                        DataViolation::LineTooLong {
                            limit: config.max_line_len.unwrap_or(0),
                        },
                        &mut violation,
                    );
                }
                match policy {
                    BareLineEndingPolicy::Reject => {
                        record(v, &mut violation);
                        content.push(byte);
                    }
                    BareLineEndingPolicy::Keep => content.push(byte),
                    BareLineEndingPolicy::ConvertToCrlf => content.extend_from_slice(b"\r\n"),
                }
                line_len = 0;
            }
            None => {
                content.push(byte);
                line_len += 1;
                if too_long(line_len) {
                    record(
                        DataViolation::LineTooLong {
                            limit: config.max_line_len.unwrap_or(0),
                        },
                        &mut violation,
                    );
                }
            }
        }
        i += 1;
    }
    Outcome {
        content,
        consumed: wire.len(),
        done: false,
        violation,
    }
}

/// Keeps the first violation.
fn record(v: DataViolation, violation: &mut Option<DataViolation>) {
    if violation.is_none() {
        *violation = Some(v);
    }
}

/// Cuts `bytes` into pieces whose lengths cycle through `sizes` (one piece
/// when `sizes` is empty).
fn chunked<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.is_empty() {
        return vec![bytes];
    }
    let mut pieces = Vec::new();
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Feeds `pieces` until DATA ends, as a server would (leftover bytes of the
/// piece that ends DATA are not fed again).
fn unstuff(config: UnstufferConfig, pieces: &[&[u8]]) -> Outcome {
    let mut data = DotUnstuffer::new(config);
    let mut content = Vec::new();
    let mut consumed = 0;
    for piece in pieces {
        let progress = data.feed(piece, &mut content);
        assert!(progress.consumed <= piece.len());
        consumed += progress.consumed;
        if progress.done {
            break;
        }
        assert_eq!(
            progress.consumed,
            piece.len(),
            "an unfinished feed uses all"
        );
    }
    assert_eq!(data.content_len(), content.len() as u64);
    Outcome {
        content,
        consumed,
        done: data.is_done(),
        violation: data.violation(),
    }
}

/// Turns every bare CR and bare LF into CRLF and ends a non-empty body with
/// CRLF: the content a receiver gets from our stuffer.
fn normalised(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&byte) = body.get(i) {
        match byte {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(byte),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bytes rich in the ones that matter to DATA framing.
fn wire_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => Just(b'.'),
        4 => Just(b'\r'),
        4 => Just(b'\n'),
        3 => Just(b'a'),
        1 => any::<u8>(),
    ];
    proptest::collection::vec(byte, 0..max)
}

/// Wire bytes that often hold real terminators and dot-stuffed lines.
fn wire_stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => wire_bytes(8),
        1 => Just(b"\r\n.\r\n".to_vec()),
        1 => Just(b"\r\n..".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => proptest::collection::vec(Just(b'x'), 0..40),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

fn policy() -> impl Strategy<Value = BareLineEndingPolicy> {
    prop_oneof![
        Just(BareLineEndingPolicy::Reject),
        Just(BareLineEndingPolicy::ConvertToCrlf),
        Just(BareLineEndingPolicy::Keep),
    ]
}

fn config() -> impl Strategy<Value = UnstufferConfig> {
    let limit = prop_oneof![Just(None), Just(Some(1000)), (0usize..16).prop_map(Some),];
    (policy(), policy(), limit).prop_map(|(bare_lf, bare_cr, max_line_len)| UnstufferConfig {
        bare_lf,
        bare_cr,
        max_line_len,
    })
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(Vec::new()),
        Just(vec![1]),
        proptest::collection::vec(1usize..12, 1..8),
    ]
}

/// Body text: mostly plain lines, with dots, bare endings and blank lines.
fn body() -> impl Strategy<Value = Vec<u8>> {
    wire_stream()
}

/// A body whose only line endings are CRLF and that ends with one.
fn crlf_body() -> impl Strategy<Value = Vec<u8>> {
    let line = proptest::collection::vec(
        prop_oneof![3 => Just(b'.'), 3 => Just(b'a'), 1 => any::<u8>()],
        0..20,
    )
    .prop_map(|line| {
        line.into_iter()
            .filter(|b| *b != b'\r' && *b != b'\n')
            .collect::<Vec<u8>>()
    });
    proptest::collection::vec(line, 0..10).prop_map(|lines| {
        let mut body = Vec::new();
        for line in lines {
            body.extend_from_slice(&line);
            body.extend_from_slice(b"\r\n");
        }
        body
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn unstuffer_matches_the_model(config in config(), wire in wire_stream(), sizes in sizes()) {
        let expected = model(config, &wire);
        let got = unstuff(config, &chunked(&wire, &sizes));
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn unstuffing_is_split_invariant(config in config(), wire in wire_stream(), sizes in sizes()) {
        let whole = unstuff(config, &[&wire]);
        let bytewise = unstuff(config, &chunked(&wire, &[1]));
        let pieces = unstuff(config, &chunked(&wire, &sizes));
        prop_assert_eq!(&bytewise, &whole);
        prop_assert_eq!(&pieces, &whole);
    }

    #[test]
    fn stuffing_is_split_invariant(body in body(), sizes in sizes()) {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        for piece in chunked(&body, &sizes) {
            stuffer.stuff(piece, &mut out);
        }
        stuffer.finish(&mut out);
        prop_assert_eq!(out, dot_stuff(&body));
    }

    #[test]
    fn stuffed_output_ends_once(body in body()) {
        let wire = dot_stuff(&body);
        if body.is_empty() {
            prop_assert_eq!(&wire[..], b".\r\n");
        } else {
            prop_assert!(wire.ends_with(b"\r\n.\r\n"));
            prop_assert!(!wire.starts_with(b".\r\n"));
            let first = wire.windows(5).position(|w| w == b"\r\n.\r\n");
            prop_assert_eq!(first, Some(wire.len() - 5));
        }
        // No bare CR or bare LF anywhere.
        for (i, byte) in wire.iter().enumerate() {
            match byte {
                b'\r' => prop_assert_eq!(wire.get(i + 1), Some(&b'\n')),
                b'\n' => prop_assert_eq!(wire.get(i.wrapping_sub(1)), Some(&b'\r')),
                _ => {}
            }
        }
    }

    #[test]
    fn round_trip_is_identity_for_crlf_bodies(body in crlf_body(), sizes in sizes()) {
        let wire = dot_stuff(&body);
        let got = unstuff(UnstufferConfig::default().without_line_limit(), &chunked(&wire, &sizes));
        prop_assert!(got.done);
        prop_assert_eq!(got.consumed, wire.len());
        prop_assert_eq!(got.violation, None);
        prop_assert_eq!(got.content, body);
    }

    #[test]
    fn round_trip_normalises_any_body(body in body(), sizes in sizes(), lf in policy(), cr in policy()) {
        let wire = dot_stuff(&body);
        let config = UnstufferConfig { bare_lf: lf, bare_cr: cr, max_line_len: None };
        let got = unstuff(config, &chunked(&wire, &sizes));
        prop_assert!(got.done);
        prop_assert_eq!(got.consumed, wire.len());
        prop_assert_eq!(got.violation, None);
        prop_assert_eq!(got.content, normalised(&body));
    }

    #[test]
    fn bytes_after_the_terminator_are_left(body in body(), next in wire_bytes(40), sizes in sizes()) {
        let wire = dot_stuff(&body);
        let stream = [wire.as_slice(), next.as_slice()].concat();
        let got = unstuff(UnstufferConfig::default().without_line_limit(), &chunked(&stream, &sizes));
        prop_assert!(got.done);
        prop_assert_eq!(got.consumed, wire.len());
        prop_assert_eq!(&stream[got.consumed..], &next[..]);
    }

    #[test]
    fn bdat_takes_exactly_the_size(data in proptest::collection::vec(any::<u8>(), 0..200), size in 0usize..200, sizes in sizes()) {
        let mut chunk = BdatChunk::new(size as u64, false);
        let mut taken = Vec::new();
        let mut leftover = Vec::new();
        for piece in chunked(&data, &sizes) {
            let got = chunk.take(piece);
            prop_assert!(piece.starts_with(got));
            taken.extend_from_slice(got);
            leftover.extend_from_slice(&piece[got.len()..]);
        }
        let expected = size.min(data.len());
        prop_assert_eq!(&taken[..], &data[..expected]);
        prop_assert_eq!(&leftover[..], &data[expected..]);
        prop_assert_eq!(chunk.remaining(), (size - expected) as u64);
        prop_assert_eq!(chunk.is_complete(), size <= data.len());
    }
}
