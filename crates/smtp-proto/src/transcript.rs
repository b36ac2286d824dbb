//! Watching the wire: the [`WireObserver`] hook adapters call with every
//! chunk they read and every batch they write, and [`Transcript`], an
//! observer that turns those bytes into a swaks-style dialogue with
//! credentials redacted.
//!
//! ```
//! use smtp_proto::transcript::{Direction, Transcript, WireObserver};
//!
//! let mut lines = Vec::new();
//! let mut transcript = Transcript::client(|line| lines.push(line.to_string()));
//! transcript.observe(Direction::Received, false, b"220 mx.example ESMTP\r\n");
//! transcript.observe(Direction::Sent, false, b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
//! transcript.observe(Direction::Received, false, b"235 2.7.0 ok\r\n");
//! drop(transcript);
//! assert_eq!(lines, [
//!     "<-  220 mx.example ESMTP",
//!     " -> AUTH PLAIN [credentials redacted]",
//!     "<-  235 2.7.0 ok",
//! ]);
//! ```
//!
//! The transcript is bounded: a line longer than [`MAX_SHOWN`] bytes is cut,
//! and a message body is summarised (or, with [`Transcript::with_body`],
//! shown line by line) without being kept.

use std::fmt;

/// Which way bytes went, seen from the side that observes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Written by this side.
    Sent,
    /// Read from the peer.
    Received,
}

/// Sees every byte of a connection's SMTP dialogue (inside TLS: the
/// plaintext), in order. Adapters call it with each chunk they read and each
/// batch they write; `tls` says whether those bytes travelled inside TLS.
pub trait WireObserver: Send {
    /// Called with bytes in the order they crossed the wire.
    fn observe(&mut self, direction: Direction, tls: bool, bytes: &[u8]);
}

impl<F: FnMut(Direction, bool, &[u8]) + Send> WireObserver for F {
    fn observe(&mut self, direction: Direction, tls: bool, bytes: &[u8]) {
        self(direction, tls, bytes)
    }
}

/// Who spoke a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speaker {
    /// The client (a command, or a body or AUTH line).
    Client,
    /// The server (a reply line).
    Server,
    /// The transcript itself (TLS started, body summaries).
    Note,
}

/// One line of a transcript. Its `Display` is swaks' layout: ` -> ` for the
/// client, `<-  ` for the server, `<** ` for a negative reply, and `~>` /
/// `<~` inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscriptLine<'a> {
    /// Who spoke.
    pub speaker: Speaker,
    /// Whether the line travelled inside TLS.
    pub tls: bool,
    /// The line without its line ending, credentials already redacted.
    pub text: &'a str,
}

impl fmt::Display for TranscriptLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match (self.speaker, self.tls) {
            (Speaker::Client, false) => " -> ",
            (Speaker::Client, true) => " ~> ",
            (Speaker::Server, _) if matches!(self.text.as_bytes().first(), Some(b'4' | b'5')) => {
                "<** "
            }
            (Speaker::Server, false) => "<-  ",
            (Speaker::Server, true) => "<~  ",
            (Speaker::Note, _) => "=== ",
        };
        write!(f, "{prefix}{}", self.text)
    }
}

/// The longest line shown whole; longer lines are cut.
pub const MAX_SHOWN: usize = 998;

/// What is written in place of credentials.
const REDACTED: &str = "[credentials redacted]";

/// Where the client's bytes are in the dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Commands,
    /// Inside a DATA body: lines until `.`.
    Body {
        lines: u64,
        bytes: u64,
    },
    /// Inside a BDAT chunk: this many bytes left.
    Chunk {
        left: u64,
        size: u64,
    },
}

/// A [`WireObserver`] that writes a readable, redacted dialogue to a sink,
/// one [`TranscriptLine`] at a time.
///
/// Redacted: the initial response of `AUTH` and every client line while the
/// server answers 334 (passwords, tokens, CRAM-MD5 digests, and the LOGIN
/// user name with them). Summarised: a DATA body or BDAT chunk, as one note
/// with its size, unless [`with_body`](Self::with_body) asks for it.
pub struct Transcript<F: FnMut(TranscriptLine<'_>) + Send> {
    sink: F,
    /// Which side's `Sent` is the client's.
    local_is_client: bool,
    show_body: bool,
    client: Partial,
    server: Partial,
    state: ClientState,
    /// AUTH is under way: client lines are credentials.
    in_auth: bool,
    /// 334 challenges seen that the client has not answered yet: its next
    /// lines are credentials whatever the server said after them (a server
    /// may send `334` and `535` in one segment, before the client answers
    /// the 334).
    owed: u64,
    /// Replies the client still waits for (it may pipeline).
    pending: u64,
    /// Which of those (1 = the next) answers `DATA`: a 354 there starts
    /// the body.
    data_reply: Option<u64>,
    tls: bool,
}

impl<F: FnMut(TranscriptLine<'_>) + Send> fmt::Debug for Transcript<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcript")
            .field("local_is_client", &self.local_is_client)
            .field("state", &self.state)
            .field("in_auth", &self.in_auth)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl<F: FnMut(TranscriptLine<'_>) + Send> Transcript<F> {
    /// A transcript observed by a client: `Sent` is the client speaking.
    pub fn client(sink: F) -> Self {
        Transcript::new(sink, true)
    }

    /// A transcript observed by a server: `Received` is the client speaking.
    pub fn server(sink: F) -> Self {
        Transcript::new(sink, false)
    }

    fn new(sink: F, local_is_client: bool) -> Self {
        Transcript {
            sink,
            local_is_client,
            show_body: false,
            client: Partial::default(),
            server: Partial::default(),
            state: ClientState::Commands,
            in_auth: false,
            owed: 0,
            pending: 0,
            data_reply: None,
            tls: false,
        }
    }

    /// Shows DATA bodies line by line instead of as a size (BDAT chunks,
    /// which may be binary, stay summarised).
    pub fn with_body(mut self, show: bool) -> Self {
        self.show_body = show;
        self
    }

    fn emit(&mut self, speaker: Speaker, text: &str) {
        let tls = self.tls;
        (self.sink)(TranscriptLine { speaker, tls, text });
    }

    fn client_bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if let ClientState::Chunk { left, size } = self.state {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                bytes = bytes.get(take..).unwrap_or_default();
                let left = left - take as u64;
                if left == 0 {
                    self.state = ClientState::Commands;
                    self.emit(Speaker::Note, &format!("BDAT chunk of {size} bytes"));
                } else {
                    self.state = ClientState::Chunk { left, size };
                }
                continue;
            }
            let Some(rest) = self.client.fill(bytes) else {
                break;
            };
            let (line, cut) = self.client.take();
            self.client_line(&line, cut);
            bytes = rest;
        }
    }

    fn client_line(&mut self, raw: &[u8], cut: bool) {
        let len = raw.len() as u64;
        let body = strip_eol(raw);
        match self.state {
            ClientState::Body { lines, bytes } => {
                if body == b"." {
                    self.state = ClientState::Commands;
                    self.pending += 1;
                    if !self.show_body {
                        self.emit(
                            Speaker::Note,
                            &format!("message body of {lines} lines, {bytes} bytes"),
                        );
                    }
                    self.emit(Speaker::Client, ".");
                } else {
                    self.state = ClientState::Body {
                        lines: lines + 1,
                        bytes: bytes + len,
                    };
                    if self.show_body {
                        let text = shown(body, cut);
                        self.emit(Speaker::Client, &text);
                    }
                }
            }
            _ if self.owed > 0 || self.in_auth => {
                self.owed = self.owed.saturating_sub(1);
                self.pending += 1;
                self.emit(Speaker::Client, REDACTED)
            }
            _ => {
                self.pending += 1;
                let text = shown(body, cut);
                let verb = text
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                match verb.as_str() {
                    "AUTH" => {
                        self.in_auth = true;
                        let mut words = text.splitn(3, ' ');
                        let (auth, mechanism) = (words.next(), words.next());
                        let shown = match (auth, mechanism, words.next()) {
                            (Some(a), Some(m), Some(_)) => format!("{a} {m} {REDACTED}"),
                            _ => text.clone(),
                        };
                        self.emit(Speaker::Client, &shown);
                    }
                    "DATA" => {
                        self.data_reply = Some(self.pending);
                        self.emit(Speaker::Client, &text);
                    }
                    "BDAT" => {
                        let size = text.split(' ').nth(1).and_then(|n| n.parse::<u64>().ok());
                        self.emit(Speaker::Client, &text);
                        match size {
                            Some(0) => self.emit(Speaker::Note, "BDAT chunk of 0 bytes"),
                            Some(size) => self.state = ClientState::Chunk { left: size, size },
                            None => {}
                        }
                    }
                    _ => self.emit(Speaker::Client, &text),
                }
            }
        }
    }

    fn server_bytes(&mut self, mut bytes: &[u8]) {
        while let Some(rest) = self.server.fill(bytes) {
            let (line, cut) = self.server.take();
            self.server_line(&line, cut);
            bytes = rest;
        }
    }

    fn server_line(&mut self, raw: &[u8], cut: bool) {
        let text = shown(strip_eol(raw), cut);
        // Only the last line of a reply (`250 ` rather than `250-`) moves
        // the dialogue on.
        let last = text.as_bytes().get(3) != Some(&b'-');
        if last {
            let code = text.get(..3).unwrap_or_default();
            if self.in_auth {
                if code == "334" {
                    self.owed += 1;
                } else {
                    self.in_auth = false;
                }
            }
            self.pending = self.pending.saturating_sub(1);
            match self.data_reply {
                Some(1) => {
                    self.data_reply = None;
                    if code == "354" {
                        self.state = ClientState::Body { lines: 0, bytes: 0 };
                    }
                }
                Some(n) => self.data_reply = Some(n - 1),
                None => {}
            }
        }
        self.emit(Speaker::Server, &text);
    }
}

impl<F: FnMut(TranscriptLine<'_>) + Send> WireObserver for Transcript<F> {
    fn observe(&mut self, direction: Direction, tls: bool, bytes: &[u8]) {
        if tls && !self.tls {
            self.tls = true;
            self.emit(
                Speaker::Note,
                "TLS started: what follows is encrypted on the wire",
            );
        }
        self.tls = tls;
        let from_client = (direction == Direction::Sent) == self.local_is_client;
        if from_client {
            self.client_bytes(bytes);
        } else {
            self.server_bytes(bytes);
        }
    }
}

impl<F: FnMut(TranscriptLine<'_>) + Send> Drop for Transcript<F> {
    /// Shows what was left without a line ending (a peer that stopped
    /// mid-line), so that nothing seen is lost from the transcript.
    fn drop(&mut self) {
        if !self.server.bytes.is_empty() {
            let (line, cut) = self.server.take();
            self.emit(
                Speaker::Server,
                &format!("{} [no line ending]", shown(&line, cut)),
            );
        }
        if !self.client.bytes.is_empty() && !self.in_auth && self.owed == 0 {
            let (line, cut) = self.client.take();
            self.emit(
                Speaker::Client,
                &format!("{} [no line ending]", shown(&line, cut)),
            );
        }
    }
}

/// One direction's line being put together, kept no longer than what is
/// shown.
#[derive(Debug, Default)]
struct Partial {
    bytes: Vec<u8>,
    /// The line overflowed: the rest of it is dropped.
    cut: bool,
}

impl Partial {
    /// Takes `input` up to and including its first LF. When that completes
    /// the line, returns what follows it; `None` when all of `input` went
    /// into the still unfinished line.
    fn fill<'a>(&mut self, input: &'a [u8]) -> Option<&'a [u8]> {
        let end = input.iter().position(|&b| b == b'\n');
        let (line, rest) = match end {
            Some(end) => input.split_at(end + 1),
            None => (input, &[][..]),
        };
        let room = (MAX_SHOWN + 2).saturating_sub(self.bytes.len());
        if line.len() > room {
            self.cut = true;
        }
        self.bytes
            .extend_from_slice(line.get(..room.min(line.len())).unwrap_or_default());
        end.map(|_| rest)
    }

    /// The line so far and whether it was cut; the next starts empty.
    fn take(&mut self) -> (Vec<u8>, bool) {
        (
            std::mem::take(&mut self.bytes),
            std::mem::replace(&mut self.cut, false),
        )
    }
}

/// Text from a peer made safe for a terminal: control characters (C0,
/// DEL, C1 such as U+0085) and the bidirectional overrides and isolates
/// (U+202A-U+202E, U+2066-U+2069), which could move the cursor, recolour
/// or retitle the terminal, or make text read backwards, are written as
/// `\x1b` or `\u{202e}`. A backslash itself is left alone; tabs too.
///
/// ```
/// use smtp_proto::transcript::escape_control;
/// assert_eq!(escape_control("250 ok\x1b[2J\u{202e}"), "250 ok\\x1b[2J\\u{202e}");
/// assert_eq!(escape_control("plain text"), "plain text");
/// ```
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn shown(line: &[u8], cut: bool) -> String {
    let line = line.get(..MAX_SHOWN).unwrap_or(line);
    let mut text = escape_control(&String::from_utf8_lossy(line)).into_owned();
    if cut {
        text.push_str(" [line cut]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(local_is_client: bool, steps: &[(Direction, bool, &[u8])]) -> Vec<String> {
        let mut out = Vec::new();
        {
            let sink = |line: TranscriptLine<'_>| out.push(line.to_string());
            let mut t = if local_is_client {
                Transcript::client(sink)
            } else {
                Transcript::server(sink)
            };
            for (d, tls, bytes) in steps {
                t.observe(*d, *tls, bytes);
            }
        }
        out
    }

    use Direction::{Received as R, Sent as S};

    #[test]
    fn login_credentials_are_redacted_until_the_final_reply() {
        let lines = run(
            true,
            &[
                (R, false, b"220 hi\r\n"),
                (S, false, b"EHLO c\r\n"),
                (R, false, b"250-mx\r\n250 AUTH LOGIN\r\n"),
                (S, false, b"AUTH LOGIN\r\n"),
                (R, false, b"334 VXNlcm5hbWU6\r\n"),
                (S, false, b"dXNlcg==\r\n"),
                (R, false, b"334 UGFzc3dvcmQ6\r\n"),
                (S, false, b"c2VjcmV0\r\n"),
                (R, false, b"535 5.7.8 no\r\n"),
                (S, false, b"QUIT\r\n"),
            ],
        );
        assert_eq!(
            lines,
            [
                "<-  220 hi",
                " -> EHLO c",
                "<-  250-mx",
                "<-  250 AUTH LOGIN",
                " -> AUTH LOGIN",
                "<-  334 VXNlcm5hbWU6",
                " -> [credentials redacted]",
                "<-  334 UGFzc3dvcmQ6",
                " -> [credentials redacted]",
                "<** 535 5.7.8 no",
                " -> QUIT",
            ]
        );
        assert!(!lines.iter().any(|l| l.contains("c2VjcmV0")));
    }

    #[test]
    fn a_challenge_and_a_refusal_in_one_segment_still_redact_the_answer() {
        // The server answers AUTH with 334 and 535 at once; the client,
        // which answers each reply in turn, still sends its answer to the
        // 334. It is a credential whatever came after the challenge.
        for segments in [
            &[&b"334 UGFzc3dvcmQ6\r\n535 5.7.8 no\r\n"[..]][..],
            &[&b"334 UGFzc3dvcmQ6\r\n"[..], &b"535 5.7.8 no\r\n"[..]][..],
        ] {
            let mut steps: Vec<(Direction, bool, &[u8])> = vec![
                (R, false, b"220 hi\r\n"),
                (S, false, b"AUTH LOGIN dXNlcg==\r\n"),
            ];
            steps.extend(segments.iter().map(|s| (R, false, *s)));
            steps.push((S, false, b"c2VjcmV0\r\n"));
            steps.push((S, false, b"QUIT\r\n"));
            let lines = run(true, &steps);
            assert!(!lines.iter().any(|l| l.contains("c2VjcmV0")), "{lines:?}");
            assert_eq!(lines[4], " -> [credentials redacted]", "{lines:?}");
            assert_eq!(lines[5], " -> QUIT", "{lines:?}");
        }
    }

    #[test]
    fn terminal_control_characters_from_the_server_are_escaped() {
        let lines = run(
            true,
            &[(
                R,
                false,
                "220 \x1b]0;pwned\x07 mx\u{202e}gnp.exe\u{85}\r\n".as_bytes(),
            )],
        );
        assert_eq!(
            lines,
            ["<-  220 \\x1b]0;pwned\\x07 mx\\u{202e}gnp.exe\\u{85}"]
        );
        assert!(!lines[0].chars().any(char::is_control));
    }

    #[test]
    fn server_side_sees_the_client_in_received_bytes() {
        let lines = run(
            false,
            &[
                (S, false, b"220 hi\r\n"),
                (R, false, b"AUTH PLAIN AHUAcA==\r\n"),
                (S, false, b"235 ok\r\n"),
            ],
        );
        assert_eq!(
            lines,
            [
                "<-  220 hi",
                " -> AUTH PLAIN [credentials redacted]",
                "<-  235 ok"
            ]
        );
    }

    #[test]
    fn body_is_summarised_and_tls_is_marked_at_any_split() {
        let wire: Vec<(Direction, bool, Vec<u8>)> = vec![
            (S, false, b"STARTTLS\r\n".to_vec()),
            (R, false, b"220 go\r\n".to_vec()),
            (
                S,
                true,
                b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".to_vec(),
            ),
            (R, true, b"250 ok\r\n250 ok\r\n354 go\r\n".to_vec()),
            (
                S,
                true,
                b"Subject: x\r\n\r\nhello\r\n..dot\r\n.\r\n".to_vec(),
            ),
            (R, true, b"250 queued\r\n".to_vec()),
            (S, true, b"BDAT 5 LAST\r\nab\ncdQUIT\r\n".to_vec()),
        ];
        let expected = [
            " -> STARTTLS",
            "<-  220 go",
            "=== TLS started: what follows is encrypted on the wire",
            " ~> MAIL FROM:<a@b>",
            " ~> RCPT TO:<c@d>",
            " ~> DATA",
            "<~  250 ok",
            "<~  250 ok",
            "<~  354 go",
            "=== message body of 4 lines, 28 bytes",
            " ~> .",
            "<~  250 queued",
            " ~> BDAT 5 LAST",
            "=== BDAT chunk of 5 bytes",
            " ~> QUIT",
        ];
        // Whole, and a byte at a time.
        let whole: Vec<_> = wire
            .iter()
            .map(|(d, t, b)| (*d, *t, b.as_slice()))
            .collect();
        assert_eq!(run(true, &whole), expected);
        let bytewise: Vec<_> = wire
            .iter()
            .flat_map(|(d, t, b)| b.chunks(1).map(move |c| (*d, *t, c)))
            .collect();
        assert_eq!(run(true, &bytewise), expected);
    }

    #[test]
    fn long_lines_are_cut_and_memory_stays_bounded() {
        let mut long = vec![b'a'; 100_000];
        long.extend_from_slice(b"\r\n");
        let lines = run(true, &[(R, false, &long), (R, false, b"250 x")]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 4 + MAX_SHOWN + " [line cut]".len());
        assert_eq!(lines[1], "<-  250 x [no line ending]");
    }
}
