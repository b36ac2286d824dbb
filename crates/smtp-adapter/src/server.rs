//! The server's runtime-independent half: the handler's answers, what it
//! is told about a connection, the adapter's limits, and the listener.

use crate::{Error, ServerTls};
use smtp_proto::{
    EnhancedStatus, Host, Mechanism, Reply, ReplyCode, ReversePath, ServerConfig, ServerSession,
    TlsInfo,
};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The application's answer to a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The usual positive reply.
    Accept,
    /// A positive reply of the application's own (a queue id, say): 2yz,
    /// or 3yz for the handler's `data_start`. A reply of the wrong class is
    /// replaced by `451 4.3.0`.
    AcceptWith(Reply),
    /// A 4yz or 5yz refusal.
    Reject(Reply),
}

impl Decision {
    /// `535 5.7.8 Authentication credentials invalid`: the handlers'
    /// default answer to AUTH, so that accepting anyone is a choice.
    pub fn auth_invalid() -> Decision {
        Decision::Reject(reply(535, (5, 7, 8), "Authentication credentials invalid"))
    }
}

/// What the server knows about a connection when it asks the handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// The server's address the client connected to (`None` where the
    /// socket could not tell).
    pub local: Option<SocketAddr>,
    /// The name the client gave in an accepted EHLO or HELO.
    pub helo: Option<Host>,
    /// The user accepted by AUTH.
    pub authenticated: Option<String>,
    /// The TLS handshake's outcome, once the connection is encrypted
    /// (STARTTLS or implicit TLS).
    pub tls: Option<TlsInfo>,
    /// The sender of the transaction in progress, from its MAIL FROM
    /// (while `mail_from` decides, the one being decided), so that a
    /// recipient can be judged with its sender (greylisting's triplet).
    pub mail_from: Option<ReversePath>,
}

impl Connection {
    /// A connection from `peer` that has said nothing yet (for tests of a
    /// handler; the server builds its own).
    pub fn new(peer: SocketAddr) -> Connection {
        Connection {
            peer,
            local: None,
            helo: None,
            authenticated: None,
            tls: None,
            mail_from: None,
        }
    }
}

/// Server-wide limits of the adapter (the protocol's limits, message size
/// among them, are in [`ServerConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Connections served at once; more are answered `421 4.7.0` and closed.
    pub max_connections: usize,
    /// Connections served at once from one IP address (IPv6: one /64), so
    /// that one client cannot take every slot; more are refused alike.
    pub max_connections_per_ip: usize,
    /// How long a write to a client may block.
    pub write_timeout: Duration,
}

impl Default for Limits {
    /// 64 connections, 16 from one address, 1 minute per write.
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_connections_per_ip: 16,
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// A new server session for a connection accepted `now`, with a fresh
/// CRAM-MD5 challenge when that mechanism is offered.
pub fn new_server_session(config: Arc<ServerConfig>, now: Instant) -> ServerSession {
    let cram_md5 = config.auth_mechanisms.contains(&Mechanism::CramMd5);
    let session = ServerSession::new(config, now);
    if cram_md5 {
        session.with_cram_md5_nonce(&cram_md5_nonce())
    } else {
        session
    }
}

/// A listening socket bound for a server, with the settings it serves
/// with: what every server adapter starts from.
#[derive(Debug)]
#[non_exhaustive]
pub struct Listening {
    /// The bound socket (blocking; async adapters adopt it).
    pub listener: TcpListener,
    /// The address it listens on (port 0 resolved).
    pub local_addr: SocketAddr,
    /// The protocol's settings.
    pub config: Arc<ServerConfig>,
    /// The certificate, for STARTTLS or implicit TLS.
    pub tls: Option<ServerTls>,
}

/// How many connections the kernel may hold completed but not yet
/// accepted. std's `TcpListener::bind` asks for 128: a burst of a thousand
/// clients connecting at once overflows that, Linux answers the rest with
/// SYN cookies and drops their final ACK, and those clients hang on a
/// connection the server never sees. The kernel caps this at
/// `net.core.somaxconn` (4096 by default).
pub(crate) const LISTEN_BACKLOG: i32 = 4096;

/// Binds the first address of `addr` that binds, as `TcpListener::bind`
/// does, with [`LISTEN_BACKLOG`] and `SO_REUSEADDR` (as std sets it on
/// Unix).
fn bind_listener(addr: &impl ToSocketAddrs) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        let attempt = (|| {
            let socket = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )?;
            if cfg!(unix) {
                socket.set_reuse_address(true)?;
            }
            socket.bind(&addr.into())?;
            socket.listen(LISTEN_BACKLOG)?;
            Ok(TcpListener::from(socket))
        })();
        match attempt {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

impl Listening {
    /// Refuses settings that cannot work (STARTTLS or `require_tls` without
    /// a certificate; a certificate with neither STARTTLS nor implicit TLS
    /// enabled), then binds `addr`.
    pub fn bind(
        addr: impl ToSocketAddrs + fmt::Debug,
        config: ServerConfig,
        tls: Option<ServerTls>,
    ) -> Result<Listening, Error> {
        check_config(&addr, &config, tls.as_ref())?;
        let bind_error = |source| Error::Bind {
            addr: format!("{addr:?}"),
            source,
        };
        let listener = bind_listener(&addr).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(Listening {
            listener,
            local_addr,
            config: Arc::new(config),
            tls,
        })
    }
}

impl Listening {
    /// The settings a server built on this listener serves with, and the
    /// listener itself for the adapter to accept on.
    pub fn serve<H>(self, handler: H) -> (TcpListener, ServerSetup<H>) {
        let setup = ServerSetup {
            local_addr: self.local_addr,
            config: self.config,
            handler: Arc::new(handler),
            limits: Limits::default(),
            tls: self.tls,
        };
        (self.listener, setup)
    }
}

/// A server's settings, the same for every adapter: where it listens, the
/// protocol's configuration, the handler, the adapter's limits and the
/// certificate. Each connection gets a [`ConnectionSetup`] from it.
pub struct ServerSetup<H> {
    local_addr: SocketAddr,
    config: Arc<ServerConfig>,
    handler: Arc<H>,
    limits: Limits,
    tls: Option<ServerTls>,
}

impl<H> fmt::Debug for ServerSetup<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<H> ServerSetup<H> {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The adapter's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The adapter's limits, to change before the server runs.
    pub fn limits_mut(&mut self) -> &mut Limits {
        &mut self.limits
    }

    /// The name the server greets with (and refuses connections over the
    /// limit with).
    pub fn hostname(&self) -> &str {
        &self.config.hostname
    }

    /// Every connection starts with a TLS handshake (port 465 style).
    pub fn implicit_tls(&self) -> bool {
        self.tls.as_ref().is_some_and(ServerTls::is_implicit)
    }

    /// What a newly accepted connection is served with.
    pub fn connection(&self) -> ConnectionSetup<H> {
        ConnectionSetup {
            config: Arc::clone(&self.config),
            handler: Arc::clone(&self.handler),
            limits: self.limits,
            tls: self.tls.clone(),
        }
    }
}

/// What one connection is served with: handed to its thread or task.
#[non_exhaustive]
pub struct ConnectionSetup<H> {
    /// The protocol's settings.
    pub config: Arc<ServerConfig>,
    /// The server's handler.
    pub handler: Arc<H>,
    /// The adapter's limits.
    pub limits: Limits,
    /// The certificate, for STARTTLS or implicit TLS.
    pub tls: Option<ServerTls>,
}

impl<H> fmt::Debug for ConnectionSetup<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSetup")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<H> ConnectionSetup<H> {
    /// Every connection starts with a TLS handshake (port 465 style).
    pub fn implicit_tls(&self) -> bool {
        self.tls.as_ref().is_some_and(ServerTls::is_implicit)
    }

    /// How to start TLS when the session asks.
    pub fn upgrade(&self) -> Option<crate::Upgrade> {
        self.tls.as_ref().map(ServerTls::upgrade)
    }

    /// The session for a connection accepted `now` (see
    /// [`new_server_session`]).
    pub fn session(&self, now: Instant) -> ServerSession {
        new_server_session(Arc::clone(&self.config), now)
    }

    /// The session for a connection the handler's `connect` answered
    /// (see `start_connection`): greeted when it was let in, told the
    /// refusal and closed when it was not.
    pub fn session_after(&self, now: Instant, connect: &Result<(), Reply>) -> ServerSession {
        match connect {
            Ok(()) => self.session(now),
            Err(reply) => ServerSession::refused(Arc::clone(&self.config), now, reply),
        }
    }
}

/// The builder methods every adapter's `Server` offers over its field
/// `setup` (a [`ServerSetup`]).
#[macro_export]
#[doc(hidden)]
macro_rules! server_builder_methods {
    () => {
        /// Sets the adapter's limits.
        pub fn with_limits(mut self, limits: $crate::Limits) -> Self {
            *self.setup.limits_mut() = limits;
            self
        }

        /// Sets the most connections served at once.
        pub fn with_max_connections(mut self, max: usize) -> Self {
            self.setup.limits_mut().max_connections = max;
            self
        }

        /// Sets the most connections served at once from one client address
        /// (IPv6: one /64).
        pub fn with_max_connections_per_ip(mut self, max: usize) -> Self {
            self.setup.limits_mut().max_connections_per_ip = max;
            self
        }

        /// The address the server listens on.
        pub fn local_addr(&self) -> std::net::SocketAddr {
            self.setup.local_addr()
        }
    };
}

/// Refuses a configuration that cannot work. `addr` names the listener in
/// the error.
fn check_config(
    addr: &dyn fmt::Debug,
    config: &ServerConfig,
    tls: Option<&ServerTls>,
) -> Result<(), Error> {
    let why = match tls {
        None if config.starttls || config.require_tls => {
            "STARTTLS or require_tls is configured, but no certificate was given (use Server::bind_tls)"
        }
        Some(tls) if !tls.is_implicit() && !config.starttls => {
            "a certificate was given but neither STARTTLS (ServerConfig::with_starttls) nor implicit TLS (ServerTls::implicit) is enabled"
        }
        _ => return Ok(()),
    };
    Err(Error::Bind {
        addr: format!("{addr:?}"),
        source: io::Error::new(io::ErrorKind::InvalidInput, why),
    })
}

const TOO_MANY: &str = "Too many connections, try again later";

/// The reply to a connection over the limit: `421 4.7.0`, built by the core.
pub fn refusal_reply(hostname: &str) -> Reply {
    let text = format!("{hostname} {TOO_MANY}");
    Reply::new(
        ReplyCode::SERVICE_NOT_AVAILABLE,
        EnhancedStatus::new(4, 7, 0),
        [text],
    )
    .unwrap_or_else(|_| reply(421, (4, 7, 0), TOO_MANY))
}

/// A reply built from constants of this file. They are valid (the unit test
/// below builds each one); were one not, the bare code still goes out.
pub(crate) fn reply(code: u16, status: (u8, u16, u16), text: &'static str) -> Reply {
    let code = ReplyCode::new(code).unwrap_or(ReplyCode::SERVICE_NOT_AVAILABLE);
    Reply::new(
        code,
        EnhancedStatus::new(status.0, status.1, status.2),
        [text],
    )
    .unwrap_or_else(|_| Reply::bare(code))
}

/// A CRAM-MD5 challenge must never repeat (RFC 2195); it need not be secret.
/// Process id, wall-clock nanoseconds and a counter make it unique without a
/// random source.
pub fn cram_md5_nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}.{nanos}.{count}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 600 clients connect before the server accepts one: every one of
    /// them is there to accept (with std's backlog of 128 the kernel drops
    /// the rest's final ACK and they hang).
    #[test]
    fn a_burst_of_connections_waits_in_the_backlog() {
        let listener = bind_listener(&"127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..600)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        listener.set_nonblocking(true).unwrap();
        let mut accepted = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while accepted < clients.len() && std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok(_) => accepted += 1,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        assert_eq!(accepted, clients.len());
    }

    #[test]
    fn constant_replies_are_valid() {
        // Each is built whole, not the bare-code fallback.
        for r in [
            reply(535, (5, 7, 8), "x"),
            reply(451, (4, 3, 0), "x"),
            reply(421, (4, 7, 0), TOO_MANY),
            refusal_reply("mx.test"),
        ] {
            assert!(r.enhanced().is_some(), "{r:?}");
        }
        assert_eq!(reply(535, (5, 7, 8), "x").code().get(), 535);
        assert_eq!(reply(451, (4, 3, 0), "x").code().get(), 451);
        assert_eq!(reply(421, (4, 7, 0), TOO_MANY).code().get(), 421);
        assert_eq!(refusal_reply("mx.test").code().get(), 421);
    }

    #[test]
    fn nonces_do_not_repeat() {
        assert_ne!(cram_md5_nonce(), cram_md5_nonce());
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        let plain = ServerConfig::new("mx.test");
        assert!(check_config(&"a", &plain, None).is_ok());
        let starttls = ServerConfig::new("mx.test").with_starttls(true);
        let err = check_config(&"a", &starttls, None).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
    }
}
