//! The async POP3 server on smol and on async-std, with Python's poplib:
//! STLS and implicit TLS, USER/PASS, LIST, UIDL, RETR byte for byte, DELE
//! applied at QUIT, a limited login refused unchecked; and shutdown.

mod support;

use session_futures::Pop3Options;
use smtp_futures::Runtime;
use std::fs;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use support::*;

const SCRIPT: &str = r#"
import os, poplib, ssl
port = int(os.environ["PORT"]); work = os.environ["WORK"]
ctx = ssl.create_default_context(cafile=os.environ["CA"])
if os.environ["MODE"] == "implicit":
    p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=20)
else:
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    assert "STLS" in p.capa()
    p.stls(context=ctx)
p.user("mallory")
try:
    p.pass_("anything")
    raise SystemExit("a limited login was accepted")
except poplib.error_proto as e:
    print("limited", e.args[0].decode())
p.user("alice")
p.pass_("secret")
count, size = p.stat()
print("stat", count, size)
print("list", " ".join(l.decode() for l in p.list()[1]))
for line in p.uidl()[1]:
    print("uidl", line.decode())
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    with open(os.path.join(work, "retr-%d" % i), "wb") as f:
        f.write(b"\r\n".join(lines) + b"\r\n")
p.dele(2)
print("quit", p.quit().decode())
"#;

fn poplib<R: Runtime>(implicit: bool) {
    let dir = temp_dir::<R>(if implicit { "a-pop3s" } else { "a-pop3" });
    let maildir = filled(&dir);
    let ca = dir.0.join("ca.pem");
    let options = if implicit {
        Pop3Options::new(pop3_config()).with_implicit_tls(tls(&ca))
    } else {
        Pop3Options::new(pop3_config().with_stls(true)).with_tls(tls(&ca))
    };
    let server = pop3::<R>(options, maildir.clone());
    let out = python(
        SCRIPT,
        &[
            ("PORT", server.local_addr().port().to_string()),
            ("CA", ca.display().to_string()),
            ("WORK", dir.0.display().to_string()),
            (
                "MODE",
                if implicit { "implicit" } else { "stls" }.to_owned(),
            ),
        ],
        LIMIT,
    );
    assert!(
        out.contains("limited -ERR [AUTH] too many failed logins, try again later\n"),
        "{out}"
    );
    let sizes: Vec<usize> = messages().iter().map(|(_, b)| b.len()).collect();
    let total: usize = sizes.iter().sum();
    assert!(out.contains(&format!("stat 3 {total}\n")), "{out}");
    assert!(
        out.contains(&format!(
            "list 1 {} 2 {} 3 {}\n",
            sizes[0], sizes[1], sizes[2]
        )),
        "{out}"
    );
    assert!(out.contains("uidl 2 1700000001.M2P1.test\n"), "{out}");
    assert!(
        out.contains("quit +OK pop.test POP3 server signing off (2 messages left)"),
        "{out}"
    );
    for (i, (_, body)) in messages().iter().enumerate() {
        let got = fs::read(dir.0.join(format!("retr-{}", i + 1))).unwrap();
        assert_eq!(&got, body, "message {} byte for byte", i + 1);
    }
    assert!(!maildir.join("cur/1700000001.M2P1.test:2,S").exists());
    assert!(maildir.join("new/1700000000.M1P1.test").exists());
    stop(server);
}

#[test]
fn smol_poplib_stls() {
    poplib::<Smol>(false);
}

#[test]
fn smol_poplib_implicit_tls() {
    poplib::<Smol>(true);
}

#[test]
fn async_std_poplib_stls() {
    poplib::<AsyncStd>(false);
}

#[test]
fn async_std_poplib_implicit_tls() {
    poplib::<AsyncStd>(true);
}

/// A session open at shutdown is told `-ERR [SYS/TEMP]` and nothing it
/// marked is deleted.
fn shutdown_mid_session<R: Runtime>() {
    let dir = temp_dir::<R>("a-pop3-shutdown");
    let maildir = filled(&dir);
    let server = pop3::<R>(
        Pop3Options::new(pop3_config().with_plaintext_auth(true)),
        maildir.clone(),
    );
    let stream = TcpStream::connect(server.local_addr()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    assert!(line(&mut reader).starts_with("+OK pop.test"));
    writer
        .write_all(b"USER alice\r\nPASS secret\r\nDELE 1\r\n")
        .unwrap();
    for _ in 0..3 {
        assert!(line(&mut reader).starts_with("+OK"));
    }
    assert_eq!(server.active_connections(), 1);
    stop(server);
    assert!(line(&mut reader).starts_with("-ERR [SYS/TEMP]"));
    assert!(maildir.join("new/1700000000.M1P1.test").exists());
}

#[test]
fn smol_shutdown_mid_session() {
    shutdown_mid_session::<Smol>();
}

#[test]
fn async_std_shutdown_mid_session() {
    shutdown_mid_session::<AsyncStd>();
}
