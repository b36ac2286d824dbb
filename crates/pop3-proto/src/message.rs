//! A message on its way out in a RETR or TOP response: cut after the headers
//! and `n` body lines for TOP, dot-stuffed, terminated by `.` CRLF.

use memchr::memchr2;
use smtp_proto::DotStuffer;

/// Streams one message into a multi-line response, chunk by chunk, holding
/// no more than a few bytes of state whatever the message's size.
///
/// Line endings follow smtp-proto's [`DotStuffer`]: CRLF, a bare LF and a
/// bare CR each end a line and go out as CRLF. For TOP, the header ends at
/// the first empty line; that line is sent, then `lines` body lines.
///
/// ```
/// use pop3_proto::MessageStream;
///
/// let mut top = MessageStream::new(Some(1));
/// let mut out = Vec::new();
/// top.push(b"Subject: x\r\n\r\n.first\r\nsecond\r\n", &mut out);
/// assert!(top.is_complete());
/// top.finish(&mut out);
/// assert_eq!(out, b"Subject: x\r\n\r\n..first\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct MessageStream {
    stuffer: DotStuffer,
    limit: Option<Limit>,
}

#[derive(Debug, Clone)]
struct Limit {
    in_header: bool,
    at_line_start: bool,
    /// The previous chunk ended with a CR: an LF that starts the next chunk
    /// belongs to that line ending.
    pending_cr: bool,
    body_lines_left: u64,
    done: bool,
}

impl Limit {
    /// How much of `chunk` to send: everything up to and including the line
    /// ending that completes what TOP asked for.
    fn cut(&mut self, chunk: &[u8]) -> usize {
        if self.done || chunk.is_empty() {
            return 0;
        }
        let mut pos = 0;
        if self.pending_cr {
            self.pending_cr = false;
            if chunk.first() == Some(&b'\n') {
                pos = 1;
            }
        }
        while let Some(offset) = memchr2(b'\r', b'\n', chunk.get(pos..).unwrap_or_default()) {
            let at = pos + offset;
            let end = match (chunk.get(at), chunk.get(at + 1)) {
                (Some(b'\r'), Some(b'\n')) => at + 2,
                (Some(b'\r'), None) => {
                    self.pending_cr = true;
                    at + 1
                }
                _ => at + 1,
            };
            // A line ends here; it was empty when nothing came since the last.
            let empty = self.at_line_start && at == pos;
            self.at_line_start = true;
            if self.in_header {
                if empty {
                    self.in_header = false;
                    if self.body_lines_left == 0 {
                        self.done = true;
                    }
                }
            } else {
                self.body_lines_left = self.body_lines_left.saturating_sub(1);
                if self.body_lines_left == 0 {
                    self.done = true;
                }
            }
            if self.done {
                return end;
            }
            pos = end;
        }
        if pos < chunk.len() {
            self.at_line_start = false;
        }
        chunk.len()
    }
}

impl MessageStream {
    /// A stream for RETR (`None`) or for TOP with this many body lines.
    pub fn new(top_lines: Option<u64>) -> MessageStream {
        MessageStream {
            stuffer: DotStuffer::new(),
            limit: top_lines.map(|lines| Limit {
                in_header: true,
                at_line_start: true,
                pending_cr: false,
                body_lines_left: lines,
                done: false,
            }),
        }
    }

    /// Appends the stuffed form of the next piece of the message to `out`
    /// (nothing once TOP has what it asked for).
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let take = match &mut self.limit {
            Some(limit) => limit.cut(chunk),
            None => chunk.len(),
        };
        self.stuffer
            .stuff(chunk.get(..take).unwrap_or_default(), out);
    }

    /// TOP has sent everything it asked for: the rest of the message can be
    /// skipped. Always false for RETR.
    pub fn is_complete(&self) -> bool {
        self.limit.as_ref().is_some_and(|l| l.done)
    }

    /// The stream is for TOP.
    pub(crate) fn is_top(&self) -> bool {
        self.limit.is_some()
    }

    /// Ends the response: completes the last line and writes `.` CRLF.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.stuffer.finish(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(top: Option<u64>, chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = MessageStream::new(top);
        let mut out = Vec::new();
        for chunk in chunks {
            s.push(chunk, &mut out);
        }
        s.finish(&mut out);
        out
    }

    const MSG: &[u8] = b"From: a\r\nSubject: b\r\n\r\nline1\r\n.line2\r\nline3\r\n";

    #[test]
    fn retr_is_stuffed_and_terminated() {
        assert_eq!(
            stream(None, &[MSG]),
            b"From: a\r\nSubject: b\r\n\r\nline1\r\n..line2\r\nline3\r\n.\r\n"
        );
        assert_eq!(stream(None, &[b""]), b".\r\n");
        assert_eq!(stream(None, &[b"no newline"]), b"no newline\r\n.\r\n");
    }

    #[test]
    fn top_known_answers() {
        let cases: &[(u64, &[u8])] = &[
            (0, b"From: a\r\nSubject: b\r\n\r\n.\r\n"),
            (1, b"From: a\r\nSubject: b\r\n\r\nline1\r\n.\r\n"),
            (2, b"From: a\r\nSubject: b\r\n\r\nline1\r\n..line2\r\n.\r\n"),
            (
                3,
                b"From: a\r\nSubject: b\r\n\r\nline1\r\n..line2\r\nline3\r\n.\r\n",
            ),
            (
                99,
                b"From: a\r\nSubject: b\r\n\r\nline1\r\n..line2\r\nline3\r\n.\r\n",
            ),
        ];
        for (n, want) in cases {
            assert_eq!(stream(Some(*n), &[MSG]), *want, "TOP {n}");
        }
    }

    #[test]
    fn top_of_a_message_without_body() {
        assert_eq!(
            stream(Some(0), &[b"Subject: x\r\n"]),
            b"Subject: x\r\n.\r\n"
        );
        assert_eq!(stream(Some(5), &[b"Subject: x"]), b"Subject: x\r\n.\r\n");
    }

    #[test]
    fn top_with_bare_line_endings() {
        assert_eq!(
            stream(Some(1), &[b"S: x\n\na\nb\n"]),
            b"S: x\r\n\r\na\r\n.\r\n"
        );
        assert_eq!(
            stream(Some(1), &[b"S: x\r\ra\rb\r"]),
            b"S: x\r\n\r\na\r\n.\r\n"
        );
    }

    #[test]
    fn any_split_gives_the_same_bytes() {
        for top in [None, Some(0), Some(1), Some(2)] {
            let whole = stream(top, &[MSG]);
            for i in 0..=MSG.len() {
                for j in i..=MSG.len() {
                    let (a, rest) = MSG.split_at(i);
                    let (b, c) = rest.split_at(j - i);
                    assert_eq!(stream(top, &[a, b, c]), whole, "{top:?} {i} {j}");
                }
            }
        }
    }

    #[test]
    fn crlf_split_at_the_cut() {
        assert_eq!(
            stream(Some(0), &[b"S: x\r\n\r", b"\nbody\r\n"]),
            b"S: x\r\n\r\n.\r\n"
        );
    }
}
