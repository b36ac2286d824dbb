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

#[path = "inputs.rs"]
mod inputs;
use inputs::{line, total_len, COMMANDS, EHLO_REPLY, REPLIES};

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
