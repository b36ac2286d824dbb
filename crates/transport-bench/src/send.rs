//! `loopback send`: one client kind sends `count` messages over `conns`
//! connections (one thread and one reused connection each), then exits.

use crate::args::Opts;
use crate::message::{self, FROM, TO};
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn main(args: &[String]) -> Result<(), String> {
    let opts = Opts::parse(args)?;
    opts.check_known(&["client", "addr", "size", "conns", "count"])?;
    let client = opts.required("client")?;
    let addr: SocketAddr = opts
        .required("addr")?
        .parse()
        .map_err(|e| format!("--addr: {e}"))?;
    let size: usize = opts.parsed("size", 2_000)?;
    let conns: usize = opts.parsed("conns", 1)?;
    let count: usize = opts.parsed("count", 1_000)?;
    if conns == 0 {
        return Err("--conns must be at least 1".into());
    }
    let bytes = message::build(size)?;
    match client {
        "ours" => ours(addr, &bytes, conns, count),
        "lettre" => lettre(addr, &bytes, conns, count),
        other => Err(format!("unknown client {other:?} (ours, lettre)")),
    }
}

/// How many of `count` messages connection `index` of `conns` sends.
pub(crate) fn share(count: usize, conns: usize, index: usize) -> usize {
    count / conns + usize::from(index < count % conns)
}

/// Runs `work(index, share)` on `conns` threads and joins them, returning
/// the first error.
fn on_threads(
    conns: usize,
    count: usize,
    work: impl Fn(usize) -> Result<(), String> + Sync,
) -> Result<(), String> {
    thread::scope(|scope| {
        let handles: Vec<_> = (0..conns)
            .map(|i| {
                let work = &work;
                scope.spawn(move || work(share(count, conns, i)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a sender thread panicked".into()))
            })
            .collect::<Result<Vec<()>, String>>()
            .map(|_| ())
    })
}

fn ours(addr: SocketAddr, bytes: &[u8], conns: usize, count: usize) -> Result<(), String> {
    use smtp_blocking::Client;
    use smtp_proto::{ClientConfig, Envelope, Host, Mailbox, Recipient, TlsPolicy};
    let mailbox = |s: &str| Mailbox::parse(s).map_err(|e| format!("address {s:?}: {e}"));
    let envelope = Envelope::new(mailbox(FROM)?.into())
        .with_recipient(Recipient::new(mailbox(TO)?))
        .with_size(bytes.len() as u64);
    let helo = Host::parse("localhost").map_err(|e| e.to_string())?;
    on_threads(conns, count, |n| {
        let config = ClientConfig::new(helo.clone()).with_tls(TlsPolicy::None);
        let mut client =
            Client::connect(addr, config, CONNECT_TIMEOUT).map_err(|e| e.to_string())?;
        for _ in 0..n {
            client.send(&envelope, bytes).map_err(|e| e.to_string())?;
        }
        client.quit().map_err(|e| e.to_string())
    })
}

fn lettre(addr: SocketAddr, bytes: &[u8], conns: usize, count: usize) -> Result<(), String> {
    use lettre::address::Envelope;
    use lettre::transport::smtp::extension::ClientId;
    use lettre::transport::smtp::PoolConfig;
    use lettre::{SmtpTransport, Transport};
    let address = |s: &str| {
        s.parse::<lettre::Address>()
            .map_err(|e| format!("address {s:?}: {e}"))
    };
    let envelope = Envelope::new(Some(address(FROM)?), vec![address(TO)?])
        .map_err(|e| format!("envelope: {e}"))?;
    let pool_size = u32::try_from(conns).map_err(|_| "too many connections")?;
    let transport = SmtpTransport::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .hello_name(ClientId::Domain("localhost".into()))
        .timeout(Some(CONNECT_TIMEOUT))
        .pool_config(PoolConfig::new().max_size(pool_size))
        .build();
    on_threads(conns, count, |n| {
        for _ in 0..n {
            transport
                .send_raw(&envelope, bytes)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_add_up() {
        for (count, conns) in [(10, 1), (10, 3), (7, 10), (25_003, 10)] {
            let total: usize = (0..conns).map(|i| share(count, conns, i)).sum();
            assert_eq!(total, count);
            let most = (0..conns).map(|i| share(count, conns, i)).max().unwrap();
            let least = (0..conns).map(|i| share(count, conns, i)).min().unwrap();
            assert!(most - least <= 1);
        }
    }
}
