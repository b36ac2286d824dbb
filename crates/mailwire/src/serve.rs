//! `mailwire serve`: an SMTP sink that stores each message in a Maildir.
//!
//! One process serves the `--listen` address (plain SMTP, with STARTTLS
//! when a certificate is given) and, with `--tls-listen`, an implicit-TLS
//! address, both into the same Maildir. With accounts configured, AUTH is
//! offered and required.

use crate::maildir::Maildir;
use crate::serve_tls::{default_cert_path, SelfSigned};
use crate::users::{Users, USERS_ENV};
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::Args;
use smtp_blocking::{Connection, Decision, Handler, Message, Server, ServerTls};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::{BareLineEndingPolicy, EnhancedStatus, Mechanism, Reply, ReplyCode, ServerConfig};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The default limit on a message's size: 25 MiB.
pub(crate) const DEFAULT_MAX_SIZE: u64 = 25 * 1024 * 1024;

/// The name the sink gives itself in its greeting and `Received:` lines.
const HOSTNAME: &str = "mailwire.localhost";

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (loopback only unless you say otherwise): plain
    /// SMTP, with STARTTLS when a certificate is given. Port 0 picks a free
    /// port (printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2525")]
    listen: String,
    /// Also listen on this address with implicit TLS (port 465 style).
    /// Needs --tls-cert/--tls-key or --self-signed.
    #[arg(long, value_name = "ADDR")]
    tls_listen: Option<String>,
    /// The certificate chain (PEM, leaf first) for STARTTLS and --tls-listen.
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
    /// Accounts for AUTH: one `user:password` per line, `#` starts a
    /// comment. More may come from the MAILWIRE_SERVE_USERS environment
    /// variable (`user:pass,user2:pass2`). With accounts, AUTH is offered
    /// and required.
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
    /// The Maildir to store messages in (created when missing).
    #[arg(long, value_name = "DIR", default_value = "./mailwire-mail")]
    maildir: PathBuf,
    /// Largest message accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_SIZE)]
    max_size: u64,
    /// Accept every message and store none.
    #[arg(long)]
    discard: bool,
    /// What to do with a bare CR or LF (not part of CRLF) inside a message:
    /// refuse the message (the default, and what defeats SMTP smuggling),
    /// turn it into CRLF, or keep it. None of them ever ends the message:
    /// only CR LF "." CR LF does.
    #[arg(long, value_enum, default_value_t = BareLineEndings::Reject)]
    bare_line_endings: BareLineEndings,
    #[command(flatten)]
    check_auth: crate::check_auth::CheckAuthArgs,
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

/// The sink's protocol settings.
pub(crate) fn sink_config(max_size: u64) -> ServerConfig {
    ServerConfig::new(HOSTNAME)
        .with_max_message_size(Some(max_size))
        .with_idle_timeout(Duration::from_secs(300))
}

/// Stores each message in a Maildir (or discards it), logs one line per
/// message, and checks AUTH against the configured accounts.
#[derive(Debug, Clone)]
pub(crate) struct MaildirSink {
    maildir: Option<Arc<Maildir>>,
    log: bool,
    users: Arc<Users>,
}

impl MaildirSink {
    /// A sink storing into `maildir` (discarding when `None`); `log` prints
    /// one line per message to stdout.
    pub(crate) fn new(maildir: Option<Maildir>, log: bool) -> MaildirSink {
        MaildirSink {
            maildir: maildir.map(Arc::new),
            log,
            users: Arc::new(Users::new()),
        }
    }

    /// Accepts AUTH from these accounts.
    fn with_users(mut self, users: Users) -> MaildirSink {
        self.users = Arc::new(users);
        self
    }

    /// RFC 3848's protocol name for the `with` clause: `S` for TLS (implicit
    /// or STARTTLS), `A` for an authenticated client.
    fn protocol(&self, conn: &Connection) -> &'static str {
        match (conn.tls.is_some(), conn.authenticated.is_some()) {
            (false, false) => "ESMTP",
            (false, true) => "ESMTPA",
            (true, false) => "ESMTPS",
            (true, true) => "ESMTPSA",
        }
    }

    fn received_line(&self, conn: &Connection) -> String {
        let helo = conn
            .helo
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), ToString::to_string);
        let date = mime_codec::DateTime::from_unix(now_secs(), 0)
            .map(|d| d.to_string())
            .unwrap_or_default();
        format!(
            "Received: from {helo} ([{}])\r\n\tby {HOSTNAME} (mailwire) with {};\r\n\t{date}\r\n",
            conn.peer.ip(),
            self.protocol(conn)
        )
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn reply(code: ReplyCode, status: (u8, u16, u16), text: String) -> Option<Reply> {
    Reply::new(
        code,
        EnhancedStatus::new(status.0, status.1, status.2),
        [text],
    )
    .ok()
}

/// ` user=NAME` for the log when the client authenticated.
fn user_field(conn: &Connection) -> String {
    conn.authenticated
        .as_deref()
        .map_or_else(String::new, |u| format!(" user={}", u.escape_debug()))
}

impl Handler for MaildirSink {
    fn message(&self, conn: &Connection, message: &Message) -> Decision {
        let recipients: Vec<String> = message.recipients.iter().map(|r| r.to_string()).collect();
        let Some(maildir) = &self.maildir else {
            if self.log {
                println!(
                    "discarded from={} to={} size={}{}",
                    message.from,
                    recipients.join(","),
                    message.bytes.len(),
                    user_field(conn)
                );
            }
            return Decision::Accept;
        };
        match maildir.deliver(self.received_line(conn).as_bytes(), &message.bytes) {
            Ok(name) => {
                if self.log {
                    println!(
                        "stored {name} from={} to={} size={}{}",
                        message.from,
                        recipients.join(","),
                        message.bytes.len(),
                        user_field(conn)
                    );
                }
                match reply(ReplyCode::OK, (2, 0, 0), format!("Ok: queued as {name}")) {
                    Some(r) => Decision::AcceptWith(r),
                    None => Decision::Accept,
                }
            }
            Err(error) => {
                eprintln!("mailwire: storing a message failed: {error:#}");
                match reply(
                    ReplyCode::LOCAL_ERROR,
                    (4, 3, 0),
                    "Could not store the message, try again later".to_owned(),
                ) {
                    Some(r) => Decision::Reject(r),
                    None => Decision::Accept,
                }
            }
        }
    }

    fn auth(&self, conn: &Connection, request: &AuthRequest) -> Decision {
        if !self.users.is_empty() && self.users.check(request) {
            return Decision::Accept;
        }
        // The user name only: a password never reaches a log.
        eprintln!(
            "mailwire: AUTH {} failed for user {:?} from {}",
            request.mechanism().as_str(),
            request.username(),
            conn.peer.ip()
        );
        match reply(
            ReplyCode::AUTH_INVALID,
            (5, 7, 8),
            "Authentication credentials invalid".to_owned(),
        ) {
            Some(r) => Decision::Reject(r),
            None => Decision::Accept,
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
        let tls = ServerTls::from_pem_files(cert, key)
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
        .unwrap_or_else(|| default_cert_path(&args.maildir));
    generated.write_cert(&path).map_err(Failure::other)?;
    println!(
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
    let mut addrs = resolve(&args.listen, "--listen")?;
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
    let maildir = if args.discard {
        None
    } else {
        Some(Maildir::create(&args.maildir).map_err(Failure::other)?)
    };

    let mut config =
        sink_config(args.max_size).with_bare_line_endings(args.bare_line_endings.policy());
    if !users.is_empty() {
        config = config
            .with_auth(vec![Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5])
            .with_require_auth(!args.auth_optional)
            .with_plaintext_auth(args.allow_plaintext_auth);
    }
    let auth_note = auth_summary(&users, &args, tls.is_some());
    let sink = args
        .check_auth
        .wrap(MaildirSink::new(maildir, true).with_users(users), HOSTNAME)?;

    let main = match &tls {
        Some(tls) => Server::bind_tls(
            args.listen.as_str(),
            config.clone().with_starttls(true),
            tls.clone(),
            sink.clone(),
        ),
        None => Server::bind(args.listen.as_str(), config.clone(), sink.clone()),
    }
    .with_context(|| format!("listening on {}", args.listen))
    .map_err(Failure::connect)?;
    let implicit = match (&args.tls_listen, &tls) {
        (Some(addr), Some(tls)) => Some(
            Server::bind_tls(addr.as_str(), config, tls.clone().implicit(), sink.clone())
                .with_context(|| format!("listening on {addr}"))
                .map_err(Failure::connect)?,
        ),
        _ => None,
    };

    let target = if args.discard {
        "discarding messages".to_owned()
    } else {
        format!("storing into {}", args.maildir.display())
    };
    if let Some(note) = auth_note {
        println!("{note}");
    }
    let mode = if tls.is_some() {
        "SMTP, STARTTLS offered"
    } else {
        "SMTP"
    };
    println!("listening on {} ({mode}), {target}", main.local_addr());
    // Kept alive until the main listener ends; dropping it stops the
    // implicit-TLS listener.
    let _implicit_handle = match implicit {
        Some(server) => {
            let addr = server.local_addr();
            let handle = server
                .spawn()
                .context("starting the implicit-TLS listener")
                .map_err(Failure::other)?;
            println!("listening on {addr} (implicit TLS), {target}");
            Some(handle)
        }
        None => None,
    };
    main.run().context("serving").map_err(Failure::other)
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
    let when = match (args.allow_plaintext_auth, tls) {
        (true, _) => "PLAIN, LOGIN and CRAM-MD5 offered, also without TLS",
        (false, true) => "CRAM-MD5 offered; PLAIN and LOGIN only after STARTTLS or on --tls-listen",
        (false, false) => {
            "CRAM-MD5 only: PLAIN and LOGIN need TLS (add --self-signed or --tls-cert) or --allow-plaintext-auth"
        }
    };
    Some(format!(
        "AUTH {need} for {} account(s): {when}",
        users.len()
    ))
}
