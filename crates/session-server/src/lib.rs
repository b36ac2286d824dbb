//! The blocking plumbing shared by the POP3 and IMAP servers
//! (`pop3-blocking`, `imap-blocking`): std::net sockets, one thread per
//! connection, rustls for STARTTLS and implicit TLS. What differs between
//! the protocols (the session, its configuration, who may log in, the line
//! that refuses a client when the server is full) stays in each server;
//! this crate holds what they have in common:
//!
//! - [`Transport`]: a plain or TLS stream, the handshake with a deadline,
//!   read and write timeouts; [`drive`], the loop that feeds a session
//!   ([`Driven`]) its client's bytes, its deadlines and shutdown;
//! - [`ServerOptions`]: TLS, the connection limit and the timeouts, around
//!   the protocol's own configuration;
//! - [`Listener`] and [`RunningServer`]: the accept loop, the connection
//!   limit, shutdown;
//! - [`ReloadingCert`]: the server certificate, reloaded from its files
//!   when they change, without a restart;
//! - [`Authenticator`] and [`Login`]: who may log in, asked with the
//!   client's address.
//!
//! ```no_run
//! use session_server::{Listener, Service, Shutdown};
//! use std::net::TcpStream;
//!
//! struct Hello;
//! impl Service for Hello {
//!     fn serve(&self, mut stream: TcpStream, _shutdown: &Shutdown) {
//!         use std::io::Write;
//!         let _ = stream.write_all(b"+OK hello\r\n");
//!     }
//!     fn refusal(&self) -> Vec<u8> {
//!         b"-ERR busy\r\n".to_vec()
//!     }
//! }
//! let server = Listener::bind("127.0.0.1:0", Hello, 10)?.spawn();
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod auth;
mod reload;
#[cfg(feature = "test-support")]
pub mod test_support;
mod transport;

pub use auth::{Authenticator, Login};
pub use reload::{CertError, ReloadingCert};
pub use transport::{drive, tls_info, wait_for, Driven, Received, Transport, SHUTDOWN_POLL};

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server runs, around the protocol's configuration `C`.
/// Defaults: no TLS, 100 connections, 64 KiB message chunks, 60 s write
/// timeout, 30 s TLS handshake timeout.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions<C> {
    /// The protocol behaviour and limits.
    pub config: C,
    /// The certificate and key for STARTTLS (STLS) and implicit TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Handshake at once (ports 995, 993) instead of offering STARTTLS.
    pub implicit_tls: bool,
    /// Connections served at once; more are refused with the protocol's
    /// refusal line.
    pub max_connections: usize,
    /// Message bytes read from disk per step, for a server that streams
    /// stored messages (POP3 retrievals): the most one step holds.
    pub chunk_size: usize,
    /// A client that does not read for this long is disconnected.
    pub write_timeout: Duration,
    /// A TLS handshake longer than this fails.
    pub handshake_timeout: Duration,
}

impl<C> ServerOptions<C> {
    /// The defaults, with this protocol configuration.
    pub fn new(config: C) -> ServerOptions<C> {
        ServerOptions {
            config,
            tls: None,
            implicit_tls: false,
            max_connections: 100,
            chunk_size: 64 * 1024,
            write_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(30),
        }
    }

    /// Uses this TLS configuration (for STARTTLS when the protocol
    /// configuration offers it).
    pub fn with_tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Implicit TLS (POP3S on port 995, IMAPS on 993) with this TLS
    /// configuration.
    pub fn with_implicit_tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tls);
        self.implicit_tls = true;
        self
    }

    /// Sets how long a client may leave sent bytes unread.
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets the connection limit.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Checks that TLS has a certificate when implicit TLS or STARTTLS
    /// (`starttls`, from the protocol configuration) is on.
    pub fn check_tls(&self, starttls: bool) -> Result<(), StartError> {
        if (self.implicit_tls || starttls) && self.tls.is_none() {
            return Err(StartError::MissingTls);
        }
        Ok(())
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Binding the listener failed.
    #[error("cannot listen: {0}")]
    Bind(#[from] io::Error),
    /// STARTTLS or implicit TLS was asked for without a TLS configuration.
    #[error("TLS was asked for but no certificate was given")]
    MissingTls,
}

impl From<StartError> for io::Error {
    fn from(e: StartError) -> io::Error {
        match e {
            StartError::Bind(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

/// One protocol's side of a server: serves a connection, and words the
/// refusal a client gets when the server is full.
pub trait Service: Send + Sync + 'static {
    /// Serves one accepted connection until it ends. Ends the session
    /// (within [`SHUTDOWN_POLL`]) once `shutdown` is requested.
    fn serve(&self, stream: TcpStream, shutdown: &Shutdown);
    /// The bytes written to a client refused because the server is full.
    fn refusal(&self) -> Vec<u8>;
}

/// Whether the server is stopping, and how many connections it serves.
#[derive(Debug, Default)]
pub struct Shutdown {
    stopping: AtomicBool,
    connections: AtomicUsize,
}

impl Shutdown {
    /// Whether shutdown was asked for: sessions should end.
    pub fn requested(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// A bound listener, not yet accepting, with the service it runs.
pub struct Listener<S> {
    listener: TcpListener,
    service: Arc<S>,
    max_connections: usize,
    shutdown: Arc<Shutdown>,
}

impl<S> std::fmt::Debug for Listener<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("listener", &self.listener)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl<S: Service> Listener<S> {
    /// Binds the listener; at most `max_connections` are served at once.
    pub fn bind(
        addr: impl ToSocketAddrs,
        service: S,
        max_connections: usize,
    ) -> io::Result<Listener<S>> {
        Ok(Listener {
            listener: TcpListener::bind(addr)?,
            service: Arc::new(service),
            max_connections,
            shutdown: Arc::new(Shutdown::default()),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections on a background thread until
    /// [`RunningServer::shutdown`].
    pub fn spawn(self) -> RunningServer {
        let addr = self.listener.local_addr().ok();
        let shutdown = Arc::clone(&self.shutdown);
        let thread = std::thread::spawn(move || self.run());
        RunningServer {
            addr,
            shutdown,
            thread: Some(thread),
        }
    }

    /// Accepts connections on this thread until shut down.
    pub fn run(self) {
        for stream in self.listener.incoming() {
            if self.shutdown.requested() {
                break;
            }
            let Ok(stream) = stream else { continue };
            let shutdown = Arc::clone(&self.shutdown);
            let previous = shutdown.connections.fetch_add(1, Ordering::SeqCst);
            if previous >= self.max_connections {
                shutdown.connections.fetch_sub(1, Ordering::SeqCst);
                refuse(stream, &self.service.refusal());
                continue;
            }
            let service = Arc::clone(&self.service);
            std::thread::spawn(move || {
                service.serve(stream, &shutdown);
                shutdown.connections.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

fn refuse(mut stream: TcpStream, refusal: &[u8]) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = stream.write_all(refusal);
}

/// A server accepting on a background thread.
pub struct RunningServer {
    addr: Option<SocketAddr>,
    shutdown: Arc<Shutdown>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// Where it listens.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Connections being served now.
    pub fn connections(&self) -> usize {
        self.shutdown.connections.load(Ordering::SeqCst)
    }

    /// Stops accepting; sessions end within [`SHUTDOWN_POLL`], each the way
    /// its protocol ends one at shutdown (POP3: `-ERR [SYS/TEMP]`, nothing
    /// deleted, a retrieval in progress cut off; IMAP: `* BYE`, everything
    /// changed already on disk). Waits for the accept thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shutdown.stopping.store(true, Ordering::SeqCst);
        if let Some(addr) = self.addr {
            // Wake the blocking accept.
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop();
    }
}
