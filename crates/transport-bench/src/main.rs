//! Loopback throughput of the mailwire SMTP client and server against
//! Postfix's `smtp-source` and `smtp-sink` and lettre, in one run.
//!
//! ```text
//! cargo run --release --bin loopback -- run --mailwire PATH/TO/mailwire
//! ```
//!
//! `run` (the default) is the orchestrator: for every row it starts a
//! receiver on a free loopback port, pinned with `taskset`, then a sender,
//! pinned the same way, and times the sender from spawn to exit. The rows of
//! one comparison run interleaved (A, B, A, B, ...) so that load from other
//! work on the machine falls on all of them alike. `send` and `serve` are the
//! in-process sides it starts as child processes of this same binary, so that
//! each side can be pinned on its own.
#![forbid(unsafe_code)]

mod args;
mod message;
mod peers;
mod run;
mod send;
mod serve;
mod stats;

use std::process::ExitCode;

const USAGE: &str = "\
usage:
  loopback [run] [--mailwire PATH] [--secs S] [--repeats N] [--groups LIST]
                 [--cpus CLIENT,SERVER]... [--postfix-dir DIR] [--maildir-base DIR]
                 [--candidate PATH]
  loopback send --client CLIENT --addr IP:PORT --size BYTES --conns N --count N
  loopback serve --server blocking|smol|async-std --addr IP:PORT

CLIENT: ours, lettre, smol-pool, smol-clients, async-std-pool, async-std-clients.
run: groups are client, server, maildir, async (default: all); --cpus may be given
more than once (default 0,0: both sides on CPU 0); the mailwire binary comes
from --mailwire or the MAILWIRE_BIN environment variable; --candidate is
another build of this program whose client gets a row of its own (to measure
a change to smtp-blocking's client against the current one).";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match argv.split_first() {
        Some((first, rest)) if !first.starts_with('-') => (first.as_str(), rest),
        _ => ("run", argv.as_slice()),
    };
    if rest.iter().any(|a| a == "-h" || a == "--help") || command == "help" {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match command {
        "run" => run::main(rest),
        "send" => send::main(rest),
        "serve" => serve::main(rest),
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("loopback {command}: {message}");
            ExitCode::FAILURE
        }
    }
}
