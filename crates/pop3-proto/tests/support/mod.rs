//! A scripted POP3 client against a session, with a virtual clock and an
//! in-memory maildrop that answers the session's decisions.
#![allow(dead_code, unreachable_pub)]

use pop3_proto::{
    CloseReason, Event, MessageInfo, Output, Pop3Config, Pop3Session, Response, TlsInfo, Uid,
};
use std::time::{Duration, Instant};

/// What the harness saw, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Bytes(Vec<u8>),
    Event(String),
    StartTls,
    Close,
}

pub struct Harness {
    pub session: Pop3Session,
    pub now: Instant,
    pub start: Instant,
    /// Every byte the server sent, concatenated.
    pub sent: Vec<u8>,
    /// Bytes sent since the last `take`.
    pub fresh: Vec<u8>,
    pub events: Vec<Event>,
    pub seen: Vec<Seen>,
    pub password: String,
    pub messages: Vec<(String, Vec<u8>)>,
    /// Message bytes are fed in chunks of this size.
    pub chunk: usize,
    /// Complete TLS handshakes when the session asks.
    pub auto_tls: bool,
    /// Refuse the update (some files could not be removed).
    pub fail_update: bool,
    /// Largest single transmission seen.
    pub largest_transmit: usize,
    pub removed: Vec<String>,
}

pub fn sample_messages() -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "1700000000.M1P1.host".to_owned(),
            b"From: a@example.org\r\nSubject: one\r\n\r\nfirst\r\n.dot line\r\nthird\r\n".to_vec(),
        ),
        (
            "1700000001.M2P1.host".to_owned(),
            b"From: b@example.org\r\nSubject: two\r\n\r\nbody\r\n".to_vec(),
        ),
    ]
}

impl Harness {
    pub fn new(config: Pop3Config) -> Harness {
        let start = Instant::now();
        let mut h = Harness {
            session: Pop3Session::new(config, start),
            now: start,
            start,
            sent: Vec::new(),
            fresh: Vec::new(),
            events: Vec::new(),
            seen: Vec::new(),
            password: "secret".to_owned(),
            messages: sample_messages(),
            chunk: 7,
            auto_tls: true,
            fail_update: false,
            largest_transmit: 0,
            removed: Vec::new(),
        };
        h.drain();
        h
    }

    pub fn plaintext() -> Harness {
        Harness::new(Pop3Config::new("pop.example.com").with_plaintext_auth(true))
    }

    pub fn listing(&self) -> Vec<MessageInfo> {
        self.messages
            .iter()
            .map(|(uid, body)| MessageInfo {
                size: body.len() as u64,
                uid: Uid::new(uid).unwrap(),
            })
            .collect()
    }

    /// Drains outputs and answers decisions until the session waits.
    pub fn drain(&mut self) {
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Transmit(bytes) => {
                    self.largest_transmit = self.largest_transmit.max(bytes.len());
                    self.sent.extend_from_slice(&bytes);
                    self.fresh.extend_from_slice(&bytes);
                    self.seen.push(Seen::Bytes(bytes));
                }
                Output::StartTls => {
                    self.seen.push(Seen::StartTls);
                    if self.auto_tls {
                        self.session
                            .tls_established(self.now, TlsInfo::new("TLSv1.3", "TEST"));
                    }
                }
                Output::Close => self.seen.push(Seen::Close),
                Output::Event(event) => {
                    self.seen.push(Seen::Event(format!("{event:?}")));
                    self.events.push(event.clone());
                    self.answer(event);
                }
            }
        }
    }

    fn answer(&mut self, event: Event) {
        match event {
            Event::Login(creds) => {
                if creds.verify_password(&self.password) {
                    let listing = self.listing();
                    self.session.accept_login(listing).unwrap();
                } else if creds.username() == "locked" {
                    let r =
                        Response::err("maildrop busy").with_code(pop3_proto::ResponseCode::InUse);
                    self.session.reject_login_with(r).unwrap();
                } else {
                    self.session.reject_login().unwrap();
                }
            }
            Event::Retrieve { index, .. } => {
                let body = self.messages[index].1.clone();
                for piece in body.chunks(self.chunk.max(1)) {
                    if !self.session.wants_more() {
                        break;
                    }
                    self.session.message_chunk(piece).unwrap();
                    // Poll what the chunk produced, as an adapter writes it.
                    self.drain();
                }
                self.session.end_message().unwrap();
            }
            Event::Update { deletions } => {
                if self.fail_update {
                    self.session.reject_update().unwrap();
                } else {
                    for d in deletions {
                        self.removed.push(d.uid.to_string());
                    }
                    self.session.accept_update().unwrap();
                }
            }
            _ => {}
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.session.feed(self.now, bytes);
        self.drain();
    }

    /// Sends a line and returns what the server answered.
    pub fn cmd(&mut self, line: &str) -> String {
        self.fresh.clear();
        self.feed(format!("{line}\r\n").as_bytes());
        self.take()
    }

    pub fn take(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.fresh)).into_owned()
    }

    /// Moves the virtual clock and lets the session see the time.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        while let Some(deadline) = self.session.poll_timeout() {
            if deadline > self.now {
                break;
            }
            self.session.handle_timeout(self.now);
            self.drain();
            if self.session.poll_timeout() == Some(deadline) {
                break;
            }
        }
    }

    pub fn closed_with(&self) -> Option<CloseReason> {
        self.events.iter().find_map(|e| match e {
            Event::Closed(reason) => Some(*reason),
            _ => None,
        })
    }

    pub fn login(&mut self) {
        assert!(self.cmd("USER alice").starts_with("+OK"));
        let r = self.cmd("PASS secret");
        assert!(r.starts_with("+OK alice's maildrop has 2 messages"), "{r}");
    }
}
