//! End to end with mpop (a POP3 client on GnuTLS and GNU SASL that we did
//! not write): it logs in, lists by UIDL, retrieves every message into its
//! own Maildir and deletes them on the server.

mod support;

use pop3_blocking::ServerOptions;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::{config, start, tls, TempDir};

fn messages() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "new/1700000000.M1P1.test",
            b"From: a@example.org\r\nSubject: one\r\n\r\nfirst line\r\n.leading dot\r\n".to_vec(),
        ),
        (
            "cur/1700000001.M2P1.test:2,S",
            [
                &b"From: b@example.org\r\nSubject: two\r\n\r\n"[..],
                "8bit: \u{4e2d}\u{6587}\r\n.\r\n..\r\n".as_bytes(),
            ]
            .concat(),
        ),
    ]
}

/// Runs mpop on the account in `conf`; fails with its output if it fails.
fn mpop(conf: &Path) -> String {
    let out = Command::new("mpop")
        .arg("-C")
        .arg(conf)
        .arg("test")
        .output()
        .expect("mpop is missing: run the tests through tests/run-all.sh, which installs it");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mpop failed: {text}");
    text
}

fn retrieve_with(tag: &str, starttls: bool, auth: &str) {
    let dir = TempDir::new(tag);
    let maildir = dir.maildir();
    for (path, body) in messages() {
        fs::write(maildir.join(path), body).unwrap();
    }
    let ca = dir.0.join("ca.pem");
    let options = if starttls {
        ServerOptions::new(config().with_stls(true)).with_tls(tls(&ca))
    } else {
        ServerOptions::new(config()).with_implicit_tls(tls(&ca))
    };
    let server = start(options, maildir.clone());
    let port = server.local_addr().unwrap().port();
    let out = dir.0.join("out");
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(out.join(sub)).unwrap();
    }
    let password = dir.0.join("password");
    fs::write(&password, "secret\n").unwrap();
    let conf = dir.0.join("mpoprc");
    fs::write(
        &conf,
        format!(
            "account test\nhost 127.0.0.1\nport {port}\ntimeout 20\ntls on\ntls_starttls {}\n\
             tls_trust_file {}\nauth {auth}\nuser alice\npasswordeval cat {}\n\
             delivery maildir {}\nkeep off\nreceived_header off\nuidls_file {}\n",
            if starttls { "on" } else { "off" },
            ca.display(),
            password.display(),
            out.display(),
            dir.0.join("uidls").display(),
        ),
    )
    .unwrap();
    // mpop refuses a configuration file others can read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&conf, fs::Permissions::from_mode(0o600)).unwrap();
    }
    mpop(&conf);
    let mut delivered: Vec<Vec<u8>> = fs::read_dir(out.join("new"))
        .unwrap()
        .map(|e| fs::read(e.unwrap().path()).unwrap())
        .collect();
    delivered.sort();
    // mpop stores messages with LF line endings; otherwise they are ours
    // byte for byte.
    let mut expected: Vec<Vec<u8>> = messages()
        .into_iter()
        .map(|(_, body)| {
            String::from_utf8(body)
                .unwrap()
                .replace("\r\n", "\n")
                .into_bytes()
        })
        .collect();
    expected.sort();
    assert_eq!(
        delivered
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect::<Vec<_>>(),
        expected
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect::<Vec<_>>()
    );
    // keep off: both were deleted at QUIT.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.connections() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(maildrop::Maildrop::scan(&maildir)
        .unwrap()
        .messages()
        .is_empty());
    server.shutdown();
}

#[test]
fn mpop_stls_sasl_plain() {
    retrieve_with("mpop-stls", true, "plain");
}

#[test]
fn mpop_implicit_tls_user_pass() {
    retrieve_with("mpop-tls", false, "user");
}
