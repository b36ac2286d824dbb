//! Mail authentication for mailwire: DKIM signing and verification (RFC 6376, RFC 8463),
//! SPF (RFC 7208), DMARC (RFC 7489), the Authentication-Results field (RFC 8601) and
//! MTA-STS records and policies (RFC 8461).
//!
//! The crate does no I/O and reads no clock: DNS questions go to a [`Resolver`] the caller
//! provides, and the time is an argument. Message bytes are fed in chunks; only the header
//! section is held. See `docs/mail-auth.md` for a guide.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod arc;
pub mod auth_results;
pub mod check;
pub mod dkim;
pub mod dmarc;
pub mod header;
#[cfg(feature = "mail-dns")]
mod mail_dns_resolver;
pub mod mta_sts;
pub mod resolver;
pub mod spf;
pub mod tag_list;

pub use check::{authenticate, Envelope, Verdict};
pub use resolver::{DnsError, MemoryResolver, MxRecord, Resolver};
