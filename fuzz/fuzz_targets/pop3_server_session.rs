//! The POP3 server session fed arbitrary client bytes in arbitrary chunks,
//! with logins, retrievals and updates answered from the input: it must
//! never panic, every status line it sends must be well formed, and nothing
//! may come out after Close.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_proto::{Event, MessageInfo, Output, Pop3Config, Pop3Session, Response, TlsInfo, Uid};
use std::time::{Duration, Instant};

const MESSAGE: &[u8] = b"Subject: fuzz\r\n\r\n.line\r\nbare\nend";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let config = Pop3Config::new("pop.example.com")
        .with_stls(flags & 1 != 0)
        .with_plaintext_auth(flags & 2 != 0)
        .with_user_pass(flags & 4 != 0)
        .with_sasl_plain(flags & 8 != 0)
        .with_max_errors(if flags & 16 != 0 { 3 } else { 10 });
    let t0 = Instant::now();
    let mut session = if flags & 32 != 0 {
        Pop3Session::with_apop(config, t0, "<1.2@pop.example.com>")
    } else {
        Pop3Session::new(config, t0)
    };
    let mut closed = false;
    let mut sent = Vec::new();
    let mut decisions = 0u32;
    let mut input = rest;
    let mut now = t0;
    loop {
        while let Some(out) = session.poll_output() {
            assert!(!closed, "output after Close");
            match out {
                Output::Transmit(b) => sent.extend_from_slice(&b),
                Output::Close => closed = true,
                Output::StartTls => {}
                Output::Event(e) => {
                    if !e.is_decision() {
                        continue;
                    }
                    decisions += 1;
                    let refuse = decisions % 3 == 0;
                    match e {
                        Event::Login(_) if refuse => session.reject_login().unwrap(),
                        Event::Login(_) => {
                            let listing = (0..3)
                                .map(|i| MessageInfo {
                                    size: MESSAGE.len() as u64,
                                    uid: Uid::new(&format!("uid{i}")).unwrap(),
                                })
                                .collect();
                            session.accept_login(listing).unwrap();
                        }
                        Event::Retrieve { .. } if refuse => {
                            session.fail_message(Response::err("gone")).unwrap()
                        }
                        Event::Retrieve { .. } => {
                            for piece in MESSAGE.chunks(usize::from(flags % 7) + 1) {
                                session.message_chunk(piece).unwrap();
                            }
                            session.end_message().unwrap();
                        }
                        Event::Update { .. } if refuse => session.reject_update().unwrap(),
                        Event::Update { .. } => session.accept_update().unwrap(),
                        _ => unreachable!("not a decision"),
                    }
                }
            }
        }
        // Chunks: each starts with a length byte; 0xFF is a timeout, 0xFE a
        // TLS handshake completing.
        let Some((&len, tail)) = input.split_first() else {
            break;
        };
        match len {
            0xFF => {
                now += Duration::from_secs(301);
                session.handle_timeout(now);
                input = tail;
            }
            0xFE => {
                session.tls_established(now, TlsInfo::new("TLSv1.3", "x"));
                input = tail;
            }
            _ => {
                let n = usize::from(len).min(tail.len());
                session.feed(now, &tail[..n]);
                input = &tail[n..];
            }
        }
    }
    session.feed_eof(now);
    while session.poll_output().is_some() {}
    // Every line ends with CRLF; every status line is one we could parse.
    assert!(sent.is_empty() || sent.ends_with(b"\r\n") || closed);
    for line in sent.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"+OK") || line.starts_with(b"-ERR") {
            assert!(line.ends_with(b"\r\n"), "status line without CRLF");
        }
    }
});
