//! `mailwire serve` as a child process for interoperability tests: started
//! on port 0 (it prints the addresses it got), killed on drop, with its
//! Maildir and its log at hand, and the exact bytes a stored message must
//! hold.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a server may take to start, and a test to see its messages.
const START_LIMIT: Duration = Duration::from_secs(20);

/// The `mailwire` binary of this build: `MAILWIRE_BIN` when set, else the
/// one beside the test binaries (`target/<profile>/mailwire`), which
/// `cargo test --workspace` (or `cargo build -p mailwire`) builds.
pub fn mailwire_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MAILWIRE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no current_exe: {e}"));
    // target/<profile>/deps/<test> -> target/<profile>/mailwire
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test binary path {}", exe.display()));
    let binary = profile_dir.join("mailwire");
    assert!(
        binary.is_file(),
        "{} is missing: build it first with `cargo build -p mailwire` (`cargo test --workspace` does)",
        binary.display()
    );
    if let Some(stale) = newer_source(&binary) {
        panic!(
            "{} is older than {}: rebuild it with `cargo build -p mailwire`",
            binary.display(),
            stale.display()
        );
    }
    binary
}

/// A source file of the `mailwire` crate changed after `binary` was built.
fn newer_source(binary: &Path) -> Option<PathBuf> {
    let built = fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/mailwire/src");
    fs::read_dir(crate_dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
        })
}

/// A temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new directory named after `prefix`, the process and the time.
    pub fn new(prefix: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "mailwire-peers-{prefix}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

type Lines = Arc<Mutex<Vec<String>>>;

fn collect(stream: impl Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::default();
    let sink = Arc::clone(&lines);
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut lines) = sink.lock() {
                lines.push(line);
            }
        }
    });
    lines
}

fn snapshot(lines: &Lines) -> Vec<String> {
    lines.lock().map(|l| l.clone()).unwrap_or_default()
}

/// A running `mailwire serve` in its own temporary directory; killed (and
/// the directory removed) on drop.
#[derive(Debug)]
pub struct Serve {
    child: Child,
    stdout: Lines,
    stderr: Lines,
    /// The `--listen` address (plain SMTP, STARTTLS when TLS is on).
    pub plain: SocketAddr,
    /// The `--tls-listen` address (implicit TLS).
    pub tls: Option<SocketAddr>,
    /// The certificate `--self-signed` wrote.
    pub cert: Option<PathBuf>,
    /// The Maildir.
    pub maildir: PathBuf,
    /// The server's working directory.
    pub dir: TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `mailwire serve --listen 127.0.0.1:0 --maildir mail args…`
    /// with `env` added, and waits until each listener is up.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Serve {
        let dir = TempDir::new("serve");
        let maildir = dir.0.join("mail");
        let mut cmd = Command::new(mailwire_binary());
        cmd.current_dir(&dir.0)
            .env_remove("MAILWIRE_SERVE_USERS")
            .args(["serve", "--listen", "127.0.0.1:0", "--maildir"])
            .arg(&maildir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting mailwire serve: {e}"));
        let stdout = child.stdout.take().map(collect).unwrap_or_default();
        let stderr = child.stderr.take().map(collect).unwrap_or_default();
        let listeners = if args.contains(&"--tls-listen") { 2 } else { 1 };
        let mut serve = Serve {
            child,
            stdout,
            stderr,
            plain: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            cert: None,
            maildir,
            dir,
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let printed = serve.stdout();
            let listening: Vec<&str> = printed
                .iter()
                .filter_map(|l| l.strip_prefix("listening on "))
                .collect();
            if listening.len() == listeners {
                for rest in listening {
                    let addr: SocketAddr = rest
                        .split(' ')
                        .next()
                        .and_then(|a| a.parse().ok())
                        .unwrap_or_else(|| panic!("no address in {rest:?}"));
                    if rest.contains("(implicit TLS)") {
                        serve.tls = Some(addr);
                    } else {
                        serve.plain = addr;
                    }
                }
                serve.cert = printed.iter().find_map(|l| {
                    let (_, rest) = l.split_once(" written to ")?;
                    Some(serve.dir.0.join(rest.split(" (").next()?))
                });
                return serve;
            }
            if let Ok(Some(status)) = serve.child.try_wait() {
                panic!(
                    "mailwire serve exited ({status}) before listening: {:?}",
                    serve.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mailwire serve did not start: {printed:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lines it printed so far.
    pub fn stdout(&self) -> Vec<String> {
        snapshot(&self.stdout)
    }

    /// What it printed on standard error so far.
    pub fn stderr(&self) -> Vec<String> {
        snapshot(&self.stderr)
    }

    /// The messages in `new/`, oldest name first.
    pub fn stored(&self) -> Vec<Vec<u8>> {
        let mut paths: Vec<PathBuf> = fs::read_dir(self.maildir.join("new"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .map(|p| fs::read(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display())))
            .collect()
    }

    /// Waits until `n` messages were logged as stored, then returns the
    /// stored messages. A message is in `new/` before its log line.
    pub fn wait_stored(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let logged = self
                .stdout()
                .iter()
                .filter(|l| l.starts_with("stored "))
                .count();
            if logged >= n {
                return self.stored();
            }
            assert!(
                Instant::now() < deadline,
                "{n} messages were not stored: {:?} {:?}",
                self.stdout(),
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Asserts that `stored` is exactly `sent` behind the `Received:` header
/// the sink writes for a client that said EHLO `helo` from 127.0.0.1 using
/// `protocol` (`ESMTP`, `ESMTPA`, `ESMTPS`, `ESMTPSA`), dated between
/// `sent_after` and now.
pub fn assert_stored_exactly(
    stored: &[u8],
    helo: &str,
    protocol: &str,
    sent: &[u8],
    sent_after: SystemTime,
) {
    let secs = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    };
    let (from, to) = (secs(sent_after), secs(SystemTime::now()));
    let candidates: Vec<Vec<u8>> = (from..=to)
        .filter_map(|s| mime_codec::DateTime::from_unix(s, 0))
        .map(|date| {
            let mut expected = format!(
                "Received: from {helo} ([127.0.0.1])\r\n\tby mailwire.localhost (mailwire) with {protocol};\r\n\t{date}\r\n"
            )
            .into_bytes();
            expected.extend_from_slice(sent);
            expected
        })
        .collect();
    assert!(
        candidates.iter().any(|c| c.as_slice() == stored),
        "stored message differs\n--- stored\n{}\n--- expected (any date)\n{}",
        String::from_utf8_lossy(stored).escape_debug(),
        candidates
            .first()
            .map(|c| String::from_utf8_lossy(c).escape_debug().to_string())
            .unwrap_or_default()
    );
}
