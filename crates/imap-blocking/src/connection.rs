//! One connection: the driving loop around an `ImapSession`.

use crate::store::MaildirStore;
use crate::transport::Transport;
use crate::Shared;
use imap_proto::{Event, ImapSession, Mailstore, NoStore, Output};
use maildrop::MaildirFolders;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often a blocked read wakes to check for shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_secs(1);

struct Connection<'a> {
    shared: &'a Shared,
    transport: Transport,
    session: ImapSession,
    store: Option<MaildirStore>,
    done: bool,
}

pub(crate) fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let session = ImapSession::new(std::sync::Arc::clone(&shared.config), Instant::now());
    let mut conn = Connection {
        shared,
        transport: Transport::Plain(stream),
        session,
        store: None,
        done: false,
    };
    if shared.options.implicit_tls {
        let Some(tls) = shared.options.tls.clone() else {
            return;
        };
        match conn
            .transport
            .upgrade(tls, shared.options.handshake_timeout)
        {
            Ok(info) => conn.session.tls_established(Instant::now(), info),
            Err(_) => return,
        }
    }
    let _ = conn
        .transport
        .set_write_timeout(shared.options.write_timeout);
    if conn.run().is_err() {
        conn.session.feed_eof(Instant::now());
    }
    conn.transport.close();
}

impl Connection<'_> {
    fn with_store<R>(&mut self, f: impl FnOnce(&mut ImapSession, &mut dyn Mailstore) -> R) -> R {
        match &mut self.store {
            Some(store) => f(&mut self.session, store),
            None => f(&mut self.session, &mut NoStore),
        }
    }

    fn run(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            self.drain()?;
            if self.done {
                return Ok(());
            }
            if self.shared.stopping.load(Ordering::SeqCst) {
                self.session.shutdown();
                continue;
            }
            let now = Instant::now();
            let wait = match self.session.poll_timeout() {
                Some(deadline) if deadline <= now => {
                    self.with_store(|s, store| s.handle_timeout(now, store));
                    continue;
                }
                Some(deadline) => (deadline - now).min(SHUTDOWN_POLL),
                None => SHUTDOWN_POLL,
            };
            self.transport.set_read_timeout(wait)?;
            match self.transport.read(&mut buf) {
                Ok(0) => self.session.feed_eof(Instant::now()),
                Ok(n) => {
                    let bytes = buf.get(..n).unwrap_or_default();
                    self.with_store(|s, store| s.feed(Instant::now(), bytes, store));
                }
                Err(e) if is_timeout(&e) => {
                    let now = Instant::now();
                    if self.session.poll_timeout().is_some_and(|d| d <= now) {
                        self.with_store(|s, store| s.handle_timeout(now, store));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Carries out everything the session asks, in order.
    fn drain(&mut self) -> io::Result<()> {
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Transmit(bytes) => {
                    self.transport.write_all(&bytes)?;
                    self.transport.flush()?;
                }
                Output::StartTls => {
                    let Some(tls) = self.shared.options.tls.clone() else {
                        return Err(io::Error::other("STARTTLS without a certificate"));
                    };
                    let info = self
                        .transport
                        .upgrade(tls, self.shared.options.handshake_timeout)?;
                    let _ = self
                        .transport
                        .set_write_timeout(self.shared.options.write_timeout);
                    self.session.tls_established(Instant::now(), info);
                }
                Output::Close => {
                    self.done = true;
                    return Ok(());
                }
                Output::Event(Event::Login(credentials)) => {
                    let root = self.shared.auth.maildir(&credentials);
                    let opened = root.and_then(|r| MaildirFolders::open(r).ok());
                    let result = match opened {
                        Some(folders) => {
                            self.store = Some(MaildirStore::new(folders));
                            self.session.accept_login()
                        }
                        None => self.session.reject_login(),
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

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
