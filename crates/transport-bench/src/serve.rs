//! `loopback serve`: an in-process receiver that accepts and drops every
//! message, with no logging, until it is killed.

use crate::args::Opts;
use std::time::Duration;

pub(crate) fn main(args: &[String]) -> Result<(), String> {
    let opts = Opts::parse(args)?;
    opts.check_known(&["server", "addr"])?;
    let addr = opts.required("addr")?;
    match opts.required("server")? {
        "blocking" => blocking(addr),
        "smol" => smol::block_on(run_async::<smtp_smol::Smol>(addr)),
        "async-std" => async_std::task::block_on(run_async::<smtp_async_std::AsyncStd>(addr)),
        other => Err(format!(
            "unknown server {other:?} (blocking, smol, async-std)"
        )),
    }
}

fn config() -> smtp_proto::ServerConfig {
    smtp_proto::ServerConfig::new("bench.localhost")
        .with_max_message_size(Some(25 * 1024 * 1024))
        .with_idle_timeout(Duration::from_secs(60))
}

fn blocking(addr: &str) -> Result<(), String> {
    let server = smtp_blocking::Server::bind(addr, config(), smtp_blocking::AcceptAll)
        .map_err(|e| e.to_string())?;
    server.run().map_err(|e| e.to_string())
}

/// An async adapter's server: one task per connection on the runtime's
/// executor, the accept loop on this thread.
async fn run_async<R: smtp_futures::Runtime>(addr: &str) -> Result<(), String> {
    let server = smtp_futures::Server::<R, _>::bind(addr, config(), smtp_futures::AcceptAll)
        .map_err(|e| e.to_string())?;
    server.run().await.map_err(|e| e.to_string())
}
