//! Our client against aiosmtpd with STARTTLS (`tls_context`,
//! `require_starttls`): a TLS stack we did not write on the other side.
//!
//! The CA and the server certificate are generated with rcgen at test time
//! and written as PEM to a temporary directory removed afterwards; the
//! client loads the CA with `TlsSettings::with_ca_file`.
//!
//! aiosmtpd must be installed (`python3 -m pip install aiosmtpd`, done by
//! `tests/run-all.sh`); without it this test fails rather than skips.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use smtp_blocking::{Client, ServerTls, TlsSettings};
use smtp_proto::{ClientConfig, ClientTimeouts, Envelope, Host, Mailbox, Recipient, TlsPolicy};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
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

/// A temporary directory, removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> TempDir {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("smtp-blocking-tls-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
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

/// aiosmtpd with STARTTLS required, printing each message it receives.
const SERVER: &str = r#"
import ssl, sys, time
from aiosmtpd.controller import Controller

class Printer:
    async def handle_DATA(self, server, session, envelope):
        tls = "tls" if session.ssl is not None else "plain"
        print(f"MESSAGE over {tls}:", envelope.content.decode("utf-8", "replace"), flush=True)
        return "250 OK"

port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(Printer(), hostname="127.0.0.1", port=port,
                        tls_context=context, require_starttls=True)
controller.start()
print("READY", flush=True)
time.sleep(60)
"#;

#[test]
fn our_client_delivers_to_aiosmtpd_over_starttls() {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        installed,
        "aiosmtpd is not installed: run `python3 -m pip install aiosmtpd` (tests/run-all.sh does)"
    );

    // A CA and a certificate for 127.0.0.1, as PEM files.
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mailwire test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let dir = temp_dir();
    let (ca_pem, cert_pem, key_pem) = (
        dir.0.join("ca.pem"),
        dir.0.join("cert.pem"),
        dir.0.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, leaf.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    // The same files load as our server's TLS too.
    ServerTls::from_pem_files(&cert_pem, &key_pem).unwrap();

    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(port.to_string())
        .arg(&cert_pem)
        .arg(&key_pem)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut peer = Peer(child);
    wait_until_listening(addr, &mut peer);

    let tls = TlsSettings::new().with_ca_file(&ca_pem).unwrap();
    let config = ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(TlsPolicy::Required)
        .with_timeouts(timeouts(Duration::from_secs(10)));
    let mut client =
        Client::connect_tls("127.0.0.1", port, config, &tls, Duration::from_secs(5)).unwrap();
    let info = client.tls().expect("TLS in use").clone();
    assert!(info.verified);
    let envelope = Envelope::new(Mailbox::parse("sender@example.com").unwrap().into())
        .with_recipient(Recipient::new(Mailbox::parse("rcpt@example.org").unwrap()));
    let body = b"Subject: over tls\r\n\r\nHello from mailwire over STARTTLS\r\n";
    let report = client.send(&envelope, &body[..]).unwrap();
    assert_eq!(report.accepted().count(), 1);
    client.quit().unwrap();

    let _ = peer.0.kill();
    let _ = peer.0.wait();
    let mut printed = String::new();
    if let Some(mut stdout) = peer.0.stdout.take() {
        stdout.read_to_string(&mut printed).unwrap();
    }
    assert!(printed.contains("MESSAGE over tls:"), "{printed}");
    assert!(
        printed.contains("Hello from mailwire over STARTTLS"),
        "{printed}"
    );
}
