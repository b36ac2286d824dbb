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

/// Entry points for the fuzz targets (`fuzz/fuzz_targets/metrics_*.rs`);
/// not a stable API.
#[doc(hidden)]
#[allow(clippy::expect_used, clippy::panic)]
pub mod fuzzing {
    pub use crate::http::fuzzing::request_head;
    use crate::{Registry, OVERFLOW_LABEL};
    use std::collections::BTreeSet;

    /// Records the label value pairs in a counter family capped at 8
    /// series, renders, and reads the text back strictly: every sample
    /// line is `name{a="..",b=".."} n` with valid escapes, the label sets
    /// read back are the ones recorded (cut to the length limit) or the
    /// overflow set, and there are at most 9 of them.
    pub fn exposition(pairs: &[(&str, &str)]) {
        let registry = Registry::new().with_series_cap(8);
        let Ok(family) = registry.counter("fuzz_total", "Fuzz \\ help\nline.", ["a", "b"]) else {
            return;
        };
        for (a, b) in pairs {
            family.with([a, b]).inc();
        }
        let text = registry.render();
        let mut read = BTreeSet::new();
        let mut total = 0u64;
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let rest = line.strip_prefix("fuzz_total{a=\"").expect("sample name");
            let (a, rest) = unescape_until_quote(rest);
            let rest = rest.strip_prefix(",b=\"").expect("second label");
            let (b, rest) = unescape_until_quote(rest);
            let value = rest.strip_prefix("} ").expect("value separator");
            total += value.parse::<u64>().expect("a count");
            read.insert((a, b));
        }
        assert_eq!(total, pairs.len() as u64);
        assert!(read.len() <= 9);
        let cut = |v: &str| {
            let mut end = v.len().min(crate::MAX_LABEL_VALUE_BYTES);
            while !v.is_char_boundary(end) {
                end -= 1;
            }
            v[..end].to_owned()
        };
        let recorded: BTreeSet<(String, String)> =
            pairs.iter().map(|(a, b)| (cut(a), cut(b))).collect();
        let overflow = (OVERFLOW_LABEL.to_owned(), OVERFLOW_LABEL.to_owned());
        for set in &read {
            assert!(
                recorded.contains(set) || *set == overflow,
                "{set:?} never recorded"
            );
        }
    }

    /// A label value up to its closing quote, unescaped; and what follows.
    fn unescape_until_quote(s: &str) -> (String, &str) {
        let mut out = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return (out, &s[i + 1..]),
                '\\' => match chars.next() {
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, 'n')) => out.push('\n'),
                    other => panic!("bad escape {other:?}"),
                },
                '\n' => panic!("raw line feed in a label value"),
                c => out.push(c),
            }
        }
        panic!("unterminated label value")
    }
}
