//! `mailwire send --dkim-*` signs (also in --dry-run), and `mailwire serve --check-auth` adds
//! Authentication-Results and refuses mail that fails DMARC under p=reject; DNS from a real
//! dnsmasq (tests/setup/25-dnsmasq.sh).

use mail_dns::testing::{Dnsmasq, Records};
use mailwire_auth::dkim::{DkimResult, DkimVerifier};
use mailwire_auth::MemoryResolver;

mod common;

use common::{mailwire, run, Serve, TempDir};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `mailwire dkim keygen` and returns the TXT record it printed.
fn keygen(dir: &std::path::Path, selector: &str, algorithm: &str) -> String {
    let mut cmd = mailwire(dir);
    cmd.args([
        "dkim",
        "keygen",
        "--domain",
        "example.test",
        "--selector",
        selector,
        "--algorithm",
        algorithm,
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
fn send_signs_with_several_keys_in_dry_run() {
    let dir = TempDir::new("dkim-send");
    let rsa = keygen(&dir.0, "r1", "rsa");
    let ed = keygen(&dir.0, "e1", "ed25519");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--dry-run",
        "--from",
        "Ann <ann@example.test>",
        "--to",
        "bob@example.net",
        "--subject",
        "Signed",
        "--text",
        "Hello, signed world.",
        "--dkim-key",
        "r1.example.test.pem",
        "--dkim-selector",
        "r1",
        "--dkim-key",
        "e1.example.test.pem",
        "--dkim-selector",
        "e1",
    ]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let message = stdout
        .split_once("\n\n")
        .map(|(_, m)| m)
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        message.matches("DKIM-Signature: v=1;").count(),
        2,
        "{message}"
    );
    let dns = MemoryResolver::new()
        .txt("r1._domainkey.example.test", &rsa)
        .txt("e1._domainkey.example.test", &ed);
    let mut v = DkimVerifier::new();
    v.feed(
        message
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .as_bytes(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let results: Vec<DkimResult> = v
        .finish()
        .check(&dns, now)
        .into_iter()
        .map(|o| o.result)
        .collect();
    assert_eq!(
        results,
        vec![DkimResult::Pass, DkimResult::Pass],
        "{message}"
    );
}

#[test]
fn serve_check_auth_adds_results_and_enforces_dmarc_reject() {
    let dir = TempDir::new("check-auth");
    let ed = keygen(&dir.0, "e1", "ed25519");
    let dns = Dnsmasq::start(
        Records::new()
            .txt("example.test", "v=spf1 ip4:127.0.0.1 -all")
            .txt("e1._domainkey.example.test", &ed)
            .txt("_dmarc.example.test", "v=DMARC1; p=reject")
            .txt("strict.test", "v=spf1 -all")
            .txt("_dmarc.strict.test", "v=DMARC1; p=reject"),
    )
    .unwrap_or_else(|e| panic!("dnsmasq could not start ({e}); run through tests/run-all.sh"));
    let dns_addr = dns.addr().to_string();
    let serve = Serve::start(&dir.0, &["--check-auth", "--dns", &dns_addr], &[]);
    let server = serve.plain.to_string();
    let send = |from: &str, sign: bool| {
        let mut cmd = mailwire(&dir.0);
        cmd.args([
            "send",
            "--server",
            &server,
            "--security",
            "none",
            "--from",
            from,
            "--to",
            "bob@example.net",
        ])
        .args(["--subject", "checked", "--text", "hello"]);
        if sign {
            cmd.args(["--dkim-key", "e1.example.test.pem", "--dkim-selector", "e1"]);
        }
        run(cmd)
    };
    let out = send("ann@example.test", true);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stored = serve.stored();
    assert_eq!(stored.len(), 1);
    let message = text(&stored[0]);
    for expected in [
        "Authentication-Results: mailwire.localhost;",
        "spf=pass",
        "smtp.mailfrom=example.test",
        "dkim=pass",
        "header.d=example.test header.s=e1",
        "dmarc=pass (p=reject dis=none) header.from=example.test",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in\n{message}"
        );
    }
    // Unsigned, from a host the domain's SPF refuses, under p=reject: refused with 5.7.26.
    let out = send("eve@strict.test", false);
    assert!(!out.status.success());
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("550") && said.contains("5.7.26"), "{said}");
    assert_eq!(
        serve.stored().len(),
        1,
        "the refused message was not stored"
    );
}

#[test]
fn bulk_signs_at_enqueue_and_delivered_mail_verifies() {
    let dir = TempDir::new("dkim-bulk");
    let ed = keygen(&dir.0, "e1", "ed25519");
    let rsa = keygen(&dir.0, "r1", "rsa");
    let dns = Dnsmasq::start(
        Records::new()
            .txt("example.test", "v=spf1 ip4:127.0.0.1 -all")
            .txt("e1._domainkey.example.test", &ed)
            .txt("r1._domainkey.example.test", &rsa)
            .txt("_dmarc.example.test", "v=DMARC1; p=reject"),
    )
    .unwrap_or_else(|e| panic!("dnsmasq could not start ({e}); run through tests/run-all.sh"));
    let dns_addr = dns.addr().to_string();
    let serve = Serve::start(&dir.0, &["--check-auth", "--dns", &dns_addr], &[]);
    let server = serve.plain.to_string();
    std::fs::write(
        dir.0.join("people.csv"),
        "email,name\r\na@dest.test,Ann\r\nb@dest.test,Bo\r\n",
    )
    .unwrap();
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "bulk",
        "--recipients",
        "people.csv",
        "--from",
        "news@example.test",
        "--subject",
        "Hi {{name}}",
        "--text",
        "Dear {{name}}, this is signed.",
        "--server",
        &server,
        "--security",
        "none",
        "--dkim-key",
        "e1.example.test.pem",
        "--dkim-selector",
        "e1",
        "--dkim-key",
        "r1.example.test.pem",
        "--dkim-selector",
        "r1",
    ]);
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stored = serve.stored();
    assert_eq!(stored.len(), 2);
    for message in stored.iter().map(|m| text(m)) {
        assert_eq!(
            message.matches("DKIM-Signature: v=1;").count(),
            2,
            "{message}"
        );
        for expected in [
            "dkim=pass header.d=example.test header.s=e1",
            "dkim=pass header.d=example.test header.s=r1",
            "dmarc=pass",
        ] {
            assert!(
                message.contains(expected),
                "missing {expected:?} in\n{message}"
            );
        }
    }
}

#[test]
fn send_queue_signs_and_deliver_sends_the_signed_bytes() {
    let dir = TempDir::new("dkim-queue");
    let ed = keygen(&dir.0, "e1", "ed25519");
    let dns = Dnsmasq::start(
        Records::new()
            .txt("example.test", "v=spf1 ip4:127.0.0.1 -all")
            .txt("e1._domainkey.example.test", &ed)
            .txt("_dmarc.example.test", "v=DMARC1; p=reject"),
    )
    .unwrap_or_else(|e| panic!("dnsmasq could not start ({e}); run through tests/run-all.sh"));
    let dns_addr = dns.addr().to_string();
    let serve = Serve::start(&dir.0, &["--check-auth", "--dns", &dns_addr], &[]);
    let server = serve.plain.to_string();
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--queue",
        "--from",
        "ann@example.test",
        "--to",
        "bob@example.net",
        "--subject",
        "queued and signed",
        "--text",
        "hello from the spool",
        "--dkim-key",
        "e1.example.test.pem",
        "--dkim-selector",
        "e1",
    ]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(serve.stored().is_empty(), "queued, not yet sent");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "deliver",
        "--server",
        &server,
        "--security",
        "none",
        "--until-idle",
    ]);
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stored = serve.stored();
    assert_eq!(stored.len(), 1);
    let message = text(&stored[0]);
    assert!(
        message.contains("dkim=pass header.d=example.test header.s=e1")
            && message.contains("dmarc=pass"),
        "{message}"
    );
}
