//! A TCP stream, plain or inside rustls, with deadlines on each read.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    /// Moved out during an upgrade that failed.
    Gone,
}

/// What a TLS handshake learned.
pub(crate) fn tls_info(conn: &rustls::ServerConnection) -> pop3_proto::TlsInfo {
    let protocol = conn
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("TLS");
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown");
    let info = pop3_proto::TlsInfo::new(protocol, cipher);
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

    pub(crate) fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self.tcp() {
            // Zero means "no timeout" to std: never pass it.
            Some(s) => s.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    pub(crate) fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self.tcp() {
            Some(s) => s.set_write_timeout(Some(timeout.max(Duration::from_millis(1)))),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Runs a server handshake over the plain stream (STLS or implicit TLS).
    pub(crate) fn upgrade(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        timeout: Duration,
    ) -> io::Result<pop3_proto::TlsInfo> {
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
    pub(crate) fn close(&mut self) {
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
