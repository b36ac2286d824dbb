//! The sink's SMTP side: stores each message in a Maildir (or discards it)
//! as it arrives, writes a sanitized `Received:` line first, logs one line
//! per message with every client-chosen value quoted, and checks AUTH
//! against the configured accounts with failures limited per user and per
//! client address across connections (`mail_accounts::AuthLimiter`).
//!
//! `mailwire serve` listens with it; `mailwire send` with no server starts
//! it in-process as the embedded local sink.

use crate::maildir::{Delivery, Maildir};
use crate::users::Users;
use mail_accounts::AuthLimiter;
use smtp_blocking::{Connection, Decision, Handler, Sink, Transaction};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::{EnhancedStatus, Reply, ReplyCode, ServerConfig};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The default limit on a message's size: 25 MiB.
pub(crate) const DEFAULT_MAX_SIZE: u64 = 25 * 1024 * 1024;

/// The name the sink gives itself in its greeting and `Received:` lines.
pub(crate) const HOSTNAME: &str = "mailwire.localhost";

/// The sink's protocol settings.
pub(crate) fn sink_config(max_size: u64) -> ServerConfig {
    ServerConfig::new(HOSTNAME)
        .with_max_message_size(Some(max_size))
        .with_idle_timeout(Duration::from_secs(300))
}

/// Stores each message in a Maildir (or discards it), streamed as it
/// arrives; logs one line per message; checks AUTH against the configured
/// accounts, with failures limited per user and per client address.
#[derive(Debug, Clone)]
pub(crate) struct MaildirSink {
    maildir: Option<Arc<Maildir>>,
    log: bool,
    users: Arc<Users>,
    limiter: Arc<Mutex<AuthLimiter>>,
    /// The connections whose refused AUTH `auth` already counted, until
    /// the session reports that failure (at once, right after).
    counted: Arc<Mutex<HashSet<SocketAddr>>>,
}

impl MaildirSink {
    /// A sink storing into `maildir` (discarding when `None`); `log` prints
    /// one line per message to stdout.
    pub(crate) fn new(maildir: Option<Maildir>, log: bool) -> MaildirSink {
        MaildirSink {
            maildir: maildir.map(Arc::new),
            log,
            users: Arc::new(Users::new()),
            limiter: Arc::new(Mutex::new(AuthLimiter::default())),
            counted: Arc::default(),
        }
    }

    /// Accepts AUTH from these accounts.
    pub(crate) fn with_users(mut self, users: Arc<Users>) -> MaildirSink {
        self.users = users;
        self
    }

    /// Counts AUTH failures in this limiter (shared with the POP3 and IMAP
    /// logins), refusing AUTH for a user, or from an address, past its
    /// limits.
    pub(crate) fn with_limiter(mut self, limiter: Arc<Mutex<AuthLimiter>>) -> MaildirSink {
        self.limiter = limiter;
        self
    }

    fn counted(&self) -> MutexGuard<'_, HashSet<SocketAddr>> {
        self.counted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn limiter(&self) -> MutexGuard<'_, AuthLimiter> {
        self.limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes that `auth` counted this connection's failure itself.
    fn mark_counted(&self, peer: SocketAddr) {
        let mut counted = self.counted();
        if counted.len() >= 10_000 {
            counted.clear();
        }
        counted.insert(peer);
    }
}

/// The `Received:` field for a message of `transaction`; its `with` clause
/// is the session's own protocol name (RFC 3848, RFC 6531), and an
/// SMTPUTF8 message's field may show a non-ASCII EHLO name.
fn received_line(conn: &Connection, transaction: &Transaction) -> String {
    use mail_server::received::{now_secs, sanitize_helo, Received};
    let helo = sanitize_helo(conn.helo.as_ref(), transaction.params.smtputf8);
    Received {
        helo: &helo,
        ip: conn.peer.ip(),
        by: HOSTNAME,
        protocol: transaction.protocol,
        id: None,
        authenticated: false,
    }
    .field(now_secs())
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
                out!("discarded {fields}");
            }
            return Decision::Accept;
        };
        match delivery.commit() {
            Ok(name) => {
                if let Some(fields) = fields(&self.log) {
                    out!("stored {name} {fields}");
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
        let (ip, user) = (conn.peer.ip(), request.username());
        if !self.limiter().allowed(Some(user), ip, Instant::now()) {
            // Refused without looking at the credentials, and not counted
            // as one more failure.
            self.mark_counted(conn.peer);
            return Decision::Reject(reply(
                ReplyCode::new(454).unwrap_or(ReplyCode::LOCAL_ERROR),
                (4, 7, 0),
                "Too many authentication failures, try again later",
            ));
        }
        // argon2 runs outside the lock: other connections go on meanwhile.
        if !self.users.is_empty() && self.users.check(request) {
            self.limiter().succeeded(user, ip);
            return Decision::Accept;
        }
        // Counted across connections, per user and per address; the
        // session itself delays its reply and closes after a few.
        let log = self
            .limiter()
            .record_failure(Some(user), ip, Instant::now());
        self.mark_counted(conn.peer);
        if let Some(failures) = log {
            // The user name only: a password never reaches a log.
            eprintln!(
                "mailwire: AUTH failed for user={} client={ip} failures={failures}",
                quote(user)
            );
        }
        Decision::auth_invalid()
    }

    fn auth_failed(&self, conn: &Connection, _failures: usize) {
        if self.counted().remove(&conn.peer) {
            return;
        }
        // A cancelled or garbled exchange: it named no user.
        let ip = conn.peer.ip();
        let log = self.limiter().record_failure(None, ip, Instant::now());
        if let Some(failures) = log {
            eprintln!("mailwire: AUTH failed for user=\"\" client={ip} failures={failures}");
        }
    }
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

    proptest! {
        #[test]
        fn quote_round_trips_and_never_leaves_a_bare_quote_or_control(value in any::<String>()) {
            let quoted = quote(&value);
            prop_assert_eq!(unquote(&quoted), Some(value));
            prop_assert!(!quoted.chars().any(char::is_control));
        }
    }
}
