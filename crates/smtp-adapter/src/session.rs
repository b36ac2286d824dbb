//! The inputs and outputs the client and server sessions share.

use smtp_proto::{ClientEvent, ClientSession, Output, ServerEvent, ServerSession, TlsInfo};
use std::time::Instant;

/// The four inputs and two outputs both sessions of [`smtp_proto`] share,
/// so that one driver loop serves either.
pub trait Session {
    /// What the session tells its application.
    type Event;
    /// Bytes from the peer.
    fn feed(&mut self, now: Instant, bytes: &[u8]);
    /// The peer closed its side.
    fn feed_eof(&mut self, now: Instant);
    /// The deadline of [`poll_timeout`](Self::poll_timeout) passed.
    fn handle_timeout(&mut self, now: Instant);
    /// What to do next, in order.
    fn poll_output(&mut self) -> Option<Output<Self::Event>>;
    /// When to call [`handle_timeout`](Self::handle_timeout).
    fn poll_timeout(&self) -> Option<Instant>;
    /// The TLS handshake the session asked for is done.
    fn tls_established(&mut self, now: Instant, info: TlsInfo);
}

// Each method forwards to the session's own method of the same name (an
// inherent method wins over a trait method in the call).

impl Session for ClientSession {
    type Event = ClientEvent;
    fn feed(&mut self, now: Instant, bytes: &[u8]) {
        ClientSession::feed(self, now, bytes);
    }
    fn feed_eof(&mut self, now: Instant) {
        ClientSession::feed_eof(self, now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        ClientSession::handle_timeout(self, now);
    }
    fn poll_output(&mut self) -> Option<Output<ClientEvent>> {
        ClientSession::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ClientSession::poll_timeout(self)
    }
    fn tls_established(&mut self, now: Instant, info: TlsInfo) {
        ClientSession::tls_established(self, now, info);
    }
}

impl Session for ServerSession {
    type Event = ServerEvent;
    fn feed(&mut self, now: Instant, bytes: &[u8]) {
        ServerSession::feed(self, now, bytes);
    }
    fn feed_eof(&mut self, now: Instant) {
        ServerSession::feed_eof(self, now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        ServerSession::handle_timeout(self, now);
    }
    fn poll_output(&mut self) -> Option<Output<ServerEvent>> {
        ServerSession::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ServerSession::poll_timeout(self)
    }
    fn tls_established(&mut self, now: Instant, info: TlsInfo) {
        ServerSession::tls_established(self, now, info);
    }
}
