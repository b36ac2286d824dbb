//! `mailwire send`: build a message from flags and deliver it (to a server,
//! a provider preset, or the embedded local sink).

use crate::connect::{self, ConnectArgs};
use crate::maildir::Maildir;
use crate::sink::{sink_config, MaildirSink, DEFAULT_MAX_SIZE};
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::{ArgGroup, Args};
use mailer::{FileAttachments, Mailer};
use mime_codec::{MessageBuilder, OutgoingMessage};
use smtp_blocking::Server;
use smtp_proto::transcript::escape_control;
use smtp_proto::{Envelope, RecipientStatus};
use std::io::{Read, Write};
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
    /// A file holding the plain-text body (UTF-8, or see --charset).
    #[arg(long, value_name = "FILE")]
    text_file: Option<PathBuf>,
    /// An HTML body (an alternative to the text when both are given).
    #[arg(long, conflicts_with = "html_file")]
    html: Option<String>,
    /// A file holding the HTML body (UTF-8, or see --charset).
    #[arg(long, value_name = "FILE")]
    html_file: Option<PathBuf>,
    /// A file to attach (repeatable).
    #[arg(long, value_name = "FILE")]
    attach: Vec<PathBuf>,
    /// An image (or other part) shown inside the HTML body, which refers to
    /// it as `cid:FILENAME` (repeatable).
    #[arg(long, value_name = "FILE", requires = "html_body")]
    inline: Vec<PathBuf>,
    /// Where replies should go: `addr` or `Name <addr>` (repeatable).
    #[arg(long)]
    reply_to: Vec<String>,
    /// The Message-ID, `<id@domain>` (brackets optional); by default one is
    /// made from the clock and the sender's domain.
    #[arg(long, value_name = "ID")]
    message_id: Option<String>,
    /// The Date: an RFC 5322 date (`Tue, 1 Jul 2025 10:00:00 +0800`) or
    /// `@UNIX-SECONDS`; by default now.
    #[arg(long)]
    date: Option<String>,
    /// The Message-ID this message answers (repeatable); also added to
    /// References unless --references is given.
    #[arg(long, value_name = "ID")]
    in_reply_to: Vec<String>,
    /// A Message-ID of the thread, oldest first (repeatable).
    #[arg(long, value_name = "ID")]
    references: Vec<String>,
    /// The character set of --text-file and --html-file (gbk, big5,
    /// shift_jis, iso-8859-1, windows-1252, ...); UTF-8 by default.
    #[arg(long, value_name = "CHARSET")]
    charset: Option<String>,
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
    /// The DNS server (`host:port`) that looks up the server's name
    /// [default: the system's resolver].
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["queue", "spool"])]
    dns: Option<std::net::SocketAddr>,
    /// Put the message in the spool and print its queue id once it is on
    /// disk; `mailwire deliver` sends it.
    #[arg(long)]
    queue: bool,
    /// The spool for --queue (implies it) [default: ./mailwire-spool].
    #[arg(long, value_name = "URL")]
    spool: Option<String>,
    #[command(flatten)]
    dkim: crate::dkim::DkimSignArgs,
}

/// Parses `addr` or `Name <addr>`.
fn header_mailbox(s: &str) -> Result<mime_codec::Mailbox, Failure> {
    let s = s.trim();
    let parsed = match (s.rfind('<'), s.ends_with('>')) {
        (Some(open), true) => {
            let name = s[..open].trim().trim_matches('"');
            let addr = ascii_domain(&s[open + 1..s.len() - 1])?;
            if name.is_empty() {
                mime_codec::Mailbox::address_only(addr)
            } else {
                mime_codec::Mailbox::new(name, addr)
            }
        }
        _ => mime_codec::Mailbox::address_only(ascii_domain(s)?),
    };
    parsed.map_err(|e| Failure::usage(anyhow!("bad address {s:?}: {e}")))
}

/// An address with an ASCII local part keeps to ASCII (its domain as the
/// IDNA A-label), as in the envelope.
fn ascii_domain(addr: &str) -> Result<String, Failure> {
    mailer::ascii_domain(addr).map_err(|e| Failure::usage(anyhow!("{e}")))
}

/// `--date`: RFC 5322 or `@UNIX-SECONDS`.
fn parse_date(text: &str) -> Result<mime_codec::DateTime, Failure> {
    let parsed = match text.trim().strip_prefix('@') {
        Some(secs) => secs
            .parse::<i64>()
            .ok()
            .and_then(|s| mime_codec::DateTime::from_unix(s, 0)),
        None => mime_codec::DateTime::parse(text),
    };
    parsed.ok_or_else(|| {
        Failure::usage(anyhow!(
            "bad --date {text:?}: give an RFC 5322 date such as \"Tue, 1 Jul 2025 10:00:00 \
             +0800\", or @UNIX-SECONDS"
        ))
    })
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

/// The message, its attachments streamed from their files; a file that
/// fails while the message is written is reported through `files`.
fn build(args: &SendArgs, files: &FileAttachments) -> Result<OutgoingMessage, Failure> {
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
    for reply_to in &args.reply_to {
        builder = builder.reply_to(header_mailbox(reply_to)?);
    }
    let date = match &args.date {
        Some(text) => Some(parse_date(text)?),
        None => {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            mime_codec::DateTime::from_unix(secs, 0)
        }
    };
    if let Some(date) = date {
        builder = builder.date(date);
    }
    builder = builder.entropy(entropy());
    if let Some(id) = &args.message_id {
        builder = builder.message_id(id.clone());
    }
    for id in &args.in_reply_to {
        builder = builder.in_reply_to(id.clone());
    }
    // A reply's References are its parent's, then the parent (RFC 5322
    // §3.6.4); given only the parent, that is the parent.
    let references = if args.references.is_empty() {
        &args.in_reply_to
    } else {
        &args.references
    };
    for id in references {
        builder = builder.references(id.clone());
    }
    let charset = args.charset.as_deref();
    if let Some(text) = text_or_file(&args.text, &args.text_file, charset)? {
        builder = builder.text_body(text);
    }
    if let Some(html) = text_or_file(&args.html, &args.html_file, charset)? {
        builder = builder.html_body(html);
    }
    for path in &args.attach {
        builder = builder.attach(open_part(path, "the attachment", files)?);
    }
    for path in &args.inline {
        let name = part_name(path);
        builder = builder.inline(name, open_part(path, "the inline part", files)?);
    }
    for header in &args.header {
        let Some((name, value)) = header.split_once(':') else {
            return Err(Failure::usage(anyhow!(
                "--header {header:?} is not `Name: value`"
            )));
        };
        let flag = match name.trim().to_ascii_lowercase().as_str() {
            "message-id" => Some("--message-id"),
            "date" => Some("--date"),
            "reply-to" => Some("--reply-to"),
            "in-reply-to" => Some("--in-reply-to"),
            "references" => Some("--references"),
            "subject" => Some("--subject"),
            "from" => Some("--from"),
            "to" => Some("--to"),
            "cc" => Some("--cc"),
            "bcc" => Some("--bcc"),
            _ => None,
        };
        if let Some(flag) = flag {
            return Err(Failure::usage(anyhow!(
                "--header {:?}: use {flag} instead",
                name.trim()
            )));
        }
        builder = builder.header(name.trim(), value.trim());
    }
    builder
        .build()
        .map_err(|e| Failure::usage(anyhow!("cannot build the message: {e}")))
}

/// A body given inline or as a file (UTF-8, or read in `charset`).
fn text_or_file(
    text: &Option<String>,
    file: &Option<PathBuf>,
    charset: Option<&str>,
) -> Result<Option<String>, Failure> {
    let (None, Some(path)) = (text, file) else {
        return Ok(text.clone());
    };
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Failure::usage)?;
    let label = charset.unwrap_or("utf-8");
    if mime_codec::charset::lookup(label).is_none() {
        return Err(Failure::usage(anyhow!(
            "unknown --charset {label:?}: give one such as utf-8, gbk, gb18030, big5, \
             shift_jis, euc-kr, iso-8859-1 or windows-1252"
        )));
    }
    let decoded = mime_codec::charset::decode(&bytes, Some(label));
    if decoded.status != mime_codec::CharsetStatus::Exact {
        let hint = if charset.is_none() {
            "; if it is in another character set, say which with --charset"
        } else {
            ""
        };
        return Err(Failure::usage(anyhow!(
            "{} is not valid {}{hint}",
            path.display(),
            decoded.charset
        )));
    }
    Ok(Some(decoded.text.into_owned()))
}

/// An attachment or inline part streamed from its file.
fn open_part(
    path: &Path,
    what: &str,
    files: &FileAttachments,
) -> Result<mime_codec::Attachment, Failure> {
    files
        .open(path)
        .with_context(|| format!("reading {what} {}", path.display()))
        .map_err(Failure::usage)
}

/// The name a part is known by: its file's name.
fn part_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".to_owned())
}

pub(crate) fn run(args: SendArgs) -> Result<(), Failure> {
    let target = args.connect.target(args.server.as_deref())?;
    let files = FileAttachments::default();
    let message = build(&args, &files)?;
    let envelope = mailer::envelope(&message).map_err(|e| Failure::usage(anyhow!("{e}")))?;
    let shown = message.envelope().clone();
    let mut body = args.dkim.wrap(files.reader(message))?;
    if args.dry_run {
        if let Some(target) = target {
            let context = connect::build(target)?.context().clone();
            eprintln!(
                "would send to {} ({})",
                context.address(),
                context.security.name()
            );
        }
        // The envelope as the core's encoder writes it, CR left out.
        let commands = mailer::envelope_commands(&envelope);
        let head = String::from_utf8_lossy(&commands).replace("\r\n", "\n");
        let mut out = std::io::stdout().lock();
        return out
            .write_all(head.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| copy_message(&mut body, &mut out))
            .and_then(|()| out.flush())
            .or_else(quiet_on_closed_pipe);
    }
    if args.queue || args.spool.is_some() {
        let url = args.spool.as_deref().unwrap_or(crate::queue::DEFAULT_SPOOL);
        let mut bytes = Vec::new();
        body.read_to_end(&mut bytes)
            .map_err(|e| Failure::usage(anyhow!("reading the message: {e}")))?;
        let recipients: Vec<String> = shown.recipients.iter().map(|r| r.to_string()).collect();
        return crate::queue::enqueue(url, shown.reverse_path.as_str(), &recipients, bytes);
    }
    match target {
        Some(target) => {
            let mut builder =
                args.connect
                    .configure(target, args.server.as_deref(), true, args.transcript)?;
            if let Some(server) = args.dns {
                builder = builder.resolver(connect::dns_server(server, args.connect.timeout())?);
            }
            let mailer = connect::build(builder)?;
            let id = deliver(&mailer, &envelope, &mut body, args.transcript)?;
            out!(
                "delivered to {}{}",
                mailer.context().address(),
                id.map(|id| format!(", queued as {id}")).unwrap_or_default()
            );
            Ok(())
        }
        None => send_local(&args, &envelope, &mut body),
    }
}

/// Copies the message to `out` a chunk at a time, ending with a newline.
fn copy_message(body: &mut dyn Read, out: &mut impl Write) -> std::io::Result<()> {
    let mut buf = vec![0; 64 * 1024];
    let mut last = b'\n';
    loop {
        let n = body.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        last = buf[n - 1];
    }
    if last != b'\n' {
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A reader that went away (`| head`) is not a failure of ours; any other
/// write or file error is.
fn quiet_on_closed_pipe(error: std::io::Error) -> Result<(), Failure> {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(Failure::other(anyhow!("writing the message: {error}")))
    }
}

/// Sends one message over one connection (QUIT after it, refused or
/// not); returns the server's queue id. Each refused recipient is shown.
fn deliver(
    mailer: &Mailer,
    envelope: &Envelope,
    body: &mut dyn Read,
    transcript: bool,
) -> Result<Option<String>, Failure> {
    if transcript {
        let context = mailer.context();
        eprintln!(
            "=== Trying {} ({})...",
            context.address(),
            context.security.name()
        );
    }
    let report = mailer
        .send_body(envelope, body)
        .map_err(|e| connect::failure(&e, mailer.context()))?;
    for (path, status) in &report.recipients {
        if let RecipientStatus::Rejected(reply) = status {
            let text = reply.to_string().trim_end().replace("\r\n", " / ");
            eprintln!("mailwire: {path} refused: {}", escape_control(&text));
        }
    }
    Ok(report.queue_id)
}

fn send_local(args: &SendArgs, envelope: &Envelope, body: &mut dyn Read) -> Result<(), Failure> {
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
    let port = server.local_addr().port();
    let result = args
        .connect
        .configure(Mailer::local(port), None, false, args.transcript)
        .and_then(connect::build)
        .and_then(|mailer| deliver(&mailer, envelope, body, args.transcript));
    server.shutdown(Duration::from_secs(1));
    let id = result?.ok_or_else(|| Failure::other(anyhow!("the sink gave no queue id")))?;
    out!("{}", root.join("new").join(id).display());
    Ok(())
}
