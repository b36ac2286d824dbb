//! The in-memory driver the server session tests share: a virtual clock,
//! everything the server sent, every event, and a policy that answers each
//! decision.
// Each test file uses part of it.
#![allow(dead_code)]

use smtp_proto::{
    CloseReason, EnhancedStatus, Output, Reply, ReplyCode, ServerConfig, ServerEvent, ServerSession,
};
use std::time::{Duration, Instant};

/// What the application does with a decision.
pub(crate) type Policy = Box<dyn FnMut(&ServerEvent) -> Option<Reply>>;

pub(crate) struct Harness {
    pub(crate) s: ServerSession,
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
    pub(crate) sent: Vec<u8>,
    pub(crate) events: Vec<ServerEvent>,
    pub(crate) start_tls: usize,
    pub(crate) closed: bool,
    pub(crate) policy: Policy,
}

pub(crate) fn accept_all() -> Policy {
    Box::new(|_| None)
}

impl Harness {
    pub(crate) fn new(config: ServerConfig) -> Harness {
        Harness::with(config, ServerSession::new)
    }

    pub(crate) fn with(
        config: ServerConfig,
        make: impl FnOnce(ServerConfig, Instant) -> ServerSession,
    ) -> Harness {
        let t0 = Instant::now();
        let mut h = Harness {
            s: make(config, t0),
            t0,
            now: t0,
            sent: Vec::new(),
            events: Vec::new(),
            start_tls: 0,
            closed: false,
            policy: accept_all(),
        };
        h.drain();
        h
    }

    pub(crate) fn drain(&mut self) {
        while let Some(out) = self.s.poll_output() {
            match out {
                Output::Transmit(b) => self.sent.extend_from_slice(&b),
                Output::StartTls => self.start_tls += 1,
                Output::Close => self.closed = true,
                Output::Event(e) => {
                    let decision = e.is_decision();
                    let answer = if decision {
                        Some((self.policy)(&e))
                    } else {
                        None
                    };
                    self.events.push(e);
                    match answer {
                        Some(None) => self.s.accept().unwrap(),
                        Some(Some(r)) if r.code().is_positive() => self.s.accept_with(r).unwrap(),
                        Some(Some(r)) => self.s.reject(r).unwrap(),
                        None => {}
                    }
                }
            }
        }
    }

    /// Feeds bytes and returns what the server sent in answer.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> String {
        let before = self.sent.len();
        self.s.feed(self.now, bytes);
        self.drain();
        String::from_utf8_lossy(&self.sent[before..]).into_owned()
    }

    pub(crate) fn greeting(&self) -> String {
        String::from_utf8_lossy(&self.sent).into_owned()
    }

    pub(crate) fn bodies(&self) -> Vec<u8> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::BodyChunk(c) => Some(c.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    pub(crate) fn closed_reason(&self) -> Option<CloseReason> {
        self.events.iter().find_map(|e| match e {
            ServerEvent::Closed(r) => Some(r.clone()),
            _ => None,
        })
    }
}

pub(crate) fn config() -> ServerConfig {
    ServerConfig::new("mx.example.com")
}

pub(crate) fn reply(code: u16, status: (u8, u16, u16), text: &str) -> Reply {
    Reply::new(
        ReplyCode::new(code).unwrap(),
        EnhancedStatus::new(status.0, status.1, status.2),
        [text],
    )
    .unwrap()
}

impl Harness {
    /// Lets the virtual clock run to `t0 + secs` and calls `handle_timeout`
    /// there; returns what the server sent.
    pub(crate) fn tick_at(&mut self, secs: f64) -> String {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        let before = self.sent.len();
        self.s.handle_timeout(self.now);
        self.drain();
        String::from_utf8_lossy(&self.sent[before..]).into_owned()
    }

    /// Feeds bytes at `t0 + secs`.
    pub(crate) fn feed_at(&mut self, secs: f64, bytes: &[u8]) -> String {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        self.feed(bytes)
    }

    /// Calls `handle_timeout` whenever `poll_timeout` asks for a time not
    /// later than `t0 + secs`, as an adapter's timer would, then sets the
    /// clock there; returns what the server sent.
    pub(crate) fn run_until(&mut self, secs: f64) -> String {
        let end = self.t0 + Duration::from_secs_f64(secs);
        let before = self.sent.len();
        for _ in 0..1000 {
            match self.s.poll_timeout() {
                Some(deadline) if deadline <= end => {
                    self.now = self.now.max(deadline);
                    self.s.handle_timeout(self.now);
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
        String::from_utf8_lossy(&self.sent[before..]).into_owned()
    }

    /// The seconds from `t0` to the session's next deadline.
    pub(crate) fn next_deadline(&self) -> Option<f64> {
        self.s
            .poll_timeout()
            .map(|d| d.duration_since(self.t0).as_secs_f64())
    }
}
