//! ARC (RFC 8617) chains sealed by dkimpy (with `authres`), one and two hops, validate here;
//! a body changed after the newest hop, a broken seal and a missing set fail. Run through
//! `tests/run-all.sh` (tests/setup/60-mail-auth.sh installs dkimpy and authres).

use std::io::Write as _;
use std::process::{Command, Stdio};

use mailwire_auth::arc::ArcResult;
use mailwire_auth::dkim::{DkimVerifier, SigningKey};
use mailwire_auth::MemoryResolver;

const RSA_PEM: &str = include_str!("data/rsa1024.pem");

/// Seals stdin as one ARC hop: argv = key file, selector, domain, authserv-id.
const SEAL: &str = r#"
import sys, dkim
key, sel, dom, srv = sys.argv[1:5]
msg = sys.stdin.buffer.read()
fields = dkim.arc_sign(msg, sel.encode(), dom.encode(), open(key, "rb").read(), srv.encode())
sys.stdout.buffer.write(b"".join(fields) + msg)
"#;

fn seal(key: &std::path::Path, selector: &str, domain: &str, srv: &str, message: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SEAL)
        .arg(key)
        .args([selector, domain, srv])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (tests/run-all.sh installs it)");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dkimpy could not seal (run through tests/run-all.sh, which installs dkimpy and authres): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn check(message: &[u8], chunk: usize) -> ArcResult {
    let record = SigningKey::from_pem(RSA_PEM).unwrap().dns_record().unwrap();
    let dns = MemoryResolver::new()
        .txt("arc._domainkey.example.org", &record)
        .txt("arc2._domainkey.example.net", &record);
    let mut v = DkimVerifier::new();
    for c in message.chunks(chunk) {
        v.feed(c).unwrap();
    }
    v.finish().check_arc(&dns)
}

#[test]
fn dkimpy_chains_validate_and_tampering_fails() {
    let dir = std::env::temp_dir().join(format!("mailwire-auth-arc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("arc.pem");
    std::fs::write(&key, RSA_PEM).unwrap();
    let original = b"Authentication-Results: lists.example.org; arc=none; spf=pass smtp.mailfrom=example.com\r\n\
From: a@example.com\r\nTo: list@example.org\r\nSubject: hello\r\n\r\nThe body.\r\n";
    assert_eq!(check(original, 64), ArcResult::None);
    let one = seal(&key, "arc", "example.org", "lists.example.org", original);
    assert_eq!(check(&one, 1), ArcResult::Pass);
    assert_eq!(check(&one, 4096), ArcResult::Pass);
    let hop = [
        &b"Authentication-Results: relay.example.net; arc=pass\r\n"[..],
        &one,
    ]
    .concat();
    let two = seal(&key, "arc2", "example.net", "relay.example.net", &hop);
    assert_eq!(check(&two, 13), ArcResult::Pass);

    let text = String::from_utf8(two.clone()).unwrap();
    let body_changed = text.replace("The body.", "Another body.");
    assert!(
        matches!(check(body_changed.as_bytes(), 64), ArcResult::Fail(r) if r.contains("body hash"))
    );
    // The first hop's results rewritten: the seals cover them.
    let aar_changed = text.replace(
        "spf=pass smtp.mailfrom=example.com",
        "spf=fail smtp.mailfrom=example.com",
    );
    assert!(matches!(
        check(aar_changed.as_bytes(), 64),
        ArcResult::Fail(_)
    ));
    // The newest set removed: its seal is gone, so instance 2 is incomplete.
    let without_seal: String = {
        let mut lines = Vec::new();
        let mut skipping = false;
        for line in text.split_inclusive("\r\n") {
            if line.starts_with("ARC-Seal: i=2") {
                skipping = true;
                continue;
            }
            if skipping && (line.starts_with(' ') || line.starts_with('\t')) {
                continue;
            }
            skipping = false;
            lines.push(line);
        }
        lines.concat()
    };
    assert!(
        matches!(check(without_seal.as_bytes(), 64), ArcResult::Fail(r) if r.contains("incomplete")),
        "{without_seal}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
