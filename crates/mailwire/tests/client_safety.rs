//! The client against hostile or odd servers (scripted on loopback): what
//! the server says reaches the terminal escaped, credentials never cross a
//! connection whose STARTTLS was stripped, and every error ends with QUIT.

mod common;

use common::{mailwire, run_to_end, FakeServer, TempDir};

/// A server whose every word carries terminal control sequences.
fn hostile() -> FakeServer {
    FakeServer::start("220 mx\x1b]0;owned\x07 ready\u{202e}\r\n", |line| {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        Some(match verb.as_str() {
            "EHLO" => "250-mx\x1b[2J\r\n250 X-\x1b[31mRED\r\n".into(),
            "QUIT" => "221 bye\r\n".into(),
            _ => "550 5.7.1 no \x1b[5mblink\x1b[0m\r\n".into(),
        })
    })
}

#[test]
fn probe_and_transcript_escape_terminal_control_characters() {
    let dir = TempDir::new("escape-probe");
    let server = hostile();
    let mut cmd = mailwire(&dir.0);
    cmd.args(["probe", &server.addr.to_string(), "--security", "none"])
        .arg("--transcript");
    let (_, out, err) = run_to_end(cmd);
    for text in [&out, &err] {
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(!text.contains('\x07'), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
    }
    // The probe's greeting step and the transcript both show it escaped.
    assert!(out.contains("greeting  220 mx\\x1b]0;owned\\x07"), "{out}");
    assert!(err.contains("<-  220 mx\\x1b]0;owned\\x07"), "{err}");
    drop(server.finish());
    let server = hostile();
    let mut cmd = mailwire(&dir.0);
    cmd.args(["send", "--from", "a@b.example", "--to", "c@d.example"])
        .args(["--text", "x", "--security", "none", "--transcript"])
        .args(["--server", &server.addr.to_string()]);
    let (code, out, err) = run_to_end(cmd);
    assert_ne!(code, Some(0), "{out}\n{err}");
    assert!(!err.contains('\x1b') && !out.contains('\x1b'), "{err:?}");
    assert!(err.contains("\\u{202e}"), "{err}");
}

/// A port-25 server with its STARTTLS stripped: it offers logins but no
/// encryption.
fn stripped() -> FakeServer {
    FakeServer::start("220 mx ESMTP\r\n", |line| {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        Some(match verb.as_str() {
            "EHLO" => "250-mx\r\n250 AUTH CRAM-MD5 PLAIN LOGIN\r\n".into(),
            "AUTH" => "334 PDEyMzQ1QG14Pg==\r\n".into(),
            "QUIT" => "221 bye\r\n".into(),
            _ => "535 5.7.8 no\r\n".into(),
        })
    })
}

fn send_with_login(dir: &TempDir, server: &FakeServer, extra: &[&str]) -> (Option<i32>, String) {
    let mut cmd = mailwire(&dir.0);
    cmd.args(["send", "--from", "a@b.example", "--to", "c@d.example"])
        .args(["--text", "x", "--security", "starttls-opportunistic"])
        .args(["--user", "me", "--server", &server.addr.to_string()])
        .args(extra)
        .env("MAILWIRE_PASSWORD", "hunter2");
    let (code, _, err) = run_to_end(cmd);
    (code, err)
}

#[test]
fn no_credentials_cross_a_connection_whose_starttls_was_stripped() {
    let dir = TempDir::new("stripped");
    let server = stripped();
    let (code, err) = send_with_login(&dir, &server, &[]);
    let seen = server.finish();
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("STARTTLS was wanted"), "{err}");
    assert!(err.contains("--allow-plaintext-auth"), "{err}");
    assert!(
        !seen
            .lines
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("AUTH")),
        "{seen:?}"
    );
    // Allowed explicitly, the login goes ahead (CRAM-MD5 first).
    let server = stripped();
    let (code, err) = send_with_login(&dir, &server, &["--allow-plaintext-auth"]);
    let seen = server.finish();
    assert_eq!(code, Some(5), "{err}");
    assert!(seen.lines.iter().any(|l| l == "AUTH CRAM-MD5"), "{seen:?}");
}

#[test]
fn every_error_ends_with_quit() {
    let dir = TempDir::new("quit");
    // A refused sender (the connection stays usable), a refused login, and
    // a server that does not offer the STARTTLS required.
    let refusals: [(&str, &[&str], i32); 3] = [
        ("250 mx\r\n", &["--security", "none"], 4),
        (
            "250-mx\r\n250 AUTH PLAIN\r\n",
            &[
                "--security",
                "none",
                "--user",
                "me",
                "--allow-plaintext-auth",
            ],
            5,
        ),
        ("250 mx\r\n", &["--security", "starttls"], 6),
    ];
    for (ehlo, args, exit) in refusals {
        let ehlo = ehlo.to_owned();
        let server = FakeServer::start("220 mx ESMTP\r\n", move |line| {
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            Some(match verb.as_str() {
                "EHLO" => ehlo.clone(),
                "AUTH" => "535 5.7.8 bad credentials\r\n".into(),
                "QUIT" => "221 bye\r\n".into(),
                _ => "550 5.7.1 not from you\r\n".into(),
            })
        });
        let mut cmd = mailwire(&dir.0);
        cmd.args(["send", "--from", "a@b.example", "--to", "c@d.example"])
            .args(["--text", "x", "--server", &server.addr.to_string()])
            .args(args)
            .env("MAILWIRE_PASSWORD", "pw");
        let (code, _, err) = run_to_end(cmd);
        let seen = server.finish();
        assert_eq!(code, Some(exit), "{err}");
        assert_eq!(
            seen.lines.last().map(String::as_str),
            Some("QUIT"),
            "{args:?} {seen:?}"
        );
    }
}
