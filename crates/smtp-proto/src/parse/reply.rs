//! Reply lines (RFC 5321 §4.2) and enhanced status codes (RFC 3463 §2).

use super::In;
use crate::types::{EnhancedStatus, ReplyCode};
use crate::ParseError;

/// `Reply-code = %x32-35 %x30-35 %x30-39`
///
/// Hand-written rather than nom: it runs once per reply line, on the hot path.
fn reply_code(i: In<'_>) -> Option<(ReplyCode, In<'_>)> {
    let [a, b, c, rest @ ..] = i else {
        return None;
    };
    if !(a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit()) {
        return None;
    }
    let n = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    ReplyCode::new(n).map(|code| (code, rest))
}

/// `Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF`
///
/// One line without its CRLF: the code, whether more lines follow, and the text.
pub(crate) fn reply_line(line: &[u8]) -> Result<(ReplyCode, bool, &[u8]), ParseError> {
    let (code, rest) = reply_code(line).ok_or(ParseError::BadReply)?;
    match rest.split_first() {
        None => Ok((code, false, rest)),
        Some((b' ', text)) => Ok((code, false, text)),
        Some((b'-', text)) => Ok((code, true, text)),
        Some(_) => Err(ParseError::BadReply),
    }
}

/// `1*3digit`: up to three digits (a fourth is left in the input).
fn one_to_three_digits(i: In<'_>) -> Option<(u16, In<'_>)> {
    let len = i.iter().take(3).take_while(|b| b.is_ascii_digit()).count();
    if len == 0 {
        return None;
    }
    let n = i[..len]
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Some((n, &i[len..]))
}

/// `status-code = class "." subject "." detail` followed by SP or the end.
/// `class = "2" / "4" / "5"`, `subject = 1*3digit`, `detail = 1*3digit`
pub(crate) fn enhanced_prefix(text: &[u8]) -> Option<(EnhancedStatus, &[u8])> {
    let (&class, rest) = text.split_first()?;
    if !matches!(class, b'2' | b'4' | b'5') {
        return None;
    }
    let (subject, rest) = one_to_three_digits(rest.strip_prefix(b".")?)?;
    let (detail, rest) = one_to_three_digits(rest.strip_prefix(b".")?)?;
    let rest = match rest.split_first() {
        None => rest,
        Some((b' ', after)) => after,
        Some(_) => return None,
    };
    EnhancedStatus::new(class - b'0', subject, detail).map(|e| (e, rest))
}
