//! `xtext` (RFC 3461 §4): the encoding of ENVID, ORCPT and AUTH= values.
//!
//! ```
//! use smtp_proto::xtext;
//! assert_eq!(xtext::encode("a+b=c d"), "a+2Bb+3Dc+20d");
//! assert_eq!(xtext::decode("a+2Bb+3Dc+20d").unwrap(), "a+b=c d");
//! ```

use crate::ParseError;

/// `xchar = %d33-42 / %d44-60 / %d62-126`: printable ASCII but `+` and `=`.
pub(crate) fn is_xchar(b: u8) -> bool {
    matches!(b, 33..=42 | 44..=60 | 62..=126)
}

/// Encodes text as xtext: every octet that is not an `xchar` becomes `+XX`.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    encode_into(text, &mut out);
    out
}

pub(crate) fn encode_into(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if is_xchar(b) {
            out.push(char::from(b));
        } else {
            out.push('+');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// Decodes xtext. `+XX` takes two hex digits (upper case per the RFC; lower
/// case is accepted too); the decoded octets must be UTF-8.
pub fn decode(xtext: &str) -> Result<String, ParseError> {
    decode_bytes(xtext.as_bytes(), "xtext")
}

pub(crate) fn decode_bytes(xtext: &[u8], param: &'static str) -> Result<String, ParseError> {
    // Most values have nothing encoded: check and copy them in one go.
    if !xtext.contains(&b'+') {
        return match std::str::from_utf8(xtext) {
            Ok(s) if xtext.iter().all(|&b| is_xchar(b)) => Ok(s.to_owned()),
            _ => Err(ParseError::BadParameter(param)),
        };
    }
    let mut out = Vec::with_capacity(xtext.len());
    let mut i = 0;
    while let Some(&b) = xtext.get(i) {
        if b == b'+' {
            let hi = xtext.get(i + 1).and_then(|&h| char::from(h).to_digit(16));
            let lo = xtext.get(i + 2).and_then(|&l| char::from(l).to_digit(16));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(u8::try_from(hi * 16 + lo).unwrap_or(0)),
                _ => return Err(ParseError::BadParameter(param)),
            }
            i += 3;
        } else if is_xchar(b) {
            out.push(b);
            i += 1;
        } else {
            return Err(ParseError::BadParameter(param));
        }
    }
    String::from_utf8(out).map_err(|_| ParseError::BadParameter(param))
}
