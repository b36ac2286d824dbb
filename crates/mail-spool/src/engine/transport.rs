//! The edge the engine delivers through: a small trait, so the engine does
//! not care whether an attempt goes over smtp-blocking today or the front
//! door's `Mailer` later, and tests can stand in a scripted peer.

use crate::schedule::{classify_failure, classify_reply, ConnectionFailure, RetryPolicy, Verdict};

/// What one attempt (one SMTP transaction to one destination) gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Per recipient, in the order given: the verdict and the reply or
    /// failure in words.
    pub recipients: Vec<(Verdict, String)>,
    /// What the destination as a whole said (for the scheduler's rest).
    pub destination: Verdict,
    /// The next hop's queue id, when its final reply showed one.
    pub remote_id: Option<String>,
}

impl Attempt {
    /// Every recipient got the same answer: a connection that failed, a
    /// refused MAIL, a refused end of data.
    pub fn all(n: usize, verdict: Verdict, reason: impl Into<String>) -> Attempt {
        let reason = reason.into();
        Attempt {
            recipients: vec![(verdict, reason); n],
            destination: verdict,
            remote_id: None,
        }
    }

    /// A reply to the whole transaction.
    pub fn reply(n: usize, code: u16, text: &str) -> Attempt {
        Attempt::all(n, classify_reply(code, text), format!("{code} {text}"))
    }

    /// A connection-level failure.
    pub fn failure(n: usize, failure: ConnectionFailure, reason: impl Into<String>) -> Attempt {
        Attempt::all(n, classify_failure(failure), reason)
    }
}

/// How mail leaves: where each recipient's domain goes, and how to attempt.
pub trait Transport: Send + Sync {
    /// One worker's connections.
    type Worker: TransportWorker;

    /// The destination a recipient domain is delivered to: a relay takes
    /// every domain (one key), direct delivery keys by domain. Recipients of
    /// one message with one destination travel in one transaction.
    fn destination(&self, domain: &str) -> String;

    /// How recipients on this route are retried.
    fn retry_policy(&self) -> RetryPolicy;

    /// A new worker (each delivery thread has one, with its own
    /// connections).
    fn worker(&self) -> Self::Worker;
}

/// One delivery thread's side of a [`Transport`]: it may keep a connection
/// per destination open between attempts.
pub trait TransportWorker: Send {
    /// Delivers `body` from `sender` (empty for `<>`) to `recipients`, all
    /// at `destination`.
    fn attempt(
        &mut self,
        destination: &str,
        sender: &str,
        recipients: &[String],
        body: &[u8],
    ) -> Attempt;

    /// Closes idle connections (QUIT), at stop or when idle.
    fn close_idle(&mut self);
}
