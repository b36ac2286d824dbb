//! The sans-IO IMAP server session.

mod commands;
mod config;
mod fetching;
mod search;
mod sets;

pub use config::ImapConfig;

use crate::store::{Mailstore, MessageMeta};
use crate::wire;
use imap_codec::decode::Decoder;
use imap_codec::fragmentizer::{FragmentInfo, Fragmentizer, LiteralAnnouncement};
use imap_codec::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::LiteralMode;
use imap_codec::{AuthenticateDataCodec, CommandCodec, IdleDoneCodec};
use smtp_proto::{Output, Secret, TlsInfo};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// Something the application must know or decide.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// *Decision*: check these credentials, open the user's store, and
    /// answer with [`accept_login`](ImapSession::accept_login) or
    /// [`reject_login`](ImapSession::reject_login).
    Login(Credentials),
    /// TLS is in force; the session is back in the Not Authenticated state.
    TlsStarted(TlsInfo),
    /// The session is over; `Output::Close` follows.
    Closed(CloseReason),
}

/// A login to check. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (the PLAIN authentication identity).
    pub username: String,
    /// The password.
    pub password: Secret<String>,
    /// A PLAIN authorization identity other than the user, if given.
    pub authzid: Option<String>,
}

/// Why the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// LOGOUT.
    Logout,
    /// The client closed the connection.
    PeerClosed,
    /// Autologout.
    Timeout,
    /// Too many `BAD` responses.
    TooManyErrors,
    /// Too many refused logins.
    TooManyAuthFailures,
    /// Plaintext behind STARTTLS.
    StartTlsViolation,
    /// A line or non-synchronizing literal over its cap.
    TooLong,
    /// The application ended the session.
    Shutdown,
}

/// A verb called when the session was not waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// No login is pending.
    #[error("no login is pending")]
    NotPending,
}

#[derive(Debug)]
enum Mode {
    Command,
    Authenticate { tag: String },
    Idle { tag: String },
    TlsHandshake,
    Closed,
}

#[derive(Debug, Clone)]
pub(crate) struct Selected {
    pub(crate) name: String,
    pub(crate) read_only: bool,
    pub(crate) uid_validity: u32,
    pub(crate) uid_next: u32,
    pub(crate) messages: Vec<MessageMeta>,
}

#[derive(Debug)]
struct Held {
    until: Instant,
    tag: String,
    close: bool,
}

/// A sans-IO IMAP4rev1 server session (RFC 3501, with LITERAL+, SASL-IR,
/// IDLE, MOVE, UIDPLUS and UNSELECT).
///
/// Shaped like smtp-proto's and pop3-proto's sessions:
/// - **inputs**: [`feed`](Self::feed), [`feed_eof`](Self::feed_eof),
///   [`handle_timeout`](Self::handle_timeout),
///   [`tls_established`](Self::tls_established);
/// - **outputs**: [`poll_output`](Self::poll_output),
///   [`poll_timeout`](Self::poll_timeout);
/// - **verbs**: [`accept_login`](Self::accept_login),
///   [`reject_login`](Self::reject_login), [`shutdown`](Self::shutdown).
///
/// Commands are framed and parsed by imap-codec (its `Fragmentizer` splits
/// lines and literals under a size cap; `CommandCodec`,
/// `AuthenticateDataCodec` and `IdleDoneCodec` parse). Mailbox access goes
/// through the [`Mailstore`] handed to each input; the session reads no
/// clock and does no I/O of its own.
///
/// ```
/// use imap_proto::{Event, ImapConfig, ImapSession, MemoryStore, Output};
/// use std::time::Instant;
///
/// let now = Instant::now();
/// let mut store = MemoryStore::default();
/// store.deliver("INBOX", b"Subject: hi\r\n\r\nHello\r\n");
/// let config = ImapConfig::new("imap.example.com").with_plaintext_auth(true);
/// let mut session = ImapSession::new(config, now);
/// let mut sent = Vec::new();
/// session.feed(now, b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1 BODY[]\r\n", &mut store);
/// while let Some(out) = session.poll_output() {
///     match out {
///         Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
///         Output::Event(Event::Login(creds)) => {
///             assert_eq!(creds.username, "alice");
///             session.accept_login().unwrap();
///             session.feed(now, b"", &mut store); // go on with what was pipelined
///         }
///         _ => {}
///     }
/// }
/// let text = String::from_utf8(sent).unwrap();
/// assert!(text.contains("* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[] {22}\r\nSubject: hi\r\n\r\nHello\r\n)"));
/// ```
#[derive(Debug)]
pub struct ImapSession {
    config: Arc<ImapConfig>,
    out: VecDeque<Output<Event>>,
    frag: Fragmentizer,
    /// Where the current (unfinished) line of the current message began.
    line_start: usize,
    mode: Mode,
    pub(crate) selected: Option<Selected>,
    authenticated: Option<String>,
    pending_login: Option<(String, String)>,
    tls: Option<TlsInfo>,
    errors: usize,
    auth_failures: usize,
    deadline: Option<Instant>,
    next_poll: Option<Instant>,
    last_now: Instant,
    held: Option<Held>,
    /// A FETCH being answered a few messages at a time.
    pub(crate) fetch_job: Option<fetching::FetchJob>,
    /// Octets received while a login decision or a refusal delay holds
    /// the input back.
    paused_input: usize,
    /// Input not yet handed to the fragmentizer: it is given a line at a
    /// time, so an APPEND's message literal can bypass it.
    backlog: Vec<u8>,
    backlog_pos: usize,
    /// An APPEND whose message is being passed to the store as it arrives.
    pub(crate) appending: Option<Appending>,
}

/// An APPEND whose message literal goes straight to the store.
#[derive(Debug)]
pub(crate) struct Appending {
    pub(crate) tag: String,
    /// Literal octets still to come.
    left: u64,
    /// The store refused the message (before or while it arrived).
    pub(crate) failed: Option<crate::store::StoreError>,
    /// The command as the fragmentizer is to see it once the literal has
    /// passed: its announcement made an empty non-synchronizing literal.
    rewritten: Vec<u8>,
}

fn frame_cap(config: &ImapConfig) -> u32 {
    let line = u32::try_from(config.max_line).unwrap_or(u32::MAX);
    config.max_literal.saturating_add(line).saturating_add(line)
}

impl ImapSession {
    /// A session for a new connection; the greeting is queued at once. For
    /// implicit TLS (port 993) handshake first and call
    /// [`tls_established`](Self::tls_established) before feeding.
    pub fn new(config: impl Into<Arc<ImapConfig>>, now: Instant) -> ImapSession {
        let config = config.into();
        let mut s = ImapSession {
            frag: Fragmentizer::new(frame_cap(&config)),
            out: VecDeque::new(),
            line_start: 0,
            mode: Mode::Command,
            selected: None,
            authenticated: None,
            pending_login: None,
            tls: None,
            errors: 0,
            auth_failures: 0,
            deadline: now.checked_add(config.idle_timeout),
            next_poll: None,
            last_now: now,
            held: None,
            paused_input: 0,
            fetch_job: None,
            backlog: Vec::new(),
            backlog_pos: 0,
            appending: None,
            config,
        };
        let greeting = format!(
            "* OK [CAPABILITY {}] {} IMAP4rev1 ready\r\n",
            s.capabilities(),
            wire::text(&s.config.hostname)
        );
        s.transmit(greeting.as_bytes());
        s
    }

    // ----- inputs -------------------------------------------------------

    /// Bytes from the client (possibly none: then what is already buffered
    /// is processed, as after [`accept_login`](Self::accept_login)).
    pub fn feed(&mut self, now: Instant, bytes: &[u8], store: &mut dyn Mailstore) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        self.last_now = now;
        if !bytes.is_empty() {
            self.deadline = now.checked_add(self.config.idle_timeout);
            if matches!(self.mode, Mode::TlsHandshake) {
                return self.close(
                    "* BYE plaintext during TLS negotiation\r\n",
                    CloseReason::StartTlsViolation,
                );
            }
            if self.pending_login.is_some() || self.held.is_some() || self.fetch_job.is_some() {
                self.paused_input = self.paused_input.saturating_add(bytes.len());
                if self.paused_input > self.config.max_pending_input {
                    return self.close("* BYE too much input while busy\r\n", CloseReason::TooLong);
                }
            }
            self.backlog.extend_from_slice(bytes);
        }
        self.run(store);
    }

    /// The client closed its side.
    pub fn feed_eof(&mut self, _now: Instant) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        self.mode = Mode::Closed;
        self.out
            .push_back(Output::Event(Event::Closed(CloseReason::PeerClosed)));
        self.out.push_back(Output::Close);
    }

    /// The time from [`poll_timeout`](Self::poll_timeout) has come: sends a
    /// delayed login refusal, checks the folder during IDLE, or logs out.
    pub fn handle_timeout(&mut self, now: Instant, store: &mut dyn Mailstore) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        self.last_now = now;
        if let Some(held) = &self.held {
            if now < held.until {
                return;
            }
            let (tag, close) = (held.tag.clone(), held.close);
            self.held = None;
            self.transmit(
                format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n").as_bytes(),
            );
            if close {
                return self.close(
                    "* BYE too many failed logins\r\n",
                    CloseReason::TooManyAuthFailures,
                );
            }
            return self.run(store);
        }
        if self.fetch_job.is_some() {
            return self.run(store);
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return self.close(
                "* BYE autologout; idle for too long\r\n",
                CloseReason::Timeout,
            );
        }
        if matches!(self.mode, Mode::Idle { .. }) && self.next_poll.is_some_and(|t| now >= t) {
            self.refresh(store, true);
            self.next_poll = now.checked_add(self.config.idle_poll);
        }
    }

    /// TLS is up (after STARTTLS, or at once for implicit TLS).
    pub fn tls_established(&mut self, now: Instant, info: TlsInfo) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        self.last_now = now;
        self.frag = Fragmentizer::new(frame_cap(&self.config));
        self.backlog.clear();
        self.backlog_pos = 0;
        self.line_start = 0;
        self.mode = Mode::Command;
        self.tls = Some(info.clone());
        self.deadline = now.checked_add(self.config.idle_timeout);
        self.out.push_back(Output::Event(Event::TlsStarted(info)));
    }

    // ----- outputs ------------------------------------------------------

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output<Event>> {
        self.out.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout). While a
    /// large FETCH is being answered this is a time already past: write
    /// what [`poll_output`](Self::poll_output) gave, then call
    /// `handle_timeout` for the next messages (so the session never holds
    /// more than about `fetch_batch` octets of unsent answer).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.mode, Mode::Closed) || self.pending_login.is_some() {
            return None;
        }
        if self.fetch_job.is_some() {
            return Some(self.last_now);
        }
        if let Some(held) = &self.held {
            return Some(held.until);
        }
        match (self.deadline, self.next_poll, &self.mode) {
            (Some(d), Some(p), Mode::Idle { .. }) => Some(d.min(p)),
            (d, _, _) => d,
        }
    }

    // ----- verbs --------------------------------------------------------

    /// Accepts the pending login. Call [`feed`](Self::feed) with no bytes
    /// afterwards to go on with pipelined commands.
    pub fn accept_login(&mut self) -> Result<(), UsageError> {
        let (tag, user) = self.pending_login.take().ok_or(UsageError::NotPending)?;
        self.authenticated = Some(user);
        let caps = self.capabilities();
        self.transmit(format!("{tag} OK [CAPABILITY {caps}] Logged in\r\n").as_bytes());
        self.deadline = self.last_now.checked_add(self.config.idle_timeout);
        Ok(())
    }

    /// Refuses the pending login: `NO [AUTHENTICATIONFAILED]`, held back
    /// for `auth_failure_delay`; after `max_auth_failures` the session ends.
    pub fn reject_login(&mut self) -> Result<(), UsageError> {
        let (tag, _) = self.pending_login.take().ok_or(UsageError::NotPending)?;
        self.auth_failures += 1;
        let close = self.auth_failures >= self.config.max_auth_failures;
        let until = self
            .last_now
            .checked_add(self.config.auth_failure_delay)
            .unwrap_or(self.last_now);
        self.held = Some(Held { until, tag, close });
        Ok(())
    }

    /// Refuses the pending login at once, its password unchecked, because
    /// of earlier failures (for this user or from this address, counted
    /// across connections by the caller): `NO [UNAVAILABLE]` (RFC 5530).
    pub fn reject_login_unavailable(&mut self) -> Result<(), UsageError> {
        let (tag, _) = self.pending_login.take().ok_or(UsageError::NotPending)?;
        self.transmit(
            format!("{tag} NO [UNAVAILABLE] Too many failed logins, try again later\r\n")
                .as_bytes(),
        );
        Ok(())
    }

    /// Ends the session: `* BYE`, close.
    pub fn shutdown(&mut self) {
        if !matches!(self.mode, Mode::Closed) {
            self.close("* BYE server shutting down\r\n", CloseReason::Shutdown);
        }
    }

    // ----- getters ------------------------------------------------------

    /// TLS is in force.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
    /// The logged-in user.
    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }
    /// The selected folder.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_ref().map(|s| s.name.as_str())
    }
    /// The selected folder's UIDVALIDITY.
    pub fn uid_validity(&self) -> Option<u32> {
        self.selected.as_ref().map(|s| s.uid_validity)
    }
    /// A login decision is waiting.
    pub fn is_paused(&self) -> bool {
        self.pending_login.is_some()
    }
    /// The session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }
    /// In IDLE (the driver may poll the store at `poll_timeout`).
    pub fn is_idling(&self) -> bool {
        matches!(self.mode, Mode::Idle { .. })
    }

    // ----- internals ----------------------------------------------------

    pub(crate) fn capabilities(&self) -> String {
        let mut caps = String::from("IMAP4rev1 LITERAL+ SASL-IR IDLE MOVE UIDPLUS UNSELECT");
        if self.config.starttls && self.tls.is_none() {
            caps.push_str(" STARTTLS");
        }
        if self.auth_allowed() {
            caps.push_str(" AUTH=PLAIN");
        } else {
            caps.push_str(" LOGINDISABLED");
        }
        caps
    }

    fn auth_allowed(&self) -> bool {
        self.tls.is_some() || self.config.allow_plaintext_auth
    }

    pub(crate) fn transmit(&mut self, bytes: &[u8]) {
        if let Some(Output::Transmit(last)) = self.out.back_mut() {
            last.extend_from_slice(bytes);
        } else {
            self.out.push_back(Output::Transmit(bytes.to_vec()));
        }
    }

    pub(crate) fn tagged(&mut self, tag: &str, status: &str, text: &str) {
        self.transmit(format!("{tag} {status} {}\r\n", wire::text(text)).as_bytes());
    }

    /// A `BAD` the session chose; too many end the session.
    pub(crate) fn bad(&mut self, tag: &str, text: &str) {
        self.tagged(tag, "BAD", text);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.close("* BYE too many errors\r\n", CloseReason::TooManyErrors);
        }
    }

    /// Octets queued and not yet polled.
    pub(crate) fn queued(&self) -> usize {
        self.out
            .iter()
            .map(|o| match o {
                Output::Transmit(b) => b.len(),
                _ => 0,
            })
            .sum()
    }

    pub(crate) fn close(&mut self, bye: &str, reason: CloseReason) {
        self.fetch_job = None;
        self.transmit(bye.as_bytes());
        self.mode = Mode::Closed;
        self.held = None;
        self.pending_login = None;
        self.out.push_back(Output::Event(Event::Closed(reason)));
        self.out.push_back(Output::Close);
    }

    /// Processes input: a line at a time into the fragmentizer, an APPEND's
    /// message straight to the store.
    fn run(&mut self, store: &mut dyn Mailstore) {
        loop {
            self.run_fragments(store);
            if self.pending_login.is_some()
                || self.held.is_some()
                || self.fetch_job.is_some()
                || matches!(self.mode, Mode::Closed | Mode::TlsHandshake)
            {
                return;
            }
            let rest = &self.backlog[self.backlog_pos..];
            if rest.is_empty() {
                self.backlog.clear();
                self.backlog_pos = 0;
                return;
            }
            if let Some(app) = &mut self.appending {
                if app.left > 0 {
                    let n = usize::try_from(app.left)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    if app.failed.is_none() {
                        if let Err(e) = store.append_data(&rest[..n]) {
                            app.failed = Some(e);
                        }
                    }
                    app.left -= n as u64;
                    self.backlog_pos += n;
                    if app.left == 0 {
                        self.frag = Fragmentizer::new(frame_cap(&self.config));
                        self.frag.enqueue_bytes(&app.rewritten);
                        self.line_start = 0;
                    }
                    self.compact_backlog();
                    continue;
                }
            }
            let cut = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            self.frag.enqueue_bytes(&rest[..cut]);
            self.backlog_pos += cut;
            self.compact_backlog();
        }
    }

    fn compact_backlog(&mut self) {
        if self.backlog_pos == self.backlog.len() {
            self.backlog.clear();
            self.backlog_pos = 0;
        } else if self.backlog_pos > 64 * 1024 && self.backlog_pos * 2 > self.backlog.len() {
            self.backlog.drain(..self.backlog_pos);
            self.backlog_pos = 0;
        }
    }

    /// If the literal just announced is an APPEND's message, the APPEND
    /// (tag, folder) and the command rewritten with an empty literal.
    fn append_probe(&self) -> Option<(String, String, Vec<u8>)> {
        let bytes = self.frag.message_bytes();
        let brace = bytes.iter().rposition(|&b| b == b'{')?;
        if brace > 0 && bytes[brace - 1] == b'~' {
            return None;
        }
        let mut probe = bytes[..brace].to_vec();
        probe.extend_from_slice(b"{1+}\r\nX\r\n");
        let Ok((b"", command)) = CommandCodec::new().decode(&probe) else {
            return None;
        };
        let CommandBody::Append { mailbox, .. } = command.body else {
            return None;
        };
        let mut rewritten = bytes[..brace].to_vec();
        rewritten.extend_from_slice(b"{0+}\r\n");
        Some((
            command.tag.as_ref().to_owned(),
            commands::mailbox_name(&mailbox),
            rewritten,
        ))
    }

    /// Hands complete fragments to the command handlers.
    fn run_fragments(&mut self, store: &mut dyn Mailstore) {
        if self.pending_login.is_none() && self.held.is_none() && self.fetch_job.is_none() {
            self.paused_input = 0;
        }
        loop {
            if self.fetch_job.is_some() {
                self.continue_fetch(store);
                if self.fetch_job.is_some() {
                    return;
                }
            }
            if self.pending_login.is_some()
                || self.held.is_some()
                || matches!(self.mode, Mode::Closed | Mode::TlsHandshake)
            {
                return;
            }
            let Some(fragment) = self.frag.progress() else {
                let current = self
                    .frag
                    .message_bytes()
                    .len()
                    .saturating_sub(self.line_start);
                if current > self.config.max_line || self.frag.is_max_message_size_exceeded() {
                    self.close("* BYE line too long\r\n", CloseReason::TooLong);
                }
                return;
            };
            match fragment {
                FragmentInfo::Line {
                    end,
                    announcement: Some(LiteralAnnouncement { mode, length }),
                    ..
                } => {
                    self.line_start = end;
                    if end > self.config.max_line.saturating_mul(4) {
                        self.close("* BYE command too long\r\n", CloseReason::TooLong);
                        return;
                    }
                    if length > self.config.max_literal {
                        if mode == LiteralMode::Sync {
                            let tag = self.frag.decode_tag().map(|t| t.as_ref().to_owned());
                            self.frag.skip_message();
                            self.line_start = 0;
                            let tag = tag.unwrap_or_else(|| "*".to_owned());
                            self.transmit(
                                format!("{tag} NO [TOOBIG] literal too large\r\n").as_bytes(),
                            );
                            continue;
                        }
                        return self.close("* BYE literal too large\r\n", CloseReason::TooLong);
                    }
                    if self.appending.is_none()
                        && self.authenticated.is_some()
                        && matches!(self.mode, Mode::Command)
                        && length > 0
                    {
                        if let Some((tag, folder, rewritten)) = self.append_probe() {
                            let failed = store.append_begin(&folder, u64::from(length)).err();
                            if let (Some(e), LiteralMode::Sync) = (&failed, mode) {
                                // Refused before the client sends it.
                                self.frag.skip_message();
                                self.line_start = 0;
                                let text = commands::append_no(e);
                                self.tagged(&tag, "NO", &text);
                                continue;
                            }
                            if mode == LiteralMode::Sync {
                                self.transmit(b"+ Ready for literal data\r\n");
                            }
                            self.appending = Some(Appending {
                                tag,
                                left: u64::from(length),
                                failed,
                                rewritten,
                            });
                            return;
                        }
                    }
                    if mode == LiteralMode::Sync {
                        self.transmit(b"+ Ready for literal data\r\n");
                    }
                }
                FragmentInfo::Literal { end, .. } => self.line_start = end,
                FragmentInfo::Line {
                    announcement: None, ..
                } => {
                    self.line_start = 0;
                    let message = self.frag.message_bytes().to_vec();
                    let too_long = self.frag.is_max_message_size_exceeded();
                    if too_long {
                        self.close("* BYE command too long\r\n", CloseReason::TooLong);
                        return;
                    }
                    self.message(&message, store);
                }
            }
        }
    }

    fn message(&mut self, bytes: &[u8], store: &mut dyn Mailstore) {
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::Idle { tag } => {
                if IdleDoneCodec::new()
                    .decode(bytes)
                    .is_ok_and(|(rest, _)| rest.is_empty())
                {
                    self.next_poll = None;
                    self.tagged(&tag, "OK", "IDLE terminated");
                } else {
                    self.next_poll = None;
                    self.bad(&tag, "expected DONE");
                }
            }
            Mode::Authenticate { tag } => match AuthenticateDataCodec::new().decode(bytes) {
                Ok((b"", AuthenticateData::Continue(data))) => {
                    self.sasl_plain(&tag, data.declassify())
                }
                Ok((b"", AuthenticateData::Cancel)) => {
                    self.tagged(&tag, "BAD", "AUTHENTICATE cancelled")
                }
                _ => self.bad(&tag, "invalid SASL response"),
            },
            Mode::Command => match CommandCodec::new().decode(bytes) {
                Ok((b"", command)) => {
                    self.command(command, store);
                    if self.appending.take().is_some() {
                        store.append_abort();
                    }
                }
                _ => {
                    if self.appending.take().is_some() {
                        store.append_abort();
                    }
                    let tag = self.frag.decode_tag().map(|t| t.as_ref().to_owned());
                    let tag = tag.unwrap_or_else(|| "*".to_owned());
                    self.bad(&tag, "invalid command or arguments");
                }
            },
            other => self.mode = other,
        }
    }

    fn sasl_plain(&mut self, tag: &str, data: &[u8]) {
        let mut fields = data.split(|&b| b == 0);
        let (Some(authz), Some(user), Some(pass), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return self.bad(tag, "invalid PLAIN response");
        };
        let (Ok(authz), Ok(user), Ok(pass)) = (
            std::str::from_utf8(authz),
            std::str::from_utf8(user),
            std::str::from_utf8(pass),
        ) else {
            return self.bad(tag, "invalid PLAIN response");
        };
        let authzid = (!authz.is_empty() && authz != user).then(|| authz.to_owned());
        self.login(tag, user.to_owned(), pass.to_owned(), authzid);
    }

    fn login(&mut self, tag: &str, username: String, password: String, authzid: Option<String>) {
        self.pending_login = Some((tag.to_owned(), username.clone()));
        self.out.push_back(Output::Event(Event::Login(Credentials {
            username,
            password: Secret::new(password),
            authzid,
        })));
    }

    fn command(&mut self, command: Command<'_>, store: &mut dyn Mailstore) {
        let tag = command.tag.as_ref().to_owned();
        let tag = tag.as_str();
        match command.body {
            CommandBody::Capability => {
                let caps = self.capabilities();
                self.transmit(format!("* CAPABILITY {caps}\r\n").as_bytes());
                self.tagged(tag, "OK", "CAPABILITY completed");
            }
            CommandBody::Noop | CommandBody::Check => {
                if self.selected.is_some() {
                    self.refresh(store, true);
                }
                self.tagged(tag, "OK", "NOOP completed");
            }
            CommandBody::Logout => {
                self.transmit(b"* BYE logging out\r\n");
                self.tagged(tag, "OK", "LOGOUT completed");
                self.mode = Mode::Closed;
                self.out
                    .push_back(Output::Event(Event::Closed(CloseReason::Logout)));
                self.out.push_back(Output::Close);
            }
            CommandBody::StartTLS => {
                if !self.config.starttls || self.tls.is_some() || self.authenticated.is_some() {
                    return self.bad(tag, "STARTTLS not available");
                }
                self.tagged(tag, "OK", "Begin TLS negotiation now");
                // Anything pipelined behind STARTTLS would be read as if it
                // came over TLS (the CVE-2011-0411 class): refuse it.
                if self.frag.progress().is_some()
                    || !self.frag.message_bytes().is_empty()
                    || self.backlog.len() > self.backlog_pos
                {
                    return self.close(
                        "* BYE plaintext after STARTTLS\r\n",
                        CloseReason::StartTlsViolation,
                    );
                }
                self.mode = Mode::TlsHandshake;
                self.out.push_back(Output::StartTls);
            }
            CommandBody::Login { username, password } => {
                if self.authenticated.is_some() {
                    return self.bad(tag, "already logged in");
                }
                if !self.auth_allowed() {
                    return self.tagged(
                        tag,
                        "NO",
                        "[PRIVACYREQUIRED] LOGIN needs TLS; use STARTTLS first",
                    );
                }
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let pass = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.login(tag, user, pass, None);
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                if self.authenticated.is_some() {
                    return self.bad(tag, "already logged in");
                }
                if mechanism != AuthMechanism::Plain {
                    return self.tagged(tag, "NO", "unsupported mechanism");
                }
                if !self.auth_allowed() {
                    return self.tagged(
                        tag,
                        "NO",
                        "[PRIVACYREQUIRED] AUTHENTICATE needs TLS; use STARTTLS first",
                    );
                }
                match initial_response {
                    Some(data) => self.sasl_plain(tag, data.declassify()),
                    None => {
                        self.transmit(b"+ \r\n");
                        self.mode = Mode::Authenticate {
                            tag: tag.to_owned(),
                        };
                    }
                }
            }
            body => {
                if self.authenticated.is_none() {
                    return self.bad(tag, "command not valid before login");
                }
                if let CommandBody::Idle = body {
                    if self.selected.is_some() {
                        self.refresh(store, true);
                    }
                    self.transmit(b"+ idling\r\n");
                    self.mode = Mode::Idle {
                        tag: tag.to_owned(),
                    };
                    self.next_poll = self.last_now.checked_add(self.config.idle_poll);
                    return;
                }
                self.mailbox_command(tag, body, store);
            }
        }
    }
}
