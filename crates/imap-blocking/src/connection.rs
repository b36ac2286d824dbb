//! One connection: the driving loop around an `ImapSession`.

use crate::store::MaildirStore;
use crate::Shared;
use imap_proto::{Event, ImapSession, Mailstore, NoStore, Output};
use maildrop::MaildirFolders;
use session_server::{drive, Driven, Login, Shutdown, Transport};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

struct Connection<'a> {
    shared: &'a Shared,
    transport: Transport,
    session: ImapSession,
    store: Option<MaildirStore>,
    /// The client's address, for the authenticator.
    peer: SocketAddr,
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
    let mut session = ImapSession::new(std::sync::Arc::clone(&shared.config), now);
    if let Some(info) = tls {
        session.tls_established(now, info);
    }
    let mut conn = Connection {
        shared,
        transport,
        session,
        store: None,
        peer,
        done: false,
    };
    if drive(&mut conn, shutdown).is_err() {
        conn.session.feed_eof(Instant::now());
    }
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
        self.with_store(|s, store| s.handle_timeout(now, store));
    }

    fn received(&mut self, now: Instant, bytes: &[u8]) {
        self.with_store(|s, store| s.feed(now, bytes, store));
    }

    fn eof(&mut self, now: Instant) {
        self.session.feed_eof(now);
    }

    fn shutdown(&mut self) {
        self.session.shutdown();
    }
}

impl Connection<'_> {
    fn with_store<R>(&mut self, f: impl FnOnce(&mut ImapSession, &mut dyn Mailstore) -> R) -> R {
        match &mut self.store {
            Some(store) => f(&mut self.session, store),
            None => f(&mut self.session, &mut NoStore),
        }
    }

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
                Output::Event(Event::Login(credentials)) => {
                    let result = match self.shared.auth.login(&credentials, self.peer) {
                        Login::Granted(root) => match MaildirFolders::open(root) {
                            Ok(folders) => {
                                self.store = Some(MaildirStore::new(folders));
                                self.session.accept_login()
                            }
                            Err(_) => self.session.reject_login(),
                        },
                        Login::Limited => self.session.reject_login_unavailable(),
                        _ => self.session.reject_login(),
                    };
                    result.map_err(io::Error::other)?;
                    // Go on with commands pipelined behind the login.
                    self.with_store(|s, store| s.feed(Instant::now(), b"", store));
                }
                Output::Event(_) => {}
            }
        }
        Ok(())
    }
}
