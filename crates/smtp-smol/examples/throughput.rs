//! Loopback throughput of the smol client pool: sends N messages of about
//! 1 KB over C connections and prints messages per second.
//!
//! ```sh
//! # to a smol server this program starts on 127.0.0.1:
//! cargo run --release -p smtp-smol --example throughput -- 20000 10
//! # to a server already listening (Postfix's smtp-sink, another adapter):
//! cargo run --release -p smtp-smol --example throughput -- 20000 10 127.0.0.1:2525
//! ```

use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, ServerConfig, TlsPolicy};
use smtp_smol::{AcceptAll, Pool, Server};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let messages: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let connections: usize = args.next().map_or(Ok(10), |a| a.parse())?;
    let target: Option<SocketAddr> = args.next().map(|a| a.parse()).transpose()?;
    smol::block_on(async {
        // Our own server unless a target was given.
        let (addr, server) = match target {
            Some(addr) => (addr, None),
            None => {
                let config =
                    ServerConfig::new("mx.example").with_idle_timeout(Duration::from_secs(60));
                let server = Server::bind("127.0.0.1:0", config, AcceptAll)?
                    .with_max_connections(connections + 10)
                    .with_max_connections_per_ip(connections + 10);
                (server.local_addr(), Some(server.spawn()))
            }
        };
        let config = ClientConfig::new(Host::parse("client.example")?).with_tls(TlsPolicy::None);
        let pool = Pool::new(&addr.ip().to_string(), addr.port(), config, connections);
        let line = [&[b'x'; 76][..], b"\r\n"].concat();
        let body = [&b"Subject: throughput\r\n\r\n"[..], &line.repeat(13)].concat();
        let envelope = Envelope::new(Mailbox::parse("sender@example.com")?.into())
            .with_recipient(Recipient::new(Mailbox::parse("rcpt@example.org")?));
        let batch = (0..messages).map(|_| (envelope.clone(), body.clone()));
        let started = Instant::now();
        let results = pool.send_all(batch).await;
        let elapsed = started.elapsed();
        let failed = results.iter().filter(|r| r.is_err()).count();
        println!(
            "{messages} messages of {} bytes over {connections} connections to {addr}: {:.2} s, {:.0} messages/s, {failed} failed",
            body.len(),
            elapsed.as_secs_f64(),
            messages as f64 / elapsed.as_secs_f64(),
        );
        pool.close().await;
        if let Some(server) = server {
            server.shutdown(Duration::from_secs(1)).await;
        }
        Ok(())
    })
}
