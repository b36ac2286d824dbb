//! The streaming structure scanner against mime-codec's whole-message parser: the same parts
//! and ranges, whatever the chunk boundaries.

use mime_codec::structure::{PartKind, Structure, StructureScanner};
use mime_codec::{Body, Message, Part};
use proptest::prelude::*;

#[derive(Debug, PartialEq, Eq)]
struct Seen {
    kind: PartKind,
    fields_start: u64,
    body_start: u64,
    body_end: u64,
    lines: u64,
    essence: String,
    children: usize,
}

fn offset(outer: &[u8], inner: &[u8]) -> u64 {
    (inner.as_ptr() as usize - outer.as_ptr() as usize) as u64
}

fn whole(input: &[u8]) -> Vec<Seen> {
    let m = Message::parse(input);
    let mut out = Vec::new();
    walk(input, m.root(), &mut out);
    out
}

fn walk(input: &[u8], p: &Part<'_>, out: &mut Vec<Seen>) {
    let body_start = offset(input, p.raw_body());
    let fields_start = p
        .headers()
        .first()
        .map_or(body_start, |h| offset(input, h.name().as_bytes()));
    let (kind, children): (PartKind, Vec<&Part<'_>>) = match p.body() {
        Body::Multipart { parts, .. } => (PartKind::Multipart, parts.iter().collect()),
        Body::Message(m) => (PartKind::Message, vec![m.root()]),
        _ => (PartKind::Leaf, Vec::new()),
    };
    out.push(Seen {
        kind,
        fields_start,
        body_start,
        body_end: body_start + p.raw_body().len() as u64,
        lines: p.raw_body().iter().filter(|&&b| b == b'\n').count() as u64,
        essence: p.content_type().essence(),
        children: children.len(),
    });
    for c in children {
        walk(input, c, out);
    }
}

fn streamed(s: &Structure) -> Vec<Seen> {
    s.parts()
        .iter()
        .map(|p| Seen {
            kind: p.kind,
            fields_start: p.fields_start,
            body_start: p.body_start,
            body_end: p.body_end,
            lines: p.body_lines,
            essence: p.content_type.essence(),
            children: p.children.len(),
        })
        .collect()
}

fn scan_chunked(input: &[u8], cuts: &[usize]) -> Structure {
    let mut s = StructureScanner::default();
    let mut at = 0;
    for &c in cuts {
        let c = c % (input.len() + 1);
        if c > at {
            s.feed(&input[at..c]);
            at = c;
        }
    }
    s.feed(&input[at..]);
    s.finish()
}

/// A message tree rendered with the given line break.
#[derive(Debug, Clone)]
enum Gen {
    Leaf {
        text: String,
        headers: bool,
    },
    Multi {
        boundary: String,
        subtype: String,
        parts: Vec<Gen>,
        preamble: String,
        epilogue: String,
        closed: bool,
    },
    Rfc822(Box<Gen>),
}

fn render(g: &Gen, nl: &str, out: &mut String, digest: bool) {
    match g {
        Gen::Leaf { text, headers } => {
            if *headers && !digest {
                out.push_str(&format!(
                    "Content-Type: text/plain; charset=utf-8{nl}X-Note: a{nl} folded{nl}"
                ));
            }
            out.push_str(nl);
            out.push_str(text);
        }
        Gen::Multi {
            boundary,
            subtype,
            parts,
            preamble,
            epilogue,
            closed,
        } => {
            out.push_str(&format!(
                "Content-Type: multipart/{subtype};{nl} boundary=\"{boundary}\"{nl}{nl}"
            ));
            out.push_str(preamble);
            for p in parts {
                out.push_str(&format!("{nl}--{boundary}{nl}"));
                render(p, nl, out, subtype == "digest");
            }
            if *closed {
                out.push_str(&format!("{nl}--{boundary}--{nl}"));
                out.push_str(epilogue);
            }
        }
        Gen::Rfc822(inner) => {
            out.push_str(&format!(
                "Content-Type: message/rfc822{nl}{nl}Subject: inner{nl}"
            ));
            render(inner, nl, out, false);
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("line".to_owned()),
            Just("\r\n".to_owned()),
            Just("\n".to_owned()),
            Just("--".to_owned()),
            Just("-- \n".to_owned()),
            Just("--a".to_owned()),
            Just("\r".to_owned()),
            Just(" ".to_owned()),
            Just("X: y".to_owned()),
        ],
        0..8,
    )
    .prop_map(|v| v.concat())
}

fn gen() -> impl Strategy<Value = Gen> {
    let leaf = (text(), any::<bool>()).prop_map(|(text, headers)| Gen::Leaf { text, headers });
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (
                prop_oneof![Just("a"), Just("ab"), Just("a b"), Just("=_x")],
                prop_oneof![Just("mixed"), Just("digest"), Just("alternative")],
                prop::collection::vec(inner.clone(), 0..4),
                text(),
                text(),
                any::<bool>()
            )
                .prop_map(|(b, s, parts, preamble, epilogue, closed)| Gen::Multi {
                    boundary: b.to_owned(),
                    subtype: s.to_owned(),
                    parts,
                    preamble,
                    epilogue,
                    closed
                }),
            inner.prop_map(|g| Gen::Rfc822(Box::new(g))),
        ]
    })
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    (
        gen(),
        prop_oneof![Just("\r\n"), Just("\n")],
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(g, nl, edits)| {
            let mut out = format!("From: a@example.com{nl}");
            render(&g, nl, &mut out, false);
            let mut bytes = out.into_bytes();
            for (i, b) in edits {
                if !bytes.is_empty() {
                    let at = i.index(bytes.len());
                    bytes[at] = b"-\r\n a:"[usize::from(b) % 6];
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn ranges_agree_with_the_whole_parser(msg in message(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let want = whole(&msg);
        let got = streamed(&scan_chunked(&msg, &cuts));
        prop_assert_eq!(got, want, "{}", String::from_utf8_lossy(&msg));
    }

    #[test]
    fn chunking_does_not_matter(bytes in prop::collection::vec(prop_oneof![Just(b'-'), Just(b'\r'), Just(b'\n'), Just(b'a'), Just(b':'), Just(b' '), any::<u8>()], 0..300), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let mut msg = b"Content-Type: multipart/mixed; boundary=a\n\n".to_vec();
        msg.extend_from_slice(&bytes);
        let one = Structure::of(&msg);
        let many = scan_chunked(&msg, &cuts);
        prop_assert_eq!(&one, &many);
        let mut bytewise = StructureScanner::default();
        for b in &msg {
            bytewise.feed(std::slice::from_ref(b));
        }
        prop_assert_eq!(&one, &bytewise.finish());
    }
}

#[test]
fn corpus_messages_agree() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let msg = std::fs::read(&path).unwrap();
        let want = whole(&msg);
        for size in [1, 7, 64, 4096, msg.len().max(1)] {
            let mut s = StructureScanner::default();
            for c in msg.chunks(size) {
                s.feed(c);
            }
            assert_eq!(
                streamed(&s.finish()),
                want,
                "{} in chunks of {size}",
                path.display()
            );
        }
        n += 1;
    }
    assert!(n >= 40, "corpus has {n} messages");
}
