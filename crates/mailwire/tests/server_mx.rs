//! Our own delivery engine delivering to our own mail server through a
//! real DNS server's MX record: a user of src.test submits (STARTTLS, AUTH)
//! to one `mailwire serve`, which signs with src.test's DKIM key and queues
//! into its spool; `mailwire deliver` looks up dest.test's MX in dnsmasq and
//! hands the message to a second `mailwire serve`, which checks SPF, DKIM
//! and DMARC against the same DNS and stores it for the user.

mod common;
mod server_support;

use common::{mailwire, run, TempDir};
use mail_dns::testing::{Dnsmasq, Records};
use server_support::{add_user, messages, python, MailServer};
use std::net::Ipv4Addr;

#[test]
fn deliver_finds_our_server_by_mx_and_it_stores_the_signed_message() {
    let dir = TempDir::new("server-mx");
    let d = &dir.0;
    // src.test's signing key, and the TXT record to publish.
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args([
            "dkim",
            "keygen",
            "--domain",
            "src.test",
            "--selector",
            "sel",
        ])
        .args(["--algorithm", "ed25519", "--out", "sel.pem"]);
        cmd
    });
    assert!(out.status.success());
    let printed = String::from_utf8_lossy(&out.stdout);
    let record = printed
        .lines()
        .find_map(|l| l.split_once("IN TXT \""))
        .map(|(_, r)| r.trim_end_matches('"').to_owned())
        .unwrap();
    let dns = Dnsmasq::start(
        Records::new()
            .mx("dest.test", "mx.dest.test", 10)
            .a("mx.dest.test", Ipv4Addr::LOCALHOST)
            .txt("src.test", "v=spf1 ip4:127.0.0.1 -all")
            .txt("sel._domainkey.src.test", &record)
            .txt("_dmarc.src.test", "v=DMARC1; p=reject"),
    )
    .expect("starting dnsmasq (package dnsmasq-base; see tests/run-all.sh)");
    let dns_addr = dns.addr().to_string();

    // The receiving server for dest.test, checking against that DNS.
    add_user(d, "dest-users", "bob@dest.test", "bob-pw", None);
    let dest = MailServer::start(
        d,
        &[
            "--domain",
            "dest.test",
            "--users-file",
            "dest-users",
            "--mailboxes",
            "dest-mail",
            "--listen",
            "127.0.0.1:0",
            "--check-auth",
            "--dns",
            &dns_addr,
        ],
        &["smtp"],
    );
    // The sending server for src.test: submission, spool, DKIM key.
    add_user(d, "src-users", "alice@src.test", "alice-pw", None);
    std::fs::write(
        d.join("src.toml"),
        "hostname = \"mail.src.test\"\nusers_file = \"src-users\"\nmailboxes = \"src-mail\"\n\
         spool = \"src-spool\"\n[listeners]\nsmtp = \"127.0.0.1:0\"\nsubmission = \"127.0.0.1:0\"\n\
         [directory]\ndomains = [\"src.test\"]\n[checks]\nenabled = false\n\
         [[dkim]]\ndomain = \"src.test\"\nselector = \"sel\"\nkey = \"sel.pem\"\n",
    )
    .unwrap();
    let src = MailServer::start(
        d,
        &["--config", "src.toml", "--self-signed"],
        &["smtp", "submission"],
    );
    let port = src.addr("submission").port();
    let ca = src.cert.clone().unwrap();
    let out = python(&format!(
        r#"
import smtplib, ssl
s = smtplib.SMTP("127.0.0.1", {port}, timeout=20)
s.starttls(context=ssl.create_default_context(cafile="{ca}"))
s.login("alice@src.test", "alice-pw")
msg = b"From: Alice <alice@src.test>\r\nTo: <bob@dest.test>\r\nSubject: over MX\r\nMessage-ID: <mx-1@src.test>\r\n\r\nHello Bob.\r\n"
print(s.sendmail("alice@src.test", ["bob@dest.test"], msg))
s.quit()
"#,
        ca = ca.display()
    ));
    assert!(out.contains("{}"), "{out}");
    // One message waits in the spool.
    let stats = run({
        let mut cmd = mailwire(d);
        cmd.args(["queue", "--spool", "src-spool", "stats"]);
        cmd
    });
    let stats = String::from_utf8_lossy(&stats.stdout).into_owned();
    assert!(stats.contains("messages: 1"), "{stats}");

    // Our delivery engine finds dest.test's MX through dnsmasq.
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args([
            "deliver",
            "--spool",
            "src-spool",
            "--until-idle",
            "--dns",
            &dns_addr,
        ])
        .args(["--mx-port", &dest.addr("smtp").port().to_string()]);
        cmd
    });
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("delivered 1, deferred 0, failed 0"),
        "{printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = messages(&d.join("dest-mail"), "dest.test", "bob", None);
    assert_eq!(stored.len(), 1, "{:?}", dest.stderr());
    let message = &stored[0];
    assert!(message.contains("Hello Bob."), "{message}");
    assert!(message.contains("DKIM-Signature:"), "{message}");
    let results: String = message
        .split("Authentication-Results:")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("Received:") && !l.starts_with("DKIM-Signature"))
        .collect();
    for expected in ["spf=pass", "dkim=pass", "dmarc=pass"] {
        assert!(results.contains(expected), "{expected} in {results}");
    }
}

#[test]
fn the_server_delivers_what_it_queued_from_its_own_process() {
    let dir = TempDir::new("server-mx-self");
    let d = &dir.0;
    let dns = Dnsmasq::start(
        Records::new()
            .mx("dest.test", "mx.dest.test", 10)
            .a("mx.dest.test", Ipv4Addr::LOCALHOST),
    )
    .expect("starting dnsmasq (package dnsmasq-base; see tests/run-all.sh)");
    let dns_addr = dns.addr().to_string();
    add_user(d, "dest-users", "bob@dest.test", "bob-pw", None);
    let dest = MailServer::start(
        d,
        &[
            "--domain",
            "dest.test",
            "--users-file",
            "dest-users",
            "--mailboxes",
            "dest-mail",
            "--listen",
            "127.0.0.1:0",
            "--check-auth",
            "--dns",
            &dns_addr,
        ],
        &["smtp"],
    );
    add_user(d, "src-users", "alice@src.test", "alice-pw", None);
    let mx_port = dest.addr("smtp").port().to_string();
    let src = MailServer::start(
        d,
        &[
            "--domain",
            "src.test",
            "--users-file",
            "src-users",
            "--mailboxes",
            "src-mail",
            "--listen",
            "127.0.0.1:0",
            "--submissions",
            "127.0.0.1:0",
            "--self-signed",
            "--spool",
            "src-spool",
            "--deliver",
            "--dns",
            &dns_addr,
            "--mx-port",
            &mx_port,
        ],
        &["smtp", "submissions"],
    );
    let out = python(&format!(
        r#"
import smtplib, ssl
s = smtplib.SMTP_SSL("127.0.0.1", {port}, timeout=20, context=ssl.create_default_context(cafile="{ca}"))
s.login("alice@src.test", "alice-pw")
print(s.sendmail("alice@src.test", ["bob@dest.test"], b"From: alice@src.test\r\nSubject: self\r\n\r\nby itself\r\n"))
s.quit()
"#,
        port = src.addr("submissions").port(),
        ca = src.cert.clone().unwrap().display()
    ));
    assert!(out.contains("{}"), "{out}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let stored = messages(&d.join("dest-mail"), "dest.test", "bob", None);
        if stored.len() == 1 {
            assert!(stored[0].contains("by itself"), "{}", stored[0]);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered: {:?}",
            src.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
