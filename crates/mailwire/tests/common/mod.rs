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
