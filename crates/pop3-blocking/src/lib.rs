//! A blocking POP3 server: std::net sockets, one thread per connection,
//! rustls for STLS (port 110) and implicit TLS (port 995), Maildirs read
//! through [`maildrop`], every protocol decision made by the sans-IO
//! [`pop3_proto::Pop3Session`].
//!
//! ```no_run
//! use pop3_blocking::{Pop3Server, ServerOptions};
//! use pop3_proto::{Credentials, Pop3Config};
//! use std::path::PathBuf;
//!
//! # fn tls() -> std::sync::Arc<rustls::ServerConfig> { unimplemented!() }
//! let options = ServerOptions::new(Pop3Config::new("pop.example.com").with_stls(true))
//!     .with_tls(tls());
//! // Who may log in, and where their mail is.
//! let users = |c: &Credentials| {
//!     (c.username() == "alice" && c.verify_password("secret"))
//!         .then(|| PathBuf::from("/var/mail/alice"))
//! };
//! let server = Pop3Server::bind("127.0.0.1:1110", options, users)?.spawn();
//! // ...
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod connection;
mod transport;

use pop3_proto::{Credentials, Pop3Config};
use std::collections::HashSet;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Decides who may log in and where their mail is.
///
/// Implemented for closures `Fn(&Credentials) -> Option<PathBuf>`. Check the
/// password with [`Credentials::verify_password`] (or a stored hash against
/// [`Credentials::password`]); return the user's Maildir, or `None` to
/// refuse. The session delays and counts refusals.
pub trait Authenticator: Send + Sync + 'static {
    /// The Maildir of the user these credentials prove, or `None`.
    fn maildir(&self, credentials: &Credentials) -> Option<PathBuf>;
}

impl<F> Authenticator for F
where
    F: Fn(&Credentials) -> Option<PathBuf> + Send + Sync + 'static,
{
    fn maildir(&self, credentials: &Credentials) -> Option<PathBuf> {
        self(credentials)
    }
}

/// How the server runs. Defaults: no TLS, 100 connections, 64 KiB message
/// chunks, 60 s write timeout, 30 s TLS handshake timeout.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// The protocol behaviour and limits.
    pub config: Pop3Config,
    /// The certificate and key for STLS and implicit TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Handshake at once (port 995) instead of offering STLS.
    pub implicit_tls: bool,
    /// Connections served at once; more are refused with `-ERR [SYS/TEMP]`.
    pub max_connections: usize,
    /// Message bytes read from disk per step: the most a retrieval holds.
    pub chunk_size: usize,
    /// A client that does not read for this long is disconnected.
    pub write_timeout: Duration,
    /// A TLS handshake longer than this fails.
    pub handshake_timeout: Duration,
}

impl ServerOptions {
    /// The defaults, with this protocol configuration.
    pub fn new(config: Pop3Config) -> ServerOptions {
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

    /// Uses this TLS configuration (for STLS when `config.stls` is on).
    pub fn with_tls(mut self, tls: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Implicit TLS (POP3S, port 995) with this TLS configuration.
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
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Binding the listener failed.
    #[error("cannot listen: {0}")]
    Bind(#[from] io::Error),
    /// STLS or implicit TLS was asked for without a TLS configuration.
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

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) options: ServerOptions,
    pub(crate) config: Arc<Pop3Config>,
    pub(crate) auth: Box<dyn Authenticator>,
    /// Maildrops in use: RFC 1939 §8 asks for exclusive access.
    pub(crate) locked: Mutex<HashSet<PathBuf>>,
    pub(crate) stopping: AtomicBool,
    pub(crate) connections: AtomicUsize,
}

/// A bound POP3 server, not yet accepting.
pub struct Pop3Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pop3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Server")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl Pop3Server {
    /// Binds the listener.
    pub fn bind(
        addr: impl ToSocketAddrs,
        options: ServerOptions,
        auth: impl Authenticator,
    ) -> Result<Pop3Server, StartError> {
        if (options.implicit_tls || options.config.stls) && options.tls.is_none() {
            return Err(StartError::MissingTls);
        }
        let listener = TcpListener::bind(addr)?;
        let config = Arc::new(options.config.clone());
        Ok(Pop3Server {
            listener,
            shared: Arc::new(Shared {
                options,
                config,
                auth: Box::new(auth),
                locked: Mutex::new(HashSet::new()),
                stopping: AtomicBool::new(false),
                connections: AtomicUsize::new(0),
            }),
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
        let shared = Arc::clone(&self.shared);
        let thread = std::thread::spawn(move || self.run());
        RunningServer {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// Accepts connections on this thread until shut down.
    pub fn run(self) {
        for stream in self.listener.incoming() {
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let shared = Arc::clone(&self.shared);
            let previous = shared.connections.fetch_add(1, Ordering::SeqCst);
            if previous >= shared.options.max_connections {
                shared.connections.fetch_sub(1, Ordering::SeqCst);
                refuse(stream);
                continue;
            }
            std::thread::spawn(move || {
                connection::serve(stream, &shared);
                shared.connections.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

fn refuse(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let response = pop3_proto::Response::err("too many connections")
        .with_code(pop3_proto::ResponseCode::SysTemp);
    let _ = stream.write_all(&response.to_bytes());
}

/// A server accepting on a background thread.
pub struct RunningServer {
    addr: Option<SocketAddr>,
    shared: Arc<Shared>,
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
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Stops accepting; sessions end within a second with
    /// `-ERR [SYS/TEMP]` and nothing deleted (a retrieval in progress is
    /// cut off). Waits for the accept thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
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
