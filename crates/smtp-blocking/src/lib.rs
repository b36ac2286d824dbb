//! A blocking SMTP client and server over `std::net` sockets, one thread per
//! connection, driving the sans-IO sessions of [`smtp_proto`].
//!
//! Every protocol decision (sequencing, pipelining, limits, timeouts, replies)
//! is the core's; this crate only moves bytes between a socket and a session,
//! turns the session's deadlines into read timeouts, and hands the session's
//! events to the application. One loop, in the private `driver` module,
//! serves both sides.
//!
//! - [`Client`]: `connect`, then `send` many messages over one connection,
//!   then `quit`.
//! - [`Server`]: `bind`, a [`Handler`] for the decisions, `spawn` (or `run`),
//!   connection limits (in all and per client address) and a graceful
//!   shutdown. Each message streams to the handler's [`Sink`] chunk by
//!   chunk as it arrives; none is held whole.
//!
//! TLS is rustls with the ring provider: STARTTLS and implicit TLS (port
//! 465 style) on both sides. The client takes [`TlsSettings`] (the public
//! roots by default, a CA file or root store for private CAs, SNI from the
//! host name), the server a [`ServerTls`] (certificate chain and key).
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod client;
pub(crate) mod driver;
mod pool;
mod server;
mod tls;

pub use client::{Blocking, Client, ClientBuilder};
pub use pool::Pool;
pub use server::{Server, ServerHandle, ShutdownHandle};
pub use smtp_adapter::blocking::{AcceptAll, Handler, Sink};
pub use smtp_adapter::{
    AuthThrottle, CertificateDer, Collect, Connection, Decision, Discard, Error, Limits, Message,
    PrivateKeyDer, RootCertStore, ServerTls, TlsFailure, TlsSettings, Transaction,
};
