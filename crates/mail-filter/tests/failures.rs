//! Scanners that are down, silent, slow, chatty or confused: each exchange
//! ends by its deadline with a typed error, reads a bounded reply, and the
//! chain applies the failure policy. The misbehaving peers are small
//! loopback servers of the test's own.

mod common;

use common::{header, info, message, TempDir};
use mail_filter::{
    Clamd, ClamdConfig, FailurePolicy, Filter, FilterChain, FilterError, Rspamd, RspamdConfig,
    Verdict,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A one-connection server that runs `behave` on the accepted socket.
fn peer(behave: impl FnOnce(TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            behave(stream);
        }
    });
    addr
}

/// Reads what the client sends for a while (so its writes do not fail).
fn drain(stream: &mut TcpStream, for_how_long: Duration) {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let end = Instant::now() + for_how_long;
    let mut buf = [0u8; 65536];
    while Instant::now() < end {
        match stream.read(&mut buf) {
            Ok(0) => return,
            _ => continue,
        }
    }
}

fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

fn clamd(addr: &str, timeout_ms: u64) -> Clamd {
    let mut config = ClamdConfig::new(addr);
    config.timeout_ms = timeout_ms;
    Clamd::new(config)
}

fn rspamd(addr: &str, timeout_ms: u64) -> Rspamd {
    let mut config = RspamdConfig::new(format!("http://{addr}"));
    config.timeout_ms = timeout_ms;
    config.max_reply = 64 * 1024;
    Rspamd::new(config).unwrap()
}

fn sample() -> (TempDir, std::path::PathBuf, usize) {
    let dir = TempDir::new("failures");
    let bytes = message("hi", "hello");
    let path = dir.message("m.eml", &bytes);
    (dir, path, bytes.len())
}

#[test]
fn a_scanner_that_is_down_is_a_connect_error_and_the_policy_decides() {
    let (_dir, path, size) = sample();
    let addr = closed_port();
    let error = clamd(&addr, 2000).check(&info(size), &path).unwrap_err();
    assert!(matches!(error, FilterError::Connect { .. }), "{error:?}");

    let mut chain = FilterChain::new();
    chain.push(Box::new(clamd(&addr, 2000)), FailurePolicy::Accept);
    chain.push(Box::new(rspamd(&addr, 2000)), FailurePolicy::Accept);
    let outcome = chain.run(&info(size), &path);
    assert_eq!(
        outcome.verdict,
        Verdict::Accept {
            add_headers: vec![
                ("X-Mailwire-Filter-Failed".into(), "clamd; connect".into()),
                ("X-Mailwire-Filter-Failed".into(), "rspamd; connect".into()),
            ]
        }
    );
    assert_eq!(outcome.decided_by, None);
    assert_eq!(
        outcome.per_filter,
        vec![
            ("clamd".to_owned(), "failed"),
            ("rspamd".to_owned(), "failed")
        ]
    );

    let mut chain = FilterChain::new();
    chain.push(Box::new(rspamd(&addr, 2000)), FailurePolicy::Tempfail);
    let outcome = chain.run(&info(size), &path);
    assert!(matches!(outcome.verdict, Verdict::TempFail { .. }));
    assert_eq!(outcome.decided_by.as_deref(), Some("rspamd"));
}

#[test]
fn a_scanner_that_never_answers_hits_the_deadline() {
    let (_dir, path, size) = sample();
    for kind in ["clamd", "rspamd"] {
        let addr = peer(|mut s| drain(&mut s, Duration::from_secs(5)));
        let started = Instant::now();
        let result = if kind == "clamd" {
            clamd(&addr, 400).check(&info(size), &path)
        } else {
            rspamd(&addr, 400).check(&info(size), &path)
        };
        let elapsed = started.elapsed();
        assert!(
            matches!(result, Err(FilterError::Timeout { .. })),
            "{kind}: {result:?}"
        );
        assert!(elapsed >= Duration::from_millis(390), "{kind}: {elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{kind}: {elapsed:?}");
    }
}

#[test]
fn a_scanner_that_never_reads_hits_the_deadline_while_we_write() {
    let dir = TempDir::new("failures");
    let bytes = message("big", &"w".repeat(8 << 20));
    let path = dir.message("big.eml", &bytes);
    for kind in ["clamd", "rspamd"] {
        let addr = peer(|s| {
            std::thread::sleep(Duration::from_secs(4));
            drop(s);
        });
        let started = Instant::now();
        let result = if kind == "clamd" {
            let mut config = ClamdConfig::new(addr);
            config.timeout_ms = 500;
            config.max_size = 16 << 20;
            Clamd::new(config).check(&info(bytes.len()), &path)
        } else {
            rspamd(&addr, 500).check(&info(bytes.len()), &path)
        };
        assert!(
            matches!(result, Err(FilterError::Timeout { .. })),
            "{kind}: {result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{kind}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_scanner_that_trickles_hits_the_deadline_too() {
    let (_dir, path, size) = sample();
    // One byte every 50 ms of a reply that never ends: each read succeeds,
    // only the exchange's deadline can stop it.
    let addr = peer(|mut s| {
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
        let _ = s.write_all(head);
        for _ in 0..200 {
            if s.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let started = Instant::now();
    let result = rspamd(&addr, 500).check(&info(size), &path);
    assert!(
        matches!(result, Err(FilterError::Timeout { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_reply_too_large_is_refused_not_buffered() {
    let (_dir, path, size) = sample();
    let addr = peer(|mut s| {
        let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let chunk = vec![b'x'; 65536];
        for _ in 0..100 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let result = clamd(&addr, 5000).check(&info(size), &path);
    assert!(
        matches!(result, Err(FilterError::ReplyTooLarge { limit: 4096, .. })),
        "{result:?}"
    );
    let addr = peer(|mut s| {
        drain(&mut s, Duration::from_millis(200));
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
        let chunk = vec![b'{'; 65536];
        for _ in 0..100 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let result = rspamd(&addr, 5000).check(&info(size), &path);
    assert!(
        matches!(result, Err(FilterError::ReplyTooLarge { .. })),
        "{result:?}"
    );
}

#[test]
fn nonsense_is_a_protocol_error() {
    let (_dir, path, size) = sample();
    let addr = peer(|mut s| {
        drain(&mut s, Duration::from_millis(200));
        let _ = s.write_all(b"I am not clamd\0");
    });
    let result = clamd(&addr, 3000).check(&info(size), &path);
    assert!(
        matches!(result, Err(FilterError::Protocol { .. })),
        "{result:?}"
    );

    let addr = peer(|mut s| {
        drain(&mut s, Duration::from_millis(200));
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!");
    });
    let result = rspamd(&addr, 3000).check(&info(size), &path);
    assert!(
        matches!(result, Err(FilterError::Protocol { .. })),
        "{result:?}"
    );

    let addr = peer(|mut s| {
        drain(&mut s, Duration::from_millis(200));
        let json = br#"{"error":"no good\r\n"}"#;
        let head = format!(
            "HTTP/1.1 500 Internal\r\nContent-Length: {}\r\n\r\n",
            json.len()
        );
        let _ = s.write_all(&[head.as_bytes(), json].concat());
    });
    let result = rspamd(&addr, 3000).check(&info(size), &path);
    let Err(FilterError::Scanner { message, .. }) = result else {
        panic!("a scanner error: {result:?}")
    };
    assert!(message.starts_with("HTTP 500"), "{message}");
}

#[test]
fn what_rspamd_receives_is_the_envelope_and_the_whole_message() {
    let dir = TempDir::new("failures");
    let bytes = message("hi", &"line of text\r\n".repeat(20_000));
    let path = dir.message("m.eml", &bytes);
    let (sender, received) = std::sync::mpsc::channel();
    let addr = peer(move |mut s| {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut all = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let n = s.read(&mut buf).unwrap();
            all.extend_from_slice(&buf[..n]);
            if let Some(end) = all.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&all[..end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                if all.len() >= end + 4 + len {
                    let body = all[end + 4..].to_vec();
                    let json = br#"{"action":"no action","score":0.5,"x":[]}"#;
                    let reply =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", json.len());
                    let _ = s.write_all(&[reply.as_bytes(), json].concat());
                    sender.send((head, body)).unwrap();
                    return;
                }
            }
        }
    });
    let mut info = info(bytes.len());
    info.authenticated = Some("alice".into());
    info.recipients.push("carol@example.org".into());
    let verdict = rspamd(&addr, 5000).check(&info, &path).unwrap();
    assert_eq!(verdict.name(), "accept");
    let (head, body) = received.recv().unwrap();
    assert!(head.starts_with("POST /checkv2 HTTP/1.1\r\n"), "{head}");
    for line in [
        "IP: 127.0.0.1",
        "Helo: mx.example.com",
        "From: alice@example.com",
        "Rcpt: bob@example.org",
        "Rcpt: carol@example.org",
        "Queue-Id: TESTQ1",
        "User: alice",
    ] {
        assert!(head.lines().any(|l| l == line), "{line} missing in {head}");
    }
    assert_eq!(body, bytes);
}

#[test]
fn clamd_receives_length_prefixed_chunks_and_a_zero_chunk() {
    let dir = TempDir::new("failures");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let path = dir.message("m.bin", &bytes);
    let (sender, received) = std::sync::mpsc::channel();
    let addr = peer(move |mut s| {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut command = [0u8; 10];
        s.read_exact(&mut command).unwrap();
        assert_eq!(&command, b"zINSTREAM\0");
        let mut data = Vec::new();
        let mut chunks = 0;
        loop {
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let len = u32::from_be_bytes(len) as usize;
            if len == 0 {
                break;
            }
            chunks += 1;
            let mut chunk = vec![0u8; len];
            s.read_exact(&mut chunk).unwrap();
            data.extend_from_slice(&chunk);
        }
        s.write_all(b"stream: OK\0").unwrap();
        sender.send((data, chunks)).unwrap();
    });
    let verdict = clamd(&addr, 5000).check(&info(bytes.len()), &path).unwrap();
    assert_eq!(verdict.name(), "accept");
    let (data, chunks) = received.recv().unwrap();
    assert_eq!(data, bytes);
    assert!(chunks >= 2, "streamed in chunks, not whole: {chunks}");
}

#[test]
fn headers_accumulate_and_the_first_refusal_wins() {
    struct Fixed(&'static str, Verdict);
    impl Filter for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn check(
            &self,
            _: &mail_filter::MessageInfo,
            _: &std::path::Path,
        ) -> Result<Verdict, FilterError> {
            Ok(self.1.clone())
        }
    }
    let (_dir, path, size) = sample();
    let add = |n: &str| Verdict::Accept {
        add_headers: vec![(format!("X-{n}"), n.to_owned())],
    };
    let mut chain = FilterChain::new();
    chain
        .push(Box::new(Fixed("a", add("a"))), FailurePolicy::Accept)
        .push(
            Box::new(Fixed(
                "q",
                Verdict::Quarantine {
                    reason: "suspicious".into(),
                    add_headers: vec![("X-q".into(), "q".into())],
                },
            )),
            FailurePolicy::Accept,
        )
        .push(
            Box::new(Fixed("never", Verdict::reject("no"))),
            FailurePolicy::Accept,
        );
    let outcome = chain.run(&info(size), &path);
    assert_eq!(
        outcome.verdict,
        Verdict::Quarantine {
            reason: "suspicious".into(),
            add_headers: vec![("X-a".into(), "a".into()), ("X-q".into(), "q".into())]
        }
    );
    assert_eq!(outcome.decided_by.as_deref(), Some("q"));
    assert_eq!(
        outcome.per_filter,
        vec![("a".to_owned(), "accept"), ("q".to_owned(), "quarantine")]
    );

    let mut chain = FilterChain::new();
    chain
        .push(Box::new(Fixed("a", add("a"))), FailurePolicy::Accept)
        .push(
            Box::new(Fixed("r", Verdict::reject("go away"))),
            FailurePolicy::Accept,
        )
        .push(Box::new(Fixed("b", add("b"))), FailurePolicy::Accept);
    let outcome = chain.run(&info(size), &path);
    assert_eq!(outcome.verdict, Verdict::reject("go away"));
    assert_eq!(outcome.per_filter.len(), 2);

    let mut chain = FilterChain::new();
    chain
        .push(Box::new(Fixed("a", add("a"))), FailurePolicy::Accept)
        .push(Box::new(Fixed("b", add("b"))), FailurePolicy::Accept);
    let outcome = chain.run(&info(size), &path);
    let Verdict::Accept { add_headers } = outcome.verdict else {
        panic!("accept")
    };
    assert_eq!(header(&add_headers, "X-a"), Some("a"));
    assert_eq!(header(&add_headers, "X-b"), Some("b"));
}
