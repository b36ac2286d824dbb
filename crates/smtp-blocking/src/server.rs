//! A blocking SMTP server: one thread per connection, up to a limit.

use crate::driver::Driver;
use crate::tls::{ServerTls, Stream};
use crate::Error;
use smtp_adapter::blocking::{end_connection, handle_event, start_connection, Handler};
use smtp_adapter::{
    refusal_reply, ConnectionSetup, Dispatch, Limits, Listening, Next, ServerSetup, SharedAdmission,
};
use smtp_proto::ServerConfig;
use std::fmt;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a connection thread looks for a shutdown request while its
/// client is quiet.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A bound SMTP server, not yet accepting.
///
/// ```no_run
/// use smtp_blocking::{AcceptAll, Server};
/// use smtp_proto::ServerConfig;
/// use std::time::Duration;
///
/// let server = Server::bind("127.0.0.1:2525", ServerConfig::new("mx.example"), AcceptAll)?;
/// let handle = server.spawn()?;
/// // ... later:
/// handle.shutdown(Duration::from_secs(5));
/// # Ok::<(), smtp_blocking::Error>(())
/// ```
pub struct Server<H: Handler> {
    listener: TcpListener,
    setup: ServerSetup<H>,
    shared: Arc<Shared>,
    /// Sessions served at once before the accept loop waits (none: no
    /// wait; the connection limit refuses instead).
    max_sessions: Option<usize>,
}

impl<H: Handler> fmt::Debug for Server<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.setup.fmt(f)
    }
}

impl<H: Handler> Server<H> {
    /// Binds the listening socket (port 0 picks a free one; see
    /// [`local_addr`](Self::local_addr)). Plain TCP: a configuration with
    /// `starttls` or `require_tls` is refused (it needs a certificate; see
    /// [`bind_tls`](Self::bind_tls)).
    pub fn bind(
        addr: impl ToSocketAddrs + fmt::Debug,
        config: ServerConfig,
        handler: H,
    ) -> Result<Server<H>, Error> {
        Ok(Server::open(Listening::bind(addr, config, None)?, handler))
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
    ) -> Result<Server<H>, Error> {
        Ok(Server::open(
            Listening::bind(addr, config, Some(tls))?,
            handler,
        ))
    }

    fn open(bound: Listening, handler: H) -> Server<H> {
        let (listener, setup) = bound.serve(handler);
        Server {
            listener,
            setup,
            shared: Arc::default(),
            max_sessions: None,
        }
    }

    smtp_adapter::server_builder_methods!();

    /// Serves at most `max` sessions at once (`None`: no such cap). While
    /// `max` are served, the server stops accepting: new clients wait in
    /// the kernel's listen queue (the backlog, 4096 or the system's
    /// `somaxconn`) for their greeting instead of being refused, and the
    /// oldest is accepted when a session ends, as Postfix's master does at
    /// a service's process limit. The wait is bounded by how long the
    /// sessions ahead may last: the configuration's command timeout, idle
    /// timeout and session lifetime. `max_connections` still refuses with
    /// 421 beyond it; a cap above it changes nothing.
    pub fn with_max_sessions(mut self, max: Option<usize>) -> Self {
        self.max_sessions = max.map(|m| m.max(1));
        self
    }

    /// A handle that stops this server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
            local_addr: self.setup.local_addr(),
        }
    }

    /// Accepts connections on a new thread; the handle stops it.
    pub fn spawn(self) -> Result<ServerHandle, Error> {
        let handle = self.shutdown_handle();
        let local_addr = self.setup.local_addr();
        let thread = std::thread::Builder::new()
            .name("smtp-accept".into())
            .spawn(move || self.run())
            .map_err(|source| Error::Bind {
                addr: local_addr.to_string(),
                source,
            })?;
        Ok(ServerHandle {
            handle,
            thread: Some(thread),
        })
    }

    /// Accepts connections on this thread until a [`ShutdownHandle`] stops
    /// it, then waits for the connection threads to end.
    pub fn run(self) -> Result<(), Error> {
        loop {
            if let Some(max) = self.max_sessions {
                self.shared.wait_for_slot(max);
            }
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let incoming = self.listener.accept().map(|(stream, _)| stream);
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let stream = match incoming {
                Ok(stream) => stream,
                // A client that gave up between SYN and accept, or a full
                // descriptor table: go on accepting, without spinning.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            self.serve(stream);
        }
        drop(self.listener);
        self.shared.wait_idle(None);
        Ok(())
    }

    fn serve(&self, stream: TcpStream) {
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        if !self.shared.try_enter(peer, self.setup.limits()) {
            if self.setup.implicit_tls() {
                // A plaintext reply would read as garbage to a TLS client.
                let _ = stream.shutdown(std::net::Shutdown::Both);
            } else {
                refuse(stream, self.setup.hostname());
            }
            return;
        }
        let setup = self.setup.connection();
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("smtp-conn".into())
            .spawn(move || {
                let _leave = Leave(&shared, peer);
                if let Err(error) = serve_connection(stream, peer, &setup, &shared) {
                    setup.handler.connection_error(peer, &error);
                }
            });
        if spawned.is_err() {
            // The closure (and with it `Leave`) was dropped unrun; the
            // counter went up, so bring it down.
            self.shared.leave(peer);
        }
    }
}

/// Stops a server from another thread.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl ShutdownHandle {
    /// Stops accepting at once; lets the connections in progress finish for
    /// up to `grace`, then tells those still open `421 4.3.2` (the core's
    /// shutdown reply, which also discards an unfinished transaction) and
    /// waits for them to close. Returns once every connection thread ended.
    pub fn shutdown(&self, grace: Duration) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop, blocked in accept(), with a connection of
        // our own; it sees the flag and stops.
        let wake = wake_address(self.local_addr);
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        self.shared.wait_idle(Some(grace));
        // Also reaches a connection accepted just before the flag was seen
        // and counted only after the wait above.
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.wait_idle(None);
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.shared.active.active()
    }
}

/// A server running on its own thread.
#[derive(Debug)]
pub struct ServerHandle {
    handle: ShutdownHandle,
    thread: Option<JoinHandle<Result<(), Error>>>,
}

impl ServerHandle {
    /// A handle that stops the server from elsewhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    /// Stops the server (see [`ShutdownHandle::shutdown`]) and joins its
    /// accept thread.
    pub fn shutdown(mut self, grace: Duration) {
        self.stop(grace);
    }

    fn stop(&mut self, grace: Duration) {
        self.handle.shutdown(grace);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    /// A dropped handle stops its server, telling open connections 421 at
    /// once.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop(Duration::ZERO);
        }
    }
}

/// What the accept loop and the connection threads share.
#[derive(Debug, Default)]
struct Shared {
    /// Connections being served, in all and per client address.
    active: SharedAdmission,
    idle: Condvar,
    /// A session ended (the accept loop waits on it at `max_sessions`).
    slot: Condvar,
    /// Stop accepting.
    stopping: AtomicBool,
    /// Tell open connections 421.
    closing: AtomicBool,
}

impl Shared {
    fn try_enter(&self, peer: SocketAddr, limits: &Limits) -> bool {
        self.active.try_enter(peer, limits)
    }

    fn leave(&self, peer: SocketAddr) {
        // Under the lock the waiters wait with, so none misses the wake-up.
        let mut active = self.active.lock();
        active.leave(peer.ip());
        if active.active() == 0 {
            self.idle.notify_all();
        }
        self.slot.notify_one();
    }

    /// Waits until fewer than `max` sessions are served, or the server is
    /// stopping (looked at every poll interval: the shutdown's wake-up
    /// connection waits in the listen queue like any other).
    fn wait_for_slot(&self, max: usize) {
        let mut active = self.active.lock();
        while active.active() >= max && !self.stopping.load(Ordering::SeqCst) {
            active = match self.slot.wait_timeout(active, POLL_INTERVAL) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Waits until no connection is served, at most `limit`; true when idle.
    fn wait_idle(&self, limit: Option<Duration>) -> bool {
        let until = limit.map(|l| Instant::now() + l);
        let mut active = self.active.lock();
        while active.active() > 0 {
            let wait = match until {
                Some(until) => match until.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return false,
                },
                None => POLL_INTERVAL,
            };
            active = match self.idle.wait_timeout(active, wait) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

/// Brings the connection count down when a connection thread ends, even by
/// a panic in the handler.
struct Leave<'a>(&'a Shared, SocketAddr);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.leave(self.1);
    }
}

fn serve_connection<H: Handler>(
    stream: TcpStream,
    peer: SocketAddr,
    setup: &ConnectionSetup<H>,
    shared: &Shared,
) -> Result<(), Error> {
    let mut dispatch = Dispatch::new(peer).with_local(stream.local_addr().ok());
    let greeting = start_connection(&*setup.handler, &mut dispatch);
    let result = drive_connection(stream, peer, setup, shared, &mut dispatch, &greeting);
    // A message still open when the connection ended is deleted, and the
    // handler hears of the end, whichever way it came.
    end_connection(&*setup.handler, &mut dispatch);
    result
}

fn drive_connection<H: Handler>(
    stream: TcpStream,
    peer: SocketAddr,
    setup: &ConnectionSetup<H>,
    shared: &Shared,
    dispatch: &mut Dispatch<H::Sink>,
    greeting: &Result<(), smtp_proto::Reply>,
) -> Result<(), Error> {
    let configure = |source| Error::Io {
        action: "configuring the connection from",
        peer,
        source,
    };
    stream.set_nodelay(true).map_err(configure)?;
    stream
        .set_write_timeout(Some(setup.limits.write_timeout))
        .map_err(configure)?;
    let mut driver = Driver::new(
        Stream::Plain(stream),
        peer,
        Some(POLL_INTERVAL),
        setup.upgrade(),
    );
    let mut session = setup.session_after(Instant::now(), greeting);
    if setup.implicit_tls() {
        // The greeting the session queued goes out over TLS.
        driver.start_tls(&mut session, true)?;
    }
    loop {
        let event = match driver.next(&mut session) {
            Ok(Next::Event(event)) => event,
            // At most one poll interval apart, however busy the client.
            Ok(Next::Idle | Next::Stop) => {
                if shared.closing.load(Ordering::SeqCst) {
                    session.shutdown();
                }
                continue;
            }
            Ok(Next::Closed) => return Ok(()),
            Err(error) => return Err(error),
        };
        handle_event(&*setup.handler, dispatch, &mut session, event);
    }
}

/// Answers a connection over the limit and closes it. The reply is built by
/// the core; this is the only write outside a session.
fn refuse(mut stream: TcpStream, hostname: &str) {
    let reply = refusal_reply(hostname);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(&reply.to_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Where to connect to wake a listener bound to an unspecified address.
fn wake_address(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let loopback = match addr {
            SocketAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            SocketAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        };
        addr.set_ip(loopback);
    }
    addr
}
