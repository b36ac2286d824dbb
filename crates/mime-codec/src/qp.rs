//! Quoted-printable (RFC 2045 section 6.7) over the `quoted_printable` crate.
//!
//! Encoding is the crate's text-mode encoder as it is. Decoding is the crate's robust decoder,
//! after a pre-pass that escapes the bytes it would otherwise discard or misread; see [`decode`].

use std::borrow::Cow;

use quoted_printable::ParseMode;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

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
    quoted_printable::encode(input)
}

/// How many bytes [`encode`] writes as `=XX` (ignoring whitespace at line ends).
pub(crate) fn escaped_count(input: &[u8]) -> usize {
    input
        .iter()
        .filter(|&&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 33..=60 | 62..=126))
        .count()
}

/// Whether the `quoted_printable` decoder keeps byte `b` of its input.
fn crate_keeps(b: u8) -> bool {
    matches!(b, b'\t' | b'\r' | b'\n' | b' '..=b'~')
}

/// Decodes quoted-printable as it arrives in mail. Never fails.
///
/// Soft breaks (`=` at the end of a line, with or without trailing whitespace) join lines; hard
/// breaks become CRLF whether they arrived as CRLF or a bare LF; whitespace at the end of a line is
/// dropped (RFC 2045 rule 3); lowercase hex is accepted; an `=` not followed by two hex digits is
/// kept as it is; 8-bit bytes and control characters are kept.
///
/// ```
/// assert_eq!(mime_codec::qp::decode(b"caf=C3=A9 =3D ok=\r\n!"), "café = ok!".as_bytes());
/// // Raw UTF-8 in a quoted-printable body, as some mailers send it, is kept.
/// assert_eq!(mime_codec::qp::decode("raw é".as_bytes()), "raw é".as_bytes());
/// ```
pub fn decode(input: &[u8]) -> Vec<u8> {
    let input = escape_for_crate(input);
    // The robust mode reports no errors; should a later version start to, keep the input as sent
    // rather than lose the body.
    quoted_printable::decode(&*input, ParseMode::Robust).unwrap_or_else(|_| input.into_owned())
}

/// Rewrites the bytes the crate would lose or misread as `=XX`, so each decodes to itself.
///
/// Two reasons, each with a test below:
/// * `quoted_printable::decode(.., ParseMode::Robust)` silently removes every byte outside TAB,
///   CR, LF and printable ASCII: raw UTF-8 `caf\xC3\xA9` decodes to `caf`. Mailers in the wild
///   label 8-bit text as quoted-printable (raw UTF-8 or Latin-1 next to `=XX` escapes), and
///   dropping those bytes loses text.
/// * On an `=` that starts no valid escape, the crate keeps it together with the next two bytes
///   and skips them, so an escape or soft break right after it is lost: `a==41` decodes to
///   `a==41` instead of `a=A`, and `a==\r\nb` (an unescaped `=` before a soft break) to
///   `a==\r\nb` instead of `a=b`. Unescaped `=` signs turn up in hand-written or
///   badly encoded mail, for example in URLs with query strings.
fn escape_for_crate(input: &[u8]) -> Cow<'_, [u8]> {
    if !(0..input.len()).any(|i| misread(input, i)) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() + input.len() / 2);
    for (i, &b) in input.iter().enumerate() {
        if misread(input, i) {
            out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.push(b);
        }
    }
    Cow::Owned(out)
}

/// Whether the crate would drop or misread byte `i` of `input`: a byte it discards, or an `=`
/// that is neither an escape (two hex digits follow) nor a soft break (only spaces, tabs and one
/// CR before the end of the line).
fn misread(input: &[u8], i: usize) -> bool {
    match input[i] {
        b'=' => {
            let hex = |d: usize| input.get(i + d).is_some_and(u8::is_ascii_hexdigit);
            if hex(1) && hex(2) {
                return false;
            }
            let rest = &input[i + 1..];
            let ws = rest
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            let rest = &rest[ws..];
            let rest = rest.strip_prefix(b"\r").unwrap_or(rest);
            !(rest.is_empty() || rest[0] == b'\n')
        }
        b => !crate_keeps(b),
    }
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
        assert_eq!(decode(b"nul\0 and esc\x1b"), b"nul\0 and esc\x1b");
        assert_eq!(decode(b"eq=\xc3 x=A\xa9"), b"eq=\xc3 x=A\xa9");
    }

    /// Proves [`escape_stray_bytes`] is needed: the crate alone drops raw 8-bit text.
    #[test]
    fn crate_decoder_alone_drops_raw_8bit_bytes() {
        let raw_utf8 = "Grüße aus Köln =E2=80=94 bis bald".as_bytes();
        let crate_only = quoted_printable::decode(raw_utf8, ParseMode::Robust).unwrap();
        assert_eq!(crate_only, "Gre aus Kln — bis bald".as_bytes());
        assert_eq!(decode(raw_utf8), "Grüße aus Köln — bis bald".as_bytes());
        let raw_latin1 = b"Gr\xfc\xdfe";
        assert_eq!(
            quoted_printable::decode(raw_latin1, ParseMode::Robust).unwrap(),
            b"Gre"
        );
        assert_eq!(decode(raw_latin1), raw_latin1);
    }

    /// Proves escaping stray `=` is needed: the crate swallows what follows a broken escape.
    #[test]
    fn crate_decoder_alone_misreads_unescaped_equals() {
        let url = b"see https://example.com/?a=1&b==41=\r\nend";
        assert_eq!(
            quoted_printable::decode(url, ParseMode::Robust).unwrap(),
            b"see https://example.com/?a=1&b==41end"
        );
        assert_eq!(decode(url), b"see https://example.com/?a=1&b=Aend");
        let before_soft_break = b"a==\r\nb";
        assert_eq!(
            quoted_printable::decode(before_soft_break, ParseMode::Robust).unwrap(),
            b"a==\r\nb"
        );
        assert_eq!(decode(before_soft_break), b"a=b");
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
        // Trailing whitespace at the 76th column still ends up escaped.
        let input = format!("{} \r\n{}\t", "x".repeat(75), "y".repeat(75));
        let out = encode(input.as_bytes());
        assert_eq!(
            out,
            format!("{}=\r\n=20\r\n{}=\r\n=09", "x".repeat(75), "y".repeat(75)).as_bytes()
        );
    }

    #[test]
    fn strict_external_decoder_agrees() {
        let input = b"line one \r\n=sign\tand\ttabs\r\n\xe4\xb8\xad\r\nbare\nlf\rcr end ";
        let ours = encode(input);
        let theirs = quoted_printable::decode(&ours, quoted_printable::ParseMode::Strict).unwrap();
        assert_eq!(theirs, input);
    }
}

/// The decoder this module had before it used the crate, kept to show the two agree.
#[cfg(test)]
mod previous {
    fn hex_value(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }

    pub(super) fn decode(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
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
}

#[cfg(test)]
mod agreement {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_agrees_with_previous_decoder(
            data in prop::collection::vec(
                prop::sample::select(b"=A3f \t\r\nx\xc3\xa9\x00".to_vec()), 0..60)
        ) {
            prop_assume!(!has_known_divergence(&data));
            prop_assert_eq!(super::decode(&data), super::previous::decode(&data));
        }
    }

    /// The malformed shape where the crate decodes differently; see `divergences`.
    fn has_known_divergence(data: &[u8]) -> bool {
        data.split(|&b| b == b'\n').any(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let end = line
                .iter()
                .rposition(|&b| b != b' ' && b != b'\t')
                .map_or(0, |p| p + 1);
            let line = &line[..end];
            line.ends_with(b"\r")
        })
    }

    /// The one malformed shape the crate decodes differently from our previous decoder; no text
    /// is lost, and QP forbids a bare CR anyway.
    #[test]
    fn divergences() {
        // A bare CR at the end of a line is trimmed as whitespace; before, it was kept.
        assert_eq!(super::decode(b"a\r\r\nb"), b"a\r\nb");
        assert_eq!(super::previous::decode(b"a\r\r\nb"), b"a\r\r\nb");
    }
}
