//! Our client against aiosmtpd with STARTTLS (`tls_context`,
//! `require_starttls`): a TLS stack we did not write on the other side.
//!
//! The CA and the server certificate are generated with rcgen at test time
//! and written as PEM to a temporary directory removed afterwards; the
//! client loads the CA with `TlsSettings::with_ca_file`.
//!
//! aiosmtpd must be installed (`python3 -m pip install aiosmtpd`, done by
//! `tests/run-all.sh`); without it this test fails rather than skips.

mod support;

use smtp_blocking::{Client, ServerTls, TlsSettings};
use smtp_proto::TlsPolicy;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::Duration;
use support::{client_config, envelope, free_port, pem_files, require_aiosmtpd, Aiosmtpd};

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
    require_aiosmtpd();

    // A CA and a certificate for 127.0.0.1, as PEM files.
    let dir = pem_files("smtp-blocking-tls");
    let (ca_pem, cert_pem, key_pem) = (
        dir.0.join("ca.pem"),
        dir.0.join("cert.pem"),
        dir.0.join("key.pem"),
    );
    // The same files load as our server's TLS too.
    ServerTls::from_pem_files(&cert_pem, &key_pem).unwrap();

    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let port_arg = port.to_string();
    let args: [&OsStr; 5] = [
        "-c".as_ref(),
        SERVER.as_ref(),
        port_arg.as_ref(),
        cert_pem.as_ref(),
        key_pem.as_ref(),
    ];
    let mut peer = Aiosmtpd::start(addr, args);

    let tls = TlsSettings::new().with_ca_file(&ca_pem).unwrap();
    let config = client_config(TlsPolicy::Required);
    let mut client =
        Client::connect_tls("127.0.0.1", port, config, &tls, Duration::from_secs(5)).unwrap();
    let info = client.tls().expect("TLS in use").clone();
    assert!(info.verified);
    let envelope = envelope();
    let body = b"Subject: over tls\r\n\r\nHello from mailwire over STARTTLS\r\n";
    let report = client.send(&envelope, &body[..]).unwrap();
    assert_eq!(report.accepted().count(), 1);
    client.quit().unwrap();

    let printed = peer.stop();
    assert!(printed.contains("MESSAGE over tls:"), "{printed}");
    assert!(
        printed.contains("Hello from mailwire over STARTTLS"),
        "{printed}"
    );
}
