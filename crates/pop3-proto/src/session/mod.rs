//! The sans-IO POP3 server session.

mod commands;
mod config;
mod event;

pub use config::Pop3Config;
pub use event::{
    CloseReason, Credentials, Deletion, Event, InvalidUid, MessageInfo, Uid, UsageError,
};

use crate::command::{Command, ParseError};
use crate::message::MessageStream;
use crate::response::{Response, ResponseCode};
use smtp_proto::framing::{LineBuffer, LineConfig, LineStatus};
use smtp_proto::sasl::SaslServer;
use smtp_proto::{Output, TlsInfo};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// A sans-IO POP3 server session (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
/// RFC 5034 SASL PLAIN).
///
/// Methods sort into four kinds, as in smtp-proto's sessions:
/// - **inputs**: [`feed`](Self::feed), [`feed_eof`](Self::feed_eof),
///   [`handle_timeout`](Self::handle_timeout),
///   [`tls_established`](Self::tls_established);
/// - **outputs**: [`poll_output`](Self::poll_output) (transmit, event,
///   start TLS, close — in the order they must happen) and
///   [`poll_timeout`](Self::poll_timeout);
/// - **verbs** answering decision events: [`accept_login`](Self::accept_login),
///   [`reject_login`](Self::reject_login), [`message_chunk`](Self::message_chunk),
///   [`end_message`](Self::end_message), [`fail_message`](Self::fail_message),
///   [`accept_update`](Self::accept_update), [`reject_update`](Self::reject_update),
///   and [`shutdown`](Self::shutdown);
/// - **getters** taking `&self`.
///
/// The session answers everything it can by itself (CAPA, STAT, LIST, UIDL,
/// DELE, RSET, NOOP, syntax and state errors) and pauses on what the
/// application owns: checking credentials, reading a message, and deleting
/// messages at QUIT (the UPDATE state: DELE only marks). It never holds a
/// whole message: RETR and TOP bytes pass through a streaming dot-stuffer
/// as the application feeds them.
///
/// ```
/// use pop3_proto::{Event, MessageInfo, Output, Pop3Config, Pop3Session, Uid};
/// use std::time::Instant;
///
/// let now = Instant::now(); // the adapter's clock; the session reads none
/// let config = Pop3Config::new("pop.example.com").with_plaintext_auth(true);
/// let mut session = Pop3Session::new(config, now);
/// let message = b"Subject: hi\r\n\r\nHello\r\n";
/// let mut sent = Vec::new();
/// let mut drive = |s: &mut Pop3Session, sent: &mut Vec<u8>| {
///     while let Some(out) = s.poll_output() {
///         match out {
///             Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
///             Output::Event(Event::Login(creds)) => {
///                 if creds.verify_password("secret") {
///                     let uid = Uid::new("m1").unwrap();
///                     s.accept_login(vec![MessageInfo { size: message.len() as u64, uid }]).unwrap();
///                 } else {
///                     s.reject_login().unwrap();
///                 }
///             }
///             Output::Event(Event::Retrieve { .. }) => {
///                 for chunk in message.chunks(4) {
///                     s.message_chunk(chunk).unwrap();
///                 }
///                 s.end_message().unwrap();
///             }
///             Output::Event(Event::Update { deletions }) => {
///                 assert_eq!(deletions.len(), 1); // remove the files here
///                 s.accept_update().unwrap();
///             }
///             Output::Event(_) | Output::StartTls | Output::Close => {}
///         }
///     }
/// };
/// drive(&mut session, &mut sent);
/// session.feed(now, b"USER alice\r\nPASS secret\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
/// drive(&mut session, &mut sent);
/// let text = String::from_utf8(sent).unwrap();
/// assert!(text.contains("+OK 22 octets\r\nSubject: hi\r\n\r\nHello\r\n.\r\n"));
/// assert!(text.ends_with("signing off (0 messages left)\r\n"));
/// ```
#[derive(Debug)]
pub struct Pop3Session {
    config: Arc<Pop3Config>,
    hostname: String,
    out: VecDeque<Output<Event>>,
    lines: LineBuffer,
    state: State,
    pending: Option<Pending>,
    tls: Option<TlsInfo>,
    /// The name from USER, waiting for PASS.
    user: Option<String>,
    authenticated: Option<String>,
    messages: Vec<Entry>,
    errors: usize,
    auth_failures: usize,
    deadline: Option<Instant>,
    /// An answer came while the clock was unknown: the next `poll_timeout`
    /// asks for an immediate `handle_timeout` to restart the idle timer.
    rearm: bool,
    /// The latest time an input carried.
    last_now: Instant,
    /// A refused login whose `-ERR` is held back until `until`.
    held: Option<Held>,
    apop_timestamp: Option<String>,
}

#[derive(Debug)]
enum State {
    Authorization,
    Sasl(SaslServer),
    Transaction,
    TlsHandshake,
    Closed,
}

#[derive(Debug)]
enum Pending {
    Login(String),
    Retrieve {
        stream: MessageStream,
        started: bool,
        size: u64,
    },
    Update,
}

#[derive(Debug)]
struct Held {
    until: Instant,
    close: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    info: MessageInfo,
    deleted: bool,
}

fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() || c == ' ' { '?' } else { c })
        .collect()
}

fn parse_error_response(e: ParseError) -> Response {
    Response::err(match e {
        ParseError::Empty => "empty command",
        ParseError::UnknownCommand => "unknown command",
        ParseError::MissingArgument => "missing argument",
        ParseError::UnexpectedArgument => "unexpected argument",
        ParseError::BadNumber => "invalid number",
        _ => "invalid argument",
    })
}

impl Pop3Session {
    /// A session for a new connection; the greeting is queued at once. For
    /// implicit TLS (port 995), handshake first and call
    /// [`tls_established`](Self::tls_established) before feeding bytes.
    pub fn new(config: impl Into<Arc<Pop3Config>>, now: Instant) -> Pop3Session {
        Pop3Session::build(config.into(), now, None)
    }

    /// Like [`new`](Self::new), and offers APOP with this greeting timestamp,
    /// which must look like `<unique@host>` and be unique per connection
    /// (RFC 1939 §7; the core has no clock or random source to make one).
    /// A timestamp of another shape leaves APOP off.
    pub fn with_apop(
        config: impl Into<Arc<Pop3Config>>,
        now: Instant,
        timestamp: &str,
    ) -> Pop3Session {
        let valid = timestamp.len() <= 200
            && timestamp.starts_with('<')
            && timestamp.ends_with('>')
            && timestamp.bytes().all(|b| (0x21..=0x7e).contains(&b));
        Pop3Session::build(config.into(), now, valid.then(|| timestamp.to_owned()))
    }

    fn build(config: Arc<Pop3Config>, now: Instant, apop: Option<String>) -> Pop3Session {
        let frame = LineConfig {
            max_len: config.max_command_line.max(config.max_sasl_line),
            allow_bare_lf: false,
        };
        let mut session = Pop3Session {
            hostname: printable(&config.hostname),
            out: VecDeque::new(),
            lines: LineBuffer::new(frame),
            state: State::Authorization,
            pending: None,
            tls: None,
            user: None,
            authenticated: None,
            messages: Vec::new(),
            errors: 0,
            auth_failures: 0,
            deadline: now.checked_add(config.idle_timeout),
            rearm: false,
            last_now: now,
            held: None,
            apop_timestamp: apop,
            config,
        };
        let greeting = match &session.apop_timestamp {
            Some(ts) => format!("{} POP3 server ready {ts}", session.hostname),
            None => format!("{} POP3 server ready", session.hostname),
        };
        session.send(&Response::ok(&greeting));
        session
    }

    // ----- inputs -------------------------------------------------------

    /// Bytes received from the client.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        if matches!(self.state, State::Closed) || bytes.is_empty() {
            return;
        }
        self.last_now = now;
        self.rearm = false;
        self.deadline = now.checked_add(self.config.idle_timeout);
        if matches!(self.state, State::TlsHandshake) {
            return self.close_with(
                &Response::err("plaintext during TLS negotiation"),
                CloseReason::StlsViolation,
            );
        }
        self.lines.push(bytes);
        if (self.pending.is_some() || self.held.is_some())
            && self.lines.buffered().len() > self.config.max_pending_input
        {
            let response =
                Response::err("too much input while busy").with_code(ResponseCode::SysTemp);
            return self.close_with(&response, CloseReason::InputOverflow);
        }
        self.run();
    }

    /// The client closed its side of the connection. Nothing marked with
    /// DELE is deleted (RFC 1939 §6: only QUIT enters UPDATE).
    pub fn feed_eof(&mut self, _now: Instant) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.state = State::Closed;
        self.pending = None;
        self.held = None;
        self.out
            .push_back(Output::Event(Event::Closed(CloseReason::PeerClosed)));
        self.out.push_back(Output::Close);
    }

    /// The deadline from [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.last_now = now;
        if let Some(held) = &self.held {
            if now < held.until {
                return;
            }
            let close = held.close;
            self.held = None;
            self.deadline = now.checked_add(self.config.idle_timeout);
            let refused = Response::err("invalid credentials").with_code(ResponseCode::Auth);
            if close {
                return self.close_with(&refused, CloseReason::TooManyAuthFailures);
            }
            self.send(&refused);
            return self.run();
        }
        if self.pending.is_some() {
            return;
        }
        if self.rearm {
            // The application answered since the last input: the client's
            // idle time starts now, not when it last spoke.
            self.rearm = false;
            self.deadline = now.checked_add(self.config.idle_timeout);
            return;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.close_with(
                &Response::err("autologout: idle for too long"),
                CloseReason::Timeout,
            );
        }
    }

    /// The TLS handshake the session asked for (or implicit TLS) finished.
    /// The session is back in the AUTHORIZATION state with nothing
    /// remembered from before (RFC 2595 §4).
    pub fn tls_established(&mut self, now: Instant, info: TlsInfo) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.last_now = now;
        self.rearm = false;
        self.user = None;
        self.state = State::Authorization;
        self.tls = Some(info.clone());
        self.deadline = now.checked_add(self.config.idle_timeout);
        self.out.push_back(Output::Event(Event::TlsStarted(info)));
        self.run();
    }

    // ----- outputs ------------------------------------------------------

    /// The next thing to do, in order. Drain it after every input and every
    /// verb: message bytes wait here until polled.
    pub fn poll_output(&mut self) -> Option<Output<Event>> {
        loop {
            match self.out.pop_front() {
                Some(Output::Transmit(bytes)) if bytes.is_empty() => continue,
                other => return other,
            }
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout). `None` while a
    /// decision is pending (the application's time is not the client's) or
    /// after close. Right after the application answered it is a time
    /// already past: call `handle_timeout(now)` at once, so the idle timer
    /// restarts from the real time of the answer (verbs take no clock).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Closed) {
            return None;
        }
        if let Some(held) = &self.held {
            return Some(held.until);
        }
        if self.pending.is_some() {
            return None;
        }
        if self.rearm {
            return Some(self.last_now);
        }
        self.deadline
    }

    // ----- verbs ----------------------------------------------------------

    /// Accepts the pending login: the maildrop is locked and holds these
    /// messages (message number n is `listing[n - 1]`).
    pub fn accept_login(&mut self, listing: Vec<MessageInfo>) -> Result<(), UsageError> {
        let Some(Pending::Login(user)) = self.pending.take_if(|p| matches!(p, Pending::Login(_)))
        else {
            return Err(UsageError::NotPending);
        };
        self.messages = listing
            .into_iter()
            .map(|info| Entry {
                info,
                deleted: false,
            })
            .collect();
        let (count, size) = self.totals();
        self.send(&Response::ok(&format!(
            "{}'s maildrop has {count} messages ({size} octets)",
            printable(&user)
        )));
        self.authenticated = Some(user);
        self.state = State::Transaction;
        self.answered();
        Ok(())
    }

    /// Refuses the pending login as wrong credentials: `-ERR [AUTH]`, held
    /// back for `auth_failure_delay`; after `max_auth_failures` refusals the
    /// session closes.
    pub fn reject_login(&mut self) -> Result<(), UsageError> {
        if self
            .pending
            .take_if(|p| matches!(p, Pending::Login(_)))
            .is_none()
        {
            return Err(UsageError::NotPending);
        }
        self.auth_failures += 1;
        let close = self.auth_failures >= self.config.max_auth_failures;
        self.state = State::Authorization;
        // A delay too large for an Instant is cut to a day.
        let until = self
            .last_now
            .checked_add(self.config.auth_failure_delay)
            .or_else(|| {
                self.last_now
                    .checked_add(std::time::Duration::from_secs(86_400))
            })
            .unwrap_or(self.last_now);
        self.held = Some(Held { until, close });
        if self.config.auth_failure_delay.is_zero() {
            self.handle_timeout(self.last_now);
        }
        Ok(())
    }

    /// Refuses the pending login for another reason, at once and without
    /// counting it as a failure — for example `-ERR [IN-USE]` when the
    /// maildrop is locked by another session, or `[SYS/TEMP]`. A positive
    /// response is sent as `-ERR` with the same text.
    pub fn reject_login_with(&mut self, response: Response) -> Result<(), UsageError> {
        if self
            .pending
            .take_if(|p| matches!(p, Pending::Login(_)))
            .is_none()
        {
            return Err(UsageError::NotPending);
        }
        self.state = State::Authorization;
        self.send(&negative(response));
        self.answered();
        Ok(())
    }

    /// The next piece of the message being retrieved. The first call sends
    /// the `+OK` line. Drain [`poll_output`](Self::poll_output) between
    /// calls: the session keeps only what was not polled yet.
    pub fn message_chunk(&mut self, chunk: &[u8]) -> Result<(), UsageError> {
        let Some(Pending::Retrieve {
            stream,
            started,
            size,
        }) = &mut self.pending
        else {
            return Err(UsageError::NotPending);
        };
        let first = !*started;
        *started = true;
        let size = *size;
        let top = stream_is_top(stream);
        transmit_with(&mut self.out, |buf| {
            if first {
                ok_for_retrieve(size, top).write_to(buf);
            }
            stream.push(chunk, buf);
        });
        Ok(())
    }

    /// The message being retrieved is complete: `.` CRLF ends the response.
    pub fn end_message(&mut self) -> Result<(), UsageError> {
        let Some(Pending::Retrieve {
            mut stream,
            started,
            size,
        }) = self
            .pending
            .take_if(|p| matches!(p, Pending::Retrieve { .. }))
        else {
            return Err(UsageError::NotPending);
        };
        let top = stream_is_top(&stream);
        transmit_with(&mut self.out, |buf| {
            if !started {
                ok_for_retrieve(size, top).write_to(buf);
            }
            stream.finish(buf);
        });
        self.answered();
        Ok(())
    }

    /// The message cannot be read (for example it vanished): sends this
    /// response as `-ERR`. Only before the first chunk; after it, the only
    /// way out is [`shutdown`](Self::shutdown).
    pub fn fail_message(&mut self, response: Response) -> Result<(), UsageError> {
        match &self.pending {
            Some(Pending::Retrieve { started: true, .. }) => {
                return Err(UsageError::AlreadyStarted)
            }
            Some(Pending::Retrieve { .. }) => {}
            _ => return Err(UsageError::NotPending),
        }
        self.pending = None;
        self.send(&negative(response));
        self.answered();
        Ok(())
    }

    /// The marked messages are gone and the maildrop released: `+OK`, close.
    pub fn accept_update(&mut self) -> Result<(), UsageError> {
        if self
            .pending
            .take_if(|p| matches!(p, Pending::Update))
            .is_none()
        {
            return Err(UsageError::NotPending);
        }
        let left = self.messages.iter().filter(|e| !e.deleted).count();
        let text = format!(
            "{} POP3 server signing off ({left} messages left)",
            self.hostname
        );
        self.close_with(&Response::ok(&text), CloseReason::Quit);
        Ok(())
    }

    /// Some marked messages could not be removed: `-ERR [SYS/TEMP]`, close
    /// (RFC 1939 §6).
    pub fn reject_update(&mut self) -> Result<(), UsageError> {
        if self
            .pending
            .take_if(|p| matches!(p, Pending::Update))
            .is_none()
        {
            return Err(UsageError::NotPending);
        }
        let response =
            Response::err("some deleted messages not removed").with_code(ResponseCode::SysTemp);
        self.close_with(&response, CloseReason::Quit);
        Ok(())
    }

    /// Ends the session now without deleting anything. Mid-message, the
    /// connection just closes (the client sees a truncated response, never
    /// a false end); otherwise `-ERR [SYS/TEMP]` is sent first.
    pub fn shutdown(&mut self) {
        if matches!(self.state, State::Closed) {
            return;
        }
        if matches!(self.pending, Some(Pending::Retrieve { started: true, .. })) {
            self.state = State::Closed;
            self.pending = None;
            self.out
                .push_back(Output::Event(Event::Closed(CloseReason::Shutdown)));
            self.out.push_back(Output::Close);
            return;
        }
        let response = Response::err("server shutting down").with_code(ResponseCode::SysTemp);
        self.close_with(&response, CloseReason::Shutdown);
    }

    // ----- getters --------------------------------------------------------

    /// TLS is in force.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
    /// The TLS handshake's details.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }
    /// The user whose login was accepted.
    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }
    /// A decision is waiting for the application.
    pub fn is_paused(&self) -> bool {
        self.pending.is_some()
    }
    /// The session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }
    /// A RETR or TOP is waiting for message bytes; false once TOP has sent
    /// the lines it asked for (the rest of the message need not be read).
    pub fn wants_more(&self) -> bool {
        matches!(&self.pending, Some(Pending::Retrieve { stream, .. }) if !stream.is_complete())
    }
    /// Messages marked with DELE so far (indexes into the listing).
    pub fn marked_for_deletion(&self) -> Vec<usize> {
        self.messages
            .iter()
            .enumerate()
            .filter(|(_, e)| e.deleted)
            .map(|(i, _)| i)
            .collect()
    }

    // ----- internals ------------------------------------------------------

    fn send(&mut self, response: &Response) {
        transmit_with(&mut self.out, |buf| response.write_to(buf));
    }

    /// Sends a multi-line response: the status, each line dot-stuffed, `.`.
    fn send_multiline(&mut self, status: &Response, lines: &[String]) {
        transmit_with(&mut self.out, |buf| {
            status.write_to(buf);
            let mut stream = MessageStream::new(None);
            for line in lines {
                stream.push(line.as_bytes(), buf);
                stream.push(b"\r\n", buf);
            }
            stream.finish(buf);
        });
    }

    /// An error the session chose; too many of them end the session.
    fn error(&mut self, response: &Response) {
        self.send(response);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.close_with(
                &Response::err("too many errors"),
                CloseReason::TooManyErrors,
            );
        }
    }

    fn close_with(&mut self, response: &Response, reason: CloseReason) {
        self.send(response);
        self.state = State::Closed;
        self.pending = None;
        self.held = None;
        self.out.push_back(Output::Event(Event::Closed(reason)));
        self.out.push_back(Output::Close);
    }

    fn decide(&mut self, pending: Pending, event: Event) {
        self.pending = Some(pending);
        self.out.push_back(Output::Event(event));
    }

    /// A verb settled a decision: restart the idle timer and go on with the
    /// commands that arrived meanwhile.
    fn answered(&mut self) {
        self.rearm = true;
        self.run();
    }

    fn totals(&self) -> (usize, u64) {
        self.messages
            .iter()
            .filter(|e| !e.deleted)
            .fold((0, 0), |(n, s), e| (n + 1, s.saturating_add(e.info.size)))
    }

    /// Index of message number `n` if it exists and is not deleted.
    fn entry(&self, n: u32) -> Option<usize> {
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        self.messages
            .get(index)
            .filter(|e| !e.deleted)
            .map(|_| index)
    }

    /// Password-revealing logins are allowed now.
    fn plaintext_ok(&self) -> bool {
        self.tls.is_some() || self.config.allow_plaintext_auth
    }

    fn run(&mut self) {
        loop {
            if self.pending.is_some()
                || self.held.is_some()
                || matches!(self.state, State::Closed | State::TlsHandshake)
            {
                return;
            }
            let line = match self.lines.next_line() {
                LineStatus::NeedMore => return,
                LineStatus::Line(line) => line.to_vec(),
                LineStatus::TooLong => {
                    self.leave_sasl();
                    self.error(&Response::err("line too long"));
                    continue;
                }
                LineStatus::BareLf => {
                    self.leave_sasl();
                    self.error(&Response::err("lines must end with CRLF"));
                    continue;
                }
            };
            if matches!(self.state, State::Sasl(_)) {
                self.sasl_response(&line);
                continue;
            }
            let is_auth = line.len() >= 5
                && line
                    .get(..5)
                    .is_some_and(|k| k.eq_ignore_ascii_case(b"AUTH "));
            if !is_auth && line.len() + 2 > self.config.max_command_line {
                self.error(&Response::err("line too long"));
                continue;
            }
            match Command::parse(&line) {
                Ok(command) => self.command(command),
                Err(e) => self.error(&parse_error_response(e)),
            }
        }
    }

    fn leave_sasl(&mut self) {
        if matches!(self.state, State::Sasl(_)) {
            self.state = State::Authorization;
        }
    }
}

fn stream_is_top(stream: &MessageStream) -> bool {
    stream.is_top()
}

fn ok_for_retrieve(size: u64, top: bool) -> Response {
    if top {
        Response::ok("top of message follows")
    } else {
        Response::ok(&format!("{size} octets"))
    }
}

fn negative(response: Response) -> Response {
    if response.is_positive() {
        let mut r = Response::err(response.text());
        if let Some(code) = response.code() {
            r = r.with_code(code);
        }
        r
    } else {
        response
    }
}

/// Appends to the transmission at the back of the queue, or starts one, so
/// consecutive bytes go out in one write.
fn transmit_with(out: &mut VecDeque<Output<Event>>, write: impl FnOnce(&mut Vec<u8>)) {
    if !matches!(out.back(), Some(Output::Transmit(_))) {
        out.push_back(Output::Transmit(Vec::new()));
    }
    if let Some(Output::Transmit(last)) = out.back_mut() {
        write(last);
    }
}
