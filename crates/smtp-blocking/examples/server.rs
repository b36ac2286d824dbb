//! A small receiving server: accepts mail for one domain, refuses other
//! recipients with 550 5.1.1, and prints each message's envelope and size.
//! It stops by itself after `SECONDS` (default 30), shutting down gracefully.
//!
//! ```text
//! cargo run -p smtp-blocking --example server -- 127.0.0.1:2525 example.org [SECONDS]
//! ```
//!
//! Try it with `swaks --server 127.0.0.1:2525 --to you@example.org`, or with
//! this crate's `send` example.

use smtp_blocking::{Connection, Decision, Handler, Server, Sink, Transaction};
use smtp_proto::{EnhancedStatus, ForwardPath, RcptParams, Reply, ReplyCode, ServerConfig};
use std::time::Duration;

/// Takes mail for `domain` only.
struct OneDomain {
    domain: String,
}

impl Handler for OneDomain {
    fn rcpt_to(&self, _: &Connection, to: &ForwardPath, _: &RcptParams) -> Decision {
        let ours = to
            .mailbox()
            .is_some_and(|m| m.domain().to_string().eq_ignore_ascii_case(&self.domain));
        if ours {
            return Decision::Accept;
        }
        match Reply::new(
            ReplyCode::MAILBOX_UNAVAILABLE,
            EnhancedStatus::new(5, 1, 1),
            ["No such user here"],
        ) {
            Ok(reply) => Decision::Reject(reply),
            Err(_) => Decision::Accept,
        }
    }

    type Sink = Counted;

    fn data_start(&self, conn: &Connection, transaction: &Transaction) -> Result<Counted, Reply> {
        let to: Vec<String> = transaction
            .recipients
            .iter()
            .map(ToString::to_string)
            .collect();
        let about = format!("{}: {} -> {}", conn.peer, transaction.from, to.join(", "));
        Ok(Counted { about, bytes: 0 })
    }
}

/// One message as it streams in: only its size is kept (a store would
/// write each chunk to a file and fsync it in `finish`).
struct Counted {
    about: String,
    bytes: u64,
}

impl Sink for Counted {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Reply> {
        self.bytes += chunk.len() as u64;
        Ok(())
    }

    fn finish(self) -> Decision {
        println!("{}, {} bytes", self.about, self.bytes);
        Decision::Accept
    }

    fn abort(self) {
        println!("{}: abandoned after {} bytes", self.about, self.bytes);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listen = args.first().map_or("127.0.0.1:2525", String::as_str);
    let domain = args.get(1).cloned().unwrap_or_else(|| "example.org".into());
    let seconds: u64 = args.get(2).map_or(Ok(30), |s| s.parse())?;
    let config = ServerConfig::new("mx.localhost")
        .with_max_message_size(Some(10 * 1024 * 1024))
        .with_idle_timeout(Duration::from_secs(60));
    let server = Server::bind(listen, config, OneDomain { domain })?.spawn()?;
    println!("listening on {} for {seconds} s", server.local_addr());
    std::thread::sleep(Duration::from_secs(seconds));
    server.shutdown(Duration::from_secs(5));
    Ok(())
}
