//! The server half: [`ServerSession`] greets, reads commands, enforces
//! order and limits, and pauses at every decision the application owns.

mod auth;
mod commands;
mod config;
mod event;
mod replies;
mod timers;
mod transaction;

pub use config::{MinimumRate, ServerConfig, MAX_AUTH_FAILURE_DELAY};
pub use event::{CloseReason, ServerEvent, UsageError};

use super::outbox::Outbox;
use super::{Instant, Output, TlsInfo};
use crate::data::{BdatChunk, DotUnstuffer};
use crate::framing::LineBuffer;
use crate::sasl::SaslServer;
use crate::types::{Capabilities, Extension, ForwardPath, Host, MailParams, Mechanism, Reply};
use auth::Held;
use std::sync::Arc;
use timers::{Expired, Timers};
use transaction::Transaction;

/// A sans-IO SMTP server session (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
/// SMTPUTF8, CHUNKING, DSN, STARTTLS, AUTH).
///
/// Methods come in four kinds, as in every session of this crate:
/// - inputs: [`feed`](Self::feed), [`feed_eof`](Self::feed_eof),
///   [`handle_timeout`](Self::handle_timeout), [`tls_established`](Self::tls_established);
/// - outputs: [`poll_output`](Self::poll_output), [`poll_timeout`](Self::poll_timeout);
/// - verbs from the application, the answers to decision events:
///   [`accept`](Self::accept), [`accept_with`](Self::accept_with),
///   [`reject`](Self::reject), and [`shutdown`](Self::shutdown);
/// - getters: [`capabilities`](Self::capabilities), [`helo`](Self::helo),
///   [`is_tls`](Self::is_tls), [`authenticated`](Self::authenticated),
///   [`protocol_name`](Self::protocol_name), [`auth_failures`](Self::auth_failures),
///   [`buffered_input`](Self::buffered_input), ...
///
/// After each input or verb, drain every output in order, then arm a timer
/// from `poll_timeout`. Verbs take no time argument: they use the time of the
/// latest input, and the session asks for an immediate `handle_timeout` to
/// learn the real time of the answer. The session goes on with the input it
/// buffered while the application decided.
///
/// Every wait is bounded by the [`ServerConfig`]: the idle timer, a deadline
/// for a whole command line, a floor on the body's rate, the session's
/// lifetime, the number of errors and of failed AUTH attempts (each failure's
/// reply is held back a growing delay), and the input buffered meanwhile.
///
/// ```
/// use smtp_proto::{Output, ServerConfig, ServerEvent, ServerSession};
/// use std::time::Instant;
///
/// let now = Instant::now(); // the adapter's clock; the session never reads one
/// let mut server = ServerSession::new(ServerConfig::new("mx.example.com"), now);
/// let mut sent = Vec::new();
/// let mut drive = |server: &mut ServerSession, sent: &mut Vec<u8>| {
///     while let Some(out) = server.poll_output() {
///         match out {
///             Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
///             Output::Event(ServerEvent::BodyChunk(_)) => {}
///             Output::Event(event) if event.is_decision() => server.accept().unwrap(),
///             Output::Event(_) | Output::Close => {}
///             Output::StartTls => unreachable!("STARTTLS is not offered here"),
///         }
///     }
/// };
/// drive(&mut server, &mut sent);
/// // A client that does not pipeline: one command, then its reply.
/// for line in [
///     &b"HELO client.example\r\n"[..],
///     b"MAIL FROM:<a@example.org>\r\n",
///     b"RCPT TO:<b@example.com>\r\n",
///     b"DATA\r\n",
///     b"Subject: hi\r\n\r\nHello\r\n.\r\n",
///     b"QUIT\r\n",
/// ] {
///     server.feed(now, line);
///     drive(&mut server, &mut sent);
/// }
/// let text = String::from_utf8(sent).unwrap();
/// assert!(text.starts_with("220 mx.example.com ESMTP mailwire\r\n250 mx.example.com\r\n"));
/// assert!(text.ends_with("250 2.0.0 Message accepted\r\n221 2.0.0 mx.example.com closing connection\r\n"));
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
    hostname: String,
    outbox: Outbox<ServerEvent>,
    lines: LineBuffer,
    /// Lines taken from `lines` so far: tells a new command line from the
    /// one that was open before.
    lines_read: u64,
    mode: Mode,
    pending: Option<Pending>,
    greeted: bool,
    helo: Option<Host>,
    extended: bool,
    tls: Option<TlsInfo>,
    authenticated: Option<String>,
    /// What EHLO advertises now; refreshed when TLS or AUTH changes it.
    capabilities: Capabilities,
    tx: Option<Transaction>,
    errors: usize,
    auth_failures: usize,
    /// A failed AUTH's reply, held back before it is sent.
    held: Option<Held>,
    timers: Timers,
    /// An answer came while the clock was unknown: the next `poll_timeout`
    /// asks for an immediate `handle_timeout` to restart the idle timer.
    rearm: bool,
    /// The latest time an input carried.
    now: Instant,
    cram_md5_nonce: Option<String>,
}

#[derive(Debug)]
enum Mode {
    Commands,
    Data {
        unstuffer: DotUnstuffer,
        too_big: bool,
        /// Wire octets read since the content was refused.
        discarded: u64,
    },
    Bdat {
        chunk: BdatChunk,
        /// The chunk was refused (the reply is sent): drop its octets.
        discard: bool,
    },
    Sasl(SaslServer),
    TlsHandshake,
    Closed,
}

#[derive(Debug)]
enum Pending {
    Helo(Host, bool),
    Mail(MailParams),
    Rcpt(ForwardPath),
    DataStart,
    MessageEnd,
    Auth(String),
}

fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

impl ServerSession {
    /// The largest [`ServerEvent::BodyChunk`]: however much one `feed`
    /// brings, content is handed over in pieces no larger than this.
    pub const MAX_BODY_CHUNK: usize = 64 * 1024;

    /// A session for a new connection. The greeting is queued at once (or
    /// after `greeting_delay`). For implicit TLS, handshake first and call
    /// [`tls_established`](Self::tls_established) before feeding bytes.
    pub fn new(config: impl Into<Arc<ServerConfig>>, now: Instant) -> ServerSession {
        let mut session = ServerSession::ungreeted(config.into(), now);
        match session.config.greeting_delay {
            Some(delay) => session.timers.idle = Some(now + delay),
            None => session.greet(now),
        }
        session
    }

    /// A session for a connection the application refuses (a DNSBL listing
    /// at connect, say): `reply` is sent instead of the greeting (RFC 5321
    /// §3.1: `554`, or `421` for a temporary refusal) and the session
    /// closes ([`CloseReason::Refused`]); the client is not listened to. A
    /// positive `reply` is the caller's mistake: `554 5.3.2` goes instead.
    pub fn refused(
        config: impl Into<Arc<ServerConfig>>,
        now: Instant,
        reply: &Reply,
    ) -> ServerSession {
        let mut session = ServerSession::ungreeted(config.into(), now);
        session.greeted = true;
        if reply.code().is_positive() {
            session.close_with(&replies::refused(), CloseReason::Refused);
        } else {
            session.close_with(reply, CloseReason::Refused);
        }
        session
    }

    fn ungreeted(config: Arc<ServerConfig>, now: Instant) -> ServerSession {
        let hostname = printable(&config.hostname);
        let mut session = ServerSession {
            lines: LineBuffer::new(config.command_line),
            lines_read: 0,
            capabilities: Capabilities::from_parts(hostname.clone(), None, Vec::new()),
            hostname,
            outbox: Outbox::default(),
            mode: Mode::Commands,
            pending: None,
            greeted: false,
            helo: None,
            extended: false,
            tls: None,
            authenticated: None,
            tx: None,
            errors: 0,
            auth_failures: 0,
            held: None,
            timers: Timers::new(&config, now),
            rearm: false,
            now,
            cram_md5_nonce: None,
            config,
        };
        session.refresh_capabilities();
        session
    }

    /// Enables CRAM-MD5 with a nonce unique to this session (the core has no
    /// random source): the challenge is `<nonce@hostname>`.
    pub fn with_cram_md5_nonce(mut self, nonce: &str) -> ServerSession {
        self.cram_md5_nonce = Some(printable(nonce));
        self.refresh_capabilities();
        self
    }

    fn greet(&mut self, now: Instant) {
        self.greeted = true;
        let banner = printable(&self.config.banner);
        self.send(&replies::greeting(&self.hostname, &banner));
        self.timers.idle = Some(now + self.config.idle_timeout);
    }

    // ----- inputs -------------------------------------------------------

    /// Bytes received from the client.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        if matches!(self.mode, Mode::Closed) || bytes.is_empty() {
            return;
        }
        self.timers.idle = Some(now + self.config.idle_timeout);
        self.rearm = false;
        self.now = now;
        if !self.greeted {
            if self.config.reject_early_talkers {
                return self.close_with(&replies::sync_error(), CloseReason::SynchronizationError);
            }
            self.greet(now);
        }
        if matches!(self.mode, Mode::TlsHandshake) {
            return self.close_with(
                &replies::starttls_violation(),
                CloseReason::StartTlsViolation,
            );
        }
        if let Some(held) = &mut self.held {
            // Input is a time after the failure: the delay runs from here
            // if its start was not known yet.
            held.start(now);
        }
        let lines_before = self.lines_read;
        let rest = if !self.is_waiting() && self.in_body() {
            self.feed_body(bytes)
        } else {
            bytes
        };
        // Uncapped: octets behind a BDAT command are chunk data, not a line.
        self.lines.push_uncapped(rest);
        if self.is_waiting() && self.lines.buffered().len() > self.config.max_pending_input {
            let reply = replies::input_overflow(&self.hostname);
            return self.close_with(&reply, CloseReason::InputOverflow);
        }
        self.run();
        self.update_timers(lines_before);
    }

    /// The client closed its side of the connection.
    pub fn feed_eof(&mut self, now: Instant) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        self.now = now;
        self.reset_transaction();
        self.mode = Mode::Closed;
        self.pending = None;
        self.held = None;
        self.outbox
            .event(ServerEvent::Closed(CloseReason::PeerClosed));
        self.outbox.close();
    }

    /// The deadline from [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.mode, Mode::Closed) || self.pending.is_some() {
            return;
        }
        self.now = now;
        if self.held.is_some() {
            return self.handle_hold(now);
        }
        if self.rearm {
            // The application answered since the last input: the client's
            // idle time starts now, not when it last spoke.
            self.rearm = false;
            self.timers.idle = Some(now + self.config.idle_timeout);
            self.timers.restart_unused_body_window(now);
        }
        if !self.greeted {
            if self.timers.idle.is_some_and(|d| now >= d) {
                self.greet(now);
            }
            return;
        }
        let Some(expired) = self.timers.expired(now, &self.config) else {
            return;
        };
        self.reset_transaction();
        let (reply, reason) = match expired {
            Expired::Lifetime => (
                replies::lifetime_exceeded(&self.hostname),
                CloseReason::LifetimeExceeded,
            ),
            Expired::Body => (
                replies::body_too_slow(&self.hostname),
                CloseReason::BodyTooSlow,
            ),
            Expired::CommandLine => (
                replies::command_timeout(&self.hostname),
                CloseReason::CommandTimeout,
            ),
            Expired::Idle => (replies::timeout(&self.hostname), CloseReason::Timeout),
        };
        self.close_with(&reply, reason);
    }

    /// The TLS handshake the session asked for (or implicit TLS) finished.
    /// The session starts over: the client must send EHLO again (RFC 3207).
    pub fn tls_established(&mut self, now: Instant, info: TlsInfo) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        self.now = now;
        self.rearm = false;
        self.reset_transaction();
        self.helo = None;
        self.extended = false;
        self.authenticated = None;
        self.pending = None;
        self.mode = Mode::Commands;
        self.tls = Some(info.clone());
        self.refresh_capabilities();
        self.timers.idle = Some(now + self.config.idle_timeout);
        self.outbox.event(ServerEvent::TlsStarted(info));
    }

    // ----- outputs ------------------------------------------------------

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output<ServerEvent>> {
        self.outbox.pop()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the earliest
    /// of the idle, command-line, body-rate and lifetime deadlines, or the
    /// end of a failed AUTH's delay. `None` while a decision is pending (the
    /// application's time is not the client's) or after close. Right after
    /// the application answered a decision it is a time already past: call
    /// `handle_timeout(now)` at once, so the timers restart from the real
    /// time of the answer (verbs take no clock).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.mode, Mode::Closed) || self.pending.is_some() {
            return None;
        }
        if let Some(held) = &self.held {
            return Some(held.until().unwrap_or(self.now));
        }
        if self.rearm {
            return Some(self.now);
        }
        self.timers.next(&self.config)
    }

    // ----- application verbs ---------------------------------------------

    /// Accepts the pending decision with the usual positive reply.
    pub fn accept(&mut self) -> Result<(), UsageError> {
        let pending = self.pending.take().ok_or(UsageError::NoDecisionPending)?;
        let reply = match &pending {
            Pending::Helo(_, true) => self.capabilities.to_reply(),
            Pending::Helo(_, false) => replies::helo_ok(&self.hostname),
            Pending::Mail(..) => replies::ok((2, 1, 0), "Sender OK"),
            Pending::Rcpt(_) => replies::ok((2, 1, 5), "Recipient OK"),
            Pending::DataStart => replies::start_mail_input(),
            Pending::MessageEnd => replies::ok((2, 0, 0), "Message accepted"),
            Pending::Auth(_) => replies::auth_ok(),
        };
        self.settle(pending, reply, true);
        Ok(())
    }

    /// Accepts the pending decision with the application's own positive reply
    /// (for example `250 2.0.0 Ok: queued as 4F2A1C` at the end of a
    /// message). DataStart needs a 3yz reply, the others 2yz.
    pub fn accept_with(&mut self, reply: Reply) -> Result<(), UsageError> {
        let pending = self.pending.as_ref().ok_or(UsageError::NoDecisionPending)?;
        let wanted = if matches!(pending, Pending::DataStart) {
            3
        } else {
            2
        };
        if reply.code().get() / 100 != wanted {
            return Err(UsageError::NotPositive);
        }
        if let Some(pending) = self.pending.take() {
            self.settle(pending, reply, true);
        }
        Ok(())
    }

    /// Refuses the pending decision with a 4yz or 5yz reply. A 5yz answer to
    /// an [`Auth`](ServerEvent::Auth) decision is a failed attempt: it is
    /// counted, delayed, and may close the session (see
    /// [`ServerConfig::max_auth_failures`]); a 4yz one (a temporary failure
    /// of the credential store) is not.
    pub fn reject(&mut self, reply: Reply) -> Result<(), UsageError> {
        if self.pending.is_none() {
            return Err(UsageError::NoDecisionPending);
        }
        if reply.code().is_positive() {
            return Err(UsageError::NotNegative);
        }
        if let Some(pending) = self.pending.take() {
            self.settle(pending, reply, false);
        }
        Ok(())
    }

    /// Ends the session gracefully: `421 4.3.2` and close. An unfinished
    /// transaction is reset.
    pub fn shutdown(&mut self) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        self.reset_transaction();
        let reply = replies::shutting_down(&self.hostname);
        self.close_with(&reply, CloseReason::Shutdown);
    }

    // ----- getters --------------------------------------------------------

    /// What EHLO advertises now (it depends on TLS and AUTH state).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }
    /// The name the client gave in an accepted EHLO/HELO.
    pub fn helo(&self) -> Option<&Host> {
        self.helo.as_ref()
    }
    /// TLS is in force.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
    /// The TLS handshake's details.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }
    /// The user the application accepted in AUTH.
    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }
    /// The accepted recipients of the transaction in progress.
    pub fn recipients(&self) -> &[ForwardPath] {
        self.tx.as_ref().map_or(&[], |t| t.recipients.as_slice())
    }
    /// The MAIL parameters of the transaction in progress.
    pub fn mail_params(&self) -> Option<&MailParams> {
        self.tx.as_ref().map(|t| &t.params)
    }
    /// The transaction in progress asked for SMTPUTF8 (RFC 6531).
    pub fn is_smtputf8(&self) -> bool {
        self.tx.as_ref().is_some_and(|t| t.params.smtputf8)
    }
    /// The protocol keyword for the `with` clause of a `Received:` header,
    /// from the IANA Mail Transmission Types registry: `SMTP` after HELO;
    /// after EHLO `ESMTP` plus `S` with TLS and `A` with AUTH (RFC 3848),
    /// prefixed `UTF8` when the transaction uses SMTPUTF8 (RFC 6531 §3.7.3):
    /// `ESMTP`, `ESMTPA`, `ESMTPS`, `ESMTPSA`, `UTF8SMTP`, `UTF8SMTPA`,
    /// `UTF8SMTPS`, `UTF8SMTPSA`. (The registry has no TLS name for HELO.)
    pub fn protocol_name(&self) -> &'static str {
        if !self.extended {
            return "SMTP";
        }
        let tls = self.tls.is_some();
        let auth = self.authenticated.is_some();
        match (self.is_smtputf8(), tls, auth) {
            (false, false, false) => "ESMTP",
            (false, false, true) => "ESMTPA",
            (false, true, false) => "ESMTPS",
            (false, true, true) => "ESMTPSA",
            (true, false, false) => "UTF8SMTP",
            (true, false, true) => "UTF8SMTPA",
            (true, true, false) => "UTF8SMTPS",
            (true, true, true) => "UTF8SMTPSA",
        }
    }
    /// Failed AUTH attempts on this session (see
    /// [`ServerEvent::AuthFailed`]).
    pub fn auth_failures(&self) -> usize {
        self.auth_failures
    }
    /// Error replies the session sent so far (failed AUTH attempts
    /// included); at `max_errors` it closes.
    pub fn errors(&self) -> usize {
        self.errors
    }
    /// Octets received and not yet processed: bounded by the command line
    /// cap, or by `max_pending_input` while a decision is pending or a
    /// failed AUTH's reply is held. Message content is never kept here; it
    /// leaves as [`ServerEvent::BodyChunk`]s.
    pub fn buffered_input(&self) -> usize {
        self.lines.buffered().len()
    }
    /// A decision is waiting for the application.
    pub fn is_paused(&self) -> bool {
        self.pending.is_some()
    }
    /// The session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    // ----- internals ------------------------------------------------------

    fn refresh_capabilities(&mut self) {
        let c = &self.config;
        let mut ext = vec![Extension::Size(c.max_message_size)];
        let flags = [
            (c.pipelining, Extension::Pipelining),
            (c.eight_bit_mime, Extension::EightBitMime),
            (c.smtputf8, Extension::SmtpUtf8),
            (c.chunking, Extension::Chunking),
            (c.chunking, Extension::BinaryMime),
            (c.dsn, Extension::Dsn),
            (true, Extension::EnhancedStatusCodes),
            (c.starttls && self.tls.is_none(), Extension::StartTls),
        ];
        ext.extend(flags.into_iter().filter(|(on, _)| *on).map(|(_, e)| e));
        let mechanisms: Vec<Mechanism> = c
            .auth_mechanisms
            .iter()
            .filter(|m| self.auth_allowed(m).is_ok())
            .cloned()
            .collect();
        if !mechanisms.is_empty() && self.authenticated.is_none() {
            ext.push(Extension::Auth(mechanisms));
        }
        self.capabilities = Capabilities::from_parts(self.hostname.clone(), None, ext);
    }

    fn in_body(&self) -> bool {
        matches!(self.mode, Mode::Data { .. } | Mode::Bdat { .. })
    }

    /// Input is only buffered: a decision is pending, or a failed AUTH's
    /// reply is held back.
    fn is_waiting(&self) -> bool {
        self.pending.is_some() || self.held.is_some()
    }

    /// Brings the command-line and body clocks up to date after input was
    /// processed; `lines_before` is `lines_read` before it.
    fn update_timers(&mut self, lines_before: u64) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        let reading_lines = matches!(self.mode, Mode::Commands | Mode::Sasl(_));
        let open = reading_lines
            && !self.is_waiting()
            && (!self.lines.is_empty() || self.lines.is_discarding());
        let new_line = self.lines_read != lines_before;
        self.timers.set_line(open, new_line, self.now);
        // Between BDAT chunks the body is still under way: tiny chunks must
        // not reset the rate window.
        let body =
            self.pending.is_none() && (self.in_body() || self.tx.as_ref().is_some_and(|t| t.bdat));
        self.timers.set_body(body, self.now);
    }

    fn send(&mut self, reply: &Reply) {
        self.outbox.transmit_with(|buf| reply.write_to(buf));
    }

    /// An error reply the session chose; too many of them end the session.
    fn error(&mut self, reply: &Reply) {
        self.send(reply);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            let reply = replies::too_many_errors(&self.hostname);
            self.close_with(&reply, CloseReason::TooManyErrors);
        }
    }

    fn close_with(&mut self, reply: &Reply, reason: CloseReason) {
        self.send(reply);
        // Nothing received after the end is ever read: drop it now.
        drop(self.lines.take_buffered());
        self.mode = Mode::Closed;
        self.pending = None;
        self.held = None;
        self.outbox.event(ServerEvent::Closed(reason));
        self.outbox.close();
    }

    fn decide(&mut self, pending: Pending, event: ServerEvent) {
        self.pending = Some(pending);
        self.outbox.event(event);
    }

    fn reset_transaction(&mut self) {
        if self.tx.take().is_some() {
            self.outbox.event(ServerEvent::Reset);
        }
    }

    fn settle(&mut self, pending: Pending, reply: Reply, accepted: bool) {
        let lines_before = self.lines_read;
        self.rearm = true;
        if matches!(pending, Pending::Auth(_)) && reply.code().is_permanent() {
            // The time of the answer is unknown: the delay starts at the
            // `handle_timeout` that `poll_timeout` asks for at once.
            self.auth_failed(reply, None);
            self.run();
            return self.update_timers(lines_before);
        }
        self.send(&reply);
        match (pending, accepted) {
            (Pending::Helo(host, extended), true) => {
                self.helo = Some(host);
                self.extended = extended;
            }
            (Pending::Mail(params), true) => self.tx = Some(Transaction::new(params)),
            (Pending::Rcpt(to), true) => {
                if let Some(tx) = &mut self.tx {
                    tx.recipients.push(to);
                }
            }
            (Pending::DataStart, true) => self.start_data(),
            (Pending::MessageEnd, _) => self.tx = None,
            (Pending::Auth(user), true) => {
                self.authenticated = Some(user);
                self.refresh_capabilities();
            }
            _ => {}
        }
        self.run();
        self.update_timers(lines_before);
    }
}
