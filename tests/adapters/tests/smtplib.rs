//! Every server (blocking, async-std and smol) against a client we did not
//! write: Python's smtplib (standard library), in plain TCP, with
//! `starttls()` and with `SMTP_SSL`, verifying our certificate against a
//! CA generated at test time.

use mailwire_adapter_tests::peers::{run_python, TempDir};
use mailwire_adapter_tests::{bounded, server_config, start_server, Pki, Security, KINDS};
use std::ffi::OsStr;
use std::time::Duration;

const SCRIPT: &str = r#"
import smtplib, ssl, sys
mode, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=cafile)
if mode == "Implicit":
    s = smtplib.SMTP_SSL("127.0.0.1", port, local_hostname="client.test", timeout=10,
                         context=context)
else:
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10)
    if mode == "StartTls":
        s.starttls(context=context)
with s:
    refused = s.sendmail("a@example.com", ["b@example.org", "nobody@example.org"],
                         b"Subject: from smtplib\r\n\r\nhello\r\n.leading dot\r\n")
    assert list(refused) == ["nobody@example.org"], refused
    assert refused["nobody@example.org"][0] == 550, refused
    s.sendmail("a@example.com", ["d@example.org"], b"second\r\n")
"#;

#[test]
fn smtplib_delivers_to_every_server() {
    bounded(Duration::from_secs(60), || {
        let pki = Pki::new();
        let dir = TempDir::new("adapter-tests-smtplib");
        let ca = dir.0.join("ca.pem");
        std::fs::write(&ca, &pki.ca_pem).unwrap();
        for kind in KINDS {
            for security in [Security::Plain, Security::StartTls, Security::Implicit] {
                let case = format!("{kind:?} server, {security:?}");
                let server = start_server(kind, server_config(security), pki.server(security));
                let mode = format!("{security:?}");
                let port = server.addr.port().to_string();
                let args: [&OsStr; 3] = [mode.as_ref(), port.as_ref(), ca.as_ref()];
                let status = run_python(SCRIPT, args);
                assert!(status.success(), "{case}: smtplib failed: {status}");
                let messages = server.recorder.messages();
                assert_eq!(messages.len(), 2, "{case}");
                assert_eq!(
                    messages[0].bytes, b"Subject: from smtplib\r\n\r\nhello\r\n.leading dot\r\n",
                    "{case}"
                );
                assert_eq!(messages[0].recipients.len(), 1, "{case}");
                assert_eq!(messages[1].bytes, b"second\r\n", "{case}");
                server.stop();
            }
        }
    });
}
