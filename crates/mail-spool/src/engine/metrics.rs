//! Counters for the Prometheus text format: deliveries by outcome and
//! destination, attempt latency, and (from the spool at scrape time) the
//! queue depth by state.

use crate::spool::{RecipientState, SpoolStats};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

/// At most this many destinations get their own label; the rest count
/// under `other`, so a bulk send to a million domains cannot grow memory.
const MAX_DESTINATIONS: usize = 1000;

#[derive(Debug, Default)]
struct Inner {
    /// (outcome, destination) -> recipients.
    outcomes: BTreeMap<(&'static str, String), u64>,
    latency_buckets: [u64; BUCKETS.len()],
    latency_count: u64,
    latency_sum: f64,
}

/// The engine's counters; shared with the metrics endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Recipient totals by outcome, for progress bars and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Delivered.
    pub delivered: u64,
    /// Deferred (to be retried).
    pub deferred: u64,
    /// Failed (bounced).
    pub failed: u64,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `n` recipients with `outcome` at `destination`.
    pub fn count(&self, outcome: &'static str, destination: &str, n: u64) {
        let mut inner = self.lock();
        let known = inner.outcomes.len() < MAX_DESTINATIONS
            || inner
                .outcomes
                .contains_key(&(outcome, destination.to_owned()));
        let label = if known {
            destination.to_owned()
        } else {
            "other".to_owned()
        };
        *inner.outcomes.entry((outcome, label)).or_default() += n;
    }

    /// Records one attempt's duration.
    pub fn observe_attempt(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let mut inner = self.lock();
        for (slot, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                inner.latency_buckets[slot] += 1;
            }
        }
        inner.latency_count += 1;
        inner.latency_sum += secs;
    }

    /// Totals over every destination.
    pub fn totals(&self) -> Totals {
        let inner = self.lock();
        let mut t = Totals::default();
        for ((outcome, _), n) in &inner.outcomes {
            match *outcome {
                "delivered" => t.delivered += n,
                "deferred" => t.deferred += n,
                "failed" => t.failed += n,
                _ => {}
            }
        }
        t
    }

    /// The Prometheus text exposition, with `stats` for the queue depth.
    pub fn render(&self, stats: Option<&SpoolStats>) -> String {
        let inner = self.lock();
        let mut out = String::new();
        if let Some(stats) = stats {
            out.push_str("# HELP mailwire_queue_recipients Recipients in the spool by state.\n");
            out.push_str("# TYPE mailwire_queue_recipients gauge\n");
            for (state, n) in RecipientState::ALL.iter().zip(stats.recipients) {
                let _ = writeln!(
                    out,
                    "mailwire_queue_recipients{{state=\"{}\"}} {n}",
                    state.name()
                );
            }
            out.push_str("# HELP mailwire_queue_messages Messages in the spool.\n");
            out.push_str("# TYPE mailwire_queue_messages gauge\n");
            let _ = writeln!(out, "mailwire_queue_messages {}", stats.messages);
        }
        out.push_str(
            "# HELP mailwire_deliveries_total Recipients by attempt outcome and destination.\n",
        );
        out.push_str("# TYPE mailwire_deliveries_total counter\n");
        for ((outcome, destination), n) in &inner.outcomes {
            let _ = writeln!(
                out,
                "mailwire_deliveries_total{{outcome=\"{outcome}\",destination=\"{}\"}} {n}",
                escape(destination)
            );
        }
        out.push_str("# HELP mailwire_attempt_duration_seconds Time of one delivery attempt.\n");
        out.push_str("# TYPE mailwire_attempt_duration_seconds histogram\n");
        for (bound, n) in BUCKETS.iter().zip(inner.latency_buckets) {
            let _ = writeln!(
                out,
                "mailwire_attempt_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "mailwire_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            inner.latency_count
        );
        let _ = writeln!(
            out,
            "mailwire_attempt_duration_seconds_sum {}",
            inner.latency_sum
        );
        let _ = writeln!(
            out,
            "mailwire_attempt_duration_seconds_count {}",
            inner.latency_count
        );
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_depth() {
        let m = Metrics::default();
        m.count("delivered", "example.org", 3);
        m.count("failed", "we\"ird", 1);
        m.observe_attempt(Duration::from_millis(20));
        let stats = SpoolStats {
            messages: 2,
            recipients: [1, 0, 1, 3, 1],
            oldest_waiting: None,
        };
        let text = m.render(Some(&stats));
        assert!(text.contains(
            "mailwire_deliveries_total{outcome=\"delivered\",destination=\"example.org\"} 3\n"
        ));
        assert!(text.contains("destination=\"we\\\"ird\"} 1\n"));
        assert!(text.contains("mailwire_attempt_duration_seconds_bucket{le=\"0.01\"} 0\n"));
        assert!(text.contains("mailwire_attempt_duration_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(text.contains("mailwire_queue_recipients{state=\"deferred\"} 1\n"));
        assert_eq!(
            m.totals(),
            Totals {
                delivered: 3,
                deferred: 0,
                failed: 1
            }
        );
    }

    #[test]
    fn destination_labels_are_bounded() {
        let m = Metrics::default();
        for n in 0..5000 {
            m.count("delivered", &format!("d{n}.example"), 1);
        }
        let text = m.render(None);
        assert!(
            text.lines()
                .filter(|l| l.starts_with("mailwire_deliveries_total"))
                .count()
                <= MAX_DESTINATIONS + 1
        );
        assert_eq!(m.totals().delivered, 5000);
    }
}
