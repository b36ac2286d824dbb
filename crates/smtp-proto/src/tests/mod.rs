//! Known-answer tables: each case checks parsing and serializing together.
// Parameters are set field by field, as users outside the crate must (the
// structs are `#[non_exhaustive]`).
#![allow(clippy::field_reassign_with_default)]

mod commands;
mod ehlo;
mod paths;
mod replies;

use crate::{Command, ParseError, ParseOptions};

/// Parses `line`, compares with `expected`, and checks that serializing gives
/// `line` back exactly (plus CRLF).
#[track_caller]
pub(super) fn kat(line: &str, expected: Command) {
    let parsed = Command::parse_with(line.as_bytes(), &ParseOptions::strict().with_smtputf8(true))
        .unwrap_or_else(|e| panic!("{line:?} did not parse: {e:?}"));
    assert_eq!(parsed, expected, "parse of {line:?}");
    assert_eq!(
        String::from_utf8_lossy(&expected.to_bytes()),
        format!("{line}\r\n"),
        "serialization of {expected:?}"
    );
}

/// Parses `line` (canonical or not) and checks the value and its canonical form.
#[track_caller]
pub(super) fn kat_canonical(line: &str, options: &ParseOptions, canonical: &str) {
    let parsed = Command::parse_with(line.as_bytes(), options)
        .unwrap_or_else(|e| panic!("{line:?} did not parse: {e:?}"));
    assert_eq!(
        String::from_utf8_lossy(&parsed.to_bytes()),
        format!("{canonical}\r\n"),
        "canonical form of {line:?}"
    );
}

#[track_caller]
pub(super) fn rejects(line: &str, options: &ParseOptions, error: ParseError) {
    assert_eq!(
        Command::parse_with(line.as_bytes(), options),
        Err(error),
        "{line:?}"
    );
}

/// Sizes the parsers' speed depends on: a `Command` of at most 128 octets is
/// moved inline rather than through `memcpy`, and a mailbox is one pointer
/// to its text plus the lazily built host.
#[test]
fn value_sizes() {
    assert!(std::mem::size_of::<Command>() <= 128);
    assert!(std::mem::size_of::<Result<Command, ParseError>>() <= 128);
    assert!(std::mem::size_of::<crate::Mailbox>() <= 32);
    // Short texts inline: no bigger than the `String` (or `String` and
    // offset) they replaced, but for the ORCPT, which grew by one word.
    assert!(std::mem::size_of::<crate::Domain>() <= 24);
    assert!(std::mem::size_of::<crate::Orcpt>() <= 40);
    assert!(std::mem::size_of::<crate::SaslResponse>() <= 64);
}

/// Inline and boxed short texts read back the same, compare by their text,
/// and switch form exactly past the inline size.
#[test]
fn small_texts_inline_and_boxed() {
    use crate::types::SmallStr;
    for text in [
        "",
        "a",
        "éé",
        "twenty-three octets ab.",
        "twenty-four octets abc.d",
    ] {
        let small = SmallStr::<23>::new(text);
        assert_eq!(small.as_str(), text);
        assert_eq!(
            matches!(small, SmallStr::Inline { .. }),
            text.len() <= 23,
            "{text:?}"
        );
        assert!(small == SmallStr::<23>::new(text));
    }
    let joined = SmallStr::<4>::concat("ab", "é");
    assert_eq!(joined.as_str(), "abé");
    assert!(matches!(joined, SmallStr::Inline { .. }));
    assert_eq!(SmallStr::<4>::concat("ab", "cde").as_str(), "abcde");

    // Through the public types, on both sides of the inline size.
    for name in ["example.com", "a-rather-long-subdomain.example.com"] {
        let d = crate::Domain::new(name).unwrap();
        assert_eq!(d.as_str(), name);
        assert_eq!(d, crate::Domain::new(name).unwrap());
        assert_eq!(format!("{d:?}"), format!("Domain({name:?})"));
    }
    for address in ["bob@example.org", "someone.with.a.long.name@example.org"] {
        let o = crate::Orcpt::new("rfc822", address).unwrap();
        assert_eq!((o.addr_type(), o.address()), ("rfc822", address));
        assert_eq!(o, crate::Orcpt::new("rfc822", address).unwrap());
        assert_ne!(
            o,
            crate::Orcpt::new("rfc82", &format!("2{address}")).unwrap()
        );
    }
    let long = "QUJD".repeat(20);
    for b64 in ["=", "AGFsaWNlAHNlY3JldA==", long.as_str()] {
        assert_eq!(crate::SaslResponse::new(b64).unwrap().expose_base64(), b64);
    }
}

/// The word-at-a-time `xchar` scan agrees with the octet table for every
/// octet at every position of short and long inputs.
#[test]
fn xchar_words_agree_with_the_table() {
    use crate::parse::class::{span, span_xchar, XCHAR};
    for len in 0..=20 {
        for at in 0..len {
            for b in 0..=255u8 {
                let mut input = vec![b'a'; len];
                input[at] = b;
                assert_eq!(
                    span_xchar(&input),
                    span(&input, XCHAR),
                    "octet {b:#04x} at {at} of {len}"
                );
            }
        }
    }
    // Mixed inputs: every octet value, in a scrambled order.
    let mut x = 1u32;
    for _ in 0..2000 {
        let input: Vec<u8> = (0..24)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                // Mostly xchar octets, so that the scan runs on.
                match (x >> 16) % 8 {
                    0 => (x >> 8) as u8,
                    _ => b'!' + ((x >> 8) as u8 % 90),
                }
            })
            .collect();
        assert_eq!(span_xchar(&input), span(&input, XCHAR), "{input:?}");
    }
}
