//! The servers' resource bounds against hostile raw sockets, for every
//! server adapter: one client address cannot take every slot, and a client
//! that sends commands but never reads their replies cannot make the
//! server queue replies without end.

use mailwire_adapter_tests::{
    bounded, connect_from, server_config, start_server_limited, Kind, Recorder, Security, KINDS,
};
use smtp_adapter::Limits;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// The first reply line the server sends.
fn first_line(stream: &mut TcpStream) -> String {
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn limits(all: usize, per_ip: usize) -> Limits {
    let mut limits = Limits::default();
    limits.max_connections = all;
    limits.max_connections_per_ip = per_ip;
    limits
}

#[test]
fn one_client_address_cannot_take_every_slot() {
    bounded(LIMIT, || {
        for kind in KINDS {
            let server = start_server_limited(
                kind,
                server_config(Security::Plain),
                None,
                Recorder::default(),
                limits(10, 2),
            );
            let mut held = Vec::new();
            for _ in 0..2 {
                let mut stream = connect_from([127, 0, 0, 1], server.addr);
                let greeting = first_line(&mut stream);
                assert!(greeting.starts_with("220 "), "{kind:?}: {greeting}");
                held.push(stream);
            }
            let mut third = connect_from([127, 0, 0, 1], server.addr);
            let refused = first_line(&mut third);
            assert!(refused.starts_with("421 4.7.0"), "{kind:?}: {refused}");
            // Another address still gets in.
            let mut other = connect_from([127, 0, 0, 2], server.addr);
            let greeting = first_line(&mut other);
            assert!(greeting.starts_with("220 "), "{kind:?}: {greeting}");
            drop(held);
            server.stop();
        }
    });
}

/// The resident set of this process, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Sends EHLO, then HELP after HELP for `duration` without ever reading;
/// returns how many octets the server let in.
fn pipeline_help_without_reading(addr: SocketAddr, duration: Duration) -> usize {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"EHLO hostile.example\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stream.set_nonblocking(true).unwrap();
    let batch = b"HELP\r\n".repeat(1024);
    let mut sent = 0;
    let end = Instant::now() + duration;
    while Instant::now() < end {
        match stream.write(&batch) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => break,
        }
    }
    sent
}

#[test]
fn a_client_that_never_reads_cannot_grow_the_reply_queue() {
    bounded(LIMIT, || {
        for kind in [Kind::Smol, Kind::AsyncStd, Kind::Blocking] {
            let server = start_server_limited(
                kind,
                server_config(Security::Plain),
                None,
                Recorder::default(),
                Limits::default(),
            );
            let before = rss_kib();
            let sent = pipeline_help_without_reading(server.addr, Duration::from_millis(1500));
            let grown = rss_kib().saturating_sub(before);
            // What the server took in is what the socket buffers hold and
            // one bounded read; unbounded, it read (and queued replies to)
            // hundreds of megabytes in this time.
            assert!(
                sent < 24 << 20,
                "{kind:?}: the server took {sent} octets from a client that never reads"
            );
            assert!(grown < 48 << 10, "{kind:?}: RSS grew by {grown} KiB");
            server.stop();
        }
    });
}
