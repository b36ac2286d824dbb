//! Receiver side of DATA: finding the real end of the message and removing
//! dot-stuffing (RFC 5321 §4.5.2), with a policy for bare line endings.

use memchr::memchr2;

/// What to do with a bare CR or bare LF inside DATA.
///
/// Whatever the policy, a bare line ending never ends DATA and never starts a
/// line for dot-unstuffing: only a real CRLF does. That alone defeats SMTP
/// smuggling (a peer that reads `<LF>.<LF>` as the end would see a second
/// message where we see one); the policy only decides what the content holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLineEndingPolicy {
    /// Record a [`DataViolation`] (the server then refuses the message) and
    /// keep reading to the real end, passing the byte through meanwhile.
    #[default]
    Reject,
    /// Write CRLF in its place (interop leniency for broken senders).
    ConvertToCrlf,
    /// Pass it through unchanged (interop leniency).
    Keep,
}

/// How a [`DotUnstuffer`] treats what it receives.
///
/// The default is strict. Leniency for broken senders is spelled out:
///
/// ```
/// use smtp_proto::data::{BareLineEndingPolicy, DotUnstuffer, UnstufferConfig};
///
/// let lenient = UnstufferConfig {
///     bare_lf: BareLineEndingPolicy::ConvertToCrlf,
///     ..UnstufferConfig::default()
/// };
/// let mut data = DotUnstuffer::new(lenient);
/// let mut content = Vec::new();
/// // The bare LF before the dot neither ends DATA nor starts a line.
/// assert!(!data.feed(b"line one\n.\n", &mut content).done);
/// assert!(data.feed(b"\r\n.\r\n", &mut content).done);
/// assert_eq!(content, b"line one\r\n.\r\n\r\n");
/// assert_eq!(data.violation(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnstufferConfig {
    /// Policy for an LF not preceded by CR.
    pub bare_lf: BareLineEndingPolicy,
    /// Policy for a CR not followed by LF.
    pub bare_cr: BareLineEndingPolicy,
    /// Longest text line in octets, CRLF included and a stuffed leading dot
    /// not counted; `None` for no limit. Bare line endings end a line for
    /// this count.
    pub max_line_len: Option<usize>,
}

impl Default for UnstufferConfig {
    /// Strict: both bare endings rejected, lines of at most 1000 octets
    /// (RFC 5321 §4.5.3.1.6).
    fn default() -> Self {
        UnstufferConfig {
            bare_lf: BareLineEndingPolicy::Reject,
            bare_cr: BareLineEndingPolicy::Reject,
            max_line_len: Some(1000),
        }
    }
}

impl UnstufferConfig {
    /// The same configuration with no line-length limit.
    ///
    /// ```
    /// use smtp_proto::data::UnstufferConfig;
    ///
    /// assert_eq!(UnstufferConfig::default().without_line_limit().max_line_len, None);
    /// ```
    pub fn without_line_limit(self) -> Self {
        UnstufferConfig {
            max_line_len: None,
            ..self
        }
    }
}

/// Why a received DATA body must be refused (the first violation seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataViolation {
    /// An LF not preceded by CR, under [`BareLineEndingPolicy::Reject`].
    #[error("bare LF in message data")]
    BareLf,
    /// A CR not followed by LF, under [`BareLineEndingPolicy::Reject`].
    #[error("bare CR in message data")]
    BareCr,
    /// A line exceeded [`UnstufferConfig::max_line_len`].
    #[error("text line longer than {limit} octets")]
    LineTooLong {
        /// The limit in octets, CRLF included.
        limit: usize,
    },
}

/// The result of one [`DotUnstuffer::feed`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnstuffProgress {
    /// Bytes of the input used. When `done`, the bytes after them belong to
    /// the next command (pipelining) and must go back to line framing.
    pub consumed: usize,
    /// The terminator has been seen.
    pub done: bool,
}

/// Where the un-stuffer stands in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After a real CRLF, or at the start of DATA.
    LineStart,
    /// A `.` at a line start, not yet written: dropped unless it ends DATA.
    Dot,
    /// `.` CR at a line start: LF next ends DATA.
    DotCr,
    /// Inside a line.
    Mid,
    /// A CR ended the previous input; the next byte tells what it is.
    Cr,
    /// The terminator was consumed.
    Done,
}

/// Which bare line ending was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bare {
    Cr,
    Lf,
}

/// Streaming un-stuffer for the receiving side of DATA.
///
/// DATA ends only on CR LF `.` CR LF; the CRLF before the dot belongs to the
/// content, and since DATA begins at a line start, `.` CRLF first ends an
/// empty body. A `.` that starts a line and is followed by anything else is
/// removed. Bare CR and bare LF are handled by the [`UnstufferConfig`]
/// policies and never end DATA.
///
/// ```
/// use smtp_proto::data::{DotUnstuffer, UnstufferConfig};
///
/// let mut data = DotUnstuffer::new(UnstufferConfig::default());
/// let mut content = Vec::new();
/// let wire = b"Subject: hi\r\n\r\n..dots\r\n.\r\nQUIT\r\n";
/// let progress = data.feed(wire, &mut content);
/// assert!(progress.done);
/// assert_eq!(content, b"Subject: hi\r\n\r\n.dots\r\n");
/// assert_eq!(&wire[progress.consumed..], b"QUIT\r\n"); // the next command
/// assert_eq!(data.violation(), None);
/// ```
#[derive(Debug, Clone)]
pub struct DotUnstuffer {
    config: UnstufferConfig,
    state: State,
    /// Content octets of the current line so far (for the line limit).
    line_len: usize,
    violation: Option<DataViolation>,
    content_len: u64,
}

impl DotUnstuffer {
    /// An un-stuffer at the start of DATA content.
    pub fn new(config: UnstufferConfig) -> Self {
        DotUnstuffer {
            config,
            state: State::LineStart,
            line_len: 0,
            violation: None,
            content_len: 0,
        }
    }

    /// Appends the un-stuffed content of `input` to `out`, stopping right
    /// after the terminator.
    ///
    /// Once done, further calls consume nothing. Runs of ordinary text are
    /// found with one vectorised search and copied whole.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> UnstuffProgress {
        let before = out.len();
        let mut pos = 0;
        // input[run_start..pos] is content still to be copied as it is.
        let mut run_start = 0;
        while let Some(&byte) = input.get(pos) {
            match self.state {
                State::Done => break,
                State::LineStart => {
                    if byte == b'.' {
                        copy(out, input, &mut run_start, pos);
                        pos += 1;
                        run_start = pos;
                        self.state = State::Dot;
                    } else {
                        self.state = State::Mid;
                    }
                }
                State::Dot => {
                    if byte == b'\r' {
                        pos += 1;
                        run_start = pos;
                        self.state = State::DotCr;
                    } else {
                        // The stuffed dot is dropped; `byte` starts the text.
                        self.state = State::Mid;
                    }
                }
                State::DotCr => {
                    if byte == b'\n' {
                        pos += 1;
                        run_start = pos;
                        self.state = State::Done;
                    } else {
                        // `.` bare-CR: the dot is dropped, the CR is content.
                        copy(out, input, &mut run_start, pos);
                        self.pending_bare_cr(out);
                    }
                }
                State::Cr => {
                    copy(out, input, &mut run_start, pos);
                    if byte == b'\n' {
                        self.end_line();
                        out.push(b'\r');
                        // The LF stays in the run.
                        pos += 1;
                        self.state = State::LineStart;
                    } else {
                        self.pending_bare_cr(out);
                    }
                }
                State::Mid => {
                    let text = input.get(pos..).unwrap_or_default();
                    let Some(offset) = memchr2(b'\r', b'\n', text) else {
                        self.line_len = self.line_len.saturating_add(text.len());
                        self.check_partial_line();
                        pos = input.len();
                        break;
                    };
                    let at = pos + offset;
                    self.line_len = self.line_len.saturating_add(offset);
                    let after = input.get(at..).unwrap_or_default();
                    let ending = after.get(..2).unwrap_or(after);
                    match ending {
                        b"\r\n" => {
                            self.end_line();
                            pos = at + 2;
                            self.state = State::LineStart;
                        }
                        b"\r" => {
                            // A CR ends the input: keep it back until the next
                            // byte says whether it is half of a CRLF.
                            self.check_partial_line();
                            copy(out, input, &mut run_start, at);
                            pos = at + 1;
                            run_start = pos;
                            self.state = State::Cr;
                        }
                        _ => {
                            let kind = if ending.first() == Some(&b'\n') {
                                Bare::Lf
                            } else {
                                Bare::Cr
                            };
                            self.end_line();
                            if self.bare(kind) == BareLineEndingPolicy::ConvertToCrlf {
                                copy(out, input, &mut run_start, at);
                                out.extend_from_slice(b"\r\n");
                                run_start = at + 1;
                            }
                            pos = at + 1;
                        }
                    }
                }
            }
        }
        copy(out, input, &mut run_start, pos);
        let produced = out.len().saturating_sub(before);
        self.content_len = self
            .content_len
            .saturating_add(u64::try_from(produced).unwrap_or(u64::MAX));
        UnstuffProgress {
            consumed: pos,
            done: self.state == State::Done,
        }
    }

    /// Whether the terminator has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The first policy violation seen, if any.
    ///
    /// The stream is still consumed up to the real terminator, so the session
    /// stays in step with the peer; the server then refuses the message.
    pub fn violation(&self) -> Option<DataViolation> {
        self.violation
    }

    /// Octets of content produced so far, for the SIZE limit.
    pub fn content_len(&self) -> u64 {
        self.content_len
    }

    /// The configuration in force.
    pub fn config(&self) -> UnstufferConfig {
        self.config
    }

    /// Starts over for a new message with the same configuration.
    pub fn reset(&mut self) {
        *self = DotUnstuffer::new(self.config);
    }

    /// A CR held back from earlier input turned out bare: write it per policy.
    /// The byte after it is left for the `Mid` state.
    fn pending_bare_cr(&mut self, out: &mut Vec<u8>) {
        self.end_line();
        if self.bare(Bare::Cr) == BareLineEndingPolicy::ConvertToCrlf {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b'\r');
        }
        self.state = State::Mid;
    }

    /// Records a bare line ending under `Reject` and returns the policy.
    fn bare(&mut self, kind: Bare) -> BareLineEndingPolicy {
        let (policy, violation) = match kind {
            Bare::Cr => (self.config.bare_cr, DataViolation::BareCr),
            Bare::Lf => (self.config.bare_lf, DataViolation::BareLf),
        };
        if policy == BareLineEndingPolicy::Reject {
            self.violate(violation);
        }
        policy
    }

    /// A line ending (real or bare) was met: check the line and start anew.
    fn end_line(&mut self) {
        self.check_line_len();
        self.line_len = 0;
    }

    /// The end of the input came inside a line: report a line already past
    /// the limit now rather than at its end. This finds the same first
    /// violation however the stream is chunked, since a line passes the
    /// limit before anything else can happen in it.
    fn check_partial_line(&mut self) {
        if self.line_len > 0 {
            self.check_line_len();
        }
    }

    /// The line so far plus its CRLF must fit the limit.
    fn check_line_len(&mut self) {
        if let Some(limit) = self.config.max_line_len {
            if self.line_len.saturating_add(2) > limit {
                self.violate(DataViolation::LineTooLong { limit });
            }
        }
    }

    fn violate(&mut self, violation: DataViolation) {
        if self.violation.is_none() {
            self.violation = Some(violation);
        }
    }
}

/// Appends `input[*run_start..to]` to `out` and starts the next run at `to`.
fn copy(out: &mut Vec<u8>, input: &[u8], run_start: &mut usize, to: usize) {
    out.extend_from_slice(input.get(*run_start..to).unwrap_or_default());
    *run_start = to;
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP: UnstufferConfig = UnstufferConfig {
        bare_lf: BareLineEndingPolicy::Keep,
        bare_cr: BareLineEndingPolicy::Keep,
        max_line_len: Some(1000),
    };

    fn unstuff(
        config: UnstufferConfig,
        wire: &[u8],
    ) -> (Vec<u8>, UnstuffProgress, Option<DataViolation>) {
        let mut data = DotUnstuffer::new(config);
        let mut out = Vec::new();
        let progress = data.feed(wire, &mut out);
        assert_eq!(data.content_len(), out.len() as u64);
        (out, progress, data.violation())
    }

    #[test]
    fn empty_body() {
        let (content, progress, violation) = unstuff(UnstufferConfig::default(), b".\r\nQUIT");
        assert!(content.is_empty());
        assert_eq!(
            progress,
            UnstuffProgress {
                consumed: 3,
                done: true
            }
        );
        assert_eq!(violation, None);
    }

    #[test]
    fn known_answers() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"a\r\n.\r\n", b"a\r\n"),
            (b"..\r\n.\r\n", b".\r\n"),
            (b"...x\r\n.\r\n", b"..x\r\n"),
            (b".x\r\n.\r\n", b"x\r\n"),
            (b"a.\r\n.\r\n", b"a.\r\n"),
            (b"\r\n.\r\n", b"\r\n"),
            (b"\r\n\r\n.\r\n", b"\r\n\r\n"),
            (b"a\r\n..\r\n..b\r\n.\r\n", b"a\r\n.\r\n.b\r\n"),
        ];
        for (wire, want) in cases {
            let (content, progress, violation) = unstuff(UnstufferConfig::default(), wire);
            assert_eq!(content, *want, "wire {:?}", String::from_utf8_lossy(wire));
            assert_eq!(progress.consumed, wire.len());
            assert!(progress.done);
            assert_eq!(violation, None);
        }
    }

    #[test]
    fn stops_right_after_the_terminator() {
        let wire = b"a\r\n.\r\nMAIL FROM:<>\r\n";
        let (content, progress, _) = unstuff(UnstufferConfig::default(), wire);
        assert_eq!(content, b"a\r\n");
        assert_eq!(progress.consumed, 6);
        let mut data = DotUnstuffer::new(UnstufferConfig::default());
        let mut out = Vec::new();
        data.feed(wire, &mut out);
        assert_eq!(
            data.feed(b"more", &mut out),
            UnstuffProgress {
                consumed: 0,
                done: true
            }
        );
        assert_eq!(out, b"a\r\n");
    }

    #[test]
    fn terminator_split_everywhere() {
        let wire = b"ab\r\n.\r\n";
        for cut in 0..=wire.len() {
            let mut data = DotUnstuffer::new(UnstufferConfig::default());
            let mut out = Vec::new();
            let first = data.feed(&wire[..cut], &mut out);
            assert_eq!(first.consumed, cut);
            let second = data.feed(&wire[cut..], &mut out);
            assert!(second.done, "cut {cut}");
            assert_eq!(first.consumed + second.consumed, wire.len());
            assert_eq!(out, b"ab\r\n");
        }
    }

    #[test]
    fn bare_lf_policies() {
        let wire = b"a\nb\r\n.\r\n";
        let (content, _, violation) = unstuff(UnstufferConfig::default(), wire);
        assert_eq!(
            (content.as_slice(), violation),
            (&b"a\nb\r\n"[..], Some(DataViolation::BareLf))
        );
        let (content, _, violation) = unstuff(KEEP, wire);
        assert_eq!((content.as_slice(), violation), (&b"a\nb\r\n"[..], None));
        let convert = UnstufferConfig {
            bare_lf: BareLineEndingPolicy::ConvertToCrlf,
            ..KEEP
        };
        let (content, _, violation) = unstuff(convert, wire);
        assert_eq!((content.as_slice(), violation), (&b"a\r\nb\r\n"[..], None));
    }

    #[test]
    fn bare_cr_policies() {
        let wire = b"a\rb\r\n.\r\n";
        let (content, _, violation) = unstuff(UnstufferConfig::default(), wire);
        assert_eq!(
            (content.as_slice(), violation),
            (&b"a\rb\r\n"[..], Some(DataViolation::BareCr))
        );
        let convert = UnstufferConfig {
            bare_cr: BareLineEndingPolicy::ConvertToCrlf,
            ..KEEP
        };
        let (content, _, violation) = unstuff(convert, wire);
        assert_eq!((content.as_slice(), violation), (&b"a\r\nb\r\n"[..], None));
    }

    #[test]
    fn first_violation_wins() {
        let (_, _, violation) = unstuff(UnstufferConfig::default(), b"a\rb\nc\r\n.\r\n");
        assert_eq!(violation, Some(DataViolation::BareCr));
        let (_, _, violation) = unstuff(UnstufferConfig::default(), b"a\nb\rc\r\n.\r\n");
        assert_eq!(violation, Some(DataViolation::BareLf));
    }

    #[test]
    fn line_limit_counts_crlf_but_not_the_stuffed_dot() {
        let limit = UnstufferConfig {
            max_line_len: Some(6),
            ..UnstufferConfig::default()
        };
        let (_, _, violation) = unstuff(limit, b"1234\r\n.\r\n");
        assert_eq!(violation, None);
        let (_, _, violation) = unstuff(limit, b"..234\r\n.\r\n");
        assert_eq!(violation, None);
        let (_, progress, violation) = unstuff(limit, b"12345\r\n.\r\n");
        assert_eq!(violation, Some(DataViolation::LineTooLong { limit: 6 }));
        assert!(progress.done);
        let (_, _, violation) = unstuff(limit.without_line_limit(), b"12345\r\n.\r\n");
        assert_eq!(violation, None);
    }

    #[test]
    fn reset_starts_over() {
        let mut data = DotUnstuffer::new(UnstufferConfig::default());
        let mut out = Vec::new();
        data.feed(b"a\nb\r\n.\r\n", &mut out);
        assert!(data.is_done());
        data.reset();
        assert!(!data.is_done());
        assert_eq!(data.violation(), None);
        assert_eq!(data.content_len(), 0);
        out.clear();
        assert!(data.feed(b".\r\n", &mut out).done);
        assert!(out.is_empty());
    }
}
