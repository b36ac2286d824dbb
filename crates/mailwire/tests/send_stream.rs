//! `mailwire send` streams attachments from disk: a file much larger than
//! the memory the process may use is still sent whole.

mod common;

use common::{run_to_end, FakeServer, TempDir};
use std::process::{Command, Stdio};

#[test]
fn an_attachment_larger_than_the_allowed_heap_is_streamed_whole() {
    let dir = TempDir::new("send-stream");
    let file = dir.0.join("big.bin");
    // 48 MB of attachment, 64 MB of base64, under a 24 MiB data limit:
    // holding either whole would fail the allocation.
    std::fs::write(&file, vec![0x5a; 48_000_000]).unwrap();
    let server = FakeServer::discard();
    let mut cmd = Command::new("bash");
    cmd.current_dir(&dir.0)
        .args(["-c", "ulimit -d 24576 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_mailwire"))
        .args(["send", "--security", "none", "--from", "a@b.example"])
        .args(["--to", "c@d.example", "--text", "see attached", "--server"])
        .arg(server.addr.to_string())
        .arg("--attach")
        .arg(&file)
        .env_remove("MAILWIRE_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (code, out, err) = run_to_end(cmd);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let seen = server.finish();
    assert_eq!(seen.body_bytes.len(), 1, "{seen:?}");
    // 48 MB in base64 (4/3, plus CRLF every 76 columns) and the headers.
    let body = seen.body_bytes[0];
    assert!(body > 64_000_000 && body < 66_000_000, "{body}");
}

#[test]
fn dry_run_into_a_pipe_closed_early_ends_quietly() {
    use std::io::Read;
    let dir = TempDir::new("send-dry-pipe");
    let file = dir.0.join("one-mb.bin");
    std::fs::write(&file, vec![1; 1_000_000]).unwrap();
    let mut cmd = common::mailwire(&dir.0);
    cmd.args(["send", "--from", "a@b.example", "--to", "c@d.example"])
        .args(["--text", "x", "--dry-run", "--attach"])
        .arg(&file);
    let mut child = cmd.spawn().unwrap();
    // Read the first line, as `| head -1` would, and close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(first.starts_with(b"MAIL FROM:<a@b.example>"));
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}
