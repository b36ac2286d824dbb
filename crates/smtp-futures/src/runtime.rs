//! What differs from one executor to another: sockets, timers, spawning.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

/// The few things an executor provides. `smtp-smol` and `smtp-async-std`
/// each implement it on a unit type; everything else in this crate is
/// written once against it.
///
/// Every method is an associated function: a runtime is a type, not a
/// value.
pub trait Runtime: Send + Sync + 'static {
    /// A connected TCP stream.
    type TcpStream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// A listening TCP socket.
    type TcpListener: Send + Sync + 'static;

    /// Opens a TCP connection (the caller bounds it with a timeout).
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpStream>> + Send;
    /// Resolves a host name.
    fn resolve(host: &str, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;
    /// Turns off Nagle's algorithm: each batch is one write, and must not
    /// wait for the previous one's acknowledgement.
    fn set_nodelay(stream: &Self::TcpStream) -> io::Result<()>;
    /// The local address of a connected stream (what the server's handler
    /// is told the client connected to).
    fn local_addr(stream: &Self::TcpStream) -> io::Result<SocketAddr>;
    /// Adopts a bound standard listener.
    fn listener(listener: std::net::TcpListener) -> io::Result<Self::TcpListener>;
    /// Waits for the next connection.
    fn accept(
        listener: &Self::TcpListener,
    ) -> impl Future<Output = io::Result<(Self::TcpStream, SocketAddr)>> + Send;
    /// Completes at `deadline`.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;
    /// Runs `future` to completion in the background.
    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F);
}

/// Runs `future` until `deadline`: `None` when time ran out first (the
/// future is then dropped).
pub async fn timeout<R: Runtime, F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut sleep = pin!(R::sleep_until(deadline));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        sleep.as_mut().poll(cx).map(|()| None)
    })
    .await
}
