//! The one async loop that moves bytes between a connection and a session,
//! for the client and the server alike.
//!
//! It reads until the session's deadline (`poll_timeout`), feeds what it
//! read (or the end of the stream, or the timeout) to the session, writes
//! each `Transmit` with one write and a flush, and hands every event back to
//! its caller. While a write waits for the peer to take bytes, it reads what
//! the peer sends and feeds it: two sides that both pipeline large groups
//! never wait on each other's full buffers. It makes no protocol decision.

use crate::runtime::{timeout, Runtime};
use crate::stream::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use smtp_adapter::{is_peer_gone, is_timeout, DriverState, Error, Next, Session, Upgrade};
use smtp_proto::{Direction, Output, WireObserver};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};

/// The first read buffer: small, so that thousands of idle connections
/// cost little. It doubles while reads fill it, up to [`MAX_READ_BUFFER`].
const MIN_READ_BUFFER: usize = 1024;
const MAX_READ_BUFFER: usize = 64 * 1024;

/// The most a blocked write reads from the peer before it stops reading
/// until the write is done. Reading while writing keeps two pipelining
/// sides from waiting on each other's full buffers; bounding it keeps a
/// peer that sends commands but never reads their replies from growing the
/// queue of replies (and of events) without end: what it may add while one
/// write waits is the replies to this many octets of commands.
const READ_WHILE_WRITING: usize = 16 * 1024;

/// A future that completes when the connection should wind down (a server
/// shutting down).
pub(crate) type StopSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a wait for the peer ended with.
enum Woke {
    Read(io::Result<usize>),
    Timeout,
    Stop,
}

/// Owns the stream and the read buffer of one connection.
pub(crate) struct Driver<R: Runtime> {
    stream: Stream<R::TcpStream>,
    state: DriverState,
    buf: Vec<u8>,
    write_timeout: Duration,
    stop: Option<StopSignal>,
    /// The peer's side ended while we were writing; told to the session.
    read_ended: bool,
}

impl<R: Runtime> fmt::Debug for Driver<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Driver")
            .field(&self.stream)
            .field(&self.state)
            .finish()
    }
}

impl<R: Runtime> Driver<R> {
    /// Wraps a connected socket. A write that makes no progress for
    /// `write_timeout` fails.
    pub(crate) fn new(
        socket: R::TcpStream,
        peer: SocketAddr,
        tls: Option<Upgrade>,
        write_timeout: Duration,
    ) -> Self {
        Driver {
            stream: Stream::Plain(socket),
            state: DriverState::new(peer, tls),
            buf: vec![0; MIN_READ_BUFFER],
            write_timeout,
            stop: None,
            read_ended: false,
        }
    }

    /// [`next`](Self::next) returns [`Next::Stop`] once `stop` completes.
    pub(crate) fn set_stop(&mut self, stop: StopSignal) {
        self.stop = Some(stop);
    }

    /// Shows every byte read and written to `observer` from now on.
    pub(crate) fn set_observer(&mut self, observer: Option<Box<dyn WireObserver>>) {
        self.state.set_observer(observer);
    }

    /// The connection was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.is_closed()
    }

    /// Runs the session until it has an event, closes, or the stop signal
    /// fires. Waits for the peer until the session's deadline; with none,
    /// until the peer speaks.
    pub(crate) async fn next<S: Session>(
        &mut self,
        session: &mut S,
    ) -> Result<Next<S::Event>, Error> {
        self.state.reset_timeout();
        loop {
            if let Some(next) = self.drain(session).await? {
                return Ok(next);
            }
            if self.state.is_closed() {
                return Ok(Next::Closed);
            }
            let deadline = self.state.deadline(session);
            match self.wait(deadline).await {
                Woke::Stop => return Ok(Next::Stop),
                Woke::Timeout => self.state.timed_out(session, deadline, Instant::now()),
                Woke::Read(result) => {
                    if !self.take_read(session, result)? {
                        // The session closes on EOF; if it did not, reading
                        // again would only see EOF again.
                        if let Some(next) = self.drain(session).await? {
                            return Ok(next);
                        }
                        self.close().await;
                        return Ok(Next::Closed);
                    }
                }
            }
        }
    }

    /// Writes what the session has to send now, without waiting for the
    /// peer: used while streaming a body. Replies that already arrived are
    /// read first. An event met on the way is returned; a close is left for
    /// [`next`](Self::next) to report.
    pub(crate) async fn flush<S: Session>(
        &mut self,
        session: &mut S,
    ) -> Result<Option<S::Event>, Error> {
        self.receive_ready(session).await?;
        match self.drain(session).await? {
            Some(Next::Event(event)) => Ok(Some(event)),
            _ => Ok(None),
        }
    }

    /// Waits for bytes, the deadline or the stop signal, whichever comes
    /// first. Bytes that already arrived win over a deadline already past.
    async fn wait(&mut self, deadline: Option<Instant>) -> Woke {
        let Driver {
            stream, buf, stop, ..
        } = self;
        let mut sleep = pin!(async move {
            match deadline {
                Some(deadline) => R::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        });
        let woke = poll_fn(|cx| {
            if let Some(signal) = stop.as_mut() {
                if signal.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::Stop);
                }
            }
            if let Poll::Ready(result) = Pin::new(&mut *stream).poll_read(cx, buf) {
                return Poll::Ready(Woke::Read(result));
            }
            sleep.as_mut().poll(cx).map(|()| Woke::Timeout)
        })
        .await;
        if matches!(woke, Woke::Stop) {
            self.stop = None;
        }
        woke
    }

    /// Feeds the session whatever the peer already sent, without waiting.
    async fn receive_ready<S: Session>(&mut self, session: &mut S) -> Result<(), Error> {
        while !self.state.is_closed() && !self.read_ended {
            let Driver { stream, buf, .. } = &mut *self;
            let ready = poll_fn(|cx| {
                Poll::Ready(match Pin::new(&mut *stream).poll_read(cx, buf) {
                    Poll::Ready(result) => Some(result),
                    Poll::Pending => None,
                })
            })
            .await;
            let Some(result) = ready else { break };
            if !self.take_read(session, result)? {
                break;
            }
        }
        Ok(())
    }

    /// Gives a read's outcome to the session: false once the stream ended
    /// (the end of the stream and a peer that reset the connection are both
    /// the session's `feed_eof`: it knows what that means in its phase).
    fn take_read<S: Session>(
        &mut self,
        session: &mut S,
        result: io::Result<usize>,
    ) -> Result<bool, Error> {
        match result {
            Ok(0) => {
                self.read_ended = true;
                session.feed_eof(Instant::now());
                Ok(false)
            }
            Ok(n) => {
                let tls = self.stream.is_tls();
                let bytes = self.buf.get(..n).unwrap_or_default();
                self.state.observe(Direction::Received, tls, bytes);
                session.feed(Instant::now(), bytes);
                if n == self.buf.len() && n < MAX_READ_BUFFER {
                    self.buf.resize(n * 2, 0);
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_timeout(&e) => Ok(true),
            Err(e) if is_peer_gone(&e) => {
                self.read_ended = true;
                session.feed_eof(Instant::now());
                Ok(false)
            }
            Err(e) => {
                self.state.close();
                self.stream = Stream::Gone;
                Err(self.io_error("reading from", e))
            }
        }
    }

    /// Carries out the session's outputs until an event or the close.
    async fn drain<S: Session>(
        &mut self,
        session: &mut S,
    ) -> Result<Option<Next<S::Event>>, Error> {
        while let Some(output) = session.poll_output() {
            match output {
                Output::Transmit(bytes) => self.write(session, &bytes).await?,
                Output::Event(event) => return Ok(Some(Next::Event(event))),
                Output::StartTls => self.start_tls(session, false).await?,
                Output::Close => {
                    self.close().await;
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
    pub(crate) async fn start_tls<S: Session>(
        &mut self,
        session: &mut S,
        implicit: bool,
    ) -> Result<(), Error> {
        let outcome = match self.state.tls_start(session, Instant::now(), implicit) {
            Ok(start) => {
                let handshake = self.stream.start_tls::<R>(&start).await;
                self.state.tls_finished(session, handshake, Instant::now())
            }
            Err(error) => Err(error),
        };
        if outcome.is_err() {
            self.close().await;
        }
        outcome
    }

    /// One batch: written whole and flushed, so that it leaves in one
    /// segment where it fits (no Nagle stall between a body and its final
    /// dot). While the peer does not take our bytes, its own are read and
    /// fed to the session, so a peer that pipelines while we write is never
    /// left blocked on us.
    async fn write<S: Session>(&mut self, session: &mut S, bytes: &[u8]) -> Result<(), Error> {
        if self.state.is_closed() {
            return Ok(());
        }
        self.state
            .observe(Direction::Sent, self.stream.is_tls(), bytes);
        let deadline = Instant::now() + self.write_timeout;
        let mut written = 0;
        let mut read_meanwhile = 0;
        let mut outcome = Ok(());
        let result = timeout::<R, _>(
            deadline,
            poll_fn(|cx| loop {
                while let Some(rest) = bytes.get(written..).filter(|r| !r.is_empty()) {
                    match Pin::new(&mut self.stream).poll_write(cx, rest) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()))
                        }
                        Poll::Ready(Ok(n)) => written += n,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => break,
                    }
                }
                if written == bytes.len() {
                    if let Poll::Ready(result) = Pin::new(&mut self.stream).poll_flush(cx) {
                        return Poll::Ready(result);
                    }
                }
                if outcome.is_err() {
                    return Poll::Ready(Ok(()));
                }
                if self.read_ended || read_meanwhile >= READ_WHILE_WRITING {
                    return Poll::Pending;
                }
                let Driver { stream, buf, .. } = &mut *self;
                // Never more than the bound in one read.
                let room = buf.len().min(READ_WHILE_WRITING - read_meanwhile);
                match Pin::new(&mut *stream).poll_read(cx, buf.get_mut(..room).unwrap_or_default())
                {
                    Poll::Ready(result) => {
                        if let Ok(n) = &result {
                            read_meanwhile += *n;
                        }
                        if let Err(e) = self.take_read(session, result) {
                            outcome = Err(e);
                        }
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }),
        )
        .await
        .unwrap_or_else(|| Err(io::ErrorKind::TimedOut.into()));
        outcome?;
        match result {
            Ok(()) => Ok(()),
            // The peer left: the session says what that means in its phase.
            Err(e) if is_peer_gone(&e) => {
                if !self.read_ended {
                    self.read_ended = true;
                    session.feed_eof(Instant::now());
                }
                Ok(())
            }
            Err(e) => {
                self.close().await;
                Err(self.io_error("writing to", e))
            }
        }
    }

    /// Closes the stream once.
    pub(crate) async fn close(&mut self) {
        if self.state.close() {
            self.stream.close::<R>().await;
        }
    }

    fn io_error(&self, action: &'static str, source: io::Error) -> Error {
        self.state.io_error(action, source)
    }
}
