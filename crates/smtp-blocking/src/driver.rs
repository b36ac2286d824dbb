//! The one loop that moves bytes between a socket and a session, shared by
//! the client and the server.
//!
//! It reads with a deadline taken from the session's `poll_timeout`, feeds
//! what it read (or the end of the stream, or the timeout) to the session,
//! writes each `Transmit` with one `write_all`, and hands every event back to
//! its caller, which answers with the session's verbs. It makes no protocol
//! decision of its own.

use crate::tls::{Stream, Upgrade};
use crate::Error;
use smtp_adapter::{is_peer_gone, is_timeout, DriverState, Next, Session};
use smtp_proto::{Direction, Output, WireObserver};
use std::fmt;
use std::io::{self, Read as _, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How much one read takes from the socket.
const READ_BUFFER: usize = 64 * 1024;

/// The shortest read timeout: `set_read_timeout` refuses zero.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// The longest single wait for a reply. A deadline further away is waited
/// for in steps of this length, so the socket's read timeout keeps one
/// value (and is set once) instead of a new one before every read.
const MAX_STEP: Duration = Duration::from_secs(1);

/// How much may be written without reading before replies that already
/// arrived are looked for: about a socket buffer, the most a peer can send
/// back before it blocks on us.
const UNREAD_LIMIT: usize = 256 * 1024;

/// What one read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Bytes went to the session (or the read was interrupted: try again).
    Fed,
    /// The stream ended; the session was told.
    Ended,
    /// Nothing arrived before the timeout (or, non-blocking, nothing yet).
    Nothing,
}

/// Owns the stream and the read buffer of one connection.
pub(crate) struct Driver {
    stream: Stream,
    state: DriverState,
    buf: Box<[u8]>,
    poll_interval: Option<Duration>,
    /// When `next` last returned [`Next::Idle`].
    last_idle: Instant,
    /// The socket's read timeout as last set (`None`: not known).
    read_timeout: Option<Option<Duration>>,
    /// Octets written since the last read.
    unread: usize,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Driver")
            .field(&self.stream)
            .field(&self.state)
            .finish()
    }
}

impl Driver {
    /// Wraps a connected stream. With a `poll_interval`, reads wake at least
    /// that often and [`next`](Self::next) returns [`Next::Idle`].
    pub(crate) fn new(
        stream: Stream,
        peer: SocketAddr,
        poll_interval: Option<Duration>,
        tls: Option<Upgrade>,
    ) -> Self {
        Driver {
            stream,
            state: DriverState::new(peer, tls),
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            poll_interval,
            last_idle: Instant::now(),
            read_timeout: None,
            unread: 0,
        }
    }

    /// Shows every byte read and written to `observer` from now on.
    pub(crate) fn set_observer(&mut self, observer: Option<Box<dyn WireObserver>>) {
        self.state.set_observer(observer);
    }

    /// The connection was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.is_closed()
    }

    /// Runs the session until it has an event, closes, or (with a poll
    /// interval) a quiet interval passes. Reads block until the session's
    /// deadline; with no deadline and no poll interval, until the peer
    /// speaks (the client only reads while it waits for a reply, which
    /// always has one).
    pub(crate) fn next<S: Session>(&mut self, session: &mut S) -> Result<Next<S::Event>, Error> {
        self.state.reset_timeout();
        loop {
            if let Some(next) = self.drain(session)? {
                return Ok(next);
            }
            if self.state.is_closed() {
                return Ok(Next::Closed);
            }
            let now = Instant::now();
            // A peer that keeps sending, a byte at a time, must not keep the
            // caller from looking up once per interval.
            if self
                .poll_interval
                .is_some_and(|tick| now.duration_since(self.last_idle) >= tick)
            {
                self.last_idle = now;
                return Ok(Next::Idle);
            }
            let deadline = self.state.deadline(session);
            // A past deadline still reads what already arrived (a reply
            // that came while a long body was being written) before the
            // session is told that time is up.
            let mut wait = deadline.map(|d| d.saturating_duration_since(now));
            let mut capped = false;
            let mut stepped = false;
            if let Some(tick) = self.poll_interval {
                if wait.is_none_or(|w| w > tick) {
                    wait = Some(tick);
                    capped = true;
                }
            } else if wait.is_some_and(|w| w > MAX_STEP) {
                wait = Some(MAX_STEP);
                stepped = true;
            }
            self.set_read_timeout(wait.map(|w| w.max(MIN_WAIT)))?;
            match self.read_into(session)? {
                Read::Fed => {}
                // The session closes on EOF; if it did not, reading again
                // would only see EOF again.
                Read::Ended => {
                    if let Some(next) = self.drain(session)? {
                        return Ok(next);
                    }
                    self.close();
                    return Ok(Next::Closed);
                }
                Read::Nothing if capped => {
                    self.last_idle = Instant::now();
                    return Ok(Next::Idle);
                }
                // One step of a longer wait: the deadline is still ahead.
                Read::Nothing if stepped => {}
                Read::Nothing => self.state.timed_out(session, deadline, Instant::now()),
            }
        }
    }

    /// Sets the socket's read timeout, unless it already has that value.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        if self.read_timeout == Some(timeout) {
            return Ok(());
        }
        self.stream
            .set_read_timeout(timeout)
            .map_err(|e| self.io_error("setting a read timeout on", e))?;
        self.read_timeout = Some(timeout);
        Ok(())
    }

    /// Writes what the session has to send now, without waiting for the
    /// peer: used while streaming a body, so the session never holds more
    /// than one chunk. Replies that already arrived are read first (see
    /// [`receive_ready`](Self::receive_ready)). An event met on the way is
    /// returned; a close is left for [`next`](Self::next) to report.
    pub(crate) fn flush<S: Session>(&mut self, session: &mut S) -> Result<Option<S::Event>, Error> {
        // Only after much was written without reading can replies have
        // piled up; looking every time costs three system calls a chunk.
        if self.unread >= UNREAD_LIMIT {
            self.receive_ready(session)?;
        }
        self.drain_event(session)
    }

    /// Reads what already arrived (without waiting) and carries out the
    /// session's outputs: for a connection that sat idle, where the server
    /// may have said 421 or closed.
    pub(crate) fn take_arrived<S: Session>(
        &mut self,
        session: &mut S,
    ) -> Result<Option<S::Event>, Error> {
        self.receive_ready(session)?;
        self.drain_event(session)
    }

    fn drain_event<S: Session>(&mut self, session: &mut S) -> Result<Option<S::Event>, Error> {
        match self.drain(session)? {
            Some(Next::Event(event)) => Ok(Some(event)),
            _ => Ok(None),
        }
    }

    /// Feeds the session whatever the peer already sent, without waiting.
    /// While a long body streams out, the replies to its BDAT chunks pile up;
    /// reading them keeps the peer from blocking on a full socket (and then
    /// no longer reading the body) and keeps the session's deadlines true.
    fn receive_ready<S: Session>(&mut self, session: &mut S) -> Result<(), Error> {
        if self.state.is_closed() {
            return Ok(());
        }
        self.stream
            .set_nonblocking(true)
            .map_err(|e| self.io_error("configuring the connection to", e))?;
        let mut result = Ok(Read::Fed);
        while let Ok(Read::Fed) = result {
            result = self.read_into(session);
        }
        self.stream
            .set_nonblocking(false)
            .map_err(|e| self.io_error("configuring the connection to", e))?;
        result.map(drop)
    }

    /// Carries out the session's outputs until an event or the close.
    fn drain<S: Session>(&mut self, session: &mut S) -> Result<Option<Next<S::Event>>, Error> {
        while let Some(output) = session.poll_output() {
            match output {
                Output::Transmit(bytes) => self.write(session, &bytes)?,
                Output::Event(event) => return Ok(Some(Next::Event(event))),
                Output::StartTls => self.start_tls(session, false)?,
                Output::Close => {
                    self.close();
                    return Ok(Some(Next::Closed));
                }
            }
        }
        Ok(None)
    }

    /// Flushes, swaps the plain stream for a TLS one, handshakes by the
    /// session's deadline and tells the session. `implicit`: TLS before any
    /// SMTP (port 465 style), for the wording of errors. A failed handshake
    /// is the session's end of stream and an error that says why.
    pub(crate) fn start_tls<S: Session>(
        &mut self,
        session: &mut S,
        implicit: bool,
    ) -> Result<(), Error> {
        let outcome = self
            .state
            .tls_start(session, Instant::now(), implicit)
            .and_then(|start| {
                let _ = self.stream.flush();
                // The handshake sets read timeouts of its own.
                self.read_timeout = None;
                let handshake = self.stream.start_tls(&start);
                self.state.tls_finished(session, handshake, Instant::now())
            });
        if outcome.is_err() {
            self.close();
        }
        outcome
    }

    /// One read, given to the session. The end of the stream and a peer
    /// that reset the connection are both the session's `feed_eof`: it knows
    /// what that means in its phase.
    fn read_into<S: Session>(&mut self, session: &mut S) -> Result<Read, Error> {
        match self.stream.read(&mut self.buf) {
            Ok(0) => {
                session.feed_eof(Instant::now());
                Ok(Read::Ended)
            }
            Ok(n) => {
                self.unread = 0;
                let bytes = self.buf.get(..n).unwrap_or_default();
                self.state
                    .observe(Direction::Received, self.stream.is_tls(), bytes);
                session.feed(Instant::now(), bytes);
                Ok(Read::Fed)
            }
            Err(e) if is_timeout(&e) => Ok(Read::Nothing),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Read::Fed),
            Err(e) if is_peer_gone(&e) => {
                session.feed_eof(Instant::now());
                Ok(Read::Ended)
            }
            Err(e) => {
                self.close();
                Err(self.io_error("reading from", e))
            }
        }
    }

    /// One batch, one call: no Nagle stall between a body and its final dot.
    fn write<S: Session>(&mut self, session: &mut S, bytes: &[u8]) -> Result<(), Error> {
        if self.state.is_closed() {
            return Ok(());
        }
        self.state
            .observe(Direction::Sent, self.stream.is_tls(), bytes);
        self.unread = self.unread.saturating_add(bytes.len());
        match self
            .stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
        {
            Ok(()) => Ok(()),
            // The peer left: the session says what that means in its phase.
            Err(e) if is_peer_gone(&e) => {
                session.feed_eof(Instant::now());
                Ok(())
            }
            Err(e) => {
                self.close();
                Err(self.io_error("writing to", e))
            }
        }
    }

    /// Closes the stream once.
    pub(crate) fn close(&mut self) {
        if self.state.close() {
            self.stream.close();
        }
    }

    fn io_error(&self, action: &'static str, source: io::Error) -> Error {
        self.state.io_error(action, source)
    }
}
