//! Runs one side of one benchmark group a fixed number of times, for
//! instruction counts under `valgrind --tool=callgrind` (steadier than time on
//! a shared machine):
//!
//! ```sh
//! cargo build --release --example profile
//! valgrind --tool=callgrind target/release/examples/profile commands ours 10000
//! ```
//!
//! The inputs are those of `benches/grammar.rs`.

use std::hint::black_box;

#[path = "../benches/inputs.rs"]
mod inputs;
use inputs::{line, COMMANDS, EHLO_REPLY, REPLIES};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (group, side) = (args[1].as_str(), args[2].as_str());
    let n: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    for _ in 0..n {
        match (group, side) {
            ("commands", "ours") => {
                for input in black_box(COMMANDS) {
                    let _ = black_box(smtp_proto::Command::parse(line(input)));
                }
            }
            ("commands", "stalwart") => {
                for input in black_box(COMMANDS) {
                    let _ = black_box(
                        stalwart_smtp_proto::Request::parse(&mut input.iter())
                            .map(stalwart_smtp_proto::Request::into_owned),
                    );
                }
            }
            ("replies", "ours") => {
                for input in black_box(REPLIES) {
                    let _ = black_box(smtp_proto::Reply::parse(input));
                }
            }
            ("replies", "stalwart") => {
                for input in black_box(REPLIES) {
                    let _ = black_box(
                        stalwart_smtp_proto::response::parser::ResponseReceiver::default()
                            .parse(&mut input.iter()),
                    );
                }
            }
            ("ehlo", "ours") => {
                let reply = smtp_proto::Reply::parse(black_box(EHLO_REPLY));
                let _ =
                    black_box(reply.and_then(|r| smtp_proto::Capabilities::from_ehlo_reply(&r)));
            }
            ("ehlo", "stalwart") => {
                let _ = black_box(stalwart_smtp_proto::EhloResponse::parse(
                    &mut black_box(EHLO_REPLY).iter(),
                ));
            }
            (g, "ours") if g.starts_with("command-") => {
                let k: usize = g["command-".len()..].parse().unwrap_or(0);
                let _ = black_box(smtp_proto::Command::parse(line(black_box(COMMANDS[k]))));
            }
            (g, "stalwart") if g.starts_with("command-") => {
                let k: usize = g["command-".len()..].parse().unwrap_or(0);
                let _ = black_box(
                    stalwart_smtp_proto::Request::parse(&mut black_box(COMMANDS[k]).iter())
                        .map(stalwart_smtp_proto::Request::into_owned),
                );
            }
            (g, "ours") if g.starts_with("reply-") => {
                let k: usize = g["reply-".len()..].parse().unwrap_or(0);
                let _ = black_box(smtp_proto::Reply::parse(black_box(REPLIES[k])));
            }
            (g, "stalwart") if g.starts_with("reply-") => {
                let k: usize = g["reply-".len()..].parse().unwrap_or(0);
                let _ = black_box(
                    stalwart_smtp_proto::response::parser::ResponseReceiver::default()
                        .parse(&mut black_box(REPLIES[k]).iter()),
                );
            }
            _ => panic!("usage: profile commands|replies|ehlo ours|stalwart [iterations]"),
        }
    }
}
