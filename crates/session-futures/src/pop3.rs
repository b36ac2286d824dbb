//! The async POP3 server: `pop3-blocking`'s maildrop handling (lock table,
//! listing, deletes) and pop3-proto's session, driven over futures-io.

use crate::io::{drive, unblock, AsyncDriven, Io, StopSignal};
use crate::server::{Common, Protocol, Server};
use pop3_blocking::{maildrops, HeldMaildrop, Maildrops};
use pop3_proto::{Credentials, Event, Output, Pop3Config, Pop3Session, Response};
use session_server::{Authenticator, StartError};
use smtp_futures::Runtime;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

/// How the POP3 server runs: the same options as `pop3_blocking`'s
/// ([`session_server::ServerOptions`] around a [`Pop3Config`]).
pub type Pop3Options = session_server::ServerOptions<Pop3Config>;

/// An async POP3 server on runtime `R` (`smtp_smol::Smol`,
/// `smtp_async_std::AsyncStd`): [`bind`](Server::bind), then
/// [`run`](Server::run) or [`spawn`](Server::spawn).
pub type Pop3Server<R> = Server<R, Pop3>;

/// The POP3 side of a [`Server`]: what every connection shares.
#[derive(Debug)]
pub struct Pop3 {
    common: Common<Pop3Config, Credentials>,
    maildrops: Maildrops,
}

impl<R: Runtime> Server<R, Pop3> {
    /// Binds a POP3 listener: STLS when the configuration offers it (with
    /// the options' certificate), implicit TLS with
    /// `with_implicit_tls`; `auth` decides who may log in (it may block:
    /// it runs off the executor).
    pub fn bind(
        addr: impl ToSocketAddrs,
        options: Pop3Options,
        auth: impl Authenticator<Credentials>,
    ) -> Result<Pop3Server<R>, StartError> {
        options.check_tls(options.config.stls)?;
        let max_connections = options.max_connections;
        let pop3 = Pop3 {
            common: Common::new(options, auth),
            maildrops: Maildrops::new(),
        };
        Ok(Server::listen(addr, pop3, max_connections)?)
    }
}

impl Protocol for Pop3 {
    fn serve<R: Runtime>(
        self: Arc<Self>,
        socket: R::TcpStream,
        peer: SocketAddr,
        stop: StopSignal,
    ) -> impl Future<Output = ()> + Send {
        serve::<R>(self, socket, peer, stop)
    }

    fn refusal(&self) -> Vec<u8> {
        self.common.refusal(|| {
            Response::err("too many connections")
                .with_code(pop3_proto::ResponseCode::SysTemp)
                .to_bytes()
        })
    }
}

struct Connection<R: Runtime> {
    shared: Arc<Pop3>,
    io: Io<R>,
    session: Pop3Session,
    held: Option<HeldMaildrop>,
    peer: SocketAddr,
    done: bool,
}

async fn serve<R: Runtime>(
    shared: Arc<Pop3>,
    socket: R::TcpStream,
    peer: SocketAddr,
    stop: StopSignal,
) {
    let mut io = Io::<R>::new(socket, &shared.common.options);
    let Ok(tls) = io.accept(&shared.common.options).await else {
        io.close().await;
        return;
    };
    let now = Instant::now();
    let mut session = Pop3Session::new(Arc::clone(&shared.common.config), now);
    if let Some(info) = tls {
        session.tls_established(now, info);
    }
    let mut conn = Connection {
        shared,
        io,
        session,
        held: None,
        peer,
        done: false,
    };
    if drive(&mut conn, Some(stop)).await.is_err() {
        conn.session.feed_eof(Instant::now());
        // Drain so the maildrop is released without deleting anything.
        while conn.session.poll_output().is_some() {}
    }
    conn.held = None;
    conn.io.close().await;
}

impl<R: Runtime> AsyncDriven<R> for Connection<R> {
    fn io(&mut self) -> &mut Io<R> {
        &mut self.io
    }

    async fn drain(&mut self) -> io::Result<bool> {
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Transmit(bytes) => self.io.send(&bytes).await?,
                Output::StartTls => {
                    let info = self.io.start_tls().await?;
                    self.session.tls_established(Instant::now(), info);
                }
                Output::Close => {
                    self.done = true;
                    break;
                }
                Output::Event(event) => self.event(event).await?,
            }
        }
        Ok(self.done)
    }

    fn deadline(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    async fn timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    async fn received(&mut self, now: Instant, bytes: &[u8]) {
        self.session.feed(now, bytes);
    }

    fn eof(&mut self, now: Instant) {
        self.session.feed_eof(now);
    }

    fn shutdown(&mut self) {
        self.session.shutdown();
    }
}

impl<R: Runtime> Connection<R> {
    async fn event(&mut self, event: Event) -> io::Result<()> {
        match event {
            Event::Login(credentials) => {
                let (shared, peer) = (Arc::clone(&self.shared), self.peer);
                let outcome = unblock(move || {
                    let login = shared.common.auth.login(&credentials, peer);
                    shared.maildrops.login(login)
                })
                .await;
                self.held = outcome
                    .answer(&mut self.session)
                    .map_err(io::Error::other)?;
                Ok(())
            }
            Event::Retrieve { index, .. } => self.retrieve(index).await,
            Event::Update { deletions } => {
                let held = self.held.take();
                // Deleted, and the lock released, off the executor.
                let removed = unblock(move || maildrops::update(held, &deletions)).await;
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
    /// a time: read (off the executor), stuff, write, repeat.
    async fn retrieve(&mut self, index: usize) -> io::Result<()> {
        let held = self.held.take();
        let (held, opened) = unblock(move || {
            let opened = match &held {
                Some(held) => held.open_message(index),
                None => Err(Response::err("message was removed")),
            };
            (held, opened)
        })
        .await;
        self.held = held;
        let mut file = match opened {
            Ok(file) => file,
            Err(response) => {
                return self
                    .session
                    .fail_message(response)
                    .map_err(io::Error::other);
            }
        };
        let mut chunk = vec![0; self.shared.common.options.chunk_size.max(1)];
        while self.session.wants_more() {
            let (back, buf, read) = unblock(move || {
                let read = read_some(&mut file, &mut chunk);
                (file, chunk, read)
            })
            .await;
            (file, chunk) = (back, buf);
            let n = match read {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    // Part of the message is out: the only honest end is
                    // to cut the connection (never a false final dot).
                    self.session.shutdown();
                    return Err(e);
                }
            };
            self.session
                .message_chunk(chunk.get(..n).unwrap_or_default())
                .map_err(io::Error::other)?;
            // Write what this chunk produced before reading the next one.
            while let Some(out) = self.session.poll_output() {
                if let Output::Transmit(bytes) = out {
                    self.io.send(&bytes).await?;
                }
            }
        }
        self.session.end_message().map_err(io::Error::other)
    }
}

/// One read, retried when interrupted.
fn read_some(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
