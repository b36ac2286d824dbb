//! `mailwire serve`: an SMTP sink that stores each message in a Maildir.
//!
//! One process serves the `--listen` address (plain SMTP, with STARTTLS
//! when a certificate is given) and, with `--tls-listen`, an implicit-TLS
//! address, both into the same Maildir. With accounts configured, AUTH is
//! offered and required.

use crate::maildir::{Delivery, Maildir};
use crate::serve_pop3::Pop3Listeners;
use crate::serve_tls::{default_cert_path, SelfSigned};
use crate::users::{Users, USERS_ENV};
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::Args;
use smtp_blocking::{
    AuthThrottle, Connection, Decision, Handler, Limits, Server, ServerTls, Sink, Transaction,
};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::{
    BareLineEndingPolicy, EnhancedStatus, Host, Mechanism, Reply, ReplyCode, ServerConfig,
};
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The default limit on a message's size: 25 MiB.
pub(crate) const DEFAULT_MAX_SIZE: u64 = 25 * 1024 * 1024;

/// How long an address that used up its AUTH failures stays refused.
const AUTH_WINDOW: Duration = Duration::from_secs(15 * 60);

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
    /// Connections served at once (per listener); more are answered 421.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Connections served at once from one client address (IPv6: one /64),
    /// so that one client cannot take every slot.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_ip: u32,
    /// Failed AUTH attempts allowed from one client address, across its
    /// connections, before its AUTH is refused until 15 minutes pass without
    /// a failure. (Each connection also delays its failed AUTH replies,
    /// 2 s, then 4 s, and closes after 3.)
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    auth_failures_per_ip: u32,
    /// A command line must be complete this many seconds after its first
    /// byte (a client trickling a byte a second is closed); 0: no bound.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    command_timeout: u64,
    /// The longest a connection may last, in seconds, whatever it does;
    /// 0: no bound.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    session_lifetime: u64,
    /// Also serve the Maildir over POP3 on this address (port 110 style:
    /// STLS offered when there is a certificate), to the same accounts.
    #[arg(long, value_name = "ADDR")]
    pop3: Option<String>,
    /// Also serve the Maildir over POP3 with implicit TLS (port 995 style).
    /// Needs --tls-cert/--tls-key or --self-signed.
    #[arg(long, value_name = "ADDR")]
    pop3s: Option<String>,
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

/// Stores each message in a Maildir (or discards it), streamed as it
/// arrives; logs one line per message; checks AUTH against the configured
/// accounts, with failures throttled per client address.
#[derive(Debug, Clone)]
pub(crate) struct MaildirSink {
    maildir: Option<Arc<Maildir>>,
    log: bool,
    users: Arc<Users>,
    throttle: Arc<Mutex<AuthThrottle>>,
    /// The user name of each connection's refused AUTH, until the failure
    /// it causes is logged (at once: the session reports it right after).
    refused_users: Arc<Mutex<HashMap<SocketAddr, String>>>,
}

impl MaildirSink {
    /// A sink storing into `maildir` (discarding when `None`); `log` prints
    /// one line per message to stdout.
    pub(crate) fn new(maildir: Option<Maildir>, log: bool) -> MaildirSink {
        MaildirSink {
            maildir: maildir.map(Arc::new),
            log,
            users: Arc::new(Users::new()),
            throttle: Arc::new(Mutex::new(AuthThrottle::default())),
            refused_users: Arc::default(),
        }
    }

    /// Accepts AUTH from these accounts.
    fn with_users(mut self, users: Arc<Users>) -> MaildirSink {
        self.users = users;
        self
    }

    /// Refuses AUTH from an address after this many failures.
    fn with_auth_throttle(mut self, throttle: AuthThrottle) -> MaildirSink {
        self.throttle = Arc::new(Mutex::new(throttle));
        self
    }

    fn refused_users(&self) -> MutexGuard<'_, HashMap<SocketAddr, String>> {
        self.refused_users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn throttle(&self) -> MutexGuard<'_, AuthThrottle> {
        self.throttle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The client's EHLO name as the `Received:` line may show it: letters,
/// digits, `-`, `.` (and, for an address literal, `[`, `:` and `]`) are
/// kept; anything else, a parenthesis, a bidirectional override (U+202E),
/// a control (U+0085), becomes `?`. Non-ASCII letters are kept only for an
/// SMTPUTF8 message, whose header may carry UTF-8.
fn received_name(host: &Host, smtputf8: bool) -> String {
    sanitize_name(
        &host.to_string(),
        matches!(host, Host::Literal(_)),
        smtputf8,
    )
}

/// [`received_name`] on text: each character kept or replaced by `?`.
fn sanitize_name(name: &str, literal: bool, smtputf8: bool) -> String {
    name.chars()
        .map(|c| {
            let letter = if smtputf8 {
                c.is_alphanumeric()
            } else {
                c.is_ascii_alphanumeric()
            };
            let kept =
                letter || matches!(c, '-' | '.') || (literal && matches!(c, '[' | ']' | ':'));
            if kept {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The `Received:` field for a message of `transaction`; its `with` clause
/// is the session's own protocol name (RFC 3848, RFC 6531).
fn received_line(conn: &Connection, transaction: &Transaction) -> String {
    let smtputf8 = transaction.params.smtputf8;
    let helo = conn
        .helo
        .as_ref()
        .map_or_else(|| "unknown".to_owned(), |h| received_name(h, smtputf8));
    let date = mime_codec::DateTime::from_unix(now_secs(), 0)
        .map(|d| d.to_string())
        .unwrap_or_default();
    format!(
        "Received: from {helo} ([{}])\r\n\tby {HOSTNAME} (mailwire) with {};\r\n\t{date}\r\n",
        conn.peer.ip(),
        transaction.protocol
    )
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn reply(code: ReplyCode, status: (u8, u16, u16), text: &str) -> Reply {
    Reply::new(
        code,
        EnhancedStatus::new(status.0, status.1, status.2),
        [text],
    )
    .unwrap_or_else(|_| Reply::bare(code))
}

/// `451 4.3.0`: the message could not be stored.
fn store_failed() -> Reply {
    reply(
        ReplyCode::LOCAL_ERROR,
        (4, 3, 0),
        "Could not store the message, try again later",
    )
}

/// A value a client chose, for a log line: in double quotes, with `"`, `\`,
/// controls and invisible formatting characters escaped, so that it can
/// neither end its field nor forge another one.
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}') =>
            {
                out.push_str(&c.escape_unicode().to_string());
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The fields every log line of a message carries.
fn message_fields(conn: &Connection, transaction: &Transaction, size: u64) -> String {
    let to: Vec<String> = transaction
        .recipients
        .iter()
        .map(ToString::to_string)
        .collect();
    let user = conn
        .authenticated
        .as_deref()
        .map_or_else(String::new, |u| format!(" user={}", quote(u)));
    format!(
        "from={} to={} size={size}{user} client={}",
        quote(&transaction.from.to_string()),
        quote(&to.join(",")),
        conn.peer.ip()
    )
}

/// One message on its way into the Maildir (or to nowhere, discarding).
#[derive(Debug)]
pub(crate) struct Storing {
    delivery: Option<Delivery>,
    size: u64,
    /// What the log line says, when one is written.
    log: Option<(Connection, Transaction)>,
}

impl Sink for Storing {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Reply> {
        self.size += chunk.len() as u64;
        let Some(delivery) = &mut self.delivery else {
            return Ok(());
        };
        delivery.write(chunk).map_err(|error| {
            eprintln!("mailwire: storing a message failed: {error:#}");
            store_failed()
        })
    }

    fn finish(self) -> Decision {
        let fields = |log: &Option<(Connection, Transaction)>| {
            log.as_ref()
                .map(|(conn, tx)| message_fields(conn, tx, self.size))
        };
        let Some(delivery) = self.delivery else {
            if let Some(fields) = fields(&self.log) {
                println!("discarded {fields}");
            }
            return Decision::Accept;
        };
        match delivery.commit() {
            Ok(name) => {
                if let Some(fields) = fields(&self.log) {
                    println!("stored {name} {fields}");
                }
                Decision::AcceptWith(reply(
                    ReplyCode::OK,
                    (2, 0, 0),
                    &format!("Ok: queued as {name}"),
                ))
            }
            Err(error) => {
                eprintln!("mailwire: storing a message failed: {error:#}");
                Decision::Reject(store_failed())
            }
        }
    }

    fn abort(self) {
        if let Some(delivery) = self.delivery {
            delivery.abort();
        }
    }
}

impl Handler for MaildirSink {
    type Sink = Storing;

    fn data_start(&self, conn: &Connection, transaction: &Transaction) -> Result<Storing, Reply> {
        let log = self.log.then(|| (conn.clone(), transaction.clone()));
        let Some(maildir) = &self.maildir else {
            return Ok(Storing {
                delivery: None,
                size: 0,
                log,
            });
        };
        let received = received_line(conn, transaction);
        let delivery = maildir
            .begin()
            .and_then(|mut delivery| {
                delivery.write(received.as_bytes())?;
                Ok(delivery)
            })
            .map_err(|error| {
                eprintln!("mailwire: storing a message failed: {error:#}");
                store_failed()
            })?;
        Ok(Storing {
            delivery: Some(delivery),
            size: 0,
            log,
        })
    }

    fn auth(&self, conn: &Connection, request: &AuthRequest) -> Decision {
        if self.throttle().is_blocked(conn.peer.ip(), Instant::now()) {
            // Refused without looking at the credentials.
            return Decision::Reject(reply(
                ReplyCode::new(454).unwrap_or(ReplyCode::LOCAL_ERROR),
                (4, 7, 0),
                "Too many authentication failures, try again later",
            ));
        }
        if !self.users.is_empty() && self.users.check(request) {
            return Decision::Accept;
        }
        // The user name only: a password never reaches a log.
        let mut refused = self.refused_users();
        if refused.len() >= 10_000 {
            refused.clear();
        }
        refused.insert(conn.peer, request.username().to_owned());
        Decision::auth_invalid()
    }

    fn auth_failed(&self, conn: &Connection, _failures: usize) {
        let ip = conn.peer.ip();
        // A cancelled or garbled exchange named no user.
        let user = self.refused_users().remove(&conn.peer).unwrap_or_default();
        // Counted across connections; the session itself delays its reply
        // and closes after a few.
        let Some(failures) = self.throttle().record_failure(ip, Instant::now()) else {
            return;
        };
        eprintln!(
            "mailwire: AUTH failed for user={} client={ip} failures={failures}",
            quote(&user)
        );
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
    config.command_timeout = seconds(args.command_timeout);
    config.session_lifetime = seconds(args.session_lifetime);
    if !users.is_empty() {
        config = config
            .with_auth(vec![Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5])
            .with_require_auth(!args.auth_optional)
            .with_plaintext_auth(args.allow_plaintext_auth);
    }
    let auth_note = auth_summary(&users, &args, tls.is_some());
    let users = Arc::new(users);
    let pop3 = Pop3Listeners {
        plain: args.pop3.as_deref(),
        implicit: args.pop3s.as_deref(),
        hostname: HOSTNAME,
        maildir: args.maildir.clone(),
        allow_plaintext: args.allow_plaintext_auth,
        max_connections: args.max_connections as usize,
    };
    if args.discard && (args.pop3.is_some() || args.pop3s.is_some()) {
        return Err(Failure::usage(anyhow!(
            "--pop3 and --pop3s read the Maildir, which --discard does not write"
        )));
    }
    let sink = MaildirSink::new(maildir, true)
        .with_users(Arc::clone(&users))
        .with_auth_throttle(AuthThrottle::new(args.auth_failures_per_ip, AUTH_WINDOW));
    let mut limits = Limits::default();
    limits.max_connections = args.max_connections as usize;
    limits.max_connections_per_ip = args.max_connections_per_ip as usize;

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
    // Kept alive while the main listener runs, like the one above.
    let _pop3_handles = pop3.start(users, tls.as_ref()).map_err(Failure::usage)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads back a [`quote`]d value; `None` if it is not well formed.
    fn unquote(quoted: &str) -> Option<String> {
        let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return None,
                '\\' => match chars.next()? {
                    'u' => {
                        let rest: String = chars.by_ref().take_while(|&c| c != '}').collect();
                        let hex = rest.strip_prefix('{')?;
                        out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                    }
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn quoting_keeps_a_forged_field_inside_its_value() {
        let from = "<\"x> to=<boss@corp> user=root x\"@evil.example>";
        let quoted = quote(from);
        assert_eq!(
            quoted,
            r#""<\"x> to=<boss@corp> user=root x\"@evil.example>""#
        );
        assert_eq!(quote("a\u{202e}b\nc"), r#""a\u{202e}b\u{a}c""#);
    }

    #[test]
    fn hostile_ehlo_names_are_sanitized_for_received() {
        let literal = Host::parse("[X:)by(trusted.example;]").unwrap();
        assert_eq!(received_name(&literal, false), "[X:?by?trusted.example?]");
        let v6 = Host::parse("[IPv6:2001:db8::1]").unwrap();
        assert_eq!(received_name(&v6, false), "[IPv6:2001:db8::1]");
        let plain = Host::parse("client.example").unwrap();
        assert_eq!(received_name(&plain, false), "client.example");
    }

    proptest! {
        #[test]
        fn quote_round_trips_and_never_leaves_a_bare_quote_or_control(value in any::<String>()) {
            let quoted = quote(&value);
            prop_assert_eq!(unquote(&quoted), Some(value));
            prop_assert!(!quoted.chars().any(char::is_control));
        }

        #[test]
        fn sanitized_names_keep_only_safe_characters_one_for_one(
            name in any::<String>(),
            literal in any::<bool>(),
            smtputf8 in any::<bool>(),
        ) {
            let clean = sanitize_name(&name, literal, smtputf8);
            prop_assert_eq!(clean.chars().count(), name.chars().count());
            for c in clean.chars() {
                let letter = if smtputf8 { c.is_alphanumeric() } else { c.is_ascii_alphanumeric() };
                prop_assert!(letter || "-.?".contains(c) || (literal && "[]:".contains(c)), "{:?}", c);
            }
        }
    }
}
