//! The two sans-IO session state machines, [`ClientSession`] and
//! [`ServerSession`], and what they share.
//!
//! Both are driven the same way: the adapter passes in what happened
//! (`feed(now, bytes)`, `feed_eof(now)`, `handle_timeout(now)`,
//! `tls_established(now, info)`), then drains [`Output`]s with `poll_output()`
//! in order and arms a timer from `poll_timeout()`. The application speaks to
//! a session with verbs (`send`, `accept`, `reject`, `quit`, ...). Nothing in a
//! session reads a clock, draws a random number or touches a socket.
//!
//! ```text
//! loop {
//!     while let Some(out) = session.poll_output() {
//!         match out {
//!             Output::Transmit(bytes) => socket.write_all(&bytes)?,   // one write per batch
//!             Output::Event(event) => handle(event, &mut session),     // may answer with a verb
//!             Output::StartTls => { tls_handshake()?; session.tls_established(now(), info) }
//!             Output::Close => return Ok(()),
//!         }
//!     }
//!     let deadline = session.poll_timeout();
//!     match read_until(deadline) {
//!         Read(bytes) => session.feed(now(), &bytes),
//!         Eof => session.feed_eof(now()),
//!         TimedOut => session.handle_timeout(now()),
//!     }
//! }
//! ```

pub mod client;
pub(crate) mod outbox;
pub mod server;

pub use client::{
    AuthFailure, ClientConfig, ClientError, ClientEvent, ClientSession, ClientTimeouts,
    DeliveryReport, Envelope, Phase, Recipient, RecipientStatus, TlsPolicy,
};
pub use server::{
    CloseReason, MinimumRate, ServerConfig, ServerEvent, ServerSession, UsageError,
    MAX_AUTH_FAILURE_DELAY,
};

pub use std::time::{Duration, Instant};

/// What a session asks of its driver, in the order it must happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<E> {
    /// Bytes to send. Consecutive transmissions are merged, so each is one
    /// write call (no Nagle stall between a body and its final dot).
    Transmit(Vec<u8>),
    /// Something the application must see; some events wait for an answer.
    Event(E),
    /// Everything transmitted before this must be flushed; then run the TLS
    /// handshake and call `tls_established` (or `feed_eof` if it failed).
    StartTls,
    /// Close the connection after flushing what was transmitted before.
    Close,
}

/// What the adapter learned from the TLS handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The protocol version, for example `TLSv1.3`.
    pub protocol: String,
    /// The negotiated cipher suite.
    pub cipher: String,
    /// The name the peer's certificate was checked against (client) or the SNI
    /// name the client asked for (server).
    pub peer_name: Option<String>,
    /// The peer's certificate chain verified.
    pub verified: bool,
    /// The certificates the peer presented, DER-encoded, its own first
    /// (empty when it sent none).
    pub peer_certificates: Vec<Vec<u8>>,
}

impl TlsInfo {
    /// Describes a finished handshake.
    pub fn new(protocol: impl Into<String>, cipher: impl Into<String>) -> TlsInfo {
        TlsInfo {
            protocol: protocol.into(),
            cipher: cipher.into(),
            peer_name: None,
            verified: false,
            peer_certificates: Vec::new(),
        }
    }

    /// Sets the peer name.
    pub fn with_peer_name(mut self, name: impl Into<String>) -> TlsInfo {
        self.peer_name = Some(name.into());
        self
    }

    /// Records the certificate chain the peer presented (DER, its own first).
    pub fn with_peer_certificates(mut self, chain: Vec<Vec<u8>>) -> TlsInfo {
        self.peer_certificates = chain;
        self
    }

    /// Records whether the peer's certificate verified.
    pub fn with_verified(mut self, verified: bool) -> TlsInfo {
        self.verified = verified;
        self
    }
}
