//! Bulk sending through a [`Pool`]: a local server is started in-process (so
//! this runs with no network), then 200 messages go out over at most 4
//! connections, the first one with its dialogue shown by a transcript.
//!
//! ```text
//! cargo run -p smtp-blocking --example pool
//! ```

use smtp_blocking::{AcceptAll, Client, Pool, Server};
use smtp_proto::transcript::Transcript;
use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, ServerConfig, TlsPolicy};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::bind(
        "127.0.0.1:0",
        ServerConfig::new("sink.localhost"),
        AcceptAll,
    )?
    .spawn()?;
    let port = server.local_addr().port();
    let config = ClientConfig::new(Host::parse("client.localhost")?).with_tls(TlsPolicy::None);
    let envelope = |i: usize| -> Result<Envelope, smtp_proto::ParseError> {
        Ok(
            Envelope::new(Mailbox::parse("news@example.com")?.into()).with_recipient(
                Recipient::new(Mailbox::parse(&format!("reader{i}@example.org"))?),
            ),
        )
    };

    // One message with the dialogue on stderr, AUTH (if any) redacted.
    let mut client = Client::builder(config.clone())
        .connect_timeout(Duration::from_secs(5))
        .observer(Transcript::client(|line| eprintln!("{line}")))
        .connect("127.0.0.1", port)?;
    client.send(&envelope(0)?, &b"Subject: first\r\n\r\nHello\r\n"[..])?;
    client.quit()?;

    // Then the bulk: outcomes come back in the order given.
    let pool = Pool::new("127.0.0.1", port, config, 4);
    let mut messages = Vec::new();
    for i in 1..=200 {
        let body = format!("Subject: notice {i}\r\n\r\nYour notice number {i}.\r\n");
        messages.push((envelope(i)?, body.into_bytes()));
    }
    let started = Instant::now();
    let outcomes = pool.send_all(messages);
    let delivered = outcomes.iter().filter(|o| o.is_ok()).count();
    println!(
        "{delivered} of {} delivered over {} connections in {:?}",
        outcomes.len(),
        pool.idle_connections(),
        started.elapsed()
    );
    pool.close();
    server.shutdown(Duration::from_secs(1));
    Ok(())
}
