//! SMTP for the [async-std](https://docs.rs/async-std) runtime:
//! async-std's TCP sockets (with `TCP_NODELAY`), timers and tasks under the
//! shared async adapter, `smtp-futures`. Everything else (the client, the
//! pool, the server and its handler, TLS) is `smtp-futures`', re-exported
//! here with the runtime filled in.
//!
//! **async-std is discontinued upstream**: its maintainers have stopped
//! working on it and recommend [smol](https://docs.rs/smol) instead. This
//! crate is for programs that already run on async-std; new code should use
//! `smtp-smol`, which has the same API (the types differ only in their
//! runtime parameter), so moving is a change of imports and of `block_on`.
//!
//! ```no_run
//! use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, TlsPolicy};
//! use std::time::Duration;
//!
//! async_std::task::block_on(async {
//!     let config = ClientConfig::new(Host::parse("client.example").unwrap())
//!         .with_tls(TlsPolicy::None);
//!     let addr = "127.0.0.1:2525".parse().unwrap();
//!     let mut client =
//!         smtp_async_std::Client::connect(addr, config, Duration::from_secs(10)).await?;
//!     let envelope = Envelope::new(Mailbox::parse("a@example.com").unwrap().into())
//!         .with_recipient(Recipient::new(Mailbox::parse("b@example.org").unwrap()));
//!     let report = client.send(&envelope, &b"Subject: hi\r\n\r\nHello\r\n"[..]).await?;
//!     println!("queued as {:?}", report.queue_id);
//!     client.quit().await
//! })?;
//! # Ok::<(), smtp_async_std::Error>(())
//! ```
//!
//! See `examples/async_std_send_and_receive.rs` for a server and a client in one
//! program.
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

use async_std::net::{TcpListener, TcpStream, ToSocketAddrs as _};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

pub use smtp_futures::common::*;

/// The async-std runtime: sockets from `async_std::net`, its timers, tasks
/// on its global executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl smtp_futures::Runtime for AsyncStd {
    type TcpStream = TcpStream;
    type TcpListener = TcpListener;

    async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect(addr).await
    }

    async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs().await?.collect())
    }

    fn set_nodelay(stream: &TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)
    }

    fn local_addr(stream: &TcpStream) -> io::Result<SocketAddr> {
        stream.local_addr()
    }

    fn listener(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener::from(listener))
    }

    async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
        listener.accept().await
    }

    async fn sleep_until(deadline: Instant) {
        async_std::task::sleep(deadline.saturating_duration_since(Instant::now())).await;
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        // Dropping the handle detaches the task.
        drop(async_std::task::spawn(future));
    }
}

smtp_futures::runtime_aliases!(AsyncStd, "async-std");
