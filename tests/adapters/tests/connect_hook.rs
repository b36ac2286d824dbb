//! The handler's `connect` and `disconnect`, for every server adapter:
//! each accepted connection is told to `connect` (with the local address)
//! before its greeting and to `disconnect` exactly once however it ends
//! (QUIT, dropped mid-message, silent and closed, idle timeout, a refusal);
//! `connect` may refuse with a reply sent instead of the greeting.

use mailwire_adapter_tests::{
    bounded, connect_from, server_config, start_server_with, Kind, Pki, Recorder, Security, KINDS,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

/// Sends `line` (unless empty) and reads one reply line.
fn exchange(reader: &mut BufReader<TcpStream>, line: &str) -> String {
    if !line.is_empty() {
        reader.get_mut().write_all(line.as_bytes()).unwrap();
    }
    let mut all = String::new();
    loop {
        let mut got = String::new();
        reader.read_line(&mut got).unwrap();
        all.push_str(&got);
        if got.is_empty() || got.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

/// Waits until every connection the recorder was told of has ended.
fn wait_all_closed(kind: Kind, recorder: &Recorder, connected: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let lifecycle = &recorder.lifecycle;
    while Instant::now() < deadline {
        if lifecycle.open() == 0
            && lifecycle
                .connected
                .load(std::sync::atomic::Ordering::SeqCst)
                == connected
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{kind:?}: connected {:?}, disconnected {:?}, expected {connected} each",
        lifecycle.connected, lifecycle.disconnected
    );
}

#[test]
fn every_connection_is_told_its_start_and_its_end_however_it_ends() {
    bounded(LIMIT, || {
        for kind in KINDS {
            let recorder = Recorder::default();
            let config = server_config(Security::Plain).with_idle_timeout(Duration::from_secs(1));
            let server = start_server_with(kind, config, None, recorder.clone());
            let addr = server.addr;
            // QUIT.
            let mut c = BufReader::new(connect_from([127, 0, 0, 1], addr));
            assert!(exchange(&mut c, "").starts_with("220"), "{kind:?}");
            assert!(exchange(&mut c, "QUIT\r\n").starts_with("221"), "{kind:?}");
            wait_all_closed(kind, &recorder, 1);
            // Connected, then gone without a word (never said EHLO).
            drop(connect_from([127, 0, 0, 1], addr));
            wait_all_closed(kind, &recorder, 2);
            // Dropped in the middle of a message.
            let mut c = BufReader::new(connect_from([127, 0, 0, 1], addr));
            exchange(&mut c, "");
            assert!(exchange(&mut c, "EHLO c.test\r\n").starts_with("250"));
            assert!(exchange(&mut c, "MAIL FROM:<a@b.test>\r\n").starts_with("250"));
            assert!(exchange(&mut c, "RCPT TO:<c@d.test>\r\n").starts_with("250"));
            assert!(exchange(&mut c, "DATA\r\n").starts_with("354"));
            c.get_mut().write_all(b"Subject: half\r\n\r\nhal").unwrap();
            drop(c);
            wait_all_closed(kind, &recorder, 3);
            assert!(recorder.messages().is_empty(), "{kind:?}");
            // Silent until the idle timeout closes it.
            let mut c = connect_from([127, 0, 0, 1], addr);
            let mut all = Vec::new();
            let _ = c.read_to_end(&mut all);
            let text = String::from_utf8_lossy(&all);
            assert!(text.contains("421"), "{kind:?}: {text}");
            wait_all_closed(kind, &recorder, 4);
            // The local address is the listener's.
            let locals = recorder.lifecycle.locals.lock().unwrap().clone();
            assert!(
                locals.iter().all(|l| *l == Some(addr)),
                "{kind:?}: {locals:?}"
            );
            server.stop();
            assert_eq!(recorder.lifecycle.open(), 0, "{kind:?}");
        }
    });
}

#[test]
fn connect_may_refuse_a_client_before_its_greeting() {
    bounded(LIMIT, || {
        let pki = Pki::new();
        for kind in KINDS {
            let recorder = Recorder::refusing([127, 0, 0, 2].into());
            let server =
                start_server_with(kind, server_config(Security::Plain), None, recorder.clone());
            let mut refused = connect_from([127, 0, 0, 2], server.addr);
            let mut all = Vec::new();
            refused.read_to_end(&mut all).unwrap();
            let text = String::from_utf8_lossy(&all);
            assert_eq!(text, "554 5.7.1 Client host refused\r\n", "{kind:?}");
            // Another client is served as usual.
            let mut c = BufReader::new(connect_from([127, 0, 0, 1], server.addr));
            assert!(exchange(&mut c, "").starts_with("220 mx.test"), "{kind:?}");
            assert!(exchange(&mut c, "QUIT\r\n").starts_with("221"));
            wait_all_closed(kind, &recorder, 2);
            server.stop();

            // With implicit TLS the refusal goes out over TLS.
            let recorder = Recorder::refusing([127, 0, 0, 1].into());
            let server = start_server_with(
                kind,
                server_config(Security::Implicit),
                pki.server(Security::Implicit),
                recorder.clone(),
            );
            let outcome = mailwire_adapter_tests::run_client(
                Kind::Blocking,
                server.addr,
                mailwire_adapter_tests::client_config(Security::Implicit),
                Some(pki.client()),
                &[],
            );
            let error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("554"), "{kind:?}: {error}");
            wait_all_closed(kind, &recorder, 1);
        }
    });
}
