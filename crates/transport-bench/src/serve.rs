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
        other => Err(format!("unknown server {other:?} (blocking)")),
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
