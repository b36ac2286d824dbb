//! Clients that misbehave at the socket: one that never reads a large
//! message, connections past the limit, a shutdown mid-session, a huge
//! APPEND refused before its data; and implicit TLS with imaplib.

mod support;

use imap_blocking::ServerOptions;
use session_server::test_support::{line, poll_until};
use std::fs;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::{config, python, start, tls, TempDir};

#[test]
fn a_client_that_never_reads_is_dropped() {
    let dir = TempDir::new("noread");
    let maildir = dir.maildir();
    fs::write(maildir.join("new/1.M1.big"), vec![b'x'; 24 << 20]).unwrap();
    let options = ServerOptions::new(config().with_plaintext_auth(true))
        .with_write_timeout(Duration::from_millis(500));
    let server = start(options, maildir);
    let mut client = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let mut greeting = [0u8; 4];
    client.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"* OK");
    assert_eq!(server.connections(), 1);
    client
        .write_all(b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1 BODY[]\r\n")
        .unwrap();
    assert!(
        poll_until(|| server.connections() == 0, Duration::from_secs(20)),
        "the connection was not dropped"
    );
    server.shutdown();
}

#[test]
fn connections_past_the_limit_are_refused() {
    let dir = TempDir::new("limit");
    let options = ServerOptions::new(config()).with_max_connections(1);
    let server = start(options, dir.maildir());
    let first = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let mut first = BufReader::new(first);
    assert!(line(&mut first).starts_with("* OK [CAPABILITY IMAP4rev1"));
    let second = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let mut second = BufReader::new(second);
    assert_eq!(
        line(&mut second),
        "* BYE [UNAVAILABLE] too many connections\r\n"
    );
    server.shutdown();
}

#[test]
fn shutdown_ends_sessions_and_a_huge_literal_is_refused_before_its_data() {
    let dir = TempDir::new("shutdown");
    let maildir = dir.maildir();
    let options = ServerOptions::new(config().with_plaintext_auth(true).with_max_literal(1 << 20));
    let server = start(options, maildir.clone());
    let stream = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    line(&mut reader);
    writer.write_all(b"a LOGIN alice secret\r\n").unwrap();
    assert!(line(&mut reader).starts_with("a OK"));
    writer
        .write_all(b"b APPEND INBOX {2000000000}\r\n")
        .unwrap();
    assert_eq!(line(&mut reader), "b NO [TOOBIG] literal too large\r\n");
    writer.write_all(b"c NOOP\r\n").unwrap();
    assert_eq!(line(&mut reader), "c OK NOOP completed\r\n");
    let started = Instant::now();
    server.shutdown();
    assert_eq!(line(&mut reader), "* BYE server shutting down\r\n");
    assert!(started.elapsed() < Duration::from_secs(5));
}

const IMAPS: &str = r#"
import imaplib, os, ssl
ctx = ssl.create_default_context(cafile=os.environ["CA"])
m = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PORT"]), ssl_context=ctx, timeout=20)
assert "STARTTLS" not in m.capabilities and "AUTH=PLAIN" in m.capabilities, m.capabilities
m.authenticate("PLAIN", lambda _: b"\0alice\0secret")
typ, data = m.select("INBOX"); print("exists", data[0].decode())
typ, data = m.fetch("1", "(RFC822)")
with open(os.path.join(os.environ["WORK"], "rfc822"), "wb") as f:
    f.write(data[0][1])
try:
    m2 = imaplib.IMAP4_SSL("127.0.0.1", int(os.environ["PORT"]), ssl_context=ctx, timeout=20)
    m2.login("alice", "wrong")
    raise SystemExit("a wrong password was accepted")
except imaplib.IMAP4.error as e:
    print("refused", e)
m.logout()
"#;

#[test]
fn implicit_tls_with_authenticate_plain() {
    let dir = TempDir::new("imaps");
    let maildir = dir.maildir();
    let body = b"Subject: over TLS\r\n\r\n\xe4\xb8\xad\r\n".to_vec();
    fs::write(maildir.join("new/1.M1.x"), &body).unwrap();
    let ca = dir.0.join("ca.pem");
    let options = ServerOptions::new(config()).with_implicit_tls(tls(&ca));
    let server = start(options, maildir);
    let out = python(
        IMAPS,
        &[
            ("PORT", server.local_addr().unwrap().port().to_string()),
            ("CA", ca.display().to_string()),
            ("WORK", dir.0.display().to_string()),
        ],
        Duration::from_secs(60),
    );
    assert!(out.contains("exists 1\n"), "{out}");
    assert!(
        out.contains("refused b'[AUTHENTICATIONFAILED] Invalid credentials'"),
        "{out}"
    );
    assert_eq!(fs::read(dir.0.join("rfc822")).unwrap(), body);
    server.shutdown();
}
