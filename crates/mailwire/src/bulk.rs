//! `mailwire bulk`: one message per row of a CSV file, from templates with
//! `{{column}}` placeholders, queued in the spool (so an interruption loses
//! nothing) and then delivered with a progress bar and a summary.
//!
//! Every row is queued with the key `CAMPAIGN/ADDRESS`: running the same
//! campaign again queues nobody twice, and the spool remembers who was
//! delivered, so a resumed run sends only what is left.

use crate::deliver::{self, DeliveryArgs};
use crate::queue::{spool_failure, SpoolArgs};
use crate::template::{parse_csv, Template};
use crate::Failure;
use anyhow::{anyhow, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mail_spool::engine::Engine;
use mail_spool::spool::{MessageId, NewMessage, RecipientState};
use mail_spool::{Spool, Timestamp};
use mime_codec::{Mailbox, MessageBuilder};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Rows queued per transaction (one disk flush each).
const BATCH: usize = 500;

#[derive(Debug, Args)]
pub(crate) struct BulkArgs {
    /// The recipients: a CSV file with a header row and an `email` column
    /// (or the one --email-column names).
    #[arg(long, value_name = "FILE.csv")]
    recipients: PathBuf,
    /// The column holding each row's address.
    #[arg(long, default_value = "email")]
    email_column: String,
    /// The sender.
    #[arg(long)]
    from: String,
    /// The subject template.
    #[arg(long, default_value = "")]
    subject: String,
    /// The plain-text template.
    #[arg(long, conflicts_with = "text_file")]
    text: Option<String>,
    /// A file holding the plain-text template.
    #[arg(long, value_name = "FILE")]
    text_file: Option<PathBuf>,
    /// The HTML template.
    #[arg(long, conflicts_with = "html_file")]
    html: Option<String>,
    /// A file holding the HTML template.
    #[arg(long, value_name = "FILE")]
    html_file: Option<PathBuf>,
    /// The campaign's name: rows already queued under it are not queued
    /// again [default: the CSV file's name].
    #[arg(long)]
    campaign: Option<String>,
    /// Show the first message and the count; queue and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only queue; leave the sending to `mailwire deliver`.
    #[arg(long)]
    queue_only: bool,
    #[command(flatten)]
    dkim: crate::dkim::DkimSignArgs,
    #[command(flatten)]
    spool: SpoolArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

fn read_optional(text: &Option<String>, file: &Option<PathBuf>) -> Result<Option<String>, Failure> {
    match (text, file) {
        (Some(t), _) => Ok(Some(t.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))
            .map(Some)
            .map_err(Failure::usage),
        (None, None) => Ok(None),
    }
}

struct Templates {
    subject: Template,
    text: Option<Template>,
    html: Option<Template>,
    email: usize,
}

fn build_row(
    args: &BulkArgs,
    t: &Templates,
    row: &[String],
    n: usize,
) -> Result<(String, Vec<u8>), Failure> {
    let address = row
        .get(t.email)
        .map(|a| a.trim().to_owned())
        .unwrap_or_default();
    let bad = |what: String| Failure::usage(anyhow!("row {} ({address:?}): {what}", n + 1));
    let from = Mailbox::address_only(args.from.trim())
        .map_err(|e| Failure::usage(anyhow!("bad --from: {e}")))?;
    let to = Mailbox::address_only(&address).map_err(|e| bad(format!("bad address: {e}")))?;
    let mut builder = MessageBuilder::new()
        .from(from)
        .to(to)
        .subject(t.subject.render(row));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    if let Some(date) =
        mime_codec::DateTime::from_unix(i64::try_from(now.as_secs()).unwrap_or(0), 0)
    {
        builder = builder.date(date);
    }
    let mut entropy = [0u8; 16];
    entropy[..8].copy_from_slice(&(now.as_nanos() as u64).to_be_bytes());
    entropy[8..].copy_from_slice(&(n as u64).to_be_bytes());
    builder = builder.entropy(entropy);
    if let Some(text) = &t.text {
        builder = builder.text_body(text.render(row));
    }
    if let Some(html) = &t.html {
        builder = builder.html_body(html.render(row));
    }
    let message = builder
        .build()
        .map_err(|e| bad(format!("cannot build the message: {e}")))?;
    Ok((address, message.to_vec()))
}

pub(crate) fn run(args: BulkArgs) -> Result<(), Failure> {
    let csv = std::fs::read_to_string(&args.recipients)
        .with_context(|| format!("reading {}", args.recipients.display()))
        .map_err(Failure::usage)?;
    let table = parse_csv(&csv)
        .map_err(|e| Failure::usage(anyhow!("{}: {e}", args.recipients.display())))?;
    let email = table
        .header
        .iter()
        .position(|h| *h == args.email_column)
        .ok_or_else(|| {
            Failure::usage(anyhow!(
                "{} has no column {:?} (columns: {})",
                args.recipients.display(),
                args.email_column,
                table.header.join(", ")
            ))
        })?;
    let compile =
        |t: &str| Template::compile(t, &table.header).map_err(|e| Failure::usage(anyhow!(e)));
    let text = read_optional(&args.text, &args.text_file)?;
    let html = read_optional(&args.html, &args.html_file)?;
    if text.is_none() && html.is_none() {
        return Err(Failure::usage(anyhow!(
            "give a body: --text, --text-file, --html or --html-file"
        )));
    }
    let templates = Templates {
        subject: compile(&args.subject)?,
        text: text.as_deref().map(compile).transpose()?,
        html: html.as_deref().map(compile).transpose()?,
        email,
    };
    let campaign = args.campaign.clone().unwrap_or_else(|| {
        args.recipients
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bulk".into())
    });
    // Every row is built before anything is queued: a bad row stops the
    // run with nothing sent.
    let mut messages = Vec::with_capacity(table.rows.len());
    for (n, row) in table.rows.iter().enumerate() {
        let (address, body) = build_row(&args, &templates, row, n)?;
        messages.push(NewMessage {
            sender: args.from.trim().to_owned(),
            dedup_key: Some(format!("{campaign}/{}", address.to_ascii_lowercase())),
            recipients: vec![address],
            body,
        });
    }
    // Signed at enqueue, like `send --queue`: the spool keeps the signed
    // bytes, so every retry and every route sends exactly what was signed.
    let from_domain = args
        .from
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase());
    args.dkim.sign_all(
        from_domain,
        &mut messages.iter_mut().map(|m| &mut m.body).collect::<Vec<_>>(),
    )?;
    if args.dry_run {
        if let Some(first) = messages.first() {
            out!("RCPT TO:<{}>\n", first.recipients[0]);
            print!("{}", String::from_utf8_lossy(&first.body));
        }
        out!(
            "\n{} message(s) would be queued as campaign {campaign:?}; nothing was sent",
            messages.len()
        );
        return Ok(());
    }
    let url = args.spool.spool.clone();
    let spool: Arc<dyn Spool> = Arc::from(args.spool.open()?);
    let mut ids: Vec<MessageId> = Vec::with_capacity(messages.len());
    let mut already = 0;
    for chunk in messages.chunks(BATCH) {
        for queued in spool
            .enqueue_batch(chunk, Timestamp::now())
            .map_err(|e| spool_failure(e, &url))?
        {
            already += usize::from(queued.duplicate);
            ids.push(queued.id);
        }
    }
    out!(
        "queued {} message(s) for campaign {campaign:?} ({already} were already queued)",
        ids.len() - already
    );
    if args.queue_only {
        return Ok(());
    }
    deliver::init_logging();
    let (mut config, transport) = args.delivery.build()?;
    config.exit_when_idle = true;
    let engine = Engine::new(Arc::clone(&spool), config);
    deliver::stop_on_signals(&engine.stop_handle())?;
    let bar = ProgressBar::new(ids.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} settled  {per_sec}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let before = settled(&*spool, &ids)?;
    bar.set_position(before);
    let metrics = engine.metrics();
    let watcher = {
        let bar = bar.clone();
        std::thread::spawn(move || loop {
            let t = metrics.totals();
            bar.set_position(before + t.delivered + t.failed);
            bar.set_message(format!(
                "{} delivered, {} failed, {} deferred",
                t.delivered, t.failed, t.deferred
            ));
            if bar.is_finished() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        })
    };
    let result = engine.run(Arc::new(transport));
    bar.finish();
    let _ = watcher.join();
    result.map_err(|e| spool_failure(e, &url))?;
    summarize(&*spool, &ids)
}

/// How many of `ids` are settled for good (delivered or failed).
fn settled(spool: &dyn Spool, ids: &[MessageId]) -> Result<u64, Failure> {
    let mut n = 0;
    for id in ids {
        let detail = spool.show(*id).map_err(|e| Failure::other(anyhow!(e)))?;
        n += detail
            .recipients
            .iter()
            .filter(|r| r.state.is_final())
            .count() as u64;
    }
    Ok(n)
}

/// Delivered, deferred and failed for this campaign, failures by reason.
fn summarize(spool: &dyn Spool, ids: &[MessageId]) -> Result<(), Failure> {
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for id in ids {
        let detail = match spool.show(*id) {
            Ok(d) => d,
            Err(mail_spool::SpoolError::NotFound(_)) => continue,
            Err(e) => return Err(Failure::other(anyhow!(e))),
        };
        for r in detail.recipients {
            let key = match r.state {
                RecipientState::Delivered => "delivered",
                RecipientState::Failed => {
                    *reasons.entry(r.last_reply.unwrap_or_default()).or_default() += 1;
                    "failed"
                }
                _ => "deferred",
            };
            *counts.entry(key).or_default() += 1;
        }
    }
    out!(
        "summary: {} delivered, {} deferred (will be retried by `mailwire deliver`), {} failed",
        counts.get("delivered").unwrap_or(&0),
        counts.get("deferred").unwrap_or(&0),
        counts.get("failed").unwrap_or(&0)
    );
    for (reason, n) in reasons {
        out!("  {n} failed: {reason}");
    }
    Ok(())
}
