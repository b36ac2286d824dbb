//! `mailwire serve`: an SMTP sink that stores each message in a Maildir;
//! with `--config` or `--domain` (see [`server`]), a mail server.
//!
//! One process serves the `--listen` address (plain SMTP, with STARTTLS
//! when a certificate is given) and, with `--tls-listen`, an implicit-TLS
//! address, both into the same Maildir. With accounts configured, AUTH is
//! offered and required.

use crate::maildir::Maildir;
use crate::serve_readers::Readers;
use crate::serve_tls::{default_cert_path, SelfSigned};
use crate::sink::{sink_config, MaildirSink, DEFAULT_MAX_SIZE, HOSTNAME};
use crate::users::{Users, USERS_ENV};
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::Args;
use mail_accounts::{AuthLimiter, AuthLimits};
use smtp_blocking::{Limits, Server, ServerTls};
use smtp_proto::{BareLineEndingPolicy, Mechanism};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod server;

/// Where the sink listens unless told otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:2525";
/// Where the sink stores unless told otherwise.
const DEFAULT_MAILDIR: &str = "./mailwire-mail";
/// Connections at once, in all and from one address, unless told otherwise.
const DEFAULT_MAX_CONNECTIONS: u32 = 64;
const DEFAULT_MAX_CONNECTIONS_PER_IP: u32 = 16;
/// Seconds for a command line, and for a whole connection.
const DEFAULT_COMMAND_TIMEOUT: u64 = 60;
const DEFAULT_SESSION_LIFETIME: u64 = 3600;

/// How long a user or address that used up its AUTH failures stays refused.
const AUTH_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (loopback only unless you say otherwise): plain
    /// SMTP, with STARTTLS when a certificate is given. Port 0 picks a free
    /// port (printed at start). [default: 127.0.0.1:2525; as a mail server,
    /// the port-25 listener of the file]
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Also listen on this address with implicit TLS (port 465 style).
    /// Needs --tls-cert/--tls-key or --self-signed.
    #[arg(long, value_name = "ADDR")]
    tls_listen: Option<String>,
    /// The certificate chain (PEM, leaf first) for STARTTLS and --tls-listen.
    /// Replaced files are taken up without a restart.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Generate a certificate at start (for localhost, 127.0.0.1, ::1 and
    /// this machine's name) and write it where clients can trust it.
    #[arg(long)]
    self_signed: bool,
    /// Where --self-signed writes its certificate (PEM) [default:
    /// mailwire-self-signed.pem beside the Maildir].
    #[arg(long, value_name = "FILE", requires = "self_signed")]
    tls_cert_out: Option<PathBuf>,
    /// Accounts for AUTH: one `address:argon2-hash[:quota]` per line, as
    /// `mailwire user add` writes them; `#` starts a comment. AUTH PLAIN and
    /// LOGIN are then offered (CRAM-MD5 needs plain passwords). More may
    /// come from the MAILWIRE_SERVE_USERS environment variable
    /// (`user:pass,user2:pass2`, kept in memory, CRAM-MD5 too when there is
    /// no users file). With accounts, AUTH is offered and required.
    #[arg(long, value_name = "FILE")]
    users_file: Option<PathBuf>,
    /// With accounts configured, also accept mail from clients that do not
    /// authenticate.
    #[arg(long)]
    auth_optional: bool,
    /// Offer AUTH PLAIN and LOGIN before TLS too (the password then crosses
    /// the network readable by anyone on the path).
    #[arg(long)]
    allow_plaintext_auth: bool,
    /// The Maildir to store messages in (created when missing) [default:
    /// ./mailwire-mail]. Not for the mail server, which stores per user
    /// (--mailboxes).
    #[arg(long, value_name = "DIR")]
    maildir: Option<PathBuf>,
    /// Largest message accepted, in bytes [default: 26214400].
    #[arg(long, value_name = "BYTES")]
    max_size: Option<u64>,
    /// Accept every message and store none.
    #[arg(long)]
    discard: bool,
    /// What to do with a bare CR or LF (not part of CRLF) inside a message:
    /// refuse the message (the default, and what defeats SMTP smuggling),
    /// turn it into CRLF, or keep it. None of them ever ends the message:
    /// only CR LF "." CR LF does.
    #[arg(long, value_enum, default_value_t = BareLineEndings::Reject)]
    bare_line_endings: BareLineEndings,
    /// Connections served at once (per listener); more are answered 421
    /// [default: 64].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// Connections served at once from one client address (IPv6: one /64),
    /// so that one client cannot take every slot [default: 16].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_ip: Option<u32>,
    /// Failed AUTH attempts allowed from one client address (IPv6: one
    /// /64), across its connections, before its AUTH is refused until 15
    /// minutes pass without a failure. (Each connection also delays its
    /// failed AUTH replies, 2 s, then 4 s, and closes after 3.)
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    auth_failures_per_ip: u32,
    /// Failed AUTH attempts allowed for one user, from any address, before
    /// AUTH as that user is refused until 15 minutes pass without a failure.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    auth_failures_per_user: u32,
    /// A command line must be complete this many seconds after its first
    /// byte (a client trickling a byte a second is closed); 0: no bound
    /// [default: 60].
    #[arg(long, value_name = "SECS")]
    command_timeout: Option<u64>,
    /// The longest a connection may last, in seconds, whatever it does;
    /// 0: no bound [default: 3600].
    #[arg(long, value_name = "SECS")]
    session_lifetime: Option<u64>,
    /// Also serve the Maildir over POP3 on this address (port 110 style:
    /// STLS offered when there is a certificate), to the same accounts.
    #[arg(long, value_name = "ADDR")]
    pop3: Option<String>,
    /// Also serve the Maildir over POP3 with implicit TLS (port 995 style).
    /// Needs --tls-cert/--tls-key or --self-signed.
    #[arg(long, value_name = "ADDR")]
    pop3s: Option<String>,
    /// Also serve the Maildir over IMAP on this address (port 143 style:
    /// STARTTLS offered when there is a certificate), to the same accounts.
    #[arg(long, value_name = "ADDR")]
    imap: Option<String>,
    /// Also serve the Maildir over IMAP with implicit TLS (port 993 style).
    /// Needs --tls-cert/--tls-key or --self-signed.
    #[arg(long, value_name = "ADDR")]
    imaps: Option<String>,
    /// Also serve a web page and a JSON API (under /api/) that list, show,
    /// search and delete the stored messages, e.g. 127.0.0.1:8025. No login:
    /// keep it on a loopback address.
    #[arg(long, value_name = "ADDR")]
    web: Option<String>,
    #[command(flatten)]
    check_auth: crate::check_auth::CheckAuthArgs,
    #[command(flatten)]
    server: server::ServerArgs,
}

impl ServeArgs {
    fn listen(&self) -> &str {
        self.listen.as_deref().unwrap_or(DEFAULT_LISTEN)
    }

    fn maildir(&self) -> PathBuf {
        self.maildir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MAILDIR))
    }
}

/// `--bare-line-endings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BareLineEndings {
    /// Refuse the message with 554 5.6.0.
    Reject,
    /// Store CRLF in its place.
    Crlf,
    /// Store it as it came.
    Keep,
}

impl BareLineEndings {
    fn policy(self) -> BareLineEndingPolicy {
        match self {
            BareLineEndings::Reject => BareLineEndingPolicy::Reject,
            BareLineEndings::Crlf => BareLineEndingPolicy::ConvertToCrlf,
            BareLineEndings::Keep => BareLineEndingPolicy::Keep,
        }
    }
}

/// The accounts from `--users-file` and the environment.
fn load_users(args: &ServeArgs) -> Result<Users, Failure> {
    let mut users = Users::new();
    if let Some(path) = &args.users_file {
        users.add_file(path).map_err(Failure::usage)?;
    }
    match std::env::var(USERS_ENV) {
        Ok(list) => users.add_env_list(&list).map_err(Failure::usage)?,
        Err(std::env::VarError::NotPresent) => {}
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Failure::usage(anyhow!("{USERS_ENV} is not valid UTF-8")));
        }
    }
    if users.is_empty() && (args.auth_optional || args.allow_plaintext_auth) {
        return Err(Failure::usage(anyhow!(
            "--auth-optional and --allow-plaintext-auth need accounts (--users-file or {USERS_ENV})"
        )));
    }
    Ok(users)
}

/// The certificate from the flags, if any; a self-signed one is generated
/// and its certificate written out.
fn load_tls(args: &ServeArgs, listen: &[SocketAddr]) -> Result<Option<ServerTls>, Failure> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let tls = crate::serve_tls::reloading(cert, key)
            .context("loading --tls-cert and --tls-key")
            .map_err(Failure::usage)?;
        return Ok(Some(tls));
    }
    if !args.self_signed {
        return Ok(None);
    }
    let generated = SelfSigned::generate(HOSTNAME, listen).map_err(Failure::other)?;
    let path = args
        .tls_cert_out
        .clone()
        .unwrap_or_else(|| default_cert_path(&args.maildir()));
    generated.write_cert(&path).map_err(Failure::other)?;
    out!(
        "self-signed certificate for {} written to {} (clients can trust it as a CA file)",
        generated.names.join(", "),
        path.display()
    );
    Ok(Some(generated.server_tls()))
}

fn resolve(addr: &str, flag: &str) -> Result<Vec<SocketAddr>, Failure> {
    addr.to_socket_addrs()
        .with_context(|| format!("{flag} {addr} is not an address"))
        .map(Iterator::collect)
        .map_err(Failure::usage)
}

pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    if args.server.wanted() {
        return server::run(args);
    }
    let mut addrs = resolve(args.listen(), "--listen")?;
    let tls_addrs = match &args.tls_listen {
        Some(addr) => resolve(addr, "--tls-listen")?,
        None => Vec::new(),
    };
    addrs.extend(tls_addrs.iter().copied());
    if args.tls_listen.is_some() && args.tls_cert.is_none() && !args.self_signed {
        return Err(Failure::usage(anyhow!(
            "--tls-listen needs a certificate: --tls-cert and --tls-key, or --self-signed"
        )));
    }
    let users = load_users(&args)?;
    let tls = load_tls(&args, &addrs)?;
    if users.has_hashed() && tls.is_none() && !args.allow_plaintext_auth {
        return Err(Failure::usage(anyhow!(
            "the accounts of --users-file log in with AUTH PLAIN or LOGIN, which need TLS: add \
             --self-signed or --tls-cert/--tls-key (or --allow-plaintext-auth on a trusted network)"
        )));
    }
    let maildir = if args.discard {
        None
    } else {
        Some(Maildir::create(&args.maildir()).map_err(Failure::other)?)
    };

    let mut config = sink_config(args.max_size.unwrap_or(DEFAULT_MAX_SIZE))
        .with_bare_line_endings(args.bare_line_endings.policy());
    config.command_timeout = seconds(args.command_timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT));
    config.session_lifetime = seconds(args.session_lifetime.unwrap_or(DEFAULT_SESSION_LIFETIME));
    if !users.is_empty() {
        // CRAM-MD5 needs the plain password, which a users file never holds.
        let mut mechanisms = vec![Mechanism::Plain, Mechanism::Login];
        if !users.has_hashed() {
            mechanisms.push(Mechanism::CramMd5);
        }
        config = config
            .with_auth(mechanisms)
            .with_require_auth(!args.auth_optional)
            .with_plaintext_auth(args.allow_plaintext_auth);
    }
    let auth_note = auth_summary(&users, &args, tls.is_some());
    let users = Arc::new(users);
    // One limiter for SMTP AUTH, POP3 and IMAP logins.
    let limiter = Arc::new(std::sync::Mutex::new(AuthLimiter::new(AuthLimits {
        failures_per_user: args.auth_failures_per_user,
        failures_per_ip: args.auth_failures_per_ip,
        window: AUTH_WINDOW,
        ..AuthLimits::default()
    })));
    let readers = Readers {
        pop3: args.pop3.as_deref(),
        pop3s: args.pop3s.as_deref(),
        imap: args.imap.as_deref(),
        imaps: args.imaps.as_deref(),
        web: args.web.as_deref(),
        hostname: HOSTNAME,
        maildir: args.maildir(),
        allow_plaintext: args.allow_plaintext_auth,
        max_connections: args.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS) as usize,
        per_user: None,
        limiter: crate::serve_readers::LoginLimit::plain(Arc::clone(&limiter)),
    };
    if args.discard && readers.any() {
        return Err(Failure::usage(anyhow!(
            "--pop3, --imap and --web read the Maildir, which --discard does not write"
        )));
    }
    let sink = args.check_auth.wrap(
        MaildirSink::new(maildir, true)
            .with_users(Arc::clone(&users))
            .with_limiter(limiter),
        HOSTNAME,
    )?;
    let mut limits = Limits::default();
    limits.max_connections = args.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS) as usize;
    limits.max_connections_per_ip = args
        .max_connections_per_ip
        .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_IP) as usize;

    let main = match &tls {
        Some(tls) => Server::bind_tls(
            args.listen(),
            config.clone().with_starttls(true),
            tls.clone(),
            sink.clone(),
        ),
        None => Server::bind(args.listen(), config.clone(), sink.clone()),
    }
    .with_context(|| format!("listening on {}", args.listen()))
    .map_err(Failure::connect)?
    .with_limits(limits);
    let implicit = match (&args.tls_listen, &tls) {
        (Some(addr), Some(tls)) => Some(
            Server::bind_tls(addr.as_str(), config, tls.clone().implicit(), sink.clone())
                .with_context(|| format!("listening on {addr}"))
                .map_err(Failure::connect)?
                .with_limits(limits),
        ),
        _ => None,
    };

    let target = if args.discard {
        "discarding messages".to_owned()
    } else {
        format!("storing into {}", args.maildir().display())
    };
    if let Some(note) = auth_note {
        out!("{note}");
    }
    let mode = if tls.is_some() {
        "SMTP, STARTTLS offered"
    } else {
        "SMTP"
    };
    out!("listening on {} ({mode}), {target}", main.local_addr());
    // Kept alive until the main listener ends; dropping it stops the
    // implicit-TLS listener.
    let _implicit_handle = match implicit {
        Some(server) => {
            let addr = server.local_addr();
            let handle = server
                .spawn()
                .context("starting the implicit-TLS listener")
                .map_err(Failure::other)?;
            out!("listening on {addr} (implicit TLS), {target}");
            Some(handle)
        }
        None => None,
    };
    // Kept alive while the main listener runs, like the one above.
    let _readers = readers
        .start(&users, tls.as_ref())
        .map_err(Failure::usage)?;
    main.run().context("serving").map_err(Failure::other)
}

/// A bound in seconds; 0 for none.
fn seconds(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// One line on what AUTH asks of clients, or none without accounts.
fn auth_summary(users: &Users, args: &ServeArgs, tls: bool) -> Option<String> {
    if users.is_empty() {
        return None;
    }
    let need = if args.auth_optional {
        "optional"
    } else {
        "required"
    };
    let when = match (users.has_hashed(), args.allow_plaintext_auth, tls) {
        (true, true, _) => "PLAIN and LOGIN offered, also without TLS",
        (true, false, _) => "PLAIN and LOGIN offered after STARTTLS or on --tls-listen",
        (false, true, _) => "PLAIN, LOGIN and CRAM-MD5 offered, also without TLS",
        (false, false, true) => {
            "CRAM-MD5 offered; PLAIN and LOGIN only after STARTTLS or on --tls-listen"
        }
        (false, false, false) => {
            "CRAM-MD5 only: PLAIN and LOGIN need TLS (add --self-signed or --tls-cert) or --allow-plaintext-auth"
        }
    };
    Some(format!(
        "AUTH {need} for {} account(s): {when}",
        users.len()
    ))
}
