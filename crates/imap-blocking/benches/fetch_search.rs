//! FETCH and SEARCH over one folder, against Dovecot in the same run.
//!
//! `cargo bench -p imap-blocking --bench fetch_search` (needs dovecot-imapd
//! and python3; `IMAP_BENCH_MESSAGES` sets the folder size, default 10,000).
//! Both servers get the same Maildir files; Python's imaplib is the client
//! for both; each figure is the median of 3 runs after one warm-up
//! (which builds Dovecot's index and our UID list).

#[path = "../tests/support/mod.rs"]
mod support;

use imap_blocking::ServerOptions;
use std::fs;
use std::process::Command;
use std::time::Duration;
use support::{config, python, start, start_dovecot, TempDir};

const CLIENT: &str = r#"
import imaplib, os, time, statistics
def run(port):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=600)
    m.login("alice", "secret")
    m.select("INBOX", readonly=True)
    timings = {"fetch": [], "search": []}
    for i in range(4):
        t = time.perf_counter()
        typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
        fetched = sum(len(d[1]) for d in data if isinstance(d, tuple))
        timings["fetch"].append(time.perf_counter() - t)
        t = time.perf_counter()
        typ, data = m.search(None, "OR", "FROM", "user7@", "SUBJECT", "\"number 42\"")
        hits = len(data[0].split())
        timings["search"].append(time.perf_counter() - t)
    m.logout()
    return {k: statistics.median(v[1:]) for k, v in timings.items()}, fetched, hits
ours, of, oh = run(int(os.environ["OURS"]))
theirs, df, dh = run(int(os.environ["DOVECOT"]))
assert of == df and oh == dh, (of, df, oh, dh)
print(f"messages {os.environ['N']} octets {of} search-hits {oh}")
for k in ("fetch", "search"):
    print(f"{k}: mailwire {ours[k]*1000:.0f} ms, dovecot {theirs[k]*1000:.0f} ms, ratio {ours[k]/theirs[k]:.2f}")
"#;

fn main() {
    let n: usize = std::env::var("IMAP_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = TempDir::new("bench");
    let ours = dir.maildir();
    let dovecot = start_dovecot(&dir.0);
    let theirs = &dovecot.maildir;
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(theirs.join(sub)).unwrap();
    }
    let body: String = (0..30)
        .map(|i| format!("line {i} of a plain text body that is not very long\r\n"))
        .collect();
    for i in 0..n {
        let msg = format!(
            "From: User {} <user{}@example.org>\r\nTo: alice@example.com\r\nSubject: message number {i}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <{i}@example.org>\r\n\r\n{body}",
            i % 100,
            i % 100
        );
        let name = format!("cur/{}.M{i}P1.bench:2,S", 1_700_000_000 + i);
        fs::write(ours.join(&name), &msg).unwrap();
        fs::write(theirs.join(&name), &msg).unwrap();
    }
    let status = Command::new("chown")
        .args(["-R", "dovecot:dovecot"])
        .arg(theirs)
        .status()
        .unwrap();
    assert!(status.success());
    let server = start(ServerOptions::new(config().with_plaintext_auth(true)), ours);
    let out = python(
        CLIENT,
        &[
            ("OURS", server.local_addr().unwrap().port().to_string()),
            ("DOVECOT", dovecot.port.to_string()),
            ("N", n.to_string()),
        ],
        Duration::from_secs(1800),
    );
    print!("{out}");
    server.shutdown();
}
