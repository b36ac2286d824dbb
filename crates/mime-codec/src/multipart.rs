//! Splitting a multipart body at its boundary lines (RFC 2046 section 5.1.1).

/// A multipart body cut into its pieces, all borrowed from the input.
#[derive(Debug)]
pub(crate) struct Split<'a> {
    pub(crate) preamble: &'a [u8],
    pub(crate) parts: Vec<&'a [u8]>,
    pub(crate) epilogue: &'a [u8],
    /// Whether the closing delimiter `--boundary--` was found.
    pub(crate) closed: bool,
    /// Whether the part limit stopped the split early.
    pub(crate) truncated: bool,
}

/// Cuts `body` at lines that hold `--boundary` (or `--boundary--`), optionally followed by
/// whitespace. The line break before a delimiter belongs to it. At most `max_parts` parts are
/// returned; the rest of the body then goes into the last part. Runs in time linear in `body`.
pub(crate) fn split<'a>(body: &'a [u8], boundary: &[u8], max_parts: usize) -> Split<'a> {
    let mut delim = Vec::with_capacity(boundary.len() + 2);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&delim);
    let mut preamble: Option<&'a [u8]> = None;
    let mut parts = Vec::new();
    // Where the content after the previous delimiter line starts.
    let mut content_start = 0;
    let mut search = 0;
    let mut truncated = false;
    while search < body.len() {
        let Some(found) = finder.find(&body[search..]) else {
            break;
        };
        let pos = search + found;
        search = pos + 1;
        if pos > 0 && body[pos - 1] != b'\n' {
            continue;
        }
        let after = pos + delim.len();
        let closing = body[after..].starts_with(b"--");
        let mut i = if closing { after + 2 } else { after };
        while i < body.len() && (body[i] == b' ' || body[i] == b'\t') {
            i += 1;
        }
        let line_end = match body.get(i) {
            None => body.len(),
            Some(b'\n') => i + 1,
            Some(b'\r') if body.get(i + 1) == Some(&b'\n') => i + 2,
            Some(b'\r') => i + 1,
            // `--boundaryX`: a longer boundary, not ours.
            Some(_) => continue,
        };
        // The content ends before the line break that precedes the delimiter.
        let mut end = pos;
        if end > content_start && body[end - 1] == b'\n' {
            end -= 1;
            if end > content_start && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        let end = end.max(content_start);
        match preamble {
            None => preamble = Some(&body[..end]),
            // A delimiter line right after another (not even a line break between) holds no
            // part; Python's `email` reads none, and neither do we. Before the closing
            // delimiter it is kept, so that `--b` `--b--` is still one empty part.
            Some(_) if pos == content_start && !closing => {}
            Some(_) => parts.push(&body[content_start..end]),
        }
        content_start = line_end;
        search = line_end;
        if closing {
            return Split {
                preamble: preamble.unwrap_or_default(),
                parts,
                epilogue: &body[line_end..],
                closed: true,
                truncated: false,
            };
        }
        if parts.len() + 1 >= max_parts {
            truncated = true;
            break;
        }
    }
    match preamble {
        // No delimiter at all: everything is preamble.
        None => Split {
            preamble: body,
            parts,
            epilogue: &[],
            closed: false,
            truncated,
        },
        Some(p) => {
            // A missing closing delimiter: the last part runs to the end, less the line break
            // that would have come before the delimiter (as Python's `email` reads it).
            let mut last = &body[content_start.min(body.len())..];
            if !truncated {
                last = last.strip_suffix(b"\n").unwrap_or(last);
                last = last.strip_suffix(b"\r").unwrap_or(last);
            }
            parts.push(last);
            Split {
                preamble: p,
                parts,
                epilogue: &[],
                closed: false,
                truncated,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preamble_parts_epilogue() {
        let body = b"pre\r\n--b\r\nA: 1\r\n\r\none\r\n--b \r\n\r\ntwo\r\n--b--\r\nepi\r\n";
        let s = split(body, b"b", 100);
        assert_eq!(s.preamble, b"pre");
        assert_eq!(s.parts, [&b"A: 1\r\n\r\none"[..], b"\r\ntwo"]);
        assert_eq!(s.epilogue, b"epi\r\n");
        assert!(s.closed);
    }

    #[test]
    fn missing_close_longer_boundary_and_bare_lf() {
        let body = b"--b\n\none\n--bx\nstill one\n--b\n\ntwo\r\n";
        let s = split(body, b"b", 100);
        assert_eq!(s.preamble, b"");
        assert_eq!(s.parts, [&b"\none\n--bx\nstill one"[..], b"\ntwo"]);
        assert!(!s.closed);
    }

    #[test]
    fn not_at_line_start_is_content() {
        let s = split(b"--b\r\n\r\nx --b y\r\n--b--", b"b", 100);
        assert_eq!(s.parts, [&b"\r\nx --b y"[..]]);
        assert!(s.closed);
    }

    #[test]
    fn empty_parts_and_limits() {
        let s = split(b"--b\r\n--b\r\n--b--", b"b", 100);
        assert_eq!(s.parts, [&b""[..]]);
        let s = split(b"--b\r\n\r\n--b\r\n--b\r\nx\r\n--b--", b"b", 100);
        assert_eq!(s.parts, [&b""[..], b"x"]);
        let s = split(b"--b\r\n1\r\n--b\r\n2\r\n--b\r\n3\r\n--b--", b"b", 2);
        assert_eq!(s.parts.len(), 2);
        let s = split(b"no delimiters", b"b", 10);
        assert_eq!(s.preamble, b"no delimiters");
        assert!(s.parts.is_empty());
    }
}
