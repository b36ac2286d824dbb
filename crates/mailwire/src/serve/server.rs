//! `mailwire serve` as a mail server: with `--config FILE` or any of the
//! server flags (`--domain`, `--mailboxes`, `--submission`,
//! `--submissions`, `--spool`, `--metrics`), the `mail-server` crate's
//! listeners over this workspace's pieces: the users file and directory of
//! `mail-accounts`, the per-user Maildir++ store of `maildrop`, the filters
//! of `mail-filter`, the spool of `mail-spool` (with its delivery workers
//! in the same process when asked) and the counters of `mail-metrics`.
//! POP3 and IMAP open each user's own mailbox.

use super::{resolve, ServeArgs, HOSTNAME};
use crate::serve_readers::{LoginLimit, PerUser, Readers};
use crate::serve_tls::SelfSigned;
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::{Args, Parser};
use mail_server::config::{DmarcAction, Overrides, ServerConfig, TlsFiles};
use mail_server::{AuthChecks, Filters, Outbound, Parts};
use mail_spool::Spool;
use smtp_blocking::ServerTls;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The flags that make `serve` a mail server.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Run as a mail server configured by this file (TOML; see
    /// docs/mail-server.md). The flags below override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A domain this server receives mail for (repeatable; added to the
    /// file's). Runs as a mail server.
    #[arg(long = "domain", value_name = "DOMAIN")]
    domains: Vec<String>,
    /// The root of the per-user mailboxes (Maildir++ at
    /// `DIR/<domain>/<user>/`). Runs as a mail server.
    #[arg(long, value_name = "DIR")]
    mailboxes: Option<PathBuf>,
    /// Listen for submission with STARTTLS here (port 587 style): TLS and
    /// AUTH required. Runs as a mail server.
    #[arg(long, value_name = "ADDR")]
    submission: Option<String>,
    /// Listen for submission with implicit TLS here (port 465 style).
    /// Runs as a mail server.
    #[arg(long, value_name = "ADDR")]
    submissions: Option<String>,
    /// The spool for outgoing mail: a directory (SQLite) or a postgres://
    /// URL. Runs as a mail server.
    #[arg(long, value_name = "URL")]
    spool: Option<String>,
    /// Serve Prometheus metrics (/metrics) and /healthz here. Runs as a
    /// mail server.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// The server's name in greetings, Received: and
    /// Authentication-Results (as a mail server) [default: the file's, or
    /// localhost].
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// As a mail server: deliver what the spool holds from this process too
    /// (MX lookups through --dns when given).
    #[arg(long)]
    deliver: bool,
    /// As a mail server: the port MX hosts are reached on by --deliver
    /// [default: 25].
    #[arg(long, value_name = "PORT")]
    mx_port: Option<u16>,
    /// As a mail server: SMTP sessions served at once per listener; more
    /// clients wait in the listen queue for their greeting instead of being
    /// refused, as at Postfix's process limit (0: no wait) [default: the
    /// file's `[limits] max_sessions`, or 100].
    #[arg(long, value_name = "N")]
    max_sessions: Option<usize>,
}

impl ServerArgs {
    /// True when any flag asks for the mail server.
    pub(crate) fn wanted(&self) -> bool {
        self.config.is_some()
            || !self.domains.is_empty()
            || self.mailboxes.is_some()
            || self.submission.is_some()
            || self.submissions.is_some()
            || self.spool.is_some()
            || self.metrics.is_some()
    }
}

fn one_addr(addr: &str, flag: &str) -> Result<SocketAddr, Failure> {
    resolve(addr, flag)?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::usage(anyhow!("{flag} {addr} names no address")))
}

/// The dev sink's flags that mean nothing here.
fn refuse_sink_flags(args: &ServeArgs) -> Result<(), Failure> {
    let sink_only = [
        ("--maildir", args.maildir.is_some()),
        ("--discard", args.discard),
        ("--tls-listen", args.tls_listen.is_some()),
        ("--auth-optional", args.auth_optional),
        ("--web", args.web.is_some()),
    ];
    for (flag, given) in sink_only {
        if given {
            return Err(Failure::usage(anyhow!(
                "{flag} is for the development sink; the mail server (--config, --domain, ...) \
                 stores per user under --mailboxes and listens as its file says"
            )));
        }
    }
    Ok(())
}

/// The file (if any) with the flags laid over it.
fn configuration(args: &ServeArgs) -> Result<ServerConfig, Failure> {
    let flags = &args.server;
    let mut config = match &flags.config {
        Some(path) => ServerConfig::load_unchecked(path).map_err(|e| Failure::usage(anyhow!(e)))?,
        None => ServerConfig::default(),
    };
    let mut overrides = Overrides {
        hostname: flags.hostname.clone(),
        domains: flags.domains.clone(),
        users_file: args.users_file.clone(),
        mailboxes: flags.mailboxes.clone(),
        spool: flags.spool.clone(),
        max_message_size: args.max_size,
        dns: args.check_auth.dns(),
        ..Overrides::default()
    };
    overrides.smtp = match &args.listen {
        Some(addr) => Some(one_addr(addr, "--listen")?),
        // Without a file, the sink's default address.
        None if flags.config.is_none() => Some(one_addr(super::DEFAULT_LISTEN, "--listen")?),
        None => None,
    };
    if let Some(addr) = &flags.submission {
        overrides.submission = Some(one_addr(addr, "--submission")?);
    }
    if let Some(addr) = &flags.submissions {
        overrides.submissions = Some(one_addr(addr, "--submissions")?);
    }
    if let Some(addr) = &flags.metrics {
        overrides.metrics = Some(one_addr(addr, "--metrics")?);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        overrides.tls = Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    // A self-signed certificate stands in for the file's [tls] until it is
    // made (the rule "submission needs a certificate" is checked here).
    let placeholder = args.self_signed && overrides.tls.is_none() && config.tls.is_none();
    if placeholder {
        overrides.tls = Some(TlsFiles {
            cert: PathBuf::from("(self-signed)"),
            key: PathBuf::from("(self-signed)"),
        });
    }
    config
        .apply(&overrides)
        .map_err(|e| Failure::usage(anyhow!(e)))?;
    if placeholder {
        config.tls = None;
    }
    let limits = &mut config.limits;
    if let Some(n) = args.max_connections {
        limits.max_connections = n as usize;
    }
    if let Some(n) = args.max_connections_per_ip {
        limits.max_connections_per_ip = n as usize;
    }
    if let Some(n) = flags.max_sessions {
        limits.max_sessions = n;
    }
    if let Some(secs) = args.command_timeout {
        limits.command_timeout = mail_server::config::Seconds(secs);
    }
    if let Some(secs) = args.session_lifetime {
        limits.session_timeout = mail_server::config::Seconds(secs);
    }
    // From flags alone the checks are asked for, as on the sink; a file
    // has them on unless it says otherwise.
    if flags.config.is_none() {
        config.checks.enabled = args.check_auth.enabled();
    }
    if args.check_auth.enabled() {
        config.checks.enabled = true;
        if args.check_auth.report_only() {
            config.checks.dmarc = DmarcAction::Report;
        }
    }
    if flags.deliver {
        config.delivery.enabled = true;
    }
    if let Some(port) = flags.mx_port {
        config.delivery.mx_port = port;
    }
    if config.delivery.enabled && config.spool.is_none() {
        return Err(Failure::usage(anyhow!("--deliver needs --spool")));
    }
    Ok(config)
}

/// The certificate: the file's (reloaded when it changes), or a generated
/// one with --self-signed.
fn certificate(args: &ServeArgs, config: &ServerConfig) -> Result<Option<ServerTls>, Failure> {
    if let Some(files) = &config.tls {
        let tls = crate::serve_tls::reloading(&files.cert, &files.key)
            .context("loading the certificate")
            .map_err(Failure::usage)?;
        return Ok(Some(tls));
    }
    if !args.self_signed {
        return Ok(None);
    }
    let listeners: Vec<SocketAddr> = [
        config.listeners.smtp,
        config.listeners.submission,
        config.listeners.submissions,
    ]
    .into_iter()
    .flatten()
    .collect();
    let generated = SelfSigned::generate(&config.hostname, &listeners).map_err(Failure::other)?;
    let path = args
        .tls_cert_out
        .clone()
        .unwrap_or_else(|| config.mailboxes.join("mailwire-self-signed.pem"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {}", dir.display()))
            .map_err(Failure::other)?;
    }
    generated.write_cert(&path).map_err(Failure::other)?;
    out!(
        "self-signed certificate for {} written to {} (clients can trust it as a CA file)",
        generated.names.join(", "),
        path.display()
    );
    Ok(Some(generated.server_tls()))
}

/// The SPF/DKIM/DMARC checks of `[checks]`.
fn checks(config: &ServerConfig) -> Result<Option<AuthChecks>, Failure> {
    if !config.checks.enabled {
        return Ok(None);
    }
    let dns = match config.checks.dns {
        Some(server) => mail_dns::DnsConfig::server(server),
        None => mail_dns::DnsConfig::default(),
    };
    let resolver = mail_dns::Resolver::new(dns.with_timeout(Duration::from_secs(10)))
        .map_err(|e| Failure::other(anyhow!("DNS for the checks: {e}")))?;
    Ok(Some(AuthChecks::new(
        Arc::new(resolver),
        config.hostname.clone(),
        config.checks.dmarc == DmarcAction::Enforce,
    )))
}

/// The spool and DKIM keys of `spool` and `[[dkim]]`.
fn outbound(config: &ServerConfig) -> Result<Option<Outbound>, Failure> {
    let Some(url) = &config.spool else {
        return Ok(None);
    };
    let spool: Arc<dyn Spool> = Arc::from(crate::queue::open_spool(url)?);
    let mut outbound = Outbound::new(spool);
    for key in &config.dkim {
        let pem = std::fs::read_to_string(&key.key)
            .with_context(|| format!("reading the DKIM key {}", key.key.display()))
            .map_err(Failure::usage)?;
        outbound = outbound
            .with_dkim_pem(&key.domain, &key.selector, &pem)
            .map_err(|e| Failure::usage(anyhow!(e)))?;
    }
    Ok(Some(outbound))
}

/// `mailwire deliver`'s flags, for the in-process workers.
#[derive(Debug, Parser)]
struct DeliverFlags {
    #[command(flatten)]
    delivery: crate::deliver::DeliveryArgs,
}

/// Starts the delivery workers on the spool, on a thread of their own.
fn start_delivery(config: &ServerConfig, spool: Arc<dyn Spool>) -> Result<(), Failure> {
    let mut argv = vec![
        "deliver".to_owned(),
        "--workers".to_owned(),
        config.delivery.workers.max(1).to_string(),
        "--mx-port".to_owned(),
        config.delivery.mx_port.to_string(),
        "--helo".to_owned(),
        config.hostname.clone(),
    ];
    if let Some(dns) = config.delivery.dns {
        argv.extend(["--dns".to_owned(), dns.to_string()]);
    }
    let flags = DeliverFlags::try_parse_from(&argv)
        .map_err(|e| Failure::usage(anyhow!("the delivery settings: {e}")))?;
    let (engine_config, transport) = flags.delivery.build()?;
    let engine = mail_spool::engine::Engine::new(spool, engine_config);
    std::thread::Builder::new()
        .name("delivery".into())
        .spawn(move || {
            if let Err(error) = engine.run(Arc::new(transport)) {
                tracing::error!(%error, "the delivery workers stopped");
            }
        })
        .context("starting the delivery workers")
        .map_err(Failure::other)?;
    Ok(())
}

pub(super) fn run(args: ServeArgs) -> Result<(), Failure> {
    refuse_sink_flags(&args)?;
    let _ = mail_metrics::logging::init(mail_metrics::logging::LogFormat::Plain);
    let config = configuration(&args)?;
    let accounts = Arc::new(
        mail_accounts::LiveAccounts::load(config.users_file.as_deref(), &config.directory)
            .map_err(|e| Failure::usage(anyhow!(e)))?,
    );
    let store = maildrop::MailStore::open(&config.mailboxes)
        .with_context(|| format!("opening the mailboxes at {}", config.mailboxes.display()))
        .map_err(Failure::other)?;
    let filters = Filters::from_config(&config, config.checks.dns)
        .map_err(|e| Failure::usage(anyhow!("[filters]: {e}")))?;
    let tls = certificate(&args, &config)?;
    let metrics = mail_metrics::MailMetrics::new();
    let outbound = outbound(&config)?;
    let spool = outbound.as_ref().map(|o| Arc::clone(o.spool()));

    let mut parts = Parts::new(
        Arc::clone(&accounts),
        store.clone(),
        filters,
        config.limits.auth_failures_per_ip,
    );
    // One limiter for SMTP AUTH, POP3 and IMAP logins.
    let limit = LoginLimit::structured(Arc::new(std::sync::Mutex::new(
        mail_accounts::AuthLimiter::new(mail_accounts::AuthLimits {
            failures_per_ip: config.limits.auth_failures_per_ip.max(1),
            failures_per_user: args.auth_failures_per_user,
            ..mail_accounts::AuthLimits::default()
        }),
    )));
    parts.limiter = Box::new(limit.clone());
    parts.checks = checks(&config)?;
    parts.outbound = outbound;
    parts.metrics = Arc::new(metrics.clone());
    parts.tls = tls.clone();
    let running = mail_server::start(&config, parts).map_err(|e| Failure::connect(anyhow!(e)))?;

    let _endpoint = match config.metrics {
        Some(addr) => {
            let health_spool = spool.clone();
            let health = move || match &health_spool {
                Some(spool) => spool.stats().map(|_| ()).map_err(|e| format!("spool: {e}")),
                None => Ok(()),
            };
            let endpoint = mail_metrics::Endpoint::bind(
                addr,
                metrics.registry().clone(),
                health,
                mail_metrics::EndpointOptions::default(),
            )
            .with_context(|| format!("serving metrics on {addr}"))
            .map_err(Failure::connect)?;
            out!("metrics on http://{}/metrics", endpoint.local_addr());
            Some(endpoint)
        }
        None => None,
    };
    if let Some(spool) = &spool {
        watch_queue(Arc::clone(spool), metrics.clone());
        if config.delivery.enabled {
            start_delivery(&config, Arc::clone(spool))?;
            out!("delivering from the spool in this process");
        }
    }

    let domains = accounts.current().domains().collect::<Vec<_>>().join(", ");
    for (name, addr) in running.listeners() {
        let mode = match (name, tls.is_some()) {
            ("submissions", _) => "implicit TLS, AUTH required",
            ("submission", _) => "STARTTLS and AUTH required",
            (_, true) => "STARTTLS offered",
            (_, false) => "no TLS",
        };
        out!(
            "listening on {addr} ({name}: {mode}), mail server for {domains}, mailboxes in {}",
            config.mailboxes.display()
        );
    }

    let open: PerUser = {
        let (accounts, store) = (Arc::clone(&accounts), store.clone());
        PerUser(Arc::new(move |user: &str, password: &str| {
            if !accounts.current().verify(user, password) {
                return None;
            }
            // The user's folders exist from their first login on.
            let folders = store.folders(user).ok()?;
            drop(folders);
            store.maildir(user).ok()
        }))
    };
    let addr = |a: Option<SocketAddr>| a.map(|a| a.to_string());
    let (pop3, pop3s, imap, imaps) = (
        addr(config.listeners.pop3).or(args.pop3.clone()),
        addr(config.listeners.pop3s).or(args.pop3s.clone()),
        addr(config.listeners.imap).or(args.imap.clone()),
        addr(config.listeners.imaps).or(args.imaps.clone()),
    );
    let readers = Readers {
        pop3: pop3.as_deref(),
        pop3s: pop3s.as_deref(),
        imap: imap.as_deref(),
        imaps: imaps.as_deref(),
        web: None,
        hostname: if config.hostname.is_empty() {
            HOSTNAME
        } else {
            &config.hostname
        },
        maildir: config.mailboxes.clone(),
        allow_plaintext: args.allow_plaintext_auth,
        max_connections: config.limits.max_connections,
        per_user: Some(open),
        limiter: limit,
    };
    let _readers = readers
        .start(&Arc::new(crate::users::Users::new()), tls.as_ref())
        .map_err(Failure::usage)?;
    // The listeners run on their own threads until the process ends.
    let _running = running;
    loop {
        std::thread::park();
    }
}

/// Keeps the queue-depth gauges current.
fn watch_queue(spool: Arc<dyn Spool>, metrics: mail_metrics::MailMetrics) {
    let _ = std::thread::Builder::new()
        .name("queue-depth".into())
        .spawn(move || loop {
            if let Ok(stats) = spool.stats() {
                for (state, n) in mail_spool::spool::RecipientState::ALL
                    .iter()
                    .zip(stats.recipients)
                {
                    metrics.set_queue_depth(state.name(), n);
                }
            }
            std::thread::sleep(Duration::from_secs(5));
        });
}
