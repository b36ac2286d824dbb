//! Splitting a message stream into its header fields and its body.

/// One header field as it appeared, line endings made CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    raw: Vec<u8>,
    colon: usize,
}

impl HeaderField {
    /// Reads one field from its raw lines (name, colon, value, folding); `None` without a colon.
    pub fn from_raw(raw: &[u8]) -> Option<Self> {
        let colon = raw.iter().position(|&b| b == b':')?;
        let mut raw = raw.to_vec();
        if !raw.ends_with(b"\r\n") {
            raw.extend_from_slice(b"\r\n");
        }
        Some(HeaderField { raw, colon })
    }
    /// The field name, as written (whitespace before the colon removed).
    pub fn name(&self) -> &[u8] {
        let name = &self.raw[..self.colon];
        let end = name
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |i| i + 1);
        &name[..end]
    }
    /// Whether the name is `name`, without case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }
    /// The value after the colon, with folding, without the final CRLF.
    pub fn value(&self) -> &[u8] {
        let end = self.raw.len() - 2;
        self.raw.get(self.colon + 1..end).unwrap_or(&[])
    }
    /// The whole field with its final CRLF.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

/// The header section exceeded the splitter's bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the header section is larger than {0} bytes")]
pub struct HeaderTooLarge(pub usize);

/// The default bound on a header section: far above real mail, small enough to hold.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 1024 * 1024;

/// Reads chunks of a message: collects the header section (bounded), then hands body bytes
/// through without holding them.
#[derive(Debug)]
pub(crate) struct MessageSplitter {
    buf: Vec<u8>,
    scanned: usize,
    max: usize,
    headers: Option<Vec<HeaderField>>,
}

impl MessageSplitter {
    pub(crate) fn new(max: usize) -> Self {
        MessageSplitter {
            buf: Vec::new(),
            scanned: 0,
            max,
            headers: None,
        }
    }

    /// Feeds a chunk; body bytes (if the header section has ended) go to `body`.
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        body: &mut dyn FnMut(&[HeaderField], &[u8]),
    ) -> Result<(), HeaderTooLarge> {
        if let Some(headers) = &self.headers {
            body(headers, chunk);
            return Ok(());
        }
        self.buf.extend_from_slice(chunk);
        if let Some(end) = self.find_end() {
            let (head, rest) = self.buf.split_at(end);
            let rest = rest.to_vec();
            let headers = split_fields(head);
            self.buf = Vec::new();
            body(&headers, &rest);
            self.headers = Some(headers);
            return Ok(());
        }
        if self.buf.len() > self.max {
            return Err(HeaderTooLarge(self.max));
        }
        Ok(())
    }

    /// Where the body starts: just past the empty line (or 0 if the message starts with one).
    fn find_end(&mut self) -> Option<usize> {
        let buf = &self.buf;
        if buf.starts_with(b"\r\n") {
            return Some(2);
        }
        if buf.starts_with(b"\n") {
            return Some(1);
        }
        let start = self.scanned.saturating_sub(1);
        let mut i = start;
        while let Some(off) = buf
            .get(i..)
            .and_then(|s| s.iter().position(|&b| b == b'\n'))
        {
            let lf = i + off;
            match (buf.get(lf + 1), buf.get(lf + 2)) {
                (Some(b'\n'), _) => return Some(lf + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(lf + 3),
                (Some(b'\r'), None) | (None, _) => {
                    self.scanned = lf;
                    return None;
                }
                _ => i = lf + 1,
            }
        }
        self.scanned = buf.len();
        None
    }

    /// Ends the message: a message with no empty line is all header.
    pub(crate) fn finish(&mut self) -> Vec<HeaderField> {
        match self.headers.take() {
            Some(h) => h,
            None => split_fields(&std::mem::take(&mut self.buf)),
        }
    }
}

/// Splits a header section into fields, unfolding nothing and making line ends CRLF.
pub fn split_fields(head: &[u8]) -> Vec<HeaderField> {
    let mut fields = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for line in head.split_inclusive(|&b| b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            continue;
        }
        let continuation = content[0] == b' ' || content[0] == b'\t';
        if !continuation && !current.is_empty() {
            fields.extend(HeaderField::from_raw(&current));
            current.clear();
        }
        current.extend_from_slice(content);
        current.extend_from_slice(b"\r\n");
    }
    if !current.is_empty() {
        fields.extend(HeaderField::from_raw(&current));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> (Vec<HeaderField>, Vec<u8>) {
        let mut s = MessageSplitter::new(1000);
        let mut body = Vec::new();
        for c in chunks {
            s.feed(c, &mut |_, b| body.extend_from_slice(b)).unwrap();
        }
        (s.finish(), body)
    }

    #[test]
    fn splits_across_chunks_and_line_ending_styles() {
        let (h, b) = split(&[
            b"From: a\r\n",
            b"Subject: x\r\n  y\r",
            b"\n\r",
            b"\nbody\r\n",
        ]);
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].raw(), b"Subject: x\r\n  y\r\n");
        assert_eq!(h[1].value(), b" x\r\n  y");
        assert_eq!(b, b"body\r\n");
        let (h, b) = split(&[b"From: a\nTo: b\n\nhi\n"]);
        assert_eq!(h[1].raw(), b"To: b\r\n");
        assert_eq!(b, b"hi\n");
        let (h, b) = split(&[b"\r\nbody"]);
        assert!(h.is_empty());
        assert_eq!(b, b"body");
        let (h, b) = split(&[b"From: a\r\n"]);
        assert_eq!(h.len(), 1);
        assert!(b.is_empty());
    }

    #[test]
    fn bounds_the_header_section() {
        let mut s = MessageSplitter::new(10);
        assert_eq!(
            s.feed(b"From: aaaaaaaaaaaaaaaaaa\r\n", &mut |_, _| {}),
            Err(HeaderTooLarge(10))
        );
    }
}
