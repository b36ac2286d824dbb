//! The endpoint scraped by clients we did not write: Python's urllib
//! fetches, `prometheus_client.parser` (Debian's python3-prometheus-client)
//! parses, and the values it reads are the ones recorded. Then the limits:
//! a trickling client, a silent one, a full house, an oversized request.

use mail_metrics::{
    DeliveryOutcome, Endpoint, EndpointOptions, MailMetrics, MessageOutcome, Registry,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One sample as the parser read it: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

#[derive(Debug, Default)]
struct Scrape {
    types: BTreeMap<String, String>,
    help: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Scrape {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|(_, _, v)| *v)
    }
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// The Python that has prometheus_client, as tests/setup/17-prometheus-client.sh found it.
fn prometheus_python() -> String {
    std::env::var("MAILWIRE_TEST_PROMETHEUS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "MAILWIRE_TEST_PROMETHEUS_PYTHON is not set: run the tests through tests/run-all.sh \
             (its setup installs python3-prometheus-client and finds the Python that imports it)"
        )
    })
}

fn python(mode: &str, url: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scrape.py");
    let out = Command::new(prometheus_python())
        .arg(script)
        .args([mode, url])
        .output()
        .expect("the Python of MAILWIRE_TEST_PROMETHEUS_PYTHON runs");
    assert!(
        out.status.success(),
        "scrape.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scrape(addr: SocketAddr) -> Scrape {
    let text = python("metrics", &format!("http://{addr}/metrics"));
    let mut scrape = Scrape::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields[..] {
            ["T", name, kind] => {
                scrape.types.insert(name.into(), kind.into());
            }
            ["H", name, help] => {
                scrape.help.insert(name.into(), unhex(help));
            }
            ["S", name, labels, value] => {
                let labels = if labels == "-" {
                    BTreeMap::new()
                } else {
                    labels
                        .split(';')
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap();
                            (k.to_owned(), unhex(v))
                        })
                        .collect()
                };
                let value = match value {
                    "inf" => f64::INFINITY,
                    v => v.parse().unwrap(),
                };
                scrape.samples.push((name.into(), labels, value));
            }
            _ => panic!("unexpected line {line:?}"),
        }
    }
    scrape
}

fn status(addr: SocketAddr, path: &str) -> (u16, String) {
    let text = python("status", &format!("http://{addr}{path}"));
    let (code, body) = text.trim().split_once(' ').unwrap();
    (code.parse().unwrap(), unhex(body))
}

fn serve(registry: Registry, healthy: Arc<AtomicBool>, options: EndpointOptions) -> Endpoint {
    Endpoint::bind(
        "127.0.0.1:0",
        registry,
        move || {
            if healthy.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("spool unreachable: connection refused".into())
            }
        },
        options,
    )
    .unwrap()
}

#[test]
fn python_reads_every_mail_metric_with_the_values_recorded() {
    let metrics = MailMetrics::new();
    let c1 = metrics.connection_opened("smtp");
    let _c2 = metrics.connection_opened("smtp");
    let _c3 = metrics.connection_opened("submission");
    drop(c1);
    metrics.message("smtp", MessageOutcome::Accepted, "ok");
    metrics.message("smtp", MessageOutcome::Accepted, "ok");
    metrics.message("smtp", MessageOutcome::Rejected, "unknown_user");
    metrics.message_bytes("smtp", 2048);
    metrics.auth_failure("submission");
    metrics.auth_failure("submission");
    metrics.auth_failure("submission");
    metrics.filter_verdict("clamd", "reject");
    metrics.set_queue_depth("deferred", 17);
    metrics.delivery(DeliveryOutcome::Delivered);
    metrics.delivery(DeliveryOutcome::Failed);
    metrics.storage_error();
    metrics.reply_time(Duration::from_millis(3));
    metrics.reply_time(Duration::from_millis(300));
    metrics.reply_time(Duration::from_secs(20));

    let healthy = Arc::new(AtomicBool::new(true));
    let endpoint = serve(
        metrics.registry().clone(),
        Arc::clone(&healthy),
        EndpointOptions::default(),
    );
    let s = scrape(endpoint.local_addr());

    for name in mail_metrics::NAMES {
        // The parser names counter families without `_total`.
        let family = name.strip_suffix("_total").unwrap_or(name);
        assert!(
            s.types.contains_key(family),
            "{name} missing: {:?}",
            s.types
        );
    }
    assert_eq!(s.types["mailwire_connections"], "counter");
    assert_eq!(s.types["mailwire_connections_active"], "gauge");
    assert_eq!(s.types["mailwire_reply_seconds"], "histogram");
    assert_eq!(
        s.help["mailwire_storage_errors"],
        "Mailbox or spool writes that failed."
    );
    let v = |name, labels: &[(&str, &str)]| s.value(name, labels);
    assert_eq!(
        v("mailwire_connections_total", &[("listener", "smtp")]),
        Some(2.0)
    );
    assert_eq!(
        v("mailwire_connections_active", &[("listener", "smtp")]),
        Some(1.0)
    );
    assert_eq!(
        v("mailwire_connections_active", &[("listener", "submission")]),
        Some(1.0)
    );
    let messages = |outcome, reason| {
        v(
            "mailwire_messages_total",
            &[
                ("listener", "smtp"),
                ("outcome", outcome),
                ("reason", reason),
            ],
        )
    };
    assert_eq!(messages("accepted", "ok"), Some(2.0));
    assert_eq!(messages("rejected", "unknown_user"), Some(1.0));
    assert_eq!(
        v("mailwire_message_bytes_total", &[("listener", "smtp")]),
        Some(2048.0)
    );
    assert_eq!(
        v(
            "mailwire_auth_failures_total",
            &[("listener", "submission")]
        ),
        Some(3.0)
    );
    assert_eq!(
        v(
            "mailwire_filter_verdicts_total",
            &[("filter", "clamd"), ("verdict", "reject")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v("mailwire_queue_depth", &[("state", "deferred")]),
        Some(17.0)
    );
    assert_eq!(
        v("mailwire_deliveries_total", &[("outcome", "delivered")]),
        Some(1.0)
    );
    assert_eq!(
        v("mailwire_deliveries_total", &[("outcome", "deferred")]),
        Some(0.0)
    );
    assert_eq!(
        v("mailwire_deliveries_total", &[("outcome", "failed")]),
        Some(1.0)
    );
    assert_eq!(v("mailwire_storage_errors_total", &[]), Some(1.0));
    assert_eq!(
        v("mailwire_reply_seconds_bucket", &[("le", "0.005")]),
        Some(1.0)
    );
    assert_eq!(
        v("mailwire_reply_seconds_bucket", &[("le", "0.5")]),
        Some(2.0)
    );
    assert_eq!(
        v("mailwire_reply_seconds_bucket", &[("le", "10")]),
        Some(2.0)
    );
    assert_eq!(
        v("mailwire_reply_seconds_bucket", &[("le", "+Inf")]),
        Some(3.0)
    );
    assert_eq!(v("mailwire_reply_seconds_count", &[]), Some(3.0));
    let sum = v("mailwire_reply_seconds_sum", &[]).unwrap();
    assert!((sum - 20.303).abs() < 1e-9, "{sum}");

    assert_eq!(
        status(endpoint.local_addr(), "/healthz"),
        (200, "ok\n".into())
    );
    healthy.store(false, Ordering::SeqCst);
    assert_eq!(
        status(endpoint.local_addr(), "/healthz"),
        (503, "spool unreachable: connection refused\n".into())
    );
    assert_eq!(status(endpoint.local_addr(), "/nothing").0, 404);
}

#[test]
fn hostile_label_values_reach_the_parser_intact_and_cannot_grow_memory() {
    let registry = Registry::new().with_series_cap(50);
    let family = registry
        .counter("hostile_total", "Help with \\ and\nnewline.", ["reason"])
        .unwrap();
    let nasty = [
        "quote\"inside",
        "back\\slash",
        "new\nline",
        "\\\"",
        "\\n literally",
        "}{,=\"",
        "trailing\\",
        "émoji 📬",
        "",
    ];
    for (i, value) in nasty.iter().enumerate() {
        family.with([value]).add(i as u64 + 1);
    }
    // A flood of distinct values lands in the overflow series.
    for i in 0..5_000 {
        family.with([&format!("flood-{i}")]).inc();
    }
    assert_eq!(family.series(), 51);
    let endpoint = serve(
        registry,
        Arc::new(AtomicBool::new(true)),
        EndpointOptions::default(),
    );
    let s = scrape(endpoint.local_addr());
    assert_eq!(s.help["hostile"], "Help with \\ and\nnewline.");
    for (i, value) in nasty.iter().enumerate() {
        assert_eq!(
            s.value("hostile_total", &[("reason", value)]),
            Some(i as f64 + 1.0),
            "{value:?}"
        );
    }
    let kept = 50 - nasty.len();
    assert_eq!(
        s.value("hostile_total", &[("reason", "other")]),
        Some((5_000 - kept) as f64)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Any label values: what the real parser reads back is what was recorded.
    #[test]
    fn label_values_round_trip_through_prometheus_client(
        values in proptest::collection::btree_set("\\PC{0,12}|[\\\\\"\n{},= a-z]{0,12}", 1..20)
    ) {
        let registry = Registry::new();
        let family = registry.gauge("round_trip", "Round trip.", ["value"]).unwrap();
        let values: Vec<String> = values.into_iter().collect();
        for (i, value) in values.iter().enumerate() {
            family.with([value]).set(i as i64);
        }
        let endpoint = serve(registry, Arc::new(AtomicBool::new(true)), EndpointOptions::default());
        let s = scrape(endpoint.local_addr());
        prop_assert_eq!(s.samples.len(), values.len());
        for (i, value) in values.iter().enumerate() {
            prop_assert_eq!(s.value("round_trip", &[("value", value)]), Some(i as f64));
        }
    }
}

/// Sends `request` and reads the whole answer (the server closes).
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_trickling_or_silent_client_is_cut_off_and_a_full_house_is_refused() {
    let options = EndpointOptions::default()
        .with_max_connections(2)
        .with_read_timeout(Duration::from_millis(800));
    let endpoint = serve(
        MailMetrics::new().registry().clone(),
        Arc::new(AtomicBool::new(true)),
        options,
    );
    let addr = endpoint.local_addr();

    // Two clients hold both slots: one silent, one trickling a byte at a time.
    let silent = TcpStream::connect(addr).unwrap();
    let mut trickler = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // A third is refused at once.
    let started = Instant::now();
    let refused = raw(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(started.elapsed() < Duration::from_secs(1));

    // The trickler is cut off at the read deadline although it keeps sending.
    let started = Instant::now();
    let mut cut = false;
    for byte in b"GET /metrics HTTP/1.1\r\nHost: slow\r\n"
        .iter()
        .cycle()
        .take(200)
    {
        if trickler.write_all(&[*byte]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut probe = [0u8; 1];
        trickler
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        if let Ok(0) = trickler.read(&mut probe) {
            cut = true;
            break;
        }
    }
    assert!(cut, "the trickler was never cut off");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(silent);

    // With the slots free again, a normal scrape works.
    std::thread::sleep(Duration::from_millis(200));
    let answer = raw(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("# TYPE mailwire_reply_seconds histogram"));
}

#[test]
fn oversized_malformed_and_wrong_method_requests_get_their_errors() {
    let options = EndpointOptions::default().with_max_request_bytes(1024);
    let endpoint = serve(Registry::new(), Arc::new(AtomicBool::new(true)), options);
    let addr = endpoint.local_addr();
    let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
    for i in 0..100 {
        big.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(20)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    assert!(raw(addr, &big).starts_with("HTTP/1.1 431"));
    assert!(raw(addr, b"\x00\x01garbage\r\n\r\n").starts_with("HTTP/1.1 400"));
    let post = raw(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    assert!(post.contains("Allow: GET, HEAD\r\n"));
    let head = raw(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head:?}");
}
