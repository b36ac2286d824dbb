//! Structured logs through `tracing`, to stderr, as plain lines or as JSON
//! lines (one object per event), filtered by `MAILWIRE_LOG` (the
//! `tracing-subscriber` directive syntax, `info` when unset).
//!
//! [`MessageLog::emit`] writes the one event per message the server logs,
//! so its field names are fixed in one place (`docs/monitoring.md` lists
//! them).

use std::fmt::{self, Write as _};
use std::str::FromStr;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The variable that filters the logs.
pub const FILTER_VARIABLE: &str = "MAILWIRE_LOG";

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Plain,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = LoggingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "plain" | "text" => Ok(LogFormat::Plain),
            "json" => Ok(LogFormat::Json),
            other => Err(LoggingError::UnknownFormat(other.to_owned())),
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoggingError {
    /// Not `plain` or `json`.
    #[error("unknown log format {0:?}: plain or json")]
    UnknownFormat(String),
    /// `MAILWIRE_LOG` does not parse.
    #[error("MAILWIRE_LOG: {0}")]
    Filter(String),
    /// The process already has a global subscriber.
    #[error("logging was already set up")]
    AlreadySet,
}

/// Sends `tracing` events to stderr in `format`, filtered by
/// `MAILWIRE_LOG` (default `info`). Once per process.
pub fn init(format: LogFormat) -> Result<(), LoggingError> {
    let filter = match std::env::var(FILTER_VARIABLE) {
        Ok(directives) => {
            EnvFilter::try_new(directives).map_err(|e| LoggingError::Filter(e.to_string()))?
        }
        Err(_) => EnvFilter::new("info"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Plain => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.event_format(JsonLines).try_init(),
    };
    result.map_err(|_| LoggingError::AlreadySet)
}

/// The JSON-lines event format: `{"timestamp":..,"level":..,"target":..,
/// "fields":{..},"spans":[..]}`, strings escaped so one event is one line.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::with_capacity(256);
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();
        line.push_str("{\"timestamp\":");
        json_string(&timestamp, &mut line);
        line.push_str(",\"level\":");
        json_string(meta.level().as_str(), &mut line);
        line.push_str(",\"target\":");
        json_string(meta.target(), &mut line);
        line.push_str(",\"fields\":{");
        let mut fields = JsonFields {
            out: &mut line,
            first: true,
        };
        event.record(&mut fields);
        line.push('}');
        if let Some(scope) = ctx.event_scope() {
            line.push_str(",\"spans\":[");
            for (i, span) in scope.from_root().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                json_string(span.name(), &mut line);
            }
            line.push(']');
        }
        line.push('}');
        writeln!(writer, "{line}")
    }
}

struct JsonFields<'a> {
    out: &'a mut String,
    first: bool,
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json_string(field.name(), self.out);
        self.out.push(':');
    }
}

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        json_string(&format!("{value:?}"), self.out);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        json_string(value, self.out);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            json_string(&value.to_string(), self.out);
        }
    }
}

/// `value` as a JSON string: quotes, backslashes and control characters
/// escaped, so a hostile envelope cannot break the line or the object.
pub fn json_string(value: &str, out: &mut String) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The one log event per message offered at end of data.
#[derive(Debug, Clone, Default)]
pub struct MessageLog<'a> {
    /// The queue id the reply names.
    pub queue_id: &'a str,
    /// The listener (`smtp`, `submission`, `submissions`).
    pub listener: &'a str,
    /// The client's address.
    pub client: &'a str,
    /// The HELO/EHLO name.
    pub helo: &'a str,
    /// The envelope sender (empty for the null sender).
    pub mail_from: &'a str,
    /// The envelope recipients.
    pub recipients: &'a [String],
    /// The authenticated user, if any.
    pub user: Option<&'a str>,
    /// The message size in bytes.
    pub size: u64,
    /// `accepted`, `rejected`, `tempfailed` or `quarantined`.
    pub outcome: &'a str,
    /// The reply sent (code and text).
    pub reply: &'a str,
    /// SPF/DKIM/DMARC results as in Authentication-Results, if checked.
    pub auth_results: Option<&'a str>,
    /// Each filter's verdict, `name=verdict` joined with spaces.
    pub filters: &'a str,
    /// Milliseconds from end of data to the reply.
    pub reply_ms: u64,
}

impl MessageLog<'_> {
    /// The log target of message events.
    pub const TARGET: &'static str = "mailwire::message";

    /// Emits the event at level INFO, target [`Self::TARGET`].
    pub fn emit(&self) {
        tracing::info!(
            target: "mailwire::message",
            queue_id = self.queue_id,
            listener = self.listener,
            client = self.client,
            helo = self.helo,
            mail_from = self.mail_from,
            recipients = %self.recipients.join(","),
            rcpt_count = self.recipients.len() as u64,
            user = self.user.unwrap_or(""),
            size = self.size,
            outcome = self.outcome,
            reply = self.reply,
            auth_results = self.auth_results.unwrap_or(""),
            filters = self.filters,
            reply_ms = self.reply_ms,
            "message"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_would_break_a_line() {
        let mut out = String::new();
        json_string("a\"b\\c\nd\r\u{1}\u{2028}é", &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\r\\u0001\\u2028é\"");
    }

    #[test]
    fn formats_parse() {
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("plain".parse::<LogFormat>().unwrap(), LogFormat::Plain);
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
