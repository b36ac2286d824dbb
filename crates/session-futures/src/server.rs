//! The accept loop shared by the POP3 and IMAP servers: one task per
//! connection up to the options' limit (more get the protocol's refusal
//! line), and a shutdown that lets each session say goodbye.

use crate::io::StopSignal;
use event_listener::Event;
use futures_util::AsyncWriteExt as _;
use smtp_futures::{timeout, Runtime};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::marker::PhantomData;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// One protocol's side of a server (the async `session_server::Service`).
pub trait Protocol: Send + Sync + 'static {
    /// Serves one accepted connection until it ends; `stop` completes when
    /// the server shuts down, and the session should then say goodbye.
    fn serve<R: Runtime>(
        self: Arc<Self>,
        socket: R::TcpStream,
        peer: SocketAddr,
        stop: StopSignal,
    ) -> impl Future<Output = ()> + Send;
    /// The bytes written to a client refused because the server is full
    /// (none on an implicit-TLS port, where plaintext would read as
    /// garbage).
    fn refusal(&self) -> Vec<u8>;
}

/// What every connection of one protocol's server shares: the options,
/// the protocol configuration each session reads, and who may log in
/// (`Cr`: the protocol's credentials).
pub(crate) struct Common<C, Cr: ?Sized + 'static> {
    pub(crate) options: session_server::ServerOptions<C>,
    pub(crate) config: Arc<C>,
    pub(crate) auth: Arc<dyn session_server::Authenticator<Cr>>,
}

impl<C: Clone, Cr: ?Sized + 'static> Common<C, Cr> {
    pub(crate) fn new(
        options: session_server::ServerOptions<C>,
        auth: impl session_server::Authenticator<Cr>,
    ) -> Common<C, Cr> {
        Common {
            config: Arc::new(options.config.clone()),
            options,
            auth: Arc::new(auth),
        }
    }

    /// The refusal `line` for a client past the limit; nothing on an
    /// implicit-TLS port, where plaintext would read as garbage.
    pub(crate) fn refusal(&self, line: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
        if self.options.implicit_tls {
            return Vec::new();
        }
        line()
    }
}

impl<C: fmt::Debug, Cr: ?Sized + 'static> fmt::Debug for Common<C, Cr> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Common")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A bound server, not yet accepting, generic over the runtime `R`
/// (`smtp_smol::Smol`, `smtp_async_std::AsyncStd`, or any
/// [`Runtime`]) and the protocol: see [`Pop3Server`](crate::Pop3Server)
/// and [`ImapServer`](crate::ImapServer).
pub struct Server<R: Runtime, P: Protocol> {
    listener: R::TcpListener,
    local_addr: SocketAddr,
    protocol: Arc<P>,
    max_connections: usize,
    core: Arc<Core>,
}

impl<R: Runtime, P: Protocol> fmt::Debug for Server<R, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime, P: Protocol> Server<R, P> {
    pub(crate) fn listen(
        addr: impl ToSocketAddrs,
        protocol: P,
        max_connections: usize,
    ) -> io::Result<Server<R, P>> {
        let listener = std::net::TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        Ok(Server {
            listener: R::listener(listener)?,
            local_addr,
            protocol: Arc::new(protocol),
            max_connections,
            core: Arc::default(),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops this server from another task.
    pub fn shutdown_handle(&self) -> ShutdownHandle<R> {
        ShutdownHandle {
            core: Arc::clone(&self.core),
            local_addr: self.local_addr,
            runtime: PhantomData,
        }
    }

    /// Accepts connections on a task of its own; the handle stops it.
    pub fn spawn(self) -> ServerHandle<R> {
        let handle = self.shutdown_handle();
        R::spawn(self.run());
        ServerHandle {
            handle,
            stopped: false,
        }
    }

    /// Accepts connections until a [`ShutdownHandle`] stops it, then waits
    /// for the connection tasks to end.
    pub async fn run(self) {
        let core = &self.core;
        core.accepting.store(true, Ordering::SeqCst);
        loop {
            let accepted = {
                let mut accept = pin!(R::accept(&self.listener));
                let mut stop = pin!(core.wait_for(|c| c.stopping.load(Ordering::SeqCst)));
                poll_fn(|cx| {
                    if stop.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    accept.as_mut().poll(cx).map(Some)
                })
                .await
            };
            match accepted {
                None => break,
                Some(Ok((socket, peer))) => self.serve(socket, peer),
                // A client that gave up between SYN and accept, or a full
                // descriptor table: go on accepting, without spinning.
                Some(Err(_)) => R::sleep_until(Instant::now() + Duration::from_millis(10)).await,
            }
        }
        drop(self.listener);
        core.accepting_done.store(true, Ordering::SeqCst);
        core.changed.notify(usize::MAX);
        core.wait_for(|c| c.active() == 0).await;
    }

    fn serve(&self, socket: R::TcpStream, peer: SocketAddr) {
        let core = &self.core;
        if core.connections.fetch_add(1, Ordering::SeqCst) >= self.max_connections {
            core.leave();
            R::spawn(refuse::<R>(socket, self.protocol.refusal()));
            return;
        }
        let leave = Leave(Arc::clone(core));
        let protocol = Arc::clone(&self.protocol);
        let stop = stop_signal(Arc::clone(core));
        R::spawn(async move {
            protocol.serve::<R>(socket, peer, stop).await;
            drop(leave);
        });
    }
}

/// Stops a server from another task.
pub struct ShutdownHandle<R: Runtime> {
    core: Arc<Core>,
    local_addr: SocketAddr,
    runtime: PhantomData<R>,
}

impl<R: Runtime> Clone for ShutdownHandle<R> {
    fn clone(&self) -> Self {
        ShutdownHandle {
            core: Arc::clone(&self.core),
            local_addr: self.local_addr,
            runtime: PhantomData,
        }
    }
}

impl<R: Runtime> fmt::Debug for ShutdownHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("local_addr", &self.local_addr)
            .field("active", &self.core.active())
            .finish()
    }
}

impl<R: Runtime> ShutdownHandle<R> {
    /// Stops accepting, tells every open session to end (POP3:
    /// `-ERR [SYS/TEMP]`, nothing deleted; IMAP: `* BYE`) and waits for the
    /// connections and the accept loop to end.
    pub async fn shutdown(&self) {
        self.core.stop();
        self.core
            .wait_for(|c| {
                // A server never run has no accept loop to wait for.
                let accept_loop_over =
                    !c.accepting.load(Ordering::SeqCst) || c.accepting_done.load(Ordering::SeqCst);
                c.active() == 0 && accept_loop_over
            })
            .await;
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.core.active()
    }
}

/// A server running on a task of its own. Dropping it stops the server
/// (open sessions are told goodbye) without waiting.
pub struct ServerHandle<R: Runtime> {
    handle: ShutdownHandle<R>,
    stopped: bool,
}

impl<R: Runtime> fmt::Debug for ServerHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("handle", &self.handle)
            .finish()
    }
}

impl<R: Runtime> ServerHandle<R> {
    /// A handle that stops the server from elsewhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle<R> {
        self.handle.clone()
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.handle.active_connections()
    }

    /// Stops the server (see [`ShutdownHandle::shutdown`]) and waits.
    pub async fn shutdown(mut self) {
        self.handle.shutdown().await;
        self.stopped = true;
    }
}

impl<R: Runtime> Drop for ServerHandle<R> {
    fn drop(&mut self) {
        if !self.stopped {
            self.handle.core.stop();
        }
    }
}

/// What the accept loop, the connection tasks and the handles share.
#[derive(Debug, Default)]
struct Core {
    connections: AtomicUsize,
    stopping: AtomicBool,
    accepting: AtomicBool,
    accepting_done: AtomicBool,
    changed: Event,
}

impl Core {
    fn active(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn leave(&self) {
        self.connections.fetch_sub(1, Ordering::SeqCst);
        self.changed.notify(usize::MAX);
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.changed.notify(usize::MAX);
    }

    /// Completes once `done` holds (checked after every change).
    async fn wait_for(&self, done: impl Fn(&Core) -> bool) {
        loop {
            if done(self) {
                return;
            }
            let listener = self.changed.listen();
            if done(self) {
                return;
            }
            listener.await;
        }
    }
}

/// Brings the connection count down when a connection task ends.
struct Leave(Arc<Core>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.leave();
    }
}

fn stop_signal(core: Arc<Core>) -> StopSignal {
    Box::pin(async move {
        core.wait_for(|c| c.stopping.load(Ordering::SeqCst)).await;
    })
}

/// Answers a connection over the limit and closes it.
async fn refuse<R: Runtime>(mut socket: R::TcpStream, refusal: Vec<u8>) {
    if !refusal.is_empty() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let _ = timeout::<R, _>(deadline, socket.write_all(&refusal)).await;
    }
    let _ = timeout::<R, _>(Instant::now() + Duration::from_secs(1), socket.close()).await;
}
