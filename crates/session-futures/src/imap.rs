//! The async IMAP server: imap-proto's session over `imap-blocking`'s
//! [`MaildirStore`], driven over futures-io. Whatever touches the store
//! (every command once logged in, the IDLE checks) runs off the executor,
//! the session and its store moved to a pool thread and back.

use crate::io::{drive, unblock, AsyncDriven, Io, StopSignal};
use crate::server::{Common, Protocol, Server};
use imap_blocking::MaildirStore;
use imap_proto::{Credentials, Event, ImapConfig, ImapSession, Mailstore, NoStore, Output};
use maildrop::MaildirFolders;
use session_server::{Authenticator, Login, StartError};
use smtp_futures::Runtime;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Instant;

/// How the IMAP server runs: the same options as `imap_blocking`'s
/// ([`session_server::ServerOptions`] around an [`ImapConfig`]).
pub type ImapOptions = session_server::ServerOptions<ImapConfig>;

/// An async IMAP server on runtime `R` (`smtp_smol::Smol`,
/// `smtp_async_std::AsyncStd`): [`bind`](Server::bind), then
/// [`run`](Server::run) or [`spawn`](Server::spawn).
pub type ImapServer<R> = Server<R, Imap>;

/// The IMAP side of a [`Server`]: what every connection shares.
#[derive(Debug)]
pub struct Imap {
    common: Common<ImapConfig, Credentials>,
}

impl<R: Runtime> Server<R, Imap> {
    /// Binds an IMAP listener: STARTTLS when the configuration offers it
    /// (with the options' certificate), implicit TLS with
    /// `with_implicit_tls`; `auth` decides who may log in (it may block:
    /// it runs off the executor).
    pub fn bind(
        addr: impl ToSocketAddrs,
        options: ImapOptions,
        auth: impl Authenticator<Credentials>,
    ) -> Result<ImapServer<R>, StartError> {
        options.check_tls(options.config.starttls)?;
        let max_connections = options.max_connections;
        let imap = Imap {
            common: Common::new(options, auth),
        };
        Ok(Server::listen(addr, imap, max_connections)?)
    }
}

impl Protocol for Imap {
    fn serve<R: Runtime>(
        self: Arc<Self>,
        socket: R::TcpStream,
        peer: SocketAddr,
        stop: StopSignal,
    ) -> impl Future<Output = ()> + Send {
        serve::<R>(self, socket, peer, stop)
    }

    fn refusal(&self) -> Vec<u8> {
        self.common
            .refusal(|| b"* BYE [UNAVAILABLE] too many connections\r\n".to_vec())
    }
}

/// The session and, once logged in, its store: moved together to a pool
/// thread for the store's work.
struct State {
    session: ImapSession,
    store: Option<MaildirStore>,
}

impl State {
    fn with_store<T>(&mut self, f: impl FnOnce(&mut ImapSession, &mut dyn Mailstore) -> T) -> T {
        match &mut self.store {
            Some(store) => f(&mut self.session, store),
            None => f(&mut self.session, &mut NoStore),
        }
    }
}

struct Connection<R: Runtime> {
    shared: Arc<Imap>,
    io: Io<R>,
    /// `None` only while on a pool thread.
    state: Option<State>,
    peer: SocketAddr,
    done: bool,
}

async fn serve<R: Runtime>(
    shared: Arc<Imap>,
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
    let mut session = ImapSession::new(Arc::clone(&shared.common.config), now);
    if let Some(info) = tls {
        session.tls_established(now, info);
    }
    let mut conn = Connection {
        shared,
        io,
        state: Some(State {
            session,
            store: None,
        }),
        peer,
        done: false,
    };
    if drive(&mut conn, Some(stop)).await.is_err() {
        conn.eof(Instant::now());
    }
    conn.io.close().await;
}

impl<R: Runtime> Connection<R> {
    /// Runs `f` on the session and its store: at once before login (no
    /// store, no I/O), on a pool thread after.
    async fn step(
        &mut self,
        f: impl FnOnce(&mut ImapSession, &mut dyn Mailstore) + Send + 'static,
    ) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        if state.store.is_none() {
            state.with_store(f);
            self.state = Some(state);
            return;
        }
        self.state = Some(
            unblock(move || {
                state.with_store(f);
                state
            })
            .await,
        );
    }

    fn session(&mut self) -> Option<&mut ImapSession> {
        self.state.as_mut().map(|s| &mut s.session)
    }

    async fn login(&mut self, credentials: Credentials) -> io::Result<()> {
        let (shared, peer) = (Arc::clone(&self.shared), self.peer);
        let login = unblock(move || match shared.common.auth.login(&credentials, peer) {
            Login::Granted(root) => match MaildirFolders::open(root) {
                Ok(folders) => Ok(MaildirStore::new(folders)),
                Err(_) => Err(Login::Refused),
            },
            other => Err(other),
        })
        .await;
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let result = match login {
            Ok(store) => {
                state.store = Some(store);
                state.session.accept_login()
            }
            Err(Login::Limited) => state.session.reject_login_unavailable(),
            Err(_) => state.session.reject_login(),
        };
        result.map_err(io::Error::other)?;
        // Go on with commands pipelined behind the login.
        self.step(|s, store| s.feed(Instant::now(), b"", store))
            .await;
        Ok(())
    }
}

impl<R: Runtime> AsyncDriven<R> for Connection<R> {
    fn io(&mut self) -> &mut Io<R> {
        &mut self.io
    }

    async fn drain(&mut self) -> io::Result<bool> {
        while let Some(out) = self.session().and_then(|s| s.poll_output()) {
            match out {
                Output::Transmit(bytes) => self.io.send(&bytes).await?,
                Output::StartTls => {
                    let info = self.io.start_tls().await?;
                    if let Some(session) = self.session() {
                        session.tls_established(Instant::now(), info);
                    }
                }
                Output::Close => {
                    self.done = true;
                    break;
                }
                Output::Event(Event::Login(credentials)) => self.login(credentials).await?,
                Output::Event(_) => {}
            }
        }
        Ok(self.done || self.state.is_none())
    }

    fn deadline(&self) -> Option<Instant> {
        self.state.as_ref().and_then(|s| s.session.poll_timeout())
    }

    async fn timeout(&mut self, now: Instant) {
        self.step(move |s, store| s.handle_timeout(now, store))
            .await;
    }

    async fn received(&mut self, now: Instant, bytes: &[u8]) {
        let bytes = bytes.to_vec();
        self.step(move |s, store| s.feed(now, &bytes, store)).await;
    }

    fn eof(&mut self, now: Instant) {
        if let Some(session) = self.session() {
            session.feed_eof(now);
        }
    }

    fn shutdown(&mut self) {
        if let Some(session) = self.session() {
            session.shutdown();
        }
    }
}
