//! Crash safety: `mailwire deliver` is killed with SIGKILL at random moments
//! while it delivers thousands of messages from the embedded spool to
//! Postfix's smtp-sink, and restarted each time. Every message must arrive
//! at least once; duplicates (a message delivered, then the worker killed
//! before it recorded so) are counted and reported.

use mail_spool::spool::{NewMessage, PostgresSpool, RecipientState, SqliteOptions, SqliteSpool};
use mail_spool::{Spool, Timestamp};
use mailwire_tests::peers::{free_port, require, wait_greeting};
use mailwire_tests::serve::{mailwire_binary, TempDir};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MESSAGES: usize = 3000;
const LEASE_SECS: u64 = 2;

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn sink(port: u16, dump: &Path) -> Peer {
    let program = require(
        "smtp-sink",
        "install Postfix without starting it (see tests/run-all.sh)",
    );
    std::fs::create_dir_all(dump).unwrap();
    let _ = Command::new("chmod").arg("777").arg(dump).status();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(program);
    if is_root() {
        cmd.args(["-u", "nobody"]);
    }
    cmd.arg("-d")
        .arg(format!("{}/%H%M%S.", dump.display()))
        .arg(addr.to_string())
        .arg("100")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("starting smtp-sink");
    assert!(wait_greeting(&mut child, addr, "smtp-sink"));
    Peer(child)
}

/// How many times each `X-Seq` arrived.
fn arrivals(dump: &Path) -> BTreeMap<usize, usize> {
    let mut seen = BTreeMap::new();
    for entry in std::fs::read_dir(dump).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            if let Some(n) = line
                .strip_prefix("X-Seq: ")
                .and_then(|n| n.trim().parse().ok())
            {
                *seen.entry(n).or_insert(0) += 1;
            }
        }
    }
    seen
}

fn deliver(spool: &str, port: u16, until_idle: bool) -> Child {
    let mut cmd = Command::new(mailwire_binary());
    cmd.arg("deliver")
        .arg("--spool")
        .arg(spool)
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "--security",
            "none",
        ])
        .args(["--workers", "4", "--lease", &LEASE_SECS.to_string()])
        .args(["--retry-floor-ms", "100", "--retry-base-ms", "200"])
        .env("MAILWIRE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if until_idle {
        cmd.arg("--until-idle");
    }
    cmd.spawn().expect("starting mailwire deliver")
}

/// A small deterministic generator for the kill moments; the seed is
/// printed so a failure can be replayed.
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

fn delivered(spool: &dyn Spool) -> u64 {
    spool.stats().unwrap().recipients[RecipientState::ALL
        .iter()
        .position(|s| *s == RecipientState::Delivered)
        .unwrap()]
}

#[test]
fn killing_the_worker_at_random_moments_loses_nothing() {
    let dir = TempDir::new("crash");
    let spool_dir = dir.0.join("spool");
    let dump = dir.0.join("dump");
    let spool = SqliteSpool::open(&spool_dir, SqliteOptions::default()).unwrap();
    let spool_url = spool_dir.display().to_string();
    let messages: Vec<NewMessage> = (0..MESSAGES)
        .map(|n| NewMessage {
            sender: "app@sender.test".into(),
            recipients: vec![format!("user{n}@dest.test")],
            body: format!("Subject: {n}\r\nX-Seq: {n}\r\n\r\n{}\r\n", "x".repeat(1500))
                .into_bytes(),
            dedup_key: None,
        })
        .collect();
    for chunk in messages.chunks(500) {
        spool.enqueue_batch(chunk, Timestamp::now()).unwrap();
    }
    let port = free_port();
    let _sink = sink(port, &dump);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    let mut moments = Moments(seed);
    let started = Instant::now();
    let mut kills = 0;
    // Kill and restart while work remains, for at most 20 seconds.
    while started.elapsed() < Duration::from_secs(20) && delivered(&spool) < MESSAGES as u64 {
        let mut worker = deliver(&spool_url, port, false);
        thread::sleep(Duration::from_millis(moments.next_ms(100, 700)));
        worker.kill().unwrap(); // SIGKILL
        worker.wait().unwrap();
        kills += 1;
    }
    // Let the dead workers' leases expire, then finish without killing.
    let finish_by = Instant::now() + Duration::from_secs(40);
    while delivered(&spool) < MESSAGES as u64 {
        assert!(
            Instant::now() < finish_by,
            "the last run did not finish: {:?}",
            spool.stats()
        );
        thread::sleep(Duration::from_secs(LEASE_SECS) + Duration::from_millis(100));
        let status = deliver(&spool_url, port, true).wait().unwrap();
        assert!(
            status.success(),
            "mailwire deliver --until-idle failed: {status}"
        );
    }
    let seen = arrivals(&dump);
    let lost: Vec<usize> = (0..MESSAGES).filter(|n| !seen.contains_key(n)).collect();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!(
        "crash test (seed {seed}): {kills} kills, {MESSAGES} messages, {} arrived, {duplicates} duplicates ({:.2}%), {} lost, {:?}",
        seen.len(),
        duplicates as f64 * 100.0 / MESSAGES as f64,
        lost.len(),
        started.elapsed()
    );
    assert!(
        lost.is_empty(),
        "lost {} messages (seed {seed}): {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    assert!(
        kills >= 3,
        "the worker was killed only {kills} times (seed {seed})"
    );
    assert_eq!(delivered(&spool), MESSAGES as u64);
    let stats = spool.stats().unwrap();
    assert_eq!(
        stats.recipients[RecipientState::ALL
            .iter()
            .position(|s| *s == RecipientState::Failed)
            .unwrap()],
        0
    );
}

fn postgres_database(name: &str) -> String {
    let url = std::env::var("MAILWIRE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("MAILWIRE_TEST_POSTGRES_URL is not set: run the tests with tests/run-all.sh, which starts PostgreSQL")
    });
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)
        .expect("connecting to the test PostgreSQL");
    let db = format!("crash_{name}_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

/// Two workers on one PostgreSQL spool race for the queue while one or the
/// other is killed at random moments: nothing lost, duplicates counted.
#[test]
fn two_workers_on_postgres_killed_at_random_lose_nothing() {
    const N: usize = 2000;
    let dir = TempDir::new("crash-pg");
    let dump = dir.0.join("dump");
    let url = postgres_database("two");
    let spool = PostgresSpool::connect(&url).unwrap();
    let messages: Vec<NewMessage> = (0..N)
        .map(|n| NewMessage {
            sender: "app@sender.test".into(),
            recipients: vec![format!("user{n}@dest.test")],
            body: format!("Subject: {n}\r\nX-Seq: {n}\r\n\r\n{}\r\n", "y".repeat(1500))
                .into_bytes(),
            dedup_key: None,
        })
        .collect();
    for chunk in messages.chunks(500) {
        spool.enqueue_batch(chunk, Timestamp::now()).unwrap();
    }
    let port = free_port();
    let _sink = sink(port, &dump);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(11);
    let mut moments = Moments(seed);
    let started = Instant::now();
    let mut workers = [deliver(&url, port, false), deliver(&url, port, false)];
    let mut kills = 0;
    while started.elapsed() < Duration::from_secs(20) && delivered(&spool) < N as u64 {
        thread::sleep(Duration::from_millis(moments.next_ms(100, 600)));
        let victim = kills % 2;
        workers[victim].kill().unwrap();
        workers[victim].wait().unwrap();
        workers[victim] = deliver(&url, port, false);
        kills += 1;
    }
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    let finish_by = Instant::now() + Duration::from_secs(40);
    while delivered(&spool) < N as u64 {
        assert!(
            Instant::now() < finish_by,
            "the last run did not finish: {:?}",
            spool.stats()
        );
        thread::sleep(Duration::from_secs(LEASE_SECS) + Duration::from_millis(100));
        let status = deliver(&url, port, true).wait().unwrap();
        assert!(
            status.success(),
            "mailwire deliver --until-idle failed: {status}"
        );
    }
    let seen = arrivals(&dump);
    let lost: Vec<usize> = (0..N).filter(|n| !seen.contains_key(n)).collect();
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!(
        "postgres crash test (seed {seed}): {kills} kills, two workers, {N} messages, {} arrived, {duplicates} duplicates ({:.2}%), {} lost, {:?}",
        seen.len(),
        duplicates as f64 * 100.0 / N as f64,
        lost.len(),
        started.elapsed()
    );
    assert!(
        lost.is_empty(),
        "lost {} messages (seed {seed}): {:?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    assert!(kills >= 3, "killed only {kills} times (seed {seed})");
}
