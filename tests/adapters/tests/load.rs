//! Load test: a smol server holds 10,000 concurrent idle connections on
//! loopback and still accepts a message; its peak memory is printed.
//!
//! The idle connections are opened by a second copy of this program (the
//! same binary, started with `MAILWIRE_LOAD_HOLD` set), so that the
//! server's process needs only its own 10,000 descriptors. Bounded: at most
//! 10,000 connections, and the whole run must end within 60 s.

use mailwire_adapter_tests::{client_config, envelope, Recorder, Security};
use smtp_proto::ServerConfig;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 10_000;
const LIMIT: Duration = Duration::from_secs(60);
const HOLD: &str = "MAILWIRE_LOAD_HOLD";

fn main() {
    if let Ok(addr) = std::env::var(HOLD) {
        hold(addr.parse().expect("an address"));
        return;
    }
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(serve_many_idle_connections);
        let _ = tx.send(result.is_ok());
    });
    let passed = rx.recv_timeout(LIMIT).unwrap_or(false);
    println!("load test took {:.1} s", started.elapsed().as_secs_f64());
    // The closing line test runners look for.
    println!(
        "load: {} passed, {} failed",
        usize::from(passed),
        usize::from(!passed)
    );
    if !passed {
        std::process::exit(1);
    }
}

/// What /proc/self/status says of this process's memory, in KiB.
fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// The other process, killed when the test ends however it ends.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_many_idle_connections() {
    // 10,000 server sockets, the listener, and what the runtime needs.
    let limit = rlimit::increase_nofile_limit(u64::MAX).expect("raising RLIMIT_NOFILE");
    assert!(
        limit >= CONNECTIONS as u64 + 200,
        "RLIMIT_NOFILE cannot be raised above {limit}; the load test needs {}",
        CONNECTIONS + 200
    );
    let config = ServerConfig::new("mx.test").with_idle_timeout(Duration::from_secs(120));
    let recorder = Recorder::default();
    let server = smtp_smol::Server::bind("127.0.0.1:0", config, recorder.clone())
        .unwrap()
        .with_max_connections(CONNECTIONS + 10)
        // Every connection comes from the one loopback address.
        .with_max_connections_per_ip(CONNECTIONS + 10)
        .spawn();
    let addr = server.local_addr();
    let rss_before = memory_kib("VmRSS:");

    let child = Command::new(std::env::current_exe().unwrap())
        .env(HOLD, addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut holder = Holder(child);
    let opening = Instant::now();
    let mut lines = BufReader::new(holder.0.stdout.take().unwrap()).lines();
    let ready = lines.next().expect("the holder's report").unwrap();
    assert_eq!(ready, format!("READY {CONNECTIONS}"));
    let open_time = opening.elapsed();
    // Every connection got its greeting, so the server accepted each.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.active_connections() < CONNECTIONS {
        assert!(
            Instant::now() < deadline,
            "{} served",
            server.active_connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let rss_held = memory_kib("VmRSS:");

    // Still accepting mail.
    let sending = Instant::now();
    smol::block_on(async {
        let mut client = smtp_smol::Client::connect(
            addr,
            client_config(Security::Plain),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let body = b"Subject: under load\r\n\r\nStill here\r\n";
        let report = client
            .send(&envelope(&["rcpt@example.org"]), &body[..])
            .await
            .unwrap();
        assert_eq!(report.accepted().count(), 1);
        client.quit().await.unwrap();
    });
    let send_time = sending.elapsed();
    assert_eq!(recorder.messages().len(), 1);
    assert!(server.active_connections() >= CONNECTIONS);
    let peak = memory_kib("VmHWM:");

    // The holder closes its side; the server goes back to idle.
    drop(holder);
    smol::block_on(server.shutdown(Duration::from_secs(5)));
    println!(
        "load: {CONNECTIONS} idle connections opened in {:.2} s; a message sent under load in {} ms; \
         server RSS {} KiB before, {} KiB holding them ({:.1} KiB per connection), peak (VmHWM) {} KiB",
        open_time.as_secs_f64(),
        send_time.as_millis(),
        rss_before,
        rss_held,
        (rss_held.saturating_sub(rss_before)) as f64 / CONNECTIONS as f64,
        peak
    );
}

/// The holder's side: opens the connections, reads each greeting, says
/// READY, and keeps them open until its standard input closes.
fn hold(addr: SocketAddr) {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut streams = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut greeting = [0u8; 64];
        let n = stream.read(&mut greeting).unwrap();
        assert!(greeting[..n].starts_with(b"220 "), "no greeting");
        streams.push(stream);
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "READY {}", streams.len()).unwrap();
    stdout.flush().unwrap();
    // The parent closes stdin (or dies): then let go.
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
}
