//! What a driver keeps and decides besides its stream, the same for the
//! blocking and the async one: whom it talks to, how to start TLS, whether
//! it closed, who watches the bytes, which deadline to wait for, and how
//! an I/O failure is worded. The drivers keep only reads, writes, timers
//! and the handshake; they pass the time in.

use crate::{
    describe_client_failure, describe_server_failure, Error, Session, TlsFailure, Upgrade,
    DEFAULT_HANDSHAKE, SERVER_HANDSHAKE_LIMIT,
};
use smtp_proto::{Direction, TlsInfo, WireObserver};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// What a TLS handshake needs to know: the settings, by when it must be
/// done, and whether it comes before any SMTP (for the wording of errors).
#[derive(Debug, Clone)]
pub struct TlsStart {
    /// The rustls configuration and names.
    pub upgrade: Upgrade,
    /// The handshake must be done by then.
    pub deadline: Instant,
    /// TLS before any SMTP (port 465 style).
    pub implicit: bool,
}

/// A handshake's outcome: the session's TLS details, or the failure's kind
/// and reason.
pub type Handshake = Result<TlsInfo, (TlsFailure, String)>;

impl TlsStart {
    /// By when the handshake must be done: the session's deadline, and a
    /// server's at most [`SERVER_HANDSHAKE_LIMIT`] after `now` (a client
    /// that stalls its handshake must not hold a connection for the
    /// session's whole timeout).
    pub fn handshake_deadline(&self, now: Instant) -> Instant {
        match self.upgrade {
            Upgrade::Client { .. } => self.deadline,
            Upgrade::Server(_) => self.deadline.min(now + SERVER_HANDSHAKE_LIMIT),
        }
    }

    /// A failed handshake in words, for this side (the client's wording
    /// names the server and knows whether TLS came before any SMTP).
    pub fn failure(&self, error: &io::Error) -> (TlsFailure, String) {
        match &self.upgrade {
            Upgrade::Client { name, .. } => describe_client_failure(error, name, self.implicit),
            Upgrade::Server(_) => describe_server_failure(error),
        }
    }
}

/// One connection's state beside its stream.
pub struct DriverState {
    peer: SocketAddr,
    /// How to start TLS when the session asks; `None`: TLS not configured.
    tls: Option<Upgrade>,
    closed: bool,
    /// Sees every byte read and written (the plaintext, inside TLS).
    observer: Option<Box<dyn WireObserver>>,
    /// The deadline the session was last told had passed: a deadline that
    /// stays past after `handle_timeout` must not spin, so it is ignored
    /// until something else happens.
    timed_out_at: Option<Instant>,
}

impl fmt::Debug for DriverState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverState")
            .field("peer", &self.peer)
            .field("closed", &self.closed)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl DriverState {
    /// A connection to `peer`, open, with TLS as `tls` allows.
    pub fn new(peer: SocketAddr, tls: Option<Upgrade>) -> DriverState {
        DriverState {
            peer,
            tls,
            closed: false,
            observer: None,
            timed_out_at: None,
        }
    }

    /// Shows every byte read and written to `observer` from now on.
    pub fn set_observer(&mut self, observer: Option<Box<dyn WireObserver>>) {
        self.observer = observer;
    }

    /// The address of the other end.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The connection was closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Marks the connection closed: true the first time, when the caller
    /// closes its stream.
    pub fn close(&mut self) -> bool {
        !std::mem::replace(&mut self.closed, true)
    }

    /// Shows bytes to the observer, if there is one.
    pub fn observe(&mut self, direction: Direction, tls: bool, bytes: &[u8]) {
        if let Some(observer) = self.observer.as_mut() {
            observer.observe(direction, tls, bytes);
        }
    }

    /// An I/O failure while `action` ("reading from", ...) the peer.
    pub fn io_error(&self, action: &'static str, source: io::Error) -> Error {
        Error::Io {
            action,
            peer: self.peer,
            source,
        }
    }

    /// Begins a wait: the session's deadline, unless the session was
    /// already told that this very deadline passed.
    pub fn deadline<S: Session>(&self, session: &S) -> Option<Instant> {
        session
            .poll_timeout()
            .filter(|&d| self.timed_out_at != Some(d))
    }

    /// The wait for `deadline` ran out (it is `now`): tells the session.
    pub fn timed_out<S: Session>(
        &mut self,
        session: &mut S,
        deadline: Option<Instant>,
        now: Instant,
    ) {
        self.timed_out_at = deadline;
        session.handle_timeout(now);
    }

    /// A new wait starts (after an outcome other than a timeout).
    pub fn reset_timeout(&mut self) {
        self.timed_out_at = None;
    }

    /// How to start TLS and by when the handshake must be done (the
    /// session's deadline, or [`DEFAULT_HANDSHAKE`] from now), when the
    /// session asks `now`. `implicit`: TLS before any SMTP (port 465
    /// style), for the wording of errors. Without TLS settings: the error
    /// to return after closing.
    pub fn tls_start<S: Session>(
        &self,
        session: &S,
        now: Instant,
        implicit: bool,
    ) -> Result<TlsStart, Error> {
        let Some(upgrade) = self.tls.clone() else {
            return Err(Error::TlsNotConfigured { peer: self.peer });
        };
        let deadline = session
            .poll_timeout()
            .filter(|&d| d > now)
            .unwrap_or(now + DEFAULT_HANDSHAKE);
        Ok(TlsStart {
            upgrade,
            deadline,
            implicit,
        })
    }
}

impl DriverState {
    /// The handshake's outcome, told to the session `now`: its TLS details,
    /// or (failed) the end of the stream and an error that says why, after
    /// which the caller closes the connection.
    pub fn tls_finished<S: Session>(
        &self,
        session: &mut S,
        outcome: Handshake,
        now: Instant,
    ) -> Result<(), Error> {
        match outcome {
            Ok(info) => {
                session.tls_established(now, info);
                Ok(())
            }
            Err((kind, reason)) => {
                session.feed_eof(now);
                Err(Error::Tls {
                    peer: self.peer,
                    kind,
                    reason,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::{ClientConfig, ClientSession, Host};

    #[test]
    fn a_deadline_already_reported_is_not_waited_for_again() {
        let now = Instant::now();
        let config = ClientConfig::new(Host::parse("client.test").unwrap());
        let mut session = ClientSession::new(config, now);
        let mut state = DriverState::new("127.0.0.1:25".parse().unwrap(), None);
        let deadline = state.deadline(&session);
        assert!(deadline.is_some(), "the greeting has a deadline");
        state.timed_out(&mut session, deadline, now);
        // The session failed; whatever deadline it keeps, the one just
        // reported is never returned again.
        assert_ne!(state.deadline(&session), deadline);
        state.reset_timeout();
        assert_eq!(state.deadline(&session), session.poll_timeout());
        assert!(matches!(
            state.tls_start(&session, now, false),
            Err(Error::TlsNotConfigured { .. })
        ));
        assert!(state.close());
        assert!(!state.close());
    }
}
