//! One connection: the driving loop around a `Pop3Session`.

use crate::Shared;
use maildrop::Maildrop;
use pop3_proto::{Event, MessageInfo, Output, Pop3Session, Response, ResponseCode, Uid};
use session_server::{drive, Driven, Login, Shutdown, Transport};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Instant;

/// The maildrop a session holds, released (unlocked) when dropped.
struct Held<'a> {
    shared: &'a Shared,
    root: PathBuf,
    maildrop: Maildrop,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Ok(mut locked) = self.shared.locked.lock() {
            locked.remove(&self.root);
        }
    }
}

struct Connection<'a> {
    shared: &'a Shared,
    transport: Transport,
    session: Pop3Session,
    held: Option<Held<'a>>,
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
                let answer = match self.shared.auth.login(&credentials, self.peer) {
                    Login::Granted(root) => self.lock(root).map_err(Some),
                    Login::Limited => Err(Some(limited())),
                    _ => Err(None),
                };
                let result = match answer {
                    Ok(listing) => self.session.accept_login(listing),
                    Err(None) => self.session.reject_login(),
                    Err(Some(response)) => self.session.reject_login_with(response),
                };
                result.map_err(io::Error::other)
            }
            Event::Retrieve { index, .. } => self.retrieve(index),
            Event::Update { deletions } => {
                let indexes: Vec<usize> = deletions.iter().map(|d| d.index).collect();
                let removed = match &self.held {
                    Some(held) => held.maildrop.delete(&indexes).is_ok(),
                    None => indexes.is_empty(),
                };
                self.held = None;
                let result = if removed {
                    self.session.accept_update()
                } else {
                    self.session.reject_update()
                };
                result.map_err(io::Error::other)
            }
            Event::Closed(_) => {
                // Released without deleting anything (unless UPDATE ran).
                self.held = None;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Locks and scans the user's maildrop.
    fn lock(&mut self, root: PathBuf) -> Result<Vec<MessageInfo>, Response> {
        {
            let Ok(mut locked) = self.shared.locked.lock() else {
                return Err(
                    Response::err("lock table unavailable").with_code(ResponseCode::SysTemp)
                );
            };
            if !locked.insert(root.clone()) {
                return Err(Response::err("maildrop already in use").with_code(ResponseCode::InUse));
            }
        }
        let maildrop = match Maildrop::scan(&root) {
            Ok(m) => m,
            Err(_) => {
                if let Ok(mut locked) = self.shared.locked.lock() {
                    locked.remove(&root);
                }
                return Err(
                    Response::err("cannot read the maildrop").with_code(ResponseCode::SysTemp)
                );
            }
        };
        let held = Held {
            shared: self.shared,
            root,
            maildrop,
        };
        let listing = held
            .maildrop
            .messages()
            .iter()
            .filter_map(|m| {
                Some(MessageInfo {
                    size: m.size(),
                    uid: Uid::new(m.uid()).ok()?,
                })
            })
            .collect();
        self.held = Some(held);
        Ok(listing)
    }

    /// Streams message `index` from disk through the session, one chunk at
    /// a time: read, stuff, write, repeat.
    fn retrieve(&mut self, index: usize) -> io::Result<()> {
        let file = match &self.held {
            Some(held) => held.maildrop.open(index),
            None => Err(io::ErrorKind::NotFound.into()),
        };
        let mut file = match file {
            Ok(file) => file,
            Err(e) => {
                let response = if e.kind() == io::ErrorKind::NotFound {
                    Response::err("message was removed")
                } else {
                    Response::err("cannot read the message").with_code(ResponseCode::SysTemp)
                };
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

/// The answer to a login refused because of earlier failures (for this user
/// or from this address), the password unchecked.
pub(crate) fn limited() -> Response {
    Response::err("too many failed logins, try again later").with_code(ResponseCode::Auth)
}
