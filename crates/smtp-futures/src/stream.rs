//! The connection, plain or under TLS, and the handshake that turns one
//! into the other.

use crate::runtime::{timeout, Runtime};
use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::{TlsAcceptor, TlsConnector};
use futures_util::AsyncWriteExt;
use smtp_adapter::{
    client_tls_info, server_tls_info, tls_already_in_use, Handshake, TlsStart, Upgrade,
};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How long closing (a TLS close_notify, the FIN) may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(1);

/// A socket, plain or under TLS.
pub(crate) enum Stream<S> {
    Plain(S),
    Client(Box<futures_rustls::client::TlsStream<S>>),
    Server(Box<futures_rustls::server::TlsStream<S>>),
    /// A handshake failed and took the socket with it.
    Gone,
}

impl<S> std::fmt::Debug for Stream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Plain(_) => "Stream::Plain",
            Stream::Client(_) => "Stream::Client",
            Stream::Server(_) => "Stream::Server",
            Stream::Gone => "Stream::Gone",
        })
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream<S> {
    /// Bytes on this stream travel inside TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Stream::Client(_) | Stream::Server(_))
    }

    /// Ends the connection after what was written (with a TLS
    /// close_notify), waiting at most a second for a peer that does not
    /// read.
    pub(crate) async fn close<R: Runtime>(&mut self) {
        // The peer may be gone already; there is nothing left to tell it.
        let _ = timeout::<R, _>(Instant::now() + CLOSE_LIMIT, AsyncWriteExt::close(self)).await;
        *self = Stream::Gone;
    }

    /// Turns the plain stream into a TLS one and completes the handshake by
    /// `deadline`. On failure the stream is [`Stream::Gone`] and the reason
    /// failure's kind and reason are returned.
    pub(crate) async fn start_tls<R: Runtime>(&mut self, start: &TlsStart) -> Handshake {
        let Stream::Plain(socket) = std::mem::replace(self, Stream::Gone) else {
            return Err(tls_already_in_use());
        };
        let deadline = start.handshake_deadline(Instant::now());
        let timed_out = || io::Error::from(io::ErrorKind::TimedOut);
        match &start.upgrade {
            Upgrade::Client {
                config,
                name,
                verified,
            } => {
                let connect = TlsConnector::from(config.clone()).connect(name.clone(), socket);
                let tls = match timeout::<R, _>(deadline, connect).await {
                    Some(Ok(tls)) => tls,
                    Some(Err(e)) => return Err(start.failure(&e)),
                    None => return Err(start.failure(&timed_out())),
                };
                let info = client_tls_info(tls.get_ref().1, name, *verified);
                *self = Stream::Client(Box::new(tls));
                Ok(info)
            }
            Upgrade::Server(config) => {
                let accept = TlsAcceptor::from(config.clone()).accept(socket);
                let tls = match timeout::<R, _>(deadline, accept).await {
                    Some(Ok(tls)) => tls,
                    Some(Err(e)) => return Err(start.failure(&e)),
                    None => return Err(start.failure(&timed_out())),
                };
                let info = server_tls_info(tls.get_ref().1);
                *self = Stream::Server(Box::new(tls));
                Ok(info)
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Client(s) => Pin::new(&mut **s).poll_read(cx, buf),
            Stream::Server(s) => Pin::new(&mut **s).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Client(s) => Pin::new(&mut **s).poll_write(cx, buf),
            Stream::Server(s) => Pin::new(&mut **s).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Client(s) => Pin::new(&mut **s).poll_flush(cx),
            Stream::Server(s) => Pin::new(&mut **s).poll_flush(cx),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            Stream::Client(s) => Pin::new(&mut **s).poll_close(cx),
            Stream::Server(s) => Pin::new(&mut **s).poll_close(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}
