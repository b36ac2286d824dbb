//! ClientSession properties: the same server bytes in any chunking give the
//! same outputs; arbitrary server bytes never panic the client and never make
//! it send a command out of order.
// The tests drive the session, so they own the clock the core must not read.
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use smtp_proto::session::{
    ClientConfig, ClientEvent, ClientSession, Envelope, Output, Recipient, TlsPolicy,
};
use smtp_proto::{Host, Mailbox};
use std::time::Instant;

fn envelope() -> Envelope {
    Envelope::new(Mailbox::parse("a@example.com").unwrap().into())
        .with_recipient(Recipient::new(Mailbox::parse("b@example.org").unwrap()))
        .with_recipient(Recipient::new(Mailbox::parse("c@example.org").unwrap()))
}

/// Plays the application: sends one message, then quits. Returns every byte
/// sent and every event, and whether Close came last.
#[derive(Debug, Default, PartialEq)]
struct Transcript {
    bytes: Vec<u8>,
    events: Vec<String>,
    closed: bool,
    after_close: bool,
}

fn drive(s: &mut ClientSession, t: &mut Transcript, sent_message: &mut bool) {
    while let Some(out) = s.poll_output() {
        if t.closed {
            t.after_close = true;
        }
        match out {
            Output::Transmit(b) => t.bytes.extend_from_slice(&b),
            Output::StartTls => t.events.push("StartTls".into()),
            Output::Close => t.closed = true,
            Output::Event(e) => {
                t.events.push(format!("{e:?}"));
                match e {
                    ClientEvent::Ready { .. } if !*sent_message => {
                        *sent_message = true;
                        let _ = s.send(envelope());
                    }
                    ClientEvent::SendBody => {
                        let _ = s.send_body(b"Subject: x\r\n\r\nhello\r\n");
                        let _ = s.end_body();
                    }
                    ClientEvent::Delivered(_) | ClientEvent::TransactionFailed(_) => {
                        let _ = s.quit();
                    }
                    _ => {}
                }
            }
        }
    }
}

fn config(pipelining: bool) -> ClientConfig {
    ClientConfig::new(Host::parse("client.example").unwrap())
        .with_tls(TlsPolicy::None)
        .with_pipelining(pipelining)
}

/// Feeds each round cut at the given points (offsets taken modulo the
/// round's length), draining and answering after every piece.
fn run(rounds: &[&[u8]], cuts: &[usize], pipelining: bool) -> Transcript {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config(pipelining), t0);
    let mut t = Transcript::default();
    let mut sent = false;
    for round in rounds {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (round.len() + 1)).collect();
        points.push(0);
        points.push(round.len());
        points.sort_unstable();
        points.dedup();
        for w in points.windows(2) {
            s.feed(t0, &round[w[0]..w[1]]);
            drive(&mut s, &mut t, &mut sent);
        }
    }
    s.feed_eof(t0);
    drive(&mut s, &mut t, &mut sent);
    t
}

const PIPELINED: &[&[u8]] = &[
    b"220 mx.example ESMTP\r\n250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
    b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go\r\n",
    b"250 2.0.0 Ok: queued as 4F2A1C\r\n",
    b"221 2.0.0 bye\r\n",
];

const ONE_AT_A_TIME: &[&[u8]] = &[
    b"220 mx.example ESMTP\r\n",
    b"250 mx.example\r\n",
    b"250 ok\r\n",
    b"250 ok\r\n",
    b"250 ok\r\n",
    b"354 go\r\n",
    b"250 OK id=1rXyz\r\n",
    b"221 bye\r\n",
];

/// A reply line a server might send, or garbage.
fn reply_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            prop::sample::select(vec![
                220u16, 221, 235, 250, 251, 334, 354, 421, 450, 454, 500, 501, 502, 503, 534, 535,
                550, 554
            ]),
            any::<bool>(),
            "[ -~]{0,20}"
        )
            .prop_map(|(code, more, text)| format!(
                "{code}{}{text}\r\n",
                if more { '-' } else { ' ' }
            )
            .into_bytes()),
        Just(b"250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SIZE 10\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..20),
    ]
}

/// Checks the order of the commands the client sent.
fn commands_in_order(bytes: &[u8]) -> Result<(), String> {
    let mut greeted = false;
    let mut in_mail = false;
    let mut rcpts = 0;
    let mut quit = false;
    let mut data = false;
    for line in bytes.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        let verb = line.split([' ', ':', '\r']).next().unwrap_or("");
        if data {
            // Body lines until the end of data.
            if line == ".\r" {
                data = false;
                in_mail = false;
            }
            continue;
        }
        if quit && !line.is_empty() {
            return Err(format!("{line:?} after QUIT"));
        }
        match verb {
            "EHLO" | "HELO" => greeted = true,
            "MAIL" if !greeted || in_mail => return Err("MAIL out of order".into()),
            "MAIL" => {
                in_mail = true;
                rcpts = 0;
            }
            "RCPT" if !in_mail => return Err("RCPT without MAIL".into()),
            "RCPT" => rcpts += 1,
            "DATA" if !in_mail || rcpts == 0 => return Err("DATA without RCPT".into()),
            "DATA" => data = true,
            "RSET" => in_mail = false,
            "QUIT" => quit = true,
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn chunking_does_not_change_the_dialogue(cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        for (rounds, pipelining) in [(PIPELINED, true), (ONE_AT_A_TIME, false)] {
            let whole = run(rounds, &[], pipelining);
            prop_assert!(whole.closed && !whole.after_close);
            prop_assert!(whole.events.last().is_some_and(|e| e == "Closed"), "{:?}", whole.events);
            prop_assert_eq!(run(rounds, &cuts, pipelining), whole);
        }
    }

    #[test]
    fn random_replies_never_panic_or_misorder(
        lines in prop::collection::vec(reply_line(), 0..16),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        pipelining in any::<bool>(),
    ) {
        let rounds: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let t = run(&rounds, &cuts, pipelining);
        prop_assert!(!t.after_close, "output after Close: {:?}", t.events);
        prop_assert!(t.closed, "feed_eof always ends the session");
        if let Err(e) = commands_in_order(&t.bytes) {
            prop_assert!(false, "{}: {:?}", e, String::from_utf8_lossy(&t.bytes));
        }
    }
}
