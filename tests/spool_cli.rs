//! The spool's commands as a user runs them: `send --queue`, `queue`,
//! `deliver` (with its metrics endpoint and a graceful stop on SIGTERM) and
//! `bulk` (dry run, bad input, resuming without sending anyone twice),
//! against Postfix's smtp-sink.

use mailwire_tests::peers::{free_port, require, run_bounded, wait_greeting, Finished};
use mailwire_tests::serve::{mailwire_binary, TempDir};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// smtp-sink dumping each message into `dump`.
fn sink(dump: &Path) -> (Peer, u16) {
    let program = require(
        "smtp-sink",
        "install Postfix without starting it (see tests/run-all.sh)",
    );
    std::fs::create_dir_all(dump).unwrap();
    let _ = Command::new("chmod").arg("777").arg(dump).status();
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut cmd = Command::new(program);
    if is_root() {
        cmd.args(["-u", "nobody"]);
    }
    cmd.arg("-d")
        .arg(format!("{}/%H%M%S.", dump.display()))
        .arg(addr.to_string())
        .arg("100");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_greeting(&mut child, addr, "smtp-sink"));
    (Peer(child), port)
}

fn dumped(dump: &Path) -> Vec<String> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dump).into_iter().flatten().flatten() {
        all.push(std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    all
}

fn mailwire(dir: &Path, args: &[&str]) -> Finished {
    let mut cmd = Command::new(mailwire_binary());
    cmd.current_dir(dir).args(args).env("MAILWIRE_LOG", "warn");
    run_bounded(cmd, Duration::from_secs(60))
}

#[test]
fn send_queue_then_deliver_then_show() {
    let dir = TempDir::new("cli-queue");
    let (_sink, port) = sink(&dir.0.join("dump"));
    let queued = mailwire(
        &dir.0,
        &[
            "send",
            "--queue",
            "--from",
            "a@sender.test",
            "--to",
            "b@dest.test",
            "--subject",
            "queued",
            "--text",
            "hello",
        ],
    );
    assert!(queued.status.success(), "{}", queued.printed());
    let id = queued.stdout.trim().to_owned();
    assert_eq!(id.len(), 12, "a queue id: {}", queued.printed());
    let list = mailwire(&dir.0, &["queue", "list"]);
    assert!(
        list.stdout.contains(&id) && list.stdout.contains("1 queued"),
        "{}",
        list.printed()
    );
    let server = format!("127.0.0.1:{port}");
    let run = mailwire(
        &dir.0,
        &[
            "deliver",
            "--server",
            &server,
            "--security",
            "none",
            "--until-idle",
        ],
    );
    assert!(run.status.success(), "{}", run.printed());
    assert!(
        run.stdout.contains("delivered 1, deferred 0, failed 0"),
        "{}",
        run.printed()
    );
    let show = mailwire(&dir.0, &["queue", "show", &id]);
    assert!(
        show.stdout.contains("<b@dest.test>: delivered"),
        "{}",
        show.printed()
    );
    assert!(
        show.stdout.contains("last reply: 250"),
        "{}",
        show.printed()
    );
    let stats = mailwire(&dir.0, &["queue", "stats"]);
    assert!(stats.stdout.contains("delivered: 1"), "{}", stats.printed());
    let purge = mailwire(&dir.0, &["queue", "purge"]);
    assert!(purge.stdout.contains("removed 1"), "{}", purge.printed());
    let missing = mailwire(&dir.0, &["queue", "show", &id]);
    assert_eq!(missing.status.code(), Some(2), "{}", missing.printed());
    assert!(
        missing.stderr.contains("no message"),
        "{}",
        missing.printed()
    );
    let bad = mailwire(&dir.0, &["queue", "show", "not-an-id"]);
    assert_eq!(bad.status.code(), Some(2), "{}", bad.printed());
    assert_eq!(dumped(&dir.0.join("dump")).len(), 1);
}

fn http_get(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn deliver_serves_metrics_and_stops_gracefully_on_sigterm() {
    let dir = TempDir::new("cli-deliver");
    let (_sink, port) = sink(&dir.0.join("dump"));
    for n in 0..3 {
        let to = format!("u{n}@dest.test");
        let q = mailwire(
            &dir.0,
            &[
                "send",
                "--queue",
                "--from",
                "a@sender.test",
                "--to",
                &to,
                "--text",
                "x",
            ],
        );
        assert!(q.status.success(), "{}", q.printed());
    }
    let metrics_port = free_port();
    let metrics = format!("127.0.0.1:{metrics_port}");
    let mut child = Command::new(mailwire_binary())
        .current_dir(&dir.0)
        .args([
            "deliver",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--security",
            "none",
            "--metrics",
            &metrics,
        ])
        .env("MAILWIRE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = TcpStream::connect(&metrics)
            .ok()
            .map(|_| http_get(&metrics))
            .unwrap_or_default();
        if text.contains("mailwire_queue_recipients{state=\"delivered\"} 3") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed 3 delivered: {text}"
        );
        thread::sleep(Duration::from_millis(100));
    };
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(
        text.contains("mailwire_deliveries_total{outcome=\"delivered\",destination=\"127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("mailwire_attempt_duration_seconds_count 3"),
        "{text}"
    );
    // SIGTERM: a graceful stop, exit 0 with the totals.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "deliver did not stop on SIGTERM");
        thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(status.success(), "{status}: {stdout}");
    assert!(stdout.contains("delivered 3"), "{stdout}");
}

#[test]
fn bulk_fills_templates_and_resuming_sends_nobody_twice() {
    let dir = TempDir::new("cli-bulk");
    let dump = dir.0.join("dump");
    let (_sink, port) = sink(&dump);
    let csv = dir.0.join("people.csv");
    std::fs::write(&csv, "email,name,plan\r\na@dest.test,Ann,gold\r\nb@dest.test,\"Bo, Jr.\",free\r\nc@dest.test,Cy,gold\r\n").unwrap();
    let server = format!("127.0.0.1:{port}");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "bulk",
            "--recipients",
            "people.csv",
            "--from",
            "news@sender.test",
            "--subject",
            "Hi {{name}}",
            "--text",
            "Dear {{ name }}, your plan is {{plan}}.",
            "--server",
            &server,
            "--security",
            "none",
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        mailwire(&dir.0, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let dry = run(&["--dry-run"]);
    assert!(dry.status.success(), "{}", dry.printed());
    assert!(
        dry.stdout.contains("Subject: Hi Ann")
            && dry.stdout.contains("3 message(s) would be queued"),
        "{}",
        dry.printed()
    );
    assert!(dumped(&dump).is_empty(), "a dry run sends nothing");
    // An interrupted run: queued but not sent.
    let first = run(&["--queue-only"]);
    assert!(
        first.stdout.contains("queued 3 message(s)"),
        "{}",
        first.printed()
    );
    let second = run(&[]);
    assert!(second.status.success(), "{}", second.printed());
    assert!(
        second.stdout.contains("queued 0 message(s)")
            && second.stdout.contains("(3 were already queued)"),
        "{}",
        second.printed()
    );
    assert!(
        second.stdout.contains("summary: 3 delivered, 0 deferred"),
        "{}",
        second.printed()
    );
    let third = run(&[]);
    assert!(
        third.stdout.contains("summary: 3 delivered"),
        "{}",
        third.printed()
    );
    let messages = dumped(&dump);
    assert_eq!(messages.len(), 3, "resuming sent nobody twice");
    let all = messages.join("\n");
    assert!(all.contains("Dear Bo, Jr., your plan is free."), "{all}");
    assert!(all.contains("Subject: Hi Cy"), "{all}");
    // Bad input stops before anything is queued, naming the problem.
    std::fs::write(dir.0.join("bad.csv"), "email,name\r\nx@dest.test\r\n").unwrap();
    let bad = mailwire(
        &dir.0,
        &[
            "bulk",
            "--recipients",
            "bad.csv",
            "--from",
            "n@s.test",
            "--text",
            "x",
            "--server",
            &server,
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", bad.printed());
    assert!(bad.stderr.contains("CSV line 2"), "{}", bad.printed());
    let unknown = mailwire(
        &dir.0,
        &[
            "bulk",
            "--recipients",
            "people.csv",
            "--from",
            "n@s.test",
            "--subject",
            "{{nickname}}",
            "--text",
            "x",
            "--server",
            &server,
        ],
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", unknown.printed());
    assert!(unknown.stderr.contains("nickname"), "{}", unknown.printed());
}
