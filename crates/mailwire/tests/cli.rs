//! Runs the built `mailwire` binary in a temporary directory.
//!
//! Every child process is waited for with a deadline and killed when it
//! overruns, so a hang fails the test instead of stalling the suite.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::{mailwire, run, TempDir, LIMIT};

/// Kills the child when dropped (a test that panics leaves no process behind).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The files in `maildir/new`.
fn new_messages(maildir: &Path) -> Vec<PathBuf> {
    match fs::read_dir(maildir.join("new")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn send_without_a_server_stores_one_message_in_the_local_maildir() {
    let dir = TempDir::new("local");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--from",
        "me@example.com",
        "--to",
        "you@example.com",
        "--subject",
        "Hello from the test",
        "--text",
        "Hi there, body text",
    ]);
    let output = run(cmd);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let maildir = dir.0.join("mailwire-mail");
    let files = new_messages(&maildir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(fs::read_dir(maildir.join("tmp")).unwrap().next().is_none());
    let stored = text(&fs::read(&files[0]).unwrap());
    assert!(stored.starts_with("Received: "), "{stored}");
    assert!(stored.contains("Subject: Hello from the test"), "{stored}");
    assert!(stored.contains("Hi there, body text"), "{stored}");
    assert!(stored.contains("Message-ID: <"), "{stored}");
    // It prints the stored file's path.
    let printed = text(&output.stdout);
    let name = files[0].file_name().unwrap().to_str().unwrap();
    let line = printed.trim();
    assert!(line.ends_with(name), "{printed}");
    assert!(dir.0.join(line).is_file(), "{printed}");
}

#[test]
fn dry_run_prints_the_envelope_and_the_message_and_connects_nowhere() {
    let dir = TempDir::new("dry");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--from",
        "Me <me@example.com>",
        "--to",
        "you@example.com",
        "--bcc",
        "hidden@example.org",
        "--subject",
        "Dry",
        "--text",
        "Only printed",
        "--header",
        "X-Test: yes",
        // Nothing listens here; a dry run must not try.
        "--server",
        "127.0.0.1:1",
        "--dry-run",
    ]);
    let output = run(cmd);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed = text(&output.stdout);
    // The envelope as the core's encoder writes it, SIZE included: the
    // message's exact length.
    let (envelope, message) = printed.split_once("\n\n").unwrap();
    // (A message that does not end with a line break gets one on screen.)
    let len = message.len() - usize::from(!message.ends_with("\r\n"));
    let size = format!("MAIL FROM:<me@example.com> SIZE={len}\n");
    assert!(envelope.starts_with(size.trim_end()), "{printed}");
    assert!(printed.contains("RCPT TO:<you@example.com>\n"), "{printed}");
    assert!(
        printed.contains("RCPT TO:<hidden@example.org>\n"),
        "{printed}"
    );
    assert!(printed.contains("Subject: Dry\r\n"), "{printed}");
    assert!(printed.contains("X-Test: yes\r\n"), "{printed}");
    assert!(printed.contains("Only printed"), "{printed}");
    assert!(!printed.contains("Bcc:"), "{printed}");
    assert!(!dir.0.join("mailwire-mail").exists());
}

#[test]
fn serve_stores_what_send_delivers_over_smtp() {
    let dir = TempDir::new("serve");
    let maildir = dir.0.join("served");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut serve = mailwire(&dir.0);
    serve
        .args(["serve", "--listen", &listen, "--maildir"])
        .arg(&maildir)
        .stderr(Stdio::null());
    let mut server = Guard(serve.spawn().unwrap());
    let log = server.0.stdout.take().unwrap();
    let addr: SocketAddr = listen.parse().unwrap();
    let deadline = Instant::now() + LIMIT;
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(Instant::now() < deadline, "serve did not listen on {addr}");
        thread::sleep(Duration::from_millis(50));
    }

    let mut send = mailwire(&dir.0);
    send.args([
        "send",
        "--from",
        "me@example.com",
        "--to",
        "you@example.com",
        "--cc",
        "copy@example.net",
        "--subject",
        "Over the wire",
        "--text",
        "Delivered by SMTP",
        "--server",
        &listen,
        "--security",
        "none",
    ]);
    let output = run(send);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let files = new_messages(&maildir);
    assert_eq!(files.len(), 1, "{files:?}");
    let stored = text(&fs::read(&files[0]).unwrap());
    // The client names itself by this machine's host name.
    assert!(stored.starts_with("Received: from "), "{stored}");
    assert!(stored.contains("([127.0.0.1])"), "{stored}");
    assert!(stored.contains("Subject: Over the wire"), "{stored}");
    assert!(stored.contains("Delivered by SMTP"), "{stored}");
    // The queue id the client reports is the stored file's name.
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(
        text(&output.stdout).contains(name),
        "{}",
        text(&output.stdout)
    );
    // The sender's own directory got no local Maildir.
    assert!(!dir.0.join("mailwire-mail").exists());
    // serve logged one line for the message.
    drop(server);
    let mut logged = String::new();
    let mut log = log;
    log.read_to_string(&mut logged).unwrap();
    let stored_lines: Vec<&str> = logged
        .lines()
        .filter(|l| l.starts_with("stored "))
        .collect();
    assert_eq!(stored_lines.len(), 1, "{logged}");
    assert!(stored_lines[0].contains(name), "{logged}");
}

#[test]
fn missing_to_is_a_usage_error() {
    let dir = TempDir::new("usage");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--from",
        "me@example.com",
        "--subject",
        "x",
        "--text",
        "y",
    ]);
    let output = run(cmd);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("--to"));
    assert!(!dir.0.join("mailwire-mail").exists());
}

#[test]
fn an_unreachable_server_is_a_connect_failure() {
    let dir = TempDir::new("refused");
    let port = free_port();
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "send",
        "--from",
        "me@example.com",
        "--to",
        "you@example.com",
        "--subject",
        "x",
        "--text",
        "y",
        "--server",
        &format!("127.0.0.1:{port}"),
        "--security",
        "none",
    ]);
    let output = run(cmd);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
}

#[test]
fn a_message_over_the_size_limit_is_rejected() {
    let dir = TempDir::new("reject");
    let maildir = dir.0.join("served");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut serve = mailwire(&dir.0);
    serve
        .args([
            "serve",
            "--listen",
            &listen,
            "--max-size",
            "1000",
            "--maildir",
        ])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _server = Guard(serve.spawn().unwrap());
    let addr: SocketAddr = listen.parse().unwrap();
    let deadline = Instant::now() + LIMIT;
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(Instant::now() < deadline, "serve did not listen on {addr}");
        thread::sleep(Duration::from_millis(50));
    }
    let big = "x".repeat(5000);
    let mut send = mailwire(&dir.0);
    send.args([
        "send",
        "--from",
        "me@example.com",
        "--to",
        "you@example.com",
        "--subject",
        "Too big",
        "--text",
        &big,
        "--server",
        &listen,
        "--security",
        "none",
    ]);
    let output = run(send);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    assert!(new_messages(&maildir).is_empty());
}

/// A reader that goes away before the output ends (`mailwire … | head -1`)
/// loses the rest of the output, and the command still succeeds quietly
/// after doing its work, as it would when printing to a terminal.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let dir = TempDir::new("closed-pipe");
    let mut cmd = mailwire(&dir.0);
    cmd.args([
        "dkim",
        "keygen",
        "--domain",
        "example.com",
        "--selector",
        "s1",
    ]);
    let mut child = cmd.spawn().unwrap();
    // Nobody reads: the first write after this fails with a closed pipe.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The work was done all the same.
    assert!(dir.0.join("s1.example.com.pem").is_file());
}
