//! The `send` and `serve` sides of the benchmark, end to end over loopback
//! with no outside peer: every client kind delivers to every in-process
//! server kind, and a failure is reported as one.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const LOOPBACK: &str = env!("CARGO_BIN_EXE_loopback");

/// A child process killed when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Starts `loopback serve --server KIND` and waits for its greeting.
fn serve(kind: &str) -> (Guard, String) {
    let addr = free_addr();
    let child = Command::new(LOOPBACK)
        .args(["serve", "--server", kind, "--addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(stream) = TcpStream::connect(&addr) {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut line = String::new();
            BufReader::new(stream).read_line(&mut line).unwrap();
            assert!(line.starts_with("220"), "{kind} greeted with {line:?}");
            return (guard, addr);
        }
        assert!(Instant::now() < deadline, "{kind} server never listened");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `loopback send`, bounded to 60 s; its exit status and stderr.
fn send(client: &str, addr: &str, size: &str, conns: &str, count: &str) -> (ExitStatus, String) {
    let child = Command::new(LOOPBACK)
        .args(["send", "--client", client, "--addr", addr])
        .args(["--size", size, "--conns", conns, "--count", count])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "{client} did not finish in 60 s");
        thread::sleep(Duration::from_millis(10));
    };
    let mut errors = String::new();
    if let Some(mut pipe) = guard.0.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut errors).unwrap();
    }
    (status, errors)
}

#[test]
fn every_client_delivers_to_the_blocking_server() {
    let (_server, addr) = serve("blocking");
    for client in [
        "ours",
        "lettre",
        "smol-pool",
        "smol-clients",
        "async-std-pool",
        "async-std-clients",
    ] {
        for (size, conns) in [("2000", "1"), ("100000", "3")] {
            let (status, errors) = send(client, &addr, size, conns, "25");
            assert!(status.success(), "{client} {size} {conns}: {errors}");
        }
    }
}

#[test]
fn the_async_servers_take_mail() {
    for kind in ["smol", "async-std"] {
        let (_server, addr) = serve(kind);
        let (status, errors) = send("ours", &addr, "2000", "4", "40");
        assert!(status.success(), "{kind}: {errors}");
    }
}

#[test]
fn a_sender_without_a_server_fails_and_says_why() {
    let addr = free_addr();
    let (status, errors) = send("ours", &addr, "2000", "1", "1");
    assert!(!status.success());
    assert!(errors.contains("loopback send"), "{errors}");

    let (status, errors) = send("nonsense", &addr, "2000", "1", "1");
    assert!(!status.success());
    assert!(errors.contains("unknown client"), "{errors}");
}
