//! BDAT chunk framing (RFC 3030 CHUNKING): a counted run of octets, no
//! stuffing and no terminator.

/// The receiving side of one BDAT chunk: exactly `size` octets follow the
/// command line, taken as they arrive.
///
/// ```
/// use smtp_proto::data::BdatChunk;
///
/// let mut chunk = BdatChunk::new(5, true);
/// assert_eq!(chunk.take(b"hel"), b"hel");
/// assert_eq!(chunk.take(b"loQUIT\r\n"), b"lo"); // "QUIT\r\n" is the next command
/// assert!(chunk.is_complete() && chunk.is_last());
/// ```
#[derive(Debug, Clone)]
pub struct BdatChunk {
    remaining: u64,
    last: bool,
}

impl BdatChunk {
    /// A chunk of `size` octets; `last` when the command carried `LAST`.
    pub fn new(size: u64, last: bool) -> Self {
        BdatChunk {
            remaining: size,
            last,
        }
    }

    /// Takes up to the remaining octets from `input` and returns them, a
    /// prefix of `input`. The bytes after it belong to the next command.
    pub fn take<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let wanted = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        let taken = input.get(..wanted).unwrap_or(input);
        let taken_len = u64::try_from(taken.len()).unwrap_or(u64::MAX);
        self.remaining = self.remaining.saturating_sub(taken_len);
        taken
    }

    /// Octets still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whether every octet of the chunk has been taken.
    pub fn is_complete(&self) -> bool {
        self.remaining == 0
    }

    /// Whether this is the last chunk of the message (`BDAT n LAST`).
    pub fn is_last(&self) -> bool {
        self.last
    }
}

/// Writes `BDAT <len>[ LAST]` CRLF followed by `chunk`, unmodified.
///
/// ```
/// use smtp_proto::data::write_bdat;
///
/// let mut out = Vec::new();
/// write_bdat(b"a.\r\n", true, &mut out);
/// assert_eq!(out, b"BDAT 4 LAST\r\na.\r\n");
/// ```
pub fn write_bdat(chunk: &[u8], last: bool, out: &mut Vec<u8>) {
    out.reserve(chunk.len() + 32);
    out.extend_from_slice(b"BDAT ");
    crate::types::write_decimal(chunk.len() as u64, out);
    if last {
        out.extend_from_slice(b" LAST");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(chunk);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_exactly_the_size() {
        let mut chunk = BdatChunk::new(4, false);
        assert_eq!(chunk.take(b""), b"");
        assert_eq!(chunk.take(b"ab"), b"ab");
        assert_eq!(chunk.remaining(), 2);
        assert!(!chunk.is_complete());
        assert_eq!(chunk.take(b"\r\n.\r\n"), b"\r\n");
        assert!(chunk.is_complete());
        assert_eq!(chunk.take(b"more"), b"");
        assert!(!chunk.is_last());
    }

    #[test]
    fn empty_last_chunk() {
        let mut chunk = BdatChunk::new(0, true);
        assert!(chunk.is_complete());
        assert_eq!(chunk.take(b"QUIT\r\n"), b"");
        let mut out = Vec::new();
        write_bdat(b"", true, &mut out);
        assert_eq!(out, b"BDAT 0 LAST\r\n");
    }

    #[test]
    fn huge_size_takes_everything_offered() {
        let mut chunk = BdatChunk::new(u64::MAX, false);
        assert_eq!(chunk.take(b"abc"), b"abc");
        assert_eq!(chunk.remaining(), u64::MAX - 3);
    }

    #[test]
    fn writes_command_and_chunk() {
        let mut out = Vec::new();
        write_bdat(b"Subject: x\r\n", false, &mut out);
        assert_eq!(out, b"BDAT 12\r\nSubject: x\r\n");
    }
}
