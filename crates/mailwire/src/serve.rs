//! `mailwire serve`: an SMTP sink that stores each message in a Maildir.

use crate::maildir::Maildir;
use crate::Failure;
use anyhow::Context;
use clap::Args;
use smtp_blocking::{Connection, Decision, Handler, Message, Server};
use smtp_proto::{EnhancedStatus, Reply, ReplyCode, ServerConfig};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The default limit on a message's size: 25 MiB.
pub(crate) const DEFAULT_MAX_SIZE: u64 = 25 * 1024 * 1024;

/// The name the sink gives itself in its greeting and `Received:` lines.
const HOSTNAME: &str = "mailwire.localhost";

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (loopback only unless you say otherwise).
    #[arg(long, default_value = "127.0.0.1:2525")]
    listen: String,
    /// The Maildir to store messages in (created when missing).
    #[arg(long, default_value = "./mailwire-mail")]
    maildir: PathBuf,
    /// Largest message accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_SIZE)]
    max_size: u64,
    /// Accept every message and store none.
    #[arg(long)]
    discard: bool,
}

/// The sink's protocol settings.
pub(crate) fn sink_config(max_size: u64) -> ServerConfig {
    ServerConfig::new(HOSTNAME)
        .with_max_message_size(Some(max_size))
        .with_idle_timeout(Duration::from_secs(300))
}

/// Stores each message in a Maildir (or discards it) and logs one line.
#[derive(Debug)]
pub(crate) struct MaildirSink {
    maildir: Option<Maildir>,
    log: bool,
}

impl MaildirSink {
    /// A sink storing into `maildir` (discarding when `None`); `log` prints
    /// one line per message to stdout.
    pub(crate) fn new(maildir: Option<Maildir>, log: bool) -> MaildirSink {
        MaildirSink { maildir, log }
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn received_line(conn: &Connection) -> String {
    let helo = conn
        .helo
        .as_ref()
        .map_or_else(|| "unknown".to_owned(), ToString::to_string);
    let date = mime_codec::DateTime::from_unix(now_secs(), 0)
        .map(|d| d.to_string())
        .unwrap_or_default();
    format!(
        "Received: from {helo} ([{}])\r\n\tby {HOSTNAME} (mailwire) with ESMTP;\r\n\t{date}\r\n",
        conn.peer.ip()
    )
}

fn reply(code: ReplyCode, status: (u8, u16, u16), text: String) -> Option<Reply> {
    Reply::new(
        code,
        EnhancedStatus::new(status.0, status.1, status.2),
        [text],
    )
    .ok()
}

impl Handler for MaildirSink {
    fn message(&self, conn: &Connection, message: &Message) -> Decision {
        let recipients: Vec<String> = message.recipients.iter().map(|r| r.to_string()).collect();
        let Some(maildir) = &self.maildir else {
            if self.log {
                println!(
                    "discarded from={} to={} size={}",
                    message.from,
                    recipients.join(","),
                    message.bytes.len()
                );
            }
            return Decision::Accept;
        };
        match maildir.deliver(received_line(conn).as_bytes(), &message.bytes) {
            Ok(name) => {
                if self.log {
                    println!(
                        "stored {name} from={} to={} size={}",
                        message.from,
                        recipients.join(","),
                        message.bytes.len()
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
}

pub(crate) fn run(args: ServeArgs) -> Result<(), Failure> {
    let maildir = if args.discard {
        None
    } else {
        Some(Maildir::create(&args.maildir).map_err(Failure::other)?)
    };
    let sink = MaildirSink::new(maildir, true);
    let server = Server::bind(args.listen.as_str(), sink_config(args.max_size), sink)
        .with_context(|| format!("listening on {}", args.listen))
        .map_err(Failure::connect)?;
    let target = if args.discard {
        "discarding messages".to_owned()
    } else {
        format!("storing into {}", args.maildir.display())
    };
    println!("listening on {}, {target}", server.local_addr());
    server.run().context("serving").map_err(Failure::other)
}
