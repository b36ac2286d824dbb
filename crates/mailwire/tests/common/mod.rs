//! The harness the `mailwire` binary's tests share: temporary directories,
//! a `mailwire serve` child that reports its listening addresses, and
//! running a command to its end with a deadline.
//!
//! Every child is killed when its guard drops, and every wait has a
//! deadline, so a hang fails a test instead of stalling the suite.

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) const LIMIT: Duration = Duration::from_secs(30);

/// A directory removed when dropped.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(prefix: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "mailwire-test-{prefix}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Lines a child printed, collected by a reader thread.
pub(crate) type Lines = Arc<Mutex<Vec<String>>>;

pub(crate) fn collect(stream: impl Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::default();
    let sink = Arc::clone(&lines);
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// A running `mailwire serve`, killed on drop.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) stdout: Lines,
    pub(crate) stderr: Lines,
    /// The `--listen` address.
    pub(crate) plain: SocketAddr,
    /// The `--tls-listen` address.
    pub(crate) tls: Option<SocketAddr>,
    /// Where a self-signed certificate was written.
    pub(crate) cert: Option<PathBuf>,
    pub(crate) maildir: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn mailwire(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailwire"));
    cmd.current_dir(dir)
        .env_remove("MAILWIRE_PASSWORD")
        .env_remove("MAILWIRE_SERVE_USERS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

impl Serve {
    /// Starts `mailwire serve --listen 127.0.0.1:0 --maildir DIR/mail args…`
    /// and waits until every listener is up.
    pub(crate) fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let maildir = dir.join("mail");
        let mut cmd = mailwire(dir);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--maildir"])
            .arg(&maildir)
            .args(args);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let listeners = if args.contains(&"--tls-listen") { 2 } else { 1 };
        let mut serve = Serve {
            child,
            stdout,
            stderr,
            plain: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            cert: None,
            maildir,
        };
        let deadline = Instant::now() + LIMIT;
        loop {
            let printed = serve.stdout.lock().unwrap().clone();
            let listening: Vec<&String> = printed
                .iter()
                .filter(|l| l.starts_with("listening on "))
                .collect();
            if listening.len() == listeners {
                for line in listening {
                    let addr: SocketAddr = line["listening on ".len()..]
                        .split(' ')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    if line.contains("(implicit TLS)") {
                        serve.tls = Some(addr);
                    } else {
                        serve.plain = addr;
                    }
                }
                serve.cert = printed.iter().find_map(|l| {
                    let (_, rest) = l.split_once(" written to ")?;
                    let path = rest.split(" (").next()?;
                    Some(dir.join(path))
                });
                return serve;
            }
            if let Some(status) = serve.child.try_wait().unwrap() {
                panic!(
                    "serve exited ({status}) before listening: {:?}",
                    serve.stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "serve did not start: {printed:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub(crate) fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stdout holds `n` lines starting with `prefix`.
    pub(crate) fn wait_lines(&self, prefix: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + LIMIT;
        loop {
            let found: Vec<String> = self
                .stdout()
                .into_iter()
                .filter(|l| l.starts_with(prefix))
                .collect();
            if found.len() >= n {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no {n} lines {prefix:?}: {:?}",
                self.stdout()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn stored(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<PathBuf> = match fs::read_dir(self.maildir.join("new")) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names.iter().map(|p| fs::read(p).unwrap()).collect()
    }
}

/// Runs `cmd` to its end (killed past [`LIMIT`]), with what it printed.
pub(crate) fn run(mut cmd: Command) -> Output {
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mailwire did not finish within {LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// [`run`], as the exit code, stdout and stderr in text.
pub(crate) fn run_to_end(cmd: Command) -> (Option<i32>, String, String) {
    let output = run(cmd);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_owned(),
        String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_owned(),
    )
}

/// What a [`FakeServer`] saw: every command line the client sent (body
/// lines apart), and how many body bytes came after each 354.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    pub(crate) lines: Vec<String>,
    pub(crate) body_bytes: Vec<u64>,
}

/// A scripted SMTP server on a thread, for one connection after another: it
/// sends `greeting`, then answers each command line with what `respond`
/// returns (raw text, CRLFs included; `None` closes the connection). After
/// an answer starting with `354` it reads a DATA body to its final dot,
/// counting and discarding it, and then asks `respond(".")`.
pub(crate) struct FakeServer {
    pub(crate) addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeServer {
    pub(crate) fn start(
        greeting: &str,
        mut respond: impl FnMut(&str) -> Option<String> + Send + 'static,
    ) -> FakeServer {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let stop: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (record, stopped) = (Arc::clone(&seen), Arc::clone(&stop));
        let greeting = greeting.to_owned();
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { return };
                serve_one(stream, &greeting, &mut respond, &record);
            }
        });
        FakeServer {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// A server that takes every message and forgets it.
    pub(crate) fn discard() -> FakeServer {
        FakeServer::start("220 fake ESMTP\r\n", |line| {
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            Some(match verb.as_str() {
                "EHLO" => "250-fake\r\n250 8BITMIME\r\n".into(),
                "DATA" => "354 go\r\n".into(),
                "QUIT" => "221 bye\r\n".into(),
                _ => "250 ok\r\n".into(),
            })
        })
    }

    /// Stops after the connection under way and returns what was seen.
    pub(crate) fn finish(mut self) -> Seen {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.seen.lock().unwrap().clone()
    }
}

fn serve_one(
    stream: std::net::TcpStream,
    greeting: &str,
    respond: &mut impl FnMut(&str) -> Option<String>,
    record: &Mutex<Seen>,
) {
    use std::io::Write;
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    if writer.write_all(greeting.as_bytes()).is_err() {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        record.lock().unwrap().lines.push(text.clone());
        let Some(answer) = respond(&text) else {
            return;
        };
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
        if answer.starts_with("354") {
            let mut bytes = 0u64;
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => bytes += n as u64,
                }
                if line == b".\r\n" {
                    break;
                }
            }
            record.lock().unwrap().body_bytes.push(bytes);
            let Some(answer) = respond(".") else { return };
            if writer.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }
}
