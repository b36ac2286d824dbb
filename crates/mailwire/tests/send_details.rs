//! Details of `mailwire send` and `probe` a user met: header flags,
//! internationalized domains, file charsets, the EHLO name, the wrong mode
//! on an implicit-TLS port, what 530 and 535 say, and a probe error shown
//! once.

mod common;

use common::{mailwire, run_to_end, FakeServer, Serve, TempDir};
use std::time::{Duration, Instant};

fn dry_run(dir: &TempDir, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = mailwire(&dir.0);
    cmd.args(["send", "--from", "a@b.example", "--dry-run"])
        .args(args);
    run_to_end(cmd)
}

/// A server without SMTPUTF8 (or with it), refusing nothing.
fn server(smtputf8: bool) -> FakeServer {
    FakeServer::start("220 fake ESMTP\r\n", move |line| {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        Some(match verb.as_str() {
            "EHLO" if smtputf8 => "250-fake\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n".into(),
            "EHLO" => "250-fake\r\n250 8BITMIME\r\n".into(),
            "DATA" => "354 go\r\n".into(),
            "QUIT" => "221 bye\r\n".into(),
            _ => "250 ok\r\n".into(),
        })
    })
}

fn send_to(dir: &TempDir, server: &FakeServer, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = mailwire(&dir.0);
    cmd.args(["send", "--from", "a@b.example", "--text", "x"])
        .args(["--security", "none", "--server", &server.addr.to_string()])
        .args(args);
    let (code, _, err) = run_to_end(cmd);
    (code, err)
}

#[test]
fn message_id_date_reply_to_and_thread_headers_have_their_own_flags() {
    let dir = TempDir::new("headers");
    let (code, out, err) = dry_run(
        &dir,
        &[
            "--to",
            "c@d.example",
            "--text",
            "x",
            "--message-id",
            "id-1@b.example",
            "--date",
            "Tue, 1 Jul 2025 10:00:00 +0800",
            "--reply-to",
            "Desk <desk@b.example>",
            "--in-reply-to",
            "<parent@d.example>",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    for wanted in [
        "Message-ID: <id-1@b.example>",
        "Date: Tue, 1 Jul 2025 10:00:00 +0800",
        "Reply-To: Desk <desk@b.example>",
        "In-Reply-To: <parent@d.example>",
        // Given only the parent, References is the parent.
        "References: <parent@d.example>",
    ] {
        assert!(out.contains(wanted), "no {wanted:?} in:\n{out}");
    }
    let (code, out, err) = dry_run(
        &dir,
        &[
            "--to",
            "c@d.example",
            "--text",
            "x",
            "--date",
            "@0",
            "--in-reply-to",
            "<p@d.example>",
            "--references",
            "<root@d.example>",
            "--references",
            "<p@d.example>",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("Date: Thu, 1 Jan 1970 00:00:00 +0000"),
        "{out}"
    );
    assert!(
        out.contains("References: <root@d.example> <p@d.example>"),
        "{out}"
    );
    let (code, _, err) = dry_run(
        &dir,
        &["--to", "c@d.example", "--text", "x", "--date", "soon"],
    );
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = dry_run(
        &dir,
        &[
            "--to",
            "c@d.example",
            "--text",
            "x",
            "--header",
            "Message-ID: <x@y>",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("use --message-id"), "{err}");
}

#[test]
fn an_ascii_local_part_at_an_idn_domain_goes_as_the_a_label() {
    let dir = TempDir::new("idn");
    let fake = server(false);
    let (code, err) = send_to(&dir, &fake, &["--to", "bob@bücher.example"]);
    let seen = fake.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        seen.lines
            .contains(&"RCPT TO:<bob@xn--bcher-kva.example>".to_owned()),
        "{seen:?}"
    );
    assert!(
        !seen.lines.iter().any(|l| l.contains("SMTPUTF8")),
        "{seen:?}"
    );
    // A non-ASCII local part has no ASCII form: SMTPUTF8, where offered.
    let fake = server(true);
    let (code, err) = send_to(&dir, &fake, &["--to", "用户@例子.测试"]);
    let seen = fake.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        seen.lines
            .iter()
            .any(|l| l.starts_with("MAIL FROM:<a@b.example>") && l.contains("SMTPUTF8")),
        "{seen:?}"
    );
    assert!(
        seen.lines.contains(&"RCPT TO:<用户@例子.测试>".to_owned()),
        "{seen:?}"
    );
}

#[test]
fn text_files_in_other_charsets_are_read_with_charset() {
    let dir = TempDir::new("charset");
    // "你好" in GBK.
    std::fs::write(dir.0.join("gbk.txt"), [0xc4, 0xe3, 0xba, 0xc3, b'\n']).unwrap();
    let (code, out, err) = dry_run(
        &dir,
        &[
            "--to",
            "c@d.example",
            "--text-file",
            "gbk.txt",
            "--charset",
            "gbk",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    // UTF-8 "你好\r\n" in base64.
    assert!(out.contains("5L2g5aW9DQo="), "{out}");
    let (code, _, err) = dry_run(&dir, &["--to", "c@d.example", "--text-file", "gbk.txt"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("not valid UTF-8") && err.contains("--charset"),
        "{err}"
    );
    let (code, _, err) = dry_run(
        &dir,
        &[
            "--to",
            "c@d.example",
            "--text-file",
            "gbk.txt",
            "--charset",
            "klingon",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn ehlo_gives_the_machines_host_name_by_default() {
    let dir = TempDir::new("helo");
    let fake = server(false);
    let (code, err) = send_to(&dir, &fake, &["--to", "c@d.example"]);
    let seen = fake.finish();
    assert_eq!(code, Some(0), "{err}");
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(seen.lines[0], format!("EHLO {}", name.trim()), "{seen:?}");
    let fake = server(false);
    let (code, err) = send_to(
        &dir,
        &fake,
        &["--to", "c@d.example", "--helo", "client.example"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(fake.finish().lines[0], "EHLO client.example");
}

#[test]
fn starttls_on_an_implicit_tls_port_is_told_within_seconds() {
    let dir = TempDir::new("implicit-port");
    let serve = Serve::start(
        &dir.0,
        &["--self-signed", "--tls-listen", "127.0.0.1:0"],
        &[],
    );
    let started = Instant::now();
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--from",
        "a@b.example",
        "--to",
        "c@d.example",
        "--text",
        "x",
    ])
    .args(["--security", "starttls", "--timeout", "30", "--server"])
    .arg(serve.tls.unwrap().to_string());
    let (code, _, err) = run_to_end(cmd);
    // A hang guard, not a benchmark: the greeting timeout is 30 s.
    assert!(started.elapsed() < Duration::from_secs(15), "{err}");
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("implicit TLS") && err.contains("--security tls"),
        "{err}"
    );
}

#[test]
fn a_530_after_mail_suggests_user_and_a_535_quotes_the_server() {
    let dir = TempDir::new("530");
    let fake = FakeServer::start("220 fake\r\n", |line| {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        Some(match verb.as_str() {
            "EHLO" => "250-fake\r\n250 AUTH PLAIN\r\n".into(),
            "MAIL" => "530 5.7.0 Authentication required\r\n".into(),
            "AUTH" => "535 5.7.8 Username and Password not accepted\r\n".into(),
            "QUIT" => "221 bye\r\n".into(),
            _ => "250 ok\r\n".into(),
        })
    });
    let (code, err) = send_to(&dir, &fake, &["--to", "c@d.example"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("530 5.7.0 Authentication required"), "{err}");
    assert!(err.contains("give --user"), "{err}");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--from",
        "a@b.example",
        "--to",
        "c@d.example",
        "--text",
        "x",
    ])
    .args([
        "--security",
        "none",
        "--allow-plaintext-auth",
        "--user",
        "me",
    ])
    .args(["--server", &fake.addr.to_string()])
    .env("MAILWIRE_PASSWORD", "pw");
    let (code, _, err) = run_to_end(cmd);
    drop(fake.finish());
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("Username and Password not accepted"), "{err}");
}

#[test]
fn probe_prints_its_final_error_once() {
    let dir = TempDir::new("probe-once");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = mailwire(&dir.0);
    cmd.args(["probe", &format!("127.0.0.1:{port}"), "--security", "none"]);
    let (code, out, err) = run_to_end(cmd);
    assert_eq!(code, Some(3), "{out}\n{err}");
    let all = format!("{out}\n{err}");
    assert_eq!(all.matches("nothing listens on port").count(), 1, "{all}");
}
