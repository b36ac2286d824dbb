//! Our client against a server we did not write: Python's aiosmtpd with its
//! debugging handler, which prints each message it receives.
//!
//! aiosmtpd must be installed (`python3 -m pip install aiosmtpd`, done by
//! `tests/run-all.sh`); without it this test fails rather than skips.

mod support;

use smtp_blocking::Client;
use smtp_proto::TlsPolicy;
use std::net::SocketAddr;
use std::time::Duration;
use support::{client_config, envelope, free_port, require_aiosmtpd, Aiosmtpd};

#[test]
fn our_client_delivers_to_aiosmtpd() {
    require_aiosmtpd();

    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let listen = format!("127.0.0.1:{port}");
    let mut peer = Aiosmtpd::start(addr, ["-u", "-m", "aiosmtpd", "-n", "-l", &listen]);

    let config = client_config(TlsPolicy::None);
    let mut client = Client::connect(addr, config, Duration::from_secs(5)).unwrap();
    let envelope = envelope();
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
    let printed = peer.stop();
    assert!(printed.contains("Subject: first"), "{printed}");
    assert!(printed.contains(".a line with a leading dot"), "{printed}");
    assert!(printed.contains("The same connection again"), "{printed}");
}
