//! `mailwire deliver`: runs the delivery engine over the spool until
//! stopped (SIGINT or SIGTERM stop it gracefully: attempts in flight
//! finish, the rest is handed back), with Prometheus metrics on request.

use crate::connect::{self, ConnectArgs};
use crate::queue::{spool_failure, SpoolArgs};
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::Args;
use mail_spool::engine::{Engine, EngineConfig, Metrics, Totals};
use mail_spool::schedule::{RateLimits, RetryPolicy};
use mail_spool::smtp::{Route, SmtpTransport};
use mail_spool::Spool;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Where and how the engine delivers; shared by `deliver` and `bulk`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DeliveryArgs {
    /// Relay every message through this server (`host[:port]`), or use
    /// --provider; without either, deliver straight to each recipient
    /// domain's MX hosts.
    #[arg(long)]
    server: Option<String>,
    /// The DNS server for MX and address lookups, and for the name of
    /// --server (`host:port`) [default: the system's resolver].
    #[arg(long, value_name = "ADDR")]
    dns: Option<std::net::SocketAddr>,
    /// The port of the MX hosts (25; another only for tests).
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    mx_port: u16,
    /// A domain whose MX hosts must offer STARTTLS with a certificate that
    /// verifies (repeatable); its mail waits otherwise.
    #[arg(long, value_name = "DOMAIN")]
    require_tls: Vec<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    /// Delivery threads.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Attempts in flight at once to one destination.
    #[arg(long, value_name = "N")]
    connections: Option<u32>,
    /// Messages per second to one destination (overrides the provider's preset).
    #[arg(long, value_name = "N")]
    per_second: Option<u32>,
    /// Messages per minute to one destination.
    #[arg(long, value_name = "N")]
    per_minute: Option<u32>,
    /// Messages per hour to one destination.
    #[arg(long, value_name = "N")]
    per_hour: Option<u32>,
    /// Messages per rolling 24 hours to one destination.
    #[arg(long, value_name = "N")]
    per_day: Option<u32>,
    /// Messages per calendar day; what is over it waits for the next day.
    #[arg(long, value_name = "N")]
    daily_quota: Option<u32>,
    /// The hour (UTC, 0-23) at which the daily quota starts again
    /// (16 for providers that count by Beijing time).
    #[arg(long, value_name = "HOUR", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..24))]
    quota_reset_hour: u8,
    /// How long a recipient may wait in the queue before it bounces, in
    /// seconds (default: 1 day for a relay).
    #[arg(long, value_name = "SECONDS")]
    max_age: Option<u64>,
    /// Warn a message's sender once (an RFC 3464 report, `Action:
    /// delayed`) when a recipient still waits this many hours after it was
    /// queued; 0 sends no warnings.
    #[arg(long, value_name = "HOURS", default_value_t = 4)]
    delay_warning: u64,
    /// The least wait before a retry, in milliseconds (default 30 s).
    #[arg(long, value_name = "MS", hide = true)]
    retry_floor_ms: Option<u64>,
    /// The first retry's ceiling, in milliseconds (default 60 s; doubles).
    #[arg(long, value_name = "MS", hide = true)]
    retry_base_ms: Option<u64>,
    /// How long a worker holds a claimed message before another may take
    /// it, in seconds. Longer than any attempt; shorter makes duplicates.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    lease: u64,
    /// This worker's name in leases [default: host name and process id].
    #[arg(long)]
    worker_name: Option<String>,
    /// The host name to give in bounces.
    #[arg(long, default_value = "localhost")]
    reporting_mta: String,
}

#[derive(Debug, Args)]
pub(crate) struct DeliverArgs {
    #[command(flatten)]
    spool: SpoolArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
    /// Serve Prometheus metrics on this address (`127.0.0.1:9425`) at /metrics.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Stop once nothing is due now and nothing is in flight.
    #[arg(long)]
    until_idle: bool,
    /// Sign the mail of --dkim-domain that is not signed yet (mail queued
    /// by `send --queue` or `bulk` with --dkim-key is signed already).
    #[command(flatten)]
    dkim: crate::dkim::DkimSignArgs,
}

/// Rate presets for the providers' submission servers: see
/// docs/providers.md ("Sending limits") for where each figure comes from.
fn provider_limits(name: &str) -> RateLimits {
    let daily = |n| Some((n, Duration::ZERO));
    let beijing = |n| Some((n, Duration::from_secs(16 * 3600)));
    match name {
        "gmail" => RateLimits {
            daily_quota: daily(500),
            per_minute: Some(20),
            connections: Some(3),
            ..RateLimits::default()
        },
        "outlook" => RateLimits {
            daily_quota: daily(300),
            per_minute: Some(30),
            connections: Some(3),
            ..RateLimits::default()
        },
        "qq" => RateLimits {
            daily_quota: beijing(100),
            per_minute: Some(10),
            connections: Some(2),
            ..RateLimits::default()
        },
        "163" | "126" => RateLimits {
            daily_quota: beijing(50),
            per_minute: Some(5),
            connections: Some(1),
            ..RateLimits::default()
        },
        "yahoo" => RateLimits {
            daily_quota: daily(500),
            per_minute: Some(10),
            connections: Some(2),
            ..RateLimits::default()
        },
        "icloud" => RateLimits {
            daily_quota: daily(1000),
            per_minute: Some(10),
            connections: Some(2),
            ..RateLimits::default()
        },
        _ => RateLimits::default(),
    }
}

fn owner_name(given: &Option<String>) -> String {
    given.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        format!("{host}-{}", std::process::id())
    })
}

impl DeliveryArgs {
    /// Direct delivery: MX lookups through mail-dns, opportunistic
    /// STARTTLS, verified TLS for the --require-tls domains.
    fn mx_route(&self) -> Result<Route, Failure> {
        let resolver = match self.dns {
            Some(server) => mail_dns::Resolver::with_server(server),
            None => mail_dns::Resolver::system(),
        }
        .map_err(|e| Failure::usage(anyhow!("DNS: {e}")))?;
        let helo = self.connect.helo_name();
        let host = smtp_proto::Host::parse(&helo)
            .map_err(|e| Failure::usage(anyhow!("bad --helo {helo:?}: {e}")))?;
        let mut config = smtp_proto::ClientConfig::new(host);
        let each = self.connect.timeout();
        let t = &mut config.timeouts;
        for step in [
            &mut t.greeting,
            &mut t.ehlo,
            &mut t.starttls,
            &mut t.mail,
            &mut t.rcpt,
            &mut t.quit,
        ] {
            *step = each;
        }
        Ok(Route::Mx {
            resolver: Arc::new(resolver),
            port: self.mx_port,
            config,
            verified_tls: self.verified_tls()?,
            require_verified_tls: self
                .require_tls
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        })
    }

    /// What a --require-tls domain's certificate must verify against: the
    /// public roots, with --ca-file added or --ca-file-only instead.
    fn verified_tls(&self) -> Result<smtp_blocking::TlsSettings, Failure> {
        let mut tls = smtp_blocking::TlsSettings::new();
        if let Some(path) = &self.connect.ca_file {
            tls = tls
                .with_ca_file(path)
                .map_err(|e| Failure::usage(anyhow!("--ca-file: {e}")))?;
        }
        if let Some(path) = &self.connect.ca_file_only {
            tls = tls
                .with_ca_file_only(path)
                .map_err(|e| Failure::usage(anyhow!("--ca-file-only: {e}")))?;
        }
        Ok(tls)
    }

    /// The engine's configuration and the transport these flags describe.
    pub(crate) fn build(&self) -> Result<(EngineConfig, SmtpTransport), Failure> {
        let (route, provider, mut retry) = match self.connect.target(self.server.as_deref())? {
            Some(target) => {
                let mut builder =
                    self.connect
                        .configure(target, self.server.as_deref(), true, false)?;
                if let Some(server) = self.dns {
                    builder =
                        builder.resolver(connect::dns_server(server, self.connect.timeout())?);
                }
                let mailer = connect::build(builder)?;
                let provider = mailer.context().provider;
                (
                    Route::Mailer(Arc::new(mailer)),
                    provider,
                    RetryPolicy::RELAY,
                )
            }
            None => (self.mx_route()?, None, RetryPolicy::MX),
        };
        if let Some(secs) = self.max_age {
            retry.max_age = Duration::from_secs(secs);
        }
        if let Some(ms) = self.retry_floor_ms {
            retry.floor = Duration::from_millis(ms);
        }
        if let Some(ms) = self.retry_base_ms {
            retry.base = Duration::from_millis(ms);
            retry.cap = retry.cap.max(retry.base);
        }
        let transport = SmtpTransport::new(route)
            .with_retry(retry)
            .with_connect_timeout(self.connect.timeout());

        let mut engine = EngineConfig::new(owner_name(&self.worker_name));
        engine.workers = self.workers.max(1);
        engine.lease = Duration::from_secs(self.lease.max(1));
        engine.reporting_mta = self.reporting_mta.clone();
        engine.delay_warning = (self.delay_warning > 0)
            .then(|| Duration::from_secs(self.delay_warning.saturating_mul(3600)));
        let mut limits = provider
            .map(|p| provider_limits(p.settings().name))
            .unwrap_or_default();
        let overrides = [
            (&mut limits.per_second, self.per_second),
            (&mut limits.per_minute, self.per_minute),
            (&mut limits.per_hour, self.per_hour),
            (&mut limits.per_day, self.per_day),
            (&mut limits.connections, self.connections),
        ];
        for (slot, given) in overrides {
            if given.is_some() {
                *slot = given;
            }
        }
        if let Some(n) = self.daily_quota {
            limits.daily_quota = Some((
                n,
                Duration::from_secs(u64::from(self.quota_reset_hour) * 3600),
            ));
        }
        engine.destinations.limits = limits;
        engine.destinations.max_attempts =
            limits.connections.unwrap_or(engine.workers as u32).max(1);
        Ok((engine, transport))
    }
}

/// Logs to stderr through `tracing`; `MAILWIRE_LOG` sets the filter
/// (`info` by default, `mail_spool=debug` for every attempt).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILWIRE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// SIGINT and SIGTERM set `stop`.
pub(crate) fn stop_on_signals(stop: &Arc<AtomicBool>) -> Result<(), Failure> {
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(stop))
            .context("installing the signal handler")
            .map_err(Failure::other)?;
    }
    Ok(())
}

pub(crate) fn run(args: DeliverArgs) -> Result<(), Failure> {
    init_logging();
    let url = args.spool.spool.clone();
    let spool: Arc<dyn Spool> = Arc::from(args.spool.open()?);
    let (mut config, transport) = args.delivery.build()?;
    let signing = args.dkim.delivery_signing()?;
    config.exit_when_idle = args.until_idle;
    let engine = Engine::new(Arc::clone(&spool), config);
    stop_on_signals(&engine.stop_handle())?;
    if let Some(addr) = &args.metrics {
        serve_metrics(addr, engine.metrics(), Arc::clone(&spool))?;
    }
    tracing::info!(spool = %url, "delivering");
    let totals = match signing {
        Some(signing) => engine.run(Arc::new(crate::dkim::SigningTransport::new(
            transport, signing,
        ))),
        None => engine.run(Arc::new(transport)),
    }
    .map_err(|e| spool_failure(e, &url))?;
    print_totals(&totals);
    Ok(())
}

pub(crate) fn print_totals(t: &Totals) {
    out!(
        "delivered {}, deferred {}, failed {}",
        t.delivered,
        t.deferred,
        t.failed
    );
}

/// Answers every HTTP request on `addr` with the metrics (a scrape is a
/// GET of any path; the request is read only up to its blank line).
fn serve_metrics(addr: &str, metrics: Arc<Metrics>, spool: Arc<dyn Spool>) -> Result<(), Failure> {
    let listener = TcpListener::bind(addr)
        .with_context(|| format!("listening for metrics on {addr}"))
        .map_err(Failure::usage)?;
    if let Ok(local) = listener.local_addr() {
        eprintln!("mailwire: metrics on http://{local}/metrics");
    }
    thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let body = metrics.render(spool.stats().ok().as_ref());
                let _ = answer(stream, &body);
            }
        })
        .context("starting the metrics thread")
        .map_err(Failure::other)?;
    Ok(())
}

fn answer(mut stream: TcpStream, body: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    // Bounded: a client that never ends its request gets an answer anyway.
    while request.len() < 16 * 1024 && !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
