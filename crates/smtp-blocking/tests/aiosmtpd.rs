//! Our client against a server we did not write: Python's aiosmtpd with its
//! debugging handler, which prints each message it receives.
//!
//! aiosmtpd must be installed (`python3 -m pip install aiosmtpd`, done by
//! `tests/run-all.sh`); without it this test fails rather than skips.

use smtp_blocking::Client;
use smtp_proto::{ClientConfig, ClientTimeouts, Envelope, Host, Mailbox, Recipient, TlsPolicy};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server when the test ends, even by a failed assertion.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn wait_until_listening(addr: SocketAddr, peer: &mut Peer) {
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
}

fn timeouts(each: Duration) -> ClientTimeouts {
    ClientTimeouts {
        greeting: each,
        ehlo: each,
        starttls: each,
        auth: each,
        mail: each,
        rcpt: each,
        data_init: each,
        data_block: each,
        data_end: each,
        quit: each,
    }
}

#[test]
fn our_client_delivers_to_aiosmtpd() {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        installed,
        "aiosmtpd is not installed: run `python3 -m pip install aiosmtpd` (tests/run-all.sh does)"
    );

    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new("python3")
        .args([
            "-u",
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut peer = Peer(child);
    wait_until_listening(addr, &mut peer);

    let config = ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(TlsPolicy::None)
        .with_timeouts(timeouts(Duration::from_secs(10)));
    let mut client = Client::connect(addr, config, Duration::from_secs(5)).unwrap();
    let envelope = Envelope::new(Mailbox::parse("sender@example.com").unwrap().into())
        .with_recipient(Recipient::new(Mailbox::parse("rcpt@example.org").unwrap()));
    let bodies = [
        &b"Subject: first\r\n\r\nHello from mailwire\r\n.a line with a leading dot\r\n"[..],
        b"Subject: second\r\n\r\nThe same connection again\r\n",
    ];
    for body in bodies {
        let report = client
            .send(&envelope.clone().with_size(body.len() as u64), body)
            .unwrap();
        assert_eq!(report.accepted().count(), 1);
    }
    client.quit().unwrap();

    // The debugging handler printed both messages; stop it and read them.
    let _ = peer.0.kill();
    let _ = peer.0.wait();
    let mut printed = String::new();
    if let Some(mut stdout) = peer.0.stdout.take() {
        stdout.read_to_string(&mut printed).unwrap();
    }
    assert!(printed.contains("Subject: first"), "{printed}");
    assert!(printed.contains(".a line with a leading dot"), "{printed}");
    assert!(printed.contains("The same connection again"), "{printed}");
}
