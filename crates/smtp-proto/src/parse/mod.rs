//! Private nom 8 parsers, one module per grammar area. Each parser is named after
//! its ABNF rule and quotes the rule. nom types never leave this module tree:
//! [`run`] maps them to the public [`ParseError`].

pub(crate) mod command;
pub(crate) mod host;
pub(crate) mod params;
pub(crate) mod path;
pub(crate) mod reply;

use crate::ParseError;
use nom::Parser;

/// Parser input: always a complete line or token, never a partial one.
pub(crate) type In<'a> = &'a [u8];

/// Private nom error: either "no match here" (so `alt` can try the next
/// branch) or a definite [`ParseError`] carried as a nom `Failure`.
#[derive(Debug)]
pub(crate) struct NomError(pub(crate) Option<ParseError>);

impl<'a> nom::error::ParseError<In<'a>> for NomError {
    fn from_error_kind(_: In<'a>, _: nom::error::ErrorKind) -> Self {
        NomError(None)
    }
    fn append(_: In<'a>, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
    fn or(self, other: Self) -> Self {
        if other.0.is_some() {
            other
        } else {
            self
        }
    }
}

pub(crate) type PResult<'a, O> = nom::IResult<In<'a>, O, NomError>;

/// A definite failure that `alt` will not backtrack over.
pub(crate) fn fail<'a, O>(e: ParseError) -> PResult<'a, O> {
    Err(nom::Err::Failure(NomError(Some(e))))
}

/// A recoverable mismatch.
pub(crate) fn mismatch<'a, O>(i: In<'a>) -> PResult<'a, O> {
    Err(nom::Err::Error(<NomError as nom::error::ParseError<
        In<'a>,
    >>::from_error_kind(
        i, nom::error::ErrorKind::Verify
    )))
}

/// Runs `parser` over the whole of `input` in complete mode; a mismatch or
/// leftover input becomes `otherwise`.
pub(crate) fn run<'a, O, P>(
    mut parser: P,
    input: In<'a>,
    otherwise: ParseError,
) -> Result<O, ParseError>
where
    P: Parser<In<'a>, Output = O, Error = NomError>,
{
    match parser.parse_complete(input) {
        Ok((&[], out)) => Ok(out),
        Ok(_) => Err(otherwise),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.0.unwrap_or(otherwise)),
        Err(nom::Err::Incomplete(_)) => Err(otherwise),
    }
}

/// `%x80-FF` octets: the UTF-8 extension that RFC 6531 adds to atoms and labels.
/// Whole-string UTF-8 validity is checked once the token is complete.
pub(crate) fn is_utf8_octet(b: u8) -> bool {
    b >= 0x80
}
