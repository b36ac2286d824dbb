//! One connection: the driving loop around a `Pop3Session`.

use crate::maildrops::{self, HeldMaildrop};
use crate::Shared;
use pop3_proto::{Event, Output, Pop3Session};
use session_server::{drive, Driven, Shutdown, Transport};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

struct Connection<'a> {
    shared: &'a Shared,
    transport: Transport,
    session: Pop3Session,
    held: Option<HeldMaildrop>,
    /// The client's address, for the authenticator.
    peer: SocketAddr,
    /// Read buffer for message files.
    chunk: Vec<u8>,
    done: bool,
}

pub(crate) fn serve(stream: TcpStream, shared: &Shared, shutdown: &Shutdown) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let Ok((transport, tls)) = Transport::accept(stream, &shared.options) else {
        return;
    };
    let now = Instant::now();
    let mut session = Pop3Session::new(std::sync::Arc::clone(&shared.config), now);
    if let Some(info) = tls {
        session.tls_established(now, info);
    }
    let mut conn = Connection {
        shared,
        transport,
        session,
        held: None,
        peer,
        chunk: vec![0; shared.options.chunk_size.max(1)],
        done: false,
    };
    if drive(&mut conn, shutdown).is_err() {
        conn.session.feed_eof(Instant::now());
        // Drain so the maildrop is released without deleting anything.
        while conn.session.poll_output().is_some() {}
    }
    conn.held = None;
    conn.transport.close();
}

impl Driven for Connection<'_> {
    fn transport(&mut self) -> &mut Transport {
        &mut self.transport
    }

    fn drain(&mut self) -> io::Result<bool> {
        Connection::drain(self)?;
        Ok(self.done)
    }

    fn deadline(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    fn timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    fn received(&mut self, now: Instant, bytes: &[u8]) {
        self.session.feed(now, bytes);
    }

    fn eof(&mut self, now: Instant) {
        self.session.feed_eof(now);
    }

    fn shutdown(&mut self) {
        self.session.shutdown();
    }
}

impl Connection<'_> {
    /// Carries out everything the session asks, in order.
    fn drain(&mut self) -> io::Result<()> {
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Transmit(bytes) => self.transport.send(&bytes)?,
                Output::StartTls => {
                    let info = self.transport.start_tls(&self.shared.options)?;
                    self.session.tls_established(Instant::now(), info);
                }
                Output::Close => {
                    self.done = true;
                    return Ok(());
                }
                Output::Event(event) => self.event(event)?,
            }
        }
        Ok(())
    }

    fn event(&mut self, event: Event) -> io::Result<()> {
        match event {
            Event::Login(credentials) => {
                let login = self.shared.auth.login(&credentials, self.peer);
                let outcome = self.shared.maildrops.login(login);
                self.held = outcome
                    .answer(&mut self.session)
                    .map_err(io::Error::other)?;
                Ok(())
            }
            Event::Retrieve { index, .. } => self.retrieve(index),
            Event::Update { deletions } => {
                let removed = maildrops::update(self.held.take(), &deletions);
                maildrops::answer_update(&mut self.session, removed).map_err(io::Error::other)
            }
            Event::Closed(_) => {
                // Released without deleting anything (unless UPDATE ran).
                self.held = None;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Streams message `index` from disk through the session, one chunk at
    /// a time: read, stuff, write, repeat.
    fn retrieve(&mut self, index: usize) -> io::Result<()> {
        let file = match &self.held {
            Some(held) => held.open_message(index),
            None => Err(pop3_proto::Response::err("message was removed")),
        };
        let mut file = match file {
            Ok(file) => file,
            Err(response) => {
                return self
                    .session
                    .fail_message(response)
                    .map_err(io::Error::other);
            }
        };
        while self.session.wants_more() {
            let n = match file.read(&mut self.chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Part of the message is out: the only honest end is
                    // to cut the connection (never a false final dot).
                    self.session.shutdown();
                    return Err(e);
                }
            };
            self.session
                .message_chunk(self.chunk.get(..n).unwrap_or_default())
                .map_err(io::Error::other)?;
            // Write what this chunk produced before reading the next one.
            while let Some(out) = self.session.poll_output() {
                if let Output::Transmit(bytes) = out {
                    self.transport.write_all(&bytes)?;
                }
            }
            self.transport.flush()?;
        }
        self.session.end_message().map_err(io::Error::other)
    }
}
