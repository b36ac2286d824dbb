//! `mailwire serve` against hostile clients on raw sockets: forged log
//! fields, a Received header built from a hostile EHLO name, password
//! guessing across connections, and messages far larger than memory
//! should hold.

mod common;

use common::{Serve, TempDir};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(20);

/// A raw SMTP conversation: write a line, read the reply.
struct Raw {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        Raw::start(TcpStream::connect_timeout(&addr, STEP).unwrap())
    }

    /// Connects from another loopback address (127.0.0.0/8 is all local).
    fn connect_from(addr: SocketAddr, source: [u8; 4]) -> Raw {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
        socket.connect_timeout(&addr.into(), STEP).unwrap();
        Raw::start(socket.into())
    }

    fn start(stream: TcpStream) -> Raw {
        stream.set_read_timeout(Some(STEP)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut raw = Raw {
            writer,
            reader: BufReader::new(stream),
        };
        let greeting = raw.reply();
        assert!(greeting.starts_with("220 "), "{greeting}");
        raw
    }

    /// Reads replies until one ends (a line with a space after the code).
    fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "connection closed after {reply:?}");
            reply.push_str(&line);
            if line.as_bytes().get(3) == Some(&b' ') {
                return reply;
            }
        }
    }

    /// EHLO, MAIL FROM and one RCPT TO, each accepted.
    fn envelope(&mut self) {
        for line in [
            &b"EHLO raw.test\r\n"[..],
            b"MAIL FROM:<a@example.com>\r\n",
            b"RCPT TO:<b@example.org>\r\n",
        ] {
            let reply = self.send(line);
            assert!(reply.starts_with("250"), "{reply}");
        }
    }

    fn send(&mut self, bytes: &[u8]) -> String {
        self.writer.write_all(bytes).unwrap();
        self.reply()
    }
}

/// EHLO `helo`, MAIL `from`, one RCPT, then a small message by DATA.
fn deliver_raw(addr: SocketAddr, helo: &str, from: &str) -> String {
    let mut raw = Raw::connect(addr);
    let ehlo = raw.send(format!("EHLO {helo}\r\n").as_bytes());
    assert!(ehlo.starts_with("250"), "{ehlo}");
    let mail = raw.send(format!("MAIL FROM:{from}\r\n").as_bytes());
    assert!(mail.starts_with("250"), "{mail}");
    let rcpt = raw.send("RCPT TO:<rcpt@example.org>\r\n".as_bytes());
    assert!(rcpt.starts_with("250"), "{rcpt}");
    assert!(raw.send(b"DATA\r\n").starts_with("354"));
    raw.send(b"Subject: raw\r\n\r\nhello\r\n.\r\n")
}

/// The `Received:` field of a stored message, unfolded.
fn received(message: &[u8]) -> String {
    let text = String::from_utf8(message.to_vec()).unwrap();
    let end = text.find("\r\nSubject:").unwrap();
    text[..end].replace("\r\n\t", " ")
}

#[test]
fn a_hostile_ehlo_name_reaches_the_received_header_only_sanitized() {
    let dir = TempDir::new("received");
    let serve = Serve::start(&dir.0, &[], &[]);
    let done = deliver_raw(serve.plain, "[X:)by(trusted.example;]", "<a@example.com>");
    assert!(done.starts_with("250"), "{done}");
    // A U-label with a right-to-left override and a NEL, in an SMTPUTF8
    // transaction.
    let done = deliver_raw(
        serve.plain,
        "b\u{202e}ad\u{85}x.\u{00e9}xample",
        "<a@example.com> SMTPUTF8",
    );
    assert!(done.starts_with("250"), "{done}");
    let stored = serve.stored();
    assert_eq!(stored.len(), 2);
    let lines: Vec<String> = stored.iter().map(|m| received(m)).collect();
    let literal = lines.iter().find(|l| l.contains("[X:")).unwrap();
    assert!(
        literal.starts_with("Received: from [X:?by?trusted.example?] ([127.0.0.1])"),
        "{literal}"
    );
    assert!(literal.contains(" with ESMTP;"), "{literal}");
    assert_eq!(literal.matches(" by ").count(), 1, "{literal}");
    let utf8 = lines.iter().find(|l| !l.contains("[X:")).unwrap();
    assert!(
        !utf8.contains('\u{202e}') && !utf8.contains('\u{85}'),
        "{utf8:?}"
    );
    assert!(utf8.contains("from b?ad?x.\u{00e9}xample "), "{utf8:?}");
    assert!(utf8.contains(" with UTF8SMTP;"), "{utf8:?}");
}

#[test]
fn peer_supplied_values_cannot_forge_log_fields() {
    let dir = TempDir::new("logforge");
    let serve = Serve::start(&dir.0, &[], &[]);
    let done = deliver_raw(
        serve.plain,
        "raw.test",
        "<\"x> to=<boss@corp> user=root x\"@evil.example>",
    );
    assert!(done.starts_with("250"), "{done}");
    let line = serve.wait_lines("stored ", 1).remove(0);
    // Outside the quoted values, exactly the fields the server wrote.
    let mut unquoted = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in line.chars() {
        match (quoted, escaped, c) {
            (true, false, '\\') => escaped = true,
            (true, true, _) => escaped = false,
            (_, false, '"') => quoted = !quoted,
            (false, _, c) => unquoted.push(c),
            _ => {}
        }
    }
    assert!(!quoted, "an unterminated quote: {line}");
    assert_eq!(unquoted.matches("to=").count(), 1, "{line}");
    assert!(!unquoted.contains("user="), "{line}");
    assert!(!unquoted.contains("boss"), "{line}");
}

#[test]
fn auth_failures_are_throttled_per_address_across_connections() {
    let dir = TempDir::new("authguess");
    let serve = Serve::start(
        &dir.0,
        &["--allow-plaintext-auth", "--auth-failures-per-ip", "2"],
        &[("MAILWIRE_SERVE_USERS", "carol:right-pw")],
    );
    // Base64 of "\0carol\0" and the password.
    let plain = |password: &str| {
        let token = match password {
            "guess-1" => "AGNhcm9sAGd1ZXNzLTE=",
            "guess-2" => "AGNhcm9sAGd1ZXNzLTI=",
            _ => "AGNhcm9sAHJpZ2h0LXB3",
        };
        format!("AUTH PLAIN {token}\r\n")
    };
    // Each guess on a connection of its own, as a guesser reconnects.
    let mut answers = Vec::new();
    let started = Instant::now();
    for password in ["guess-1", "guess-2", "right-pw"] {
        let mut raw = Raw::connect(serve.plain);
        assert!(raw.send(b"EHLO raw.test\r\n").starts_with("250"));
        answers.push(raw.send(plain(password).as_bytes()));
    }
    assert!(answers[0].starts_with("535"), "{answers:?}");
    assert!(answers[1].starts_with("535"), "{answers:?}");
    // The right password no longer helps from this address.
    assert!(answers[2].starts_with("454 4.7.0"), "{answers:?}");
    // Each failure was answered late (the session's own delay).
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let logged: Vec<String> = serve
        .stderr()
        .into_iter()
        .filter(|l| l.contains("AUTH failed"))
        .collect();
    // One line per address a minute, however many failures.
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("user=\"carol\""), "{logged:?}");
}

#[test]
fn auth_failures_are_limited_per_user_across_addresses_with_a_hashed_users_file() {
    let dir = TempDir::new("authuser");
    let users = dir.0.join("users");
    let mut file = mail_accounts::UsersFile::new();
    for (address, password) in [("ana@example.org", "ana-pw"), ("bo@example.org", "bo-pw")] {
        let hash = mail_accounts::HashedPassword::new(password).unwrap();
        file.add(address, hash, None).unwrap();
    }
    file.write(&users).unwrap();
    let serve = Serve::start(
        &dir.0,
        &[
            "--allow-plaintext-auth",
            "--users-file",
            users.to_str().unwrap(),
            "--auth-failures-per-user",
            "2",
        ],
        &[],
    );
    let plain = |user: &str, password: &str| {
        let token = smtp_proto::sasl::encode_base64(format!("\0{user}\0{password}").as_bytes());
        format!("AUTH PLAIN {token}\r\n")
    };
    let attempt = |source: [u8; 4], user: &str, password: &str| {
        let mut raw = Raw::connect_from(serve.plain, source);
        assert!(raw.send(b"EHLO raw.test\r\n").starts_with("250"));
        raw.send(plain(user, password).as_bytes())
    };
    // Two guesses for ana, each from an address of its own.
    assert!(attempt([127, 0, 0, 2], "ana@example.org", "guess-1").starts_with("535"));
    assert!(attempt([127, 0, 0, 3], "ana@example.org", "guess-2").starts_with("535"));
    // Now ana is refused from a third address, even with her password,
    // without it being checked; bo from that address is not.
    let refused = attempt([127, 0, 0, 4], "ANA@example.org", "ana-pw");
    assert!(refused.starts_with("454 4.7.0"), "{refused}");
    assert!(attempt([127, 0, 0, 4], "bo@example.org", "bo-pw").starts_with("235"));
    let logged: Vec<String> = serve
        .stderr()
        .into_iter()
        .filter(|l| l.contains("AUTH failed"))
        .collect();
    assert_eq!(logged.len(), 2, "one line per address: {logged:?}");
    assert!(
        logged
            .iter()
            .all(|l| l.contains("user=\"ana@example.org\"")),
        "{logged:?}"
    );
    assert!(!logged.concat().contains("guess"), "{logged:?}");
}

/// The peak resident set of process `pid`, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Sends up to `total` octets of BDAT data (in lines of 78) after a BDAT
/// command that announces `announced`; returns how many the server took
/// before it closed the connection.
fn bdat(raw: &mut Raw, announced: u64, total: usize) -> usize {
    raw.writer
        .write_all(format!("BDAT {announced} LAST\r\n").as_bytes())
        .unwrap();
    let line = [&[b'x'; 76][..], b"\r\n"].concat();
    let block = line.repeat(64 * 1024 / line.len());
    let mut sent = 0;
    while sent < total {
        let n = block.len().min(total - sent);
        if raw.writer.write_all(&block[..n]).is_err() {
            break;
        }
        sent += n;
    }
    sent
}

#[test]
fn a_large_message_streams_to_disk_without_growing_memory() {
    let dir = TempDir::new("stream");
    let serve = Serve::start(&dir.0, &["--max-size", "200000000"], &[]);
    let pid = serve.child.id();
    let baseline = peak_rss_kib(pid);
    let mut raw = Raw::connect(serve.plain);
    raw.envelope();
    let size = 64 << 20;
    let header = b"Subject: big\r\n\r\n";
    raw.writer
        .write_all(format!("BDAT {} LAST\r\n", size + header.len()).as_bytes())
        .unwrap();
    raw.writer.write_all(header).unwrap();
    let line = [&[b'x'; 76][..], b"\r\n"].concat();
    let block = line.repeat(64 * 1024 / line.len());
    let mut sent = 0;
    while sent < size {
        let n = block.len().min(size - sent);
        raw.writer.write_all(&block[..n]).unwrap();
        sent += n;
    }
    let done = raw.reply();
    assert!(done.starts_with("250"), "{done}");
    let grown = peak_rss_kib(pid).saturating_sub(baseline);
    assert!(
        grown < 16 << 10,
        "the server's peak RSS grew by {grown} KiB for a 64 MiB message"
    );
    let name = serve.wait_lines("stored ", 1).remove(0);
    assert!(
        name.contains(&format!("size={}", size + header.len())),
        "{name}"
    );
    let stored = fs::read_dir(serve.maildir.join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert!(stored.metadata().unwrap().len() > size as u64);
}

#[test]
fn a_huge_bdat_and_trickling_clients_cost_no_memory() {
    let dir = TempDir::new("bdat");
    let serve = Serve::start(&dir.0, &[], &[]);
    let pid = serve.child.id();
    let baseline = peak_rss_kib(pid);
    // Clients in the middle of a 20 MB chunk (under the 25 MiB limit),
    // trickling (15: with the huge one, every slot one address may hold).
    let mut trickling = Vec::new();
    for _ in 0..15 {
        let mut raw = Raw::connect(serve.plain);
        raw.envelope();
        assert_eq!(bdat(&mut raw, 20_000_000, 1 << 20), 1 << 20);
        trickling.push(raw);
    }
    // One announces a near-terabyte chunk and tries to send 40 MiB of it:
    // refused at once for its size, a bounded part read and dropped, then
    // the connection is closed.
    let mut huge = Raw::connect(serve.plain);
    huge.envelope();
    let taken = bdat(&mut huge, 999_999_999_999, 40 << 20);
    assert!(taken < 40 << 20, "the server read all {taken} octets");
    for raw in &mut trickling {
        raw.writer.write_all(b"x").unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let grown = peak_rss_kib(pid).saturating_sub(baseline);
    assert!(
        grown < 16 << 10,
        "the server's peak RSS grew by {grown} KiB"
    );
    // Their unfinished messages leave nothing behind once they go.
    drop(trickling);
    drop(huge);
    let deadline = Instant::now() + STEP;
    while fs::read_dir(serve.maildir.join("tmp")).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "tmp/ was not emptied");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(serve.stored().len(), 0);
}

#[test]
fn a_trickled_command_line_is_cut_off_by_the_command_timeout_flag() {
    let dir = TempDir::new("trickle");
    let serve = Serve::start(&dir.0, &["--command-timeout", "1"], &[]);
    let mut raw = Raw::connect(serve.plain);
    let started = Instant::now();
    // A byte every 200 ms: each restarts the idle timer, never the
    // command-line deadline.
    let mut closed_with = None;
    for byte in b"EHLO trickle.example.with.a.long.name\r\n" {
        if raw.writer.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        raw.writer.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 256];
        if let Ok(n) = std::io::Read::read(&mut raw.writer, &mut buf) {
            closed_with = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            break;
        }
        raw.writer.set_nonblocking(false).unwrap();
    }
    let reply = closed_with.expect("the line was never cut off");
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_per_address_connection_limit_flag_refuses_the_next_connection() {
    let dir = TempDir::new("perip");
    let serve = Serve::start(&dir.0, &["--max-connections-per-ip", "1"], &[]);
    let _first = Raw::connect(serve.plain);
    let mut second = TcpStream::connect_timeout(&serve.plain, STEP).unwrap();
    second.set_read_timeout(Some(STEP)).unwrap();
    let mut buf = [0u8; 256];
    let n = std::io::Read::read(&mut second, &mut buf).unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]);
    assert!(reply.starts_with("421 4.7.0"), "{reply}");
}

#[test]
fn a_busy_session_is_closed_at_the_session_lifetime_flag() {
    let dir = TempDir::new("lifetime");
    let serve = Serve::start(&dir.0, &["--session-lifetime", "1"], &[]);
    let mut raw = Raw::connect(serve.plain);
    let started = Instant::now();
    assert!(raw.send(b"EHLO raw.test\r\n").starts_with("250"));
    // Never idle: a NOOP every 200 ms.
    let reply = loop {
        let reply = raw.send(b"NOOP\r\n");
        if !reply.starts_with("250") {
            break reply;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never closed");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
}
