//! A server and a client in one program, on 127.0.0.1 (no network needed):
//! the client sends two messages over one connection and the server prints
//! them. async-std is discontinued upstream; new programs should use
//! `smtp-smol` (see its example).
//!
//! Run with `cargo run -p smtp-async-std --example async_std_send_and_receive`.

use smtp_async_std::{AcceptAll, Client, Server};
use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, ServerConfig, TlsPolicy};
use std::time::Duration;

fn main() -> Result<(), smtp_async_std::Error> {
    async_std::task::block_on(async {
        let server = Server::bind("127.0.0.1:0", ServerConfig::new("mx.example"), AcceptAll)?;
        let addr = server.local_addr();
        let server = server.spawn();

        let config = ClientConfig::new(Host::parse("client.example").expect("a host name"))
            .with_tls(TlsPolicy::None);
        let mut client = Client::connect(addr, config, Duration::from_secs(5)).await?;
        println!(
            "connected to {}; it offers {:?}",
            client.peer_addr(),
            client.capabilities()
        );
        let envelope = Envelope::new(
            Mailbox::parse("sender@example.com")
                .expect("an address")
                .into(),
        )
        .with_recipient(Recipient::new(
            Mailbox::parse("rcpt@example.org").expect("an address"),
        ));
        for subject in ["first", "second"] {
            let body = format!("Subject: {subject}\r\n\r\nOver the same connection\r\n");
            let report = client.send(&envelope, body.as_bytes()).await?;
            println!(
                "{subject}: accepted for {} recipient(s)",
                report.accepted().count()
            );
        }
        client.quit().await?;
        server.shutdown(Duration::from_secs(1)).await;
        Ok(())
    })
}
