//! A mail queue that never loses a message, and the engine that delivers it.
//!
//! - [`schedule`]: the pure scheduler (retry with backoff and jitter,
//!   maximum age, reading replies, per-destination concurrency, token
//!   buckets, daily quotas). Time is an argument; nothing in it does I/O.
//! - [`spool`]: the durable queue: the [`Spool`] trait, SQLite and
//!   PostgreSQL backends.
//! - [`Timestamp`]: time as a value.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod schedule;
pub mod spool;
mod time;

pub use spool::{open, Spool, SpoolError};
pub use time::Timestamp;
