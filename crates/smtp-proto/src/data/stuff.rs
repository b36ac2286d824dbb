//! Sender side of DATA: line-ending repair and dot-stuffing (RFC 5321 §4.5.2).

use memchr::memchr2;

/// Streaming dot-stuffer for the sending side of DATA.
///
/// Feeds a message body of any size in chunks of any size. The output puts
/// every line ending in CRLF form (a bare CR or bare LF becomes CRLF, so the
/// peer can never see a line ending we did not mean) and doubles a `.` at the
/// start of a line. [`DotStuffer::finish`] writes the terminator.
///
/// ```
/// use smtp_proto::data::DotStuffer;
///
/// let mut stuffer = DotStuffer::new();
/// let mut out = Vec::new();
/// stuffer.stuff(b"Hi\n.hidden\r", &mut out);
/// stuffer.stuff(b"\nbye", &mut out);
/// stuffer.finish(&mut out);
/// assert_eq!(out, b"Hi\r\n..hidden\r\nbye\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DotStuffer {
    /// The next byte begins a line (the stream begins at a line start).
    at_line_start: bool,
    /// The previous chunk ended with a CR whose line ending is not written yet:
    /// whether it is a CRLF or a bare CR depends on the next byte.
    pending_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer::new()
    }
}

impl DotStuffer {
    /// A stuffer at the start of a body.
    pub fn new() -> Self {
        DotStuffer {
            at_line_start: true,
            pending_cr: false,
        }
    }

    /// Appends the stuffed form of `chunk` to `out`.
    ///
    /// Bare CR and bare LF become CRLF; a CR at the end of a chunk waits for
    /// the next chunk (or [`finish`](Self::finish)) to decide. A `.` at the
    /// start of a line is doubled. Runs of ordinary text are copied whole.
    pub fn stuff(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let mut rest = chunk;
        if self.pending_cr {
            let Some(&first) = rest.first() else {
                return;
            };
            self.pending_cr = false;
            out.extend_from_slice(b"\r\n");
            self.at_line_start = true;
            if first == b'\n' {
                rest = rest.get(1..).unwrap_or_default();
            }
        }
        // rest[run_start..pos] is copied verbatim when a change is needed or
        // at the end, so well-formed text goes out in one copy.
        let mut run_start = 0;
        let mut pos = 0;
        loop {
            if self.at_line_start {
                match rest.get(pos) {
                    None => break,
                    Some(b'.') => {
                        copy(out, rest, run_start, pos);
                        out.push(b'.');
                        // The original dot starts the next run.
                        run_start = pos;
                    }
                    Some(_) => {}
                }
                self.at_line_start = false;
            }
            let unscanned = rest.get(pos..).unwrap_or_default();
            let Some(offset) = memchr2(b'\r', b'\n', unscanned) else {
                pos = rest.len();
                break;
            };
            let at = pos + offset;
            match (rest.get(at), rest.get(at + 1)) {
                (Some(b'\r'), Some(b'\n')) => pos = at + 2,
                (Some(b'\r'), None) => {
                    copy(out, rest, run_start, at);
                    self.pending_cr = true;
                    return;
                }
                // A bare CR or bare LF: write CRLF in its place.
                _ => {
                    copy(out, rest, run_start, at);
                    out.extend_from_slice(b"\r\n");
                    pos = at + 1;
                    run_start = pos;
                }
            }
            self.at_line_start = true;
        }
        copy(out, rest, run_start, pos);
    }

    /// Ends the body and resets the stuffer for the next one.
    ///
    /// Completes a pending CR, adds CRLF if the body did not end with a line
    /// ending, then writes `.` CRLF. Since DATA content starts at a line start,
    /// the stream sent after the 354 reply always ends with CRLF `.` CRLF; an
    /// empty body is just `.` CRLF.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        *self = DotStuffer::new();
    }
}

/// Stuffs a whole body in one call, terminator included.
///
/// ```
/// use smtp_proto::data::dot_stuff;
///
/// assert_eq!(dot_stuff(b"a\r\n.\r\nb"), b"a\r\n..\r\nb\r\n.\r\n");
/// assert_eq!(dot_stuff(b""), b".\r\n");
/// ```
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    // Room for the terminator and a few repairs without regrowing.
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 8);
    let mut stuffer = DotStuffer::new();
    stuffer.stuff(body, &mut out);
    stuffer.finish(&mut out);
    out
}

/// Appends `bytes[from..to]` to `out` (nothing if the range is empty).
fn copy(out: &mut Vec<u8>, bytes: &[u8], from: usize, to: usize) {
    out.extend_from_slice(bytes.get(from..to).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed_in(chunks: &[&[u8]]) -> Vec<u8> {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        for chunk in chunks {
            stuffer.stuff(chunk, &mut out);
        }
        stuffer.finish(&mut out);
        out
    }

    #[test]
    fn known_answers() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"..x\r\n", b"...x\r\n.\r\n"),
            (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
            (b"a.b\r\n", b"a.b\r\n.\r\n"),
            (b"a\n.\n", b"a\r\n..\r\n.\r\n"),
            (b"a\r.\r", b"a\r\n..\r\n.\r\n"),
            (b"\r", b"\r\n.\r\n"),
            (b"\n", b"\r\n.\r\n"),
            (b"\r\r\n", b"\r\n\r\n.\r\n"),
            (b"\n\r", b"\r\n\r\n.\r\n"),
            (b"\r\n\r\n", b"\r\n\r\n.\r\n"),
        ];
        for (body, want) in cases {
            assert_eq!(
                dot_stuff(body),
                *want,
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn cr_at_chunk_end_waits() {
        assert_eq!(stuffed_in(&[b"a\r", b"\n.b"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(stuffed_in(&[b"a\r", b"b"]), b"a\r\nb\r\n.\r\n");
        assert_eq!(stuffed_in(&[b"a\r", b"", b"\r", b"\n"]), b"a\r\n\r\n.\r\n");
        assert_eq!(stuffed_in(&[b"a\r"]), b"a\r\n.\r\n");
    }

    #[test]
    fn line_start_survives_chunk_boundaries() {
        assert_eq!(stuffed_in(&[b"a\r\n", b".b"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(stuffed_in(&[b"a\n", b"", b"."]), b"a\r\n..\r\n.\r\n");
        assert_eq!(stuffed_in(&[b".", b"."]), b"...\r\n.\r\n");
    }

    #[test]
    fn finish_resets() {
        let mut stuffer = DotStuffer::new();
        let mut out = Vec::new();
        stuffer.stuff(b"x\r", &mut out);
        stuffer.finish(&mut out);
        out.clear();
        stuffer.stuff(b".y", &mut out);
        stuffer.finish(&mut out);
        assert_eq!(out, b"..y\r\n.\r\n");
    }
}
