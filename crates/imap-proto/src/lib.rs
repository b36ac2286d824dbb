//! The sans-IO IMAP4rev1 server core (RFC 3501, with LITERAL+ RFC 7888,
//! SASL-IR RFC 4959, IDLE RFC 2177, MOVE RFC 6851, UIDPLUS RFC 4315 and
//! UNSELECT RFC 3691).
//!
//! Commands are framed and parsed by imap-codec; the state machine
//! ([`ImapSession`]) is ours and is shaped like smtp-proto's and
//! pop3-proto's sessions: bytes and time in, bytes and events out. Mailbox
//! access goes through the [`Mailstore`] trait handed to each input;
//! ENVELOPE and BODYSTRUCTURE come from mime-codec's parser.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod fetch;
mod memory;
pub mod session;
mod store;
pub mod summary;
mod wire;

pub use memory::MemoryStore;
pub use session::{CloseReason, Credentials, Event, ImapConfig, ImapSession, UsageError};
pub use smtp_proto::{Output, Secret, TlsInfo};
pub use store::{Copied, Flags, FolderView, Mailstore, MessageMeta, NoStore, StoreError};
pub use summary::Summary;
