//! Filters the mail server runs at the end of DATA, and the checks it runs
//! before: greylisting and DNSBL lookups.
//!
//! - [`Filter`]: one check of a received message (read from its file) that
//!   gives a [`Verdict`]: accept (maybe adding headers), reject with a reply,
//!   quarantine, or fail temporarily.
//! - Built in: [`SizeLimit`], [`HeaderRule`]; external scanners the way real
//!   deployments run them: [`Rspamd`] (its HTTP `/checkv2` protocol),
//!   [`Clamd`] (ClamAV's `zINSTREAM`) and [`Command`] (any program).
//! - [`FilterChain`]: runs filters in order (built from [`FiltersConfig`], the
//!   server's `[filters]` table); the first reject, quarantine or temporary
//!   failure wins, headers of accepting filters accumulate, and a scanner that
//!   is down or slow follows its [`FailurePolicy`].
//! - [`greylist`]: the pure greylisting decision (time is an argument) over a
//!   bounded in-memory store or a durable SQLite one.
//! - [`dnsbl`]: DNS blocklist lookups through `mail-dns`.
//!
//! Every external scanner has a deadline for the whole exchange (a scanner
//! that trickles or never answers hits it) and a bound on the reply it reads.
//!
//! ```
//! use mail_filter::{FilterChain, FiltersConfig, MessageInfo, Verdict};
//!
//! let config: FiltersConfig = serde_json::from_str(
//!     r#"{ "chain": [ { "kind": "size", "max_bytes": 10 } ] }"#,
//! )?;
//! let chain = FilterChain::from_config(&config)?;
//! let dir = std::env::temp_dir().join(format!("mail-filter-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let message = dir.join("m.eml");
//! std::fs::write(&message, "Subject: hello\r\n\r\nmore than ten bytes\r\n")?;
//! let info = MessageInfo {
//!     client_ip: [192, 0, 2, 1].into(),
//!     helo: "mx.example.com".into(),
//!     mail_from: "a@example.com".into(),
//!     recipients: vec!["b@example.org".into()],
//!     authenticated: None,
//!     queue_id: "Q1".into(),
//!     size: std::fs::metadata(&message)?.len(),
//! };
//! let outcome = chain.run(&info, &message);
//! assert!(matches!(outcome.verdict, Verdict::Reject { code: 552, .. }));
//! assert_eq!(outcome.decided_by.as_deref(), Some("size"));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod builtin;
mod chain;
mod clamd;
mod command;
pub mod dnsbl;
mod error;
pub mod greylist;
mod net;
mod rspamd;
mod verdict;

pub use builtin::{HeaderAction, HeaderRule, HeaderRuleConfig, SizeLimit};
pub use chain::{
    FailurePolicy, FilterChain, FilterConfig, FilterOutcome, FiltersConfig, SizeConfig,
};
pub use clamd::{parse_clamd_reply, Clamd, ClamdConfig, ClamdReply, VirusAction};
pub use command::{Command, CommandConfig};
pub use dnsbl::{Dnsbl, DnsblConfig};
pub use error::FilterError;
pub use greylist::{Greylist, GreylistConfig};
pub use rspamd::{
    parse_rspamd_reply, RewriteAction, Rspamd, RspamdAction, RspamdConfig, RspamdReply, SoftAction,
};
pub use verdict::{sanitize_text, MessageInfo, Verdict};

use std::path::Path;

/// One check of a received message.
///
/// `check` reads the stored message from `message` (never whole in memory
/// unless its protocol demands it, and then bounded) and says what to do with
/// it. An `Err` is the filter's own failure (scanner down, slow, or talking
/// nonsense); the [`FilterChain`] turns it into a verdict by the filter's
/// [`FailurePolicy`].
pub trait Filter: Send + Sync {
    /// A short name for logs, metrics and failure headers (`rspamd`, `clamd`).
    fn name(&self) -> &str;
    /// Checks one message.
    fn check(&self, info: &MessageInfo, message: &Path) -> Result<Verdict, FilterError>;
}
