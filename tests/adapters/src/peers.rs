//! Python's aiosmtpd as a real peer: started on a free port, killed on
//! drop, with what it printed read back.

use std::ffi::OsStr;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails the test unless Python's aiosmtpd can be imported.
pub fn require_aiosmtpd() {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        installed,
        "aiosmtpd is not installed: run `python3 -m pip install aiosmtpd` (tests/run-all.sh does)"
    );
}

/// A port on 127.0.0.1 that nothing listens on (right now).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new directory named after `prefix`, the process and the time.
    pub fn new(prefix: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running aiosmtpd; killed on drop, even by a failed assertion.
#[derive(Debug)]
pub struct Aiosmtpd(Child);

impl Aiosmtpd {
    /// Starts `python3 args…` and waits until it listens on `addr`.
    pub fn start<S: AsRef<OsStr>>(addr: SocketAddr, args: impl IntoIterator<Item = S>) -> Aiosmtpd {
        let child = Command::new("python3")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut peer = Aiosmtpd(child);
        let start = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = peer.0.try_wait() {
                panic!("aiosmtpd exited before listening: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        peer
    }

    /// Stops the server and returns what it printed.
    pub fn stop(&mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut printed = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            stdout.read_to_string(&mut printed).unwrap();
        }
        printed
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `python3 -c script args…`; fails if it takes longer than 30 s.
pub fn run_python<S: AsRef<OsStr>>(
    script: &str,
    args: impl IntoIterator<Item = S>,
) -> std::process::ExitStatus {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 is needed for this test");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("python3 did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
