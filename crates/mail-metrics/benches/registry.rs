//! What an update and a scrape cost, against prometheus-client (the
//! Prometheus project's Rust client) doing the same in the same run:
//! a kept handle (one atomic add), a lookup by three label values, the
//! same under contention, a histogram observation, and a render of 300
//! series.
//!
//! `cargo bench -p mail-metrics --bench registry`

use mail_metrics::{MailMetrics, MessageOutcome, Registry};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family as PcFamily;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;
use prometheus_client::registry::Registry as PcRegistry;

fn main() {
    divan::main();
}

type Labels3 = [(&'static str, &'static str); 3];

fn pc_messages() -> (PcRegistry, PcFamily<Labels3, PcCounter>) {
    let mut registry = PcRegistry::default();
    let family = PcFamily::<Labels3, PcCounter>::default();
    registry.register("mailwire_messages", "Messages.", family.clone());
    (registry, family)
}

mod ours {
    use super::*;

    #[divan::bench]
    fn kept_counter_inc(bencher: divan::Bencher) {
        let registry = Registry::new();
        let family = registry
            .counter("c_total", "", ["listener"])
            .unwrap_or_else(|e| panic!("{e}"));
        let counter = family.with(["smtp"]);
        bencher.bench(|| counter.inc());
    }

    #[divan::bench(threads = [1, 2])]
    fn lookup_inc_three_labels(bencher: divan::Bencher) {
        let metrics = MailMetrics::new();
        bencher.bench(|| metrics.message("smtp", MessageOutcome::Rejected, "unknown_user"));
    }

    #[divan::bench]
    fn observe_histogram(bencher: divan::Bencher) {
        let metrics = MailMetrics::new();
        bencher.bench(|| metrics.reply_time(std::time::Duration::from_micros(1500)));
    }

    #[divan::bench]
    fn render_300_series(bencher: divan::Bencher) {
        let registry = Registry::new();
        let family = registry
            .counter(
                "mailwire_messages_total",
                "Messages.",
                ["listener", "outcome", "reason"],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 0..300 {
            family.with(["smtp", "rejected", super::REASONS[i]]).inc();
        }
        bencher.bench(|| registry.render().len());
    }
}

mod prometheus_client_crate {
    use super::*;

    #[divan::bench]
    fn kept_counter_inc(bencher: divan::Bencher) {
        let counter = PcCounter::<u64>::default();
        bencher.bench(|| counter.inc());
    }

    #[divan::bench(threads = [1, 2])]
    fn lookup_inc_three_labels(bencher: divan::Bencher) {
        let (_registry, family) = pc_messages();
        let labels: Labels3 = [
            ("listener", "smtp"),
            ("outcome", "rejected"),
            ("reason", "unknown_user"),
        ];
        bencher.bench(|| family.get_or_create(&labels).inc());
    }

    #[divan::bench]
    fn observe_histogram(bencher: divan::Bencher) {
        let histogram = PcHistogram::new(mail_metrics::REPLY_BUCKETS);
        bencher.bench(|| histogram.observe(0.0015));
    }

    #[divan::bench]
    fn render_300_series(bencher: divan::Bencher) {
        let (registry, family) = pc_messages();
        for reason in super::REASONS.iter().take(300) {
            family
                .get_or_create(&[
                    ("listener", "smtp"),
                    ("outcome", "rejected"),
                    ("reason", reason),
                ])
                .inc();
        }
        bencher.bench(|| {
            let mut out = String::new();
            let _ = encode(&mut out, &registry);
            out.len()
        });
    }
}

/// 300 distinct static reasons (prometheus-client's label set here holds
/// `&'static str`, its cheapest form).
static REASONS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    (0..300)
        .map(|i| &*Box::leak(format!("reason{i}").into_boxed_str()))
        .collect()
});
