//! A blocking POP3 server: std::net sockets, one thread per connection,
//! rustls for STLS (port 110) and implicit TLS (port 995), Maildirs read
//! through [`maildrop`], every protocol decision made by the sans-IO
//! [`pop3_proto::Pop3Session`].
//!
//! ```no_run
//! use pop3_blocking::{Pop3Server, ServerOptions};
//! use pop3_proto::{Credentials, Pop3Config};
//! use std::net::SocketAddr;
//! use std::path::PathBuf;
//!
//! # fn example(tls: std::sync::Arc<rustls::ServerConfig>) -> Result<(), pop3_blocking::StartError> {
//! let options = ServerOptions::new(Pop3Config::new("pop.example.com").with_stls(true))
//!     .with_tls(tls);
//! // Who may log in (from which address), and where their mail is.
//! let users = |c: &Credentials, _peer: SocketAddr| {
//!     (c.username() == "alice" && c.verify_password("secret"))
//!         .then(|| PathBuf::from("/var/mail/alice"))
//! };
//! let server = Pop3Server::bind("127.0.0.1:1110", options, users)?.spawn();
//! // ...
//! server.shutdown();
//! # Ok(())
//! # }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod connection;
pub mod maildrops;

pub use maildrops::{HeldMaildrop, LoginOutcome, Maildrops};
pub use session_server::{Authenticator, Login, RunningServer, StartError};

use pop3_proto::{Credentials, Pop3Config};
use session_server::{Listener, Service, Shutdown};
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;

/// How the server runs (see [`session_server::ServerOptions`]): the POP3
/// configuration, TLS (`with_tls` for STLS on port 110,
/// `with_implicit_tls` for port 995), the connection limit (more are
/// refused with `-ERR [SYS/TEMP]`), the message bytes read from disk per
/// step, and the timeouts.
pub type ServerOptions = session_server::ServerOptions<Pop3Config>;

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) options: ServerOptions,
    pub(crate) config: Arc<Pop3Config>,
    pub(crate) auth: Box<dyn Authenticator<Credentials>>,
    /// Maildrops in use: RFC 1939 §8 asks for exclusive access.
    pub(crate) maildrops: Maildrops,
}

impl Service for Shared {
    fn serve(&self, stream: TcpStream, shutdown: &Shutdown) {
        connection::serve(stream, self, shutdown);
    }

    fn refusal(&self) -> Vec<u8> {
        pop3_proto::Response::err("too many connections")
            .with_code(pop3_proto::ResponseCode::SysTemp)
            .to_bytes()
    }
}

/// A bound POP3 server, not yet accepting.
pub struct Pop3Server {
    listener: Listener<Shared>,
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
        auth: impl Authenticator<Credentials>,
    ) -> Result<Pop3Server, StartError> {
        options.check_tls(options.config.stls)?;
        let config = Arc::new(options.config.clone());
        let max_connections = options.max_connections;
        let shared = Shared {
            options,
            config,
            auth: Box::new(auth),
            maildrops: Maildrops::new(),
        };
        Ok(Pop3Server {
            listener: Listener::bind(addr, shared, max_connections)?,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections on a background thread until
    /// [`RunningServer::shutdown`].
    pub fn spawn(self) -> RunningServer {
        self.listener.spawn()
    }

    /// Accepts connections on this thread until shut down.
    pub fn run(self) {
        self.listener.run()
    }
}
