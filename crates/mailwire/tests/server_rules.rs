//! `mailwire serve` as a mail server with the real pieces (argon2 users
//! file, Maildir++ store, mail-filter rules): its rules seen by swaks,
//! smtplib, poplib and imaplib, and its configuration errors.

mod common;
mod server_support;

use common::{mailwire, run, TempDir};
use server_support::{add_user, messages, python, MailServer, Raw};
use std::path::Path;

/// A server for rules.test: ann (quota 2K) and ben, an alias to both, two
/// header rules (quarantine, reject), POP3 and IMAP; `extra` is added to
/// its file.
fn server(d: &Path, extra: &str) -> MailServer {
    add_user(d, "users", "ann@rules.test", "ann-pw", Some("2K"));
    add_user(d, "users", "ben@rules.test", "ben-pw", None);
    std::fs::write(
        d.join("rules.toml"),
        format!(
            "hostname = \"mx.rules.test\"\nusers_file = \"users\"\nmailboxes = \"mail\"\nspool = \"spool\"\n\
             [listeners]\nsmtp = \"127.0.0.1:0\"\nsubmission = \"127.0.0.1:0\"\npop3 = \"127.0.0.1:0\"\nimap = \"127.0.0.1:0\"\n\
             [directory]\ndomains = [\"rules.test\"]\n[directory.aliases]\n\"both@rules.test\" = [\"ann@rules.test\", \"ben@rules.test\"]\n\
             [checks]\nenabled = false\n\
             [[filters.chain]]\nkind = \"header\"\nheader = \"Subject\"\npattern = \"(?i)lottery\"\naction = \"quarantine\"\ntext = \"lottery\"\n\
             [[filters.chain]]\nkind = \"header\"\nheader = \"Subject\"\npattern = \"(?i)forbidden\"\naction = \"reject\"\ntext = \"not here\"\n{extra}"
        ),
    )
    .unwrap();
    MailServer::start(
        d,
        &[
            "--config",
            "rules.toml",
            "--self-signed",
            "--allow-plaintext-auth",
        ],
        &["smtp", "submission", "POP3", "IMAP"],
    )
}

fn spooled(d: &Path) -> String {
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args(["queue", "--spool", "spool", "stats"]);
        cmd
    });
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn rcpt_rules_relay_refusal_and_authenticated_relay() {
    let dir = TempDir::new("server-rules");
    let d = &dir.0;
    let s = server(d, "");
    let smtp = s.addr("smtp").to_string();
    // Unknown user, open relay: refused (swaks).
    let t = String::from_utf8_lossy(
        &run({
            let mut c = std::process::Command::new("swaks");
            c.args([
                "--server",
                &smtp,
                "--to",
                "nobody@rules.test",
                "--from",
                "x@remote.test",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
            c
        })
        .stdout,
    )
    .into_owned();
    assert!(t.contains("<** 550 5.1.1"), "{t}");
    let t = String::from_utf8_lossy(
        &run({
            let mut c = std::process::Command::new("swaks");
            c.args([
                "--server",
                &smtp,
                "--to",
                "victim@elsewhere.test",
                "--from",
                "ann@rules.test",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
            c
        })
        .stdout,
    )
    .into_owned();
    assert!(t.contains("<** 554 5.7.1 Relay access denied"), "{t}");
    assert!(spooled(d).contains("messages: 0"), "{}", spooled(d));
    // Authenticated on port 25 (after STARTTLS), relaying is allowed;
    // sending as someone else is not (smtplib).
    let ca = s.cert.clone().unwrap();
    let out = python(&format!(
        r#"
import smtplib, ssl
s = smtplib.SMTP("127.0.0.1", {port}, timeout=20)
s.starttls(context=ssl.create_default_context(cafile="{ca}"))
s.login("ben@rules.test", "ben-pw")
print("relay", s.sendmail("ben@rules.test", ["far@elsewhere.test"], b"Subject: hi\r\n\r\nx\r\n"))
try:
    s.sendmail("ann@rules.test", ["far@elsewhere.test"], b"Subject: hi\r\n\r\nx\r\n")
except smtplib.SMTPSenderRefused as e:
    print("not owned", e.smtp_code, e.smtp_error.decode())
s.quit()
"#,
        port = s.addr("smtp").port(),
        ca = ca.display()
    ));
    assert!(out.contains("relay {}"), "{out}");
    assert!(out.contains("not owned 553 5.7.1"), "{out}");
    assert!(spooled(d).contains("messages: 1"), "{}", spooled(d));
    // The submission port wants TLS before anything.
    let mut c = Raw::connect(s.addr("submission")).unwrap();
    c.cmd("EHLO client.test").unwrap();
    let r = c.cmd("MAIL FROM:<ben@rules.test>").unwrap();
    assert!(r.starts_with("530"), "{r}");
}

#[test]
fn stored_per_user_quota_filters_and_each_user_reads_their_own() {
    let dir = TempDir::new("server-store");
    let d = &dir.0;
    let s = server(d, "");
    let mut c = Raw::connect(s.addr("smtp")).unwrap();
    c.cmd("EHLO client.test").unwrap();
    // The alias reaches both; ann+news is ann; one copy each.
    let r = c
        .send(
            "x@remote.test",
            &["both@rules.test", "ann+news@rules.test"],
            "Subject: hello\n\nhi\n",
        )
        .unwrap();
    assert!(r.starts_with("250 2.0.0 Ok: queued as"), "{r}");
    let mail = d.join("mail");
    assert_eq!(messages(&mail, "rules.test", "ann", None).len(), 1);
    assert_eq!(messages(&mail, "rules.test", "ben", None).len(), 1);
    // Filters from the file: quarantine to Junk, reject.
    let r = c
        .send(
            "x@remote.test",
            &["ben@rules.test"],
            "Subject: You won the LOTTERY\n\nhi\n",
        )
        .unwrap();
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(messages(&mail, "rules.test", "ben", Some("Junk")).len(), 1);
    assert_eq!(messages(&mail, "rules.test", "ben", None).len(), 1);
    let r = c
        .send(
            "x@remote.test",
            &["ben@rules.test"],
            "Subject: forbidden fruit\n\nhi\n",
        )
        .unwrap();
    assert!(r.starts_with("554 5.7.1"), "{r}");
    // ann's 2K quota: a 3K message does not fit, and the next RCPT sees
    // the mailbox full once it is.
    let big = format!(
        "Subject: big\n\n{}",
        format!("{}\n", "z".repeat(99)).repeat(30)
    );
    let r = c.send("x@remote.test", &["ann@rules.test"], &big).unwrap();
    assert!(r.starts_with("452 4.2.2"), "{r}");
    assert_eq!(messages(&mail, "rules.test", "ann", None).len(), 1);
    // Each user reads their own mailbox over POP3 and IMAP.
    let out = python(&format!(
        r#"
import poplib, imaplib
for user, pw in [("ann@rules.test", "ann-pw"), ("ben@rules.test", "ben-pw")]:
    p = poplib.POP3("127.0.0.1", {pop3}, timeout=20)
    p.user(user); p.pass_(pw)
    print("pop3", user, p.stat()[0])
    p.quit()
    m = imaplib.IMAP4("127.0.0.1", {imap})
    m.login(user, pw)
    typ, data = m.select("INBOX")
    print("imap", user, int(data[0]))
    m.logout()
p = poplib.POP3("127.0.0.1", {pop3}, timeout=20)
p.user("ann@rules.test")
try:
    p.pass_("ben-pw")
    print("pop3 wrong password accepted")
except poplib.error_proto:
    print("pop3 wrong password refused")
"#,
        pop3 = s.addr("POP3").port(),
        imap = s.addr("IMAP").port()
    ));
    for line in [
        "pop3 ann@rules.test 1",
        "imap ann@rules.test 1",
        "pop3 ben@rules.test 1",
        "imap ben@rules.test 1",
        "pop3 wrong password refused",
    ] {
        assert!(out.contains(line), "{line} in {out}");
    }
    // One log event per message, with its queue id and outcome.
    let logs = s.stderr();
    let events: Vec<&String> = logs
        .iter()
        .filter(|l| l.contains("mailwire::message"))
        .collect();
    assert_eq!(events.len(), 4, "{logs:?}");
    assert!(
        events[1].contains("outcome=\"quarantined\""),
        "{}",
        events[1]
    );
    assert!(events[2].contains("outcome=\"rejected\""), "{}", events[2]);
}

#[test]
fn greylisting_defers_a_new_triplet() {
    let dir = TempDir::new("server-grey");
    let d = &dir.0;
    let s = server(d, "[greylist]\nenabled = true\ndelay_secs = 300\n");
    let mut c = Raw::connect(s.addr("smtp")).unwrap();
    c.cmd("EHLO client.test").unwrap();
    let r = c
        .send("x@remote.test", &["ben@rules.test"], "Subject: new\n\nhi\n")
        .unwrap();
    assert!(r.starts_with("451 4.7.1"), "{r}");
    assert!(messages(&d.join("mail"), "rules.test", "ben", None).is_empty());
}

#[test]
fn configuration_errors_name_the_key_and_the_line() {
    let dir = TempDir::new("server-config");
    let d = &dir.0;
    std::fs::write(
        d.join("bad.toml"),
        "[listeners]\nsmtp = \"127.0.0.1:0\"\n[directory]\ndomains = [\"a.test\"]\n[limits]\nmax_conections = 5\n",
    )
    .unwrap();
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args(["serve", "--config", "bad.toml"]);
        cmd
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.toml:6"), "{err}");
    assert!(err.contains("max_conections"), "{err}");
    // A rule across keys, completed by no flag.
    std::fs::write(
        d.join("bad2.toml"),
        "spool = \"q\"\n[listeners]\nsmtp = \"127.0.0.1:0\"\nsubmission = \"127.0.0.1:0\"\n[directory]\ndomains = [\"a.test\"]\n",
    )
    .unwrap();
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args(["serve", "--config", "bad2.toml"]);
        cmd
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad2.toml:4") && err.contains("certificate"),
        "{err}"
    );
    // The dev sink's flags are refused as a mail server.
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args(["serve", "--domain", "a.test", "--maildir", "m"]);
        cmd
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--maildir is for the development sink"),
        "{err}"
    );
}

/// An HTTP GET of `path`; the body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn a_listed_client_is_refused_and_the_metrics_count_what_happened() {
    use mail_dns::testing::{Dnsmasq, Records};
    let dir = TempDir::new("server-dnsbl");
    let d = &dir.0;
    // 127.0.0.1 is listed in bl.test.
    let dns = Dnsmasq::start(
        Records::new().a("1.0.0.127.bl.test", std::net::Ipv4Addr::new(127, 0, 0, 2)),
    )
    .expect("starting dnsmasq (package dnsmasq-base; see tests/run-all.sh)");
    add_user(d, "users", "ann@rules.test", "ann-pw", None);
    std::fs::write(
        d.join("bl.toml"),
        "users_file = \"users\"\nmailboxes = \"mail\"\nmetrics = \"127.0.0.1:0\"\n\
         [listeners]\nsmtp = \"127.0.0.1:0\"\n[directory]\ndomains = [\"rules.test\"]\n\
         [checks]\nenabled = false\n",
    )
    .unwrap();
    let dns_addr = dns.addr().to_string();
    // Without [dnsbl], mail flows; the metrics count it.
    let s = MailServer::start(d, &["--config", "bl.toml"], &["smtp", "metrics"]);
    let mut c = Raw::connect(s.addr("smtp")).unwrap();
    c.cmd("EHLO client.test").unwrap();
    let r = c
        .send("x@remote.test", &["ann@rules.test"], "Subject: a\n\nx\n")
        .unwrap();
    assert!(r.starts_with("250"), "{r}");
    let r = c
        .send("x@remote.test", &["nobody@rules.test"], "Subject: a\n\nx\n")
        .unwrap();
    assert!(r.starts_with("550"), "{r}");
    let metrics = http_get(s.addr("metrics"), "/metrics");
    for line in [
        "mailwire_messages_total{listener=\"smtp\",outcome=\"accepted\",reason=\"ok\"} 1",
        "mailwire_messages_total{listener=\"smtp\",outcome=\"rejected\",reason=\"unknown_user\"} 1",
        "mailwire_connections_total{listener=\"smtp\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(http_get(s.addr("metrics"), "/healthz").starts_with("HTTP/1.1 200"));
    drop(s);
    // With it, the listed client is refused at EHLO.
    std::fs::write(
        d.join("bl2.toml"),
        "users_file = \"users\"\nmailboxes = \"mail\"\n[listeners]\nsmtp = \"127.0.0.1:0\"\n\
         [directory]\ndomains = [\"rules.test\"]\n[checks]\nenabled = false\n\
         [dnsbl]\nenabled = true\nzones = [\"bl.test\"]\n",
    )
    .unwrap();
    let s = MailServer::start(d, &["--config", "bl2.toml", "--dns", &dns_addr], &["smtp"]);
    let mut c = Raw::connect(s.addr("smtp")).unwrap();
    let r = c.cmd("EHLO client.test").unwrap();
    assert!(r.starts_with("554 5.7.1"), "{r}");
    assert!(r.contains("bl.test"), "{r}");
}

#[test]
fn a_scanner_that_is_down_follows_its_policy() {
    let dir = TempDir::new("server-scanner");
    let d = &dir.0;
    // Nothing listens on this clamd address: with `tempfail`, 451 and
    // nothing stored; the client tries again later.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = server(
        d,
        &format!(
            "[[filters.chain]]\nkind = \"clamd\"\naddress = \"127.0.0.1:{port}\"\non_failure = \"tempfail\"\n"
        ),
    );
    let mut c = Raw::connect(s.addr("smtp")).unwrap();
    c.cmd("EHLO client.test").unwrap();
    let r = c
        .send(
            "x@remote.test",
            &["ben@rules.test"],
            "Subject: scan me\n\nhi\n",
        )
        .unwrap();
    assert!(r.starts_with("451 4.7.1"), "{r}");
    assert!(messages(&d.join("mail"), "rules.test", "ben", None).is_empty());
}

#[test]
fn from_flags_alone_the_checks_run_only_when_asked() {
    let dir = TempDir::new("server-flags");
    let d = &dir.0;
    add_user(d, "users", "ann@rules.test", "ann-pw", None);
    let args = [
        "--domain",
        "rules.test",
        "--users-file",
        "users",
        "--mailboxes",
        "mail",
        "--listen",
        "127.0.0.1:0",
    ];
    let s = MailServer::start(d, &args, &["smtp"]);
    let mut c = Raw::connect(s.addr("smtp")).unwrap();
    c.cmd("EHLO client.test").unwrap();
    let r = c
        .send("x@remote.test", &["ann@rules.test"], "Subject: a\n\nx\n")
        .unwrap();
    assert!(r.starts_with("250"), "{r}");
    let stored = messages(&d.join("mail"), "rules.test", "ann", None);
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].contains("Authentication-Results:"),
        "{}",
        stored[0]
    );
    drop(s);
    // --check-auth turns them on (an empty DNS server answers quickly).
    let dns = mail_dns::testing::Dnsmasq::start(mail_dns::testing::Records::new())
        .expect("starting dnsmasq (package dnsmasq-base; see tests/run-all.sh)");
    let dns_addr = dns.addr().to_string();
    let mut with_checks = args.to_vec();
    with_checks.extend(["--check-auth", "--dns", &dns_addr]);
    let s = MailServer::start(d, &with_checks, &["smtp"]);
    let mut c = Raw::connect(s.addr("smtp")).unwrap();
    c.cmd("EHLO client.test").unwrap();
    let r = c
        .send("x@remote.test", &["ann@rules.test"], "Subject: b\n\nx\n")
        .unwrap();
    assert!(r.starts_with("250"), "{r}");
    let stored = messages(&d.join("mail"), "rules.test", "ann", None);
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .any(|m| m.contains("Authentication-Results: localhost;")),
        "{stored:?}"
    );
}

#[test]
fn max_sessions_makes_further_clients_wait_for_their_greeting() {
    use std::io::{BufRead, BufReader};
    use std::time::Duration;
    let dir = TempDir::new("server-max-sessions");
    let d = &dir.0;
    add_user(d, "users", "ann@rules.test", "ann-pw", None);
    let args = [
        "--domain",
        "rules.test",
        "--users-file",
        "users",
        "--mailboxes",
        "mail",
        "--listen",
        "127.0.0.1:0",
        "--max-sessions",
        "1",
    ];
    let s = MailServer::start(d, &args, &["smtp"]);
    let mut first = Raw::connect(s.addr("smtp")).unwrap();
    first.cmd("EHLO one.test").unwrap();
    // The second client is connected (the kernel's queue) but not greeted
    // while the first is served, and not refused either.
    let second = std::net::TcpStream::connect(s.addr("smtp")).unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(800)))
        .unwrap();
    let mut second = BufReader::new(second);
    let mut line = String::new();
    let early = second.read_line(&mut line);
    assert!(
        early.is_err(),
        "greeted while the first was served: {line:?}"
    );
    let r = first
        .send("x@remote.test", &["ann@rules.test"], "Subject: a\n\nx\n")
        .unwrap();
    assert!(r.starts_with("250"), "{r}");
    first.cmd("QUIT").unwrap();
    second
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    line.clear();
    second.read_line(&mut line).unwrap();
    assert!(line.starts_with("220"), "{line:?}");
}
