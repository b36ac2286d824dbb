//! `mailwire serve --pop3/--pop3s`: a message sent over SMTP is read back
//! byte for byte by Python's poplib (a client we did not write), over STLS
//! and implicit TLS, by the sink's own AUTH accounts.

mod common;

use common::{mailwire, run, run_to_end, Serve, TempDir};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// The address a `POP3 on ADDR (mode)` line announces.
fn pop3_addr(serve: &Serve, mode: &str) -> SocketAddr {
    let lines = serve.wait_lines("POP3 on ", 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = serve
            .stdout()
            .into_iter()
            .find(|l| l.starts_with("POP3 on ") && l.contains(mode))
        {
            return line["POP3 on ".len()..]
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no POP3 {mode}: {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const FETCH: &str = r#"
import os, poplib, ssl, sys
ctx = ssl.create_default_context(cafile=os.environ["CA"])
port = int(os.environ["PORT"])
if os.environ["MODE"] == "implicit":
    p = poplib.POP3_SSL("localhost", port, context=ctx, timeout=20)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    try:
        p.user("alice")
        raise SystemExit("USER accepted before STLS")
    except poplib.error_proto as e:
        assert b"[AUTH]" in e.args[0], e
    p.stls(context=ctx)
p.user("alice")
try:
    p.pass_("wrong")
    raise SystemExit("a wrong password was accepted")
except poplib.error_proto:
    pass
p.user("alice")
p.pass_(os.environ["PASSWORD"])
count, _ = p.stat()
assert count == 1, count
_, lines, _ = p.retr(1)
sys.stdout.buffer.write(b"\r\n".join(lines) + b"\r\n")
p.quit()
"#;

fn python_fetch(addr: SocketAddr, mode: &str, ca: &std::path::Path) -> Vec<u8> {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", FETCH])
        .env("PORT", addr.port().to_string())
        .env("MODE", mode)
        .env("CA", ca)
        .env("PASSWORD", "pop-secret")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let output = run(cmd);
    assert!(
        output.status.success(),
        "poplib failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn a_message_sent_over_smtp_is_read_back_over_pop3_stls_and_pop3s() {
    let dir = TempDir::new("serve-pop3");
    let serve = Serve::start(
        &dir.0,
        &[
            "--self-signed",
            "--pop3",
            "127.0.0.1:0",
            "--pop3s",
            "127.0.0.1:0",
            "--auth-optional",
        ],
        &[("MAILWIRE_SERVE_USERS", "alice:pop-secret")],
    );
    let ca = serve
        .cert
        .clone()
        .expect("the self-signed certificate's path");
    assert!(
        ca.is_file(),
        "no certificate at {}: {:?}",
        ca.display(),
        serve.stdout()
    );
    let stls = pop3_addr(&serve, "STLS offered");
    let implicit = pop3_addr(&serve, "implicit TLS");

    // One message through the sink's SMTP listener, with the CLI itself.
    let mut send = mailwire(&dir.0);
    send.args([
        "send",
        "--server",
        &serve.plain.to_string(),
        "--security",
        "none",
        "--from",
        "a@example.com",
        "--to",
        "b@example.org",
        "--subject",
        "over pop3",
        "--text",
        ".a line with a leading dot\nand more",
    ]);
    let (status, _, stderr) = run_to_end(send);
    assert_eq!(status, Some(0), "send failed: {stderr}");
    serve.wait_lines("stored ", 1);
    let stored = serve.stored();
    assert_eq!(stored.len(), 1);

    // POP3 ends the last line with CRLF whether or not the file does.
    let mut expected = stored[0].clone();
    if !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    for (addr, mode) in [(stls, "stls"), (implicit, "implicit")] {
        let fetched = python_fetch(addr, mode, &ca);
        assert_eq!(
            fetched, expected,
            "{mode}: POP3 gave other bytes than the Maildir holds"
        );
    }
}

#[test]
fn pop3_needs_accounts_and_a_maildir() {
    let dir = TempDir::new("serve-pop3-usage");
    let mut cmd = mailwire(&dir.0);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--pop3", "127.0.0.1:0"]);
    let (status, _, stderr) = run_to_end(cmd);
    assert_ne!(status, Some(0));
    assert!(stderr.contains("need accounts"), "{stderr}");

    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--discard",
        "--pop3",
        "127.0.0.1:0",
    ])
    .env("MAILWIRE_SERVE_USERS", "alice:pop-secret");
    let (status, _, stderr) = run_to_end(cmd);
    assert_ne!(status, Some(0));
    assert!(stderr.contains("--discard"), "{stderr}");
}
