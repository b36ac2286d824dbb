//! `mailwire queue`: what is in the spool, per recipient, in plain words;
//! and retry, delete, purge, as `mailq`, `postqueue -f` and `postsuper -d`
//! do for Postfix. Also the spool flag every spool command shares and the
//! enqueue step of `send --queue`.

use crate::Failure;
use anyhow::anyhow;
use clap::{Args, Subcommand};
use mail_spool::spool::{MessageId, NewMessage, RecipientState};
use mail_spool::{Spool, SpoolError, Timestamp};

/// The default embedded spool, relative to the working directory.
pub(crate) const DEFAULT_SPOOL: &str = "./mailwire-spool";

/// Where the spool is.
#[derive(Debug, Clone, Args)]
pub(crate) struct SpoolArgs {
    /// The spool: a directory for the embedded SQLite spool, or a
    /// `postgres://` URL for a shared one.
    #[arg(long, value_name = "URL", default_value = DEFAULT_SPOOL)]
    pub(crate) spool: String,
}

impl SpoolArgs {
    pub(crate) fn open(&self) -> Result<Box<dyn Spool>, Failure> {
        open_spool(&self.spool)
    }
}

pub(crate) fn open_spool(url: &str) -> Result<Box<dyn Spool>, Failure> {
    mail_spool::open(url).map_err(|e| spool_failure(e, url))
}

/// A spool error as a failure: usage for a bad queue id or message,
/// otherwise "other" with the spool named.
pub(crate) fn spool_failure(error: SpoolError, url: &str) -> Failure {
    match error {
        SpoolError::InvalidMessage(_) | SpoolError::NotFound(_) => Failure::usage(anyhow!(error)),
        _ => Failure::other(anyhow!("spool {url}: {error}")),
    }
}

/// `send --queue`: puts a built message in the spool and prints its queue
/// id once it is on disk.
pub(crate) fn enqueue(
    url: &str,
    sender: &str,
    recipients: &[String],
    body: Vec<u8>,
) -> Result<(), Failure> {
    let spool = open_spool(url)?;
    let message = NewMessage {
        sender: sender.to_owned(),
        recipients: recipients.to_vec(),
        body,
        dedup_key: None,
    };
    let queued = spool
        .enqueue(&message, Timestamp::now())
        .map_err(|e| spool_failure(e, url))?;
    out!("{}", queued.id);
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct QueueArgs {
    #[command(flatten)]
    spool: SpoolArgs,
    #[command(subcommand)]
    action: QueueAction,
}

#[derive(Debug, Subcommand)]
enum QueueAction {
    /// Every message with its recipients' states (like `mailq`).
    List {
        /// At most this many messages.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Start after this queue id (for paging).
        #[arg(long, value_name = "ID")]
        after: Option<String>,
    },
    /// One message: each recipient's state, attempts, next attempt and last reply.
    Show {
        /// The queue id.
        id: String,
    },
    /// Try deferred recipients now (one message, or --all; like `postqueue -f`).
    Retry {
        /// The queue id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every deferred recipient.
        #[arg(long)]
        all: bool,
    },
    /// Remove a message whatever its state (like `postsuper -d`).
    Delete {
        /// The queue id.
        id: String,
    },
    /// Remove the messages whose recipients are all delivered or failed.
    Purge,
    /// Counts by state.
    Stats,
}

fn parse_id(id: &str) -> Result<MessageId, Failure> {
    id.parse()
        .map_err(|e: SpoolError| Failure::usage(anyhow!(e)))
}

/// Words for a recipient's state and what comes next.
fn describe(state: RecipientState, due: Option<Timestamp>, failures: u32) -> String {
    let attempts = match failures {
        0 => String::new(),
        1 => ", 1 failed attempt".into(),
        n => format!(", {n} failed attempts"),
    };
    match (state, due) {
        (RecipientState::Queued, _) => format!("queued, waiting for its first attempt{attempts}"),
        (RecipientState::InFlight, Some(t)) => {
            format!("being delivered now (lease until {t}){attempts}")
        }
        (RecipientState::Deferred, Some(t)) => format!("deferred, next attempt at {t}{attempts}"),
        (RecipientState::Delivered, _) => "delivered".into(),
        (RecipientState::Failed, _) => format!("failed (bounced to the sender){attempts}"),
        (state, None) => format!("{}{attempts}", state.name()),
    }
}

fn counts_line(counts: &[u64; 5]) -> String {
    RecipientState::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {}", s.name().replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sender_words(sender: &str) -> &str {
    if sender.is_empty() {
        "<> (a bounce)"
    } else {
        sender
    }
}

pub(crate) fn run(args: QueueArgs) -> Result<(), Failure> {
    let url = args.spool.spool.clone();
    let spool = args.spool.open()?;
    let fail = |e| spool_failure(e, &url);
    match args.action {
        QueueAction::List { limit, after } => {
            let after = after.as_deref().map(parse_id).transpose()?;
            let messages = spool.list(after, limit).map_err(fail)?;
            if messages.is_empty() {
                out!("the spool is empty");
            }
            for m in messages {
                out!(
                    "{}  {:>8} bytes  {}  from {}\n    {}",
                    m.id,
                    m.size,
                    m.queued_at,
                    sender_words(&m.sender),
                    counts_line(&m.counts)
                );
            }
        }
        QueueAction::Show { id } => {
            let detail = spool.show(parse_id(&id)?).map_err(fail)?;
            let s = &detail.summary;
            out!("queue id: {}", s.id);
            out!("from:     {}", sender_words(&s.sender));
            out!("queued:   {}", s.queued_at);
            out!("size:     {} bytes", s.size);
            for r in &detail.recipients {
                out!(
                    "  <{}>: {}",
                    r.address,
                    describe(r.state, r.due, r.failures)
                );
                if let Some(reply) = &r.last_reply {
                    out!("      last reply: {reply}");
                }
                if let Some(remote) = &r.remote_id {
                    out!("      accepted as: {remote}");
                }
            }
        }
        QueueAction::Retry { id, all } => {
            let target = if all {
                None
            } else {
                id.as_deref().map(parse_id).transpose()?
            };
            let n = spool.retry(target, Timestamp::now()).map_err(fail)?;
            out!("{n} recipient(s) due now; a running `mailwire deliver` picks them up");
        }
        QueueAction::Delete { id } => {
            let id = parse_id(&id)?;
            spool.delete(id).map_err(fail)?;
            out!("deleted {id}");
        }
        QueueAction::Purge => {
            let n = spool.purge_finished().map_err(fail)?;
            out!("removed {n} finished message(s)");
        }
        QueueAction::Stats => {
            let stats = spool.stats().map_err(fail)?;
            out!("messages: {}", stats.messages);
            for (state, n) in RecipientState::ALL.iter().zip(stats.recipients) {
                out!("{:>10}: {n}", state.name());
            }
            if let Some(t) = stats.oldest_waiting {
                out!("oldest waiting since {t}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_plain_words() {
        let t = Timestamp::from_secs(1_796_532_321);
        assert_eq!(
            describe(RecipientState::Deferred, Some(t), 2),
            "deferred, next attempt at 2026-12-06T04:45:21Z, 2 failed attempts"
        );
        assert_eq!(describe(RecipientState::Delivered, None, 0), "delivered");
        assert_eq!(counts_line(&[1, 0, 2, 0, 0]), "1 queued, 2 deferred");
        assert!(parse_id("not hex").is_err());
        assert_eq!(parse_id("00000000002A").unwrap(), MessageId(42));
    }
}
