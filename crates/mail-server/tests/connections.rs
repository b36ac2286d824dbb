//! Connections counted at connect (clients that never say EHLO too), and
//! `mailwire_connections_active` going back to 0 however they end: QUIT,
//! dropped mid-message, silent until the idle timeout.

mod support;

use mail_metrics::MailMetrics;
use std::io::Read;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn connections_are_counted_at_connect_and_the_active_gauge_returns_to_zero() {
    let metrics = Arc::new(MailMetrics::new());
    let h = start_with(
        Options {
            metrics: Some(Arc::clone(&metrics)),
            ..Options::default()
        },
        "[limits]\nidle_timeout = 1\n",
        |_| HeaderFilter,
    );
    let total = || metrics.connections_counter("smtp").get();
    let active = || metrics.connections_gauge("smtp").get();
    let rendered = || metrics.registry().render();

    // Three clients open at once, none of them has said anything.
    let quiet: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(h.smtp()).unwrap())
        .collect();
    wait_for("three connections", || total() == 3 && active() == 3);
    assert!(
        rendered().contains("mailwire_connections_active{listener=\"smtp\"} 3\n"),
        "{}",
        rendered()
    );
    // Gone without a word.
    drop(quiet);
    wait_for("the silent ones to end", || active() == 0);

    // QUIT.
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    assert!(c.cmd("QUIT").starts_with("221"));
    drop(c);
    wait_for("QUIT", || total() == 4 && active() == 0);

    // Dropped in the middle of a message.
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    assert!(c.cmd("MAIL FROM:<x@remote.test>").starts_with("250"));
    assert!(c
        .cmd(&format!("RCPT TO:<alice@{DOMAIN}>"))
        .starts_with("250"));
    assert!(c.cmd("DATA").starts_with("354"));
    c.write(b"Subject: half\r\n\r\nhal");
    wait_for("the message to start", || active() == 1);
    drop(c);
    wait_for("the dropped one to end", || total() == 5 && active() == 0);
    assert!(h
        .store
        .messages(&format!("alice@{DOMAIN}"), "INBOX")
        .is_empty());

    // Silent until the idle timeout closes it (421).
    let mut c = TcpStream::connect(h.smtp()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    let _ = c.read_to_end(&mut all);
    assert!(String::from_utf8_lossy(&all).contains("421"), "{all:?}");
    wait_for("the idle one to end", || total() == 6 && active() == 0);
    assert!(
        rendered().contains("mailwire_connections_total{listener=\"smtp\"} 6\n"),
        "{}",
        rendered()
    );
}
