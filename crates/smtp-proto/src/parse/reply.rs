//! Reply lines (RFC 5321 §4.2) and enhanced status codes (RFC 3463 §2).

use super::{mismatch, In, PResult};
use crate::types::{EnhancedStatus, ReplyCode};
use crate::ParseError;
use nom::bytes::{tag, take_while_m_n};
use nom::Parser;

/// `Reply-code = %x32-35 %x30-35 %x30-39`
fn reply_code(i: In<'_>) -> PResult<'_, ReplyCode> {
    let (rest, digits) = take_while_m_n(3, 3, |b: u8| b.is_ascii_digit()).parse_complete(i)?;
    let n = digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    match ReplyCode::new(n) {
        Some(code) => Ok((rest, code)),
        None => mismatch(i),
    }
}

/// `Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF`
///
/// One line without its CRLF: the code, whether more lines follow, and the text.
pub(crate) fn reply_line(line: &[u8]) -> Result<(ReplyCode, bool, &[u8]), ParseError> {
    let (rest, code) = reply_code(line).map_err(|_| ParseError::BadReply)?;
    match rest.split_first() {
        None => Ok((code, false, rest)),
        Some((b' ', text)) => Ok((code, false, text)),
        Some((b'-', text)) => Ok((code, true, text)),
        Some(_) => Err(ParseError::BadReply),
    }
}

/// `status-code = class "." subject "." detail` followed by SP or the end.
/// `subject = 1*3digit`, `detail = 1*3digit`
pub(crate) fn enhanced_prefix(text: &[u8]) -> Option<(EnhancedStatus, &[u8])> {
    let num = |i| {
        take_while_m_n::<_, _, super::NomError>(1, 3, |b: u8| b.is_ascii_digit()).parse_complete(i)
    };
    let (rest, (class, _, subject, _, detail)) = (
        take_while_m_n(1, 1, |b| matches!(b, b'2' | b'4' | b'5')),
        tag("."),
        num,
        tag("."),
        num,
    )
        .parse_complete(text)
        .ok()?;
    let rest = match rest.split_first() {
        None => rest,
        Some((b' ', after)) => after,
        Some(_) => return None,
    };
    let n = |d: &[u8]| d.iter().fold(0u16, |n, &c| n * 10 + u16::from(c - b'0'));
    let class = u8::try_from(n(class)).ok()?;
    EnhancedStatus::new(class, n(subject), n(detail)).map(|e| (e, rest))
}
