//! The sans-IO SMTP core: exact parsers and serializers for every command and
//! reply, paths and parameters, EHLO capabilities, and DATA framing.
//!
//! No sockets, no threads, no clocks, no async: bytes in, values and bytes out.
//! Parsing is two steps: frame a line (resumable CRLF search with a length cap,
//! [`framing::LineBuffer`]), then parse the complete line ([`Command::parse`],
//! [`ReplyParser::push_line`]). Serializers are infallible: every value is
//! checked when it is built, so whatever can be built can be sent.
//!
//! ```
//! use smtp_proto::{Command, ParseError, Reply, ReplyCode};
//!
//! // A server reads a command line and answers it.
//! let cmd = Command::parse(b"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE").unwrap();
//! assert_eq!(cmd.to_bytes(), b"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE\r\n");
//!
//! // Bad input is a typed error that carries the reply to send.
//! let err = Command::parse(b"RCPT TO:<bob@@example.org>").unwrap_err();
//! assert_eq!(err, ParseError::BadAddress);
//! assert_eq!(err.reply().code(), ReplyCode::SYNTAX_ERROR_PARAMETERS);
//!
//! // A client reads the reply and classifies it.
//! let reply = Reply::parse(b"550 5.1.1 <bob@example.org>: user unknown\r\n").unwrap();
//! assert!(reply.is_permanent());
//! ```
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod data;
mod error;
pub mod framing;
mod parse;
pub mod sasl;
mod secret;
pub mod session;
pub mod transcript;
mod types;
pub mod xtext;

pub use data::{
    dot_stuff, write_bdat, BareLineEndingPolicy, BdatChunk, DataViolation, DotStuffer,
    DotUnstuffer, UnstuffProgress, UnstufferConfig,
};
pub use error::ParseError;
pub use framing::{LineBuffer, LineConfig, LineStatus};
pub use secret::Secret;
pub use session::{
    AuthFailure, ClientConfig, ClientError, ClientEvent, ClientSession, ClientTimeouts,
    CloseReason, DeliveryReport, Envelope, Output, Phase, Recipient, RecipientStatus, ServerConfig,
    ServerEvent, ServerSession, TlsInfo, TlsPolicy, UsageError,
};
pub use session::{MinimumRate, MAX_AUTH_FAILURE_DELAY};
pub use transcript::{Direction, WireObserver};
pub use types::*;

#[cfg(test)]
mod tests;
