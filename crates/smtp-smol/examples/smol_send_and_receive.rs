//! A server and a pool of clients in one program, on 127.0.0.1 (no network
//! needed): the server prints each message it receives; the pool sends ten
//! over at most three connections.
//!
//! Run with `cargo run -p smtp-smol --example smol_send_and_receive`.

use smtp_proto::Reply;
use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, ServerConfig, TlsPolicy};
use smtp_smol::{Collect, Transaction};
use smtp_smol::{Connection, Decision, Handler, Pool, Server};
use std::time::Duration;

/// Prints each message and accepts it.
struct Printer;

impl Handler for Printer {
    type Sink = Collect;

    async fn data_start(
        &self,
        conn: &Connection,
        transaction: &Transaction,
    ) -> Result<Collect, Reply> {
        let conn = conn.clone();
        Ok(Collect::new(transaction, move |message| {
            let message = &message;
            let subject = String::from_utf8_lossy(&message.bytes)
                .lines()
                .find(|line| line.starts_with("Subject:"))
                .unwrap_or("Subject: (none)")
                .to_owned();
            println!(
                "server: from {} over {}: {subject}",
                message.from, conn.peer
            );
            Decision::Accept
        }))
    }
}

fn main() -> Result<(), smtp_smol::Error> {
    smol::block_on(async {
        let server = Server::bind("127.0.0.1:0", ServerConfig::new("mx.example"), Printer)?;
        let port = server.local_addr().port();
        let server = server.spawn();

        let config = ClientConfig::new(Host::parse("client.example").expect("a host name"))
            .with_tls(TlsPolicy::None);
        let pool = Pool::new("127.0.0.1", port, config, 3);
        let from = Mailbox::parse("sender@example.com").expect("an address");
        let to = Mailbox::parse("rcpt@example.org").expect("an address");
        let messages = (1..=10).map(|n| {
            let envelope =
                Envelope::new(from.clone().into()).with_recipient(Recipient::new(to.clone()));
            let body = format!("Subject: message {n}\r\n\r\nHello number {n}\r\n");
            (envelope, body.into_bytes())
        });
        for (n, result) in pool.send_all(messages).await.into_iter().enumerate() {
            let report = result?;
            println!(
                "client: message {} accepted for {} recipient(s)",
                n + 1,
                report.accepted().count()
            );
        }
        pool.close().await;
        server.shutdown(Duration::from_secs(1)).await;
        Ok(())
    })
}
