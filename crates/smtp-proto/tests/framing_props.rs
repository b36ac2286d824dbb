//! Properties of line framing: any chunking gives the statuses of a simple
//! whole-stream model, and memory stays bounded by the cap.

use proptest::prelude::*;
use smtp_proto::framing::{LineBuffer, LineConfig, LineStatus};

/// An owned [`LineStatus`] without `NeedMore`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Line(Vec<u8>),
    TooLong,
    BareLf,
}

/// The reference: cut the whole stream at each LF and judge each piece.
/// A trailing piece without LF is reported too long once it reaches the cap.
fn model(config: LineConfig, stream: &[u8]) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut rest = stream;
    while let Some(lf) = rest.iter().position(|b| *b == b'\n') {
        let line = &rest[..lf];
        seen.push(if lf + 1 > config.max_len {
            Seen::TooLong
        } else if let Some(line) = line.strip_suffix(b"\r") {
            Seen::Line(line.to_vec())
        } else if config.allow_bare_lf {
            Seen::Line(line.to_vec())
        } else {
            Seen::BareLf
        });
        rest = &rest[lf + 1..];
    }
    if !rest.is_empty() && rest.len() >= config.max_len {
        seen.push(Seen::TooLong);
    }
    seen
}

/// Pushes `pieces` one by one, draining every status after each push.
fn frame(config: LineConfig, pieces: &[&[u8]]) -> (Vec<Seen>, Vec<u8>) {
    let mut buffer = LineBuffer::new(config);
    let mut seen = Vec::new();
    for piece in pieces {
        buffer.push(piece);
        loop {
            match buffer.next_line() {
                LineStatus::NeedMore => break,
                LineStatus::Line(line) => seen.push(Seen::Line(line.to_vec())),
                LineStatus::TooLong => seen.push(Seen::TooLong),
                LineStatus::BareLf => seen.push(Seen::BareLf),
            }
        }
        // Everything complete was drained: at most a partial line is left.
        assert!(buffer.buffered().len() <= config.max_len.max(1));
        assert!(!buffer.buffered().contains(&b'\n'));
    }
    (seen, buffer.buffered().to_vec())
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

fn stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => proptest::collection::vec(
            prop_oneof![4 => Just(b'a'), 2 => Just(b'\r'), 2 => Just(b'\n'), 1 => any::<u8>()],
            0..8,
        ),
        2 => Just(b"\r\n".to_vec()),
        1 => proptest::collection::vec(Just(b'x'), 0..40),
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

fn config() -> impl Strategy<Value = LineConfig> {
    let max_len = prop_oneof![0usize..24, Just(512)];
    (max_len, any::<bool>()).prop_map(|(max_len, allow_bare_lf)| LineConfig {
        max_len,
        allow_bare_lf,
    })
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        Just(Vec::new()),
        Just(vec![1]),
        proptest::collection::vec(1usize..30, 1..8),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn framing_matches_the_model(config in config(), stream in stream(), sizes in sizes()) {
        let (seen, _) = frame(config, &chunked(&stream, &sizes));
        prop_assert_eq!(seen, model(config, &stream));
    }

    #[test]
    fn framing_is_split_invariant(config in config(), stream in stream(), sizes in sizes()) {
        let whole = frame(config, &[&stream]);
        let bytewise = frame(config, &chunked(&stream, &[1]));
        let pieces = frame(config, &chunked(&stream, &sizes));
        prop_assert_eq!(&bytewise, &whole);
        prop_assert_eq!(&pieces, &whole);
    }

    #[test]
    fn a_short_partial_line_stays_buffered(config in config(), stream in stream(), sizes in sizes()) {
        let (_, left) = frame(config, &chunked(&stream, &sizes));
        let tail = match stream.iter().rposition(|b| *b == b'\n') {
            Some(lf) => &stream[lf + 1..],
            None => &stream[..],
        };
        if tail.len() < config.max_len {
            prop_assert_eq!(&left[..], tail);
        } else {
            prop_assert!(left.is_empty());
        }
    }

    #[test]
    fn pushing_without_draining_stays_bounded(config in config(), stream in stream(), sizes in sizes()) {
        // Pushing everything first and draining afterwards gives the same
        // statuses, while the partial line at the end of the buffer never
        // grows past the cap.
        let mut buffer = LineBuffer::new(config);
        for piece in chunked(&stream, &sizes) {
            buffer.push(piece);
            let tail = buffer.buffered().iter().rposition(|b| *b == b'\n')
                .map_or(buffer.buffered().len(), |lf| buffer.buffered().len() - lf - 1);
            prop_assert!(tail <= config.max_len.max(1));
        }
        let mut seen = Vec::new();
        loop {
            match buffer.next_line() {
                LineStatus::NeedMore => break,
                LineStatus::Line(line) => seen.push(Seen::Line(line.to_vec())),
                LineStatus::TooLong => seen.push(Seen::TooLong),
                LineStatus::BareLf => seen.push(Seen::BareLf),
            }
        }
        prop_assert_eq!(seen, model(config, &stream));
    }

    #[test]
    fn take_buffered_returns_what_is_left(lines in 0usize..4, rest in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut stream = b"NOOP\r\n".repeat(lines);
        stream.extend_from_slice(b"DATA\r\n");
        stream.extend_from_slice(&rest);
        let mut buffer = LineBuffer::new(LineConfig::COMMAND);
        buffer.push(&stream);
        for _ in 0..lines {
            prop_assert_eq!(buffer.next_line(), LineStatus::Line(b"NOOP"));
        }
        prop_assert_eq!(buffer.next_line(), LineStatus::Line(b"DATA"));
        // Pipelined body bytes go to the un-stuffer untouched, except that a
        // partial last line was already capped at the line limit.
        let taken = buffer.take_buffered();
        let tail_start = rest.iter().rposition(|b| *b == b'\n').map_or(0, |lf| lf + 1);
        let kept = rest.len().min(tail_start + 512);
        prop_assert_eq!(&taken[..], &rest[..kept]);
        prop_assert!(buffer.is_empty());
        prop_assert_eq!(buffer.next_line(), LineStatus::NeedMore);
    }
}
