//! Direct delivery to MX hosts, with DNS answered by a real dnsmasq holding
//! each test's records and Postfix's smtp-sink as the MX: preference order
//! with fallback, the implicit MX, a null MX and a domain that does not
//! exist.

use mail_dns::testing::{Dnsmasq, Records};
use mail_spool::engine::{Engine, EngineConfig};
use mail_spool::schedule::RetryPolicy;
use mail_spool::smtp::{Route, SmtpTransport};
use mail_spool::spool::{NewMessage, RecipientState, SqliteOptions, SqliteSpool};
use mail_spool::{Spool, Timestamp};
use mailwire_tests::peers::{free_port, require, wait_greeting};
use mailwire_tests::serve::TempDir;
use smtp_proto::{ClientConfig, Host};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

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
        .arg("100");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_greeting(&mut child, addr, "smtp-sink"));
    Peer(child)
}

fn dumped_recipients(dump: &Path) -> Vec<String> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dump).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        all.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("X-Rcpt: "))
                .map(str::to_owned),
        );
    }
    all.sort();
    all
}

#[test]
fn direct_delivery_follows_mx_records() {
    let dir = TempDir::new("mx");
    let dump = dir.0.join("dump");
    let port = free_port();
    let _sink = sink(port, &dump);
    // mx0 (preferred) points at an address where nothing listens on the
    // port: the attempt falls back to mx1.
    let dns = Dnsmasq::start(
        Records::new()
            .mx("dest.test", "mx0.dest.test", 5)
            .mx("dest.test", "mx1.dest.test", 10)
            .a("mx0.dest.test", Ipv4Addr::new(127, 0, 0, 3))
            .a("mx1.dest.test", Ipv4Addr::new(127, 0, 0, 1))
            .a("plain.test", Ipv4Addr::new(127, 0, 0, 1))
            .null_mx("null.test"),
    )
    .expect("starting dnsmasq (package dnsmasq-base)");
    let resolver = dns.resolver().unwrap();
    let spool = Arc::new(SqliteSpool::open(dir.0.join("spool"), SqliteOptions::default()).unwrap());
    let message = |to: &str| NewMessage {
        sender: String::new(),
        recipients: vec![to.to_owned()],
        body: format!("X-Rcpt: {to}\r\nSubject: mx\r\n\r\nhi\r\n").into_bytes(),
        dedup_key: None,
    };
    let ids: Vec<_> = [
        "a@dest.test",
        "b@plain.test",
        "c@null.test",
        "d@nowhere.test",
    ]
    .iter()
    .map(|to| spool.enqueue(&message(to), Timestamp::now()).unwrap().id)
    .collect();
    let route = Route::Mx {
        resolver: Arc::new(resolver),
        port,
        config: ClientConfig::new(Host::parse("client.test").unwrap()),
        verified_tls: smtp_blocking::TlsSettings::new(),
        require_verified_tls: Vec::new(),
    };
    let transport = SmtpTransport::new(route)
        .with_retry(RetryPolicy {
            max_age: Duration::from_secs(3600),
            ..RetryPolicy::MX
        })
        .with_connect_timeout(Duration::from_secs(3));
    let mut config = EngineConfig::new("mx-test");
    config.workers = 2;
    config.exit_when_idle = true;
    let totals = Engine::new(spool.clone(), config)
        .run(Arc::new(transport))
        .unwrap();
    assert_eq!(totals.delivered, 2, "{totals:?}");
    assert_eq!(dumped_recipients(&dump), ["a@dest.test", "b@plain.test"]);
    let state = |n: usize| spool.show(ids[n]).unwrap().recipients[0].clone();
    assert_eq!(state(0).state, RecipientState::Delivered);
    assert_eq!(
        state(1).state,
        RecipientState::Delivered,
        "no MX: the domain's own address"
    );
    let null = state(2);
    assert_eq!(null.state, RecipientState::Failed);
    assert!(null.last_reply.unwrap_or_default().contains("RFC 7505"));
    let nowhere = state(3);
    assert_eq!(nowhere.state, RecipientState::Failed);
    assert!(nowhere
        .last_reply
        .unwrap_or_default()
        .contains("does not exist"));
    // The senders were `<>`: nothing bounced.
    assert_eq!(spool.stats().unwrap().messages, 4);
}

#[test]
fn a_dead_mx_defers_and_rests_the_domain() {
    let dir = TempDir::new("mx-dead");
    let port = free_port(); // nothing listens here
    let dns = Dnsmasq::start(
        Records::new()
            .mx("dead.test", "mx.dead.test", 10)
            .a("mx.dead.test", Ipv4Addr::new(127, 0, 0, 1)),
    )
    .expect("starting dnsmasq (package dnsmasq-base)");
    let spool = Arc::new(SqliteSpool::open(dir.0.join("spool"), SqliteOptions::default()).unwrap());
    for n in 0..5 {
        let m = NewMessage {
            sender: "app@sender.test".into(),
            recipients: vec![format!("u{n}@dead.test")],
            body: b"Subject: x\r\n\r\nx\r\n".to_vec(),
            dedup_key: None,
        };
        spool.enqueue(&m, Timestamp::now()).unwrap();
    }
    let route = Route::Mx {
        resolver: Arc::new(dns.resolver().unwrap()),
        port,
        config: ClientConfig::new(Host::parse("client.test").unwrap()),
        verified_tls: smtp_blocking::TlsSettings::new(),
        require_verified_tls: Vec::new(),
    };
    let mut config = EngineConfig::new("mx-dead");
    config.workers = 2;
    config.destinations.max_attempts = 1;
    config.exit_when_idle = true;
    let transport = SmtpTransport::new(route).with_connect_timeout(Duration::from_secs(3));
    Engine::new(spool.clone(), config)
        .run(Arc::new(transport))
        .unwrap();
    let stats = spool.stats().unwrap();
    assert_eq!(
        stats.recipients[RecipientState::ALL
            .iter()
            .position(|s| *s == RecipientState::Deferred)
            .unwrap()],
        5
    );
    let mut attempted = 0;
    for m in spool.list(None, 10).unwrap() {
        let r = &spool.show(m.id).unwrap().recipients[0];
        attempted += r.failures;
        assert!(
            r.last_reply.as_deref().unwrap_or("").contains("dead.test"),
            "{r:?}"
        );
        let due = r.due.unwrap();
        if r.failures == 1 {
            // An MX retry waits at least the 5-minute floor.
            assert!(
                due >= Timestamp::now() + Duration::from_secs(4 * 60),
                "{r:?}"
            );
        } else {
            // The others wait for the domain's rest (at least 30 s).
            assert!(due >= Timestamp::now() + Duration::from_secs(20), "{r:?}");
        }
    }
    assert_eq!(
        attempted, 1,
        "one refused connection rested the domain: the others waited without an attempt"
    );
}
