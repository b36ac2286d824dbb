//! `mailwire send`: build a message from flags and deliver it (to a server,
//! a provider preset, or the embedded local sink).

use crate::connect::{self, ConnectArgs, Security, Target};
use crate::maildir::Maildir;
use crate::serve::{sink_config, MaildirSink, DEFAULT_MAX_SIZE};
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::{ArgGroup, Args};
use mime_codec::{Attachment, MessageBuilder, OutgoingMessage};
use smtp_blocking::{Client, Server, TlsSettings};
use smtp_proto::{Body, Envelope, Mailbox, Recipient, RecipientStatus};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The embedded sink's Maildir, relative to the working directory.
const LOCAL_MAILDIR: &str = "./mailwire-mail";

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("body").required(true).multiple(true).args(["text", "text_file", "html", "html_file"])))]
#[command(group(ArgGroup::new("html_body").args(["html", "html_file"])))]
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
    #[arg(long, conflicts_with = "text_file")]
    text: Option<String>,
    /// A file holding the plain-text body (UTF-8).
    #[arg(long, value_name = "FILE")]
    text_file: Option<PathBuf>,
    /// An HTML body (an alternative to the text when both are given).
    #[arg(long, conflicts_with = "html_file")]
    html: Option<String>,
    /// A file holding the HTML body (UTF-8).
    #[arg(long, value_name = "FILE")]
    html_file: Option<PathBuf>,
    /// A file to attach (repeatable).
    #[arg(long, value_name = "FILE")]
    attach: Vec<PathBuf>,
    /// An image (or other part) shown inside the HTML body, which refers to
    /// it as `cid:FILENAME` (repeatable).
    #[arg(long, value_name = "FILE", requires = "html_body")]
    inline: Vec<PathBuf>,
    /// An extra header, `Name: value` (repeatable).
    #[arg(long)]
    header: Vec<String>,
    /// Print the envelope and the message; connect nowhere.
    #[arg(long)]
    dry_run: bool,
    /// Show the SMTP dialogue on stderr (AUTH redacted, the body summarised).
    #[arg(long)]
    transcript: bool,
    /// The server, `host` or `host:port`; without it (and without
    /// --provider) the message goes to the embedded local sink and is
    /// stored in ./mailwire-mail.
    #[arg(long)]
    server: Option<String>,
    #[command(flatten)]
    connect: ConnectArgs,
    #[command(flatten)]
    dkim: crate::dkim::DkimSignArgs,
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
    if let Some(text) = text_or_file(&args.text, &args.text_file)? {
        builder = builder.text_body(text);
    }
    if let Some(html) = text_or_file(&args.html, &args.html_file)? {
        builder = builder.html_body(html);
    }
    for path in &args.attach {
        let (name, bytes) = read_part(path, "the attachment")?;
        builder = builder.attach(Attachment::new(name, bytes));
    }
    for path in &args.inline {
        let (name, bytes) = read_part(path, "the inline part")?;
        builder = builder.inline(name.clone(), Attachment::new(name, bytes));
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

/// A body given inline or as a file.
fn text_or_file(text: &Option<String>, file: &Option<PathBuf>) -> Result<Option<String>, Failure> {
    match (text, file) {
        (Some(text), _) => Ok(Some(text.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))
            .map(Some)
            .map_err(Failure::usage),
        (None, None) => Ok(None),
    }
}

/// A file's name and bytes, for an attachment or inline part.
fn read_part(path: &Path, what: &str) -> Result<(String, Vec<u8>), Failure> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading {what} {}", path.display()))
        .map_err(Failure::usage)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".to_owned());
    Ok((name, bytes))
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
    let target = Target::resolve(args.server.as_deref(), &args.connect)?;
    let message = build(&args)?;
    let envelope = smtp_envelope(&message)?;
    let shown = message.envelope().clone();
    let bytes = args.dkim.sign(message.to_vec())?;
    if args.dry_run {
        if let Some(target) = &target {
            eprintln!(
                "would send to {} ({})",
                target.address(),
                target.security.name()
            );
        }
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
    match &target {
        Some(target) => send_remote(&args, target, &envelope, &bytes),
        None => send_local(&args, &envelope, &bytes),
    }
}

fn send_remote(
    args: &SendArgs,
    target: &Target,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<(), Failure> {
    let credentials = args.connect.credentials(Some(target))?;
    let config = args.connect.client_config(target.security, credentials)?;
    let tls = args.connect.tls_settings()?;
    let mut client = connect::open(target, config, tls, args.connect.timeout(), args.transcript)?;
    let id = deliver(&mut client, target, envelope, bytes)?;
    let _ = client.quit();
    println!(
        "delivered to {}{}",
        target.address(),
        id.map(|id| format!(", queued as {id}")).unwrap_or_default()
    );
    Ok(())
}

/// Sends one message and quits; returns the server's queue id.
fn deliver(
    client: &mut Client,
    target: &Target,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<Option<String>, Failure> {
    let report = client
        .send(envelope, bytes)
        .map_err(|e| connect::explain(&e, target))?;
    for (path, status) in &report.recipients {
        if let RecipientStatus::Rejected(reply) = status {
            eprintln!(
                "mailwire: {path} refused: {}",
                reply.to_string().trim_end().replace("\r\n", " / ")
            );
        }
    }
    Ok(report.queue_id)
}

fn send_local(args: &SendArgs, envelope: &Envelope, bytes: &[u8]) -> Result<(), Failure> {
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
    let target = Target {
        host: addr.ip().to_string(),
        port: addr.port(),
        security: Security::None,
        provider: None,
    };
    let result = args
        .connect
        .client_config(Security::None, None)
        .and_then(|config| {
            connect::open(
                &target,
                config,
                TlsSettings::new(),
                args.connect.timeout(),
                args.transcript,
            )
        })
        .and_then(|mut client| {
            let id = deliver(&mut client, &target, envelope, bytes)?;
            let _ = client.quit();
            Ok(id)
        });
    server.shutdown(Duration::from_secs(1));
    let id = result?.ok_or_else(|| Failure::other(anyhow!("the sink gave no queue id")))?;
    println!("{}", root.join("new").join(id).display());
    Ok(())
}
