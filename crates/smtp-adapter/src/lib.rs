//! What every SMTP adapter of this workspace shares, whatever runs it
//! (threads, async-std, smol): the orchestration and the settings, so that
//! each adapter keeps only reads, writes, timers and the TLS handshake.
//!
//! It reads and writes no connection and waits for nothing. Three things
//! here do touch the system, each named: [`Listening::bind`] binds the
//! listening socket (std, once, so that every adapter refuses the same
//! impossible settings the same way before it adopts the socket);
//! [`cram_md5_nonce`] reads the wall clock for a challenge that must not
//! repeat; and [`TlsSettings::with_ca_file`] / [`ServerTls::from_pem_files`]
//! read the files they are given. Everything that decides takes the time
//! as an argument.
//!
//! - The orchestration, driven by each adapter's short loop:
//!   [`Setup`] (a client session until it is ready), [`ClientCore`] and
//!   [`Sending`] (one message: the envelope's replies, the body streamed
//!   one chunk ahead, the final reply; the adapter answers each [`Step`]),
//!   [`PoolCore`] (a pool's target, options and idle connections),
//!   [`DriverState`] (a connection's peer, TLS start, deadlines, observer
//!   and error wording), [`ServerSetup`] / [`ConnectionSetup`] (a server's
//!   settings and what each connection is served with), and [`Next`], what
//!   a driver found. See docs/adapters.md for the shape and why.
//! - [`TlsSettings`] and [`ServerTls`]: how the client checks certificates
//!   and what the server presents, built into rustls configurations
//!   ([`Upgrade`]), plus the words for a failed handshake.
//! - [`ClientBuilder`] and [`ConnectOptions`]: a connection's options
//!   (TLS, connect timeout, wire observer); each adapter adds only how to
//!   open it ([`Connect`]).
//! - [`Error`]: one error type, worded for people, for every adapter.
//! - The server's handler API, shaped once for both forms:
//!   [`blocking::Handler`] and [`asynchronous::Handler`] (the same methods,
//!   one plain, one async), each message streamed to the handler's
//!   [`blocking::Sink`] / [`asynchronous::Sink`] chunk by chunk; the
//!   [`Decision`]s, what the handler is told ([`Connection`],
//!   [`Transaction`]), ready sinks ([`Discard`], [`Collect`]), and
//!   [`Dispatch`], one connection's bookkeeping between session and handler.
//! - The server's limits: [`Limits`], [`Admission`] (connections in all and
//!   per client address), [`AuthThrottle`] (AUTH failures per address
//!   across connections).
//! - [`Session`]: the inputs and outputs both sessions share, so one driver
//!   loop serves the client and the server.
//!
//! The adapters (`smtp-blocking`, `smtp-futures` and the runtime crates
//! above it) re-export what their users need; this crate is rarely named
//! directly.
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod admission;
mod client;
mod conduct;
mod dispatch;
mod drive;
mod error;
mod handler;
mod io;
mod pool;
mod server;
mod session;
mod throttle;
mod tls;
mod tls_failure;
mod verifier;

pub use admission::{client_key, Admission, Refusal, SharedAdmission};
pub use client::{ClientBuilder, Connect, ConnectOptions, DEFAULT_CONNECT_TIMEOUT};
pub use conduct::{ClientCore, Next, Sending, Setup, Step, BODY_CHUNK};
pub use dispatch::{Collect, Discard, Dispatch, Ending, Message, Transaction};
pub use drive::{DriverState, Handshake, TlsStart};
pub use error::Error;
pub use handler::{asynchronous, blocking};
pub use io::{is_peer_gone, is_timeout};
pub use pool::{PoolCore, Pooled};
pub use rustls::pki_types::{CertificateDer, PrivateKeyDer};
pub use rustls::RootCertStore;
pub use server::{
    cram_md5_nonce, new_server_session, refusal_reply, Connection, ConnectionSetup, Decision,
    Limits, Listening, ServerSetup,
};
pub use session::Session;
pub use smtp_proto::sasl;
pub use throttle::AuthThrottle;
pub use tls::{
    client_tls_info, server_tls_info, tls_info, ServerTls, TlsSettings, Upgrade, DEFAULT_HANDSHAKE,
    SERVER_HANDSHAKE_LIMIT,
};
pub use tls_failure::{
    describe_client_failure, describe_server_failure, tls_already_in_use, TlsFailure,
};
