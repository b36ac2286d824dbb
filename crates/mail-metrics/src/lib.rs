//! Operations for the mail server: what it counts, where a monitor reads
//! it, and what it logs.
//!
//! - [`Registry`]: counters, gauges and histograms with labels, rendered
//!   in the Prometheus text format ([`Registry::render`]). Updates are one
//!   atomic operation; label cardinality is capped per family (label sets
//!   beyond the cap go to one `other` series), so hostile input cannot grow
//!   memory.
//! - [`MailMetrics`]: the mail server's metrics (`mailwire_*`) behind typed
//!   methods, so no caller spells a metric name.
//! - [`Endpoint`]: `GET /metrics` and `GET /healthz` over HTTP/1.1, with
//!   read and write timeouts, a request size limit and a connection cap.
//! - [`logging`]: `tracing` to stderr as plain or JSON lines, and the one
//!   event per message ([`logging::MessageLog`]).
//!
//! ```
//! use mail_metrics::{MailMetrics, MessageOutcome};
//! let metrics = MailMetrics::new();
//! metrics.message("smtp", MessageOutcome::Accepted, "ok");
//! metrics.message_bytes("smtp", 1234);
//! let text = metrics.registry().render();
//! assert!(text.contains("# TYPE mailwire_message_bytes_total counter\n"));
//! assert!(text.contains("mailwire_message_bytes_total{listener=\"smtp\"} 1234\n"));
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod http;
pub mod logging;
mod mail;
mod registry;
mod text;

pub use http::{Endpoint, EndpointOptions, HealthCheck};
pub use mail::{
    ConnectionGuard, DeliveryOutcome, MailMetrics, MessageOutcome, NAMES, REPLY_BUCKETS,
};
pub use registry::{
    Counter, CounterFamily, Gauge, GaugeFamily, Histogram, HistogramFamily, Registry,
    RegistryError, DEFAULT_SERIES_CAP, MAX_LABEL_VALUE_BYTES, OVERFLOW_LABEL,
};
pub use text::{escape_label_value, CONTENT_TYPE};

/// For the fuzz target `fuzz/fuzz_targets/metrics_request_head.rs`: how
/// the endpoint reads a request head from `bytes` with the size limit
/// `max` (`None` while more bytes are needed), in words, with the length of
/// the method and path it kept for a request. Not a stable API.
#[doc(hidden)]
pub fn fuzz_request_head(bytes: &[u8], max: usize) -> Option<(String, usize)> {
    http::classify_for_fuzzing(bytes, max)
}
