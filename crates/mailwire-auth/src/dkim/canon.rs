//! Canonicalization (RFC 6376 §3.4): how headers and body are normalized before hashing.

/// One of the two canonicalization algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Canonicalization {
    /// Bytes as they are (only trailing empty body lines are dropped).
    Simple,
    /// Tolerates whitespace changes and header refolding.
    Relaxed,
}

impl Canonicalization {
    /// The name used in the `c=` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Canonicalization::Simple => "simple",
            Canonicalization::Relaxed => "relaxed",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "simple" => Some(Canonicalization::Simple),
            "relaxed" => Some(Canonicalization::Relaxed),
            _ => None,
        }
    }
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Canonicalizes one header field. `raw` is the whole field as it appears in the message:
/// name, colon, value and folding, with or without its final CRLF. Simple output is the field
/// with exactly one final CRLF; relaxed output is `lowercase-name:unfolded value` with
/// whitespace runs reduced to one space and trimmed at both ends, plus CRLF.
pub fn canonicalize_header(canon: Canonicalization, raw: &[u8], out: &mut Vec<u8>) {
    let field = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    match canon {
        Canonicalization::Simple => out.extend_from_slice(field),
        Canonicalization::Relaxed => {
            let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
            let name = &field[..colon];
            let name_end = name.iter().rposition(|&b| !is_wsp(b)).map_or(0, |i| i + 1);
            out.extend(name[..name_end].iter().map(u8::to_ascii_lowercase));
            out.push(b':');
            let value = field.get(colon + 1..).unwrap_or(&[]);
            let mut pending_space = false;
            let mut written = false;
            for &b in value {
                match b {
                    b'\r' | b'\n' => {}
                    b' ' | b'\t' => pending_space = true,
                    _ => {
                        if pending_space && written {
                            out.push(b' ');
                        }
                        pending_space = false;
                        written = true;
                        out.push(b);
                    }
                }
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Something the canonical body is written into (a hash, or a `Vec` in tests).
pub trait BodySink {
    /// Takes the next canonical bytes.
    fn update(&mut self, bytes: &[u8]);
}

impl BodySink for Vec<u8> {
    fn update(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl BodySink for sha2::Sha256 {
    fn update(&mut self, bytes: &[u8]) {
        sha2::Digest::update(self, bytes);
    }
}

const FLUSH_AT: usize = 8 * 1024;

/// Canonicalizes a body given in chunks of any size, holding back only the empty lines that
/// may turn out to be trailing (counted, not stored) and one buffer of output.
///
/// A line ends at LF, with or without a CR before it; a lone CR is data. A body whose last line
/// has no line ending gets one. `limit` (a verifier's `l=`) stops output after that many bytes.
#[derive(Debug)]
pub struct BodyCanonicalizer<S> {
    canon: Canonicalization,
    sink: S,
    buf: Vec<u8>,
    pending_cr: bool,
    pending_space: bool,
    pending_crlfs: u64,
    line_has_content: bool,
    any_content: bool,
    limit: Option<u64>,
    written: u64,
}

impl<S: BodySink> BodyCanonicalizer<S> {
    /// Starts an empty body.
    pub fn new(canon: Canonicalization, sink: S) -> Self {
        BodyCanonicalizer {
            canon,
            sink,
            buf: Vec::with_capacity(FLUSH_AT + 64),
            pending_cr: false,
            pending_space: false,
            pending_crlfs: 0,
            line_has_content: false,
            any_content: false,
            limit: None,
            written: 0,
        }
    }

    /// Stops after `limit` canonical bytes (the `l=` tag of a signature being verified).
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }

    fn content(&mut self, b: u8) {
        for _ in 0..self.pending_crlfs {
            self.buf.extend_from_slice(b"\r\n");
            if self.buf.len() >= FLUSH_AT {
                self.flush();
            }
        }
        self.pending_crlfs = 0;
        if self.pending_space {
            if self.line_has_content || self.canon == Canonicalization::Relaxed {
                self.buf.push(b' ');
            }
            self.pending_space = false;
        }
        self.buf.push(b);
        self.line_has_content = true;
        self.any_content = true;
        if self.buf.len() >= FLUSH_AT {
            self.flush();
        }
    }

    fn end_line(&mut self) {
        self.pending_space = false;
        self.pending_crlfs += 1;
        self.line_has_content = false;
    }

    fn flush(&mut self) {
        let mut take = self.buf.len();
        if let Some(limit) = self.limit {
            let room = limit.saturating_sub(self.written);
            take = take.min(usize::try_from(room).unwrap_or(usize::MAX));
        }
        if take > 0 {
            self.sink.update(&self.buf[..take]);
            self.written += take as u64;
        }
        self.buf.clear();
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        let relaxed = self.canon == Canonicalization::Relaxed;
        for &b in chunk {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    self.end_line();
                    continue;
                }
                self.content(b'\r');
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => self.end_line(),
                b' ' | b'\t' if relaxed => self.pending_space = true,
                _ => self.content(b),
            }
        }
    }

    /// Ends the body and returns the sink with every canonical byte written to it.
    pub fn finish(mut self) -> S {
        if self.pending_cr {
            self.pending_cr = false;
            self.content(b'\r');
        }
        if self.any_content || self.canon == Canonicalization::Simple {
            // The last non-empty line's CRLF (added if it had none); a simple empty body is CRLF.
            self.buf.extend_from_slice(b"\r\n");
        }
        self.flush();
        self.sink
    }
}

#[cfg(test)]
mod tests {
    use super::Canonicalization::{Relaxed, Simple};
    use super::*;

    fn body(canon: Canonicalization, input: &[u8]) -> Vec<u8> {
        let mut c = BodyCanonicalizer::new(canon, Vec::new());
        c.feed(input);
        c.finish()
    }

    fn header(canon: Canonicalization, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        canonicalize_header(canon, input, &mut out);
        out
    }

    #[test]
    fn rfc6376_section_3_4_6_example() {
        let headers: &[&[u8]] = &[b"A: X\r\n", b"B : Y\t\r\n\tZ  \r\n"];
        let relaxed: Vec<u8> = headers.iter().flat_map(|h| header(Relaxed, h)).collect();
        assert_eq!(relaxed, b"a:X\r\nb:Y Z\r\n");
        let simple: Vec<u8> = headers.iter().flat_map(|h| header(Simple, h)).collect();
        assert_eq!(simple, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
        let input = b" C \r\nD \t E\r\n\r\n\r\n";
        assert_eq!(body(Relaxed, input), b" C\r\nD E\r\n");
        assert_eq!(body(Simple, input), b" C \r\nD \t E\r\n");
    }

    #[test]
    fn table() {
        let cases: &[(&[u8], &[u8], &[u8])] = &[
            // input, simple, relaxed
            (b"", b"\r\n", b""),
            (b"\r\n", b"\r\n", b""),
            (b"\r\n\r\n", b"\r\n", b""),
            (b"  \r\n", b"  \r\n", b""),
            (b"abc", b"abc\r\n", b"abc\r\n"),
            (b"abc \t", b"abc \t\r\n", b"abc\r\n"),
            (b"abc\r\n\r\n\r\n", b"abc\r\n", b"abc\r\n"),
            (b"a\r\n\r\nb\r\n", b"a\r\n\r\nb\r\n", b"a\r\n\r\nb\r\n"),
            (b"a\n\nb", b"a\r\n\r\nb\r\n", b"a\r\n\r\nb\r\n"),
            (b"a\rb\r\n", b"a\rb\r\n", b"a\rb\r\n"),
            (b"a\r", b"a\r\r\n", b"a\r\r\n"),
            (b"\tx  y \r\n \r\n", b"\tx  y \r\n \r\n", b" x y\r\n"),
            (
                "caf\u{e9}\r\n".as_bytes(),
                "caf\u{e9}\r\n".as_bytes(),
                "caf\u{e9}\r\n".as_bytes(),
            ),
        ];
        for (input, simple, relaxed) in cases {
            assert_eq!(body(Simple, input), *simple, "simple {input:?}");
            assert_eq!(body(Relaxed, input), *relaxed, "relaxed {input:?}");
        }
    }

    #[test]
    fn header_table() {
        assert_eq!(
            header(Relaxed, b"SUBJECT :  a \r\n  b\t\r\n"),
            b"subject:a b\r\n"
        );
        assert_eq!(header(Relaxed, b"To:\r\n x@y\r\n"), b"to:x@y\r\n");
        assert_eq!(header(Relaxed, b"X-Empty:\r\n"), b"x-empty:\r\n");
        assert_eq!(header(Simple, b"X-Empty:"), b"X-Empty:\r\n");
    }

    #[test]
    fn limit_truncates() {
        let mut c = BodyCanonicalizer::new(Simple, Vec::new()).with_limit(Some(3));
        c.feed(b"hello\r\n");
        assert_eq!(c.finish(), b"hel");
    }

    proptest::proptest! {
        #[test]
        fn chunking_does_not_change_output(input in proptest::collection::vec(
            proptest::sample::select(vec![b'a', b' ', b'\t', b'\r', b'\n', 0xe9]), 0..200),
            split in proptest::collection::vec(1usize..17, 1..20)) {
            for canon in [Simple, Relaxed] {
                let whole = body(canon, &input);
                let mut c = BodyCanonicalizer::new(canon, Vec::new());
                let mut rest = &input[..];
                let mut i = 0;
                while !rest.is_empty() {
                    let n = split[i % split.len()].min(rest.len());
                    c.feed(&rest[..n]);
                    rest = &rest[n..];
                    i += 1;
                }
                proptest::prop_assert_eq!(c.finish(), whole);
            }
        }
    }
}
