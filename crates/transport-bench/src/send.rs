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
        "smol-pool" => smol::block_on(pool::<smtp_smol::Smol>(addr, &bytes, conns, count)),
        "smol-clients" => smol::block_on(clients::<smtp_smol::Smol>(addr, &bytes, conns, count)),
        "async-std-pool" => {
            async_std::task::block_on(pool::<smtp_async_std::AsyncStd>(addr, &bytes, conns, count))
        }
        "async-std-clients" => async_std::task::block_on(clients::<smtp_async_std::AsyncStd>(
            addr, &bytes, conns, count,
        )),
        other => Err(format!(
            "unknown client {other:?} (ours, lettre, smol-pool, smol-clients, \
             async-std-pool, async-std-clients)"
        )),
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

/// The envelope every one of our clients sends.
fn envelope(size: usize) -> Result<smtp_proto::Envelope, String> {
    use smtp_proto::{Envelope, Mailbox, Recipient};
    let mailbox = |s: &str| Mailbox::parse(s).map_err(|e| format!("address {s:?}: {e}"));
    Ok(Envelope::new(mailbox(FROM)?.into())
        .with_recipient(Recipient::new(mailbox(TO)?))
        .with_size(size as u64))
}

fn client_config() -> Result<smtp_proto::ClientConfig, String> {
    let helo = smtp_proto::Host::parse("localhost").map_err(|e| e.to_string())?;
    Ok(smtp_proto::ClientConfig::new(helo).with_tls(smtp_proto::TlsPolicy::None))
}

/// An async adapter's pool of `conns` connections, fed by `conns`
/// concurrent loops on one executor thread.
async fn pool<R: smtp_futures::Runtime>(
    addr: SocketAddr,
    bytes: &[u8],
    conns: usize,
    count: usize,
) -> Result<(), String> {
    let envelope = envelope(bytes.len())?;
    let pool =
        smtp_futures::Pool::<R>::new(&addr.ip().to_string(), addr.port(), client_config()?, conns)
            .with_connect_timeout(CONNECT_TIMEOUT);
    let loops = (0..conns).map(|i| {
        let (pool, envelope) = (&pool, &envelope);
        async move {
            for _ in 0..share(count, conns, i) {
                pool.send(envelope, bytes)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }
    });
    let results = futures_util::future::join_all(loops).await;
    pool.close().await;
    results.into_iter().collect()
}

/// `conns` async clients, each with its own connection, concurrently on
/// one executor thread.
async fn clients<R: smtp_futures::Runtime>(
    addr: SocketAddr,
    bytes: &[u8],
    conns: usize,
    count: usize,
) -> Result<(), String> {
    let envelope = envelope(bytes.len())?;
    let config = client_config()?;
    let loops = (0..conns).map(|i| {
        let (envelope, config) = (&envelope, config.clone());
        async move {
            let mut client = smtp_futures::Client::<R>::connect(addr, config, CONNECT_TIMEOUT)
                .await
                .map_err(|e| e.to_string())?;
            for _ in 0..share(count, conns, i) {
                client
                    .send(envelope, bytes)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            client.quit().await.map_err(|e| e.to_string())
        }
    });
    futures_util::future::join_all(loops)
        .await
        .into_iter()
        .collect()
}

fn ours(addr: SocketAddr, bytes: &[u8], conns: usize, count: usize) -> Result<(), String> {
    use smtp_blocking::Client;
    let envelope = envelope(bytes.len())?;
    let config = client_config()?;
    on_threads(conns, count, |n| {
        let mut client =
            Client::connect(addr, config.clone(), CONNECT_TIMEOUT).map_err(|e| e.to_string())?;
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
