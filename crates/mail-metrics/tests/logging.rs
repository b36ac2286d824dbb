//! `logging::init` in a child process (this test binary run again): the
//! message event reaches stderr as one JSON object per line that Python's
//! `json` reads back with every field, hostile envelope values included;
//! the plain format keeps each event on one line; `MAILWIRE_LOG` filters.

use mail_metrics::logging::{self, LogFormat, MessageLog};
use std::process::Command;

const CHILD: &str = "MAIL_METRICS_LOGGING_CHILD";

/// In the child: set up logging as asked and emit one message event and
/// one debug event.
fn child(format: &str) {
    let format: LogFormat = format.parse().unwrap();
    logging::init(format).unwrap();
    assert!(logging::init(format).is_err(), "a second init is refused");
    let recipients = vec!["bob@example.org".to_owned(), "carol@example.org".to_owned()];
    MessageLog {
        queue_id: "Q1A2B3",
        listener: "smtp",
        client: "192.0.2.7",
        helo: "evil\"\n{\"injected\":true}",
        mail_from: "alice@example.com",
        recipients: &recipients,
        user: None,
        size: 4321,
        outcome: "accepted",
        reply: "250 2.0.0 Ok: queued as Q1A2B3",
        auth_results: Some("spf=pass dkim=pass dmarc=pass"),
        filters: "size=accept clamd=accept",
        reply_ms: 12,
    }
    .emit();
    tracing::debug!("not shown at the default level");
}

fn run_child(format: &str, filter: Option<&str>) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD, format);
    match filter {
        Some(f) => cmd.env("MAILWIRE_LOG", f),
        None => cmd.env_remove("MAILWIRE_LOG"),
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn child_entry() {
    if let Ok(format) = std::env::var(CHILD) {
        child(&format);
    }
}

#[test]
fn json_lines_carry_every_field_and_survive_hostile_values() {
    let stderr = run_child("json", None);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let script = r#"
import json, sys
event = json.loads(sys.stdin.read())
f = event["fields"]
assert event["level"] == "INFO", event
assert event["target"] == "mailwire::message", event
assert event["timestamp"][:2] == "20", event
assert f["message"] == "message"
assert f["queue_id"] == "Q1A2B3"
assert f["helo"] == 'evil"\n{"injected":true}', f["helo"]
assert f["recipients"] == "bob@example.org,carol@example.org"
assert f["rcpt_count"] == 2 and f["size"] == 4321 and f["reply_ms"] == 12
assert f["user"] == "" and f["outcome"] == "accepted"
assert f["auth_results"] == "spf=pass dkim=pass dmarc=pass"
assert f["filters"] == "size=accept clamd=accept"
assert f["reply"].startswith("250 ")
print("ok")
"#;
    let mut python = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (tests/run-all.sh installs it)");
    use std::io::Write;
    python
        .stdin
        .take()
        .unwrap()
        .write_all(lines[0].as_bytes())
        .unwrap();
    let out = python.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}\n{}",
        lines[0],
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plain_lines_stay_one_per_event_and_the_filter_applies() {
    let stderr = run_child("plain", None);
    let events: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("mailwire::message"))
        .collect();
    assert_eq!(events.len(), 1, "{stderr}");
    // The helo's line feed is escaped: the event is the only line.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        events[0].contains("queue_id=\"Q1A2B3\"") || events[0].contains("queue_id=Q1A2B3"),
        "{}",
        events[0]
    );
    assert!(!stderr.contains("not shown"));

    let debug = run_child("plain", Some("debug"));
    assert!(debug.contains("not shown at the default level"), "{debug}");
    let quiet = run_child("json", Some("warn"));
    assert!(!quiet.contains("Q1A2B3"), "{quiet}");
}
