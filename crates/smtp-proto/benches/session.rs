//! A full SMTP transaction between the client and server sessions in memory:
//! no sockets, no TLS, a 2 KB message. `cargo bench -p smtp-proto --bench session`

// A benchmark drives the sessions, so it owns the clock the core must not read.
#![allow(clippy::disallowed_methods)]

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use smtp_proto::session::client::{
    ClientConfig, ClientEvent, ClientSession, Envelope, Recipient, TlsPolicy,
};
use smtp_proto::{Mailbox, Output, ServerConfig, ServerEvent, ServerSession};
use std::time::Instant;

fn main() {
    divan::main();
}

fn body() -> Vec<u8> {
    let mut m = b"From: a@example.org\r\nTo: b@example.com\r\nSubject: bench\r\n\r\n".to_vec();
    while m.len() < 2048 {
        m.extend_from_slice(
            b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n",
        );
    }
    m.truncate(2046);
    m.extend_from_slice(b"\r\n");
    m
}

struct Pair {
    client: ClientSession,
    server: ServerSession,
    now: Instant,
}

impl Pair {
    fn new() -> Pair {
        Pair::with_chunking(true)
    }

    fn with_chunking(chunking: bool) -> Pair {
        let now = Instant::now();
        let config = ClientConfig::new("client.example.org".parse().unwrap())
            .with_tls(TlsPolicy::None)
            .with_chunking(chunking);
        Pair {
            client: ClientSession::new(config, now),
            server: ServerSession::new(ServerConfig::new("mx.example.com"), now),
            now,
        }
    }

    /// Runs until the client reports `stop`; answers everything positively.
    fn run(&mut self, body: &[u8], envelope: &Envelope, mut send: bool) -> usize {
        let mut delivered = 0;
        loop {
            let mut moved = false;
            while let Some(out) = self.client.poll_output() {
                moved = true;
                match out {
                    Output::Transmit(b) => self.server.feed(self.now, &b),
                    Output::Event(ClientEvent::Ready { .. }) if send => {
                        send = false;
                        self.client.send(envelope.clone()).unwrap();
                    }
                    Output::Event(ClientEvent::SendBody) => {
                        self.client.send_body(body).unwrap();
                        self.client.end_body().unwrap();
                    }
                    Output::Event(ClientEvent::Delivered(_)) => delivered += 1,
                    _ => {}
                }
            }
            while let Some(out) = self.server.poll_output() {
                moved = true;
                match out {
                    Output::Transmit(b) => self.client.feed(self.now, &b),
                    Output::Event(ServerEvent::BodyChunk(c)) => {
                        black_box(c);
                    }
                    Output::Event(
                        ServerEvent::Reset
                        | ServerEvent::Closed(_)
                        | ServerEvent::MessageAborted { .. }
                        | ServerEvent::TlsStarted(_),
                    ) => {}
                    Output::Event(_) => self.server.accept().unwrap(),
                    _ => {}
                }
            }
            if !moved || delivered > 0 {
                return delivered;
            }
        }
    }
}

fn envelope() -> Envelope {
    Envelope::new(Mailbox::parse("a@example.org").unwrap().into())
        .with_recipient(Recipient::new(Mailbox::parse("b@example.com").unwrap()))
        .with_size(2048)
}

/// One transaction on an open session: what a client sending many messages
/// over one connection does.
fn transactions(bencher: Bencher, chunking: bool) {
    let body = body();
    let envelope = envelope();
    let mut pair = Pair::with_chunking(chunking);
    assert_eq!(pair.run(&body, &envelope, false), 0);
    assert!(pair.client.is_ready());
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        pair.client.send(envelope.clone()).unwrap();
        assert_eq!(pair.run(&body, &envelope, false), 1);
    });
}

/// MAIL, RCPT and BDAT pipelined, 2 KB body, final reply.
#[divan::bench]
fn transaction_on_open_session(bencher: Bencher) {
    transactions(bencher, true);
}

/// MAIL, RCPT and DATA pipelined, dot-stuffed 2 KB body, final reply.
#[divan::bench]
fn transaction_on_open_session_data(bencher: Bencher) {
    transactions(bencher, false);
}

/// A whole connection: greeting, EHLO, one transaction, QUIT.
#[divan::bench]
fn connection_with_one_transaction(bencher: Bencher) {
    let body = body();
    let envelope = envelope();
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        let mut pair = Pair::new();
        assert_eq!(pair.run(&body, &envelope, true), 1);
        pair.client.quit().unwrap();
        pair.run(&body, &envelope, false);
        black_box(pair)
    });
}
