//! Our server against a client we did not write: Python's smtplib (standard
//! library, so only python3 is needed).

mod support;

use smtp_blocking::Server;
use std::time::Duration;
use support::{run_smtplib, server_config, Recorder};

const SCRIPT: &str = r#"
import smtplib, sys
port = int(sys.argv[1])
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as s:
    refused = s.sendmail("a@example.com", ["b@example.org", "c@example.org"],
                         b"Subject: from smtplib\r\n\r\nhello\r\n.leading dot\r\n")
    assert refused == {}, refused
    s.sendmail("a@example.com", ["d@example.org"], b"second\r\n")
"#;

#[test]
fn smtplib_delivers_to_our_server() {
    let recorder = Recorder::default();
    let config = server_config();
    let server = Server::bind("127.0.0.1:0", config, recorder.clone())
        .unwrap()
        .spawn()
        .unwrap();
    let port = server.local_addr().port().to_string();
    let status = run_smtplib(SCRIPT, [&port]);
    assert!(status.success(), "smtplib failed: {status}");
    let messages = recorder.0.lock().unwrap().clone();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0].bytes,
        b"Subject: from smtplib\r\n\r\nhello\r\n.leading dot\r\n"
    );
    assert_eq!(messages[0].recipients.len(), 2);
    assert_eq!(messages[1].bytes, b"second\r\n");
    server.shutdown(Duration::from_secs(1));
}
