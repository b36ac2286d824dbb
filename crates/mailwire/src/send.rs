//! `mailwire send`: build a message from flags and deliver it.

use crate::maildir::Maildir;
use crate::serve::{sink_config, MaildirSink, DEFAULT_MAX_SIZE};
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::{ArgGroup, Args, ValueEnum};
use mime_codec::{Attachment, MessageBuilder, OutgoingMessage};
use smtp_blocking::{Client, Error, Server, TlsSettings};
use smtp_proto::sasl::ClientCredentials;
use smtp_proto::{
    Body, ClientConfig, ClientError, Envelope, Host, Mailbox, Recipient, Secret, TlsPolicy,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The embedded sink's Maildir, relative to the working directory.
const LOCAL_MAILDIR: &str = "./mailwire-mail";

/// How the connection to the server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Security {
    /// Implicit TLS from the first byte (port 465).
    Tls,
    /// Plaintext, then STARTTLS, which must succeed (port 587).
    Starttls,
    /// No encryption at all (port 25; local tests).
    None,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("body").required(true).args(["text", "text_file"])))]
pub(crate) struct SendArgs {
    /// The sender: `addr@example.com` or `Name <addr@example.com>`.
    #[arg(long)]
    from: String,
    /// A recipient (repeatable).
    #[arg(long, required = true)]
    to: Vec<String>,
    /// A copy recipient (repeatable).
    #[arg(long)]
    cc: Vec<String>,
    /// A blind copy recipient (repeatable; not shown in the headers).
    #[arg(long)]
    bcc: Vec<String>,
    /// The subject.
    #[arg(long, default_value = "")]
    subject: String,
    /// The plain-text body.
    #[arg(long)]
    text: Option<String>,
    /// A file holding the plain-text body (UTF-8).
    #[arg(long)]
    text_file: Option<PathBuf>,
    /// An HTML body, sent as an alternative to the text.
    #[arg(long)]
    html: Option<String>,
    /// A file to attach (repeatable).
    #[arg(long)]
    attach: Vec<PathBuf>,
    /// An extra header, `Name: value` (repeatable).
    #[arg(long)]
    header: Vec<String>,
    /// Print the envelope and the message; connect nowhere.
    #[arg(long)]
    dry_run: bool,
    /// The server, `host` or `host:port`; without it the message goes to the
    /// embedded local sink and is stored in ./mailwire-mail.
    #[arg(long)]
    server: Option<String>,
    /// How to secure the connection to --server.
    #[arg(long, value_enum, default_value_t = Security::Starttls)]
    security: Security,
    /// The user to authenticate as; the password is read from the
    /// MAILWIRE_PASSWORD environment variable.
    #[arg(long)]
    user: Option<String>,
}

/// Parses `addr` or `Name <addr>`.
fn header_mailbox(s: &str) -> Result<mime_codec::Mailbox, Failure> {
    let s = s.trim();
    let parsed = match (s.rfind('<'), s.ends_with('>')) {
        (Some(open), true) => {
            let name = s[..open].trim().trim_matches('"');
            let addr = &s[open + 1..s.len() - 1];
            if name.is_empty() {
                mime_codec::Mailbox::address_only(addr)
            } else {
                mime_codec::Mailbox::new(name, addr)
            }
        }
        _ => mime_codec::Mailbox::address_only(s),
    };
    parsed.map_err(|e| Failure::usage(anyhow!("bad address {s:?}: {e}")))
}

fn smtp_mailbox(s: &str) -> Result<Mailbox, Failure> {
    Mailbox::parse(s)
        .or_else(|_| Mailbox::parse_utf8(s))
        .map_err(|e| Failure::usage(anyhow!("bad envelope address {s:?}: {e}")))
}

/// 16 bytes for the Message-ID from the clock and the process id.
fn entropy() -> [u8; 16] {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&now.as_secs().to_be_bytes());
    bytes[8..12].copy_from_slice(&now.subsec_nanos().to_be_bytes());
    bytes[12..].copy_from_slice(&std::process::id().to_be_bytes());
    bytes
}

fn build(args: &SendArgs) -> Result<OutgoingMessage, Failure> {
    let mut builder = MessageBuilder::new()
        .from(header_mailbox(&args.from)?)
        .subject(args.subject.clone());
    for to in &args.to {
        builder = builder.to(header_mailbox(to)?);
    }
    for cc in &args.cc {
        builder = builder.cc(header_mailbox(cc)?);
    }
    for bcc in &args.bcc {
        builder = builder.bcc(header_mailbox(bcc)?);
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    if let Some(date) = mime_codec::DateTime::from_unix(secs, 0) {
        builder = builder.date(date);
    }
    builder = builder.entropy(entropy());
    let text = match (&args.text, &args.text_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(Failure::usage)?,
        (None, None) => return Err(Failure::usage(anyhow!("give --text or --text-file"))),
    };
    builder = builder.text_body(text);
    if let Some(html) = &args.html {
        builder = builder.html_body(html.clone());
    }
    for path in &args.attach {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the attachment {}", path.display()))
            .map_err(Failure::usage)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "attachment".to_owned());
        builder = builder.attach(Attachment::new(name, bytes));
    }
    for header in &args.header {
        let Some((name, value)) = header.split_once(':') else {
            return Err(Failure::usage(anyhow!(
                "--header {header:?} is not `Name: value`"
            )));
        };
        builder = builder.header(name.trim(), value.trim());
    }
    builder
        .build()
        .map_err(|e| Failure::usage(anyhow!("cannot build the message: {e}")))
}

fn smtp_envelope(message: &OutgoingMessage) -> Result<Envelope, Failure> {
    let source = message.envelope();
    let mut envelope = Envelope::new(smtp_mailbox(&source.reverse_path)?.into());
    for rcpt in &source.recipients {
        envelope = envelope.with_recipient(Recipient::new(smtp_mailbox(rcpt)?));
    }
    if let Some(size) = message.size() {
        envelope = envelope.with_size(size);
    }
    if message.needs_8bitmime() {
        envelope = envelope.with_body(Body::EightBitMime);
    }
    Ok(envelope)
}

pub(crate) fn run(args: SendArgs) -> Result<(), Failure> {
    let message = build(&args)?;
    let envelope = smtp_envelope(&message)?;
    let shown = message.envelope().clone();
    let bytes = message.to_vec();
    if args.dry_run {
        println!("MAIL FROM:<{}>", shown.reverse_path);
        for rcpt in &shown.recipients {
            println!("RCPT TO:<{rcpt}>");
        }
        println!();
        let text = String::from_utf8_lossy(&bytes);
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
        return Ok(());
    }
    match &args.server {
        Some(server) => send_remote(&args, server, &envelope, &bytes),
        None => send_local(&envelope, &bytes),
    }
}

fn client_config() -> Result<ClientConfig, Failure> {
    let helo = Host::parse("localhost").map_err(|e| Failure::other(anyhow!("{e}")))?;
    Ok(ClientConfig::new(helo))
}

/// Splits `host[:port]`, with the port defaulting from the security mode.
fn host_port(server: &str, security: Security) -> Result<(String, u16), Failure> {
    let default = match security {
        Security::Tls => 465,
        Security::Starttls => 587,
        Security::None => 25,
    };
    // A bracketed IPv6 literal, `[::1]:25`.
    if let Some(rest) = server.strip_prefix('[') {
        let (host, tail) = rest
            .split_once(']')
            .ok_or_else(|| Failure::usage(anyhow!("bad --server {server:?}")))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => parse_port(p, server)?,
            None if tail.is_empty() => default,
            None => return Err(Failure::usage(anyhow!("bad --server {server:?}"))),
        };
        return Ok((host.to_owned(), port));
    }
    match server.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_owned(), parse_port(port, server)?))
        }
        _ => Ok((server.to_owned(), default)),
    }
}

fn parse_port(port: &str, server: &str) -> Result<u16, Failure> {
    port.parse()
        .map_err(|_| Failure::usage(anyhow!("bad port in --server {server:?}")))
}

fn send_remote(
    args: &SendArgs,
    server: &str,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<(), Failure> {
    let (host, port) = host_port(server, args.security)?;
    let mut config = client_config()?;
    if let Some(user) = &args.user {
        let password = std::env::var("MAILWIRE_PASSWORD").map_err(|_| {
            Failure::usage(anyhow!(
                "--user needs the password in the MAILWIRE_PASSWORD environment variable"
            ))
        })?;
        config = config.with_credentials(ClientCredentials::Password {
            username: user.clone(),
            password: Secret::new(password),
        });
    }
    let connected = match args.security {
        Security::None => Client::connect(
            (host.as_str(), port),
            config.with_tls(TlsPolicy::None),
            CONNECT_TIMEOUT,
        ),
        Security::Starttls => Client::connect_tls(
            &host,
            port,
            config.with_tls(TlsPolicy::Required),
            &TlsSettings::new(),
            CONNECT_TIMEOUT,
        ),
        Security::Tls => Client::connect_tls(
            &host,
            port,
            config.with_tls(TlsPolicy::Implicit),
            &TlsSettings::new(),
            CONNECT_TIMEOUT,
        ),
    };
    let mut client = connected
        .with_context(|| format!("connecting to {host}:{port}"))
        .map_err(Failure::connect)?;
    let report = deliver(&mut client, envelope, bytes)?;
    println!(
        "delivered to {host}:{port}{}",
        report
            .map(|id| format!(", queued as {id}"))
            .unwrap_or_default()
    );
    Ok(())
}

/// Sends one message and quits; returns the server's queue id.
fn deliver(
    client: &mut Client,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<Option<String>, Failure> {
    let report = client.send(envelope, bytes).map_err(|e| match e {
        // Refused by the server, or refused before sending because the
        // server announced it would not take it (SIZE, a missing extension).
        Error::Rejected { .. } => Failure::rejected(anyhow!(e)),
        Error::Session { ref error, .. }
            if matches!(
                **error,
                ClientError::MessageTooBig { .. }
                    | ClientError::ExtensionMissing(_)
                    | ClientError::Rejected { .. }
            ) =>
        {
            Failure::rejected(anyhow!(e))
        }
        other => Failure::other(anyhow!(other)),
    })?;
    let refused = envelope.recipients.len() - report.accepted().count();
    if refused > 0 {
        eprintln!("mailwire: {refused} recipient(s) refused");
    }
    Ok(report.queue_id)
}

fn send_local(envelope: &Envelope, bytes: &[u8]) -> Result<(), Failure> {
    let root = Path::new(LOCAL_MAILDIR);
    let maildir = Maildir::create(root).map_err(Failure::other)?;
    let server = Server::bind(
        "127.0.0.1:0",
        sink_config(DEFAULT_MAX_SIZE),
        MaildirSink::new(Some(maildir), false),
    )
    .context("starting the embedded sink")
    .map_err(Failure::connect)?;
    let server = server
        .spawn()
        .context("starting the embedded sink")
        .map_err(Failure::connect)?;
    let addr = server.local_addr();
    let result = Client::connect(
        addr,
        client_config()?.with_tls(TlsPolicy::None),
        CONNECT_TIMEOUT,
    )
    .context("connecting to the embedded sink")
    .map_err(Failure::connect)
    .and_then(|mut client| {
        let id = deliver(&mut client, envelope, bytes)?;
        let _ = client.quit();
        Ok(id)
    });
    server.shutdown(Duration::from_secs(1));
    let id = result?.ok_or_else(|| Failure::other(anyhow!("the sink gave no queue id")))?;
    println!("{}", root.join("new").join(id).display());
    Ok(())
}
