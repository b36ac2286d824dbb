//! Clients that misbehave at the socket: one that never reads a large
//! message, connections past the limit, and a shutdown mid-session.

mod support;

use pop3_blocking::ServerOptions;
use session_server::test_support::{line, poll_until};
use std::fs;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::{config, start, TempDir};

#[test]
fn a_client_that_never_reads_is_dropped() {
    let dir = TempDir::new("noread");
    let maildir = dir.maildir();
    fs::write(maildir.join("new/1.M1.big"), vec![b'x'; 24 << 20]).unwrap();
    let options = ServerOptions::new(config().with_plaintext_auth(true))
        .with_write_timeout(Duration::from_millis(500));
    let server = start(options, maildir);
    let mut client = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    // The greeting proves the server accepted (and counts) the connection.
    let mut greeting = [0u8; 32];
    client.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"+OK pop.test POP3 server ready\r\n");
    assert_eq!(server.connections(), 1);
    client
        .write_all(b"USER alice\r\nPASS secret\r\nRETR 1\r\n")
        .unwrap();
    // Never read: the server's writes block, time out, and it hangs up.
    assert!(
        poll_until(|| server.connections() == 0, Duration::from_secs(20)),
        "the connection was not dropped"
    );
    // What did reach the socket is a truncated response, never a final dot.
    let mut received = Vec::new();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = client.read_to_end(&mut received);
    // Loopback buffers hold megabytes, so part of it did arrive.
    assert!(
        received.len() < (24 << 20),
        "{} octets arrived",
        received.len()
    );
    assert!(!received.ends_with(b"\r\n.\r\n"));
    server.shutdown();
}

#[test]
fn connections_past_the_limit_are_refused() {
    let dir = TempDir::new("limit");
    let options = ServerOptions::new(config()).with_max_connections(1);
    let server = start(options, dir.maildir());
    let first = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let mut first = BufReader::new(first);
    assert!(line(&mut first).starts_with("+OK pop.test POP3 server ready"));
    let second = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let mut second = BufReader::new(second);
    assert_eq!(
        line(&mut second),
        "-ERR [SYS/TEMP] too many connections\r\n"
    );
    server.shutdown();
}

#[test]
fn shutdown_ends_sessions_without_deleting() {
    let dir = TempDir::new("shutdown");
    let maildir = dir.maildir();
    fs::write(maildir.join("new/1.M1.x"), b"Subject: x\r\n\r\nx\r\n").unwrap();
    let options = ServerOptions::new(config().with_plaintext_auth(true));
    let server = start(options, maildir.clone());
    let stream = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    line(&mut reader);
    writer
        .write_all(b"USER alice\r\nPASS secret\r\nDELE 1\r\n")
        .unwrap();
    line(&mut reader);
    line(&mut reader);
    assert_eq!(line(&mut reader), "+OK message 1 deleted\r\n");
    let started = Instant::now();
    server.shutdown();
    assert_eq!(
        line(&mut reader),
        "-ERR [SYS/TEMP] server shutting down\r\n"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(maildir.join("new/1.M1.x").exists());
}
