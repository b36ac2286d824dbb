//! Real peers run as child processes: a check that each is installed, a
//! runner with a deadline, and Postfix's `smtp-sink` started on a free port.
//!
//! A missing peer fails the test (never a silent skip): `tests/run-all.sh`
//! installs every peer these tests use.

use std::ffi::OsStr;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long one peer command may run.
pub const PEER_LIMIT: Duration = Duration::from_secs(30);

/// Finds `program` on `PATH` or in the system directories where Postfix
/// puts its tools; fails the test with how to install it otherwise.
pub fn require(program: &str, install: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let extra = ["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from);
    if let Some(found) = dirs
        .iter()
        .chain(extra.iter())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
    {
        return found;
    }
    let why = if std::env::var_os("CI").is_some() {
        "CI is set, so every peer must be installed"
    } else {
        "interoperability tests do not skip"
    };
    panic!("{program} is not installed ({why}): {install}, or run tests/run-all.sh, which installs every peer");
}

/// `swaks`, or a failed test saying how to install it.
pub fn require_swaks() -> PathBuf {
    require("swaks", "apt-get install -y swaks")
}

/// Python 3 (for smtplib), or a failed test saying how to install it.
pub fn require_python() -> PathBuf {
    require("python3", "apt-get install -y python3")
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// What a finished command printed.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Finished {
    /// Both streams, for assertion messages.
    pub fn printed(&self) -> String {
        format!(
            "status {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` with its input closed; kills it and fails the test when it
/// runs longer than `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Finished {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {shown}: {e}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{shown} did not finish within {limit:?}");
            }
        }
    };
    Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

fn drain(stream: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut stream) = stream {
            let _ = stream.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// Waits until the server `child` greets with `220` on `addr`; false if
/// the child exits first (another process took the port, say). A probe
/// that connected to itself (possible when nothing listens on a port of the
/// ephemeral range) does not count. Fails the test after 15 s.
pub fn wait_greeting(child: &mut Child, addr: SocketAddr, what: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let itself = stream.local_addr().ok() == stream.peer_addr().ok();
            if !itself && greets(stream) {
                return true;
            }
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn greets(mut stream: TcpStream) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut first = [0u8; 4];
    stream.read_exact(&mut first).is_ok() && first.starts_with(b"220")
}

/// Postfix's `smtp-sink` on 127.0.0.1, killed on drop.
#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl SmtpSink {
    /// Starts `smtp-sink -c` on a free port, accepting up to 100 connections
    /// at once. As root it must drop to a user (`-u nobody`). A port taken
    /// between choosing and binding it gives another try on a new port.
    pub fn start(extra: &[&str]) -> SmtpSink {
        let program = require(
            "smtp-sink",
            "install Postfix without starting it (see tests/run-all.sh)",
        );
        for _ in 0..5 {
            let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let mut cmd = Command::new(&program);
            cmd.arg("-c");
            if is_root() {
                cmd.args(["-u", "nobody"]);
            }
            cmd.args(extra)
                .arg(addr.to_string())
                .arg("100")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("starting smtp-sink: {e}"));
            let mut sink = SmtpSink { child, addr };
            if wait_greeting(&mut sink.child, addr, "smtp-sink") {
                return sink;
            }
        }
        panic!("smtp-sink exited before listening, five times");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when this process runs as root (the owner of `/proc/self` is uid 0).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Runs `python3 -c script args…` with `env` added, within [`PEER_LIMIT`].
pub fn run_python<S: AsRef<OsStr>>(
    script: &str,
    args: impl IntoIterator<Item = S>,
    env: &[(&str, &str)],
) -> Finished {
    let mut cmd = Command::new(require_python());
    cmd.arg("-c").arg(script).args(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    run_bounded(cmd, PEER_LIMIT)
}

/// The file `path`, or a failed test naming it.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
