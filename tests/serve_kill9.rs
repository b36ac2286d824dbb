//! Kill -9 during load: 50 connections send 2,000 messages to `mailwire
//! serve` (the Maildir sink); after 500 of them got their 250 the server is
//! killed with SIGKILL while the clients keep sending. Every message that
//! got a 250 must then be a complete file in the Maildir (found by its
//! Message-ID and its last line). Messages stored but never acknowledged
//! (killed between the fsync and the reply) are allowed and reported.
//!
//! The full-size version (1,000 connections, Postfix alongside) is
//! `crates/server-bench` (`server-bench kill`).

use mailwire_tests::serve::{mailwire_binary, TempDir};
use std::collections::HashSet;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 50;
const MESSAGES: usize = 2000;
const KILL_AFTER: usize = 500;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the sink on a free port and returns it with its address.
fn start(maildir: &Path) -> (Server, SocketAddr) {
    let limit = (CONNECTIONS + 14).to_string();
    let mut child = Command::new(mailwire_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--maildir"])
        .arg(maildir)
        .args([
            "--max-connections",
            &limit,
            "--max-connections-per-ip",
            &limit,
        ])
        .env_remove("MAILWIRE_SERVE_USERS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting mailwire serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent {
                if let Some(addr) = line
                    .strip_prefix("listening on ")
                    .and_then(|r| r.split(' ').next())
                    .and_then(|a| a.parse::<SocketAddr>().ok())
                {
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
            // Keep reading so that the server never blocks on its output.
        }
    });
    let server = Server(child);
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("mailwire serve did not print its address");
    (server, addr)
}

fn message_id(n: usize) -> String {
    format!("{n}.kill9@load.test")
}

fn end_marker(id: &str) -> String {
    format!("end of load message {id}")
}

struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Session {
    fn open(addr: SocketAddr) -> io::Result<Session> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut s = Session {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        };
        s.expect(220)?;
        s.send(b"EHLO load.test\r\n")?;
        s.expect(250)?;
        Ok(s)
    }

    /// The code of the next (possibly multi-line) reply.
    fn reply(&mut self) -> io::Result<u16> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if line.len() < 4 {
                return Err(io::ErrorKind::InvalidData.into());
            }
            if line.as_bytes()[3] != b'-' {
                return line[..3]
                    .parse()
                    .map_err(|_| io::ErrorKind::InvalidData.into());
            }
        }
    }

    fn expect(&mut self, code: u16) -> io::Result<()> {
        match self.reply()? {
            c if c == code => Ok(()),
            c => Err(io::Error::other(format!("reply {c}, expected {code}"))),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// One transaction; Ok(true) when the end of data got a 250.
    fn transaction(&mut self, n: usize) -> io::Result<bool> {
        let id = message_id(n);
        let rcpt = format!("user{}@bench.test", n % 100);
        self.send(b"MAIL FROM:<load@client.test>\r\n")?;
        self.expect(250)?;
        self.send(format!("RCPT TO:<{rcpt}>\r\n").as_bytes())?;
        self.expect(250)?;
        self.send(b"DATA\r\n")?;
        self.expect(354)?;
        let mut body = format!(
            "From: <load@client.test>\r\nTo: <{rcpt}>\r\nSubject: {n}\r\nMessage-ID: <{id}>\r\n\r\n"
        );
        for _ in 0..30 {
            body.push_str("The quick brown fox jumps over the lazy dog, again and again.\r\n");
        }
        body.push_str(&end_marker(&id));
        body.push_str("\r\n.\r\n");
        self.send(body.as_bytes())?;
        Ok(self.reply()? == 250)
    }
}

/// Complete stored messages by Message-ID, and the number of incomplete
/// files, in `new/` and `cur/`.
fn stored(maildir: &Path) -> (Vec<String>, usize) {
    let mut complete = Vec::new();
    let mut incomplete = 0;
    for sub in ["new", "cur"] {
        for entry in fs::read_dir(maildir.join(sub))
            .into_iter()
            .flatten()
            .flatten()
        {
            let text =
                String::from_utf8_lossy(&fs::read(entry.path()).unwrap_or_default()).into_owned();
            let id = text
                .lines()
                .take_while(|l| !l.trim_end().is_empty())
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("message-id").then(|| {
                        value
                            .trim()
                            .trim_start_matches('<')
                            .trim_end_matches('>')
                            .to_string()
                    })
                });
            match id {
                Some(id) if text.trim_end().ends_with(&end_marker(&id)) => complete.push(id),
                _ => incomplete += 1,
            }
        }
    }
    (complete, incomplete)
}

#[test]
fn every_acknowledged_message_survives_kill_9_during_load() {
    let dir = TempDir::new("kill9");
    let maildir = dir.0.join("mail");
    let (mut server, addr) = start(&maildir);
    let next = Arc::new(AtomicUsize::new(0));
    let acks = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let started = Instant::now();

    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (next, acks, failures, acked) = (
                Arc::clone(&next),
                Arc::clone(&acks),
                Arc::clone(&failures),
                Arc::clone(&acked),
            );
            thread::spawn(move || {
                let mut session: Option<Session> = None;
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= MESSAGES || started.elapsed() > Duration::from_secs(120) {
                        break;
                    }
                    if session.is_none() {
                        match Session::open(addr) {
                            Ok(s) => session = Some(s),
                            Err(_) => {
                                failures.fetch_add(1, Ordering::SeqCst);
                                thread::sleep(Duration::from_millis(2));
                                continue;
                            }
                        }
                    }
                    let Some(s) = session.as_mut() else { continue };
                    match s.transaction(n) {
                        Ok(true) => {
                            acked.lock().unwrap().push(n);
                            acks.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(false) | Err(_) => {
                            failures.fetch_add(1, Ordering::SeqCst);
                            session = None;
                        }
                    }
                }
            })
        })
        .collect();

    // The kill: SIGKILL as soon as KILL_AFTER messages were acknowledged.
    let mut acked_at_kill = None;
    while !clients.iter().all(|c| c.is_finished()) {
        let n = acks.load(Ordering::SeqCst);
        if n >= KILL_AFTER {
            server.0.kill().expect("SIGKILL to mailwire serve");
            server.0.wait().expect("reaping mailwire serve");
            acked_at_kill = Some(n);
            break;
        }
        thread::sleep(Duration::from_micros(200));
    }
    for c in clients {
        c.join().expect("client thread");
    }
    let acked_at_kill = acked_at_kill.expect("the load ended before the server was killed");
    let acked: HashSet<String> = acked
        .lock()
        .unwrap()
        .iter()
        .map(|n| message_id(*n))
        .collect();
    let (complete, incomplete) = stored(&maildir);
    let stored: HashSet<&String> = complete.iter().collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(id)).collect();
    let extra = stored.iter().filter(|id| !acked.contains(**id)).count();
    println!(
        "kill -9 after {acked_at_kill} acknowledgements: {} acknowledged in all, {} stored complete, {incomplete} incomplete in new/cur, {extra} stored but not acknowledged, {} client failures, {:?}",
        acked.len(),
        complete.len(),
        failures.load(Ordering::SeqCst),
        started.elapsed()
    );
    assert!(
        missing.is_empty(),
        "{} acknowledged messages are missing after kill -9: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(complete.len(), stored.len(), "a message was stored twice");
    assert_eq!(incomplete, 0, "an incomplete file is in new/ or cur/");
    assert!(
        acked.len() < MESSAGES && failures.load(Ordering::SeqCst) > 0,
        "the clients were still sending when the server was killed"
    );
}
