//! Reply lines (RFC 5321 §4.2) and enhanced status codes (RFC 3463 §2).

use super::In;
use crate::types::{EnhancedStatus, Reply, ReplyCode};
use crate::ParseError;

/// `Reply-code = %x32-35 %x30-35 %x30-39`
///
/// Hand-written rather than nom: it runs once per reply line, on the hot path.
#[inline]
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
#[inline]
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
#[inline(always)]
fn one_to_three_digits(i: In<'_>) -> Option<(u16, In<'_>)> {
    let digit = |n: usize| {
        i.get(n)
            .filter(|b| b.is_ascii_digit())
            .map(|&b| u16::from(b - b'0'))
    };
    match (digit(0), digit(1), digit(2)) {
        (Some(a), Some(b), Some(c)) => Some((a * 100 + b * 10 + c, &i[3..])),
        (Some(a), Some(b), None) => Some((a * 10 + b, &i[2..])),
        (Some(a), None, _) => Some((a, &i[1..])),
        (None, _, _) => None,
    }
}

/// `status-code = class "." subject "." detail` followed by SP or the end.
/// `class = "2" / "4" / "5"`, `subject = 1*3digit`, `detail = 1*3digit`
#[inline(always)]
pub(crate) fn enhanced_prefix(text: &[u8]) -> Option<(EnhancedStatus, &[u8])> {
    let [class @ (b'2' | b'4' | b'5'), b'.', rest @ ..] = text else {
        return None;
    };
    let (subject, rest) = one_to_three_digits(rest)?;
    let (detail, rest) = one_to_three_digits(rest.strip_prefix(b".")?)?;
    let rest = match rest {
        [] => rest,
        [b' ', after @ ..] => after,
        _ => return None,
    };
    EnhancedStatus::new(class - b'0', subject, detail).map(|e| (e, rest))
}

/// What [`scan_text`] found.
struct Scan {
    /// Where the first octet that is not text is (the length when none is).
    stop: usize,
    /// No octet up to `stop` is >= 0x80 (looked at only when asked for:
    /// always false otherwise).
    ascii: bool,
}

/// Scans reply text for the first octet that `textstring` does not allow
/// (a control other than HT, which includes CR and LF), eight octets at a
/// time; the last eight overlap the word before, so no octet is looked at
/// alone unless the text is shorter than eight.
/// `textstring = 1*(%d09 / %d32-126)`, widened to UTF-8 octets.
#[inline]
fn scan_text<const ASCII: bool>(i: &[u8]) -> Scan {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if i.len() < 8 {
        let n = i.iter().position(|&b| !is_text_octet(b)).unwrap_or(i.len());
        return Scan {
            stop: n,
            ascii: ASCII && i[..n].is_ascii(),
        };
    }
    let word = |at: usize| <[u8; 8]>::try_from(&i[at..at + 8]).map_or(0, u64::from_le_bytes);
    let last = i.len() - 8;
    let mut high = 0;
    let mut pos = 0;
    loop {
        let at = pos.min(last);
        let w = word(at);
        // The lowest flagged octet is exactly the first one below 0x20 or
        // equal to 0x7F (flags above it may be wrong, and are not used).
        let ctl = w.wrapping_sub(ONES * 0x20) & !w;
        let del = (w ^ (ONES * 0x7f)).wrapping_sub(ONES) & !(w ^ (ONES * 0x7f));
        let flags = (ctl | del) & HIGH;
        if flags != 0 {
            let first = at + (flags.trailing_zeros() / 8) as usize;
            if i[first] != b'\t' {
                return Scan {
                    stop: first,
                    ascii: ASCII && high & HIGH == 0 && i[at..first].is_ascii(),
                };
            }
            // HT is allowed (and rare): look on octet by octet from there.
            let stop = i[first..]
                .iter()
                .position(|&b| !is_text_octet(b))
                .map_or(i.len(), |n| first + n);
            return Scan {
                stop,
                ascii: ASCII && i[..stop].is_ascii(),
            };
        }
        high |= w;
        if at == last {
            return Scan {
                stop: i.len(),
                ascii: ASCII && high & HIGH == 0,
            };
        }
        pos = at + 8;
    }
}

#[inline]
fn is_text_octet(b: u8) -> bool {
    (b >= 32 && b != 127) || b == b'\t'
}

/// `textstring` (widened to UTF-8 octets) over a whole line's text: no CR,
/// LF or other control but HT.
pub(crate) fn is_text(text: &[u8]) -> bool {
    scan_text::<false>(text).stop == text.len()
}

/// Where the first CRLF starts: the first LF that follows a CR.
fn find_crlf(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(n) = memchr::memchr(b'\n', &bytes[from..]) {
        let lf = from + n;
        if lf > 0 && bytes[lf - 1] == b'\r' {
            return Some(lf - 1);
        }
        from = lf + 1;
    }
    None
}

/// A reply whose last line has not arrived yet: its text lines so far,
/// joined by LF, as octets (converted to UTF-8 once, at the end).
#[derive(Debug, Clone)]
pub(crate) struct Partial {
    code: ReplyCode,
    enhanced: Option<EnhancedStatus>,
    text: Vec<u8>,
    lines: usize,
}

/// The text of a reply's first line: the enhanced status (when it agrees
/// with the code's class) and the text after it.
#[inline]
fn first_status(code: ReplyCode, text: &[u8]) -> (Option<EnhancedStatus>, &[u8]) {
    match enhanced_prefix(text) {
        Some((e, rest)) if u16::from(e.class()) == code.get() / 100 => (Some(e), rest),
        _ => (None, text),
    }
}

/// The text of a continuation line: a status is stripped only when it
/// repeats the first line's; the digits are looked at only when one is
/// expected.
#[inline]
fn next_status(enhanced: Option<EnhancedStatus>, text: &[u8]) -> &[u8] {
    match enhanced.map(|e| (e, enhanced_prefix(text))) {
        Some((e, Some((e2, rest)))) if e == e2 => rest,
        _ => text,
    }
}

/// A reply's first line, taken apart: code, enhanced status, checked text,
/// whether the text is ASCII, and whether more lines follow.
pub(crate) type FirstLine<'a> = (ReplyCode, Option<EnhancedStatus>, &'a [u8], bool, bool);

/// The first line of a reply (without CRLF).
pub(crate) fn first_line(line: &[u8]) -> Result<FirstLine<'_>, ParseError> {
    let (code, more, text) = reply_line(line)?;
    let (enhanced, text) = first_status(code, text);
    let scan = scan_text::<true>(text);
    if scan.stop != text.len() {
        return Err(ParseError::BadReplyText);
    }
    Ok((code, enhanced, text, scan.ascii, more))
}

/// A one-line reply from its checked text (the first `len` octets of
/// `window`): copied once, inline when short.
#[inline(always)]
pub(crate) fn single(
    code: ReplyCode,
    enhanced: Option<EnhancedStatus>,
    window: &[u8],
    len: usize,
    ascii: bool,
) -> Reply {
    if ascii {
        if let Some(reply) = Reply::from_ascii_text(code, enhanced, window, len) {
            return reply;
        }
    }
    single_copied(code, enhanced, &window[..len])
}

/// [`single`] for text that is not ASCII or not short: on the heap, made
/// lossy when it is not UTF-8.
#[cold]
#[inline(never)]
fn single_copied(code: ReplyCode, enhanced: Option<EnhancedStatus>, text: &[u8]) -> Reply {
    match std::str::from_utf8(text) {
        Ok(text) => Reply::from_text_str(code, enhanced, text),
        Err(_) => Reply::from_text(code, enhanced, String::from_utf8_lossy(text).into_owned()),
    }
}

impl Partial {
    /// A reply of several lines, from its first line's parts. `capacity` is a
    /// hint for the text buffer.
    pub(crate) fn start(
        code: ReplyCode,
        enhanced: Option<EnhancedStatus>,
        text: &[u8],
        capacity: usize,
    ) -> Partial {
        let mut buf = Vec::with_capacity(capacity.max(text.len()));
        buf.extend_from_slice(text);
        Partial {
            code,
            enhanced,
            text: buf,
            lines: 1,
        }
    }

    /// The checks a continuation line's code gets before its text.
    #[inline]
    fn check_next(&self, code: ReplyCode, max_lines: usize) -> Result<(), ParseError> {
        if code != self.code {
            return Err(ParseError::ReplyCodeMismatch);
        }
        if self.lines >= max_lines {
            return Err(ParseError::TooManyReplyLines { limit: max_lines });
        }
        Ok(())
    }

    #[inline]
    fn push_text(&mut self, text: &[u8]) {
        self.text.push(b'\n');
        self.text.extend_from_slice(text);
        self.lines += 1;
    }

    /// A continuation line (without CRLF): whether more lines follow.
    pub(crate) fn next_line(&mut self, line: &[u8], max_lines: usize) -> Result<bool, ParseError> {
        let (code, more, text) = reply_line(line)?;
        self.check_next(code, max_lines)?;
        let text = next_status(self.enhanced, text);
        if !is_text(text) {
            return Err(ParseError::BadReplyText);
        }
        self.push_text(text);
        Ok(more)
    }

    /// The reply. Text is checked as octets: invalid UTF-8 is only ever
    /// octets >= 0x80, which neither the status prefix nor the text check
    /// looks at, so converting once here gives the same reply as converting
    /// line by line; invalid sequences are replaced, never refused.
    #[inline]
    pub(crate) fn finish(self) -> Reply {
        let text = match String::from_utf8(self.text) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Reply::from_text(self.code, self.enhanced, text)
    }
}

/// The start of a reply line up to its text, in a buffer where the line's end
/// is not known yet: the code, whether more lines follow, and where the text
/// starts (at the CRLF for a line without text).
#[inline]
fn line_head(i: In<'_>) -> Result<(ReplyCode, bool, usize), ParseError> {
    let (code, rest) = reply_code(i).ok_or(ParseError::BadReply)?;
    match rest {
        [b' ', ..] => Ok((code, false, 4)),
        [b'-', ..] => Ok((code, true, 4)),
        [b'\r', b'\n', ..] => Ok((code, false, 3)),
        _ => Err(ParseError::BadReply),
    }
}

/// The text of the line whose text starts at `i`, up to its CRLF, found and
/// checked in one pass: the text, whether it is ASCII, and the input after the
/// CRLF. A control octet before the CRLF is bad text when a CRLF follows
/// somewhere (the line reaches that far), else the reply is cut short.
#[inline]
fn line_text<const ASCII: bool>(i: In<'_>) -> Result<(&[u8], bool, In<'_>), ParseError> {
    let scan = scan_text::<ASCII>(i);
    match i.get(scan.stop..scan.stop + 2) {
        Some(b"\r\n") => Ok((&i[..scan.stop], scan.ascii, &i[scan.stop + 2..])),
        _ if find_crlf(&i[scan.stop..]).is_some() => Err(ParseError::BadReplyText),
        _ => Err(ParseError::BadReply),
    }
}

/// `Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF`
///
/// A buffer that holds exactly one complete reply, each line ending in CRLF.
/// Each line is found and checked in one pass; the reply is built last, once
/// nothing can fail any more, so it is written once, where it is returned.
#[inline]
pub(crate) fn reply_exact(i: In<'_>, max_lines: usize) -> Result<Reply, ParseError> {
    let (code, mut more, start) = line_head(i)?;
    let (text, ascii, mut rest) = line_text::<true>(&i[start..])?;
    let (enhanced, text) = first_status(code, text);
    if !more {
        if !rest.is_empty() {
            return Err(ParseError::BadReply);
        }
        // The text ends the line: `window` is the text and its CRLF.
        let window = &i[i.len() - 2 - text.len()..];
        return Ok(single(code, enhanced, window, text.len(), ascii));
    }
    let mut partial = Partial::start(code, enhanced, text, i.len());
    let digits = &i[..3];
    while more {
        // A continuation line usually repeats the code's three digits, which
        // are then compared, not read again.
        let (code, next, start) = match rest {
            [a, b, c, sep, ..] if [*a, *b, *c] == digits => match (sep, rest.get(4)) {
                (b' ', _) => (partial.code, false, 4),
                (b'-', _) => (partial.code, true, 4),
                (b'\r', Some(b'\n')) => (partial.code, false, 3),
                _ => return Err(ParseError::BadReply),
            },
            _ => line_head(rest)?,
        };
        if let Err(e) = partial.check_next(code, max_lines) {
            // A line is only looked at once its CRLF is there.
            return Err(match find_crlf(rest) {
                Some(_) => e,
                None => ParseError::BadReply,
            });
        }
        let (text, _, after) = line_text::<false>(&rest[start..])?;
        partial.push_text(next_status(partial.enhanced, text));
        (more, rest) = (next, after);
    }
    if !rest.is_empty() {
        return Err(ParseError::BadReply);
    }
    Ok(partial.finish())
}
