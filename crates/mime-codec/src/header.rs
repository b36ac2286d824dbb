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

/// A header section split from its body.
pub(crate) struct HeaderSection<'a> {
    pub(crate) headers: Vec<Header<'a>>,
    /// Where the body starts.
    pub(crate) body_start: usize,
    /// Lines skipped: a continuation line before the first field, or an mbox `From ` line
    /// after it (one at the start is expected and not counted).
    pub(crate) skipped_lines: usize,
    /// Whether the body started at a line that is not a field, with no empty line before it.
    pub(crate) missing_separator: bool,
    /// Fields dropped beyond the limit.
    pub(crate) dropped: usize,
}

/// Splits the header section from the body. Returns the fields (at most `max_headers`; more are
/// skipped) and the offset where the body starts. Lines may end in CRLF or a bare LF; lines
/// without a colon (an mbox `From ` line, junk) are skipped; a continuation line before any field
/// is skipped; input without an empty line is all headers.
pub(crate) fn parse_headers(input: &[u8], max_headers: usize) -> HeaderSection<'_> {
    let mut section = HeaderSection {
        headers: Vec::new(),
        body_start: input.len(),
        skipped_lines: 0,
        missing_separator: false,
        dropped: 0,
    };
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
            finish(input, &mut section, current.take(), value_end, max_headers);
            section.body_start = next;
            return section;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if current.is_some() {
                value_end = content_end;
            } else {
                section.skipped_lines += 1;
            }
        } else {
            finish(input, &mut section, current.take(), value_end, max_headers);
            let field = memchr::memchr(b':', line).and_then(|colon| {
                let name = trim_ws(&line[..colon]);
                if !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b)) {
                    std::str::from_utf8(name).ok().map(|n| (n, colon))
                } else {
                    None
                }
            });
            match field {
                Some((name, colon)) => {
                    current = Some((name, pos + colon + 1));
                    value_end = content_end;
                }
                // An mbox envelope line: expected first, skipped anywhere.
                None if line.starts_with(b"From ") => {
                    if pos > 0 {
                        section.skipped_lines += 1;
                    }
                }
                // Neither a field nor a continuation: the sender left out the empty line, and
                // the body starts here (as Python's `email` reads it).
                None => {
                    section.missing_separator = true;
                    section.body_start = pos;
                    return section;
                }
            }
        }
        pos = next;
        if line_end >= input.len() {
            break;
        }
    }
    finish(input, &mut section, current.take(), value_end, max_headers);
    section.body_start = input.len();
    section
}

fn finish<'a>(
    input: &'a [u8],
    section: &mut HeaderSection<'a>,
    current: Option<(&'a str, usize)>,
    end: usize,
    max_headers: usize,
) {
    if let Some((name, start)) = current {
        if section.headers.len() < max_headers {
            section.headers.push(Header {
                name,
                raw: &input[start..end.max(start)],
            });
        } else {
            section.dropped += 1;
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
        let HeaderSection {
            headers: h,
            body_start: body,
            ..
        } = parse_headers(input, 100);
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
            b"From sender@example.com Mon Jan 1\nSubject : x\n\tcontinued\nFrom x\n\nbody\n";
        let s = parse_headers(input, 100);
        assert_eq!(s.headers.len(), 1);
        assert_eq!(s.headers[0].name(), "Subject");
        assert_eq!(s.headers[0].unfolded(), "x\tcontinued");
        assert_eq!(&input[s.body_start..], b"body\n");
        // The first mbox line is expected; the second is not.
        assert_eq!(s.skipped_lines, 1);
        assert!(!s.missing_separator);
        // A line that is not a field starts the body.
        let input = b"Subject: x\nthis is body text\nX: y\n\nmore\n";
        let s = parse_headers(input, 100);
        assert_eq!(s.headers.len(), 1);
        assert_eq!(&input[s.body_start..], b"this is body text\nX: y\n\nmore\n");
        assert!(s.missing_separator);
        let s = parse_headers(b" lost continuation\r\nA: 1\r\nB: 2", 100);
        assert_eq!(s.headers.len(), 2);
        assert_eq!(s.body_start, 30);
        assert_eq!(s.skipped_lines, 1);
        let s = parse_headers(b"\r\nbody", 100);
        assert!(s.headers.is_empty());
        assert_eq!(s.body_start, 2);
    }

    #[test]
    fn header_count_is_bounded() {
        let input = "X: 1\r\n".repeat(50) + "\r\nbody";
        let s = parse_headers(input.as_bytes(), 10);
        assert_eq!(s.headers.len(), 10);
        assert_eq!(s.dropped, 40);
        assert_eq!(&input.as_bytes()[s.body_start..], b"body");
    }

    #[test]
    fn eight_bit_values_are_read_as_utf8_or_windows_1252() {
        let s = parse_headers("Subject: 中文\r\n\r\n".as_bytes(), 10);
        assert_eq!(s.headers[0].text(), "中文");
        let s = parse_headers(b"Subject: caf\xe9\r\n\r\n", 10);
        assert_eq!(s.headers[0].text(), "café");
    }
}
