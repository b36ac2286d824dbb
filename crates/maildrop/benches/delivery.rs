//! How to store one message for several users: one file hard-linked into
//! each user's `new/` (`CopyMode::Link`) against one file written and
//! fsynced per user (`CopyMode::Copy`), both durable before `commit`
//! returns, both with a prepend (the `Received:` lines).
//!
//! `cargo bench -p maildrop --bench delivery` (`DELIVERY_BENCH_MESSAGES`
//! sets how many messages per case, default 40). The rows of both modes
//! are interleaved so a busy disk weighs on both alike.

use maildrop::{CopyMode, MailStore};
use std::fs;
use std::time::{Duration, Instant};

fn run(store: &MailStore, users: &[(&str, Option<u64>)], body: &[u8], messages: usize) -> Duration {
    let t = Instant::now();
    for _ in 0..messages {
        let mut incoming = store.begin().unwrap();
        for chunk in body.chunks(64 * 1024) {
            incoming.write(chunk).unwrap();
        }
        incoming
            .commit(
                b"Received: from client by mx; Sun, 6 Dec 2026 07:00:00 +0000\r\n",
                users,
                None,
            )
            .unwrap();
    }
    t.elapsed()
}

fn main() {
    let messages: usize = std::env::var("DELIVERY_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let base = std::env::temp_dir().join(format!("maildrop-delivery-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let names: Vec<String> = (0..10).map(|i| format!("user{i}@example.org")).collect();
    println!("| size | users | link: msgs/s | copy: msgs/s | link / copy |");
    println!("|---|---|---|---|---|");
    for size in [10 * 1024, 1024 * 1024] {
        let body = vec![b'x'; size];
        for n in [1, 10] {
            let users: Vec<(&str, Option<u64>)> =
                names[..n].iter().map(|u| (u.as_str(), None)).collect();
            let mut totals = [Duration::ZERO; 2];
            for round in 0..3 {
                for (i, mode) in [CopyMode::Link, CopyMode::Copy].into_iter().enumerate() {
                    let root = base.join(format!("{size}-{n}-{i}-{round}"));
                    let store = MailStore::open(&root).unwrap().with_copy_mode(mode);
                    // Trees made before timing.
                    run(&store, &users, b"warm", 1);
                    totals[i] += run(&store, &users, &body, messages);
                    let _ = fs::remove_dir_all(&root);
                }
            }
            let rate = |d: Duration| (3 * messages) as f64 / d.as_secs_f64();
            println!(
                "| {} KiB | {n} | {:.0} | {:.0} | {:.2} |",
                size / 1024,
                rate(totals[0]),
                rate(totals[1]),
                rate(totals[0]) / rate(totals[1])
            );
        }
    }
    let _ = fs::remove_dir_all(&base);
}
