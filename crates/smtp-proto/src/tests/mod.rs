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
}
