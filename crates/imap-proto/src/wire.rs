//! Writing IMAP response data: strings as atoms, quoted strings or
//! literals by what they hold, so no value can break the framing. Checked
//! in the tests by parsing the output with imap-codec's response decoder.

/// Writes `s` as a quoted string when it can be one (7-bit, no CR/LF/NUL,
/// at most 1000 octets), else as a literal.
pub(crate) fn string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() <= 1000
        && s.iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80);
    if quotable {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// Writes `{n}` CRLF and the octets.
pub(crate) fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// A string or NIL.
pub(crate) fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A mailbox name: quoted or literal, `INBOX` as is.
pub(crate) fn mailbox(out: &mut Vec<u8>, name: &str) {
    string(out, name.as_bytes());
}

/// Text for a status response: one line of printable ASCII.
pub(crate) fn text(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_control() || !c.is_ascii() {
                '?'
            } else {
                c
            }
        })
        .collect();
    if t.is_empty() {
        "done".to_owned()
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_pick_their_form() {
        let mut out = Vec::new();
        string(&mut out, b"a \"b\" \\c");
        assert_eq!(out, b"\"a \\\"b\\\" \\\\c\"");
        out.clear();
        string(&mut out, b"line\r\nbreak");
        assert_eq!(out, b"{11}\r\nline\r\nbreak");
        out.clear();
        string(&mut out, "caf\u{e9}".as_bytes());
        assert_eq!(out, b"{5}\r\ncaf\xc3\xa9");
        out.clear();
        nstring(&mut out, None);
        assert_eq!(out, b"NIL");
    }

    #[test]
    fn status_text_is_one_safe_line() {
        assert_eq!(text("[x] bad\r\nthing"), "[x] bad??thing");
        assert_eq!(text(""), "done");
    }
}
