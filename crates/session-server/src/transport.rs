//! A TCP stream, plain or inside rustls, with deadlines on each read.

use crate::{ServerOptions, Shutdown};
use smtp_proto::TlsInfo;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A client's connection: plain TCP, or TCP inside a rustls server session.
pub enum Transport {
    /// Plain TCP (before STARTTLS, or without TLS).
    Plain(TcpStream),
    /// TCP inside TLS.
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    /// Moved out during an upgrade that failed.
    Gone,
}

/// What a server-side TLS handshake learned (for the sessions' `tls_established`).
pub fn tls_info(conn: &rustls::ServerConnection) -> TlsInfo {
    let protocol = conn
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("TLS");
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown");
    let info = TlsInfo::new(protocol, cipher);
    match conn.server_name() {
        Some(name) => info.with_peer_name(name),
        None => info,
    }
}

impl Transport {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Transport::Plain(s) => Some(s),
            Transport::Tls(s) => Some(&s.sock),
            Transport::Gone => None,
        }
    }

    /// Starts serving a freshly accepted stream: the TLS handshake first
    /// when the options ask for implicit TLS (what it learned is returned),
    /// then the write timeout. Fails when the handshake does.
    pub fn accept<C>(
        stream: TcpStream,
        options: &ServerOptions<C>,
    ) -> io::Result<(Transport, Option<TlsInfo>)> {
        let _ = stream.set_nodelay(true);
        let mut transport = Transport::Plain(stream);
        let mut info = None;
        if options.implicit_tls {
            info = Some(transport.start_tls(options)?);
        } else {
            let _ = transport.set_write_timeout(options.write_timeout);
        }
        Ok((transport, info))
    }

    /// Upgrades to TLS with the options' certificate and handshake deadline
    /// (STARTTLS, STLS or implicit TLS), then sets the write timeout again.
    pub fn start_tls<C>(&mut self, options: &ServerOptions<C>) -> io::Result<TlsInfo> {
        let Some(tls) = options.tls.clone() else {
            return Err(io::Error::other("TLS was asked for without a certificate"));
        };
        let info = self.upgrade(tls, options.handshake_timeout)?;
        let _ = self.set_write_timeout(options.write_timeout);
        Ok(info)
    }

    /// Waits at most `wait` for bytes from the client.
    pub fn receive<'b>(&mut self, buf: &'b mut [u8], wait: Duration) -> io::Result<Received<'b>> {
        self.set_read_timeout(wait)?;
        match self.read(buf) {
            Ok(0) => Ok(Received::Eof),
            Ok(n) => Ok(Received::Bytes(buf.get(..n).unwrap_or_default())),
            Err(e) if is_timeout(&e) => Ok(Received::Nothing),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Received::Nothing),
            Err(e) => Err(e),
        }
    }

    /// Writes these bytes and flushes them.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.flush()
    }

    /// Sets how long a read may wait (at least a millisecond).
    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self.tcp() {
            // Zero means "no timeout" to std: never pass it.
            Some(s) => s.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Sets how long a write may wait for the client to read (at least a
    /// millisecond).
    pub fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self.tcp() {
            Some(s) => s.set_write_timeout(Some(timeout.max(Duration::from_millis(1)))),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Runs a server handshake over the plain stream (STLS or implicit TLS).
    /// Fails when TLS is already active, the handshake fails, or it takes
    /// longer than `timeout`.
    pub fn upgrade(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        timeout: Duration,
    ) -> io::Result<TlsInfo> {
        let Transport::Plain(tcp) = std::mem::replace(self, Transport::Gone) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let mut conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        let deadline = Instant::now() + timeout;
        let mut tcp = tcp;
        while conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            tcp.set_read_timeout(Some(left))?;
            tcp.set_write_timeout(Some(left))?;
            conn.complete_io(&mut tcp)?;
        }
        // Flush the last handshake flight before application data.
        while conn.wants_write() {
            conn.write_tls(&mut tcp)?;
        }
        let info = tls_info(&conn);
        *self = Transport::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)));
        Ok(info)
    }

    /// Sends a TLS close_notify when TLS is active.
    pub fn close(&mut self) {
        if let Transport::Tls(s) = self {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
        if let Some(tcp) = self.tcp() {
            let _ = tcp.shutdown(std::net::Shutdown::Write);
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
            Transport::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
            Transport::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
            Transport::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Plain(_) => "Transport::Plain",
            Transport::Tls(_) => "Transport::Tls",
            Transport::Gone => "Transport::Gone",
        })
    }
}

/// What one wait for the client brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'b> {
    /// These bytes.
    Bytes(&'b [u8]),
    /// The client closed its side.
    Eof,
    /// Nothing before the wait ran out.
    Nothing,
}

/// How long a connection waits for the client before it looks again at its
/// session's deadline and at shutdown: `None` when the deadline has passed.
pub fn wait_for(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    match deadline {
        Some(deadline) if deadline <= now => None,
        Some(deadline) => Some((deadline - now).min(SHUTDOWN_POLL)),
        None => Some(SHUTDOWN_POLL),
    }
}

/// How often a blocked read wakes to check for shutdown.
pub const SHUTDOWN_POLL: Duration = Duration::from_secs(1);

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One connection's session, as [`drive`] sees it: the protocols' sessions
/// (POP3, IMAP) differ in what they carry out, not in how they are fed.
pub trait Driven {
    /// The stream the session speaks over.
    fn transport(&mut self) -> &mut Transport;
    /// Carries out everything the session asks, in order; `true` once it
    /// has closed.
    fn drain(&mut self) -> io::Result<bool>;
    /// When the session next wants [`Driven::timeout`].
    fn deadline(&self) -> Option<Instant>;
    /// The session's deadline has come.
    fn timeout(&mut self, now: Instant);
    /// Bytes from the client.
    fn received(&mut self, now: Instant, bytes: &[u8]);
    /// The client closed its side.
    fn eof(&mut self, now: Instant);
    /// The server is stopping: the session should say goodbye and close.
    fn shutdown(&mut self);
}

/// Feeds a session what its client sends and what time brings until it
/// closes: waits on the client at most until the session's deadline, and
/// at most [`SHUTDOWN_POLL`] between looks at `shutdown`.
pub fn drive(conn: &mut impl Driven, shutdown: &Shutdown) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if conn.drain()? {
            return Ok(());
        }
        if shutdown.requested() {
            conn.shutdown();
            continue;
        }
        let Some(wait) = wait_for(conn.deadline(), Instant::now()) else {
            conn.timeout(Instant::now());
            continue;
        };
        match conn.transport().receive(&mut buf, wait)? {
            Received::Eof => conn.eof(Instant::now()),
            Received::Bytes(bytes) => conn.received(Instant::now(), bytes),
            Received::Nothing => {
                let now = Instant::now();
                if conn.deadline().is_some_and(|d| d <= now) {
                    conn.timeout(now);
                }
            }
        }
    }
}
