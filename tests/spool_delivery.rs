//! The spool and its delivery engine against real servers: Postfix's
//! smtp-sink with its fault switches, aiosmtpd answering per recipient, and
//! `mailwire serve`. Each test runs the engine in this process over a real
//! SQLite spool and the real SMTP client, with retry times shortened.

use mail_spool::engine::{Engine, EngineConfig};
use mail_spool::schedule::RetryPolicy;
use mail_spool::smtp::{Route, SmtpTransport};
use mail_spool::spool::{MessageId, NewMessage, RecipientState, SqliteOptions, SqliteSpool};
use mail_spool::{Spool, Timestamp};
use mailwire_tests::peers::{free_port, require, require_python, wait_greeting};
use mailwire_tests::serve::{Serve, TempDir};
use smtp_proto::{ClientConfig, Host, TlsPolicy};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const FAST_RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(300),
    cap: Duration::from_secs(1),
    floor: Duration::from_millis(150),
    max_age: Duration::from_secs(120),
};

/// A child process killed on drop.
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

/// smtp-sink on `port` with `extra` switches, dumping each transaction in
/// `dump` (one file per message).
fn sink(port: u16, extra: &[&str], dump: &Path) -> Peer {
    let program = require(
        "smtp-sink",
        "install Postfix without starting it (see tests/run-all.sh)",
    );
    std::fs::create_dir_all(dump).unwrap();
    // smtp-sink drops to `nobody` as root and must still write its dumps.
    let _ = Command::new("chmod").arg("777").arg(dump).status();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(program);
    if is_root() {
        cmd.args(["-u", "nobody"]);
    }
    cmd.args(extra)
        .arg("-d")
        .arg(format!("{}/%H%M%S.", dump.display()))
        .arg(addr.to_string())
        .arg("100")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("starting smtp-sink");
    assert!(
        wait_greeting(&mut child, addr, "smtp-sink"),
        "smtp-sink did not start on {addr}"
    );
    Peer(child)
}

/// The `X-Seq` values of every message smtp-sink dumped.
fn dumped(dump: &Path) -> Vec<usize> {
    let mut seqs = Vec::new();
    for entry in std::fs::read_dir(dump).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            if let Some(n) = line.strip_prefix("X-Seq: ") {
                seqs.extend(n.trim().parse::<usize>().ok());
            }
        }
    }
    seqs.sort_unstable();
    seqs
}

fn relay(port: u16) -> SmtpTransport {
    let config = ClientConfig::new(Host::parse("client.test").unwrap()).with_tls(TlsPolicy::None);
    SmtpTransport::new(Route::Relay {
        host: "127.0.0.1".into(),
        port,
        config,
        tls: None,
    })
    .with_retry(FAST_RETRY)
    .with_connect_timeout(Duration::from_secs(5))
}

fn fast_config(name: &str) -> EngineConfig {
    let mut config = EngineConfig::new(name);
    config.workers = 2;
    config.lease = Duration::from_secs(30);
    config.idle_poll = Duration::from_millis(100);
    config.reporting_mta = "mx.sender.test".into();
    config.destinations.rest = RetryPolicy {
        base: Duration::from_millis(800),
        cap: Duration::from_secs(3),
        floor: Duration::from_millis(500),
        max_age: Duration::MAX,
    };
    config
}

fn message(seq: usize, recipients: &[&str]) -> NewMessage {
    NewMessage {
        sender: "app@sender.test".into(),
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        body: format!("From: app@sender.test\r\nSubject: message {seq}\r\nX-Seq: {seq}\r\n\r\nHello {seq}\r\n").into_bytes(),
        dedup_key: None,
    }
}

/// A running engine, stopped (gracefully) on drop.
struct Running {
    engine: Arc<Engine>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Running {
    fn start(spool: Arc<dyn Spool>, config: EngineConfig, transport: SmtpTransport) -> Running {
        let engine = Arc::new(Engine::new(spool, config));
        let runner = Arc::clone(&engine);
        let thread = thread::spawn(move || {
            runner.run(Arc::new(transport)).expect("the engine failed");
        });
        Running {
            engine,
            thread: Some(thread),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.engine.stop_handle().store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open(dir: &TempDir) -> Arc<SqliteSpool> {
    Arc::new(SqliteSpool::open(dir.0.join("spool"), SqliteOptions::default()).unwrap())
}

fn count(spool: &dyn Spool, state: RecipientState) -> u64 {
    let stats = spool.stats().unwrap();
    stats.recipients[RecipientState::ALL
        .iter()
        .position(|s| *s == state)
        .unwrap()]
}

/// Waits (up to 30 s) until `check` holds.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn enqueue(spool: &dyn Spool, messages: &[NewMessage]) -> Vec<MessageId> {
    spool
        .enqueue_batch(messages, Timestamp::now())
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

#[test]
fn a_soft_reject_defers_and_the_mail_goes_once_the_fault_clears() {
    let dir = TempDir::new("spool-soft");
    let dump = dir.0.join("dump");
    let spool = open(&dir);
    let port = free_port();
    let faulty = sink(port, &["-r", "RCPT"], &dump);
    enqueue(
        &*spool,
        &(0..5)
            .map(|n| message(n, &["rcpt@dest.test"]))
            .collect::<Vec<_>>(),
    );
    let running = Running::start(spool.clone(), fast_config("soft"), relay(port));
    wait_until("every recipient was deferred at least once", || {
        spool.list(None, 10).unwrap().iter().all(|m| {
            spool
                .show(m.id)
                .unwrap()
                .recipients
                .iter()
                .all(|r| r.failures >= 1)
        })
    });
    let shown = spool.show(spool.list(None, 1).unwrap()[0].id).unwrap();
    assert!(
        shown.recipients[0]
            .last_reply
            .as_deref()
            .unwrap_or("")
            .starts_with("4"),
        "{shown:?}"
    );
    assert!(dumped(&dump).is_empty());
    drop(faulty);
    let _healthy = sink(port, &[], &dump);
    wait_until("all five were delivered", || {
        count(&*spool, RecipientState::Delivered) == 5
    });
    drop(running);
    assert_eq!(dumped(&dump), [0, 1, 2, 3, 4]);
    assert_eq!(count(&*spool, RecipientState::Failed), 0);
}

#[test]
fn a_hard_reject_fails_the_recipient_and_bounces_to_the_sender() {
    let dir = TempDir::new("spool-hard");
    let dump = dir.0.join("dump");
    let spool = open(&dir);
    let port = free_port();
    let _sink = sink(port, &["-f", "RCPT"], &dump);
    let ids = enqueue(&*spool, &[message(1, &["gone@dest.test"])]);
    let running = Running::start(spool.clone(), fast_config("hard"), relay(port));
    // The original fails; its bounce (to app@sender.test, from <>) is
    // refused by the same sink and is not bounced again.
    wait_until("the original and its bounce failed", || {
        count(&*spool, RecipientState::Failed) == 2
    });
    drop(running);
    let original = spool.show(ids[0]).unwrap();
    assert_eq!(original.recipients[0].state, RecipientState::Failed);
    assert!(original.recipients[0]
        .last_reply
        .as_deref()
        .unwrap_or("")
        .starts_with("5"));
    let all = spool.list(None, 10).unwrap();
    assert_eq!(all.len(), 2, "one bounce, no bounce of the bounce");
    let bounce = &all[1];
    assert_eq!(bounce.sender, "");
    let detail = spool.show(bounce.id).unwrap();
    assert_eq!(detail.recipients[0].address, "app@sender.test");
    let body = spool.body(bounce.id).unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("multipart/report; report-type=delivery-status"),
        "{text}"
    );
    assert!(
        text.contains("Final-Recipient: rfc822; gone@dest.test"),
        "{text}"
    );
    assert!(
        text.contains("\r\nSubject: message 1\r\nX-Seq: 1\r\n"),
        "the original headers come back, line by line: {text}"
    );
}

#[test]
fn a_dropped_connection_retries_until_the_server_recovers() {
    let dir = TempDir::new("spool-drop");
    let dump = dir.0.join("dump");
    let spool = open(&dir);
    let port = free_port();
    let dropping = sink(port, &["-q", "DATA"], &dump);
    enqueue(
        &*spool,
        &(0..3)
            .map(|n| message(n, &["r@dest.test"]))
            .collect::<Vec<_>>(),
    );
    let running = Running::start(spool.clone(), fast_config("drop"), relay(port));
    wait_until("each was tried and deferred", || {
        count(&*spool, RecipientState::Deferred) == 3
    });
    drop(dropping);
    let _healthy = sink(port, &[], &dump);
    wait_until("all delivered", || {
        count(&*spool, RecipientState::Delivered) == 3
    });
    drop(running);
    assert_eq!(dumped(&dump), [0, 1, 2]);
}

#[test]
fn a_quota_defers_what_is_over_it_without_failing_anything() {
    let dir = TempDir::new("spool-quota");
    let dump = dir.0.join("dump");
    let spool = open(&dir);
    let port = free_port();
    let _sink = sink(port, &[], &dump);
    enqueue(
        &*spool,
        &(0..5)
            .map(|n| message(n, &["r@dest.test"]))
            .collect::<Vec<_>>(),
    );
    let mut config = fast_config("quota");
    config.destinations.limits.daily_quota = Some((2, Duration::ZERO));
    let patient = RetryPolicy {
        max_age: Duration::from_secs(5 * 86_400),
        ..FAST_RETRY
    };
    let running = Running::start(spool.clone(), config, relay(port).with_retry(patient));
    wait_until("two delivered and three waiting for tomorrow", || {
        count(&*spool, RecipientState::Delivered) == 2
            && count(&*spool, RecipientState::Deferred) == 3
    });
    drop(running);
    assert_eq!(dumped(&dump).len(), 2);
    let tomorrow = Timestamp((Timestamp::now().0 / 86_400_000 + 1) * 86_400_000);
    for m in spool.list(None, 10).unwrap() {
        for r in spool.show(m.id).unwrap().recipients {
            if r.state == RecipientState::Deferred {
                assert_eq!(r.due, Some(tomorrow), "deferred to the next quota day");
                assert_eq!(r.failures, 0, "a quota is not a failed attempt");
                assert!(r.last_reply.unwrap_or_default().contains("quota"));
            }
        }
    }
}

/// aiosmtpd answering by recipient: `ok*` accepted, `hard*` 550, `soft*`
/// 451 the first time each is seen, and MAIL from `busy*` 421.
const AIOSMTPD: &str = r#"
import asyncio, sys
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
seen = set()
class H:
    async def handle_MAIL(self, server, session, envelope, address, options):
        if address.startswith("busy"):
            with open(out + ".busy", "a") as f: f.write("421\n")
            return "421 4.7.0 Too many connections, slow down"
        envelope.mail_from = address
        return "250 OK"
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("hard"):
            return "550 5.1.1 No such user"
        if address.startswith("soft") and address not in seen:
            seen.add(address)
            return "451 4.2.0 Mailbox busy, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            for r in envelope.rcpt_tos: f.write(r + "\n")
        return "250 2.0.0 Ok: queued as AIO1"
c = Controller(H(), hostname="127.0.0.1", port=port)
c.start()
import time
while True: time.sleep(3600)
"#;

fn aiosmtpd(port: u16, out: &Path) -> Peer {
    let mut child = Command::new(require_python())
        .arg("-c")
        .arg(AIOSMTPD)
        .arg(port.to_string())
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting aiosmtpd");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        wait_greeting(&mut child, addr, "aiosmtpd"),
        "aiosmtpd did not start"
    );
    Peer(child)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn recipients_of_one_message_get_their_own_outcomes() {
    let dir = TempDir::new("spool-mixed");
    let out = dir.0.join("accepted");
    let spool = open(&dir);
    let port = free_port();
    let _server = aiosmtpd(port, &out);
    let ids = enqueue(
        &*spool,
        &[message(
            1,
            &["ok@dest.test", "hard@dest.test", "soft@dest.test"],
        )],
    );
    let running = Running::start(spool.clone(), fast_config("mixed"), relay(port));
    wait_until("ok and soft delivered, hard failed", || {
        let states: Vec<_> = spool
            .show(ids[0])
            .unwrap()
            .recipients
            .iter()
            .map(|r| r.state)
            .collect();
        states
            == [
                RecipientState::Delivered,
                RecipientState::Failed,
                RecipientState::Delivered,
            ]
    });
    wait_until("the bounce went out", || {
        lines(&out).contains(&"app@sender.test".to_owned())
    });
    drop(running);
    let detail = spool.show(ids[0]).unwrap();
    assert_eq!(detail.recipients[0].remote_id.as_deref(), Some("AIO1"));
    assert_eq!(detail.recipients[0].failures, 0);
    assert_eq!(
        detail.recipients[1].last_reply.as_deref(),
        Some("550 5.1.1 No such user")
    );
    assert_eq!(detail.recipients[2].failures, 1, "soft was deferred once");
    let accepted = lines(&out);
    assert_eq!(
        accepted.iter().filter(|a| *a == "ok@dest.test").count(),
        1,
        "ok was not sent twice: {accepted:?}"
    );
    assert_eq!(
        accepted.iter().filter(|a| *a == "soft@dest.test").count(),
        1
    );
}

#[test]
fn a_421_rests_the_whole_destination() {
    let dir = TempDir::new("spool-421");
    let out = dir.0.join("accepted");
    let spool = open(&dir);
    let port = free_port();
    let _server = aiosmtpd(port, &out);
    let mut busy: Vec<NewMessage> = (0..20).map(|n| message(n, &["ok@dest.test"])).collect();
    for m in &mut busy {
        m.sender = "busy@sender.test".into();
    }
    enqueue(&*spool, &busy);
    let mut config = fast_config("rest");
    config.destinations.rest.floor = Duration::from_secs(2);
    config.destinations.rest.base = Duration::from_secs(2);
    config.destinations.max_attempts = 2;
    let started = Instant::now();
    let running = Running::start(spool.clone(), config, relay(port));
    wait_until("all twenty were postponed or deferred", || {
        count(&*spool, RecipientState::Deferred) == 20
    });
    thread::sleep(Duration::from_millis(1500));
    drop(running);
    let attempts = lines(&out.with_extension("busy")).len();
    // Without a rest every message would be tried (20 attempts) and again
    // after each fast retry; with it, only the attempts already admitted
    // when the first 421 came (at most two at once here) reach the server.
    assert!(
        attempts <= 2,
        "{attempts} attempts reached a server that said 421 within {:?}",
        started.elapsed()
    );
    assert!(attempts >= 1);
    let postponed = spool
        .list(None, 30)
        .unwrap()
        .iter()
        .flat_map(|m| spool.show(m.id).unwrap().recipients)
        .filter(|r| r.failures == 0)
        .count();
    assert!(
        postponed >= 16,
        "{postponed} of 20 waited for the destination without an attempt"
    );
}

#[test]
fn mail_reaches_mailwire_serve_through_the_spool() {
    let dir = TempDir::new("spool-serve");
    let spool = open(&dir);
    let server = Serve::start(&[], &[]);
    enqueue(
        &*spool,
        &(0..20)
            .map(|n| message(n, &["user@local.test"]))
            .collect::<Vec<_>>(),
    );
    let mut config = fast_config("serve");
    config.exit_when_idle = true;
    let engine = Engine::new(spool.clone(), config);
    let totals = engine.run(Arc::new(relay(server.plain.port()))).unwrap();
    assert_eq!(totals.delivered, 20);
    let stored = server.wait_stored(20);
    let mut seqs: Vec<usize> = stored
        .iter()
        .filter_map(|m| {
            let text = String::from_utf8_lossy(m).into_owned();
            text.lines().find_map(|l| {
                l.strip_prefix("X-Seq: ")
                    .and_then(|n| n.trim().parse().ok())
            })
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
    assert_eq!(count(&*spool, RecipientState::Delivered), 20);
}
