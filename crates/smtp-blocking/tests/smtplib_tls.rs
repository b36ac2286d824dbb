//! Our server's TLS against a client we did not write: Python's smtplib
//! (standard library) with `starttls()` on a STARTTLS listener and
//! `SMTP_SSL` on an implicit-TLS one, both verifying our certificate
//! against a CA generated at test time (written as PEM to a temporary
//! directory removed afterwards).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use smtp_blocking::{Connection, Decision, Handler, Message, Server, ServerTls};
use smtp_proto::ServerConfig;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Message>>>);

impl Handler for Recorder {
    fn message(&self, _: &Connection, message: &Message) -> Decision {
        self.0.lock().unwrap().push(message.clone());
        Decision::Accept
    }
}

/// A temporary directory, removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a CA (`ca.pem`) and a server certificate for 127.0.0.1
/// (`cert.pem`, `key.pem`) to a new temporary directory.
fn pki() -> TempDir {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "smtp-blocking-smtplib-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
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
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    TempDir(dir)
}

const SCRIPT: &str = r#"
import smtplib, ssl, sys
mode, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=cafile)
if mode == "starttls":
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10)
    s.starttls(context=context)
else:
    s = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="client.test", timeout=10,
                         context=context)
with s:
    refused = s.sendmail("a@example.com", ["b@example.org"],
                         b"Subject: from smtplib over TLS\r\n\r\nhello\r\n")
    assert refused == {}, refused
"#;

fn run_smtplib(mode: &str, port: u16, cafile: &Path) {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(mode)
        .arg(port.to_string())
        .arg(cafile)
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 is needed for this test");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("smtplib did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "smtplib ({mode}) failed: {status}");
}

#[test]
fn smtplib_delivers_over_starttls_and_implicit_tls() {
    let dir = pki();
    let tls = ServerTls::from_pem_files(dir.0.join("cert.pem"), dir.0.join("key.pem")).unwrap();
    for (mode, tls, config) in [
        (
            "starttls",
            tls.clone(),
            ServerConfig::new("mx.test")
                .with_starttls(true)
                .with_require_tls(true),
        ),
        ("implicit", tls.implicit(), ServerConfig::new("mx.test")),
    ] {
        let recorder = Recorder::default();
        let config = config.with_idle_timeout(Duration::from_secs(10));
        let server = Server::bind_tls("127.0.0.1:0", config, tls, recorder.clone())
            .unwrap()
            .spawn()
            .unwrap();
        run_smtplib(mode, server.local_addr().port(), &dir.0.join("ca.pem"));
        server.shutdown(Duration::from_secs(1));
        let messages = recorder.0.lock().unwrap().clone();
        assert_eq!(messages.len(), 1, "{mode}");
        assert_eq!(
            messages[0].bytes,
            b"Subject: from smtplib over TLS\r\n\r\nhello\r\n"
        );
    }
}
