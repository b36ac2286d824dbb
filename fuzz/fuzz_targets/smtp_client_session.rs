//! The client session fed arbitrary server bytes in arbitrary chunks, with
//! timeouts and TLS completions mixed in, while it tries to send a message:
//! it must never panic and nothing may come out after Close.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::sasl::ClientCredentials;
use smtp_proto::session::client::{
    ClientConfig, ClientEvent, ClientSession, Envelope, Recipient, TlsPolicy,
};
use smtp_proto::{Mailbox, Output, Secret, TlsInfo};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let tls = match flags & 3 {
        0 => TlsPolicy::None,
        1 => TlsPolicy::Opportunistic,
        2 => TlsPolicy::Required,
        _ => TlsPolicy::Implicit,
    };
    let mut config = ClientConfig::new("client.example.org".parse().unwrap())
        .with_tls(tls)
        .with_pipelining(flags & 4 != 0)
        .with_chunking(flags & 8 != 0)
        .with_plaintext_auth(flags & 16 != 0);
    if flags & 32 != 0 {
        config = config.with_credentials(ClientCredentials::Password {
            username: "user".into(),
            password: Secret::new("secret".into()),
        });
    }
    let t0 = Instant::now();
    let mut now = t0;
    let mut client = ClientSession::new(config, now);
    if matches!(tls, TlsPolicy::Implicit) {
        client.tls_established(now, TlsInfo::new("TLSv1.3", "x"));
    }
    let envelope = Envelope::new(Mailbox::parse("a@example.org").unwrap().into())
        .with_recipient(Recipient::new(Mailbox::parse("b@example.com").unwrap()))
        .with_recipient(Recipient::new(Mailbox::parse("c@example.com").unwrap()));
    let mut closed = false;
    let mut sends = 0;
    let mut input = rest;
    loop {
        while let Some(out) = client.poll_output() {
            assert!(!closed, "output after Close");
            match out {
                Output::Close => closed = true,
                Output::Event(
                    ClientEvent::Ready { .. }
                    | ClientEvent::Delivered(_)
                    | ClientEvent::TransactionFailed(_),
                ) => {
                    sends += 1;
                    if sends < 3 {
                        let _ = client.send(envelope.clone());
                    } else {
                        let _ = client.quit();
                    }
                }
                Output::Event(ClientEvent::SendBody) => {
                    let _ = client.send_body(b"Subject: x\r\n\r\n.dot\r\nbody\n");
                    let _ = client.end_body();
                }
                _ => {}
            }
        }
        let Some((&len, tail)) = input.split_first() else {
            break;
        };
        match len {
            0xFF => {
                now += Duration::from_secs(700);
                client.handle_timeout(now);
                input = tail;
            }
            0xFE => {
                client.tls_established(now, TlsInfo::new("TLSv1.3", "x"));
                input = tail;
            }
            _ => {
                let n = usize::from(len).min(tail.len());
                client.feed(now, &tail[..n]);
                input = &tail[n..];
            }
        }
    }
    client.feed_eof(now);
    while let Some(out) = client.poll_output() {
        assert!(
            !closed || !matches!(out, Output::Transmit(_)),
            "transmit after Close"
        );
    }
});
