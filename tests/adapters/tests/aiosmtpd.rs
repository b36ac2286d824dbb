//! Every client (blocking, async-std and smol) against a server we did not
//! write: Python's aiosmtpd, in plain TCP and with STARTTLS required.
//!
//! aiosmtpd must be installed (`python3 -m pip install aiosmtpd`, done by
//! `tests/run-all.sh`); without it these tests fail rather than skip.

use mailwire_adapter_tests::peers::{free_port, require_aiosmtpd, Aiosmtpd, TempDir};
use mailwire_adapter_tests::{bounded, envelope, run_client, timeouts, Pki, KINDS};
use smtp_adapter::TlsSettings;
use smtp_proto::{ClientConfig, Host, TlsPolicy};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn config(policy: TlsPolicy) -> ClientConfig {
    ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(policy)
        .with_timeouts(timeouts(Duration::from_secs(10)))
}

#[test]
fn every_client_delivers_to_aiosmtpd() {
    bounded(LIMIT, || {
        require_aiosmtpd();
        for kind in KINDS {
            let port = free_port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let listen = format!("127.0.0.1:{port}");
            let mut peer = Aiosmtpd::start(addr, ["-u", "-m", "aiosmtpd", "-n", "-l", &listen]);
            let first =
                format!("Subject: first {kind:?}\r\n\r\nHello\r\n.a line with a leading dot\r\n");
            let messages = [
                (envelope(&["rcpt@example.org"]), first.into_bytes()),
                (
                    envelope(&["rcpt@example.org"]),
                    b"Subject: second\r\n\r\nThe same connection again\r\n".to_vec(),
                ),
            ];
            let outcome = run_client(kind, addr, config(TlsPolicy::None), None, &messages)
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            for result in &outcome.results {
                let report = result.as_ref().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
                assert_eq!(report.accepted().count(), 1);
            }
            let printed = peer.stop();
            assert!(
                printed.contains(&format!("Subject: first {kind:?}")),
                "{printed}"
            );
            assert!(printed.contains(".a line with a leading dot"), "{printed}");
            assert!(printed.contains("The same connection again"), "{printed}");
        }
    });
}

/// aiosmtpd with STARTTLS required, printing each message it receives.
const STARTTLS_SERVER: &str = r#"
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
fn every_client_delivers_to_aiosmtpd_over_starttls() {
    bounded(LIMIT, || {
        require_aiosmtpd();
        let pki = Pki::new();
        let dir = TempDir::new("adapter-tests-tls");
        let (ca, cert, key) = (
            dir.0.join("ca.pem"),
            dir.0.join("cert.pem"),
            dir.0.join("key.pem"),
        );
        std::fs::write(&ca, &pki.ca_pem).unwrap();
        std::fs::write(&cert, &pki.cert_pem).unwrap();
        std::fs::write(&key, &pki.key_pem).unwrap();
        for kind in KINDS {
            let port = free_port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let port_arg = port.to_string();
            let args: [&OsStr; 5] = [
                "-c".as_ref(),
                STARTTLS_SERVER.as_ref(),
                port_arg.as_ref(),
                cert.as_ref(),
                key.as_ref(),
            ];
            let mut peer = Aiosmtpd::start(addr, args);
            let tls = TlsSettings::new().with_ca_file(&ca).unwrap();
            let body =
                format!("Subject: tls\r\n\r\nHello from the {kind:?} client over STARTTLS\r\n");
            let messages = [(envelope(&["rcpt@example.org"]), body.into_bytes())];
            let outcome = run_client(
                kind,
                addr,
                config(TlsPolicy::Required),
                Some(tls),
                &messages,
            )
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            let info = outcome.tls.expect("TLS in use");
            assert!(info.verified);
            assert!(
                outcome.results[0].is_ok(),
                "{kind:?}: {:?}",
                outcome.results[0]
            );
            let printed = peer.stop();
            assert!(printed.contains("MESSAGE over tls:"), "{printed}");
            assert!(
                printed.contains(&format!("Hello from the {kind:?} client over STARTTLS")),
                "{printed}"
            );
        }
    });
}
