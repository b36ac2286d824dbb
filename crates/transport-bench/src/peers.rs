//! Child processes: receivers that live for one measurement (stopped by
//! their own pid when dropped) and senders timed from spawn to exit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A running receiver; killed (by its pid) and reaped when dropped.
#[derive(Debug)]
pub(crate) struct Peer {
    child: Child,
    what: String,
}

impl Peer {
    /// Starts `command` with its output discarded.
    pub(crate) fn spawn(mut command: Command, what: &str) -> Result<Peer, String> {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {what}: {e}"))?;
        Ok(Peer {
            child,
            what: what.to_owned(),
        })
    }

    /// An error when the process has already exited.
    pub(crate) fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited early ({status})", self.what)),
            Err(e) => Err(format!("waiting for {}: {e}", self.what)),
        }
    }

    /// Waits (up to `within`) until `addr` accepts a connection and sends
    /// a 220 greeting; then says QUIT on that probe connection.
    pub(crate) fn wait_ready(&mut self, addr: SocketAddr, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            self.check_running()?;
            if let Ok(greeting) = greet(addr) {
                if greeting.starts_with("220") {
                    return Ok(());
                }
                return Err(format!("{} greeted with {greeting:?}", self.what));
            }
            if Instant::now() >= deadline {
                return Err(format!("{} did not accept on {addr} in time", self.what));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn greet(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.ends_with(b"\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let _ = stream.write_all(b"QUIT\r\n");
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// `program args...` run under `taskset -c cpus`.
pub(crate) fn pinned(cpus: &str, program: &str) -> Command {
    let mut command = Command::new("taskset");
    command.arg("-c").arg(cpus).arg(program);
    command
}

/// Runs `command` to its end (killing it after `limit`) and returns its
/// wall-clock time from spawn to exit; an error with its standard error when
/// it fails.
pub(crate) fn run_timed(
    mut command: Command,
    what: &str,
    limit: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {what}: {e}"))?;
    let stderr = child.stderr.take();
    let reader = thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = stderr {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    // Blocked in wait() on a thread of its own, so that this process takes
    // no CPU time from the measured pair while they run.
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let status = child.wait();
        let _ = done.send(status);
    });
    let status = match finished.recv_timeout(limit) {
        Ok(status) => status.map_err(|e| format!("waiting for {what}: {e}"))?,
        Err(_) => {
            // Stopped by its own pid; the waiter then reaps it.
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            let _ = waiter.join();
            return Err(format!("{what} took longer than {limit:?} and was stopped"));
        }
    };
    let elapsed = start.elapsed();
    let _ = waiter.join();
    let errors = reader.join().unwrap_or_default();
    if status.success() {
        Ok(elapsed)
    } else {
        Err(format!("{what} failed ({status}): {}", errors.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_run_reports_failure_and_time() {
        let mut ok = Command::new("sh");
        ok.args(["-c", "sleep 0.05"]);
        let took = run_timed(ok, "sleep", Duration::from_secs(5)).unwrap();
        assert!(took >= Duration::from_millis(50));

        let mut bad = Command::new("sh");
        bad.args(["-c", "echo oops >&2; exit 3"]);
        let error = run_timed(bad, "failing", Duration::from_secs(5)).unwrap_err();
        assert!(error.contains("oops"), "{error}");

        let mut slow = Command::new("sleep");
        slow.arg("5");
        let error = run_timed(slow, "slow", Duration::from_millis(100)).unwrap_err();
        assert!(error.contains("longer"), "{error}");
    }

    #[test]
    fn peer_is_ready_when_it_greets_and_stopped_on_drop() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"220 ready\r\n").unwrap();
        });
        let mut sleeper = Command::new("sleep");
        sleeper.arg("30");
        let mut peer = Peer::spawn(sleeper, "sleep").unwrap();
        peer.wait_ready(addr, Duration::from_secs(5)).unwrap();
        server.join().unwrap();
        drop(peer);

        let mut quick = Command::new("true");
        quick.arg("x");
        let mut gone = Peer::spawn(quick, "true").unwrap();
        thread::sleep(Duration::from_millis(200));
        assert!(gone.check_running().is_err());
    }
}
