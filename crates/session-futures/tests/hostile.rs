//! Clients that misbehave, on smol and async-std: one that never reads a
//! 24 MiB message (POP3 RETR) or 64 MiB of messages (IMAP FETCH 1:*) is
//! dropped at the write timeout while the process's memory stays flat
//! (what it grows by does not depend on what is left unread); connections past the limit are
//! refused; a slow authenticator holds up no other connection.

mod support;

use session_futures::{ImapOptions, Login, Pop3Options, Pop3Server};
use smtp_futures::Runtime;
use std::fs;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::*;

const BIG: usize = 24 << 20;

/// Sends `commands` and never reads: the server's writes block, it hangs
/// up at the write timeout, and meanwhile this process (which holds the
/// server) grows by well under the message's size.
fn never_reads<R: Runtime>(
    server: ServerHandleOf<R>,
    commands: &[u8],
    total: usize,
    bound_kib: u64,
) {
    let baseline = rss_kib();
    let mut client = TcpStream::connect(server.local_addr()).unwrap();
    // The greeting proves the server accepted (and counts) the connection.
    let mut greeting = [0u8; 4];
    client.read_exact(&mut greeting).unwrap();
    assert!(&greeting == b"+OK " || &greeting == b"* OK", "{greeting:?}");
    assert_eq!(server.active_connections(), 1);
    client.write_all(commands).unwrap();
    let mut peak = baseline;
    let dropped = poll_until(
        || {
            peak = peak.max(rss_kib());
            server.active_connections() == 0
        },
        Duration::from_secs(30),
    );
    assert!(dropped, "the connection was not dropped");
    // At most one answer (a 64 KiB POP3 chunk, a FETCH step of one 1 MiB
    // message) waits on the client, plus the buffers of a handful of tasks
    // and the allocator arenas of the pool threads that read the files.
    assert!(
        peak - baseline < bound_kib,
        "memory grew by {} KiB while the client did not read",
        peak - baseline
    );
    let mut received = Vec::new();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = client.read_to_end(&mut received);
    eprintln!(
        "never reads: grew by {} KiB; {} of {total} octets reached the client",
        peak - baseline,
        received.len()
    );
    assert!(received.len() < total, "{} octets arrived", received.len());
    assert!(!received.ends_with(b"\r\n.\r\n"));
    stop(server);
}

type ServerHandleOf<R> = session_futures::ServerHandle<R>;

fn pop3_never_reads<R: Runtime>() {
    let dir = temp_dir::<R>("a-noread-pop3");
    let maildir = dir.maildir();
    fs::write(maildir.join("new/1.M1.big"), vec![b'x'; BIG]).unwrap();
    let options = Pop3Options::new(pop3_config().with_plaintext_auth(true))
        .with_write_timeout(Duration::from_millis(500));
    let server = pop3::<R>(options, maildir);
    never_reads(
        server,
        b"USER alice\r\nPASS secret\r\nRETR 1\r\n",
        BIG,
        8 << 10,
    );
}

fn imap_never_reads<R: Runtime>() {
    let dir = temp_dir::<R>("a-noread-imap");
    let maildir = dir.maildir();
    // FETCH answers in steps of whole messages: 64 of 1 MiB each.
    let body = vec![b'x'; 1 << 20];
    for i in 0..64 {
        fs::write(maildir.join(format!("new/{i}.M1.big")), &body).unwrap();
    }
    let options = ImapOptions::new(imap_config().with_plaintext_auth(true))
        .with_write_timeout(Duration::from_millis(500));
    let server = imap::<R>(options, maildir);
    never_reads(
        server,
        b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1:* BODY[]\r\n",
        64 << 20,
        24 << 10,
    );
}

// One test per runtime and protocol runs them one after the other: they
// measure the memory of this whole process.
#[test]
fn a_client_that_never_reads_is_dropped_and_memory_stays_flat() {
    pop3_never_reads::<Smol>();
    pop3_never_reads::<AsyncStd>();
    imap_never_reads::<Smol>();
    imap_never_reads::<AsyncStd>();
}

fn past_the_limit<R: Runtime>() {
    let dir = temp_dir::<R>("a-limit");
    let options = Pop3Options::new(pop3_config()).with_max_connections(1);
    let server = pop3::<R>(options, dir.maildir());
    let first = TcpStream::connect(server.local_addr()).unwrap();
    let mut first = BufReader::new(first);
    assert!(line(&mut first).starts_with("+OK pop.test"));
    let second = TcpStream::connect(server.local_addr()).unwrap();
    let mut second = BufReader::new(second);
    assert_eq!(
        line(&mut second),
        "-ERR [SYS/TEMP] too many connections\r\n"
    );
    stop(server);
}

#[test]
fn connections_past_the_limit_are_refused() {
    past_the_limit::<Smol>();
    past_the_limit::<AsyncStd>();
}

/// The authenticator sleeps 2 s (a slow password hash, a database): it
/// runs off the executor, so another client is greeted meanwhile.
fn slow_authenticator<R: Runtime>() {
    let dir = temp_dir::<R>("a-slow-auth");
    let maildir = dir.maildir();
    let auth = move |_c: &pop3_proto::Credentials, _peer: SocketAddr| {
        std::thread::sleep(Duration::from_secs(2));
        Login::Granted(maildir.clone())
    };
    let options = Pop3Options::new(pop3_config().with_plaintext_auth(true));
    let server = Pop3Server::<R>::bind("127.0.0.1:0", options, auth)
        .unwrap()
        .spawn();
    let slow = TcpStream::connect(server.local_addr()).unwrap();
    let mut slow_writer = slow.try_clone().unwrap();
    let mut slow = BufReader::new(slow);
    assert!(line(&mut slow).starts_with("+OK"));
    slow_writer.write_all(b"USER alice\r\nPASS x\r\n").unwrap();
    assert!(line(&mut slow).starts_with("+OK"));
    let started = Instant::now();
    let other = TcpStream::connect(server.local_addr()).unwrap();
    let mut other_writer = other.try_clone().unwrap();
    let mut other = BufReader::new(other);
    assert!(line(&mut other).starts_with("+OK pop.test"));
    other_writer.write_all(b"NOOP\r\n").unwrap();
    let _ = line(&mut other);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a second client waited {:?} on the first one's login",
        started.elapsed()
    );
    assert!(line(&mut slow).starts_with("+OK alice's maildrop"));
    stop(server);
}

#[test]
fn a_slow_authenticator_holds_up_no_other_connection() {
    slow_authenticator::<Smol>();
    slow_authenticator::<AsyncStd>();
}
