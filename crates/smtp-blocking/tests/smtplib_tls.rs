//! Our server's TLS against a client we did not write: Python's smtplib
//! (standard library) with `starttls()` on a STARTTLS listener and
//! `SMTP_SSL` on an implicit-TLS one, both verifying our certificate
//! against a CA generated at test time (written as PEM to a temporary
//! directory removed afterwards).

mod support;

use smtp_blocking::{Server, ServerTls};
use smtp_proto::ServerConfig;
use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;
use support::{pem_files, run_smtplib, Recorder};

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

fn deliver_with_smtplib(mode: &str, port: u16, cafile: &Path) {
    let port = port.to_string();
    let args: [&OsStr; 3] = [mode.as_ref(), port.as_ref(), cafile.as_ref()];
    let status = run_smtplib(SCRIPT, args);
    assert!(status.success(), "smtplib ({mode}) failed: {status}");
}

#[test]
fn smtplib_delivers_over_starttls_and_implicit_tls() {
    let dir = pem_files("smtp-blocking-smtplib");
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
        deliver_with_smtplib(mode, server.local_addr().port(), &dir.0.join("ca.pem"));
        server.shutdown(Duration::from_secs(1));
        let messages = recorder.0.lock().unwrap().clone();
        assert_eq!(messages.len(), 1, "{mode}");
        assert_eq!(
            messages[0].bytes,
            b"Subject: from smtplib over TLS\r\n\r\nhello\r\n"
        );
    }
}
