//! The checks the fuzz targets `metrics_exposition` and
//! `metrics_request_head` make, shared with the property tests in
//! `tests/fuzz_entry.rs` (the fuzz targets include this file by path).
//! They use only the crate's public API, so the library itself holds no
//! assertion that input could reach.
#![allow(dead_code, clippy::panic, clippy::expect_used)]

use mail_metrics::{Registry, OVERFLOW_LABEL};
use std::collections::BTreeSet;

/// Classifies `bytes` as a request head fed whole and fed in the pieces
/// `cuts` gives (offsets), each with the limit `max`; both must agree,
/// and the limit must hold.
pub(crate) fn request_head(bytes: &[u8], cuts: &[usize], max: usize) {
    let whole = mail_metrics::fuzz_request_head(bytes, max);
    let mut pieces = None;
    let mut end = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.push(bytes.len());
    for point in points {
        end = end.max(point);
        if let Some(head) = mail_metrics::fuzz_request_head(&bytes[..end], max) {
            pieces = Some(head);
            break;
        }
    }
    if whole.is_some() || pieces.is_some() {
        assert_eq!(whole, pieces, "whole and piecewise disagree");
    }
    if let Some((_, kept)) = &whole {
        assert!(*kept <= max);
    }
}

/// Records the label value pairs in a counter family capped at 8
/// series, renders, and reads the text back strictly: every sample
/// line is `name{a="..",b=".."} n` with valid escapes, the label sets
/// read back are the ones recorded (cut to the length limit) or the
/// overflow set, and there are at most 9 of them.
pub(crate) fn exposition(pairs: &[(&str, &str)]) {
    let registry = Registry::new().with_series_cap(8);
    let Ok(family) = registry.counter("fuzz_total", "Fuzz \\ help\nline.", ["a", "b"]) else {
        return;
    };
    for (a, b) in pairs {
        family.with([a, b]).inc();
    }
    let text = registry.render();
    let mut read = BTreeSet::new();
    let mut total = 0u64;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let rest = line.strip_prefix("fuzz_total{a=\"").expect("sample name");
        let (a, rest) = unescape_until_quote(rest);
        let rest = rest.strip_prefix(",b=\"").expect("second label");
        let (b, rest) = unescape_until_quote(rest);
        let value = rest.strip_prefix("} ").expect("value separator");
        total += value.parse::<u64>().expect("a count");
        read.insert((a, b));
    }
    assert_eq!(total, pairs.len() as u64);
    assert!(read.len() <= 9);
    let cut = |v: &str| {
        let mut end = v.len().min(mail_metrics::MAX_LABEL_VALUE_BYTES);
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        v[..end].to_owned()
    };
    let recorded: BTreeSet<(String, String)> =
        pairs.iter().map(|(a, b)| (cut(a), cut(b))).collect();
    let overflow = (OVERFLOW_LABEL.to_owned(), OVERFLOW_LABEL.to_owned());
    for set in &read {
        assert!(
            recorded.contains(set) || *set == overflow,
            "{set:?} never recorded"
        );
    }
}

/// A label value up to its closing quote, unescaped; and what follows.
fn unescape_until_quote(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                other => panic!("bad escape {other:?}"),
            },
            '\n' => panic!("raw line feed in a label value"),
            c => out.push(c),
        }
    }
    panic!("unterminated label value")
}
