//! kill -9 of the mail server while several clients send: every message
//! that got its 250 is in the mailbox afterwards.

mod common;
mod server_support;

use common::TempDir;
use server_support::{add_user, messages, MailServer, Raw};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// 100 octets with its line end.
const LINE: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";

#[test]
fn every_acknowledged_message_survives_kill_9() {
    let dir = TempDir::new("server-crash");
    let d = &dir.0;
    add_user(d, "users", "u@crash.test", "pw", None);
    std::fs::write(
        d.join("crash.toml"),
        "users_file = \"users\"\nmailboxes = \"mail\"\n[listeners]\nsmtp = \"127.0.0.1:0\"\n\
         [directory]\ndomains = [\"crash.test\"]\n[checks]\nenabled = false\n",
    )
    .unwrap();
    let mut server = MailServer::start(d, &["--config", "crash.toml"], &["smtp"]);
    let addr = server.addr("smtp");
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|n| {
            let (acknowledged, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
            thread::spawn(move || {
                let mut c = Raw::connect(addr).unwrap();
                if c.cmd("EHLO client.test").is_err() {
                    return;
                }
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let body = format!("Subject: {n}-{i}\n\n{}", LINE.repeat(20));
                    match c.send("s@remote.test", &["u@crash.test"], &body) {
                        Ok(reply) if reply.starts_with("250") => {
                            let id = reply.trim_end().rsplit(' ').next().unwrap().to_owned();
                            acknowledged.lock().unwrap().push(id);
                        }
                        Ok(other) => panic!("client {n}: {other}"),
                        // The server was killed.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    // Let them get going, then kill the server mid-stream.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "too slow: {:?}",
            server.stderr()
        );
        thread::sleep(Duration::from_millis(10));
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let stored = messages(&d.join("mail"), "crash.test", "u", None);
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.iter().any(|m| m.contains(&format!(" id {id};"))))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages missing after kill -9: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    // Nothing stored is cut short either.
    for message in &stored {
        assert!(
            message.ends_with(&LINE.repeat(20).replace('\n', "\r\n")),
            "{message:?}"
        );
    }
    eprintln!(
        "{} acknowledged, {} stored after kill -9",
        acknowledged.len(),
        stored.len()
    );
}
