//! Async POP3 and IMAP servers over any [`futures_io`] runtime — smol,
//! async-std, or anything that implements [`smtp_futures::Runtime`] — for
//! programs that serve mail readers from their own executor, the way
//! `smtp-smol` and `smtp-async-std` serve SMTP.
//!
//! Every protocol decision is the sans-IO sessions' ([`pop3_proto`],
//! [`imap_proto`]); the Maildir work is the blocking servers' own
//! (`pop3_blocking::Maildrops`, `imap_blocking::MaildirStore`); the
//! options, the [`Authenticator`] and the TLS details are
//! `session_server`'s, shared with the blocking servers. This crate moves
//! bytes between a stream and a session with futures-rustls for
//! STLS/STARTTLS and implicit TLS, turns the sessions' deadlines into
//! timers, and runs whatever may block (the authenticator, every file
//! read and write) on the `blocking` crate's thread pool (the one smol and
//! async-std use), never on the executor.
//!
//! Buffers are bounded: an answer is written whole (within the options'
//! write timeout) before the next command is read, so a client that never
//! reads holds at most one answer (a POP3 chunk, an IMAP FETCH step) and is
//! dropped when the write timeout passes.
//!
//! ```no_run
//! use pop3_proto::{Credentials, Pop3Config};
//! use session_futures::{Pop3Options, Pop3Server};
//! use std::net::SocketAddr;
//! use std::path::PathBuf;
//!
//! let users = |c: &Credentials, _peer: SocketAddr| {
//!     (c.username() == "alice" && c.verify_password("secret")).then(|| PathBuf::from("/var/mail/alice"))
//! };
//! let options = Pop3Options::new(Pop3Config::new("pop.example.com").with_plaintext_auth(true));
//! let server = Pop3Server::<smtp_smol::Smol>::bind("127.0.0.1:1110", options, users)?;
//! smol::block_on(server.run());
//! # Ok::<(), session_futures::StartError>(())
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod imap;
mod io;
mod pop3;
mod server;

pub use imap::{Imap, ImapOptions, ImapServer};
pub use pop3::{Pop3, Pop3Options, Pop3Server};
pub use server::{Protocol, Server, ServerHandle, ShutdownHandle};
pub use session_server::{Authenticator, Login, StartError};
