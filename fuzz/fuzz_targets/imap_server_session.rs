//! The IMAP server session over an in-memory store, fed arbitrary client
//! bytes in arbitrary chunks with logins answered from the input: it must
//! never panic, nothing may come out after Close, and everything it sends
//! must parse with imap-codec's greeting and response decoders.
#![no_main]

use imap_codec::decode::Decoder;
use imap_codec::{GreetingCodec, ResponseCodec};
use imap_proto::{Event, ImapConfig, ImapSession, MemoryStore, Output, TlsInfo};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let config = ImapConfig::new("imap.example.com")
        .with_starttls(flags & 1 != 0)
        .with_plaintext_auth(flags & 2 != 0)
        .with_max_literal(if flags & 4 != 0 { 64 } else { 4096 })
        .with_max_line(if flags & 8 != 0 { 64 } else { 4096 });
    let mut store = MemoryStore::default();
    store.deliver("INBOX", b"From: A <a@b.c>\r\nSubject: one\r\n\r\nbody\r\n");
    store.deliver(
        "INBOX",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nA\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nB\r\n--x--\r\n",
    );
    let t0 = Instant::now();
    let mut session = ImapSession::new(config, t0);
    let mut closed = false;
    let mut sent = Vec::new();
    let mut logins = 0u32;
    let mut input = rest;
    let mut now = t0;
    loop {
        while let Some(out) = session.poll_output() {
            assert!(!closed, "output after Close");
            match out {
                Output::Transmit(b) => sent.extend_from_slice(&b),
                Output::Close => closed = true,
                Output::StartTls => {}
                Output::Event(Event::Login(_)) => {
                    logins += 1;
                    if logins % 3 == 0 {
                        session.reject_login().unwrap();
                    } else {
                        session.accept_login().unwrap();
                        session.feed(now, b"", &mut store);
                    }
                }
                Output::Event(_) => {}
            }
        }
        // A large FETCH goes on in steps, as a driver does.
        if !closed && session.poll_timeout().is_some_and(|t| t <= now) {
            session.handle_timeout(now, &mut store);
            continue;
        }
        // Chunks: each starts with a length byte; 0xFF lets time pass,
        // 0xFE completes a TLS handshake, 0xFD delivers a message.
        let Some((&len, tail)) = input.split_first() else {
            break;
        };
        match len {
            0xFF => {
                now += Duration::from_secs(3);
                if session.poll_timeout().is_some_and(|t| t <= now) {
                    session.handle_timeout(now, &mut store);
                }
                input = tail;
            }
            0xFE => {
                session.tls_established(now, TlsInfo::new("TLSv1.3", "x"));
                input = tail;
            }
            0xFD => {
                store.deliver("INBOX", b"Subject: new\r\n\r\nx\r\n");
                input = tail;
            }
            _ => {
                let n = usize::from(len).min(tail.len());
                session.feed(now, &tail[..n], &mut store);
                input = &tail[n..];
            }
        }
    }
    session.feed_eof(now);
    while session.poll_output().is_some() {}
    let Ok((mut rest, _)) = GreetingCodec::new().decode(&sent) else {
        panic!("greeting does not parse");
    };
    while !rest.is_empty() {
        match ResponseCodec::new().decode(rest) {
            Ok((r, _)) => rest = r,
            Err(e) => panic!("{e:?}: {:?}", String::from_utf8_lossy(&rest[..rest.len().min(200)])),
        }
    }
});
