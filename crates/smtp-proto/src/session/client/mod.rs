//! The client half: [`ClientSession`] sends messages to an SMTP server.
//!
//! It waits for the greeting, says EHLO (HELO when EHLO is not understood),
//! runs STARTTLS and AUTH as configured, then sends each [`Envelope`] with the
//! parameters the message needs, pipelined when the server allows it, and
//! reports a [`DeliveryReport`] per transaction.

mod auth;
mod config;
mod envelope;
mod error;
mod transaction;

pub use config::{ClientConfig, ClientTimeouts, TlsPolicy};
pub use envelope::{DeliveryReport, Envelope, Recipient, RecipientStatus};
pub use error::{AuthFailure, ClientError, Phase};

use super::outbox::Outbox;
use super::{Output, TlsInfo};
use crate::framing::{LineBuffer, LineConfig, LineStatus};
use crate::types::{Capabilities, Command, Mechanism, Reply, ReplyCode, ReplyParser};
use crate::ParseError;
use auth::AuthExchange;
use std::collections::VecDeque;
use std::time::Instant;
use transaction::{Pending, Transaction};

/// What a [`ClientSession`] tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Greeting, EHLO (or HELO), STARTTLS and AUTH are done as configured:
    /// [`ClientSession::send`] may be called.
    Ready {
        /// What the server offers (after TLS, when TLS is in use).
        capabilities: Capabilities,
        /// The TLS handshake's outcome, when TLS is in use.
        tls: Option<TlsInfo>,
        /// The mechanism that authenticated, when AUTH ran.
        authenticated: Option<Mechanism>,
    },
    /// The server waits for the body: call [`ClientSession::send_body`] for
    /// each chunk, then [`ClientSession::end_body`].
    SendBody,
    /// The server took responsibility for the message.
    Delivered(DeliveryReport),
    /// MAIL was refused, every RCPT was refused, DATA was refused or the
    /// final reply was negative. The session stays usable (RSET was sent).
    TransactionFailed(DeliveryReport),
    /// The session is over; a [`Output::Close`] follows.
    Failed(ClientError),
    /// The server answered QUIT (or closed after it); a [`Output::Close`] follows.
    Closed,
}

/// Where the session is, apart from the replies in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Greeting, EHLO, STARTTLS, AUTH.
    Setup,
    /// The 220 to STARTTLS arrived; the adapter runs the handshake.
    Handshake,
    /// Transactions may run.
    Ready,
    /// QUIT was sent.
    Quitting,
    /// Over.
    Closed,
}

/// A sans-IO SMTP client session.
///
/// Methods come in four kinds, as in every session of this crate:
/// - inputs: [`feed`](Self::feed), [`feed_eof`](Self::feed_eof),
///   [`handle_timeout`](Self::handle_timeout), [`tls_established`](Self::tls_established);
/// - outputs: [`poll_output`](Self::poll_output), [`poll_timeout`](Self::poll_timeout);
/// - verbs from the application: [`send`](Self::send), [`send_body`](Self::send_body),
///   [`end_body`](Self::end_body), [`quit`](Self::quit);
/// - getters: [`capabilities`](Self::capabilities), [`is_tls`](Self::is_tls),
///   [`is_ready`](Self::is_ready).
///
/// After each input or verb, drain every output in order, then arm a timer
/// from `poll_timeout`. Verbs take no time argument: they use the time of the
/// latest input.
///
/// ```text
/// let mut session = ClientSession::new(config, now());
/// let mut body = Some(message_bytes);
/// loop {
///     while let Some(out) = session.poll_output() {
///         match out {
///             Output::Transmit(bytes) => socket.write_all(&bytes)?,   // one write per batch
///             Output::StartTls => { tls_handshake()?; session.tls_established(now(), info) }
///             Output::Close => return Ok(()),
///             Output::Event(ClientEvent::Ready { .. }) => session.send(envelope.clone())?,
///             Output::Event(ClientEvent::SendBody) => {
///                 for chunk in body.take().unwrap().chunks(64 * 1024) { session.send_body(chunk)? }
///                 session.end_body()?;
///             }
///             Output::Event(ClientEvent::Delivered(report))
///             | Output::Event(ClientEvent::TransactionFailed(report)) => { show(report); session.quit()? }
///             Output::Event(ClientEvent::Failed(error)) => show_error(error),  // Close follows
///             Output::Event(ClientEvent::Closed) => {}                         // Close follows
///         }
///     }
///     match read_until(session.poll_timeout()) {
///         Read(bytes) => session.feed(now(), &bytes),
///         Eof => session.feed_eof(now()),
///         TimedOut => session.handle_timeout(now()),
///     }
/// }
/// ```
///
/// With [`TlsPolicy::Implicit`] the adapter runs the handshake first and calls
/// `tls_established` before feeding the first byte.
///
/// A runnable dialogue:
///
/// ```
/// use smtp_proto::session::{ClientConfig, ClientEvent, ClientSession, Envelope, Output, Recipient, TlsPolicy};
/// use smtp_proto::{Host, Mailbox};
/// use std::time::Instant;
///
/// let now = Instant::now();
/// let config = ClientConfig::new(Host::parse("client.example").unwrap()).with_tls(TlsPolicy::None);
/// let mut client = ClientSession::new(config, now);
/// client.feed(now, b"220 mx.example ESMTP\r\n");
/// assert_eq!(client.poll_output(), Some(Output::Transmit(b"EHLO client.example\r\n".to_vec())));
/// client.feed(now, b"250-mx.example\r\n250 PIPELINING\r\n");
/// assert!(matches!(client.poll_output(), Some(Output::Event(ClientEvent::Ready { .. }))));
///
/// let envelope = Envelope::new(Mailbox::parse("a@example.com").unwrap().into())
///     .with_recipient(Recipient::new(Mailbox::parse("b@example.org").unwrap()));
/// client.send(envelope).unwrap();
/// assert_eq!(
///     client.poll_output(),
///     Some(Output::Transmit(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n".to_vec()))
/// );
/// client.feed(now, b"250 ok\r\n250 ok\r\n354 go\r\n");
/// assert_eq!(client.poll_output(), Some(Output::Event(ClientEvent::SendBody)));
/// client.send_body(b"Subject: hi\r\n\r\nHello\r\n").unwrap();
/// client.end_body().unwrap();
/// assert_eq!(
///     client.poll_output(),
///     Some(Output::Transmit(b"Subject: hi\r\n\r\nHello\r\n.\r\n".to_vec()))
/// );
/// client.feed(now, b"250 2.0.0 Ok: queued as 4F2A1C\r\n");
/// let Some(Output::Event(ClientEvent::Delivered(report))) = client.poll_output() else { panic!() };
/// assert_eq!(report.queue_id.as_deref(), Some("4F2A1C"));
/// ```
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    outbox: Outbox<ClientEvent>,
    lines: LineBuffer,
    parser: ReplyParser,
    now: Instant,
    deadline: Option<Instant>,
    stage: Stage,
    /// The reply each command in flight waits for (its phase), oldest
    /// first; never `Phase::Idle`.
    expect: VecDeque<Phase>,
    capabilities: Option<Capabilities>,
    tls_active: bool,
    tls: Option<TlsInfo>,
    ehlo_refusal: Option<Reply>,
    auth: Option<AuthExchange>,
    authenticated: Option<Mechanism>,
    transactions: VecDeque<Transaction>,
    queued: VecDeque<Pending>,
    quit_requested: bool,
}

impl ClientSession {
    /// A session waiting for the server's greeting.
    pub fn new(config: ClientConfig, now: Instant) -> ClientSession {
        let parser = ReplyParser::with_max_lines(config.max_reply_lines);
        let tls_active = config.tls == TlsPolicy::Implicit;
        let mut session = ClientSession {
            config,
            outbox: Outbox::default(),
            lines: LineBuffer::new(LineConfig::REPLY),
            parser,
            now,
            deadline: None,
            stage: Stage::Setup,
            expect: VecDeque::new(),
            capabilities: None,
            tls_active,
            tls: None,
            ehlo_refusal: None,
            auth: None,
            authenticated: None,
            transactions: VecDeque::new(),
            queued: VecDeque::new(),
            quit_requested: false,
        };
        session.expect_reply(Phase::Greeting);
        session
    }

    // ----- getters -----

    /// What the server offers, once EHLO (or HELO) was answered. Forgotten
    /// when STARTTLS succeeds, until the new EHLO is answered.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// The connection is encrypted (STARTTLS done, or implicit TLS).
    pub fn is_tls(&self) -> bool {
        self.tls_active
    }

    /// Setup is done and the session takes [`send`](Self::send).
    pub fn is_ready(&self) -> bool {
        self.stage == Stage::Ready && !self.quit_requested
    }

    // ----- inputs -----

    /// Takes bytes from the server.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        self.now = now;
        match self.stage {
            Stage::Closed => {}
            Stage::Handshake if !bytes.is_empty() => self.fail(ClientError::PlaintextAfterStartTls),
            _ => {
                self.lines.push(bytes);
                self.read_replies();
            }
        }
    }

    /// The server closed the connection (or the TLS handshake failed).
    pub fn feed_eof(&mut self, now: Instant) {
        self.now = now;
        match self.stage {
            Stage::Closed => {}
            Stage::Quitting => self.close_after_quit(),
            _ => self.fail(ClientError::ConnectionClosed {
                phase: self.phase(),
            }),
        }
    }

    /// The timer armed from [`poll_timeout`](Self::poll_timeout) fired.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.deadline.is_some_and(|d| now >= d) {
            self.fail(ClientError::Timeout {
                phase: self.phase(),
            });
        }
    }

    /// The TLS handshake asked for by [`Output::StartTls`] succeeded (or, with
    /// [`TlsPolicy::Implicit`], the handshake before the greeting did). After
    /// STARTTLS the session forgets the capabilities and says EHLO again
    /// (RFC 3207 §4.2).
    pub fn tls_established(&mut self, now: Instant, info: TlsInfo) {
        self.now = now;
        match self.stage {
            Stage::Handshake => {
                self.tls_active = true;
                self.tls = Some(info);
                self.capabilities = None;
                self.lines = LineBuffer::new(LineConfig::REPLY);
                self.parser = ReplyParser::with_max_lines(self.config.max_reply_lines);
                self.stage = Stage::Setup;
                self.send_ehlo();
            }
            Stage::Setup if self.config.tls == TlsPolicy::Implicit => self.tls = Some(info),
            _ => {}
        }
    }

    // ----- outputs -----

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output<ClientEvent>> {
        self.outbox.pop()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called if no
    /// byte arrives: the deadline of the reply (or handshake) waited for.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    // ----- verbs -----

    /// Asks to close the session politely: QUIT is sent once the
    /// transactions in flight are done, and [`ClientEvent::Closed`] follows
    /// the reply.
    pub fn quit(&mut self) -> Result<(), ClientError> {
        if matches!(self.stage, Stage::Closed | Stage::Quitting) || self.quit_requested {
            return Err(ClientError::Usage("the session is already closing"));
        }
        if self.transactions.iter().any(Transaction::in_body) {
            return Err(ClientError::Usage("end the message body before QUIT"));
        }
        self.quit_requested = true;
        self.pump();
        Ok(())
    }

    // ----- internals -----

    /// The step the session is in: the oldest reply waited for.
    fn phase(&self) -> Phase {
        match self.expect.front() {
            Some(&e) => e,
            None if self.stage == Stage::Handshake => Phase::StartTls,
            None if self.transactions.iter().any(Transaction::in_body) => Phase::Body,
            None => Phase::Idle,
        }
    }

    fn timeout_for(&self, expect: Phase) -> std::time::Duration {
        let t = &self.config.timeouts;
        match expect {
            Phase::Greeting => t.greeting,
            Phase::Ehlo | Phase::Helo => t.ehlo,
            Phase::StartTls => t.starttls,
            Phase::Auth => t.auth,
            Phase::Mail | Phase::Rset => t.mail,
            Phase::Rcpt => t.rcpt,
            Phase::Data => t.data_init,
            Phase::Body => t.data_block,
            Phase::EndOfData => t.data_end,
            Phase::Quit => t.quit,
            // Never waited for: no command expects "idle" as its reply.
            Phase::Idle => t.mail,
        }
    }

    /// Records a command in flight; its timer starts when it becomes the
    /// oldest one.
    fn expect_reply(&mut self, expect: Phase) {
        if self.expect.is_empty() {
            self.deadline = Some(self.now + self.timeout_for(expect));
        }
        self.expect.push_back(expect);
    }

    fn send_command(&mut self, command: &Command, expect: Phase) {
        self.outbox.transmit_with(|out| command.write_to(out));
        self.expect_reply(expect);
    }

    /// Ends the session with an error: QUIT when the server can still read
    /// one (RFC 5321 §4.1.1.10: a client does not close without it), the
    /// event, then Close. QUIT's reply is not waited for: the session is
    /// over either way.
    fn fail(&mut self, error: ClientError) {
        if self.stage == Stage::Closed {
            return;
        }
        if self.can_say_quit(&error) {
            self.outbox.transmit(b"QUIT\r\n");
        }
        self.outbox.event(ClientEvent::Failed(error));
        self.shut();
    }

    /// Not to a server that is gone or closing (421), not in the middle of a body (it would
    /// be data) and not where a TLS handshake is due.
    fn can_say_quit(&self, error: &ClientError) -> bool {
        !matches!(
            error,
            ClientError::ConnectionClosed { .. }
                | ClientError::ServiceClosing { .. }
                | ClientError::PlaintextAfterStartTls
        ) && self.stage != Stage::Handshake
            && self.stage != Stage::Quitting
            && !self.transactions.iter().any(Transaction::in_body)
    }

    fn close_after_quit(&mut self) {
        self.outbox.event(ClientEvent::Closed);
        self.shut();
    }

    fn shut(&mut self) {
        self.outbox.close();
        self.stage = Stage::Closed;
        self.deadline = None;
        self.expect.clear();
        self.transactions.clear();
        self.queued.clear();
        self.auth = None;
    }

    fn read_replies(&mut self) {
        loop {
            if self.stage == Stage::Closed {
                return;
            }
            if self.stage == Stage::Handshake {
                // Anything after the 220 to STARTTLS came in plaintext and
                // could have been injected: never read it.
                if !self.lines.is_empty() {
                    self.fail(ClientError::PlaintextAfterStartTls);
                }
                return;
            }
            let result = match self.lines.next_line() {
                LineStatus::Line(line) => self.parser.push_line(line),
                LineStatus::NeedMore => return,
                LineStatus::TooLong => Err(ParseError::LineTooLong {
                    limit: LineConfig::REPLY.max_len,
                }),
                LineStatus::BareLf => Err(ParseError::BadReply),
            };
            match result {
                Ok(None) => {}
                Ok(Some(reply)) => self.on_reply(reply),
                Err(error) => {
                    let phase = self.phase();
                    self.fail(ClientError::BadReply { phase, error });
                }
            }
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        let Some(expect) = self.expect.pop_front() else {
            if reply.code() == ReplyCode::SERVICE_NOT_AVAILABLE {
                let phase = self.phase();
                self.fail(ClientError::ServiceClosing { phase, reply });
            } else {
                self.fail(ClientError::Unsolicited(reply));
            }
            return;
        };
        self.deadline = self
            .expect
            .front()
            .map(|&next| self.now + self.timeout_for(next));
        if reply.code() == ReplyCode::SERVICE_NOT_AVAILABLE && expect != Phase::Quit {
            self.fail(ClientError::ServiceClosing {
                phase: expect,
                reply,
            });
            return;
        }
        match expect {
            Phase::Greeting => self.on_greeting(reply),
            Phase::Ehlo => self.on_ehlo(reply),
            Phase::Helo => self.on_helo(reply),
            Phase::StartTls => self.on_starttls(reply),
            Phase::Auth => self.on_auth_reply(reply),
            Phase::Mail | Phase::Rcpt | Phase::Data | Phase::Body | Phase::EndOfData => {
                self.on_transaction_reply(expect, reply)
            }
            Phase::Rset if reply.is_positive() => {}
            Phase::Rset => self.fail(ClientError::Rejected {
                phase: Phase::Rset,
                reply,
                ehlo_reply: None,
            }),
            Phase::Quit => self.close_after_quit(),
            // Never queued: no command expects "idle" as its reply.
            Phase::Idle => {}
        }
        self.pump();
    }

    fn on_greeting(&mut self, reply: Reply) {
        if reply.code() == ReplyCode::SERVICE_READY {
            self.send_ehlo();
        } else {
            self.fail(ClientError::Rejected {
                phase: Phase::Greeting,
                reply,
                ehlo_reply: None,
            });
        }
    }

    fn send_ehlo(&mut self) {
        let command = Command::Ehlo(self.config.helo_name.clone());
        self.send_command(&command, Phase::Ehlo);
    }

    fn on_ehlo(&mut self, reply: Reply) {
        let code = reply.code();
        if code == ReplyCode::OK {
            match Capabilities::from_ehlo_reply(&reply) {
                Ok(capabilities) => {
                    self.capabilities = Some(capabilities);
                    self.after_hello();
                }
                Err(error) => self.fail(ClientError::BadReply {
                    phase: Phase::Ehlo,
                    error,
                }),
            }
        } else if code == ReplyCode::SYNTAX_ERROR || code == ReplyCode::NOT_IMPLEMENTED {
            self.ehlo_refusal = Some(reply);
            let command = Command::Helo(self.config.helo_name.clone());
            self.send_command(&command, Phase::Helo);
        } else {
            self.fail(ClientError::Rejected {
                phase: Phase::Ehlo,
                reply,
                ehlo_reply: None,
            });
        }
    }

    fn on_helo(&mut self, reply: Reply) {
        if !reply.is_positive() {
            let ehlo_reply = self.ehlo_refusal.take();
            self.fail(ClientError::Rejected {
                phase: Phase::Helo,
                reply,
                ehlo_reply,
            });
            return;
        }
        // HELO offers no extensions; only the server's name is kept.
        let capabilities = Capabilities::from_ehlo_reply(&reply)
            .map(|c| Capabilities::new(c.server_name()))
            .unwrap_or_else(|_| Capabilities::new("unknown"));
        match capabilities {
            Ok(capabilities) => {
                self.capabilities = Some(capabilities);
                self.after_hello();
            }
            Err(error) => self.fail(ClientError::BadReply {
                phase: Phase::Helo,
                error,
            }),
        }
    }

    /// EHLO (or HELO) answered: STARTTLS when the policy asks, else AUTH.
    fn after_hello(&mut self) {
        if !self.tls_active {
            let offered = self
                .capabilities
                .as_ref()
                .is_some_and(Capabilities::starttls);
            match (self.config.tls, offered) {
                (TlsPolicy::Required | TlsPolicy::Opportunistic, true) => {
                    self.send_command(&Command::StartTls, Phase::StartTls);
                    return;
                }
                (TlsPolicy::Required, false) => {
                    self.fail(ClientError::StartTlsUnavailable);
                    return;
                }
                _ => {}
            }
        }
        self.start_auth();
    }

    fn on_starttls(&mut self, reply: Reply) {
        if reply.code() == ReplyCode::SERVICE_READY {
            if !self.lines.is_empty() {
                self.fail(ClientError::PlaintextAfterStartTls);
                return;
            }
            self.stage = Stage::Handshake;
            self.deadline = Some(self.now + self.config.timeouts.starttls);
            self.outbox.start_tls();
        } else if self.config.tls == TlsPolicy::Opportunistic {
            self.start_auth();
        } else {
            self.fail(ClientError::StartTlsRefused(reply));
        }
    }

    /// Setup is over.
    fn become_ready(&mut self) {
        let Some(capabilities) = self.capabilities.clone() else {
            self.fail(ClientError::Usage("no capabilities after EHLO"));
            return;
        };
        self.stage = Stage::Ready;
        self.outbox.event(ClientEvent::Ready {
            capabilities,
            tls: self.tls.clone(),
            authenticated: self.authenticated.clone(),
        });
    }

    /// Starts what waited for the session to be free: queued transactions,
    /// then QUIT.
    fn pump(&mut self) {
        if self.stage != Stage::Ready {
            return;
        }
        while !self.queued.is_empty() && self.can_start_transaction() {
            if let Some(pending) = self.queued.pop_front() {
                self.start_transaction(pending);
            }
        }
        if self.quit_requested
            && self.queued.is_empty()
            && self.transactions.is_empty()
            && self.expect.is_empty()
        {
            self.send_command(&Command::Quit, Phase::Quit);
            self.stage = Stage::Quitting;
        }
    }

    fn pipelining(&self) -> bool {
        self.config.use_pipelining
            && self
                .capabilities
                .as_ref()
                .is_some_and(Capabilities::pipelining)
    }
}
