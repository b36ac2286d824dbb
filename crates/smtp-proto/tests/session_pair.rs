//! A client session wired to a server session in memory, with a virtual
//! clock and a fake TLS step: whole dialogues, both state machines at once.

// The tests drive the sessions, so they own the clock the core must not read.
#![allow(clippy::disallowed_methods)]

use smtp_proto::sasl::ClientCredentials;
use smtp_proto::session::client::{
    ClientConfig, ClientError, ClientEvent, ClientSession, Envelope, Recipient, RecipientStatus,
    TlsPolicy,
};
use smtp_proto::{
    EnhancedStatus, Host, Mailbox, Mechanism, Output, Reply, ReplyCode, Secret, ServerConfig,
    ServerEvent, ServerSession, TlsInfo,
};
use std::time::{Duration, Instant};

type ServerPolicy = Box<dyn FnMut(&ServerEvent) -> Option<Reply>>;

struct Pair {
    client: ClientSession,
    server: ServerSession,
    now: Instant,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    received: Vec<Vec<u8>>,
    body: Vec<u8>,
    client_tls: bool,
    server_tls: bool,
    client_closed: bool,
    server_closed: bool,
    policy: ServerPolicy,
    /// Envelopes to send, with the body for each.
    outbox: Vec<(Envelope, Vec<u8>)>,
    current_body: Option<Vec<u8>>,
    quit_when_done: bool,
    wire: usize,
}

fn host(s: &str) -> Host {
    s.parse().unwrap()
}

fn mailbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap()
}

fn reply(code: u16, status: (u8, u16, u16), text: &str) -> Reply {
    Reply::new(
        ReplyCode::new(code).unwrap(),
        EnhancedStatus::new(status.0, status.1, status.2),
        [text],
    )
    .unwrap()
}

impl Pair {
    fn new(client: ClientConfig, server: ServerConfig) -> Pair {
        let now = Instant::now();
        Pair {
            client: ClientSession::new(client, now),
            server: ServerSession::new(server, now).with_cram_md5_nonce("4711.1700000000"),
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            received: Vec::new(),
            body: Vec::new(),
            client_tls: false,
            server_tls: false,
            client_closed: false,
            server_closed: false,
            policy: Box::new(|_| None),
            outbox: Vec::new(),
            current_body: None,
            quit_when_done: true,
            wire: 0,
        }
    }

    fn queue(&mut self, envelope: Envelope, body: &[u8]) {
        self.outbox.push((envelope, body.to_vec()));
    }

    fn next_envelope(&mut self) {
        if self.outbox.is_empty() {
            if self.quit_when_done {
                if let Err(e) = self.client.quit() {
                    self.client_events.push(ClientEvent::Failed(e));
                }
            }
            return;
        }
        let (envelope, body) = self.outbox.remove(0);
        match self.client.send(envelope) {
            Ok(()) => self.current_body = Some(body),
            Err(e) => self.client_events.push(ClientEvent::Failed(e)),
        }
    }

    /// Moves bytes and answers events until nothing moves.
    fn run(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(out) = self.client.poll_output() {
                moved = true;
                match out {
                    Output::Transmit(b) => {
                        self.wire += b.len();
                        self.server.feed(self.now, &b)
                    }
                    Output::StartTls => self.client_tls = true,
                    Output::Close => self.client_closed = true,
                    Output::Event(e) => {
                        let next = matches!(
                            e,
                            ClientEvent::Ready { .. }
                                | ClientEvent::Delivered(_)
                                | ClientEvent::TransactionFailed(_)
                        );
                        let body = matches!(e, ClientEvent::SendBody);
                        self.client_events.push(e);
                        if body {
                            let b = self.current_body.take().unwrap_or_default();
                            for chunk in b.chunks(700) {
                                self.client.send_body(chunk).unwrap();
                            }
                            self.client.end_body().unwrap();
                        }
                        if next {
                            self.next_envelope();
                        }
                    }
                }
            }
            while let Some(out) = self.server.poll_output() {
                moved = true;
                match out {
                    Output::Transmit(b) => {
                        self.wire += b.len();
                        self.client.feed(self.now, &b)
                    }
                    Output::StartTls => self.server_tls = true,
                    Output::Close => {
                        self.server_closed = true;
                        self.client.feed_eof(self.now);
                    }
                    Output::Event(e) => {
                        match &e {
                            ServerEvent::BodyChunk(c) => self.body.extend_from_slice(c),
                            ServerEvent::MessageEnd { .. } => {
                                self.received.push(std::mem::take(&mut self.body))
                            }
                            ServerEvent::MessageAborted { .. } => self.body.clear(),
                            _ => {}
                        }
                        let decision = e.is_decision();
                        let answer = decision.then(|| (self.policy)(&e));
                        self.server_events.push(e);
                        match answer {
                            Some(None) => self.server.accept().unwrap(),
                            Some(Some(r)) if r.code().is_positive() => {
                                self.server.accept_with(r).unwrap()
                            }
                            Some(Some(r)) => self.server.reject(r).unwrap(),
                            None => {}
                        }
                    }
                }
            }
            // The fake TLS step: once both sides asked for it, both are done.
            if self.client_tls && self.server_tls {
                self.client_tls = false;
                self.server_tls = false;
                let info = TlsInfo::new("TLSv1.3", "TLS13_AES_128_GCM_SHA256").with_verified(true);
                self.server.tls_established(self.now, info.clone());
                self.client.tls_established(self.now, info);
                moved = true;
            }
            // Timers, as an adapter arms them from poll_timeout().
            for side in [0, 1] {
                let deadline = if side == 0 {
                    self.client.poll_timeout()
                } else {
                    self.server.poll_timeout()
                };
                if deadline.is_some_and(|d| d <= self.now) {
                    if side == 0 {
                        self.client.handle_timeout(self.now);
                    } else {
                        self.server.handle_timeout(self.now);
                    }
                    moved |= self.client.poll_timeout() != deadline && side == 0
                        || self.server.poll_timeout() != deadline && side == 1;
                }
            }
            if !moved {
                // Short waits (a failed AUTH's reply held back) pass on the
                // virtual clock; no session timeout is that short.
                let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                match next {
                    Some(d) if d > self.now && d <= self.now + Duration::from_secs(10) => {
                        self.now = d;
                    }
                    _ => return,
                }
            }
        }
        panic!("the pair did not settle");
    }

    fn delivered(&self) -> Vec<&smtp_proto::session::client::DeliveryReport> {
        self.client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Delivered(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn failure(&self) -> Option<&ClientError> {
        self.client_events.iter().find_map(|e| match e {
            ClientEvent::Failed(err) => Some(err),
            _ => None,
        })
    }
}

fn plain_client() -> ClientConfig {
    ClientConfig::new(host("client.example.org")).with_tls(TlsPolicy::None)
}

fn message(size: usize) -> Vec<u8> {
    let mut m = b"From: a@example.org\r\nTo: b@example.com\r\nSubject: test\r\n\r\n".to_vec();
    let line = b".a line that starts with a dot and is stuffed on the wire, then more text\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

fn envelope(to: &[&str]) -> Envelope {
    let mut e = Envelope::new(mailbox("a@example.org").into());
    for r in to {
        e = e.with_recipient(Recipient::new(mailbox(r)));
    }
    e
}

#[test]
fn pipelined_transaction_plain() {
    let mut pair = Pair::new(plain_client(), ServerConfig::new("mx.example.com"));
    let body = message(2048);
    pair.queue(envelope(&["b@example.com", "c@example.com"]), &body);
    pair.run();
    assert_eq!(pair.failure(), None);
    let reports = pair.delivered();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].accepted().count(), 2);
    assert_eq!(pair.received, [body]);
    assert!(matches!(
        pair.client_events.last(),
        Some(ClientEvent::Closed)
    ));
    assert!(pair.client_closed && pair.server_closed);
}

#[test]
fn one_command_at_a_time_without_pipelining() {
    let server = ServerConfig::new("mx.example.com").with_pipelining(false);
    let mut pair = Pair::new(plain_client(), server);
    let body = message(300);
    pair.queue(
        envelope(&["b@example.com", "c@example.com", "d@example.com"]),
        &body,
    );
    pair.run();
    // The server refuses pipelining it did not offer, so this passing shows
    // the client waited for every reply.
    assert_eq!(
        pair.failure(),
        None,
        "{:?}\n{:?}",
        pair.client_events,
        pair.server_events
    );
    assert_eq!(pair.received, [body]);
}

#[test]
fn partial_recipient_failure_and_several_transactions() {
    let mut pair = Pair::new(plain_client(), ServerConfig::new("mx.example.com"));
    pair.policy = Box::new(|e| match e {
        ServerEvent::RcptTo { to, .. } if to.to_string().contains("nobody") => {
            Some(reply(550, (5, 1, 1), "No such user"))
        }
        ServerEvent::MessageEnd { .. } => Some(reply(250, (2, 0, 0), "Ok: queued as 4F2A1C")),
        _ => None,
    });
    pair.queue(
        envelope(&["b@example.com", "nobody@example.com"]),
        b"first\r\n",
    );
    pair.queue(envelope(&["nobody@example.com"]), b"never delivered\r\n");
    pair.queue(envelope(&["c@example.com"]), b"third\r\n");
    pair.run();
    assert_eq!(pair.failure(), None);
    let delivered = pair.delivered();
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].queue_id.as_deref(), Some("4F2A1C"));
    assert!(matches!(
        &delivered[0].recipients[1].1,
        RecipientStatus::Rejected(r) if r.code().get() == 550
    ));
    assert!(pair
        .client_events
        .iter()
        .any(|e| matches!(e, ClientEvent::TransactionFailed(_))));
    assert_eq!(
        pair.received,
        [b"first\r\n".to_vec(), b"third\r\n".to_vec()]
    );
}

#[test]
fn starttls_then_auth_each_mechanism() {
    for (mechanism, offered) in [
        (Mechanism::Plain, vec![Mechanism::Plain]),
        (Mechanism::Login, vec![Mechanism::Login]),
        (
            Mechanism::CramMd5,
            vec![Mechanism::CramMd5, Mechanism::Plain, Mechanism::Login],
        ),
    ] {
        let client = ClientConfig::new(host("client.example.org"))
            .with_tls(TlsPolicy::Required)
            .with_credentials(ClientCredentials::Password {
                username: "user".into(),
                password: Secret::new("secret".into()),
            });
        let server = ServerConfig::new("mx.example.com")
            .with_starttls(true)
            .with_require_tls(true)
            .with_require_auth(true)
            .with_auth(offered);
        let mut pair = Pair::new(client, server);
        pair.policy = Box::new(|e| match e {
            ServerEvent::Auth(req) if !req.verify_password("secret") => {
                Some(reply(535, (5, 7, 8), "Authentication credentials invalid"))
            }
            _ => None,
        });
        pair.queue(envelope(&["b@example.com"]), b"over TLS\r\n");
        pair.run();
        assert_eq!(pair.failure(), None, "{mechanism:?}");
        let ready = pair.client_events.iter().find_map(|e| match e {
            ClientEvent::Ready {
                tls, authenticated, ..
            } => Some((tls.clone(), authenticated.clone())),
            _ => None,
        });
        let (tls, authenticated) = ready.expect("ready");
        assert!(tls.is_some());
        assert_eq!(authenticated, Some(mechanism.clone()));
        assert_eq!(pair.server.authenticated(), Some("user"));
        assert_eq!(pair.received, [b"over TLS\r\n".to_vec()], "{mechanism:?}");
    }
}

#[test]
fn wrong_password_is_an_explained_failure() {
    let client = ClientConfig::new(host("client.example.org"))
        .with_tls(TlsPolicy::None)
        .with_plaintext_auth(true)
        .with_credentials(ClientCredentials::Password {
            username: "user".into(),
            password: Secret::new("wrong".into()),
        });
    let server = ServerConfig::new("mx.example.com")
        .with_auth(vec![Mechanism::Plain])
        .with_plaintext_auth(true);
    let mut pair = Pair::new(client, server);
    pair.policy = Box::new(|e| match e {
        ServerEvent::Auth(req) if !req.verify_password("secret") => {
            Some(reply(535, (5, 7, 8), "Authentication credentials invalid"))
        }
        _ => None,
    });
    let start = pair.now;
    pair.run();
    assert!(
        matches!(pair.failure(), Some(ClientError::AuthFailed { .. })),
        "{:?}",
        pair.failure()
    );
    assert!(pair.received.is_empty());
    // The server held its 535 back before the client saw it.
    assert_eq!(pair.now - start, Duration::from_secs(2));
}

#[test]
fn starttls_required_but_not_offered() {
    let client = ClientConfig::new(host("client.example.org")).with_tls(TlsPolicy::Required);
    let mut pair = Pair::new(client, ServerConfig::new("mx.example.com"));
    pair.run();
    assert!(matches!(
        pair.failure(),
        Some(ClientError::StartTlsUnavailable)
    ));
    assert!(pair.received.is_empty());
}

#[test]
fn size_limit_refused_before_sending() {
    let server = ServerConfig::new("mx.example.com").with_max_message_size(Some(1000));
    let mut pair = Pair::new(plain_client(), server);
    pair.queue(envelope(&["b@example.com"]).with_size(5000), &message(5000));
    pair.run();
    assert!(pair
        .client_events
        .iter()
        .any(|e| matches!(e, ClientEvent::Failed(ClientError::MessageTooBig { .. }))));
    assert!(!pair
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::MailFrom { .. })));
}

#[test]
fn bdat_when_chunking_is_offered() {
    let mut pair = Pair::new(plain_client(), ServerConfig::new("mx.example.com"));
    let body = message(2048);
    pair.queue(
        envelope(&["b@example.com"]).with_body(smtp_proto::Body::BinaryMime),
        &body,
    );
    pair.run();
    assert_eq!(pair.failure(), None);
    assert_eq!(pair.received, [body]);
}

#[test]
fn server_idle_timeout_reaches_the_client() {
    let server = ServerConfig::new("mx.example.com").with_idle_timeout(Duration::from_secs(300));
    let mut pair = Pair::new(plain_client(), server);
    pair.quit_when_done = false;
    pair.run();
    assert!(pair.client.is_ready());
    pair.now += Duration::from_secs(301);
    pair.run();
    assert!(
        matches!(pair.failure(), Some(ClientError::ServiceClosing { .. })),
        "{:?}",
        pair.client_events
    );
}

#[test]
fn client_greeting_timeout() {
    let now = Instant::now();
    let mut client = ClientSession::new(plain_client(), now);
    let deadline = client.poll_timeout().expect("waits for the greeting");
    assert_eq!(deadline, now + Duration::from_secs(300));
    client.handle_timeout(deadline);
    let mut failed = false;
    while let Some(out) = client.poll_output() {
        if let Output::Event(ClientEvent::Failed(ClientError::Timeout { .. })) = out {
            failed = true;
        }
    }
    assert!(failed);
}
