//! Our server against a client we did not write: Python's smtplib (standard
//! library, so only python3 is needed).

use smtp_blocking::{Connection, Decision, Handler, Message, Server};
use smtp_proto::ServerConfig;
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
    let config = ServerConfig::new("mx.test").with_idle_timeout(Duration::from_secs(10));
    let server = Server::bind("127.0.0.1:0", config, recorder.clone())
        .unwrap()
        .spawn()
        .unwrap();
    let port = server.local_addr().port().to_string();
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, &port])
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
