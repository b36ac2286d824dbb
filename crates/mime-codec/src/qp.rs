//! Quoted-printable (RFC 2045 section 6.7): an encoder that keeps lines within 76 characters and
//! a lenient decoder.

const HEX: &[u8; 16] = b"0123456789ABCDEF";
/// Longest encoded line, not counting CRLF.
const MAX_LINE: usize = 76;

/// Encodes `input` as quoted-printable.
///
/// CRLF pairs become hard line breaks; a bare CR or LF is escaped (`=0D`, `=0A`) so that the
/// decoded bytes are exactly the input. Trailing whitespace before a break is escaped, and long
/// lines get soft breaks so no line exceeds 76 characters.
///
/// ```
/// assert_eq!(mime_codec::qp::encode("café = ok\r\n".as_bytes()), b"caf=C3=A9 =3D ok\r\n");
/// ```
pub fn encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 4);
    let mut col = 0;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'\r' && input.get(i + 1) == Some(&b'\n') {
            out.extend_from_slice(b"\r\n");
            col = 0;
            i += 2;
            continue;
        }
        let at_line_end = match input.get(i + 1) {
            None => true,
            Some(b'\r') => input.get(i + 2) == Some(&b'\n'),
            _ => false,
        };
        let literal = match b {
            b' ' | b'\t' => !at_line_end,
            b'=' => false,
            33..=126 => true,
            _ => false,
        };
        let width = if literal { 1 } else { 3 };
        // Keep room for the soft break '=' unless this is the last character of the line.
        let limit = if at_line_end { MAX_LINE } else { MAX_LINE - 1 };
        if col + width > limit {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        if literal {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
        col += width;
        i += 1;
    }
    out
}

/// How many bytes [`encode`] writes as `=XX` (ignoring whitespace at line ends).
pub(crate) fn escaped_count(input: &[u8]) -> usize {
    input
        .iter()
        .filter(|&&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 33..=60 | 62..=126))
        .count()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable as it arrives in mail. Never fails.
///
/// Soft breaks (`=` at the end of a line, with or without trailing whitespace) join lines; hard
/// breaks become CRLF whether they arrived as CRLF or a bare LF; whitespace at the end of a line is
/// dropped (RFC 2045 rule 3); lowercase hex is accepted; an `=` not followed by two hex digits is
/// kept as it is; 8-bit bytes are kept.
pub fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    // Whether the previous line ended with a hard break still to be written.
    let mut hard_break = false;
    for line in input.split(|&b| b == b'\n') {
        if hard_break {
            out.extend_from_slice(b"\r\n");
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut end = line.len();
        while end > 0 && matches!(line[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        let line = &line[..end];
        let (body, soft) = match line.last() {
            Some(b'=') => (&line[..line.len() - 1], true),
            _ => (line, false),
        };
        hard_break = !soft;
        let mut i = 0;
        while i < body.len() {
            let b = body[i];
            if b == b'=' {
                if let (Some(h), Some(l)) = (
                    body.get(i + 1).and_then(|&c| hex_value(c)),
                    body.get(i + 2).and_then(|&c| hex_value(c)),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(b);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(encode(b"hello"), b"hello");
        assert_eq!(encode(b"a=b"), b"a=3Db");
        assert_eq!(encode(b"trailing \r\nnext"), b"trailing=20\r\nnext");
        assert_eq!(encode(b"tab\t"), b"tab=09");
        assert_eq!(encode(b"bare\nlf"), b"bare=0Alf");
        assert_eq!(encode(b"bare\rcr"), b"bare=0Dcr");
        assert_eq!(decode(b"caf=C3=A9"), "café".as_bytes());
        assert_eq!(decode(b"caf=c3=a9"), "café".as_bytes());
        assert_eq!(decode(b"soft=\r\nbreak"), b"softbreak");
        assert_eq!(decode(b"soft= \r\nbreak"), b"softbreak");
        assert_eq!(decode(b"hard\nbreak"), b"hard\r\nbreak");
        assert_eq!(decode(b"junk=zz=4"), b"junk=zz=4");
        assert_eq!(decode(b"trailing   \r\n"), b"trailing\r\n");
        assert_eq!(decode("raw é".as_bytes()), "raw é".as_bytes());
    }

    #[test]
    fn long_lines_get_soft_breaks_within_76() {
        let input: Vec<u8> = "é".repeat(100).into_bytes();
        let out = encode(&input);
        for line in out.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "{}", line.len());
        }
        assert_eq!(decode(&out), input);
        let input = "x".repeat(500);
        let out = encode(input.as_bytes());
        assert!(out.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        assert_eq!(decode(&out), input.as_bytes());
    }

    #[test]
    fn strict_external_decoder_agrees() {
        let input = b"line one \r\n=sign\tand\ttabs\r\n\xe4\xb8\xad\r\nbare\nlf\rcr end ";
        let ours = encode(input);
        let theirs = quoted_printable::decode(&ours, quoted_printable::ParseMode::Strict).unwrap();
        assert_eq!(theirs, input);
    }
}
