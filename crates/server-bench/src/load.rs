//! The load client: N connections on one thread (smol's local executor),
//! each taking the next message from a shared counter and sending it
//! without pipelining (MAIL, RCPT, DATA, body and end each wait for their
//! reply), timing each message from the moment its final `.` line was
//! written to the moment its reply arrived.

use smol::future::FutureExt;
use smol::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use smol::{Async, Timer};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub addr: SocketAddr,
    pub connections: usize,
    pub messages: usize,
    pub users: usize,
    /// Approximate size of each message in bytes.
    pub size: usize,
    /// Makes Message-IDs unique across runs.
    pub run_id: String,
    /// No new message is started after this.
    pub deadline: Duration,
    /// Bound on each reply.
    pub reply_timeout: Duration,
    /// Bound on the greeting (a connection the kernel completed but the
    /// server never accepted gets none).
    pub greeting_timeout: Duration,
    /// Connections are opened evenly over this time (0: all at once).
    pub ramp: Duration,
}

/// What came back.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Message numbers that got a 2xx reply to their end of data.
    pub acked: Vec<usize>,
    /// End of data to reply, in microseconds, per acknowledged message.
    pub latencies_us: Vec<u64>,
    /// MAIL sent to the final reply, in microseconds, per acknowledged
    /// message (a server that makes clients wait before it takes a message,
    /// as Postfix's `in_flow_delay` does at MAIL, shows it here).
    pub transactions_us: Vec<u64>,
    /// From the start of `connect` to the 250 of the first message the
    /// connection carried, in microseconds, per connection that carried
    /// one: includes any wait for the server to accept and greet (a server
    /// that admits a limited number of sessions at once makes the others
    /// wait here, before the greeting).
    pub connect_to_first_us: Vec<u64>,
    /// From the start of `connect` to the greeting, in microseconds, per
    /// connection greeted.
    pub greeting_us: Vec<u64>,
    /// Per acknowledged message: when its MAIL was sent (since the start
    /// of the load) and its end of DATA to reply, both in microseconds.
    pub timeline_us: Vec<(u64, u64)>,
    /// Failed messages by stage and reply (or I/O error).
    pub failures: BTreeMap<String, usize>,
    /// From the start of the load to the last acknowledgement.
    pub to_last_ack: Duration,
    /// From the start of the load until every connection finished.
    pub elapsed: Duration,
}

/// The Message-ID of message `n` of run `run`, without angle brackets.
pub fn message_id(run: &str, n: usize) -> String {
    format!("{n}.{run}@load.bench.test")
}

/// The last line of every message: a stored file that ends with it is
/// complete.
pub fn end_marker(id: &str) -> String {
    format!("end of load message {id}")
}

/// Message `n`: headers, filler lines, the end marker; CRLF, dot-safe.
pub fn message(cfg: &LoadConfig, n: usize) -> (String, Vec<u8>) {
    let user = n % cfg.users.max(1);
    let rcpt = format!("user{user}@bench.test");
    let id = message_id(&cfg.run_id, n);
    let mut text = format!(
        "From: Load <load@client.test>\r\nTo: <{rcpt}>\r\nSubject: load message {n}\r\n\
         Date: Sun, 06 Dec 2026 07:00:00 +0000\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    );
    let line = "The quick brown fox jumps over the lazy dog; load filler text line.\r\n";
    while text.len() + line.len() < cfg.size {
        text.push_str(line);
    }
    text.push_str(&end_marker(&id));
    text.push_str("\r\n.\r\n");
    (rcpt, text.into_bytes())
}

struct Shared {
    cfg: LoadConfig,
    next: Cell<usize>,
    started: Instant,
    last_ack: Cell<Instant>,
    result: RefCell<LoadResult>,
    acks: Cell<usize>,
    on_ack: RefCell<OnAck>,
}

/// Called on the client's thread with the count of acknowledgements after
/// each one (the kill mode sends SIGKILL from here, at once).
pub type OnAck = Box<dyn FnMut(usize)>;

impl Shared {
    fn take(&self) -> Option<usize> {
        let n = self.next.get();
        if n >= self.cfg.messages || self.started.elapsed() > self.cfg.deadline {
            return None;
        }
        self.next.set(n + 1);
        Some(n)
    }

    fn fail(&self, key: String) {
        *self.result.borrow_mut().failures.entry(key).or_insert(0) += 1;
    }
}

/// The longest reply line read.
const MAX_LINE: u64 = 4096;

struct Session {
    io: BufReader<Async<TcpStream>>,
    line: String,
}

struct Reply {
    code: u16,
    text: String,
}

impl Reply {
    fn key(&self, stage: &str) -> String {
        let enhanced = self
            .text
            .split_whitespace()
            .next()
            .filter(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.') && w.contains('.'))
            .unwrap_or("");
        format!("{stage} {} {enhanced}", self.code)
            .trim_end()
            .to_string()
    }
}

fn io_key(stage: &str, e: &io::Error) -> String {
    format!("{stage}: {}", e.kind())
}

impl Session {
    async fn read_reply(&mut self, limit: Duration) -> io::Result<Reply> {
        async {
            loop {
                self.line.clear();
                // A reply line is bounded (RFC 5321 allows 512 octets).
                let n = (&mut self.io)
                    .take(MAX_LINE)
                    .read_line(&mut self.line)
                    .await?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"));
                }
                if !self.line.ends_with('\n') {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "reply line too long",
                    ));
                }
                let bytes = self.line.as_bytes();
                if bytes.len() < 4 || !bytes[..3].iter().all(u8::is_ascii_digit) {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "bad reply"));
                }
                if bytes[3] == b'-' {
                    continue;
                }
                let code = self.line[..3].parse().unwrap_or(0);
                return Ok(Reply {
                    code,
                    text: self.line[4..].trim_end().to_string(),
                });
            }
        }
        .or(async {
            Timer::after(limit).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "no reply"))
        })
        .await
    }

    async fn command(&mut self, line: &[u8], limit: Duration) -> io::Result<Reply> {
        self.io.get_mut().write_all(line).await?;
        self.read_reply(limit).await
    }
}

enum Failure {
    /// The transaction failed; the session can go on.
    Reply(String),
    /// The connection is gone.
    Broken(String),
}

async fn open(cfg: &LoadConfig) -> Result<(Session, Duration), String> {
    let began = Instant::now();
    let stream = Async::<TcpStream>::connect(cfg.addr)
        .await
        .map_err(|e| io_key("connect", &e))?;
    stream
        .get_ref()
        .set_nodelay(true)
        .map_err(|e| io_key("connect", &e))?;
    let mut s = Session {
        io: BufReader::new(stream),
        line: String::new(),
    };
    let greeting = s
        .read_reply(cfg.greeting_timeout)
        .await
        .map_err(|e| io_key("greeting", &e))?;
    if greeting.code != 220 {
        return Err(greeting.key("greeting"));
    }
    let greeted = began.elapsed();
    let ehlo = s
        .command(b"EHLO load.bench.test\r\n", cfg.reply_timeout)
        .await
        .map_err(|e| io_key("EHLO", &e))?;
    if ehlo.code != 250 {
        return Err(ehlo.key("EHLO"));
    }
    Ok((s, greeted))
}

/// Returns (when MAIL was sent, end of DATA to reply, MAIL sent to final
/// reply).
async fn transaction(
    s: &mut Session,
    cfg: &LoadConfig,
    n: usize,
) -> Result<(Instant, Duration, Duration), Failure> {
    let (rcpt, body) = message(cfg, n);
    let began = Instant::now();
    let t = cfg.reply_timeout;
    let broken = |stage: &str| {
        let stage = stage.to_string();
        move |e: io::Error| Failure::Broken(io_key(&stage, &e))
    };
    let mail = s
        .command(b"MAIL FROM:<load@client.test>\r\n", t)
        .await
        .map_err(broken("MAIL"))?;
    if mail.code != 250 {
        return Err(reset(s, mail.key("MAIL"), mail.code, t).await);
    }
    let rcpt = s
        .command(format!("RCPT TO:<{rcpt}>\r\n").as_bytes(), t)
        .await
        .map_err(broken("RCPT"))?;
    if rcpt.code != 250 && rcpt.code != 251 {
        return Err(reset(s, rcpt.key("RCPT"), rcpt.code, t).await);
    }
    let data = s.command(b"DATA\r\n", t).await.map_err(broken("DATA"))?;
    if data.code != 354 {
        return Err(reset(s, data.key("DATA"), data.code, t).await);
    }
    s.io.get_mut()
        .write_all(&body)
        .await
        .map_err(broken("body"))?;
    let sent = Instant::now();
    let end = s.read_reply(t).await.map_err(broken("end of data"))?;
    let latency = sent.elapsed();
    if end.code / 100 == 2 {
        Ok((began, latency, began.elapsed()))
    } else if end.code == 421 {
        Err(Failure::Broken(end.key("end of data")))
    } else {
        Err(Failure::Reply(end.key("end of data")))
    }
}

async fn reset(s: &mut Session, key: String, code: u16, t: Duration) -> Failure {
    if code == 421 {
        return Failure::Broken(key);
    }
    match s.command(b"RSET\r\n", t).await {
        Ok(r) if r.code == 250 => Failure::Reply(key),
        _ => Failure::Broken(key),
    }
}

async fn connection(shared: Rc<Shared>, delay: Duration) {
    if !delay.is_zero() {
        Timer::after(delay).await;
    }
    let mut session: Option<Session> = None;
    // When the current session's connect began, until its first 250.
    let mut connecting: Option<Instant> = None;
    while let Some(n) = shared.take() {
        if session.is_none() {
            let began = Instant::now();
            match open(&shared.cfg).await {
                Ok((s, greeted)) => {
                    session = Some(s);
                    connecting = Some(began);
                    let mut r = shared.result.borrow_mut();
                    r.greeting_us.push(greeted.as_micros() as u64);
                }
                Err(key) => {
                    // The message taken is counted as failed; a server that
                    // is down is not hammered in a tight loop.
                    shared.fail(key);
                    Timer::after(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = session.as_mut() else { continue };
        match transaction(s, &shared.cfg, n).await {
            Ok((began, latency, whole)) => {
                let mut r = shared.result.borrow_mut();
                if let Some(c) = connecting.take() {
                    r.connect_to_first_us.push(c.elapsed().as_micros() as u64);
                }
                let at = began.duration_since(shared.started).as_micros() as u64;
                r.timeline_us.push((at, latency.as_micros() as u64));
                r.acked.push(n);
                r.latencies_us.push(latency.as_micros() as u64);
                r.transactions_us.push(whole.as_micros() as u64);
                drop(r);
                shared.last_ack.set(Instant::now());
                let count = shared.acks.get() + 1;
                shared.acks.set(count);
                (shared.on_ack.borrow_mut())(count);
            }
            Err(Failure::Reply(key)) => shared.fail(key),
            Err(Failure::Broken(key)) => {
                shared.fail(key);
                session = None;
            }
        }
    }
    if let Some(mut s) = session {
        let _ = s.command(b"QUIT\r\n", Duration::from_secs(5)).await;
    }
}

/// Runs the load, calling `on_ack` after each acknowledgement.
pub fn run(cfg: LoadConfig, on_ack: OnAck) -> LoadResult {
    let ex = smol::LocalExecutor::new();
    let started = Instant::now();
    let shared = Rc::new(Shared {
        next: Cell::new(0),
        started,
        last_ack: Cell::new(started),
        result: RefCell::new(LoadResult::default()),
        acks: Cell::new(0),
        on_ack: RefCell::new(on_ack),
        cfg,
    });
    let count = shared.cfg.connections.max(1);
    let step = shared.cfg.ramp / count as u32;
    let tasks: Vec<_> = (0..count)
        .map(|i| ex.spawn(connection(Rc::clone(&shared), step * i as u32)))
        .collect();
    smol::block_on(ex.run(async {
        for t in tasks {
            t.await;
        }
    }));
    let elapsed = started.elapsed();
    let mut result = shared.result.replace(LoadResult::default());
    result.to_last_ack = shared.last_ack.get().duration_since(started);
    result.elapsed = elapsed;
    result
}
