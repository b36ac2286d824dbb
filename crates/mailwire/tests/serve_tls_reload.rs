//! `mailwire serve --tls-cert/--tls-key`: the certificate files replaced
//! while it runs are served on the next connections of every TLS listener
//! (SMTP implicit TLS and STARTTLS, POP3S, IMAPS), without a restart;
//! broken new files leave the previous certificate in service.
//!
//! Python's `ssl` (a client we did not write) fetches the certificate each
//! implicit-TLS listener presents; our SMTP client checks STARTTLS.

mod common;

use common::{Serve, TempDir};
use smtp_blocking::{Client, TlsSettings};
use smtp_proto::{ClientConfig, ClientTimeouts, Host, TlsPolicy};
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(10);

/// Longer than the server's interval between looks at the files.
const PAST_CHECK: Duration = Duration::from_millis(1300);

/// A new self-signed certificate for localhost: PEM, key PEM, DER as hex.
fn generate() -> (String, String, String) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let hex: String = generated
        .cert
        .der()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (
        generated.cert.pem(),
        generated.signing_key.serialize_pem(),
        hex,
    )
}

/// Replaces the files as a renewal tool does: written beside, renamed.
fn install(dir: &Path, cert: &str, key: &str) {
    fs::write(dir.join("cert.new"), cert).unwrap();
    fs::write(dir.join("key.new"), key).unwrap();
    fs::rename(dir.join("key.new"), dir.join("key.pem")).unwrap();
    fs::rename(dir.join("cert.new"), dir.join("cert.pem")).unwrap();
}

/// The certificate (DER, hex) each address presents, as Python's ssl sees it.
fn presented(addrs: &[SocketAddr]) -> Vec<String> {
    let script = r#"
import socket, ssl, sys
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
for addr in sys.argv[1:]:
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            print(tls.getpeercert(binary_form=True).hex())
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(addrs.iter().map(SocketAddr::to_string))
        .output()
        .expect("python3 runs (tests/run-all.sh installs it)");
    assert!(
        out.status.success(),
        "python3 ssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// STARTTLS on the plain listener succeeds when trusting `ca` only.
fn starttls_trusts(addr: SocketAddr, dir: &Path, ca_pem: &str) -> bool {
    let ca = dir.join("trusted.pem");
    fs::write(&ca, ca_pem).unwrap();
    let settings = TlsSettings::new().with_ca_file_only(&ca).unwrap();
    let timeouts = ClientTimeouts {
        greeting: STEP,
        ehlo: STEP,
        starttls: STEP,
        auth: STEP,
        mail: STEP,
        rcpt: STEP,
        data_init: STEP,
        data_block: STEP,
        data_end: STEP,
        quit: STEP,
    };
    let config = ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(TlsPolicy::Required)
        .with_timeouts(timeouts);
    match Client::connect_tls("localhost", addr.port(), config, &settings, STEP) {
        Ok(client) => {
            let _ = client.quit();
            true
        }
        Err(_) => false,
    }
}

fn announced(serve: &Serve, prefix: &str) -> SocketAddr {
    let line = serve
        .wait_lines(prefix, 1)
        .into_iter()
        .next()
        .unwrap_or_default();
    line[prefix.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn replaced_certificate_files_are_served_by_every_listener_without_a_restart() {
    let dir = TempDir::new("tls-reload");
    let (cert_a, key_a, der_a) = generate();
    install(&dir.0, &cert_a, &key_a);
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    let serve = Serve::start(
        &dir.0,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--tls-listen",
            "127.0.0.1:0",
            "--pop3s",
            "127.0.0.1:0",
            "--imaps",
            "127.0.0.1:0",
        ],
        &[("MAILWIRE_SERVE_USERS", "alice:reader-secret")],
    );
    let pop3s = announced(&serve, "POP3 on ");
    let imaps = announced(&serve, "IMAP on ");
    let listeners = [serve.tls.unwrap(), pop3s, imaps];
    assert_eq!(presented(&listeners), [der_a.as_str(); 3]);
    assert!(starttls_trusts(serve.plain, &dir.0, &cert_a));

    // A renewal: every listener presents the new certificate.
    let (cert_b, key_b, der_b) = generate();
    install(&dir.0, &cert_b, &key_b);
    std::thread::sleep(PAST_CHECK);
    // The first handshake after the interval looks at the files; allow a
    // second round for a listener whose handshake raced the first look.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = presented(&listeners);
    while seen.iter().any(|d| *d != der_b) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        seen = presented(&listeners);
    }
    assert_eq!(seen, [der_b.as_str(); 3]);
    assert!(starttls_trusts(serve.plain, &dir.0, &cert_b));
    assert!(!starttls_trusts(serve.plain, &dir.0, &cert_a));

    // Broken files (a key that is not the certificate's, then garbage):
    // the previous certificate stays in service, the server stays up.
    let (_, key_c, _) = generate();
    install(&dir.0, &cert_b, &key_c);
    std::thread::sleep(PAST_CHECK);
    assert_eq!(presented(&listeners), [der_b.as_str(); 3]);
    install(&dir.0, "garbage", "garbage");
    std::thread::sleep(PAST_CHECK);
    assert_eq!(presented(&listeners), [der_b.as_str(); 3]);
    assert!(starttls_trusts(serve.plain, &dir.0, &cert_b));

    // Good files again are taken up.
    install(&dir.0, &cert_a, &key_a);
    std::thread::sleep(PAST_CHECK);
    assert_eq!(presented(&listeners), [der_a.as_str(); 3]);
}
