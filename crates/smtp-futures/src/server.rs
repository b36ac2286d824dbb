//! The async SMTP server: an accept loop, one task per connection, up to a
//! limit, and a graceful shutdown.

use crate::driver::{Driver, StopSignal};
use crate::runtime::{timeout, Runtime};
use event_listener::Event;
use futures_util::AsyncWriteExt as _;
use smtp_adapter::asynchronous::{end_connection, handle_event, start_connection, Handler};
use smtp_adapter::{
    refusal_reply, ConnectionSetup, Dispatch, Error, Limits, Listening, Next, ServerSetup,
    ServerTls, SharedAdmission,
};
use smtp_proto::ServerConfig;
use std::fmt;
use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// A bound SMTP server, not yet accepting; generic over the [`Runtime`]
/// (use the aliases of `smtp-smol` or `smtp-async-std`).
pub struct Server<R: Runtime, H: Handler> {
    listener: R::TcpListener,
    setup: ServerSetup<H>,
    shared: Arc<Shared>,
}

impl<R: Runtime, H: Handler> fmt::Debug for Server<R, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.setup.fmt(f)
    }
}

impl<R: Runtime, H: Handler> Server<R, H> {
    /// Binds the listening socket (port 0 picks a free one; see
    /// [`local_addr`](Self::local_addr)). Plain TCP: a configuration with
    /// `starttls` or `require_tls` is refused (it needs a certificate; see
    /// [`bind_tls`](Self::bind_tls)).
    pub fn bind(
        addr: impl ToSocketAddrs + fmt::Debug,
        config: ServerConfig,
        handler: H,
    ) -> Result<Self, Error> {
        Server::open(Listening::bind(addr, config, None)?, handler)
    }

    /// Binds a listener with TLS: STARTTLS (set `config.starttls`, and
    /// `require_tls` to refuse mail and AUTH before it), or, with
    /// [`ServerTls::implicit`], a handshake on every accepted connection
    /// before the greeting (port 465 style).
    pub fn bind_tls(
        addr: impl ToSocketAddrs + fmt::Debug,
        config: ServerConfig,
        tls: ServerTls,
        handler: H,
    ) -> Result<Self, Error> {
        Server::open(Listening::bind(addr, config, Some(tls))?, handler)
    }

    fn open(bound: Listening, handler: H) -> Result<Self, Error> {
        let (listener, setup) = bound.serve(handler);
        let listener = R::listener(listener).map_err(|source| Error::Bind {
            addr: setup.local_addr().to_string(),
            source,
        })?;
        Ok(Server {
            listener,
            setup,
            shared: Arc::default(),
        })
    }

    smtp_adapter::server_builder_methods!();

    /// A handle that stops this server from another task.
    pub fn shutdown_handle(&self) -> ShutdownHandle<R> {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
            local_addr: self.setup.local_addr(),
            runtime: PhantomData,
        }
    }

    /// Accepts connections on a task of its own; the handle stops it.
    pub fn spawn(self) -> ServerHandle<R> {
        let handle = self.shutdown_handle();
        R::spawn(async move {
            // `run` reports no error: accept failures are retried.
            let _ = self.run().await;
        });
        ServerHandle {
            handle,
            stopped: false,
        }
    }

    /// Accepts connections until a [`ShutdownHandle`] stops it, then waits
    /// for the connection tasks to end.
    pub async fn run(self) -> Result<(), Error> {
        let shared = &self.shared;
        shared.accepting.store(true, Ordering::SeqCst);
        loop {
            let accepted = {
                let mut accept = pin!(R::accept(&self.listener));
                let mut stop = pin!(shared.wait_for(|s| s.stopping.load(Ordering::SeqCst)));
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
        shared.accepting_done.store(true, Ordering::SeqCst);
        shared.changed.notify(usize::MAX);
        shared.wait_for(|s| s.active() == 0).await;
        Ok(())
    }

    fn serve(&self, socket: R::TcpStream, peer: SocketAddr) {
        if !self.shared.try_enter(peer, self.setup.limits()) {
            let hostname = self.setup.hostname().to_owned();
            R::spawn(refuse::<R>(socket, hostname, self.setup.implicit_tls()));
            return;
        }
        let leave = Leave(Arc::clone(&self.shared), peer);
        let setup = self.setup.connection();
        R::spawn(async move {
            let stop = leave.0.clone();
            let result = serve_connection::<R, H>(socket, peer, &setup, stop).await;
            if let Err(error) = result {
                setup.handler.connection_error(peer, &error);
            }
            drop(leave);
        });
    }
}

/// Stops a server from another task.
pub struct ShutdownHandle<R: Runtime> {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    runtime: PhantomData<R>,
}

impl<R: Runtime> Clone for ShutdownHandle<R> {
    fn clone(&self) -> Self {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
            local_addr: self.local_addr,
            runtime: PhantomData,
        }
    }
}

impl<R: Runtime> fmt::Debug for ShutdownHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("local_addr", &self.local_addr)
            .field("active", &self.active_connections())
            .finish()
    }
}

impl<R: Runtime> ShutdownHandle<R> {
    /// Stops accepting at once; lets the connections in progress finish for
    /// up to `grace`, then tells those still open `421 4.3.2` (the core's
    /// shutdown reply, which also discards an unfinished transaction) and
    /// waits for them to close. Returns once every connection task ended.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.stop();
        let idle = self.shared.wait_for(|s| s.active() == 0);
        let _ = timeout::<R, _>(Instant::now() + grace, idle).await;
        self.shared.close();
        self.shared
            .wait_for(|s| {
                // A server never run has no accept loop to wait for.
                let accept_loop_over =
                    !s.accepting.load(Ordering::SeqCst) || s.accepting_done.load(Ordering::SeqCst);
                s.active() == 0 && accept_loop_over
            })
            .await;
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.shared.active()
    }
}

/// A server running on a task of its own. Dropping it stops the server
/// (open connections are told 421 at once) without waiting.
pub struct ServerHandle<R: Runtime> {
    handle: ShutdownHandle<R>,
    /// `shutdown` finished: nothing left for `drop` to do.
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

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.handle.active_connections()
    }

    /// Stops the server (see [`ShutdownHandle::shutdown`]) and waits for its
    /// accept loop and connections to end.
    /// Dropped half-way, it stops the server as a dropped handle does.
    pub async fn shutdown(mut self, grace: Duration) {
        self.handle.shutdown(grace).await;
        self.stopped = true;
    }
}

impl<R: Runtime> Drop for ServerHandle<R> {
    fn drop(&mut self) {
        if !self.stopped {
            self.handle.shared.stop();
            self.handle.shared.close();
        }
    }
}

/// What the accept loop, the connection tasks and the handles share.
#[derive(Debug, Default)]
struct Shared {
    /// Connections being served, in all and per client address.
    admission: SharedAdmission,
    /// Stop accepting.
    stopping: AtomicBool,
    /// Tell open connections 421.
    closing: AtomicBool,
    /// The accept loop started.
    accepting: AtomicBool,
    /// The accept loop ended.
    accepting_done: AtomicBool,
    /// Any of the above changed.
    changed: Event,
}

impl Shared {
    fn active(&self) -> usize {
        self.admission.active()
    }

    fn try_enter(&self, peer: SocketAddr, limits: &Limits) -> bool {
        self.admission.try_enter(peer, limits)
    }

    fn leave(&self, peer: SocketAddr) {
        self.admission.leave(peer);
        self.changed.notify(usize::MAX);
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.changed.notify(usize::MAX);
    }

    fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.changed.notify(usize::MAX);
    }

    /// Completes once `done` holds (checked after every change).
    async fn wait_for(&self, done: impl Fn(&Shared) -> bool) {
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

/// Brings the connection count down when a connection task ends, even by
/// a panic in the handler.
struct Leave(Arc<Shared>, SocketAddr);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.leave(self.1);
    }
}

/// Completes when the server starts telling connections 421.
fn closing_signal(shared: Arc<Shared>) -> StopSignal {
    Box::pin(async move {
        shared.wait_for(|s| s.closing.load(Ordering::SeqCst)).await;
    })
}

async fn serve_connection<R: Runtime, H: Handler>(
    socket: R::TcpStream,
    peer: SocketAddr,
    setup: &ConnectionSetup<H>,
    shared: Arc<Shared>,
) -> Result<(), Error> {
    let mut dispatch = Dispatch::new(peer).with_local(R::local_addr(&socket).ok());
    let greeting = start_connection(&*setup.handler, &mut dispatch).await;
    let result =
        drive_connection::<R, H>(socket, peer, setup, shared, &mut dispatch, &greeting).await;
    // A message still open when the connection ended is deleted, and the
    // handler hears of the end, whichever way it came.
    end_connection(&*setup.handler, &mut dispatch).await;
    result
}

async fn drive_connection<R: Runtime, H: Handler>(
    socket: R::TcpStream,
    peer: SocketAddr,
    setup: &ConnectionSetup<H>,
    shared: Arc<Shared>,
    dispatch: &mut Dispatch<H::Sink>,
    greeting: &Result<(), smtp_proto::Reply>,
) -> Result<(), Error> {
    R::set_nodelay(&socket).map_err(|source| Error::Io {
        action: "configuring the connection from",
        peer,
        source,
    })?;
    let mut driver = Driver::<R>::new(socket, peer, setup.upgrade(), setup.limits.write_timeout);
    driver.set_stop(closing_signal(shared));
    let mut session = setup.session_after(Instant::now(), greeting);
    if setup.implicit_tls() {
        // The greeting the session queued goes out over TLS.
        driver.start_tls(&mut session, true).await?;
    }
    loop {
        let event = match driver.next(&mut session).await {
            Ok(Next::Event(event)) => event,
            Ok(Next::Stop | Next::Idle) => {
                session.shutdown();
                continue;
            }
            Ok(Next::Closed) => return Ok(()),
            Err(error) => return Err(error),
        };
        handle_event(&*setup.handler, dispatch, &mut session, event).await;
    }
}

/// Answers a connection over the limit and closes it. The reply is built by
/// the core; this is the only write outside a session. On an implicit-TLS
/// port a plaintext reply would read as garbage, so it only closes.
async fn refuse<R: Runtime>(mut socket: R::TcpStream, hostname: String, implicit: bool) {
    if !implicit {
        let reply = refusal_reply(&hostname).to_bytes();
        let deadline = Instant::now() + Duration::from_secs(1);
        let _ = timeout::<R, _>(deadline, socket.write_all(&reply)).await;
    }
    let _ = timeout::<R, _>(Instant::now() + Duration::from_secs(1), socket.close()).await;
}
