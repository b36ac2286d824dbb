//! The server session: greets, reads commands, enforces order and limits,
//! and pauses at every decision the application owns.

mod config;
mod event;
mod replies;

pub use config::ServerConfig;
pub use event::{CloseReason, ServerEvent, UsageError};

use super::outbox::Outbox;
use super::{Instant, Output, TlsInfo};
use crate::data::{BdatChunk, DotUnstuffer};
use crate::framing::{LineBuffer, LineStatus};
use crate::sasl::{self, SaslServer, ServerStep};
use crate::types::{
    Capabilities, Command, Extension, ForwardPath, Host, MailParams, Mechanism, Reply, ReversePath,
    Verb,
};
use std::sync::Arc;

/// A sans-IO SMTP server session (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
/// SMTPUTF8, CHUNKING, DSN, STARTTLS, AUTH).
///
/// Inputs are `feed*`, `handle_timeout` and `tls_established`; outputs come
/// from [`poll_output`](Self::poll_output) in order; the application answers
/// decision events with [`accept`](Self::accept),
/// [`accept_with`](Self::accept_with) or [`reject`](Self::reject), and the
/// session goes on with the input it buffered meanwhile.
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
///             Output::Event(ServerEvent::Closed(_)) | Output::Close => {}
///             Output::Event(_decision) => server.accept().unwrap(),
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
    out: Outbox<ServerEvent>,
    lines: LineBuffer,
    mode: Mode,
    pending: Option<Pending>,
    greeted: bool,
    helo: Option<Host>,
    extended: bool,
    tls: Option<TlsInfo>,
    authenticated: Option<String>,
    tx: Option<Transaction>,
    errors: usize,
    deadline: Option<Instant>,
    /// An answer came while the clock was unknown: the next `poll_timeout`
    /// asks for an immediate `handle_timeout` to restart the idle timer.
    rearm: bool,
    /// The latest time an input carried.
    last_now: Instant,
    cram_md5_nonce: Option<String>,
}

#[derive(Debug)]
enum Mode {
    Commands,
    Data {
        unstuffer: DotUnstuffer,
        too_big: bool,
    },
    Bdat {
        chunk: BdatChunk,
        failed: Option<Reply>,
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

/// The transaction in progress.
#[derive(Debug)]
struct Transaction {
    params: MailParams,
    recipients: Vec<ForwardPath>,
    size: u64,
    bdat: bool,
    bdat_failed: bool,
}

fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

impl ServerSession {
    /// A session for a new connection. The greeting is queued at once (or
    /// after `greeting_delay`). For implicit TLS, handshake first and call
    /// [`tls_established`](Self::tls_established) before feeding bytes.
    pub fn new(config: impl Into<Arc<ServerConfig>>, now: Instant) -> ServerSession {
        let config = config.into();
        let hostname = printable(&config.hostname);
        let mut session = ServerSession {
            lines: LineBuffer::new(config.command_line),
            hostname,
            out: Outbox::default(),
            mode: Mode::Commands,
            pending: None,
            greeted: false,
            helo: None,
            extended: false,
            tls: None,
            authenticated: None,
            tx: None,
            errors: 0,
            deadline: None,
            rearm: false,
            last_now: now,
            cram_md5_nonce: None,
            config,
        };
        match session.config.greeting_delay {
            Some(delay) => session.deadline = Some(now + delay),
            None => session.greet(now),
        }
        session
    }

    /// Enables CRAM-MD5 with a nonce unique to this session (the core has no
    /// random source): the challenge is `<nonce@hostname>`.
    pub fn with_cram_md5_nonce(mut self, nonce: &str) -> ServerSession {
        self.cram_md5_nonce = Some(printable(nonce));
        self
    }

    fn greet(&mut self, now: Instant) {
        self.greeted = true;
        let banner = printable(&self.config.banner);
        self.send(&replies::greeting(&self.hostname, &banner));
        self.deadline = Some(now + self.config.idle_timeout);
    }

    // ----- inputs -------------------------------------------------------

    /// Bytes received from the client.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        if matches!(self.mode, Mode::Closed) || bytes.is_empty() {
            return;
        }
        self.deadline = Some(now + self.config.idle_timeout);
        self.rearm = false;
        self.last_now = now;
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
        let rest = if self.pending.is_none() && self.in_body() {
            self.feed_body(bytes)
        } else {
            bytes
        };
        // Uncapped: octets behind a BDAT command are chunk data, not a line.
        self.lines.push_uncapped(rest);
        if self.pending.is_some() && self.lines.buffered().len() > self.config.max_pending_input {
            let reply = replies::input_overflow(&self.hostname);
            return self.close_with(&reply, CloseReason::InputOverflow);
        }
        self.run();
    }

    /// The client closed its side of the connection.
    pub fn feed_eof(&mut self, _now: Instant) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        if self.tx.take().is_some() {
            self.out.event(ServerEvent::Reset);
        }
        self.mode = Mode::Closed;
        self.pending = None;
        self.out.event(ServerEvent::Closed(CloseReason::PeerClosed));
        self.out.close();
    }

    /// The deadline from [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.mode, Mode::Closed) || self.pending.is_some() {
            return;
        }
        self.last_now = now;
        if self.rearm {
            // The application answered since the last input: the client's
            // idle time starts now, not when it last spoke.
            self.rearm = false;
            self.deadline = Some(now + self.config.idle_timeout);
            return;
        }
        match self.deadline {
            Some(deadline) if now >= deadline => {}
            _ => return,
        }
        if !self.greeted {
            return self.greet(now);
        }
        if self.tx.take().is_some() {
            self.out.event(ServerEvent::Reset);
        }
        let reply = replies::timeout(&self.hostname);
        self.close_with(&reply, CloseReason::Timeout);
    }

    /// The TLS handshake the session asked for (or implicit TLS) finished.
    /// The session starts over: the client must send EHLO again (RFC 3207).
    pub fn tls_established(&mut self, now: Instant, info: TlsInfo) {
        if matches!(self.mode, Mode::Closed) {
            return;
        }
        self.last_now = now;
        self.rearm = false;
        if self.tx.take().is_some() {
            self.out.event(ServerEvent::Reset);
        }
        self.helo = None;
        self.extended = false;
        self.authenticated = None;
        self.pending = None;
        self.mode = Mode::Commands;
        self.tls = Some(info.clone());
        self.deadline = Some(now + self.config.idle_timeout);
        self.out.event(ServerEvent::TlsStarted(info));
    }

    // ----- outputs ------------------------------------------------------

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output<ServerEvent>> {
        self.out.pop()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout). `None` while a
    /// decision is pending (the application's time is not the client's) or
    /// after close. Right after the application answered a decision it is a
    /// time already past: call `handle_timeout(now)` at once, so the idle
    /// timer restarts from the real time of the answer (verbs take no clock).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.mode, Mode::Closed) || self.pending.is_some() {
            return None;
        }
        if self.rearm {
            return Some(self.last_now);
        }
        self.deadline
    }

    // ----- application verbs ---------------------------------------------

    /// Accepts the pending decision with the usual positive reply.
    pub fn accept(&mut self) -> Result<(), UsageError> {
        let pending = self.pending.take().ok_or(UsageError::NoDecisionPending)?;
        let reply = match &pending {
            Pending::Helo(_, true) => self.capabilities().to_reply(),
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

    /// Refuses the pending decision with a 4yz or 5yz reply.
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
        if self.tx.take().is_some() {
            self.out.event(ServerEvent::Reset);
        }
        let reply = replies::shutting_down(&self.hostname);
        self.close_with(&reply, CloseReason::Shutdown);
    }

    // ----- getters --------------------------------------------------------

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
    /// A decision is waiting for the application.
    pub fn is_paused(&self) -> bool {
        self.pending.is_some()
    }
    /// The session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    /// What EHLO advertises now (it depends on TLS and AUTH state).
    pub fn capabilities(&self) -> Capabilities {
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
        Capabilities::from_parts(self.hostname.clone(), None, ext)
    }

    // ----- internals ------------------------------------------------------

    fn in_body(&self) -> bool {
        matches!(self.mode, Mode::Data { .. } | Mode::Bdat { .. })
    }

    fn send(&mut self, reply: &Reply) {
        self.out.transmit_with(|buf| reply.write_to(buf));
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
        self.mode = Mode::Closed;
        self.pending = None;
        self.out.event(ServerEvent::Closed(reason));
        self.out.close();
    }

    fn decide(&mut self, pending: Pending, event: ServerEvent) {
        self.pending = Some(pending);
        self.out.event(event);
    }

    fn reset_transaction(&mut self) {
        if self.tx.take().is_some() {
            self.out.event(ServerEvent::Reset);
        }
    }

    fn settle(&mut self, pending: Pending, reply: Reply, accepted: bool) {
        self.send(&reply);
        self.rearm = true;
        match (pending, accepted) {
            (Pending::Helo(host, extended), true) => {
                self.helo = Some(host);
                self.extended = extended;
            }
            (Pending::Mail(params), true) => {
                self.tx = Some(Transaction {
                    params,
                    recipients: Vec::new(),
                    size: 0,
                    bdat: false,
                    bdat_failed: false,
                });
            }
            (Pending::Rcpt(to), true) => {
                if let Some(tx) = &mut self.tx {
                    tx.recipients.push(to);
                }
            }
            (Pending::DataStart, true) => {
                self.mode = Mode::Data {
                    unstuffer: DotUnstuffer::new(self.config.data),
                    too_big: false,
                };
                let buffered = self.lines.take_buffered();
                let consumed = buffered.len() - self.feed_body(&buffered).len();
                self.lines
                    .push_uncapped(buffered.get(consumed..).unwrap_or_default());
            }
            (Pending::MessageEnd, _) => self.tx = None,
            (Pending::Auth(user), true) => self.authenticated = Some(user),
            _ => {}
        }
        self.run();
    }

    /// Processes buffered input until a decision is needed or input runs out.
    fn run(&mut self) {
        while self.pending.is_none() {
            match self.mode {
                Mode::Commands | Mode::Sasl(_) => {}
                _ => return,
            }
            let line = match self.lines.next_line() {
                LineStatus::Line(l) => l.to_vec(),
                LineStatus::NeedMore => return,
                LineStatus::TooLong => {
                    let limit = self.config.command_line.max_len;
                    self.error(&crate::ParseError::LineTooLong { limit }.reply());
                    continue;
                }
                LineStatus::BareLf => {
                    self.error(&replies::reply(
                        500,
                        (5, 5, 2),
                        "Syntax error: lines must end with CRLF",
                    ));
                    continue;
                }
            };
            if matches!(self.mode, Mode::Sasl(_)) {
                self.on_sasl_line(&line);
            } else {
                match Command::parse_with(
                    &line,
                    &self.config.parse.with_smtputf8(self.config.smtputf8),
                ) {
                    Ok(cmd) => self.on_command(cmd),
                    Err(e) => self.error(&e.reply()),
                }
            }
        }
    }

    /// RFC 2920 §3.1: these commands end a pipelined group.
    fn must_end_group(verb: Verb) -> bool {
        matches!(
            verb,
            Verb::Ehlo
                | Verb::Helo
                | Verb::Data
                | Verb::Vrfy
                | Verb::Expn
                | Verb::Noop
                | Verb::Auth
        )
    }

    fn on_command(&mut self, cmd: Command) {
        let verb = cmd.verb();
        let more_input = !self.lines.is_empty();
        if verb == Verb::StartTls && more_input && self.config.starttls {
            // CVE-2011-0411 class: plaintext behind STARTTLS must never be
            // read as if it came through TLS.
            return self.close_with(
                &replies::starttls_violation(),
                CloseReason::StartTlsViolation,
            );
        }
        let pipelining = self.config.pipelining && self.extended;
        // A BDAT chunk's octets follow its command by design (RFC 3030).
        if self.config.reject_early_talkers
            && more_input
            && !matches!(verb, Verb::Quit | Verb::Bdat)
            && (!pipelining || Self::must_end_group(verb))
        {
            return self.close_with(&replies::sync_error(), CloseReason::SynchronizationError);
        }
        match cmd {
            Command::Ehlo(host) => {
                self.reset_transaction();
                self.decide(
                    Pending::Helo(host.clone(), true),
                    ServerEvent::Helo {
                        host,
                        extended: true,
                    },
                );
            }
            Command::Helo(host) => {
                self.reset_transaction();
                self.decide(
                    Pending::Helo(host.clone(), false),
                    ServerEvent::Helo {
                        host,
                        extended: false,
                    },
                );
            }
            Command::Mail { from, params } => self.on_mail(from, params),
            Command::Rcpt { to, params } => self.on_rcpt(to, params),
            Command::Data => self.on_data(),
            Command::Bdat { size, last } => self.on_bdat(size, last),
            Command::Rset => {
                self.reset_transaction();
                self.send(&replies::ok((2, 0, 0), "OK"));
            }
            Command::Noop(_) => self.send(&replies::ok((2, 0, 0), "OK")),
            Command::Help(_) => self.send(&replies::help()),
            Command::Vrfy(_) => {
                let reply = self.config.vrfy_reply.clone();
                self.send(&reply);
            }
            Command::Expn(_) => self.error(&replies::reply(502, (5, 5, 1), "EXPN not supported")),
            Command::Quit => {
                self.reset_transaction();
                let reply = replies::closing(&self.hostname);
                self.close_with(&reply, CloseReason::Quit);
            }
            Command::StartTls => self.on_starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.on_auth(
                mechanism,
                initial_response.map(|r| r.expose_base64().to_owned()),
            ),
        }
    }

    fn on_mail(&mut self, from: ReversePath, params: MailParams) {
        let c = Arc::clone(&self.config);
        let refusal = if self.helo.is_none() {
            Some(replies::bad_sequence("Send HELO/EHLO first"))
        } else if self.tx.is_some() {
            Some(replies::bad_sequence("Nested MAIL command"))
        } else if c.require_tls && self.tls.is_none() {
            Some(replies::tls_required())
        } else if c.require_auth && self.authenticated.is_none() {
            Some(replies::auth_required())
        } else if params
            .size
            .is_some_and(|s| c.max_message_size.is_some_and(|m| s > m))
        {
            Some(replies::message_too_big())
        } else {
            self.unsupported_mail_param(&params)
        };
        match refusal {
            Some(reply) => self.error(&reply),
            None => self.decide(
                Pending::Mail(params.clone()),
                ServerEvent::MailFrom { from, params },
            ),
        }
    }

    fn unsupported_mail_param(&self, p: &MailParams) -> Option<Reply> {
        let c = &self.config;
        let unsupported = |what: &str| {
            Some(replies::reply(
                555,
                (5, 5, 4),
                &format!("{what} not supported"),
            ))
        };
        if !self.extended && (p != &MailParams::default()) {
            return unsupported("MAIL parameters after HELO are");
        }
        if p.smtputf8 && !c.smtputf8 {
            return unsupported("SMTPUTF8 is");
        }
        if p.body == Some(crate::Body::BinaryMime) && !c.chunking {
            return unsupported("BINARYMIME is");
        }
        if p.body == Some(crate::Body::EightBitMime) && !c.eight_bit_mime {
            return unsupported("8BITMIME is");
        }
        if (p.ret.is_some() || p.envid.is_some()) && !c.dsn {
            return unsupported("DSN is");
        }
        if p.requiretls {
            return unsupported("REQUIRETLS is");
        }
        if let Some(other) = p.other.first() {
            return unsupported(&format!("Parameter {} is", printable(other.keyword())));
        }
        None
    }

    fn on_rcpt(&mut self, to: ForwardPath, params: crate::RcptParams) {
        let Some(tx) = &self.tx else {
            return self.error(&replies::bad_sequence("Need MAIL command"));
        };
        if tx.bdat {
            return self.error(&replies::bad_sequence("RCPT after BDAT"));
        }
        if to.mailbox().is_some_and(|m| !m.is_ascii()) && !tx.params.smtputf8 {
            return self.error(&crate::ParseError::Utf8NotAllowed.reply());
        }
        if tx.recipients.len() >= self.config.max_recipients {
            return self.send(&replies::too_many_recipients());
        }
        if (params.notify.is_some() || params.orcpt.is_some()) && !self.config.dsn {
            return self.error(&replies::reply(555, (5, 5, 4), "DSN is not supported"));
        }
        if let Some(other) = params.other.first() {
            let text = format!("Parameter {} is not supported", printable(other.keyword()));
            return self.error(&replies::reply(555, (5, 5, 4), &text));
        }
        self.decide(
            Pending::Rcpt(to.clone()),
            ServerEvent::RcptTo { to, params },
        );
    }

    fn on_data(&mut self) {
        let Some(tx) = &self.tx else {
            return self.error(&replies::bad_sequence("Need MAIL command"));
        };
        if tx.bdat {
            return self.error(&replies::bad_sequence("DATA after BDAT"));
        }
        if tx.recipients.is_empty() {
            return self.error(&replies::no_valid_recipients());
        }
        if tx.params.body == Some(crate::Body::BinaryMime) {
            return self.error(&replies::bad_sequence("BINARYMIME needs BDAT"));
        }
        self.decide(Pending::DataStart, ServerEvent::DataStart);
    }

    fn on_bdat(&mut self, size: u64, last: bool) {
        let failed = match &mut self.tx {
            None => Some(replies::bad_sequence("Need MAIL command")),
            Some(_) if !self.config.chunking => {
                Some(replies::reply(502, (5, 5, 1), "BDAT not supported"))
            }
            Some(tx) if tx.bdat_failed => {
                Some(replies::bad_sequence("An earlier BDAT failed; send RSET"))
            }
            Some(tx) if tx.recipients.is_empty() => Some(replies::no_valid_recipients()),
            Some(tx) => {
                tx.bdat = true;
                None
            }
        };
        self.mode = Mode::Bdat {
            chunk: BdatChunk::new(size, last),
            failed,
        };
        let buffered = self.lines.take_buffered();
        let consumed = buffered.len() - self.feed_body(&buffered).len();
        self.lines
            .push_uncapped(buffered.get(consumed..).unwrap_or_default());
    }

    /// Feeds message content in DATA or BDAT mode; returns what follows it.
    fn feed_body<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let max = self.config.max_message_size;
        match &mut self.mode {
            Mode::Data { unstuffer, too_big } => {
                let mut chunk = Vec::with_capacity(bytes.len());
                let progress = unstuffer.feed(bytes, &mut chunk);
                let size = unstuffer.content_len();
                if max.is_some_and(|m| size > m) {
                    *too_big = true;
                }
                let violation = unstuffer.violation();
                if !*too_big && violation.is_none() && !chunk.is_empty() {
                    self.out.event(ServerEvent::BodyChunk(chunk));
                }
                if progress.done {
                    let too_big = *too_big;
                    self.mode = Mode::Commands;
                    let refusal = match violation {
                        Some(v) => Some(v.reply()),
                        None if too_big => Some(replies::message_too_big()),
                        None => None,
                    };
                    self.end_of_message(size, refusal);
                }
                &bytes[progress.consumed.min(bytes.len())..]
            }
            Mode::Bdat { chunk, failed } => {
                let data = chunk.take(bytes);
                let complete = chunk.is_complete();
                let last = chunk.is_last();
                if let Some(tx) = &mut self.tx {
                    if failed.is_none() {
                        tx.size += data.len() as u64;
                        if max.is_some_and(|m| tx.size > m) {
                            *failed = Some(replies::message_too_big());
                        } else if !data.is_empty() {
                            self.out.event(ServerEvent::BodyChunk(data.to_vec()));
                        }
                    }
                }
                if complete {
                    let failed = failed.take();
                    self.mode = Mode::Commands;
                    match failed {
                        Some(reply) => self.bdat_failed(reply),
                        None if last => {
                            let size = self.tx.as_ref().map_or(0, |t| t.size);
                            self.end_of_message(size, None);
                        }
                        None => {
                            let size = self.tx.as_ref().map_or(0, |t| t.size);
                            let text = format!("{size} octets received");
                            self.send(&replies::ok((2, 0, 0), &text));
                        }
                    }
                }
                &bytes[data.len()..]
            }
            _ => bytes,
        }
    }

    fn bdat_failed(&mut self, reply: Reply) {
        match &mut self.tx {
            Some(tx) if !tx.bdat_failed && tx.bdat => {
                tx.bdat_failed = true;
                self.out.event(ServerEvent::MessageAborted {
                    reply: reply.clone(),
                });
            }
            Some(tx) => tx.bdat_failed = true,
            None => {}
        }
        self.error(&reply);
    }

    fn end_of_message(&mut self, size: u64, refusal: Option<Reply>) {
        match refusal {
            Some(reply) => {
                self.send(&reply);
                self.tx = None;
                self.out.event(ServerEvent::MessageAborted { reply });
            }
            None => self.decide(Pending::MessageEnd, ServerEvent::MessageEnd { size }),
        }
    }

    fn on_starttls(&mut self) {
        if !self.config.starttls {
            return self.error(&replies::reply(502, (5, 5, 1), "STARTTLS not available"));
        }
        if self.tls.is_some() {
            return self.error(&replies::bad_sequence("TLS already active"));
        }
        self.send(&replies::ready_for_tls());
        self.reset_transaction();
        self.mode = Mode::TlsHandshake;
        self.out.start_tls();
    }

    /// Why AUTH with `mechanism` is not possible now, as the reply to send.
    fn auth_allowed(&self, mechanism: &Mechanism) -> Result<(), Reply> {
        let c = &self.config;
        if !c.auth_mechanisms.contains(mechanism)
            || (*mechanism == Mechanism::CramMd5 && self.cram_md5_nonce.is_none())
        {
            return Err(replies::reply(
                504,
                (5, 5, 4),
                "Unrecognized authentication type",
            ));
        }
        if c.require_tls && self.tls.is_none() {
            return Err(replies::tls_required());
        }
        if sasl::exposes_secret(mechanism) && self.tls.is_none() && !c.allow_plaintext_auth {
            return Err(replies::encryption_required());
        }
        Ok(())
    }

    fn on_auth(&mut self, mechanism: Mechanism, initial: Option<String>) {
        if self.helo.is_none() || !self.extended {
            return self.error(&replies::bad_sequence("Send EHLO first"));
        }
        if self.authenticated.is_some() {
            return self.error(&replies::bad_sequence("Already authenticated"));
        }
        if self.tx.is_some() {
            return self.error(&replies::bad_sequence(
                "AUTH not allowed during a transaction",
            ));
        }
        if let Err(reply) = self.auth_allowed(&mechanism) {
            return self.error(&reply);
        }
        let challenge = self
            .cram_md5_nonce
            .as_ref()
            .map(|n| format!("<{n}@{}>", self.hostname));
        let mut server = match SaslServer::new(mechanism, challenge.as_deref()) {
            Ok(s) => s,
            Err(_) => {
                return self.error(&replies::reply(
                    504,
                    (5, 5, 4),
                    "Unrecognized authentication type",
                ))
            }
        };
        let step = match initial {
            None => server.start(None),
            Some(text) if text == "=" => server.start(Some(&[])),
            Some(text) => match sasl::decode_base64(text.as_bytes()) {
                Ok(bytes) => server.start(Some(&bytes)),
                Err(_) => {
                    return self.error(&replies::reply(501, (5, 5, 2), "Invalid base64 data"))
                }
            },
        };
        self.sasl_step(server, step);
    }

    fn on_sasl_line(&mut self, line: &[u8]) {
        let Mode::Sasl(mut server) = std::mem::replace(&mut self.mode, Mode::Commands) else {
            return;
        };
        if line == b"*" {
            return self.error(&replies::reply(501, (5, 0, 0), "Authentication cancelled"));
        }
        match sasl::decode_base64(line) {
            Ok(bytes) => {
                let step = server.step(&bytes);
                self.sasl_step(server, step);
            }
            Err(_) => self.error(&replies::reply(501, (5, 5, 2), "Invalid base64 data")),
        }
    }

    fn sasl_step(&mut self, server: SaslServer, step: ServerStep) {
        match step {
            ServerStep::Challenge(bytes) => {
                self.send(&replies::challenge(&sasl::encode_base64(&bytes)));
                self.mode = Mode::Sasl(server);
            }
            ServerStep::Done(request) => {
                self.mode = Mode::Commands;
                self.decide(
                    Pending::Auth(request.username().to_owned()),
                    ServerEvent::Auth(request),
                );
            }
            ServerStep::Failed(_) => {
                self.mode = Mode::Commands;
                self.error(&replies::reply(
                    501,
                    (5, 5, 2),
                    "Malformed authentication data",
                ));
            }
        }
    }
}
