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

/// What a parser needs besides its input: whether RFC 6531 UTF-8 is allowed,
/// and the whole input as `&str` when it is UTF-8. With the latter, a token
/// becomes `&str` by slicing, so a line is checked for UTF-8 once, not once
/// per token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cx<'a> {
    pub(crate) utf8: bool,
    text: Option<&'a str>,
}

impl<'a> Cx<'a> {
    /// For input that arrived as octets: checked for UTF-8 here, once.
    #[inline]
    pub(crate) fn octets(utf8: bool, input: &'a [u8]) -> Cx<'a> {
        Cx {
            utf8,
            text: std::str::from_utf8(input).ok(),
        }
    }

    /// For input that is already `&str`.
    pub(crate) fn text(utf8: bool, input: &'a str) -> Cx<'a> {
        Cx {
            utf8,
            text: Some(input),
        }
    }

    /// A token of the input as `&str`; `None` when it is not UTF-8. A token
    /// that lies inside the checked input is sliced from it (no second
    /// check); any other is checked.
    #[inline]
    pub(crate) fn str_of(&self, token: &'a [u8]) -> Option<&'a str> {
        if let Some(text) = self.text {
            let start = (token.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
            if let Some(s) = start
                .checked_add(token.len())
                .and_then(|end| text.get(start..end))
            {
                return Some(s);
            }
        }
        std::str::from_utf8(token).ok()
    }
}

/// `token` is `upper` (upper-case letters, digits and `-`) in any case,
/// compared as two overlapping words rather than octet by octet.
///
/// Only for tokens already checked to hold no control octet (such as
/// `esmtp-keyword`, `esmtp-value` or `sasl-mech` octets): folding bit 0x20
/// then cannot make one equal a digit, `-` or `_`, and no `%x80-FF` octet
/// folds into ASCII.
#[inline(always)]
pub(crate) fn is_word<const N: usize>(token: &[u8], upper: &[u8; N]) -> bool {
    if token.len() != N {
        return false;
    }
    if N >= 8 {
        let words = |s: &[u8]| {
            let fold = |w: &[u8; 8]| u64::from_le_bytes(*w) | 0x2020_2020_2020_2020;
            (s.first_chunk().map(fold), s.last_chunk().map(fold))
        };
        words(token) == words(upper)
    } else if N >= 4 {
        let words = |s: &[u8]| {
            let fold = |w: &[u8; 4]| u32::from_le_bytes(*w) | 0x2020_2020;
            (s.first_chunk().map(fold), s.last_chunk().map(fold))
        };
        words(token) == words(upper)
    } else {
        token.eq_ignore_ascii_case(upper)
    }
}

/// Octet classes of the address and parameter grammars, one table lookup
/// per octet.
pub(crate) mod class {
    /// `Let-dig` / `Ldh-str` octets: ALPHA, DIGIT, `-`.
    pub(crate) const LDH: u8 = 1;
    /// `atext` (RFC 5322).
    pub(crate) const ATEXT: u8 = 2;
    /// `esmtp-value` octets: `%d33-60 / %d62-126`.
    pub(crate) const VALUE: u8 = 4;
    /// `%x80-FF`: UTF-8 under RFC 6531.
    pub(crate) const HIGH: u8 = 8;
    /// Base64 octets: ALPHA, DIGIT, `+`, `/`, `=`.
    pub(crate) const BASE64: u8 = 16;
    /// `xchar` (RFC 3461): `%d33-42 / %d44-60 / %d62-126`.
    pub(crate) const XCHAR: u8 = 32;
    /// `sasl-mech` octets (RFC 4422): ALPHA, DIGIT, `-`, `_`.
    pub(crate) const SASL_MECH: u8 = 64;

    const fn build() -> [u8; 256] {
        let mut t = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            let alnum = c.is_ascii_alphanumeric();
            let mut k = 0;
            if alnum || c == b'-' {
                k |= LDH;
            }
            if alnum
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'/'
                        | b'='
                        | b'?'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'{'
                        | b'|'
                        | b'}'
                        | b'~'
                )
            {
                k |= ATEXT;
            }
            if matches!(c, 33..=60 | 62..=126) {
                k |= VALUE;
            }
            if c >= 0x80 {
                k |= HIGH;
            }
            if alnum || matches!(c, b'+' | b'/' | b'=') {
                k |= BASE64;
            }
            if matches!(c, 33..=42 | 44..=60 | 62..=126) {
                k |= XCHAR;
            }
            if alnum || c == b'-' || c == b'_' {
                k |= SASL_MECH;
            }
            t[b] = k;
            b += 1;
        }
        t
    }

    /// `bits`, and when `utf8` also [`HIGH`] (RFC 6531 adds `%x80-FF` to
    /// atoms, labels and values).
    #[inline(always)]
    pub(crate) fn with_utf8(bits: u8, utf8: bool) -> u8 {
        if utf8 {
            bits | HIGH
        } else {
            bits
        }
    }

    /// The class bits of every octet.
    pub(crate) static TABLE: [u8; 256] = build();

    /// The class bits of `b`.
    #[inline(always)]
    pub(crate) fn of(b: u8) -> u8 {
        TABLE[usize::from(b)]
    }

    /// How many octets at the start of `i` have one of the `bits`.
    #[inline(always)]
    pub(crate) fn span(i: &[u8], bits: u8) -> usize {
        i.iter().position(|&b| of(b) & bits == 0).unwrap_or(i.len())
    }

    /// Bit 7 of every octet of a word.
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    /// Bits 0 to 6 of every octet of a word.
    const LOWS: u64 = !HIGHS;
    /// 1 in every octet of a word.
    const ONES: u64 = 0x0101_0101_0101_0101;

    /// Bit 7 set in each octet of the little-endian word `w` that is not
    /// [`XCHAR`] (`%d33-42 / %d44-60 / %d62-126`). Each test is exact per
    /// octet: the sums of 7-bit octets stay below 0x100, so no carry
    /// crosses into the next octet.
    #[inline(always)]
    fn not_xchar(w: u64) -> u64 {
        let low = w & LOWS;
        let from_33 = low + ONES * (0x80 - 33);
        // 0x80 - 127 = 1.
        let from_127 = low + ONES;
        let not_plus = (low ^ (ONES * u64::from(b'+'))) + LOWS;
        let not_equals = (low ^ (ONES * u64::from(b'='))) + LOWS;
        !(from_33 & !from_127 & not_plus & not_equals & !w) & HIGHS
    }

    /// [`span`] over [`XCHAR`], eight octets at a time (the value scan of
    /// every parameter starts with it); the last few octets by the table.
    #[inline(always)]
    pub(crate) fn span_xchar(i: &[u8]) -> usize {
        let mut rest = i;
        while let Some((word, tail)) = rest.split_first_chunk::<8>() {
            let bad = not_xchar(u64::from_le_bytes(*word));
            if bad != 0 {
                return i.len() - rest.len() + (bad.trailing_zeros() / 8) as usize;
            }
            rest = tail;
        }
        i.len() - rest.len() + span(rest, XCHAR)
    }
}
