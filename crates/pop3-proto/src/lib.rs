//! The sans-IO POP3 server core: RFC 1939 (USER/PASS, APOP, STAT, LIST,
//! RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL), RFC 2449 CAPA and response
//! codes, RFC 2595 STLS and RFC 5034 SASL PLAIN.
//!
//! No sockets, no threads, no clocks: bytes and time in, bytes and events out,
//! in the same shape as smtp-proto's sessions (see [`Pop3Session`]). Pieces
//! both protocols need come from smtp-proto: line framing
//! ([`smtp_proto::LineBuffer`]), the streaming dot-stuffer
//! ([`smtp_proto::DotStuffer`]), SASL PLAIN decoding, [`Secret`], and the
//! [`Output`] / [`TlsInfo`] types the adapters already speak.
//!
//! ```
//! use pop3_proto::Command;
//!
//! let cmd = Command::parse(b"top 3 10").unwrap();
//! assert_eq!(cmd, Command::Top { message: 3, lines: 10 });
//! assert_eq!(cmd.to_bytes(), b"TOP 3 10\r\n");
//! ```
// No input may reach a panic: enforced outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod command;
mod message;
mod response;
pub mod session;

pub use command::{Argument, Command, ParseError, MAX_ARGUMENT};
pub use message::MessageStream;
pub use response::{Response, ResponseCode};
pub use session::{
    CloseReason, Credentials, Deletion, Event, InvalidUid, MessageInfo, Pop3Config, Pop3Session,
    Uid, UsageError,
};
pub use smtp_proto::{Output, Secret, TlsInfo};
