//! FETCH and SEARCH over one folder, against Dovecot in the same run.
//!
//! `cargo bench -p imap-blocking --bench fetch_search` (needs dovecot-imapd
//! and python3; `IMAP_BENCH_MESSAGES` sets the folder size, default 10,000;
//! the FETCH of whole messages is left out above 20,000;
//! `IMAP_BENCH_ONLY=search-header,search-date-size` runs only those).
//! Both servers get the same Maildir files; Python's imaplib is the client
//! for both. Each operation is timed on its first run (the caches empty:
//! ours, `.mailwire-imapcache`, and Dovecot's `dovecot.index.cache` are
//! filled by the header SEARCH, which runs first) and as the median of
//! the 3 runs after it. Then a new session times its first header and
//! date SEARCH (the caches on disk, nothing held in memory; "first run"
//! and "warm" are the same one run there).

#[path = "../tests/support/mod.rs"]
mod support;

use imap_blocking::ServerOptions;
use std::fs;
use std::process::Command;
use std::time::Duration;
use support::{config, python, start, start_dovecot, TempDir};

const CLIENT: &str = r#"
import imaplib, os, time, statistics
N = int(os.environ["N"])
OPS = [
    ("search-header", lambda m: m.search(None, "OR", "FROM", "user7@", "SUBJECT", "\"number 42\"")),
    ("fetch-header", lambda m: m.fetch("1:*", "(UID ENVELOPE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")),
    ("search-date-size", lambda m: m.search(None, "SENTSINCE", "15-Jan-2024", "LARGER", "1000")),
    ("search-body", lambda m: m.search(None, "BODY", "\"line 29 of a plain\"")),
]
if N <= 20000:
    OPS.append(("fetch-body", lambda m: m.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")))
if os.environ.get("ONLY"):
    OPS = [op for op in OPS if op[0] in os.environ["ONLY"].split(",")]
def size(data):
    if data and isinstance(data[0], bytes) and data[0][:1].isdigit() and len(data) == 1:
        return len(data[0].split())
    return sum(len(d[1]) for d in data if isinstance(d, tuple))
def run(port):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=1200)
    m.login("alice", "secret")
    m.select("INBOX", readonly=True)
    timings = {name: [] for name, _ in OPS}
    sizes = {}
    for i in range(4):
        for name, op in OPS:
            t = time.perf_counter()
            typ, data = op(m)
            timings[name].append(time.perf_counter() - t)
            assert typ == "OK", (name, typ)
            sizes[name] = size(data)
    m.logout()
    # A new session's first search (the caches on disk, nothing in memory).
    for name, op in OPS:
        if name.startswith("search") and name != "search-body":
            m = imaplib.IMAP4("127.0.0.1", port, timeout=1200)
            m.login("alice", "secret")
            m.select("INBOX", readonly=True)
            t = time.perf_counter()
            typ, data = op(m)
            timings["new-session " + name] = [time.perf_counter() - t] * 2
            assert typ == "OK" and size(data) == sizes[name], name
            m.logout()
    return {k: (v[0], statistics.median(v[1:])) for k, v in timings.items()}, sizes
ours, osz = run(int(os.environ["OURS"]))
theirs, dsz = run(int(os.environ["DOVECOT"]))
assert osz == dsz, (osz, dsz)
print(f"messages {N}; answer sizes (hits or literal octets) {osz}")
for name in ours:
    (of, ow), (tf, tw) = ours[name], theirs[name]
    print(f"{name}: first run mailwire {of*1000:.0f} ms, dovecot {tf*1000:.0f} ms, ratio {of/tf:.2f}; "
          f"warm (median of 3) mailwire {ow*1000:.0f} ms, dovecot {tw*1000:.0f} ms, ratio {ow/tw:.2f}")
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
            "From: User {} <user{}@example.org>\r\nTo: alice@example.com\r\nSubject: message number {i}\r\nDate: {} Jan 2024 10:00:00 +0000\r\nMessage-ID: <{i}@example.org>\r\n\r\n{body}",
            i % 100,
            i % 100,
            i % 28 + 1
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
            ("ONLY", std::env::var("IMAP_BENCH_ONLY").unwrap_or_default()),
        ],
        Duration::from_secs(1800),
    );
    print!("{out}");
    server.shutdown();
}
