//! Resumable line framing: cut a byte stream into CRLF-terminated lines before
//! any grammar sees them.
//!
//! Bytes arrive in arbitrary chunks ([`LineBuffer::push`]) and complete lines
//! come out one at a time ([`LineBuffer::next_line`]). The result never depends
//! on how the stream was chunked: the same bytes give the same sequence of
//! [`LineStatus`] values (apart from [`LineStatus::NeedMore`]) whether they
//! arrive in one piece or one byte at a time.
//!
//! Memory is bounded by the line cap: an over-long line is reported once and
//! then dropped as it arrives, never stored whole.
//!
//! ```
//! use smtp_proto::framing::{LineBuffer, LineConfig, LineStatus};
//!
//! let mut lines = LineBuffer::new(LineConfig::COMMAND);
//! lines.push(b"EHLO client.example\r\nMAIL FROM:<a@");
//! assert_eq!(lines.next_line(), LineStatus::Line(b"EHLO client.example"));
//! assert_eq!(lines.next_line(), LineStatus::NeedMore);
//! lines.push(b"example.org>\r\n");
//! assert_eq!(lines.next_line(), LineStatus::Line(b"MAIL FROM:<a@example.org>"));
//! assert!(lines.is_empty());
//! ```

use memchr::{memchr, memrchr};

/// Line terminator policy and length cap.
///
/// The cap counts the whole line including its terminator: with
/// `max_len: 512` a line of 510 octets plus CRLF is accepted and one of 511
/// octets plus CRLF is [`LineStatus::TooLong`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineConfig {
    /// Longest accepted line in octets, terminator included.
    pub max_len: usize,
    /// Accept a line ended by LF alone (interop leniency). When `false`, such
    /// a line is reported as [`LineStatus::BareLf`] and discarded.
    pub allow_bare_lf: bool,
}

impl LineConfig {
    /// Command lines received by a server: 512 octets (RFC 5321 §4.5.3.1.4),
    /// CRLF only.
    pub const COMMAND: LineConfig = LineConfig {
        max_len: 512,
        allow_bare_lf: false,
    };
    /// Reply lines received by a client: 512 octets (RFC 5321 §4.5.3.1.5),
    /// CRLF only.
    pub const REPLY: LineConfig = LineConfig {
        max_len: 512,
        allow_bare_lf: false,
    };
    /// Text lines: 1000 octets (RFC 5321 §4.5.3.1.6), CRLF only.
    pub const TEXT: LineConfig = LineConfig {
        max_len: 1000,
        allow_bare_lf: false,
    };
}

impl Default for LineConfig {
    /// [`LineConfig::COMMAND`].
    fn default() -> Self {
        LineConfig::COMMAND
    }
}

/// What [`LineBuffer::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LineStatus<'a> {
    /// A complete line, without its CRLF (or LF when bare LF is allowed).
    Line(&'a [u8]),
    /// No complete line is buffered; push more bytes.
    NeedMore,
    /// A line exceeded [`LineConfig::max_len`]. Reported once per such line,
    /// as soon as the cap is passed without a terminator; the rest of the line
    /// is discarded through its LF and framing resumes after it.
    TooLong,
    /// Strict mode only: a line ended by LF without CR. The line is discarded
    /// and framing resumes after it.
    BareLf,
}

/// What happens to pushed bytes before they reach the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// Bytes are stored.
    Nothing,
    /// An over-long line was already reported: drop through its LF.
    ReportedLine,
    /// The buffered tail was cut at the cap and will be reported when
    /// `next_line` reaches it: drop through the LF, then mark the line's end
    /// with a single LF so framing resumes at the same place.
    UnreportedLine,
}

/// A receive buffer that frames lines resumably.
///
/// [`next_line`](Self::next_line) searches each byte for a terminator at most
/// once, however the stream is chunked. See the [module documentation](self)
/// for an example.
#[derive(Debug)]
pub struct LineBuffer {
    config: LineConfig,
    buf: Vec<u8>,
    /// Index of the first byte not yet returned.
    start: usize,
    /// `buf[start..scanned]` is known to hold no LF.
    scanned: usize,
    /// A lower bound (at least `start`) on where the trailing incomplete line
    /// begins; LFs after it may not have been searched for yet.
    tail: usize,
    skip: Skip,
}

impl LineBuffer {
    /// An empty buffer framing with `config`.
    pub fn new(config: LineConfig) -> Self {
        LineBuffer {
            config,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            tail: 0,
            skip: Skip::Nothing,
        }
    }

    /// The configuration this buffer frames with.
    pub fn config(&self) -> LineConfig {
        self.config
    }

    /// Appends received bytes.
    ///
    /// Consumed bytes are compacted away first. While an over-long line is
    /// being discarded its bytes are dropped here, never stored, and an
    /// incomplete trailing line is never kept beyond the cap. Complete lines
    /// that the caller has not drained yet stay buffered.
    pub fn push(&mut self, bytes: &[u8]) {
        self.push_uncapped(bytes);
        self.bound_tail();
    }

    /// Appends received bytes like [`push`](Self::push), but keeps an
    /// incomplete trailing line whole, however long.
    ///
    /// For a server, whose input may hold BDAT chunk octets behind the
    /// command (pipelined, or arriving while a decision is pending): they
    /// are not a line and must not be cut; [`take_buffered`](Self::take_buffered)
    /// hands them to the chunk. The caller bounds memory: an over-long line
    /// is still reported (and dropped) by [`next_line`](Self::next_line), so
    /// only input pushed while the caller does not read lines accumulates.
    ///
    /// ```
    /// use smtp_proto::framing::{LineBuffer, LineConfig, LineStatus};
    ///
    /// let mut lines = LineBuffer::new(LineConfig::COMMAND);
    /// let mut input = b"BDAT 600 LAST\r\n".to_vec();
    /// input.extend_from_slice(&[b'x'; 600]);
    /// lines.push_uncapped(&input);
    /// assert_eq!(lines.next_line(), LineStatus::Line(b"BDAT 600 LAST"));
    /// assert_eq!(lines.take_buffered().len(), 600);
    /// ```
    pub fn push_uncapped(&mut self, bytes: &[u8]) {
        self.compact();
        let mut bytes = bytes;
        if self.skip != Skip::Nothing {
            let Some(lf) = memchr(b'\n', bytes) else {
                return;
            };
            if self.skip == Skip::UnreportedLine {
                self.buf.push(b'\n');
                self.tail = self.buf.len();
            }
            self.skip = Skip::Nothing;
            bytes = bytes.get(lf + 1..).unwrap_or_default();
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Returns the next complete line, or why there is none.
    ///
    /// Bytes already searched for a terminator are never searched again.
    pub fn next_line(&mut self) -> LineStatus<'_> {
        let max_len = self.config.max_len;
        let end = self.buf.len();
        let window_end = self.start.saturating_add(max_len).min(end);
        let searched = self.buf.get(self.scanned..window_end).unwrap_or_default();
        if let Some(offset) = memchr(b'\n', searched) {
            let lf = self.scanned + offset;
            let line_start = self.start;
            self.start = lf + 1;
            self.scanned = self.start;
            self.tail = self.tail.max(self.start);
            let line = self.buf.get(line_start..lf).unwrap_or_default();
            return match line.strip_suffix(b"\r") {
                Some(line) => LineStatus::Line(line),
                None if self.config.allow_bare_lf => LineStatus::Line(line),
                None => LineStatus::BareLf,
            };
        }
        self.scanned = window_end;
        if end.saturating_sub(self.start) < max_len.max(1) {
            return LineStatus::NeedMore;
        }
        // The cap is passed without a terminator. Drop the line through its LF
        // right away, so the buffer never holds a line being discarded.
        let rest = self.buf.get(window_end..).unwrap_or_default();
        match memchr(b'\n', rest) {
            Some(offset) => self.start = window_end + offset + 1,
            None => {
                self.start = end;
                self.skip = Skip::ReportedLine;
            }
        }
        self.scanned = self.start;
        self.tail = self.tail.max(self.start);
        LineStatus::TooLong
    }

    /// Bytes received but not yet returned as lines.
    ///
    /// A STARTTLS command (server) or its 220 reply (client) must be the last
    /// thing received in plaintext: anything still buffered after it is a
    /// protocol violation (CVE-2011-0411 class).
    ///
    /// ```
    /// use smtp_proto::framing::{LineBuffer, LineConfig, LineStatus};
    ///
    /// let mut lines = LineBuffer::new(LineConfig::COMMAND);
    /// lines.push(b"STARTTLS\r\nRCPT TO:<injected@example.org>\r\n");
    /// assert_eq!(lines.next_line(), LineStatus::Line(b"STARTTLS"));
    /// assert!(!lines.buffered().is_empty()); // refuse: plaintext was injected
    /// ```
    pub fn buffered(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Removes and returns the buffered bytes, leaving the buffer empty and
    /// ready to frame a fresh stream.
    ///
    /// Used when switching to DATA mode: bytes pipelined behind the DATA
    /// command belong to the message. A discard in progress is forgotten, so
    /// framing restarts at a line start. A partial last line longer than the
    /// cap was already cut at the cap when it was pushed, so only its first
    /// [`LineConfig::max_len`] octets are returned.
    ///
    /// ```
    /// use smtp_proto::framing::{LineBuffer, LineConfig, LineStatus};
    ///
    /// let mut lines = LineBuffer::new(LineConfig::COMMAND);
    /// lines.push(b"DATA\r\nSubject: early\r\n");
    /// assert_eq!(lines.next_line(), LineStatus::Line(b"DATA"));
    /// // After the 354 reply, the leftover goes to the DATA un-stuffer.
    /// assert_eq!(lines.take_buffered(), b"Subject: early\r\n");
    /// assert!(lines.is_empty());
    /// ```
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let mut taken = std::mem::take(&mut self.buf);
        taken.drain(..self.start.min(taken.len()));
        self.start = 0;
        self.scanned = 0;
        self.tail = 0;
        self.skip = Skip::Nothing;
        taken
    }

    /// Whether no received byte is waiting to be returned.
    pub fn is_empty(&self) -> bool {
        self.start >= self.buf.len()
    }

    /// Whether an over-long line is being dropped as it arrives: the stream
    /// stands inside a line although nothing is buffered.
    ///
    /// ```
    /// use smtp_proto::framing::{LineBuffer, LineConfig, LineStatus};
    ///
    /// let mut lines = LineBuffer::new(LineConfig::COMMAND);
    /// lines.push(&[b'x'; 600]);
    /// assert_eq!(lines.next_line(), LineStatus::TooLong);
    /// assert!(lines.is_empty() && lines.is_discarding());
    /// lines.push(b"x\r\n");
    /// assert!(!lines.is_discarding());
    /// ```
    pub fn is_discarding(&self) -> bool {
        self.skip != Skip::Nothing
    }

    /// Drops the bytes already returned, so the buffer holds only what is left.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        let start = self.start.min(self.buf.len());
        self.buf.drain(..start);
        self.start = 0;
        self.scanned = self.scanned.saturating_sub(start);
        self.tail = self.tail.saturating_sub(start);
    }

    /// Keeps the trailing incomplete line within the cap. Only the bytes after
    /// the last known line start are searched, and only when they could exceed
    /// the cap, so the common small push costs nothing here.
    fn bound_tail(&mut self) {
        let keep = self.config.max_len.max(1);
        if self.buf.len().saturating_sub(self.tail) <= keep {
            return;
        }
        let unknown = self.buf.get(self.tail..).unwrap_or_default();
        if let Some(offset) = memrchr(b'\n', unknown) {
            self.tail += offset + 1;
        }
        if self.buf.len().saturating_sub(self.tail) > keep {
            // The first `keep` bytes hold no LF, which is all next_line needs
            // to report the line as too long.
            self.buf.truncate(self.tail + keep);
            self.scanned = self.scanned.min(self.buf.len());
            self.skip = Skip::UnreportedLine;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(config: LineConfig, chunks: &[&[u8]]) -> Vec<String> {
        let mut buffer = LineBuffer::new(config);
        let mut seen = Vec::new();
        for chunk in chunks {
            buffer.push(chunk);
            loop {
                match buffer.next_line() {
                    LineStatus::NeedMore => break,
                    LineStatus::Line(line) => {
                        seen.push(format!("line {}", String::from_utf8_lossy(line)))
                    }
                    LineStatus::TooLong => seen.push("too long".to_owned()),
                    LineStatus::BareLf => seen.push("bare lf".to_owned()),
                }
            }
        }
        seen
    }

    fn small(max_len: usize) -> LineConfig {
        LineConfig {
            max_len,
            allow_bare_lf: false,
        }
    }

    #[test]
    fn splits_crlf_lines() {
        assert_eq!(
            statuses(LineConfig::COMMAND, &[b"NOOP\r\nRSET\r\n\r\nQU", b"IT\r\n"]),
            ["line NOOP", "line RSET", "line ", "line QUIT"]
        );
    }

    #[test]
    fn crlf_split_across_chunks() {
        assert_eq!(
            statuses(LineConfig::COMMAND, &[b"NOOP\r", b"\n"]),
            ["line NOOP"]
        );
    }

    #[test]
    fn cap_counts_the_crlf() {
        let ok = [vec![b'a'; 510], b"\r\n".to_vec()].concat();
        let long = [vec![b'a'; 511], b"\r\n".to_vec()].concat();
        assert_eq!(statuses(LineConfig::COMMAND, &[&ok]).len(), 1);
        assert!(statuses(LineConfig::COMMAND, &[&ok])[0].starts_with("line a"));
        assert_eq!(statuses(LineConfig::COMMAND, &[&long]), ["too long"]);
    }

    #[test]
    fn too_long_reported_before_its_crlf_arrives() {
        let mut buffer = LineBuffer::new(small(8));
        buffer.push(b"1234567");
        assert_eq!(buffer.next_line(), LineStatus::NeedMore);
        buffer.push(b"\r");
        assert_eq!(buffer.next_line(), LineStatus::TooLong);
        assert_eq!(buffer.next_line(), LineStatus::NeedMore);
        buffer.push(b"\nNOOP\r\n");
        assert_eq!(buffer.next_line(), LineStatus::Line(b"NOOP"));
    }

    #[test]
    fn exactly_at_cap_is_accepted() {
        assert_eq!(statuses(small(8), &[b"123456\r\n"]), ["line 123456"]);
        assert_eq!(statuses(small(8), &[b"123456\r", b"\n"]), ["line 123456"]);
    }

    #[test]
    fn too_long_once_then_resumes() {
        let long = [vec![b'x'; 40], b"\r\nNOOP\r\n".to_vec()].concat();
        assert_eq!(statuses(small(8), &[&long]), ["too long", "line NOOP"]);
        let chunks: Vec<&[u8]> = long.chunks(3).collect();
        assert_eq!(statuses(small(8), &chunks), ["too long", "line NOOP"]);
    }

    #[test]
    fn discarded_bytes_are_not_stored() {
        let mut buffer = LineBuffer::new(small(8));
        buffer.push(b"0123456789");
        assert_eq!(buffer.next_line(), LineStatus::TooLong);
        buffer.push(&[b'y'; 4096]);
        assert!(buffer.is_empty());
        buffer.push(b"zz\r\nok\r\n");
        assert_eq!(buffer.buffered(), b"ok\r\n");
        assert_eq!(buffer.next_line(), LineStatus::Line(b"ok"));
    }

    #[test]
    fn unread_long_tail_is_bounded() {
        let mut buffer = LineBuffer::new(small(8));
        for _ in 0..100 {
            buffer.push(&[b'y'; 100]);
        }
        assert!(buffer.buffered().len() <= 8);
        buffer.push(b"\r\nok\r\n");
        assert_eq!(buffer.next_line(), LineStatus::TooLong);
        assert_eq!(buffer.next_line(), LineStatus::Line(b"ok"));
        assert_eq!(buffer.next_line(), LineStatus::NeedMore);
    }

    #[test]
    fn complete_lines_before_a_long_tail_are_kept() {
        let mut buffer = LineBuffer::new(small(8));
        buffer.push(b"a\r\nb\r\n");
        buffer.push(&[b'y'; 100]);
        assert_eq!(buffer.next_line(), LineStatus::Line(b"a"));
        assert_eq!(buffer.next_line(), LineStatus::Line(b"b"));
        assert_eq!(buffer.next_line(), LineStatus::TooLong);
        assert_eq!(buffer.next_line(), LineStatus::NeedMore);
    }

    #[test]
    fn bare_lf_strict_and_lenient() {
        assert_eq!(
            statuses(LineConfig::COMMAND, &[b"NOOP\nRSET\r\n"]),
            ["bare lf", "line RSET"]
        );
        let lenient = LineConfig {
            allow_bare_lf: true,
            ..LineConfig::COMMAND
        };
        assert_eq!(
            statuses(lenient, &[b"NOOP\nRSET\r\n"]),
            ["line NOOP", "line RSET"]
        );
    }

    #[test]
    fn bare_cr_stays_in_the_line() {
        assert_eq!(
            statuses(LineConfig::COMMAND, &[b"NO\rOP\r\n"]),
            ["line NO\rOP"]
        );
    }

    #[test]
    fn buffered_and_take_buffered() {
        let mut buffer = LineBuffer::new(LineConfig::COMMAND);
        buffer.push(b"STARTTLS\r\nEHLO evil\r\n");
        assert_eq!(buffer.next_line(), LineStatus::Line(b"STARTTLS"));
        assert_eq!(buffer.buffered(), b"EHLO evil\r\n");
        assert_eq!(buffer.take_buffered(), b"EHLO evil\r\n");
        assert!(buffer.is_empty());
        assert_eq!(buffer.next_line(), LineStatus::NeedMore);
    }

    #[test]
    fn take_buffered_forgets_a_discard() {
        let mut buffer = LineBuffer::new(small(4));
        buffer.push(b"xxxxxxxx");
        assert_eq!(buffer.next_line(), LineStatus::TooLong);
        assert!(buffer.take_buffered().is_empty());
        buffer.push(b"ok\r\n");
        assert_eq!(buffer.next_line(), LineStatus::Line(b"ok"));
    }

    #[test]
    fn tiny_caps() {
        assert_eq!(statuses(small(0), &[b"\r\na\n"]), ["too long", "too long"]);
        assert_eq!(statuses(small(1), &[b"\n"]), ["bare lf"]);
        assert_eq!(
            statuses(small(2), &[b"\r\n", b"a\r\n"]),
            ["line ", "too long"]
        );
    }

    #[test]
    fn default_is_command() {
        assert_eq!(LineConfig::default(), LineConfig::COMMAND);
        assert_eq!(LineConfig::TEXT.max_len, 1000);
        assert_eq!(LineConfig::REPLY.max_len, 512);
    }
}
