//! SMTP for the [smol](https://docs.rs/smol) runtime: smol's TCP sockets
//! (with `TCP_NODELAY`), its timers and its global executor under the
//! shared async adapter, `smtp-futures`. Everything else (the client, the
//! pool, the server and its handler, TLS) is `smtp-futures`', re-exported
//! here with the runtime filled in.
//!
//! smol is the runtime we recommend for new code: it is small, maintained,
//! and async-std's own maintainers point their users to it (async-std is
//! discontinued upstream; `smtp-async-std` remains for code that already
//! runs on it).
//!
//! ```no_run
//! use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, TlsPolicy};
//! use std::time::Duration;
//!
//! smol::block_on(async {
//!     let config = ClientConfig::new(Host::parse("client.example").unwrap())
//!         .with_tls(TlsPolicy::None);
//!     let addr = "127.0.0.1:2525".parse().unwrap();
//!     let mut client = smtp_smol::Client::connect(addr, config, Duration::from_secs(10)).await?;
//!     let envelope = Envelope::new(Mailbox::parse("a@example.com").unwrap().into())
//!         .with_recipient(Recipient::new(Mailbox::parse("b@example.org").unwrap()));
//!     let report = client.send(&envelope, &b"Subject: hi\r\n\r\nHello\r\n"[..]).await?;
//!     println!("queued as {:?}", report.queue_id);
//!     client.quit().await
//! })?;
//! # Ok::<(), smtp_smol::Error>(())
//! ```
//!
//! See `examples/smol_send_and_receive.rs` for a server and a client in one
//! program.
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

use smol::net::{TcpListener, TcpStream};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

pub use smtp_futures::common::*;

/// The smol runtime: sockets from `smol::net`, timers from `async-io`,
/// tasks on smol's global executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl smtp_futures::Runtime for Smol {
    type TcpStream = TcpStream;
    type TcpListener = TcpListener;

    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<TcpStream>> + Send {
        TcpStream::connect(addr)
    }

    async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        smol::net::resolve((host, port)).await
    }

    fn set_nodelay(stream: &TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)
    }

    fn local_addr(stream: &TcpStream) -> io::Result<SocketAddr> {
        stream.local_addr()
    }

    fn listener(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::try_from(listener)
    }

    fn accept(
        listener: &TcpListener,
    ) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        listener.accept()
    }

    async fn sleep_until(deadline: Instant) {
        smol::Timer::at(deadline).await;
    }

    fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) {
        smol::spawn(future).detach();
    }
}

smtp_futures::runtime_aliases!(Smol, "smol");
