//! swaks (a Perl SMTP client) delivering to `mailwire serve`: plain,
//! STARTTLS with `--self-signed`, implicit TLS, AUTH PLAIN and LOGIN, and
//! PIPELINING. Each stored file must be the sent bytes exactly, behind the
//! sink's `Received:` header.
//!
//! Passwords reach swaks through its `SWAKS_OPT_*` environment, never its
//! command line.

use mailwire_tests::peers::{require_swaks, run_bounded, Finished, PEER_LIMIT};
use mailwire_tests::serve::{assert_stored_exactly, Serve};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

const USERS: &str = "alice:s3cret-alice,bob:s3cret-bob";

/// A message with lines that need dot-stuffing and a tab; no `%` (swaks
/// tokens) and no backslash (swaks escapes). It has no final line break:
/// swaks ends DATA with CRLF "." CRLF after the data, so the content on the
/// wire is this plus CRLF (see [`sent`]).
fn message(case: &str) -> Vec<u8> {
    format!(
        "From: Swaks Test <swaks@example.com>\r\n\
         To: rcpt@example.org\r\n\
         Subject: swaks interop {case}\r\n\
         Message-ID: <swaks-{case}@example.com>\r\n\
         \r\n\
         Line one.\r\n\
         .A line that starts with a dot\r\n\
         ..and one with two\r\n\
         A\ttab.\r\n\
         Last line."
    )
    .into_bytes()
}

/// The content swaks sends for `message(case)`.
fn sent(case: &str) -> Vec<u8> {
    [message(case), b"\r\n".to_vec()].concat()
}

/// swaks from swaks@example.com to rcpt@example.org as `swaks.test`, with
/// the message in a file and `extra` flags; with `ca`, TLS must verify
/// against that certificate; `env` adds `SWAKS_OPT_*` variables.
fn swaks(
    serve: &Serve,
    (server, port): (&str, u16),
    case: &str,
    extra: &[&str],
    ca: Option<&Path>,
    env: &[(&str, &str)],
) -> (Finished, Vec<u8>) {
    let file = serve.dir.0.join(format!("{case}.eml"));
    std::fs::write(&file, message(case)).unwrap();
    let mut cmd = Command::new(require_swaks());
    cmd.args(["--server", server, "--port", &port.to_string()])
        .args(["--ehlo", "swaks.test", "--from", "swaks@example.com"])
        .args(["--to", "rcpt@example.org", "--timeout", "10"])
        .arg("--data")
        .arg(format!("@{}", file.display()))
        .args(extra);
    if let Some(ca) = ca {
        cmd.args(["--tls-verify", "--tls-ca-path"]).arg(ca);
    }
    for (name, value) in env {
        cmd.env(name, value);
    }
    (run_bounded(cmd, PEER_LIMIT), sent(case))
}

fn port(addr: Option<SocketAddr>) -> u16 {
    addr.expect("an implicit-TLS listener").port()
}

#[test]
fn swaks_plain_delivery_is_stored_byte_for_byte() {
    let serve = Serve::start(&[], &[]);
    let before = SystemTime::now();
    let at = ("127.0.0.1", serve.plain.port());
    let (run, sent) = swaks(&serve, at, "plain", &[], None, &[]);
    assert!(run.status.success(), "{}", run.printed());
    let stored = serve.wait_stored(1);
    assert_eq!(stored.len(), 1);
    assert_stored_exactly(&stored[0], "swaks.test", "ESMTP", &sent, before);
}

#[test]
fn swaks_pipelines_the_envelope_and_the_message_is_stored() {
    let serve = Serve::start(&[], &[]);
    let before = SystemTime::now();
    let at = ("127.0.0.1", serve.plain.port());
    let (run, sent) = swaks(&serve, at, "pipeline", &["--pipeline"], None, &[]);
    assert!(run.status.success(), "{}", run.printed());
    // MAIL, RCPT and DATA went out as one group, before any reply to them.
    let out = &run.stdout;
    let mail = out.find(" -> MAIL FROM:").expect(out);
    let group: Vec<&str> = out[mail..].lines().take(3).collect();
    assert!(group[1].starts_with(" -> RCPT TO:"), "{out}");
    assert!(group[2].starts_with(" -> DATA"), "{out}");
    let stored = serve.wait_stored(1);
    assert_stored_exactly(&stored[0], "swaks.test", "ESMTP", &sent, before);
}

#[test]
fn swaks_starttls_verifies_the_self_signed_certificate() {
    let serve = Serve::start(&["--self-signed"], &[]);
    let cert = serve.cert.clone().expect("the certificate's path");
    let before = SystemTime::now();
    let at = ("localhost", serve.plain.port());
    let (run, sent) = swaks(&serve, at, "starttls", &["-tls"], Some(&cert), &[]);
    assert!(run.status.success(), "{}", run.printed());
    assert!(run.stdout.contains("<-  220"), "{}", run.printed());
    let stored = serve.wait_stored(1);
    assert_stored_exactly(&stored[0], "swaks.test", "ESMTPS", &sent, before);
}

#[test]
fn swaks_implicit_tls_on_the_tls_listener() {
    let serve = Serve::start(&["--self-signed", "--tls-listen", "127.0.0.1:0"], &[]);
    let cert = serve.cert.clone().unwrap();
    let before = SystemTime::now();
    let at = ("localhost", port(serve.tls));
    let (run, sent) = swaks(&serve, at, "implicit", &["--tlsc"], Some(&cert), &[]);
    assert!(run.status.success(), "{}", run.printed());
    let stored = serve.wait_stored(1);
    assert_stored_exactly(&stored[0], "swaks.test", "ESMTPS", &sent, before);
}

#[test]
fn swaks_auth_plain_after_starttls_and_login_over_implicit_tls() {
    let serve = Serve::start(
        &["--self-signed", "--tls-listen", "127.0.0.1:0"],
        &[("MAILWIRE_SERVE_USERS", USERS)],
    );
    let cert = serve.cert.clone().unwrap();
    let before = SystemTime::now();

    let at = ("localhost", serve.plain.port());
    let flags = ["-tls", "--auth", "PLAIN", "--auth-user", "alice"];
    let password = [("SWAKS_OPT_auth_password", "s3cret-alice")];
    let (run, sent_plain) = swaks(&serve, at, "auth-plain", &flags, Some(&cert), &password);
    assert!(run.status.success(), "{}", run.printed());
    assert!(run.stdout.contains("235 "), "{}", run.printed());

    let at = ("localhost", port(serve.tls));
    let flags = ["--tlsc", "--auth", "LOGIN", "--auth-user", "bob"];
    let password = [("SWAKS_OPT_auth_password", "s3cret-bob")];
    let (run, sent_login) = swaks(&serve, at, "auth-login", &flags, Some(&cert), &password);
    assert!(run.status.success(), "{}", run.printed());

    let stored = serve.wait_stored(2);
    let find = |case: &str| {
        let subject = format!("Subject: swaks interop {case}\r\n");
        stored
            .iter()
            .find(|m| String::from_utf8_lossy(m).contains(&subject))
            .unwrap_or_else(|| panic!("no {case} message"))
    };
    assert_stored_exactly(
        find("auth-plain"),
        "swaks.test",
        "ESMTPSA",
        &sent_plain,
        before,
    );
    assert_stored_exactly(
        find("auth-login"),
        "swaks.test",
        "ESMTPSA",
        &sent_login,
        before,
    );
    let log = serve.stdout().join("\n");
    assert!(log.contains(" user=\"alice\""), "{log}");
    assert!(log.contains(" user=\"bob\""), "{log}");
    assert!(!log.contains("s3cret"), "{log}");
}

#[test]
fn swaks_without_credentials_or_with_a_wrong_password_stores_nothing() {
    let serve = Serve::start(&["--self-signed"], &[("MAILWIRE_SERVE_USERS", USERS)]);
    let cert = serve.cert.clone().unwrap();
    let over_tls = ("localhost", serve.plain.port());
    // No AUTH: MAIL is refused (530).
    let (run, _) = swaks(&serve, over_tls, "anonymous", &["-tls"], Some(&cert), &[]);
    assert!(!run.status.success(), "{}", run.printed());
    assert!(run.stdout.contains("530 5.7.0"), "{}", run.printed());
    // A wrong password: 535.
    let flags = ["-tls", "--auth", "PLAIN", "--auth-user", "alice"];
    let password = [("SWAKS_OPT_auth_password", "not-the-password")];
    let (run, _) = swaks(&serve, over_tls, "wrong", &flags, Some(&cert), &password);
    assert!(!run.status.success(), "{}", run.printed());
    assert!(run.stdout.contains("535 5.7.8"), "{}", run.printed());
    // PLAIN before TLS is not offered (only CRAM-MD5 is).
    let plain = ("127.0.0.1", serve.plain.port());
    let flags = ["--auth", "PLAIN", "--auth-user", "alice"];
    let password = [("SWAKS_OPT_auth_password", "s3cret-alice")];
    let (run, _) = swaks(&serve, plain, "cleartext", &flags, None, &password);
    assert!(!run.status.success(), "{}", run.printed());
    assert!(serve.stored().is_empty());
    let logs = [serve.stdout(), serve.stderr()].concat().join("\n");
    assert!(!logs.contains("not-the-password"), "{logs}");
    assert!(!logs.contains("s3cret"), "{logs}");
}
