//! The mail server's metrics, by name, behind typed handles: a caller
//! says `metrics.auth_failure("submission")`, never a metric's name, so a
//! misspelt name cannot compile. `docs/monitoring.md` lists them.

use crate::registry::{
    Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily, Registry, RegistryError,
};
use std::sync::Arc;
use std::time::Duration;

/// Bucket upper bounds of `mailwire_reply_seconds`, in seconds: from a fast
/// in-memory reply to a slow fsync or scanner.
pub const REPLY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The names of the mail server's metrics, in registration order.
pub const NAMES: [&str; 10] = [
    "mailwire_connections_total",
    "mailwire_connections_active",
    "mailwire_messages_total",
    "mailwire_message_bytes_total",
    "mailwire_auth_failures_total",
    "mailwire_filter_verdicts_total",
    "mailwire_queue_depth",
    "mailwire_deliveries_total",
    "mailwire_storage_errors_total",
    "mailwire_reply_seconds",
];

/// What became of a message offered to a listener: the `outcome` label of
/// `mailwire_messages_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageOutcome {
    /// Stored or queued, answered 250.
    Accepted,
    /// Refused for good (5xx).
    Rejected,
    /// Refused for now (4xx).
    TempFailed,
    /// Accepted into quarantine.
    Quarantined,
}

impl MessageOutcome {
    /// Every outcome.
    pub const ALL: [MessageOutcome; 4] = [
        MessageOutcome::Accepted,
        MessageOutcome::Rejected,
        MessageOutcome::TempFailed,
        MessageOutcome::Quarantined,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageOutcome::Accepted => "accepted",
            MessageOutcome::Rejected => "rejected",
            MessageOutcome::TempFailed => "tempfailed",
            MessageOutcome::Quarantined => "quarantined",
        }
    }
}

/// What became of one delivery attempt to one recipient: the `outcome`
/// label of `mailwire_deliveries_total` (the delivery engine's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// Accepted by the next hop or stored locally.
    Delivered,
    /// To be retried.
    Deferred,
    /// Refused for good or expired: bounced.
    Failed,
}

impl DeliveryOutcome {
    /// Every outcome.
    pub const ALL: [DeliveryOutcome; 3] = [
        DeliveryOutcome::Delivered,
        DeliveryOutcome::Deferred,
        DeliveryOutcome::Failed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Deferred => "deferred",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// The mail server's metrics in one registry.
///
/// ```
/// use mail_metrics::{MailMetrics, MessageOutcome};
/// let metrics = MailMetrics::new();
/// let connection = metrics.connection_opened("smtp");
/// metrics.message("smtp", MessageOutcome::Rejected, "unknown_user");
/// drop(connection); // mailwire_connections_active{listener="smtp"} back to 0
/// let text = metrics.registry().render();
/// assert!(text.contains(
///     "mailwire_messages_total{listener=\"smtp\",outcome=\"rejected\",reason=\"unknown_user\"} 1\n"
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct MailMetrics {
    registry: Registry,
    connections_total: CounterFamily<1>,
    connections_active: GaugeFamily<1>,
    messages_total: CounterFamily<3>,
    message_bytes_total: CounterFamily<1>,
    auth_failures_total: CounterFamily<1>,
    filter_verdicts_total: CounterFamily<2>,
    queue_depth: GaugeFamily<1>,
    /// The series without labels (or with one of a few fixed values),
    /// kept so that updating them is one atomic operation.
    storage_errors: Arc<Counter>,
    reply: Arc<Histogram>,
    deliveries: [Arc<Counter>; 3],
}

impl Default for MailMetrics {
    fn default() -> Self {
        MailMetrics::new()
    }
}

impl MailMetrics {
    /// The metrics in a registry of their own.
    pub fn new() -> MailMetrics {
        MailMetrics::build(&Registry::new())
    }

    /// Registers the metrics in `registry` (beside others the embedder
    /// keeps there). Fails if one of the names is already registered.
    pub fn register(registry: &Registry) -> Result<MailMetrics, RegistryError> {
        let taken = registry.names();
        if let Some(name) = NAMES.iter().find(|n| taken.iter().any(|t| t == *n)) {
            return Err(RegistryError::Duplicate((*name).to_owned()));
        }
        Ok(MailMetrics::build(registry))
    }

    fn build(registry: &Registry) -> MailMetrics {
        // Registered in the order of NAMES: the order they render in.
        let connections_total =
            registry.trusted_counter(NAMES[0], "Connections accepted, by listener.", ["listener"]);
        let connections_active =
            registry.trusted_gauge(NAMES[1], "Connections open now, by listener.", ["listener"]);
        let messages_total = registry.trusted_counter(
            NAMES[2],
            "Messages offered at end of data, by listener, outcome and reason.",
            ["listener", "outcome", "reason"],
        );
        let message_bytes_total = registry.trusted_counter(
            NAMES[3],
            "Bytes of accepted messages, by listener.",
            ["listener"],
        );
        let auth_failures_total =
            registry.trusted_counter(NAMES[4], "Failed AUTH attempts, by listener.", ["listener"]);
        let filter_verdicts_total = registry.trusted_counter(
            NAMES[5],
            "Verdicts of each filter: accept, reject, quarantine, tempfail or error.",
            ["filter", "verdict"],
        );
        let queue_depth = registry.trusted_gauge(
            NAMES[6],
            "Recipients in the delivery queue, by state.",
            ["state"],
        );
        let deliveries_total: CounterFamily<1> = registry.trusted_counter(
            NAMES[7],
            "Delivery attempts by outcome: delivered, deferred or failed.",
            ["outcome"],
        );
        let storage_errors_total: CounterFamily<0> =
            registry.trusted_counter(NAMES[8], "Mailbox or spool writes that failed.", []);
        let reply_seconds: HistogramFamily<0> = registry.trusted_histogram(
            NAMES[9],
            "Time from the end of a message's data to the server's reply.",
            [],
            &REPLY_BUCKETS,
        );
        // Series that exist from the start, so that rates and alerts see a
        // zero rather than no data; kept, so updating them is one atomic
        // operation.
        let deliveries =
            DeliveryOutcome::ALL.map(|outcome| deliveries_total.with([outcome.as_str()]));
        MailMetrics {
            registry: registry.clone(),
            connections_total,
            connections_active,
            messages_total,
            message_bytes_total,
            auth_failures_total,
            filter_verdicts_total,
            queue_depth,
            storage_errors: storage_errors_total.with([]),
            reply: reply_seconds.with([]),
            deliveries,
        }
    }

    /// The registry to render or serve.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A listener (`smtp`, `submission`, `submissions`, ...) is to be
    /// shown even before its first connection.
    pub fn listener(&self, listener: &str) {
        self.connections_total.with([listener]);
        self.connections_active.with([listener]);
        self.auth_failures_total.with([listener]);
        self.message_bytes_total.with([listener]);
    }

    /// Counts a new connection and holds it as active until the guard drops.
    pub fn connection_opened(&self, listener: &str) -> ConnectionGuard {
        self.connections_total.with([listener]).inc();
        let active = self.connections_active.with([listener]);
        active.inc();
        ConnectionGuard { active }
    }

    /// Counts a message's outcome, with a short reason (`ok`,
    /// `unknown_user`, `over_quota`, `filter`, `size`, ...).
    pub fn message(&self, listener: &str, outcome: MessageOutcome, reason: &str) {
        self.messages_total
            .with([listener, outcome.as_str(), reason])
            .inc();
    }

    /// Adds the size of an accepted message.
    pub fn message_bytes(&self, listener: &str, bytes: u64) {
        self.message_bytes_total.with([listener]).add(bytes);
    }

    /// Counts a failed AUTH.
    pub fn auth_failure(&self, listener: &str) {
        self.auth_failures_total.with([listener]).inc();
    }

    /// Counts one filter's verdict (`accept`, `reject`, `quarantine`,
    /// `tempfail`, or `error` when the filter failed).
    pub fn filter_verdict(&self, filter: &str, verdict: &str) {
        self.filter_verdicts_total.with([filter, verdict]).inc();
    }

    /// Sets how many recipients are in the queue in `state` (the spool's
    /// words: `queued`, `in_flight`, `deferred`).
    pub fn set_queue_depth(&self, state: &str, recipients: u64) {
        let value = i64::try_from(recipients).unwrap_or(i64::MAX);
        self.queue_depth.with([state]).set(value);
    }

    /// Counts one delivery attempt's outcome.
    pub fn delivery(&self, outcome: DeliveryOutcome) {
        let slot = match outcome {
            DeliveryOutcome::Delivered => 0,
            DeliveryOutcome::Deferred => 1,
            DeliveryOutcome::Failed => 2,
        };
        if let Some(counter) = self.deliveries.get(slot) {
            counter.inc();
        }
    }

    /// Counts a failed mailbox or spool write.
    pub fn storage_error(&self) {
        self.storage_errors.inc();
    }

    /// Records the time from end of data to the reply.
    pub fn reply_time(&self, took: Duration) {
        self.reply.observe_duration(took);
    }

    /// The counter of connections on `listener`, for a caller that keeps it.
    pub fn connections_counter(&self, listener: &str) -> Arc<Counter> {
        self.connections_total.with([listener])
    }

    /// The gauge of active connections on `listener`.
    pub fn connections_gauge(&self, listener: &str) -> Arc<Gauge> {
        self.connections_active.with([listener])
    }
}

/// An open connection: `mailwire_connections_active` goes down by one
/// when it drops.
#[derive(Debug)]
#[must_use = "the connection counts as active until this drops"]
pub struct ConnectionGuard {
    active: Arc<Gauge>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.active.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_registers_and_renders() {
        // The trusted constants pass the checked path too.
        let checked = Registry::new();
        for name in NAMES {
            checked
                .counter(name, "", ["listener", "outcome", "reason"])
                .unwrap();
        }
        checked.histogram("h", "", [], &REPLY_BUCKETS).unwrap();
        let registry = Registry::new();
        registry.counter("other_total", "", []).unwrap();
        let metrics = MailMetrics::register(&registry).unwrap();
        let mut expected = vec!["other_total"];
        expected.extend(NAMES);
        assert_eq!(registry.names(), expected);
        // Registering twice in one registry is refused, not doubled.
        assert!(MailMetrics::register(&registry).is_err());
        let text = metrics.registry().render();
        assert!(text.contains("mailwire_storage_errors_total 0\n"), "{text}");
        assert!(text.contains("mailwire_deliveries_total{outcome=\"failed\"} 0\n"));
        assert!(text.contains("mailwire_reply_seconds_count 0\n"));
    }

    #[test]
    fn the_guard_keeps_the_active_gauge_true() {
        let metrics = MailMetrics::new();
        let a = metrics.connection_opened("smtp");
        let b = metrics.connection_opened("smtp");
        assert_eq!(metrics.connections_gauge("smtp").get(), 2);
        drop(a);
        assert_eq!(metrics.connections_gauge("smtp").get(), 1);
        drop(b);
        assert_eq!(metrics.connections_gauge("smtp").get(), 0);
        assert_eq!(metrics.connections_counter("smtp").get(), 2);
    }
}
