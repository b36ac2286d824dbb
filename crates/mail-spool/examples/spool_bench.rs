//! A loopback harness for the spool's benchmarks (docs/benchmarks.md,
//! "Spool and delivery"). Needs Postfix's smtp-sink for `deliver`.
//!
//! ```text
//! spool_bench enqueue  URL N THREADS        durable enqueues, one message per call
//! spool_bench batch    DIR N BATCH          durable enqueues, BATCH messages per commit
//! spool_bench deliver  URL N CONNS SINK     enqueue N (THREADS=CONNS) while CONNS workers deliver to SINK
//! spool_bench fill     DIR N                queue N messages (batches of 10,000), no delivery
//! spool_bench claim    DIR ROUNDS           time claim+settle rounds on a filled spool
//! spool_bench files    DIR N                the same durable enqueue with bodies as fsynced files
//! ```
//! URL is a directory (SQLite) or a `postgres://` URL. Bodies are 2 KB. Times are wall-clock, printed as messages per second.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mail_spool::engine::{Engine, EngineConfig};
use mail_spool::schedule::RetryPolicy;
use mail_spool::smtp::{Route, SmtpTransport};
use mail_spool::spool::{
    NewMessage, Outcome, RecipientState, Settlement, SqliteOptions, SqliteSpool,
};
use mail_spool::{Spool, Timestamp};
use smtp_proto::{ClientConfig, Host, TlsPolicy};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn message(n: usize) -> NewMessage {
    let mut body =
        format!("From: bench@sender.test\r\nTo: user{n}@dest.test\r\nSubject: bench {n}\r\n\r\n")
            .into_bytes();
    while body.len() < 2048 - 2 {
        body.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrst\r\n",
        );
    }
    body.truncate(2046);
    body.extend_from_slice(b"\r\n");
    NewMessage {
        sender: "bench@sender.test".into(),
        recipients: vec![format!("user{n}@dest.test")],
        body,
        dedup_key: None,
    }
}

fn rate(what: &str, n: usize, took: Duration) {
    println!(
        "{what}: {n} in {:.3} s = {:.0}/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Injecting threads share one handle on the embedded spool (as the
/// sessions of one submission server would, so their commits are grouped);
/// on PostgreSQL each has its own connection, as separate processes would.
fn enqueue_threads(url: &str, n: usize, threads: usize) -> Duration {
    let shared: Arc<dyn Spool> = Arc::from(mail_spool::open(url).unwrap());
    let handles: Vec<Arc<dyn Spool>> = (0..threads)
        .map(|_| {
            if url.starts_with("postgres") {
                Arc::from(mail_spool::open(url).unwrap())
            } else {
                Arc::clone(&shared)
            }
        })
        .collect();
    let start = Instant::now();
    let handles: Vec<_> = handles
        .into_iter()
        .enumerate()
        .map(|(t, spool)| {
            thread::spawn(move || {
                for i in (t..n).step_by(threads) {
                    spool.enqueue(&message(i), Timestamp::now()).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .unwrap_or_else(|| panic!("see the usage in the source"))
    };
    let num = |i: usize| arg(i).parse::<usize>().unwrap();
    let dir = arg(1);
    match arg(0).as_str() {
        "enqueue" => {
            let took = enqueue_threads(&dir, num(2), num(3));
            rate(
                &format!("durable enqueue, {} threads", num(3)),
                num(2),
                took,
            );
        }
        "batch" => {
            let spool = SqliteSpool::open(&dir, SqliteOptions::default()).unwrap();
            let (n, batch) = (num(2), num(3));
            let start = Instant::now();
            let all: Vec<_> = (0..n).map(message).collect();
            for chunk in all.chunks(batch) {
                spool.enqueue_batch(chunk, Timestamp::now()).unwrap();
            }
            rate(
                &format!("durable enqueue, {batch} per commit"),
                n,
                start.elapsed(),
            );
        }
        "files" => {
            // The alternative design: each body in its own file, fsynced,
            // the directory fsynced, then the index row committed.
            let spool = SqliteSpool::open(&dir, SqliteOptions::default()).unwrap();
            let bodies = std::path::Path::new(&dir).join("bodies");
            std::fs::create_dir_all(&bodies).unwrap();
            let dir_handle = std::fs::File::open(&bodies).unwrap();
            let n = num(2);
            let start = Instant::now();
            for i in 0..n {
                let m = message(i);
                let path = bodies.join(format!("{i}"));
                let mut f = std::fs::File::create(&path).unwrap();
                f.write_all(&m.body).unwrap();
                f.sync_all().unwrap();
                dir_handle.sync_all().unwrap();
                let index = NewMessage {
                    body: path.to_string_lossy().into_owned().into_bytes(),
                    ..m
                };
                spool.enqueue(&index, Timestamp::now()).unwrap();
            }
            rate("durable enqueue, bodies as files", n, start.elapsed());
        }
        "deliver" => {
            let (n, conns) = (num(2), num(3));
            let sink = arg(4);
            let (host, port) = sink.rsplit_once(':').unwrap();
            let spool: Arc<dyn Spool> = Arc::from(mail_spool::open(&dir).unwrap());
            let config =
                ClientConfig::new(Host::parse("bench.test").unwrap()).with_tls(TlsPolicy::None);
            let transport = SmtpTransport::new(Route::Relay {
                host: host.into(),
                port: port.parse().unwrap(),
                config,
                tls: None,
            })
            .with_retry(RetryPolicy::RELAY);
            let mut cfg = EngineConfig::new("bench");
            cfg.workers = conns;
            cfg.destinations.max_attempts = conns as u32;
            cfg.idle_poll = Duration::from_millis(5);
            let engine = Arc::new(Engine::new(Arc::clone(&spool), cfg));
            let stop = engine.stop_handle();
            let runner = Arc::clone(&engine);
            let start = Instant::now();
            let worker = thread::spawn(move || runner.run(Arc::new(transport)).unwrap());
            let injected = enqueue_threads(&dir, n, conns);
            let delivered = |s: &Arc<dyn Spool>| {
                s.stats().unwrap().recipients[RecipientState::ALL
                    .iter()
                    .position(|x| *x == RecipientState::Delivered)
                    .unwrap()]
            };
            while delivered(&spool) < n as u64 {
                thread::sleep(Duration::from_millis(5));
            }
            let took = start.elapsed();
            stop.store(true, Ordering::Relaxed);
            worker.join().unwrap();
            rate(
                &format!("injection alone ({conns} threads, concurrent with delivery)"),
                n,
                injected,
            );
            rate(&format!("end to end, {conns} connections"), n, took);
        }
        "fill" => {
            let spool = SqliteSpool::open(&dir, SqliteOptions::default()).unwrap();
            let n = num(2);
            let start = Instant::now();
            let mut done = 0;
            while done < n {
                let batch: Vec<_> = (done..(done + 10_000).min(n)).map(message).collect();
                let t = Instant::now();
                spool.enqueue_batch(&batch, Timestamp::now()).unwrap();
                if done % 100_000 == 0 {
                    println!(
                        "at {done}: {:.1} µs per message in this batch",
                        t.elapsed().as_micros() as f64 / batch.len() as f64
                    );
                }
                done += batch.len();
            }
            rate("fill", n, start.elapsed());
            println!("RSS after fill: {} MiB", rss_kib() / 1024);
        }
        "claim" => {
            let spool = SqliteSpool::open(&dir, SqliteOptions::default()).unwrap();
            let rounds = num(2);
            let start = Instant::now();
            let mut n = 0;
            for _ in 0..rounds {
                let claimed = spool
                    .claim("bench", Timestamp::now(), Duration::from_secs(300), 256)
                    .unwrap();
                let settle: Vec<Settlement> = claimed
                    .iter()
                    .flat_map(|c| &c.recipients)
                    .map(|r| Settlement {
                        recipient: r.id,
                        lease: r.lease,
                        outcome: Outcome::Delivered {
                            reply: "250 ok".into(),
                            remote_id: None,
                        },
                    })
                    .collect();
                for c in &claimed {
                    let _ = spool.body(c.message).unwrap();
                }
                n += settle.len();
                spool.settle(&settle, &[], Timestamp::now()).unwrap();
            }
            rate(
                "claim + read body + settle, 256 per round",
                n,
                start.elapsed(),
            );
            println!("RSS: {} MiB", rss_kib() / 1024);
        }
        other => panic!("unknown command {other}"),
    }
}
