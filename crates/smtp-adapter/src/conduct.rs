//! The client's orchestration, decided without I/O: what each event means
//! during setup and during a send, when to read the body, when to write,
//! and what a failure becomes. Every adapter's client drives the same
//! [`ClientCore`] and [`Sending`] with a short loop of its own that only
//! reads, writes and waits (see docs/adapters.md).

use crate::Error;
use smtp_proto::{
    Capabilities, ClientError, ClientEvent, ClientSession, DeliveryReport, Envelope, TlsInfo,
};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// How much of the body is read and handed to the session at a time.
pub const BODY_CHUNK: usize = 64 * 1024;

/// What a driver found next, for the client and the server alike.
#[derive(Debug)]
pub enum Next<E> {
    /// An event for the application.
    Event(E),
    /// A poll interval passed (blocking server): the caller may look at the
    /// world (a shutdown request) and call again.
    Idle,
    /// The stop signal fired (async server), once.
    Stop,
    /// The session closed the connection.
    Closed,
}

/// A client's next event as its caller sees it: the session's failure
/// becomes an error (after which the caller closes the connection); `None`
/// once the connection closed; `Some(None)` to ask the driver again.
fn heard(next: Next<ClientEvent>, peer: SocketAddr) -> Result<Option<Option<ClientEvent>>, Error> {
    match next {
        Next::Event(ClientEvent::Failed(error)) => Err(Error::session(peer, error)),
        Next::Event(event) => Ok(Some(Some(event))),
        Next::Idle | Next::Stop => Ok(None),
        Next::Closed => Ok(Some(None)),
    }
}

/// A client session from the connection to its first ready state
/// (greeting, EHLO, STARTTLS, AUTH).
#[derive(Debug)]
pub struct Setup {
    session: ClientSession,
    peer: SocketAddr,
    /// TLS came first (for the wording of a missing greeting).
    implicit: bool,
}

impl Setup {
    /// Sets `session` up over a connection to `peer`.
    pub fn new(session: ClientSession, peer: SocketAddr, implicit: bool) -> Setup {
        Setup {
            session,
            peer,
            implicit,
        }
    }

    /// The session, for the driver.
    pub fn session(&mut self) -> &mut ClientSession {
        &mut self.session
    }

    /// The driver's next outcome: the ready client once the session is
    /// ready, or the setup to drive on.
    pub fn heard(self, next: Next<ClientEvent>) -> Result<Result<ClientCore, Setup>, Error> {
        let peer = self.peer;
        match heard(next, peer).map_err(|e| e.or_no_greeting(self.implicit))? {
            Some(Some(ClientEvent::Ready {
                capabilities, tls, ..
            })) => Ok(Ok(ClientCore {
                session: self.session,
                peer,
                capabilities,
                tls,
                pending: VecDeque::new(),
                buffers: [Vec::new(), Vec::new()],
                busy: false,
            })),
            Some(Some(_)) | None => Ok(Err(self)),
            Some(None) => Err(Error::closed_during_setup(peer)),
        }
    }
}

/// The getters every adapter's `Client` offers, over its fields `core`
/// (a [`ClientCore`]) and `driver` (with `is_closed`).
#[macro_export]
#[doc(hidden)]
macro_rules! client_getters {
    () => {
        /// The server's address.
        pub fn peer_addr(&self) -> std::net::SocketAddr {
            self.core.peer()
        }

        /// What the server offered in its EHLO (or HELO) reply.
        pub fn capabilities(&self) -> &smtp_proto::Capabilities {
            self.core.capabilities()
        }

        /// The TLS handshake's outcome (protocol, cipher, the name checked
        /// and whether the certificate verified), when TLS is in use.
        pub fn tls(&self) -> Option<&smtp_proto::TlsInfo> {
            self.core.tls()
        }

        /// The connection can take another message: open, ready, and no
        /// send was left half-way.
        pub fn is_usable(&self) -> bool {
            !self.driver.is_closed() && self.core.is_ready()
        }
    };
}

/// A ready client's state between messages: the session, what the server
/// offered, events met while writing, and the body buffers kept for the
/// next message.
#[derive(Debug)]
pub struct ClientCore {
    session: ClientSession,
    peer: SocketAddr,
    capabilities: Capabilities,
    tls: Option<TlsInfo>,
    /// Events met while the body was being written (the final reply can
    /// arrive while the last bytes go out), for the send to take next.
    pending: VecDeque<ClientEvent>,
    /// The two body buffers of a send, kept for the next message.
    buffers: [Vec<u8>; 2],
    /// A send or quit started and has not finished (an async one may have
    /// been dropped half-way).
    busy: bool,
}

impl ClientCore {
    /// The session, for the driver.
    pub fn session(&mut self) -> &mut ClientSession {
        &mut self.session
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// What the server offered in its EHLO (or HELO) reply.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The TLS handshake's outcome, when TLS is in use.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// No operation was left half done and the session can take a message.
    pub fn is_ready(&self) -> bool {
        !self.busy && self.session.is_ready()
    }

    /// A send or quit started and has not finished.
    pub fn is_busy(&self) -> bool {
        self.busy
    }

    /// A session error as the adapter's error.
    pub fn fail(&self, error: ClientError) -> Error {
        Error::session(self.peer, error)
    }

    /// Starts sending `envelope`; the caller drives the returned
    /// [`Sending`] until it is done.
    pub fn send(&mut self, envelope: &Envelope) -> Result<Sending<'_>, Error> {
        self.session
            .send(envelope.clone())
            .map_err(|error| Error::session(self.peer, error))?;
        // From here until the final reply, a dropped future leaves a
        // transaction half done.
        self.busy = true;
        self.pending.clear();
        let [mut current, mut next] = std::mem::take(&mut self.buffers);
        current.resize(BODY_CHUNK, 0);
        next.resize(BODY_CHUNK, 0);
        Ok(Sending {
            core: self,
            state: State::Waiting,
            buffers: [current, next],
            held: 0,
        })
    }

    /// Starts QUIT: `Ok(false)` when there is nothing to say (closed or
    /// busy: the caller just closes).
    pub fn quit(&mut self, closed: bool) -> Result<bool, Error> {
        if self.busy || closed {
            return Ok(false);
        }
        self.session
            .quit()
            .map_err(|error| Error::session(self.peer, error))?;
        self.busy = true;
        Ok(true)
    }

    /// What the quit loop does with the next driver outcome: true to go on
    /// waiting, false once the connection closed.
    pub fn quitting(&mut self, next: Next<ClientEvent>) -> Result<bool, Error> {
        Ok(!matches!(heard(next, self.peer)?, Some(None)))
    }

    /// What to make of a driver outcome outside a send (the connection sat
    /// idle): false when the connection must be closed.
    pub fn idle_event(&mut self, event: Option<ClientEvent>) -> bool {
        !matches!(event, Some(ClientEvent::Failed(_)))
    }
}

/// What the adapter does next for a [`Sending`].
#[derive(Debug)]
pub enum Step<'a> {
    /// Run the driver until its next outcome; give it to
    /// [`Sending::heard`].
    Wait,
    /// Read the body into this buffer (fill what one read gives, 0 at its
    /// end); give the count to [`Sending::body_read`]. A failed read: close
    /// the connection and fail with [`Error::Body`].
    Read(&'a mut [u8]),
    /// Write what the session has to send now without waiting for the
    /// peer (the driver's flush); give its event to [`Sending::flushed`].
    Flush,
    /// Close the connection and return this error.
    Fail(Error),
    /// The send is over.
    Done(Result<DeliveryReport, Error>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the server.
    Waiting,
    /// Reading the body.
    Reading,
    /// Flushing, then reading on.
    FlushThenRead,
    /// Flushing the end of data, then waiting for the final reply.
    FlushThenWait,
    Over,
}

/// One message being sent: the envelope's replies, the body streamed one
/// chunk ahead (a chunk is handed to the session once the next read
/// returned more, so the last chunk and the end of data leave in one
/// write: a small message is one write in all), and the final reply.
#[derive(Debug)]
pub struct Sending<'a> {
    core: &'a mut ClientCore,
    state: State,
    /// The chunk held back (`held` octets of the first) and the one read
    /// into next.
    buffers: [Vec<u8>; 2],
    held: usize,
}

impl Sending<'_> {
    /// The session, for the driver.
    pub fn session(&mut self) -> &mut ClientSession {
        &mut self.core.session
    }

    /// What to do next.
    pub fn step(&mut self) -> Step<'_> {
        loop {
            match self.state {
                State::Waiting => {
                    let Some(event) = self.core.pending.pop_front() else {
                        return Step::Wait;
                    };
                    if let Some(step) = self.event(Some(event)) {
                        return step;
                    }
                }
                State::Reading => {
                    let [_, next] = &mut self.buffers;
                    return Step::Read(next);
                }
                State::FlushThenRead | State::FlushThenWait => return Step::Flush,
                State::Over => {
                    return Step::Done(Err(Error::Closed {
                        peer: self.core.peer,
                    }))
                }
            }
        }
    }

    /// The driver's outcome after [`Step::Wait`]; `Some` ends the send.
    pub fn heard(&mut self, next: Next<ClientEvent>) -> Option<Step<'static>> {
        match heard(next, self.core.peer) {
            Ok(Some(event)) => self.event(event),
            Ok(None) => None,
            Err(error) => Some(self.over(Step::Fail(error))),
        }
    }

    fn event(&mut self, event: Option<ClientEvent>) -> Option<Step<'static>> {
        let peer = self.core.peer;
        match event {
            Some(ClientEvent::SendBody) => {
                self.held = 0;
                self.state = State::Reading;
                None
            }
            Some(ClientEvent::Delivered(report)) => {
                self.core.busy = false;
                Some(self.over(Step::Done(Ok(report))))
            }
            Some(ClientEvent::TransactionFailed(report)) => {
                self.core.busy = false;
                let rejected = Error::Rejected {
                    peer,
                    report: Box::new(report),
                };
                Some(self.over(Step::Done(Err(rejected))))
            }
            Some(ClientEvent::Failed(error)) => {
                Some(self.over(Step::Fail(Error::session(peer, error))))
            }
            Some(_) => None,
            None => Some(self.over(Step::Done(Err(Error::Closed { peer })))),
        }
    }

    /// The count one read of the body gave after [`Step::Read`] (0 at its
    /// end); `Some` ends the send.
    pub fn body_read(&mut self, n: usize) -> Option<Step<'static>> {
        let result = if self.held == 0 {
            if n == 0 {
                self.state = State::FlushThenWait;
                self.core.session.end_body()
            } else {
                self.buffers.swap(0, 1);
                self.held = n;
                Ok(())
            }
        } else {
            let [current, _] = &self.buffers;
            let bytes = current.get(..self.held).unwrap_or_default();
            let sent = self.core.session.send_body(bytes);
            if n > 0 {
                self.buffers.swap(0, 1);
                self.held = n;
                self.state = State::FlushThenRead;
                sent
            } else {
                self.state = State::FlushThenWait;
                sent.and_then(|()| self.core.session.end_body())
            }
        };
        match result {
            Ok(()) => None,
            Err(error) => Some(self.over(Step::Fail(self.core.fail(error)))),
        }
    }

    /// The event the driver's flush met after [`Step::Flush`]; `Some` ends
    /// the send. The session failing ends it; another event (the final
    /// reply, when it came while the last bytes were written) is taken
    /// once the body is done.
    pub fn flushed(&mut self, event: Option<ClientEvent>) -> Option<Step<'static>> {
        match event {
            Some(ClientEvent::Failed(error)) => {
                return Some(self.over(Step::Fail(self.core.fail(error))))
            }
            Some(event) => self.core.pending.push_back(event),
            None => {}
        }
        self.state = match self.state {
            State::FlushThenRead => State::Reading,
            _ => State::Waiting,
        };
        None
    }

    fn over(&mut self, step: Step<'static>) -> Step<'static> {
        self.state = State::Over;
        step
    }
}

impl Drop for Sending<'_> {
    /// The buffers stay with the client for its next message.
    fn drop(&mut self) {
        self.core.buffers = std::mem::take(&mut self.buffers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Output, Recipient, TlsPolicy};
    use std::time::Instant;

    /// Everything the session transmits now, and its events.
    fn drain(session: &mut ClientSession) -> (Vec<u8>, Vec<ClientEvent>) {
        let (mut sent, mut events) = (Vec::new(), Vec::new());
        while let Some(output) = session.poll_output() {
            match output {
                Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
                Output::Event(event) => events.push(event),
                other => panic!("unexpected {other:?}"),
            }
        }
        (sent, events)
    }

    fn ready() -> ClientCore {
        let now = Instant::now();
        let config =
            ClientConfig::new(Host::parse("client.test").unwrap()).with_tls(TlsPolicy::None);
        let mut setup = Setup::new(
            ClientSession::new(config, now),
            "127.0.0.1:25".parse().unwrap(),
            false,
        );
        setup.session().feed(now, b"220 mx.test ESMTP\r\n");
        let (sent, _) = drain(setup.session());
        assert!(sent.starts_with(b"EHLO "), "{sent:?}");
        setup
            .session()
            .feed(now, b"250-mx.test\r\n250 PIPELINING\r\n");
        let (_, events) = drain(setup.session());
        let mut core = None;
        for event in events {
            setup = match setup.heard(Next::Event(event)).unwrap() {
                Ok(ready) => {
                    core = Some(ready);
                    break;
                }
                Err(setup) => setup,
            };
        }
        core.expect("ready after EHLO")
    }

    fn envelope() -> Envelope {
        Envelope::new(Mailbox::parse("a@example.com").unwrap().into())
            .with_recipient(Recipient::new(Mailbox::parse("b@example.org").unwrap()))
    }

    /// Runs `Sending` to its end with `chunks` as the body's reads and the
    /// server's `replies` given when it waits; returns the order of steps
    /// (W wait, R read, F flush) and what was written at each flush.
    fn send(
        core: &mut ClientCore,
        chunks: &[&[u8]],
        replies: &[&[u8]],
    ) -> (String, Vec<Vec<u8>>, Result<DeliveryReport, Error>) {
        let now = Instant::now();
        let mut sending = core.send(&envelope()).unwrap();
        let (mut trace, mut flushes) = (String::new(), Vec::new());
        let (mut chunks, mut replies) = (chunks.iter(), replies.iter());
        loop {
            let done = match sending.step() {
                Step::Wait => {
                    trace.push('W');
                    let (sent, mut events) = drain(sending.session());
                    if !sent.is_empty() {
                        flushes.push(sent);
                    }
                    if events.is_empty() {
                        let reply = replies.next().expect("a reply left");
                        sending.session().feed(now, reply);
                        events = drain(sending.session()).1;
                    }
                    let mut done = None;
                    for event in events {
                        done = done.or(sending.heard(Next::Event(event)));
                    }
                    done
                }
                Step::Read(buf) => {
                    trace.push('R');
                    let chunk = chunks.next().copied().unwrap_or_default();
                    buf[..chunk.len()].copy_from_slice(chunk);
                    sending.body_read(chunk.len())
                }
                Step::Flush => {
                    trace.push('F');
                    let (sent, events) = drain(sending.session());
                    flushes.push(sent);
                    sending.flushed(events.into_iter().next())
                }
                done => Some(done),
            };
            match done {
                Some(Step::Done(result)) => return (trace, flushes, result),
                Some(Step::Fail(error)) => return (trace, flushes, Err(error)),
                _ => {}
            }
        }
    }

    #[test]
    fn the_body_streams_one_chunk_ahead_and_ends_in_the_last_write() {
        let mut core = ready();
        let (trace, flushes, result) = send(
            &mut core,
            &[b"Subject: a\r\n\r\n", b"one\r\n", b"two\r\n"],
            &[b"250 ok\r\n250 ok\r\n354 go\r\n", b"250 queued as X\r\n"],
        );
        assert!(result.is_ok(), "{result:?}");
        // Wait (MAIL, RCPT, DATA pipelined) for 354; read a chunk ahead of
        // each write; the last chunk and the end of data go in one flush;
        // wait for the final reply.
        assert_eq!(trace, "WRRFRFRFW");
        assert_eq!(flushes.last().unwrap(), b"two\r\n.\r\n");
        assert!(core.is_ready(), "the connection takes the next message");
        // The buffers stay for the next message, which reuses them.
        let (_, _, again) = send(
            &mut core,
            &[b"x\r\n"],
            &[b"250 ok\r\n250 ok\r\n354 go\r\n", b"250 ok\r\n"],
        );
        assert!(again.is_ok());
    }

    #[test]
    fn a_refused_message_is_rejected_and_the_client_stays_ready() {
        let mut core = ready();
        let (_, _, result) = send(
            &mut core,
            &[b"x\r\n"],
            &[b"250 ok\r\n250 ok\r\n354 go\r\n", b"554 5.7.1 no\r\n"],
        );
        assert!(matches!(result, Err(Error::Rejected { .. })), "{result:?}");
        assert!(core.is_ready());
    }

    #[test]
    fn a_closed_connection_mid_send_is_closed_and_busy() {
        let mut core = ready();
        let mut sending = core.send(&envelope()).unwrap();
        assert!(matches!(sending.step(), Step::Wait));
        let done = sending.heard(Next::Closed);
        assert!(matches!(done, Some(Step::Done(Err(Error::Closed { .. })))));
        drop(sending);
        assert!(core.is_busy(), "a send cut short is never reused");
        assert!(!core.is_ready());
    }
}
