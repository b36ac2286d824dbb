//! Sends one message over plain TCP.
//!
//! ```text
//! cargo run -p smtp-blocking --example send -- 127.0.0.1:2525 from@example.com to@example.org [FILE]
//! ```
//!
//! The message (headers and body) is read from FILE, or from standard input.

use smtp_blocking::Client;
use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, TlsPolicy};
use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("send: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, from, to, rest @ ..] = args.as_slice() else {
        return Err("usage: send SERVER:PORT FROM TO [FILE]".into());
    };
    let mailbox = |s: &str| Mailbox::parse(s).map_err(|e| format!("bad address {s:?}: {e}"));
    let envelope =
        Envelope::new(mailbox(from)?.into()).with_recipient(Recipient::new(mailbox(to)?));
    let mut body = Vec::new();
    match rest.first() {
        Some(path) => {
            body = std::fs::read(path).map_err(|e| format!("could not read {path}: {e}"))?;
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| format!("could not read standard input: {e}"))?;
        }
    }
    let envelope = envelope.with_size(body.len() as u64);

    let helo = Host::parse("localhost").map_err(|e| e.to_string())?;
    let config = ClientConfig::new(helo).with_tls(TlsPolicy::None);
    let mut client = Client::connect(server.as_str(), config, Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let report = client
        .send(&envelope, &body[..])
        .map_err(|e| e.to_string())?;
    match &report.final_reply {
        Some(reply) => println!("{}", reply.to_string().trim_end()),
        None => println!("delivered"),
    }
    client.quit().map_err(|e| e.to_string())
}
