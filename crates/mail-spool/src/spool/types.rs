//! The values that go in and out of a spool.

use crate::time::Timestamp;
use std::fmt;
use std::str::FromStr;

/// A message's id in the spool, shown as 12 hexadecimal digits (a queue id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub i64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012X}", self.0)
    }
}

impl FromStr for MessageId {
    type Err = SpoolError;
    fn from_str(s: &str) -> Result<MessageId, SpoolError> {
        i64::from_str_radix(s.trim(), 16)
            .ok()
            .filter(|n| *n > 0)
            .map(MessageId)
            .ok_or_else(|| {
                SpoolError::InvalidMessage(format!(
                    "{s:?} is not a queue id (12 hexadecimal digits)"
                ))
            })
    }
}

/// A recipient's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecipientId(pub i64);

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The envelope sender; empty for the null sender `<>` (bounces).
    pub sender: String,
    /// The envelope recipients (at least one).
    pub recipients: Vec<String>,
    /// The message, headers and body, CRLF line ends.
    pub body: Vec<u8>,
    /// A key that makes queueing idempotent: a second message with the same
    /// key is not queued (bulk sends use `campaign/row`).
    pub dedup_key: Option<String>,
}

impl NewMessage {
    /// Checks what a spool can hold: at least one recipient, each with a
    /// domain, no line breaks in addresses.
    pub fn validate(&self) -> Result<(), SpoolError> {
        if self.recipients.is_empty() {
            return Err(SpoolError::InvalidMessage(
                "a message needs at least one recipient".into(),
            ));
        }
        for address in self.recipients.iter().chain(std::iter::once(&self.sender)) {
            if address.contains(['\r', '\n', '<', '>']) || address.len() > 512 {
                return Err(SpoolError::InvalidMessage(format!(
                    "{address:?} is not an address"
                )));
            }
        }
        for rcpt in &self.recipients {
            if domain_of(rcpt).is_none() {
                return Err(SpoolError::InvalidMessage(format!(
                    "{rcpt:?} has no domain"
                )));
            }
        }
        Ok(())
    }
}

/// The domain of an address, lowercased (the part after the last `@`).
pub fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('.');
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

/// What [`Spool::enqueue`](super::Spool::enqueue) gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The message's id.
    pub id: MessageId,
    /// The dedup key was already there: nothing new was queued.
    pub duplicate: bool,
}

/// Where a recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientState {
    /// Waiting for its first attempt.
    Queued,
    /// A worker holds it (until its lease expires).
    InFlight,
    /// Waiting for a retry.
    Deferred,
    /// Accepted by the next hop.
    Delivered,
    /// Refused for good, or too old: bounced.
    Failed,
}

impl RecipientState {
    /// Every state, in this order.
    pub const ALL: [RecipientState; 5] = [
        RecipientState::Queued,
        RecipientState::InFlight,
        RecipientState::Deferred,
        RecipientState::Delivered,
        RecipientState::Failed,
    ];

    /// The number stored in the spool.
    pub fn code(self) -> i64 {
        match self {
            RecipientState::Queued => 0,
            RecipientState::InFlight => 1,
            RecipientState::Deferred => 2,
            RecipientState::Delivered => 3,
            RecipientState::Failed => 4,
        }
    }

    /// The state a stored number means.
    pub fn from_code(code: i64) -> Result<RecipientState, SpoolError> {
        RecipientState::ALL
            .into_iter()
            .find(|s| s.code() == code)
            .ok_or_else(|| SpoolError::Corrupt(format!("unknown recipient state {code}")))
    }

    /// A word for people and metrics.
    pub fn name(self) -> &'static str {
        match self {
            RecipientState::Queued => "queued",
            RecipientState::InFlight => "in_flight",
            RecipientState::Deferred => "deferred",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
        }
    }

    /// Delivered or failed: nothing more will happen.
    pub fn is_final(self) -> bool {
        matches!(self, RecipientState::Delivered | RecipientState::Failed)
    }
}

/// A recipient a worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRecipient {
    /// Its row.
    pub id: RecipientId,
    /// The address.
    pub address: String,
    /// Its domain (lowercase).
    pub domain: String,
    /// Failed attempts so far.
    pub failures: u32,
    /// The lease this claim holds; settle with it.
    pub lease: i64,
    /// When its state last changed before this claim (queued, deferred,
    /// or claimed by a worker that did not settle): a delay warning is due
    /// when the warning time falls between this and the settlement.
    pub since: Timestamp,
}

/// A message with the recipients of it a worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The message.
    pub message: MessageId,
    /// The envelope sender (empty for `<>`).
    pub sender: String,
    /// When it was queued (the maximum age counts from here).
    pub queued_at: Timestamp,
    /// The recipients held.
    pub recipients: Vec<ClaimedRecipient>,
}

/// The outcome of one recipient's attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted, with the reply and the next hop's queue id.
    Delivered {
        /// The final reply.
        reply: String,
        /// The next hop's queue id, when its reply showed one.
        remote_id: Option<String>,
    },
    /// Try again at `until`.
    Deferred {
        /// When.
        until: Timestamp,
        /// Why (the reply or the failure), for `queue show`.
        reply: String,
        /// Counts as a failed attempt (false for a rate limit or a
        /// resting destination, which are not the recipient's fault).
        attempted: bool,
    },
    /// Refused for good or expired.
    Failed {
        /// Why.
        reply: String,
    },
}

/// An outcome for one claimed recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The recipient.
    pub recipient: RecipientId,
    /// The lease of the claim it came from.
    pub lease: i64,
    /// What happened.
    pub outcome: Outcome,
}

/// One line of `queue list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// The message.
    pub id: MessageId,
    /// Its sender (empty for `<>`).
    pub sender: String,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// Its size in octets.
    pub size: u64,
    /// How many recipients are in each state, in [`RecipientState::ALL`] order.
    pub counts: [u64; 5],
}

/// One recipient of `queue show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientInfo {
    /// The address.
    pub address: String,
    /// Its state.
    pub state: RecipientState,
    /// Failed attempts so far.
    pub failures: u32,
    /// The next attempt (queued, deferred) or the lease's end (in flight).
    pub due: Option<Timestamp>,
    /// The last reply or failure, in words.
    pub last_reply: Option<String>,
    /// The next hop's queue id once delivered.
    pub remote_id: Option<String>,
    /// When its state last changed.
    pub updated: Timestamp,
}

/// `queue show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDetail {
    /// The summary.
    pub summary: MessageSummary,
    /// Every recipient.
    pub recipients: Vec<RecipientInfo>,
}

/// `queue stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpoolStats {
    /// Messages in the spool.
    pub messages: u64,
    /// Recipients in each state, in [`RecipientState::ALL`] order.
    pub recipients: [u64; 5],
    /// When the oldest message still waiting was queued.
    pub oldest_waiting: Option<Timestamp>,
}

/// What went wrong with the spool, in words that say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// The disk (or the database's size limit) is full: nothing was
    /// accepted, nothing already queued is lost.
    #[error("the spool is full (disk or database size limit): {0}; nothing was accepted, free some space and try again")]
    Full(String),
    /// The spool's files are damaged or are not a spool.
    #[error("the spool is damaged or is not a mailwire spool: {0}")]
    Corrupt(String),
    /// The database could not be reached or opened (a server that went
    /// away, a locked file, permissions).
    #[error("the spool is unavailable: {0}")]
    Unavailable(String),
    /// No such message.
    #[error("no message {0} in the spool")]
    NotFound(MessageId),
    /// A message the spool cannot hold.
    #[error("cannot queue this message: {0}")]
    InvalidMessage(String),
    /// Any other database error.
    #[error("spool database error: {0}")]
    Database(String),
}

impl SpoolError {
    /// The same error again (for each caller sharing a failed group commit).
    pub fn same(&self) -> SpoolError {
        match self {
            SpoolError::Full(s) => SpoolError::Full(s.clone()),
            SpoolError::Corrupt(s) => SpoolError::Corrupt(s.clone()),
            SpoolError::Unavailable(s) => SpoolError::Unavailable(s.clone()),
            SpoolError::NotFound(id) => SpoolError::NotFound(*id),
            SpoolError::InvalidMessage(s) => SpoolError::InvalidMessage(s.clone()),
            SpoolError::Database(s) => SpoolError::Database(s.clone()),
        }
    }

    /// True when trying again later may succeed (a full disk, a database
    /// that went away), false for damage and bad input.
    pub fn is_transient(&self) -> bool {
        matches!(self, SpoolError::Full(_) | SpoolError::Unavailable(_))
    }
}
