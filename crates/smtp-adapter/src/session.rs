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

macro_rules! session_impl {
    ($session:ty, $event:ty) => {
        impl Session for $session {
            type Event = $event;
            fn feed(&mut self, now: Instant, bytes: &[u8]) {
                <$session>::feed(self, now, bytes)
            }
            fn feed_eof(&mut self, now: Instant) {
                <$session>::feed_eof(self, now)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$session>::handle_timeout(self, now)
            }
            fn poll_output(&mut self) -> Option<Output<$event>> {
                <$session>::poll_output(self)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$session>::poll_timeout(self)
            }
            fn tls_established(&mut self, now: Instant, info: TlsInfo) {
                <$session>::tls_established(self, now, info)
            }
        }
    };
}

session_impl!(ClientSession, ClientEvent);
session_impl!(ServerSession, ServerEvent);
