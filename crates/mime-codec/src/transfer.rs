//! Choosing a Content-Transfer-Encoding for content the builder sends.

use crate::content_type::TransferEncoding;

/// Longest line allowed by RFC 5322 section 2.1.1, not counting CRLF.
const MAX_LINE: usize = 998;

/// Turns bare CR and bare LF into CRLF.
pub(crate) fn to_crlf(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len() + b.len() / 32);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if b.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Whether `data` can travel as it is: CRLF line endings only, no NUL, lines within 998 octets.
pub(crate) fn fits_lines(data: &[u8]) -> bool {
    let mut line = 0usize;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            0 => return false,
            b'\r' => {
                if data.get(i + 1) != Some(&b'\n') {
                    return false;
                }
                line = 0;
                i += 2;
                continue;
            }
            b'\n' => return false,
            _ => {
                line += 1;
                if line > MAX_LINE {
                    return false;
                }
            }
        }
        i += 1;
    }
    true
}

/// The transfer encoding for in-memory content: `7bit` when it is ASCII with CRLF lines of at most
/// 998 octets and no NUL; `8bit` for such lines with 8-bit bytes when the caller allows it;
/// quoted-printable for mostly ASCII text (at most a third of the bytes escaped, so it stays
/// readable); base64 otherwise.
pub(crate) fn choose(data: &[u8], textual: bool, allow_8bit: bool) -> TransferEncoding {
    let lines_ok = fits_lines(data);
    if lines_ok && data.is_ascii() {
        TransferEncoding::SevenBit
    } else if lines_ok && allow_8bit {
        TransferEncoding::EightBit
    } else if textual && crate::qp::escaped_count(data) * 3 <= data.len() {
        TransferEncoding::QuotedPrintable
    } else {
        TransferEncoding::Base64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_become_crlf() {
        assert_eq!(to_crlf("a\nb\rc\r\nd\n\r"), b"a\r\nb\r\nc\r\nd\r\n\r\n");
    }

    #[test]
    fn choice_follows_content() {
        use TransferEncoding::*;
        assert_eq!(choose(b"ascii\r\nlines", true, false), SevenBit);
        assert_eq!(choose(b"bare\nlf", false, false), Base64);
        assert_eq!(choose(b"bare\nlf", true, false), QuotedPrintable);
        assert_eq!(choose(b"nul\0", true, false), QuotedPrintable);
        assert_eq!(choose(&[b'x'; 999], true, false), QuotedPrintable);
        assert_eq!(choose(&[b'x'; 998], true, false), SevenBit);
        assert_eq!(choose("中文".as_bytes(), true, true), EightBit);
        assert_eq!(choose("中文".as_bytes(), true, false), Base64);
        assert_eq!(
            choose("mostly ascii, é".as_bytes(), true, false),
            QuotedPrintable
        );
        assert_eq!(choose(&[0xff, 0xfe], false, false), Base64);
    }
}
