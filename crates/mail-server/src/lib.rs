//! A small mail server: receives mail for local domains on port 25, takes
//! mail from authenticated users on submission (587 STARTTLS, 465 implicit
//! TLS), checks it (SPF, DKIM, DMARC, filters), stores it once per local
//! recipient before answering 250, and queues the rest for delivery.
//!
//! The server is the SMTP handler ([`MailHandler`]) over `smtp-blocking`'s
//! threads, the configuration ([`ServerConfig`], a TOML file plus flags) and
//! the start of its listeners ([`start`]). What it decides with comes
//! through small traits, so that an embedder can plug in its own:
//! - [`Directory`]: who is local, who may log in, who may send as whom;
//! - [`MailboxStore`]: where local mail lands, streamed and two-phase;
//! - [`MessageFilter`]: verdicts at the end of DATA, and the optional
//!   client (DNSBL) and triplet (greylisting) checks;
//! - [`LoginLimiter`]: authentication failures per user and per address;
//! - [`ServerMetrics`]: what the server counts.
//!
//! The rules (see docs/mail-server.md): on port 25 a recipient in a local
//! domain must exist (`550 5.1.1`) and have room (`452 4.2.2`); any other
//! recipient is refused (`554 5.7.1`) unless the client authenticated.
//! Submission requires TLS and AUTH, and the envelope sender must belong to
//! the user (`553 5.7.1`); what it accepts goes durably into the spool
//! (signed with the domain's DKIM key when one is configured) before the
//! 250, and its local recipients get it straight in their mailboxes.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod checks;
mod concrete;
pub mod config;
mod directory;
mod filter;
mod forwarding;
mod greylisting;
mod handler;
mod limiter;
mod message;
mod metrics;
mod outbound;
pub mod received;
mod run;
pub mod srs;
mod store;

pub use checks::AuthChecks;
pub use concrete::Filters;
pub use config::{ConfigError, ServerConfig};
pub use directory::{Directory, LocalUser, Recipient};
pub use filter::{FilterOutcome, FilterVerdict, MessageFacts, MessageFilter, NoFilters, Refusal};
pub use forwarding::SrsConfig;
pub use handler::{MailHandler, Role};
pub use limiter::LoginLimiter;
pub use message::MessageSink;
pub use metrics::{Event, NoMetrics, ServerMetrics};
pub use outbound::{Outbound, OutboundError};
pub use run::{start, Parts, Running, StartError};
pub use store::{IncomingMessage, MailboxStore, StoreError};
