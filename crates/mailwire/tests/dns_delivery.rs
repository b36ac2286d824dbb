//! Names looked up through `--dns` and DKIM signing on the way out of the spool, against a
//! real dnsmasq (tests/setup/25-dnsmasq.sh) and a `mailwire serve --check-auth` on loopback:
//! - `send --dns` and `probe --dns` find a made-up server name only the given DNS server
//!   knows;
//! - `deliver` on the direct-MX route (MX and A records in dnsmasq) delivers mail signed at
//!   enqueue, signs unsigned mail of `--dkim-domain` itself, signs nothing twice, and leaves
//!   other domains' mail alone; the receiving side's Authentication-Results says which.

use mail_dns::testing::{Dnsmasq, Records};

mod common;

use common::{mailwire, run, Serve, TempDir};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn dnsmasq(records: Records) -> Dnsmasq {
    Dnsmasq::start(records).unwrap_or_else(|e| {
        panic!("dnsmasq could not start ({e}); run through tests/run-all.sh (tests/setup/25-dnsmasq.sh)")
    })
}

/// Runs `mailwire dkim keygen` for example.test and returns the TXT record it printed.
fn keygen(dir: &std::path::Path, selector: &str) -> String {
    let mut cmd = mailwire(dir);
    cmd.args([
        "dkim",
        "keygen",
        "--domain",
        "example.test",
        "--selector",
        selector,
        "--algorithm",
        "ed25519",
    ]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let prefix = format!("{selector}._domainkey.example.test. IN TXT ");
    let quoted = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{stdout}"));
    quoted.split('"').filter(|s| !s.trim().is_empty()).collect()
}

#[test]
fn send_finds_the_server_through_the_given_dns_server() {
    let dir = TempDir::new("send-dns");
    let serve = Serve::start(&dir.0, &[], &[]);
    let port = serve.plain.port();
    // Only this dnsmasq knows the name; the system's resolver does not.
    let dns = dnsmasq(Records::new().a("smtp.made-up.test", [127, 0, 0, 1].into()));
    let dns_addr = dns.addr().to_string();
    let send = |server: &str| {
        let mut cmd = mailwire(&dir.0);
        cmd.args([
            "send",
            "--server",
            server,
            "--security",
            "none",
            "--dns",
            &dns_addr,
            "--from",
            "ann@example.test",
            "--to",
            "bob@example.net",
            "--subject",
            "found by name",
            "--text",
            "hello",
        ]);
        run(cmd)
    };
    let out = send(&format!("smtp.made-up.test:{port}"));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains(&format!("delivered to smtp.made-up.test:{port}")),
        "{}",
        text(&out.stdout)
    );
    let stored = serve.stored();
    assert_eq!(stored.len(), 1);
    assert!(text(&stored[0]).contains("Subject: found by name"));

    // A name the DNS server does not know: exit code 3 (could not connect), the server named.
    let out = send(&format!("nowhere.made-up.test:{port}"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("nowhere.made-up.test") && said.contains(&dns_addr),
        "{said}"
    );
    assert_eq!(serve.stored().len(), 1);

    // `probe` of one server takes the same --dns.
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "probe",
        &format!("smtp.made-up.test:{port}"),
        "--security",
        "none",
    ])
    .args(["--dns", &dns_addr, "--timeout", "5"]);
    let out = run(cmd);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("[ ok ] DNS       smtp.made-up.test -> 127.0.0.1"),
        "{stdout}"
    );
}

#[test]
fn send_dns_is_refused_with_queue() {
    let dir = TempDir::new("send-dns-queue");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--queue",
        "--dns",
        "127.0.0.1:53",
        "--from",
        "a@example.test",
        "--to",
        "b@example.net",
        "--text",
        "x",
    ]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// Queues one message with `mailwire send --queue`, signed at enqueue when `sign`.
fn queue(dir: &std::path::Path, from: &str, subject: &str, sign: bool) {
    let mut cmd = mailwire(dir);
    cmd.args([
        "send",
        "--queue",
        "--from",
        from,
        "--to",
        "bob@dest.test",
        "--subject",
        subject,
        "--text",
        "through the spool and the MX",
    ]);
    if sign {
        cmd.args(["--dkim-key", "e1.example.test.pem", "--dkim-selector", "e1"]);
    }
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn deliver_on_the_mx_route_sends_signed_mail_and_signs_what_is_not() {
    let dir = TempDir::new("deliver-dkim-mx");
    let record = keygen(&dir.0, "e1");
    let dns = dnsmasq(
        Records::new()
            .mx("dest.test", "mx.dest.test", 10)
            .a("mx.dest.test", [127, 0, 0, 1].into())
            .txt("example.test", "v=spf1 ip4:127.0.0.1 -all")
            .txt("e1._domainkey.example.test", &record)
            .txt("_dmarc.example.test", "v=DMARC1; p=reject")
            .txt("other.test", "v=spf1 ip4:127.0.0.1 -all"),
    );
    let dns_addr = dns.addr().to_string();
    let serve = Serve::start(&dir.0, &["--check-auth", "--dns", &dns_addr], &[]);
    queue(&dir.0, "ann@example.test", "signed at enqueue", true);
    queue(&dir.0, "ann@example.test", "signed by deliver", false);
    queue(&dir.0, "carl@other.test", "another domain", false);
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "deliver",
        "--dns",
        &dns_addr,
        "--mx-port",
        &serve.plain.port().to_string(),
        "--until-idle",
        "--dkim-key",
        "e1.example.test.pem",
        "--dkim-selector",
        "e1",
        "--dkim-domain",
        "example.test",
    ]);
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("delivered 3, deferred 0, failed 0"),
        "{}",
        text(&out.stdout)
    );
    let stored: Vec<String> = serve.stored().iter().map(|m| text(m)).collect();
    assert_eq!(stored.len(), 3);
    let by_subject = |subject: &str| {
        stored
            .iter()
            .find(|m| m.contains(&format!("Subject: {subject}")))
            .unwrap_or_else(|| panic!("no {subject:?} in {stored:?}"))
    };
    for subject in ["signed at enqueue", "signed by deliver"] {
        let message = by_subject(subject);
        assert_eq!(
            message.matches("DKIM-Signature:").count(),
            1,
            "signed once: {message}"
        );
        for expected in ["dkim=pass header.d=example.test header.s=e1", "dmarc=pass"] {
            assert!(
                message.contains(expected),
                "missing {expected:?} in\n{message}"
            );
        }
    }
    let other = by_subject("another domain");
    assert!(!other.contains("DKIM-Signature:"), "{other}");
    assert!(other.contains("dkim=none"), "{other}");
}

#[test]
fn deliver_signing_needs_the_domain() {
    let dir = TempDir::new("deliver-dkim-domain");
    keygen(&dir.0, "e1");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "deliver",
        "--until-idle",
        "--dkim-key",
        "e1.example.test.pem",
        "--dkim-selector",
        "e1",
    ]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--dkim-domain"));
}
