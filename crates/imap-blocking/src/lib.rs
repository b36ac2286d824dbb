//! A blocking IMAP server: std::net sockets, one thread per connection,
//! rustls for STARTTLS (port 143) and implicit TLS (port 993), Maildir++
//! trees read and written through [`maildrop::MaildirFolders`], every
//! protocol decision made by the sans-IO [`imap_proto::ImapSession`].
//!
//! ```no_run
//! use imap_blocking::{ImapServer, ServerOptions};
//! use imap_proto::{Credentials, ImapConfig};
//! use std::net::SocketAddr;
//! use std::path::PathBuf;
//!
//! # fn example(tls: std::sync::Arc<rustls::ServerConfig>) -> Result<(), imap_blocking::StartError> {
//! let options = ServerOptions::new(ImapConfig::new("imap.example.com").with_starttls(true))
//!     .with_tls(tls);
//! // Who may log in (from which address), and where their mail is.
//! let users = |c: &Credentials, _peer: SocketAddr| {
//!     (c.username == "alice" && c.password.expose() == "secret")
//!         .then(|| PathBuf::from("/var/mail/alice"))
//! };
//! let server = ImapServer::bind("127.0.0.1:1143", options, users)?.spawn();
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

pub mod cache;
mod connection;
mod store;

pub use session_server::{Authenticator, Login, RunningServer, StartError};
pub use store::MaildirStore;

use imap_proto::{Credentials, ImapConfig};
use session_server::{Listener, Service, Shutdown};
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;

/// How the server runs (see [`session_server::ServerOptions`]): the IMAP
/// configuration, TLS (`with_tls` for STARTTLS on port 143,
/// `with_implicit_tls` for port 993), the connection limit (more are
/// refused with `* BYE`), and the timeouts. `chunk_size` is not used: IMAP
/// reads what a FETCH asks for through [`MaildirStore`].
pub type ServerOptions = session_server::ServerOptions<ImapConfig>;

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) options: ServerOptions,
    pub(crate) config: Arc<ImapConfig>,
    pub(crate) auth: Box<dyn Authenticator<Credentials>>,
}

impl Service for Shared {
    fn serve(&self, stream: TcpStream, shutdown: &Shutdown) {
        connection::serve(stream, self, shutdown);
    }

    fn refusal(&self) -> Vec<u8> {
        b"* BYE [UNAVAILABLE] too many connections\r\n".to_vec()
    }
}

/// A bound IMAP server, not yet accepting.
pub struct ImapServer {
    listener: Listener<Shared>,
}

impl std::fmt::Debug for ImapServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapServer")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl ImapServer {
    /// Binds the listener.
    pub fn bind(
        addr: impl ToSocketAddrs,
        options: ServerOptions,
        auth: impl Authenticator<Credentials>,
    ) -> Result<ImapServer, StartError> {
        options.check_tls(options.config.starttls)?;
        let config = Arc::new(options.config.clone());
        let max_connections = options.max_connections;
        let shared = Shared {
            options,
            config,
            auth: Box::new(auth),
        };
        Ok(ImapServer {
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
