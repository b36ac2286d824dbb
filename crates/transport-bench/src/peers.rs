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

    /// Its CPU time so far (all threads).
    pub(crate) fn cpu(&self) -> Option<Duration> {
        process_cpu(self.child.id())
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

/// The kernel's clock ticks per second for the times in `/proc/*/stat`
/// (`USER_HZ`, 100 on every Linux architecture this runs on).
const TICKS_PER_SECOND: u64 = 100;

/// Fields of a `/proc/.../stat` line after the command name, from the
/// state (field 3) on.
fn stat_fields(path: &str) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(path).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(
        rest.split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

fn ticks(n: u64) -> Duration {
    Duration::from_millis(n * 1000 / TICKS_PER_SECOND)
}

/// CPU time (user and system, all threads) of process `pid` so far.
pub(crate) fn process_cpu(pid: u32) -> Option<Duration> {
    let f = stat_fields(&format!("/proc/{pid}/stat"))?;
    // utime and stime are fields 14 and 15; the list starts at field 4.
    Some(ticks(f.get(10)? + f.get(11)?))
}

/// CPU time of this process's children that were waited for.
fn children_cpu() -> Option<Duration> {
    let f = stat_fields("/proc/self/stat")?;
    // cutime and cstime are fields 16 and 17.
    Some(ticks(f.get(12)? + f.get(13)?))
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

/// What a finished sender took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timed {
    /// Wall-clock time from spawn to exit.
    pub(crate) wall: Duration,
    /// Its CPU time (user and system), when the kernel told.
    pub(crate) cpu: Option<Duration>,
}

/// Runs `command` to its end (killing it after `limit`) and returns its
/// wall-clock and CPU time; an error with its standard error when it fails.
///
/// The CPU time is the growth of this process's "waited-for children"
/// counters across the run, so no other child may be reaped meanwhile.
pub(crate) fn run_timed(
    mut command: Command,
    what: &str,
    limit: Duration,
) -> Result<Timed, String> {
    let children_before = children_cpu();
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
    let cpu = children_cpu()
        .zip(children_before)
        .map(|(after, before)| after.saturating_sub(before));
    let errors = reader.join().unwrap_or_default();
    if status.success() {
        Ok(Timed { wall: elapsed, cpu })
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
        assert!(took.wall >= Duration::from_millis(50));
        assert!(took.cpu.is_some());

        // A busy child's CPU time is seen.
        let mut busy = Command::new("sh");
        busy.args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]);
        let took = run_timed(busy, "busy", Duration::from_secs(30)).unwrap();
        let cpu = took.cpu.unwrap();
        assert!(cpu >= Duration::from_millis(20), "{cpu:?}");
        assert!(
            cpu <= took.wall + Duration::from_millis(20),
            "{cpu:?} {took:?}"
        );

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
        assert!(peer.cpu().is_some());
        server.join().unwrap();
        drop(peer);

        let mut quick = Command::new("true");
        quick.arg("x");
        let mut gone = Peer::spawn(quick, "true").unwrap();
        thread::sleep(Duration::from_millis(200));
        assert!(gone.check_running().is_err());
    }
}
