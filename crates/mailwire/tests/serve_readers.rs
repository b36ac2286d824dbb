//! `mailwire serve --pop3/--pop3s/--imap/--imaps/--web`: a message sent over
//! SMTP is read back byte for byte by clients we did not write — Python's
//! poplib and imaplib over STLS/STARTTLS and implicit TLS, and Python's
//! http.client against the JSON API — by the sink's own AUTH accounts.

mod common;

use common::{mailwire, run, run_to_end, Serve, TempDir};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The address a `PROTOCOL on ADDR (mode)` line announces.
fn announced(serve: &Serve, prefix: &str, mode: &str) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(line) = serve
            .stdout()
            .into_iter()
            .find(|l| l.starts_with(prefix) && l.contains(mode))
        {
            let addr = line[prefix.len()..].trim_start_matches("http://");
            return addr.split([' ', '/']).next().unwrap().parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no {prefix}… {mode}: {:?}",
            serve.stdout()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const POP3: &str = r#"
import os, poplib, ssl, sys
ctx = ssl.create_default_context(cafile=os.environ["CA"])
port = int(os.environ["PORT"])
if os.environ["MODE"] == "implicit":
    p = poplib.POP3_SSL("localhost", port, context=ctx, timeout=20)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    try:
        p.user(os.environ["MAILUSER"])
        raise SystemExit("USER accepted before STLS")
    except poplib.error_proto as e:
        assert b"[AUTH]" in e.args[0], e
    p.stls(context=ctx)
p.user(os.environ["MAILUSER"])
try:
    p.pass_("wrong")
    raise SystemExit("a wrong password was accepted")
except poplib.error_proto:
    pass
p.user(os.environ["MAILUSER"])
p.pass_(os.environ["PASSWORD"])
count, _ = p.stat()
assert count == 1, count
_, lines, _ = p.retr(1)
sys.stdout.buffer.write(b"\r\n".join(lines) + b"\r\n")
p.quit()
"#;

const IMAP: &str = r#"
import os, imaplib, ssl, sys
ctx = ssl.create_default_context(cafile=os.environ["CA"])
port = int(os.environ["PORT"])
if os.environ["MODE"] == "implicit":
    m = imaplib.IMAP4_SSL("localhost", port, ssl_context=ctx, timeout=20)
else:
    m = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    assert "LOGINDISABLED" in m.capabilities, m.capabilities
    m.starttls(ssl_context=ctx)
try:
    m.login(os.environ["MAILUSER"], "wrong")
    raise SystemExit("a wrong password was accepted")
except imaplib.IMAP4.error:
    pass
m.login(os.environ["MAILUSER"], os.environ["PASSWORD"])
typ, data = m.select("INBOX", readonly=True)
assert typ == "OK" and data[0] == b"1", (typ, data)
typ, data = m.fetch("1", "(BODY.PEEK[])")
assert typ == "OK", (typ, data)
sys.stdout.buffer.write(data[0][1])
m.logout()
"#;

const WEB: &str = r#"
import os, json, http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]), timeout=20)
c.request("GET", "/api/messages")
r = c.getresponse(); assert r.status == 200, r.status
listing = json.loads(r.read())
messages = listing["messages"] if isinstance(listing, dict) else listing
assert len(messages) == 1, listing
assert messages[0]["subject"] == os.environ["SUBJECT"], messages[0]
c.request("GET", "/api/messages/%s/raw" % messages[0]["id"])
r = c.getresponse(); assert r.status == 200, r.status
sys.stdout.buffer.write(r.read())
"#;

/// Runs a Python client script against `addr`; what it wrote to stdout.
/// The account is `user` with the password `reader-secret`.
fn python(script: &str, addr: SocketAddr, mode: &str, ca: &Path, user: &str) -> Vec<u8> {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script])
        .env("PORT", addr.port().to_string())
        .env("MODE", mode)
        .env("CA", ca)
        .env("MAILUSER", user)
        .env("PASSWORD", "reader-secret")
        .env("SUBJECT", "读 over every reader")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = run(cmd);
    assert!(
        output.status.success(),
        "{mode}: the Python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn a_message_sent_over_smtp_is_read_back_over_pop3_imap_and_the_web_api() {
    let dir = TempDir::new("serve-readers");
    let serve = Serve::start(
        &dir.0,
        &[
            "--self-signed",
            "--auth-optional",
            "--pop3",
            "127.0.0.1:0",
            "--pop3s",
            "127.0.0.1:0",
            "--imap",
            "127.0.0.1:0",
            "--imaps",
            "127.0.0.1:0",
            "--web",
            "127.0.0.1:0",
        ],
        &[("MAILWIRE_SERVE_USERS", "alice:reader-secret")],
    );
    let ca = serve
        .cert
        .clone()
        .expect("the self-signed certificate's path");
    assert!(ca.is_file(), "no certificate at {}", ca.display());

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
        "读 over every reader",
        "--text",
        ".a line with a leading dot\nand more\n",
    ]);
    let (status, _, stderr) = run_to_end(send);
    assert_eq!(status, Some(0), "send failed: {stderr}");
    serve.wait_lines("stored ", 1);
    let stored = serve.stored();
    assert_eq!(stored.len(), 1);
    let mut with_crlf = stored[0].clone();
    if !with_crlf.ends_with(b"\r\n") {
        with_crlf.extend_from_slice(b"\r\n");
    }

    for (prefix, mode, script, py_mode, expected) in [
        ("POP3 on ", "STLS offered", POP3, "plain", &with_crlf),
        ("POP3 on ", "implicit TLS", POP3, "implicit", &with_crlf),
        ("IMAP on ", "STARTTLS offered", IMAP, "plain", &stored[0]),
        ("IMAP on ", "implicit TLS", IMAP, "implicit", &stored[0]),
        ("web page on ", "", WEB, "web", &stored[0]),
    ] {
        let addr = announced(&serve, prefix, mode);
        let fetched = python(script, addr, py_mode, &ca, "alice");
        assert!(
            fetched == *expected,
            "{prefix}{mode}: other bytes than the Maildir holds:\n{}\n---\n{}",
            String::from_utf8_lossy(&fetched),
            String::from_utf8_lossy(expected)
        );
    }
}

#[test]
fn hashed_accounts_of_a_users_file_read_over_pop3_and_imap() {
    let dir = TempDir::new("serve-readers-hashed");
    let users = dir.0.join("users");
    let mut file = mail_accounts::UsersFile::new();
    let hash = mail_accounts::HashedPassword::new("reader-secret").unwrap();
    file.add("alice@example.org", hash, None).unwrap();
    file.write(&users).unwrap();
    let serve = Serve::start(
        &dir.0,
        &[
            "--self-signed",
            "--auth-optional",
            "--users-file",
            users.to_str().unwrap(),
            "--pop3s",
            "127.0.0.1:0",
            "--imap",
            "127.0.0.1:0",
        ],
        &[],
    );
    let ca = serve
        .cert
        .clone()
        .expect("the self-signed certificate's path");
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
        "alice@example.org",
        "--subject",
        "hashed",
        "--text",
        "hi\n",
    ]);
    let (status, _, stderr) = run_to_end(send);
    assert_eq!(status, Some(0), "send failed: {stderr}");
    serve.wait_lines("stored ", 1);
    let stored = serve.stored();
    let pop3 = python(
        POP3,
        announced(&serve, "POP3 on ", "implicit TLS"),
        "implicit",
        &ca,
        "alice@example.org",
    );
    assert!(
        pop3.starts_with(&stored[0][..stored[0].len() - 2]),
        "{}",
        String::from_utf8_lossy(&pop3)
    );
    let imap = python(
        IMAP,
        announced(&serve, "IMAP on ", "STARTTLS offered"),
        "plain",
        &ca,
        "alice@EXAMPLE.org",
    );
    assert_eq!(imap, stored[0]);
}

#[test]
fn readers_need_accounts_a_maildir_and_a_certificate() {
    let dir = TempDir::new("serve-readers-usage");
    for (args, env, said) in [
        (vec!["--pop3", "127.0.0.1:0"], None, "need accounts"),
        (vec!["--imap", "127.0.0.1:0"], None, "need accounts"),
        (
            vec!["--discard", "--imap", "127.0.0.1:0"],
            Some("alice:reader-secret"),
            "--discard",
        ),
        (
            vec!["--imaps", "127.0.0.1:0"],
            Some("alice:reader-secret"),
            "needs a certificate",
        ),
    ] {
        let mut cmd = mailwire(&dir.0);
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(&args);
        if let Some(users) = env {
            cmd.env("MAILWIRE_SERVE_USERS", users);
        }
        let (status, _, stderr) = run_to_end(cmd);
        assert_ne!(status, Some(0), "{args:?} started");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
    }
}
