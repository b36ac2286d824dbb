//! A mail queue that never loses a message, and the engine that delivers it.
//!
//! - [`schedule`]: the pure scheduler (retry with backoff and jitter,
//!   maximum age, reading replies, per-destination concurrency, token
//!   buckets, daily quotas). Time is an argument; nothing in it does I/O.
//! - [`spool`]: the durable queue: the [`Spool`] trait, SQLite and
//!   PostgreSQL backends.
//! - [`engine`]: the delivery engine over a [`engine::Transport`].
//! - [`smtp`]: the SMTP transport (relay or direct MX) over smtp-blocking;
//!   [`route`]: the pure MX routing decision.
//! - [`bounce`]: RFC 3464 delivery status notifications.
//! - [`Timestamp`]: time as a value.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod bounce;
mod dns;
pub mod engine;
pub mod route;
pub mod schedule;
pub mod smtp;
pub mod spool;
mod time;

pub use spool::{open, Spool, SpoolError};
pub use time::Timestamp;
