//! The server session fed arbitrary client bytes in arbitrary chunks on a
//! virtual clock, with decisions answered from the input: it must never
//! panic, every byte it sends must be well-formed replies, nothing may come
//! out after Close, it must always have a deadline while it waits for the
//! client (and one in the future once `handle_timeout` ran), its buffered
//! input stays bounded, and no body chunk is larger than its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::{
    EnhancedStatus, Mechanism, MinimumRate, Output, Reply, ReplyCode, ReplyParser, ServerConfig,
    ServerEvent, ServerSession, TlsInfo,
};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut config = ServerConfig::new("mx.example.com")
        .with_starttls(flags & 1 != 0)
        .with_pipelining(flags & 2 != 0)
        .with_reject_early_talkers(flags & 4 != 0)
        .with_chunking(flags & 8 != 0)
        .with_max_message_size((flags & 16 != 0).then_some(64))
        .with_auth(vec![Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5])
        .with_plaintext_auth(flags & 32 != 0)
        .with_max_recipients(3);
    if flags & 64 != 0 {
        // Tight bounds, so that short inputs reach them.
        config = config
            .with_command_timeout(Duration::from_secs(3))
            .with_session_lifetime(Duration::from_secs(30))
            .with_min_body_rate(MinimumRate::new(40, Duration::from_secs(2)))
            .with_auth_failure_delay(Duration::from_secs(1))
            .with_max_discard(100);
    }
    if flags & 128 != 0 {
        config = config
            .without_command_timeout()
            .without_session_lifetime()
            .without_min_body_rate()
            .without_max_auth_failures()
            .with_auth_failure_delay(Duration::ZERO);
    }
    let max_buffered = config.max_pending_input.max(config.command_line.max_len);
    let t0 = Instant::now();
    let mut session = ServerSession::new(config, t0).with_cram_md5_nonce("42.1700000000");
    let mut closed = false;
    let mut sent = Vec::new();
    let mut decisions = 0u32;
    // Chunks: each starts with a length byte; 0xFF is a long wait (every
    // deadline passes), 0xFE a TLS handshake completing, 0xFD one second
    // with the timer run as an adapter would.
    let mut input = rest;
    let mut now = t0;
    loop {
        while let Some(out) = session.poll_output() {
            assert!(!closed, "output after Close");
            match out {
                Output::Transmit(b) => sent.extend_from_slice(&b),
                Output::Close => closed = true,
                Output::StartTls => {}
                Output::Event(ServerEvent::BodyChunk(c)) => {
                    assert!(c.len() <= ServerSession::MAX_BODY_CHUNK, "body chunk too big");
                }
                Output::Event(e) => {
                    if e.is_decision() {
                        decisions += 1;
                        if decisions % 3 == 0 {
                            let no = Reply::new(
                                ReplyCode::new(550 - 15 * u16::from(decisions % 2 == 0)).unwrap(),
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
        assert!(session.buffered_input() <= max_buffered, "unbounded input");
        assert!(
            session.is_closed() || session.poll_timeout().is_some(),
            "waiting for the client without a deadline"
        );
        let Some((&len, tail)) = input.split_first() else {
            break;
        };
        input = tail;
        match len {
            0xFF => {
                now += Duration::from_secs(4000);
                session.handle_timeout(now);
            }
            0xFE => session.tls_established(now, TlsInfo::new("TLSv1.3", "x")),
            0xFD => {
                now += Duration::from_secs(1);
                if session.poll_timeout().is_some_and(|d| d <= now) {
                    session.handle_timeout(now);
                    // Once told the time, the session never asks for a
                    // time already past again (an adapter would spin).
                    assert!(
                        session.poll_timeout().is_none_or(|d| d > now),
                        "deadline still past after handle_timeout"
                    );
                }
            }
            _ => {
                let n = usize::from(len).min(input.len());
                session.feed(now, &input[..n]);
                input = &input[n..];
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
