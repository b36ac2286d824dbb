//! What the server counts: each [`Event`] told to a [`ServerMetrics`].

use std::time::Duration;

/// Something worth counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A client connected to a listener (`smtp`, `submission`,
    /// `submissions`), before its greeting: counted whether or not it
    /// ever says EHLO.
    Connected {
        /// The listener.
        listener: &'a str,
    },
    /// A connection counted by `Connected` ended, however it ended
    /// (QUIT, a timeout, the client gone, an error): once per `Connected`.
    Disconnected {
        /// The listener.
        listener: &'a str,
    },
    /// A message was accepted (stored and/or queued) with this many bytes.
    Accepted {
        /// The listener.
        listener: &'a str,
        /// Its size as received.
        bytes: u64,
        /// It went to the junk folder.
        quarantined: bool,
        /// From the end of its data to the reply.
        took: Duration,
    },
    /// A recipient or a message was refused, for `reason` (a short label:
    /// `unknown_user`, `over_quota`, `relay_denied`, `sender_not_owned`,
    /// `dmarc`, `filter`, `greylist`, `dnsbl`, `srs_invalid`,
    /// `store_error`, `spool_error`).
    Rejected {
        /// The listener.
        listener: &'a str,
        /// Why.
        reason: &'static str,
    },
    /// An AUTH attempt failed.
    AuthFailed {
        /// The listener.
        listener: &'a str,
    },
    /// A filter decided: its name and the verdict's name (`accept`,
    /// `reject`, `quarantine`, `tempfail`).
    FilterVerdict {
        /// The filter, or `chain` when none is named.
        filter: &'a str,
        /// The verdict.
        verdict: &'static str,
    },
    /// The mailbox store failed.
    StorageError,
}

/// Where the server's [`Event`]s go (a Prometheus registry, say).
pub trait ServerMetrics: Send + Sync + 'static {
    /// Counts one event.
    fn record(&self, event: Event<'_>);
}

/// Counts nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl ServerMetrics for NoMetrics {
    fn record(&self, _event: Event<'_>) {}
}
