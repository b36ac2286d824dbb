//! The server session fed arbitrary client bytes in arbitrary chunks, with
//! decisions answered from the input: it must never panic, every byte it sends
//! must be well-formed replies, and nothing may come out after Close.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::{
    EnhancedStatus, Mechanism, Output, Reply, ReplyCode, ReplyParser, ServerConfig, ServerSession,
    TlsInfo,
};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let config = ServerConfig::new("mx.example.com")
        .with_starttls(flags & 1 != 0)
        .with_pipelining(flags & 2 != 0)
        .with_reject_early_talkers(flags & 4 != 0)
        .with_chunking(flags & 8 != 0)
        .with_max_message_size((flags & 16 != 0).then_some(64))
        .with_auth(vec![Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5])
        .with_plaintext_auth(flags & 32 != 0)
        .with_max_recipients(3);
    let t0 = Instant::now();
    let mut session = ServerSession::new(config, t0).with_cram_md5_nonce("42.1700000000");
    let mut closed = false;
    let mut sent = Vec::new();
    let mut decisions = 0u32;
    // Chunks: each starts with a length byte; 0xFF is a timeout, 0xFE a TLS
    // handshake completing.
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
                    let decision = e.is_decision();
                    if decision {
                        decisions += 1;
                        if decisions % 3 == 0 {
                            let no = Reply::new(
                                ReplyCode::new(550).unwrap(),
                                EnhancedStatus::new(5, 7, 1),
                                ["no"],
                            )
                            .unwrap();
                            session.reject(no).unwrap();
                        } else {
                            session.accept().unwrap();
                        }
                    }
                }
            }
        }
        let Some((&len, tail)) = input.split_first() else {
            break;
        };
        match len {
            0xFF => {
                now += Duration::from_secs(400);
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
    // Everything sent is a sequence of complete, well-formed replies.
    let mut parser = ReplyParser::new();
    for line in sent.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").expect("replies end with CRLF");
        parser.push_line(line).expect("well-formed reply line");
    }
    assert!(parser.is_idle(), "unfinished reply");
});
