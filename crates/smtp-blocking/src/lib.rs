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
//!   a connection limit and a graceful shutdown.
//!
//! Plain TCP only for now: no TLS (neither STARTTLS nor implicit TLS). A
//! session that asks for a handshake ends with [`Error::TlsNotSupported`].
//! The driver is generic over its stream so that a rustls stream can slot
//! in; see `crates/smtp-blocking/README.md` for what is still missing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub(crate) mod driver;
mod error;
mod server;

pub use client::Client;
pub use error::Error;
pub use server::{
    AcceptAll, Connection, Decision, Handler, Limits, Message, Server, ServerHandle, ShutdownHandle,
};
