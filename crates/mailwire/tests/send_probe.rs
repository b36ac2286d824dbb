//! `mailwire send` and `mailwire probe` against `mailwire serve` with TLS and
//! AUTH: security modes, the wrong mode for a port, login failures and their
//! exit codes, the transcript with AUTH redacted, and the probe's report.

mod common;

use common::{mailwire, run_to_end, Serve, TempDir};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

const PASSWORD: &str = "correct horse battery";

/// A TLS sink with one account, `user` / [`PASSWORD`], and an implicit-TLS
/// listener beside the STARTTLS one.
fn tls_sink(dir: &TempDir) -> Serve {
    let users = format!("user:{PASSWORD}");
    Serve::start(
        &dir.0,
        &["--self-signed", "--tls-listen", "127.0.0.1:0"],
        &[("MAILWIRE_SERVE_USERS", users.as_str())],
    )
}

/// `mailwire send` to `addr` with `args`, and the password in the
/// environment when given.
fn send(
    dir: &Path,
    addr: SocketAddr,
    args: &[&str],
    password: Option<&str>,
) -> (Option<i32>, String, String) {
    let mut cmd = mailwire(dir);
    cmd.args([
        "send",
        "--from",
        "me@example.com",
        "--to",
        "you@example.com",
        "--subject",
        "probe test",
        "--text",
        "Hello over TLS",
        "--server",
    ])
    .arg(addr.to_string())
    .args(args);
    if let Some(password) = password {
        cmd.env("MAILWIRE_PASSWORD", password);
    }
    run_to_end(cmd)
}

/// `mailwire send` from a@b.example to c@d.example with the text "x", plus
/// `args`.
fn minimal_send(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = mailwire(dir);
    cmd.args([
        "send",
        "--from",
        "a@b.example",
        "--to",
        "c@d.example",
        "--text",
        "x",
    ])
    .args(args);
    run_to_end(cmd)
}

fn cert_path(serve: &Serve) -> String {
    serve
        .cert
        .as_ref()
        .expect("--self-signed prints where the certificate is")
        .display()
        .to_string()
}

#[test]
fn starttls_and_implicit_tls_with_login_deliver_and_the_transcript_hides_the_password() {
    let dir = TempDir::new("send-tls");
    let serve = tls_sink(&dir);
    let ca = cert_path(&serve);
    let (code, out, err) = send(
        &dir.0,
        serve.plain,
        &[
            "--security",
            "starttls",
            "--ca-file",
            &ca,
            "--user",
            "user",
            "--transcript",
        ],
        Some(PASSWORD),
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.starts_with("delivered to 127.0.0.1:"), "{out}");
    for wanted in [
        " -> STARTTLS",
        "=== TLS started",
        // CRAM-MD5 is preferred when offered: the password never crosses.
        " ~> AUTH CRAM-MD5",
        " ~> [credentials redacted]",
        "<~  235 ",
        " ~> QUIT",
    ] {
        assert!(err.contains(wanted), "no {wanted:?} in:\n{err}");
    }
    assert!(!err.contains(PASSWORD), "{err}");
    let tls = serve.tls.expect("an implicit-TLS listener");
    let (code, out, err) = send(
        &dir.0,
        tls,
        &["--security", "tls", "--ca-file", &ca, "--user", "user"],
        Some(PASSWORD),
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    serve.wait_lines("stored ", 2);
    let stored = serve.stored();
    assert_eq!(stored.len(), 2);
    for message in stored {
        let text = String::from_utf8(message).unwrap();
        assert!(text.contains("Subject: probe test"), "{text}");
        assert!(text.contains("Hello over TLS"), "{text}");
    }
}

#[test]
fn a_wrong_password_is_exit_code_5_with_the_reply_and_advice() {
    let dir = TempDir::new("send-badpass");
    let serve = tls_sink(&dir);
    let ca = cert_path(&serve);
    let (code, _, err) = send(
        &dir.0,
        serve.plain,
        &["--ca-file", &ca, "--security", "starttls", "--user", "user"],
        Some("wrong"),
    );
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("rejected the login (535 5.7.8, saying "),
        "{err}"
    );
    assert!(err.contains("app password"), "{err}");
    assert!(serve.stored().is_empty());
}

#[test]
fn the_wrong_security_mode_for_a_port_is_said_plainly_and_never_hangs() {
    let dir = TempDir::new("send-mode");
    let serve = tls_sink(&dir);
    let ca = cert_path(&serve);
    // Implicit TLS spoken to a STARTTLS port: the server's plaintext
    // greeting arrives where a TLS handshake should.
    let (code, _, err) = send(
        &dir.0,
        serve.plain,
        &["--security", "tls", "--ca-file", &ca],
        None,
    );
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("wrong security mode"), "{err}");
    // STARTTLS spoken to an implicit-TLS port: no greeting ever comes.
    let tls = serve.tls.unwrap();
    let (code, _, err) = send(
        &dir.0,
        tls,
        &["--security", "starttls", "--ca-file", &ca, "--timeout", "2"],
        None,
    );
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("wrong security mode"), "{err}");
    assert!(err.contains("tls"), "{err}");
}

#[test]
fn an_untrusted_certificate_is_a_tls_failure_that_names_ca_file() {
    let dir = TempDir::new("send-untrusted");
    let serve = tls_sink(&dir);
    let (code, _, err) = send(&dir.0, serve.plain, &["--security", "starttls"], None);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("--ca-file"), "{err}");
    assert!(serve.stored().is_empty());
}

#[test]
fn a_closed_port_is_exit_code_3_naming_the_port() {
    let dir = TempDir::new("send-closed");
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (code, _, err) = send(&dir.0, addr, &["--security", "none"], None);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(&format!("nothing listens on port {port}")),
        "{err}"
    );
}

#[test]
fn usage_errors_are_exit_code_2() {
    let dir = TempDir::new("send-usage");
    let addr: SocketAddr = "127.0.0.1:25".parse().unwrap();
    // --user without a password, on no terminal: no prompt, a clear error.
    let (code, _, err) = send(&dir.0, addr, &["--user", "someone"], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("MAILWIRE_PASSWORD"), "{err}");
    let (code, _, err) = minimal_send(&dir.0, &["--provider", "nosuch"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("gmail, outlook, qq, 163, 126, yahoo, icloud"),
        "{err}"
    );
    // A password is never a flag.
    let (code, _, _) = minimal_send(&dir.0, &["--password", "hunter2"]);
    assert_eq!(code, Some(2));
}

#[test]
fn dry_run_with_a_provider_shows_its_server_and_an_inline_image() {
    let dir = TempDir::new("send-dry");
    std::fs::write(dir.0.join("logo.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--provider",
        "qq",
        "--from",
        "me@qq.com",
        "--to",
        "you@example.com",
        "--text",
        "plain",
        "--html",
        "<img src=\"cid:logo.png\">",
        "--inline",
        "logo.png",
        "--dry-run",
    ]);
    let (code, out, err) = run_to_end(cmd);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("would send to smtp.qq.com:465 (implicit TLS)"),
        "{err}"
    );
    assert!(out.starts_with("MAIL FROM:<me@qq.com>"), "{out}");
    assert!(out.contains("multipart/related"), "{out}");
    assert!(out.contains("Content-ID: <logo.png>"), "{out}");
    // --inline needs an HTML body to refer to it.
    let (code, _, _) = minimal_send(&dir.0, &["--inline", "logo.png", "--dry-run"]);
    assert_eq!(code, Some(2));
}

#[test]
fn probe_reports_tls_certificate_extensions_auth_and_a_login() {
    let dir = TempDir::new("probe-ok");
    let serve = tls_sink(&dir);
    let ca = cert_path(&serve);
    let mut cmd = mailwire(&dir.0);
    cmd.args(["probe", &serve.plain.to_string(), "--security", "starttls"])
        .args(["--ca-file", &ca, "--user", "user", "--timeout", "10"])
        .env("MAILWIRE_PASSWORD", PASSWORD);
    let (code, out, err) = run_to_end(cmd);
    assert_eq!(code, Some(0), "{out}\n{err}");
    for wanted in [
        "[ ok ] DNS",
        "[ ok ] TCP",
        "[ ok ] greeting  220 ",
        "[ ok ] TLS       TLSv1.3",
        "subject:",
        "names:   localhost",
        "[ ok ] EHLO",
        "AUTH: PLAIN LOGIN",
        "[ ok ] login     user logged in",
    ] {
        assert!(out.contains(wanted), "no {wanted:?} in:\n{out}");
    }
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));
    // The same with a wrong password: the login step fails with exit 5.
    let mut cmd = mailwire(&dir.0);
    cmd.args(["probe", &serve.plain.to_string(), "--security", "starttls"])
        .args(["--ca-file", &ca, "--user", "user"])
        .env("MAILWIRE_PASSWORD", "wrong");
    let (code, out, _) = run_to_end(cmd);
    assert_eq!(code, Some(5), "{out}");
    assert!(out.contains("[FAIL] login"), "{out}");
}

#[test]
fn probe_shows_an_untrusted_certificate_anyway_and_fails_with_exit_6() {
    let dir = TempDir::new("probe-untrusted");
    let serve = tls_sink(&dir);
    let tls = serve.tls.unwrap();
    let mut cmd = mailwire(&dir.0);
    cmd.args(["probe", &tls.to_string(), "--security", "tls"]);
    let (code, out, err) = run_to_end(cmd);
    assert_eq!(code, Some(6), "{out}\n{err}");
    assert!(out.contains("[FAIL] TLS"), "{out}");
    assert!(out.contains("certificate NOT verified"), "{out}");
    assert!(out.contains("subject:"), "{out}");
    assert!(out.contains("--ca-file"), "{out}");
}
