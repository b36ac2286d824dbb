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
