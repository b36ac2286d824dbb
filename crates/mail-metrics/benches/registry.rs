//! What an update costs: a cached handle (one atomic add), a lookup by
//! label values (read lock, hash, atomic add), and a render of a registry
//! holding the mail server's metrics with a few hundred series.

use mail_metrics::{MailMetrics, MessageOutcome, Registry};

fn main() {
    divan::main();
}

#[divan::bench]
fn cached_counter_inc(bencher: divan::Bencher) {
    let registry = Registry::new();
    let family = registry
        .counter("c_total", "", ["listener"])
        .unwrap_or_else(|e| panic!("{e}"));
    let counter = family.with(["smtp"]);
    bencher.bench(|| counter.inc());
}

#[divan::bench]
fn lookup_and_inc_three_labels(bencher: divan::Bencher) {
    let metrics = MailMetrics::new();
    bencher.bench(|| metrics.message("smtp", MessageOutcome::Rejected, "unknown_user"));
}

#[divan::bench(threads = [1, 2, 4])]
fn lookup_and_inc_contended(bencher: divan::Bencher) {
    let metrics = MailMetrics::new();
    bencher.bench(|| metrics.message("smtp", MessageOutcome::Accepted, "ok"));
}

#[divan::bench]
fn observe_histogram(bencher: divan::Bencher) {
    let metrics = MailMetrics::new();
    bencher.bench(|| metrics.reply_time(std::time::Duration::from_micros(1500)));
}

#[divan::bench]
fn render_300_series(bencher: divan::Bencher) {
    let metrics = MailMetrics::new();
    for i in 0..100 {
        metrics.message("smtp", MessageOutcome::Rejected, &format!("reason{i}"));
        metrics.filter_verdict(&format!("filter{i}"), "accept");
        metrics.auth_failure(&format!("listener{i}"));
    }
    bencher.bench(|| metrics.registry().render().len());
}
