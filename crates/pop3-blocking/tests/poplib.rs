//! End to end with Python's poplib: STLS, USER/PASS, UIDL, TOP, RETR
//! byte for byte, DELE applied only at QUIT, refused logins, IN-USE.

mod support;

use pop3_blocking::ServerOptions;
use std::fs;
use std::time::Duration;
use support::{config, python, start, tls, TempDir};

const LIMIT: Duration = Duration::from_secs(60);

fn messages() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "new/1700000000.M1P1.test",
            b"From: a@example.org\r\nSubject: one\r\n\r\nfirst line\r\nsecond line\r\n".to_vec(),
        ),
        (
            "cur/1700000001.M2P1.test:2,S",
            [
                &b"From: b@example.org\r\nSubject: =?UTF-8?B?5rWL6K+V?=\r\n\r\n"[..],
                b".starts with a dot\r\n..two dots\r\n.\r\n",
                "8bit: \u{4e2d}\u{6587}\r\n".as_bytes(),
            ]
            .concat(),
        ),
        (
            "new/1700000002.M3P1.test",
            b"Subject: three\r\n\r\nbody\r\n".to_vec(),
        ),
    ]
}

const SCRIPT: &str = r#"
import os, poplib, ssl
port = int(os.environ["PORT"]); work = os.environ["WORK"]
ctx = ssl.create_default_context(cafile=os.environ["CA"])
p = poplib.POP3("127.0.0.1", port, timeout=20)
assert p.getwelcome().startswith(b"+OK pop.test POP3 server ready"), p.getwelcome()
caps = p.capa()
assert "STLS" in caps and "USER" not in caps, caps
try:
    p.user("alice")
    raise SystemExit("USER accepted before TLS")
except poplib.error_proto as e:
    assert b"[AUTH]" in e.args[0], e
p.stls(context=ctx)
caps = p.capa()
assert "USER" in caps and "STLS" not in caps and "UIDL" in caps and "TOP" in caps, caps
p.user("alice")
p.pass_(os.environ["PASSWORD"])
count, size = p.stat()
print("stat", count, size)
resp, listing, _ = p.uidl()
for line in listing:
    print("uidl", line.decode())
for i in range(1, count + 1):
    resp, lines, octets = p.retr(i)
    with open(os.path.join(work, "retr-%d" % i), "wb") as f:
        f.write(b"\r\n".join(lines) + b"\r\n")
resp, lines, octets = p.top(2, 1)
with open(os.path.join(work, "top-2-1"), "wb") as f:
    f.write(b"\r\n".join(lines) + b"\r\n")
p.dele(2)
try:
    p.retr(2)
    raise SystemExit("a deleted message was retrieved")
except poplib.error_proto:
    pass
print("quit", p.quit().decode())
"#;

#[test]
fn poplib_stls_uidl_top_retr_dele_quit() {
    let dir = TempDir::new("stls");
    let maildir = dir.maildir();
    for (path, body) in messages() {
        fs::write(maildir.join(path), body).unwrap();
    }
    let ca = dir.0.join("ca.pem");
    let options = ServerOptions::new(config().with_stls(true)).with_tls(tls(&ca));
    let server = start(options, maildir.clone());
    let port = server.local_addr().unwrap().port();
    let out = python(
        SCRIPT,
        &[
            ("PORT", port.to_string()),
            ("CA", ca.display().to_string()),
            ("WORK", dir.0.display().to_string()),
            ("PASSWORD", "secret".to_owned()),
        ],
        LIMIT,
    );
    let total: usize = messages().iter().map(|(_, b)| b.len()).sum();
    assert!(out.contains(&format!("stat 3 {total}\n")), "{out}");
    assert!(out.contains("uidl 1 1700000000.M1P1.test\n"), "{out}");
    assert!(out.contains("uidl 2 1700000001.M2P1.test\n"), "{out}");
    assert!(out.contains("uidl 3 1700000002.M3P1.test\n"), "{out}");
    assert!(
        out.contains("quit +OK pop.test POP3 server signing off (2 messages left)"),
        "{out}"
    );
    for (i, (_, body)) in messages().iter().enumerate() {
        let got = fs::read(dir.0.join(format!("retr-{}", i + 1))).unwrap();
        assert_eq!(&got, body, "message {} byte for byte", i + 1);
    }
    assert_eq!(
        fs::read(dir.0.join("top-2-1")).unwrap(),
        b"From: b@example.org\r\nSubject: =?UTF-8?B?5rWL6K+V?=\r\n\r\n.starts with a dot\r\n"
    );
    // Message 2 is gone; the others stay.
    assert!(!maildir.join("cur/1700000001.M2P1.test:2,S").exists());
    assert!(maildir.join("new/1700000000.M1P1.test").exists());
    assert!(maildir.join("new/1700000002.M3P1.test").exists());
    server.shutdown();
}

#[test]
fn dele_without_quit_deletes_nothing_and_the_maildrop_is_locked() {
    let dir = TempDir::new("noquit");
    let maildir = dir.maildir();
    for (path, body) in messages() {
        fs::write(maildir.join(path), body).unwrap();
    }
    let ca = dir.0.join("ca.pem");
    let options = ServerOptions::new(config()).with_implicit_tls(tls(&ca));
    let server = start(options, maildir.clone());
    let script = r#"
import os, poplib, ssl, time
port = int(os.environ["PORT"])
ctx = ssl.create_default_context(cafile=os.environ["CA"])
p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=20)
p.user("alice"); p.pass_("secret")
p.dele(1); p.dele(3)
q = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=20)
q.user("alice")
try:
    q.pass_("secret")
    raise SystemExit("a locked maildrop was opened twice")
except poplib.error_proto as e:
    assert b"[IN-USE]" in e.args[0], e
q.quit()
t = time.monotonic()
r = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=20)
r.user("alice")
try:
    r.pass_("wrong")
    raise SystemExit("a wrong password was accepted")
except poplib.error_proto as e:
    assert b"[AUTH]" in e.args[0], e
assert time.monotonic() - t >= 0.3, "the refusal was not delayed"
r.quit()
p.sock.close()   # drop the connection without QUIT
print("ok")
"#;
    let out = python(
        script,
        &[
            ("PORT", server.local_addr().unwrap().port().to_string()),
            ("CA", ca.display().to_string()),
        ],
        LIMIT,
    );
    assert_eq!(out, "ok\n");
    // The server notices the dropped connection; nothing was deleted.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.connections() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.connections(), 0);
    assert_eq!(
        maildrop::Maildrop::scan(&maildir).unwrap().messages().len(),
        3
    );
    server.shutdown();
}
