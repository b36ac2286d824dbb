//! An async SMTP client, connection pool and server, generic over any
//! [`futures_io`] `AsyncRead + AsyncWrite` stream, with TLS by
//! futures-rustls: the part the smol and async-std adapters share.
//!
//! Every protocol decision (sequencing, pipelining, limits, timeouts,
//! replies) is the sans-IO core's ([`smtp_proto`]); this crate moves bytes
//! between a stream and a session, turns the session's deadlines into
//! timers, and hands the session's events to the application. What differs
//! per executor (sockets, timers, spawning) is the [`Runtime`] trait, which
//! `smtp-smol` and `smtp-async-std` implement; use one of those crates
//! rather than this one directly.
//!
//! - [`Client`]: `connect` (or [`Client::builder`]), then `send` many
//!   messages over one connection, then `quit`.
//! - [`Pool`]: connections to one server reused across messages, at most N
//!   at once, for bulk sending.
//! - [`Server`]: `bind`, an async [`Handler`] for the decisions, `spawn`
//!   (or `run`), connection limits (in all and per client address) and a
//!   graceful shutdown. Each message streams to the handler's [`Sink`]
//!   chunk by chunk as it arrives; none is held whole.
//!
//! The same types as the blocking adapter, `smtp-blocking`, come from the
//! shared `smtp-adapter` crate and are re-exported here: [`Error`],
//! [`TlsSettings`], [`ServerTls`], [`Decision`], [`Connection`],
//! [`Transaction`], [`Limits`], and the handler API itself ([`Handler`],
//! [`Sink`]), which differs from the blocking one only in `async`.
//!
//! # Cancellation
//! Futures of this crate may be dropped at any await point. A dropped
//! [`Client::send`] leaves that client unusable ([`Client::is_usable`] is
//! false; its next call closes the connection and fails with
//! [`Error::Closed`]), and [`Pool`] never puts such a client back: a
//! half-written command is never followed by another one.
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod client;
mod driver;
mod pool;
mod runtime;
mod server;
mod stream;

pub use client::{Client, ClientBuilder, Connector};
pub use common::*;
pub use pool::Pool;
pub use runtime::{timeout, Runtime};
pub use server::{Server, ServerHandle, ShutdownHandle};

/// What every runtime crate re-exports unchanged: `pub use
/// smtp_futures::common::*;` in `smtp-smol` and `smtp-async-std`.
pub mod common {
    pub use smtp_adapter::asynchronous::{AcceptAll, Handler, Sink};
    pub use smtp_adapter::{
        AuthThrottle, CertificateDer, Collect, Connection, Decision, Discard, Error, Limits,
        Message, PrivateKeyDer, RootCertStore, ServerTls, TlsFailure, TlsSettings, Transaction,
    };
}

/// The type aliases a runtime crate offers for its [`Runtime`] `$rt`
/// (named `$name` in their docs): `Client`, `ClientBuilder`, `Pool`,
/// `Server`, `ServerHandle`, `ShutdownHandle`.
#[macro_export]
macro_rules! runtime_aliases {
    ($rt:ty, $name:literal) => {
        #[doc = concat!("A client connection on ", $name, ": see [`smtp_futures::Client`].")]
        pub type Client = $crate::Client<$rt>;
        #[doc = concat!("The options of a client connection: see [`smtp_futures::ClientBuilder`].")]
        pub type ClientBuilder = $crate::ClientBuilder<$rt>;
        #[doc = concat!("Pooled client connections on ", $name, ": see [`smtp_futures::Pool`].")]
        pub type Pool = $crate::Pool<$rt>;
        #[doc = concat!("A server on ", $name, ": see [`smtp_futures::Server`].")]
        pub type Server<H> = $crate::Server<$rt, H>;
        #[doc = concat!("A running server: see [`smtp_futures::ServerHandle`].")]
        pub type ServerHandle = $crate::ServerHandle<$rt>;
        #[doc = concat!("Stops a server: see [`smtp_futures::ShutdownHandle`].")]
        pub type ShutdownHandle = $crate::ShutdownHandle<$rt>;
    };
}
