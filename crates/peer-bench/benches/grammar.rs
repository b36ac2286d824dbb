//! Command and reply parsing throughput, against Stalwart's `smtp-proto` crate
//! (crates.io, 0.2) on the same inputs in the same run.
//!
//! Run with `cd crates/peer-bench && cargo bench --bench grammar` (a separate workspace,
//! because the peer crate is also named `smtp-proto`). Both sides do the same
//! work: find the end of each line, then parse it into owned values (ours
//! returns owned values; Stalwart's borrowed `Cow`s are turned into owned ones
//! with its `into_owned`). Every input is checked to parse on both sides
//! before timing, so no error path is measured.

use divan::counter::{BytesCount, ItemsCount};
use divan::{black_box, Bencher};
use smtp_proto::{Capabilities, Command, Reply};
use stalwart_smtp_proto::response::parser::ResponseReceiver;
use stalwart_smtp_proto::{EhloResponse, Request};

fn main() {
    check_inputs();
    divan::main();
}

/// A client's side of a submission: greeting, envelope, data, goodbye.
const COMMANDS: &[&[u8]] = &[
    b"EHLO client.example.org\r\n",
    b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHMzY3JldC1wYXNzd29yZA==\r\n",
    b"MAIL FROM:<alice.sender@example.com> SIZE=1048576 BODY=8BITMIME\r\n",
    b"RCPT TO:<bob.recipient@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob.recipient@example.org\r\n",
    b"RCPT TO:<carol@mail.example.net>\r\n",
    b"DATA\r\n",
    b"QUIT\r\n",
];

/// A server's side of the same session, single-line and multi-line.
const REPLIES: &[&[u8]] = &[
    b"220 mx.example.org ESMTP ready\r\n",
    EHLO_REPLY,
    b"235 2.7.0 Authentication successful\r\n",
    b"250 2.1.0 Ok\r\n",
    b"250 2.1.5 Ok\r\n",
    b"550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 Ok: queued as 4XYZ12ab34\r\n",
    b"221 2.0.0 Bye\r\n",
];

/// A Postfix-like EHLO reply of ten lines.
const EHLO_REPLY: &[u8] = b"250-mx.example.org Hello client.example.org [192.0.2.10]\r\n\
250-PIPELINING\r\n\
250-SIZE 52428800\r\n\
250-ETRN\r\n\
250-STARTTLS\r\n\
250-AUTH PLAIN LOGIN XOAUTH2\r\n\
250-ENHANCEDSTATUSCODES\r\n\
250-8BITMIME\r\n\
250-DSN\r\n\
250 CHUNKING\r\n";

fn total_len(inputs: &[&[u8]]) -> usize {
    inputs.iter().map(|i| i.len()).sum()
}

/// The line without its CRLF, found the way a server loop finds it.
fn line(input: &[u8]) -> &[u8] {
    let lf = input
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(input.len());
    let line = &input[..lf];
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn check_inputs() {
    for input in COMMANDS {
        assert!(Command::parse(line(input)).is_ok(), "ours: {input:?}");
        assert!(
            Request::parse(&mut input.iter()).is_ok(),
            "stalwart: {input:?}"
        );
    }
    for input in REPLIES {
        assert!(Reply::parse(input).is_ok(), "ours: {input:?}");
        assert!(
            ResponseReceiver::default().parse(&mut input.iter()).is_ok(),
            "stalwart: {input:?}"
        );
    }
    let reply = Reply::parse(EHLO_REPLY).expect("ours: EHLO reply");
    assert!(Capabilities::from_ehlo_reply(&reply).is_ok());
    assert!(EhloResponse::parse(&mut EHLO_REPLY.iter()).is_ok());
}

mod commands {
    use super::*;

    #[divan::bench]
    fn ours(bencher: Bencher) {
        bencher
            .counter(ItemsCount::new(COMMANDS.len()))
            .counter(BytesCount::new(total_len(COMMANDS)))
            .bench(|| {
                for input in black_box(COMMANDS) {
                    let _ = black_box(Command::parse(line(input)));
                }
            });
    }

    #[divan::bench]
    fn stalwart(bencher: Bencher) {
        bencher
            .counter(ItemsCount::new(COMMANDS.len()))
            .counter(BytesCount::new(total_len(COMMANDS)))
            .bench(|| {
                for input in black_box(COMMANDS) {
                    let _ = black_box(Request::parse(&mut input.iter()).map(Request::into_owned));
                }
            });
    }
}

mod replies {
    use super::*;

    #[divan::bench]
    fn ours(bencher: Bencher) {
        bencher
            .counter(ItemsCount::new(REPLIES.len()))
            .counter(BytesCount::new(total_len(REPLIES)))
            .bench(|| {
                for input in black_box(REPLIES) {
                    let _ = black_box(Reply::parse(input));
                }
            });
    }

    #[divan::bench]
    fn stalwart(bencher: Bencher) {
        bencher
            .counter(ItemsCount::new(REPLIES.len()))
            .counter(BytesCount::new(total_len(REPLIES)))
            .bench(|| {
                for input in black_box(REPLIES) {
                    let _ = black_box(ResponseReceiver::default().parse(&mut input.iter()));
                }
            });
    }
}

/// The EHLO reply read as capabilities (ours: reply, then capabilities).
mod ehlo {
    use super::*;

    #[divan::bench]
    fn ours(bencher: Bencher) {
        bencher
            .counter(ItemsCount::new(1usize))
            .counter(BytesCount::new(EHLO_REPLY.len()))
            .bench(|| {
                let reply = Reply::parse(black_box(EHLO_REPLY));
                black_box(reply.and_then(|r| Capabilities::from_ehlo_reply(&r)))
            });
    }

    #[divan::bench]
    fn stalwart(bencher: Bencher) {
        bencher
            .counter(ItemsCount::new(1usize))
            .counter(BytesCount::new(EHLO_REPLY.len()))
            .bench(|| black_box(EhloResponse::parse(&mut black_box(EHLO_REPLY).iter())));
    }
}
