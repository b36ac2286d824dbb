//! The spool: where a message waits from the moment it is accepted until
//! every recipient is delivered or failed. One trait, [`Spool`], with an
//! embedded SQLite backend ([`SqliteSpool`]) and a PostgreSQL backend
//! ([`PostgresSpool`]) for many workers on many machines.
//!
//! The contract every backend keeps:
//! - [`Spool::enqueue`] returns only once the message is durable (committed
//!   and on disk); from then on it is delivered, failed with a bounce, or
//!   kept — never lost.
//! - Workers [`claim`](Spool::claim) recipients with a lease. A claim that
//!   is not settled before its lease expires (the worker died) is due again
//!   and another worker takes it: delivery is at least once.
//! - [`settle`](Spool::settle) records outcomes and enqueues the bounces
//!   they cause in the same transaction.

mod postgres;
mod sqlite;
mod types;

pub use self::postgres::PostgresSpool;
pub use sqlite::{SqliteOptions, SqliteSpool};
pub use types::*;

use crate::time::Timestamp;
use std::time::Duration;

/// A durable queue of messages with per-recipient state.
pub trait Spool: Send + Sync {
    /// Accepts one message. Returns once it is durable.
    fn enqueue(&self, message: &NewMessage, now: Timestamp) -> Result<Enqueued, SpoolError> {
        self.enqueue_batch(std::slice::from_ref(message), now)?
            .pop()
            .ok_or_else(|| SpoolError::Database("the batch returned no id".into()))
    }

    /// Accepts several messages in one transaction (one disk flush for
    /// all). Returns once all are durable, in order. A message whose
    /// [`NewMessage::dedup_key`] is already in the spool is not queued
    /// again: its existing id comes back with `duplicate` set.
    fn enqueue_batch(
        &self,
        messages: &[NewMessage],
        now: Timestamp,
    ) -> Result<Vec<Enqueued>, SpoolError>;

    /// Takes up to `max_recipients` recipients that are due at `now` (queued,
    /// deferred until now or earlier, or in flight with an expired lease),
    /// leased to `owner` until `now + lease`, grouped by message.
    fn claim(
        &self,
        owner: &str,
        now: Timestamp,
        lease: Duration,
        max_recipients: usize,
    ) -> Result<Vec<Claimed>, SpoolError>;

    /// A message's body.
    fn body(&self, message: MessageId) -> Result<Vec<u8>, SpoolError>;

    /// Records outcomes of claimed recipients and queues `bounces`, in one
    /// transaction. An outcome whose lease was taken over by another worker
    /// is ignored unless it is a delivery (a delivery is a fact whoever
    /// made it).
    fn settle(
        &self,
        settlements: &[Settlement],
        bounces: &[NewMessage],
        now: Timestamp,
    ) -> Result<(), SpoolError>;

    /// Gives back every recipient `owner` holds, due at once (a graceful
    /// stop that did not finish them).
    fn release(&self, owner: &str, now: Timestamp) -> Result<u64, SpoolError>;

    /// The earliest time anything becomes due, if anything is waiting.
    fn next_due(&self) -> Result<Option<Timestamp>, SpoolError>;

    /// Messages in id order from `after`, at most `limit`.
    fn list(
        &self,
        after: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<MessageSummary>, SpoolError>;

    /// One message with each recipient's state.
    fn show(&self, message: MessageId) -> Result<MessageDetail, SpoolError>;

    /// Makes the deferred recipients of `message` (or of every message)
    /// due at `now`. Returns how many.
    fn retry(&self, message: Option<MessageId>, now: Timestamp) -> Result<u64, SpoolError>;

    /// Removes a message and its recipients, whatever their state.
    fn delete(&self, message: MessageId) -> Result<(), SpoolError>;

    /// Removes messages whose recipients are all delivered or failed.
    fn purge_finished(&self) -> Result<u64, SpoolError>;

    /// Counts by state.
    fn stats(&self) -> Result<SpoolStats, SpoolError>;

    /// Whether message rates and daily quotas are kept in the spool and
    /// shared by every worker using it ([`take_shared`](Self::take_shared)).
    /// The embedded spool serves one machine and keeps pacing in each
    /// worker's scheduler.
    fn shares_pacing(&self) -> bool {
        false
    }

    /// Takes one message from `destination`'s shared buckets and daily
    /// quota under `limits`, atomically for all workers: `Ok(Ok(()))` when
    /// it may go now, `Ok(Err(t))` when the limit allows it again at `t`.
    /// A spool that does not share pacing lets everything go.
    fn take_shared(
        &self,
        destination: &str,
        limits: &crate::schedule::RateLimits,
        now: Timestamp,
    ) -> Result<Result<(), Timestamp>, SpoolError> {
        let _ = (destination, limits, now);
        Ok(Ok(()))
    }

    /// Blocks until something may have become due, or `timeout` passed. A
    /// backend with notifications (PostgreSQL's LISTEN) wakes early.
    fn wait_for_work(&self, timeout: Duration) {
        std::thread::sleep(timeout);
    }
}

/// Opens the spool a URL names: `postgres://…` or `postgresql://…` for
/// PostgreSQL, `sqlite:PATH` or a plain path for the embedded spool (a
/// directory holding `spool.db`).
pub fn open(url: &str) -> Result<Box<dyn Spool>, SpoolError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(PostgresSpool::connect(url)?));
    }
    let path = url.strip_prefix("sqlite:").unwrap_or(url);
    Ok(Box::new(SqliteSpool::open(path, SqliteOptions::default())?))
}
