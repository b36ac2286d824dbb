//! The header section: splitting fields, unfolding, and reading values as text.

use std::borrow::Cow;

/// One header field as it appears in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    name: &'a str,
    raw: &'a [u8],
}

impl<'a> Header<'a> {
    /// The field name as written (compare with `eq_ignore_ascii_case`).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The value bytes after the colon, folded as received, without the final line break.
    pub fn raw_value(&self) -> &'a [u8] {
        self.raw
    }

    /// The value unfolded (line breaks removed) and trimmed, as text. 8-bit bytes are read as
    /// UTF-8 (RFC 6532) or, when not valid UTF-8, as windows-1252. Borrowed when nothing changed.
    pub fn unfolded(&self) -> Cow<'a, str> {
        let raw = trim_ws(self.raw);
        let text = crate::charset::decode(raw, None).text;
        if !text.contains(['\r', '\n']) {
            return text;
        }
        Cow::Owned(text.chars().filter(|&c| c != '\r' && c != '\n').collect())
    }

    /// The value unfolded with its RFC 2047 encoded words decoded: for Subject and other
    /// unstructured fields.
    pub fn text(&self) -> Cow<'a, str> {
        match self.unfolded() {
            Cow::Borrowed(s) => crate::rfc2047::decode(s),
            Cow::Owned(s) => Cow::Owned(crate::rfc2047::decode(&s).into_owned()),
        }
    }
}

fn trim_ws(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// Splits the header section from the body. Returns the fields (at most `max_headers`; more are
/// skipped) and the offset where the body starts. Lines may end in CRLF or a bare LF; lines
/// without a colon (an mbox `From ` line, junk) are skipped; a continuation line before any field
/// is skipped; input without an empty line is all headers.
pub(crate) fn parse_headers(input: &[u8], max_headers: usize) -> (Vec<Header<'_>>, usize) {
    let mut headers: Vec<Header<'_>> = Vec::new();
    let mut pos = 0;
    // The field being read: name and where its value starts.
    let mut current: Option<(&str, usize)> = None;
    let mut value_end = 0;
    while pos < input.len() {
        let line_end = memchr::memchr(b'\n', &input[pos..]).map_or(input.len(), |i| pos + i);
        let mut content_end = line_end;
        if content_end > pos && input[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        let next = (line_end + 1).min(input.len());
        let line = &input[pos..content_end];
        if line.is_empty() {
            finish(input, &mut headers, current.take(), value_end, max_headers);
            return (headers, next);
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if current.is_some() {
                value_end = content_end;
            }
        } else {
            finish(input, &mut headers, current.take(), value_end, max_headers);
            if let Some(colon) = memchr::memchr(b':', line) {
                let name = trim_ws(&line[..colon]);
                if !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b)) {
                    if let Ok(name) = std::str::from_utf8(name) {
                        current = Some((name, pos + colon + 1));
                        value_end = content_end;
                    }
                }
            }
        }
        pos = next;
        if line_end >= input.len() {
            break;
        }
    }
    finish(input, &mut headers, current.take(), value_end, max_headers);
    (headers, input.len())
}

fn finish<'a>(
    input: &'a [u8],
    headers: &mut Vec<Header<'a>>,
    current: Option<(&'a str, usize)>,
    end: usize,
    max_headers: usize,
) {
    if let Some((name, start)) = current {
        if headers.len() < max_headers {
            headers.push(Header {
                name,
                raw: &input[start..end.max(start)],
            });
        }
    }
}

/// The first field named `name` (case-insensitive).
pub(crate) fn find<'h, 'a>(headers: &'h [Header<'a>], name: &str) -> Option<&'h Header<'a>> {
    headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_unfolds_and_finds_the_body() {
        let input = b"Subject: hello\r\n world\r\nX-A:b\r\n\r\nbody";
        let (h, body) = parse_headers(input, 100);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].name(), "Subject");
        assert_eq!(h[0].raw_value(), b" hello\r\n world");
        assert_eq!(h[0].unfolded(), "hello world");
        assert_eq!(h[1].unfolded(), "b");
        assert_eq!(&input[body..], b"body");
    }

    #[test]
    fn tolerates_bare_lf_junk_and_missing_blank_line() {
        let input =
            b"From sender@example.com Mon Jan 1\nSubject : x\n\tcontinued\njunk line\n\nbody\n";
        let (h, body) = parse_headers(input, 100);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].name(), "Subject");
        assert_eq!(h[0].unfolded(), "x\tcontinued");
        assert_eq!(&input[body..], b"body\n");
        let (h, body) = parse_headers(b"A: 1\r\nB: 2", 100);
        assert_eq!(h.len(), 2);
        assert_eq!(body, 10);
        let (h, body) = parse_headers(b"\r\nbody", 100);
        assert!(h.is_empty());
        assert_eq!(body, 2);
    }

    #[test]
    fn header_count_is_bounded() {
        let input = "X: 1\r\n".repeat(50) + "\r\nbody";
        let (h, body) = parse_headers(input.as_bytes(), 10);
        assert_eq!(h.len(), 10);
        assert_eq!(&input.as_bytes()[body..], b"body");
    }

    #[test]
    fn eight_bit_values_are_read_as_utf8_or_windows_1252() {
        let (h, _) = parse_headers("Subject: 中文\r\n\r\n".as_bytes(), 10);
        assert_eq!(h[0].text(), "中文");
        let (h, _) = parse_headers(b"Subject: caf\xe9\r\n\r\n", 10);
        assert_eq!(h[0].text(), "café");
    }
}
