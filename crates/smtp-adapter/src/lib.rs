//! What every SMTP adapter of this workspace shares, whatever runs it
//! (threads, async-std, smol): none of it does I/O.
//!
//! - [`TlsSettings`] and [`ServerTls`]: how the client checks certificates
//!   and what the server presents, built into rustls configurations
//!   ([`Upgrade`]), plus the words for a failed handshake.
//! - [`ClientBuilder`] and [`ConnectOptions`]: a connection's options
//!   (TLS, connect timeout, wire observer); each adapter adds only how to
//!   open it ([`Connect`]).
//! - [`Error`]: one error type, worded for people, for every adapter.
//! - The server's decisions: [`Decision`], [`Connection`], [`Message`],
//!   [`Limits`], and [`Dispatch`], which turns each
//!   [`ServerEvent`](smtp_proto::ServerEvent) into the [`Question`] to ask
//!   the application's handler and gives its answer to the session.
//! - [`Session`]: the inputs and outputs both sessions share, so one driver
//!   loop serves the client and the server.
//!
//! The adapters (`smtp-blocking`, `smtp-futures` and the runtime crates
//! above it) re-export what their users need; this crate is rarely named
//! directly.
#![forbid(unsafe_code)]
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod client;
mod error;
mod io;
mod server;
mod session;
mod tls;
mod tls_failure;
mod verifier;

pub use client::{ClientBuilder, Connect, ConnectOptions, DEFAULT_CONNECT_TIMEOUT};
pub use error::Error;
pub use io::{is_peer_gone, is_timeout};
pub use rustls::pki_types::{CertificateDer, PrivateKeyDer};
pub use rustls::RootCertStore;
pub use server::{
    cram_md5_nonce, new_server_session, refusal_reply, Connection, Decision, Dispatch, Limits,
    Listening, Message, Question,
};
pub use session::Session;
pub use smtp_proto::sasl;
pub use tls::{
    client_tls_info, server_tls_info, tls_info, ServerTls, TlsSettings, Upgrade, DEFAULT_HANDSHAKE,
    SERVER_HANDSHAKE_LIMIT,
};
pub use tls_failure::{describe_client_failure, describe_server_failure, TlsFailure};
