//! The stream the driver reads (plain TCP or TLS over it) and the
//! blocking handshake. The TLS settings and the rustls configurations built
//! from them are shared by every adapter (`smtp-adapter`).

use rustls::{ClientConnection, ServerConnection, StreamOwned};
use smtp_adapter::{
    client_tls_info, server_tls_info, tls_already_in_use, Handshake, TlsFailure, TlsStart,
};
pub(crate) use smtp_adapter::{ServerTls, TlsSettings, Upgrade};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Drives a handshake with explicit reads and writes, so that each read
/// waits only for what is left of the deadline.
macro_rules! handshake {
    ($conn:expr, $socket:expr, $deadline:expr) => {{
        let mut result: io::Result<()> = Ok(());
        while $conn.is_handshaking() || $conn.wants_write() {
            if $conn.wants_write() {
                if let Err(e) = $conn.write_tls(&mut $socket) {
                    result = Err(e);
                    break;
                }
                continue;
            }
            let left = $deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                result = Err(io::ErrorKind::TimedOut.into());
                break;
            }
            if let Err(e) = $socket.set_read_timeout(Some(left)) {
                result = Err(e);
                break;
            }
            match $conn.read_tls(&mut $socket) {
                Ok(0) => {
                    result = Err(io::ErrorKind::UnexpectedEof.into());
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            if let Err(e) = $conn.process_new_packets() {
                // Tell the peer why (the alert rustls queued), if it listens.
                while $conn.wants_write() {
                    if $conn.write_tls(&mut $socket).is_err() {
                        break;
                    }
                }
                result = Err(io::Error::new(io::ErrorKind::InvalidData, e));
                break;
            }
        }
        result
    }};
}

/// The socket, plain or under TLS.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Client(Box<StreamOwned<ClientConnection, TcpStream>>),
    Server(Box<StreamOwned<ServerConnection, TcpStream>>),
    /// A handshake failed and took the socket with it.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

impl Stream {
    /// Bytes on this stream travel inside TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Stream::Client(_) | Stream::Server(_))
    }

    fn socket(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Client(s) => Some(&s.sock),
            Stream::Server(s) => Some(&s.sock),
            Stream::Gone => None,
        }
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket().ok_or_else(gone)?.set_read_timeout(timeout)
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.socket().ok_or_else(gone)?.set_nonblocking(nonblocking)
    }

    /// Ends the connection after what was written (with a TLS
    /// close_notify).
    pub(crate) fn close(&mut self) {
        // The peer may be gone already; there is nothing left to tell it.
        match self {
            Stream::Client(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Stream::Server(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Stream::Plain(s) => {
                let _ = s.flush();
            }
            Stream::Gone => {}
        }
        if let Some(socket) = self.socket() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Turns the plain stream into a TLS one and completes the handshake by
    /// `deadline`. On failure the stream is [`Stream::Gone`] and the
    /// failure's kind and reason are returned.
    pub(crate) fn start_tls(&mut self, start: &TlsStart) -> Handshake {
        let Stream::Plain(mut socket) = std::mem::replace(self, Stream::Gone) else {
            return Err(tls_already_in_use());
        };
        let deadline = start.handshake_deadline(Instant::now());
        match &start.upgrade {
            Upgrade::Client {
                config,
                name,
                verified,
            } => {
                let mut conn = ClientConnection::new(Arc::clone(config), name.clone())
                    .map_err(|e| (TlsFailure::Other, e.to_string()))?;
                if let Err(e) = handshake!(conn, socket, deadline) {
                    let _ = socket.shutdown(Shutdown::Both);
                    return Err(start.failure(&e));
                }
                let info = client_tls_info(&conn, name, *verified);
                *self = Stream::Client(Box::new(StreamOwned::new(conn, socket)));
                Ok(info)
            }
            Upgrade::Server(config) => {
                let mut conn = ServerConnection::new(Arc::clone(config))
                    .map_err(|e| (TlsFailure::Other, e.to_string()))?;
                if let Err(e) = handshake!(conn, socket, deadline) {
                    let _ = socket.shutdown(Shutdown::Both);
                    return Err(start.failure(&e));
                }
                let info = server_tls_info(&conn);
                *self = Stream::Server(Box::new(StreamOwned::new(conn, socket)));
                Ok(info)
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Client(s) => s.read(buf),
            Stream::Server(s) => s.read(buf),
            Stream::Gone => Err(gone()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Client(s) => s.write(buf),
            Stream::Server(s) => s.write(buf),
            Stream::Gone => Err(gone()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Client(s) => s.flush(),
            Stream::Server(s) => s.flush(),
            Stream::Gone => Err(gone()),
        }
    }
}
