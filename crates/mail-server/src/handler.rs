//! The SMTP handler: every decision of port 25 and of submission, and the
//! sink that streams each message into the store (and the spool).

use crate::checks::AuthChecks;
use crate::directory::{Directory, LocalUser, Recipient};
use crate::filter::{MessageFacts, MessageFilter, Refusal};
use crate::limiter::LoginLimiter;
use crate::message::MessageSink;
use crate::metrics::{Event, ServerMetrics};
use crate::outbound::Outbound;
use crate::received::sanitize_helo;
use crate::store::MailboxStore;
use smtp_blocking::{Connection, Decision, Handler, Transaction};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::{
    EnhancedStatus, ForwardPath, Host, MailParams, RcptParams, Reply, ReplyCode, ReversePath,
};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Which door a connection came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Port 25: mail for local users from anyone; relay only after AUTH.
    Inbound,
    /// Ports 587 and 465: mail from authenticated users, to anyone.
    Submission,
}

impl Role {
    /// `inbound` or `submission`, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Role::Inbound => "inbound",
            Role::Submission => "submission",
        }
    }
}

/// What the handler decides with, shared by every listener.
pub(crate) struct Shared<D, S, F> {
    pub(crate) directory: D,
    pub(crate) store: S,
    pub(crate) filter: F,
    pub(crate) checks: Option<AuthChecks>,
    pub(crate) outbound: Option<Outbound>,
    pub(crate) metrics: Arc<dyn ServerMetrics>,
    pub(crate) limiter: Mutex<Box<dyn LoginLimiter>>,
    pub(crate) hostname: String,
    pub(crate) junk_folder: String,
    /// Rewrites the sender of forwarded mail, and takes its bounces back.
    pub(crate) srs: Option<crate::srs::Srs>,
    /// Forged SRS addresses per client network: past a few, its SRS
    /// recipients wait (a four-character hash must not be guessed one
    /// RCPT after another into a relay to anyone).
    pub(crate) srs_guesses: Mutex<smtp_blocking::AuthThrottle>,
    /// The user name of each connection's refused AUTH, until the failure
    /// it causes is counted (at once: the session reports it right after).
    refused_users: Mutex<HashMap<SocketAddr, String>>,
}

impl<D, S, F> Shared<D, S, F> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        directory: D,
        store: S,
        filter: F,
        checks: Option<AuthChecks>,
        outbound: Option<Outbound>,
        metrics: Arc<dyn ServerMetrics>,
        limiter: Box<dyn LoginLimiter>,
        hostname: String,
        junk_folder: String,
    ) -> Shared<D, S, F> {
        Shared {
            directory,
            store,
            filter,
            checks,
            outbound,
            metrics,
            limiter: Mutex::new(limiter),
            hostname,
            junk_folder,
            srs: None,
            srs_guesses: Mutex::new(crate::forwarding::srs_guess_throttle()),
            refused_users: Mutex::default(),
        }
    }
}

/// The mail server's SMTP handler for one listener's [`Role`]; clones share
/// everything (directory, store, filters, spool, counters).
pub struct MailHandler<D, S, F> {
    pub(crate) shared: Arc<Shared<D, S, F>>,
    pub(crate) role: Role,
    pub(crate) listener: &'static str,
}

impl<D, S, F> Clone for MailHandler<D, S, F> {
    fn clone(&self) -> Self {
        MailHandler {
            shared: Arc::clone(&self.shared),
            role: self.role,
            listener: self.listener,
        }
    }
}

impl<D, S, F> fmt::Debug for MailHandler<D, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailHandler")
            .field("role", &self.role)
            .field("hostname", &self.shared.hostname)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A reply from constant parts; a text a reply cannot hold (CR, LF) falls
/// back to the bare code.
pub(crate) fn reply(code: u16, status: (u8, u16, u16), text: &str) -> Reply {
    let code = ReplyCode::new(code).unwrap_or(ReplyCode::LOCAL_ERROR);
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Reply::new(
        code,
        EnhancedStatus::new(status.0, status.1, status.2),
        [clean],
    )
    .unwrap_or_else(|_| Reply::bare(code))
}

pub(crate) fn refusal_reply(refusal: &Refusal) -> Reply {
    let code = if (400..600).contains(&refusal.code) {
        refusal.code
    } else {
        451
    };
    reply(code, refusal.status, &refusal.text)
}

pub(crate) fn try_later() -> Reply {
    reply(
        451,
        (4, 3, 0),
        "Could not store the message, try again later",
    )
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A queue id: unique within this process, sortable by time.
fn queue_id() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{:011X}{:04X}", micros & 0xFFF_FFFF_FFFF, n & 0xFFFF)
}

fn address_of(path: &ForwardPath, hostname: &str) -> String {
    match path.mailbox() {
        Some(mailbox) => mailbox.to_string(),
        None => format!("postmaster@{hostname}"),
    }
}

impl<D: Directory, S: MailboxStore, F: MessageFilter> MailHandler<D, S, F> {
    pub(crate) fn new(shared: Arc<Shared<D, S, F>>) -> MailHandler<D, S, F> {
        MailHandler {
            shared,
            role: Role::Inbound,
            listener: "smtp",
        }
    }

    /// The same handler for another listener: its name (in logs and
    /// metrics) and its role.
    pub fn for_listener(&self, listener: &'static str, role: Role) -> MailHandler<D, S, F> {
        MailHandler {
            shared: Arc::clone(&self.shared),
            role,
            listener,
        }
    }

    pub(crate) fn count(&self, event: Event<'_>) {
        self.shared.metrics.record(event);
    }

    pub(crate) fn refuse(&self, reason: &'static str, reply: Reply) -> Decision {
        self.count(Event::Rejected {
            listener: self.listener,
            reason,
        });
        Decision::Reject(reply)
    }

    /// The recipients of a transaction, as local users (each once) and
    /// remote addresses (kept only for an authenticated client).
    /// Where the message goes: local users and remote addresses, from the
    /// directory as it is now. `Err` names a recipient accepted at RCPT
    /// that the directory no longer knows (a user deleted, a domain
    /// dropped, while the client was sending).
    fn plan(
        &self,
        conn: &Connection,
        transaction: &Transaction,
    ) -> Result<(Vec<LocalUser>, Vec<String>), String> {
        let mut local: Vec<LocalUser> = Vec::new();
        let mut remote: Vec<String> = Vec::new();
        for path in &transaction.recipients {
            let address = address_of(path, &self.shared.hostname);
            // A bounce to an SRS address of ours goes to the original sender.
            let (address, bounce) = match self.srs_original(&address) {
                Some(original) => (original, true),
                None => (address, false),
            };
            match self.shared.directory.resolve(&address) {
                Recipient::Local(users) if users.is_empty() => return Err(address),
                Recipient::Forward { local: users, .. }
                    if users.is_empty() && self.shared.outbound.is_none() =>
                {
                    return Err(address)
                }
                Recipient::Local(users) => {
                    for user in users {
                        if !local.iter().any(|u| u.address == user.address) {
                            local.push(user);
                        }
                    }
                }
                Recipient::Forward {
                    local: users,
                    remote: targets,
                } => {
                    for user in users {
                        if !local.iter().any(|u| u.address == user.address) {
                            local.push(user);
                        }
                    }
                    if self.shared.outbound.is_some() {
                        for target in targets {
                            if !remote.contains(&target) {
                                remote.push(target);
                            }
                        }
                    }
                }
                Recipient::NotLocal if bounce || conn.authenticated.is_some() => {
                    if !remote.contains(&address) {
                        remote.push(address);
                    }
                }
                Recipient::NotLocal | Recipient::Unknown => return Err(address),
            }
        }
        Ok((local, remote))
    }
}

impl<D: Directory, S: MailboxStore, F: MessageFilter> Handler for MailHandler<D, S, F> {
    type Sink = MessageSink<D, S, F>;

    fn connect(&self, _conn: &Connection) -> Result<(), Reply> {
        self.count(Event::Connected {
            listener: self.listener,
        });
        Ok(())
    }

    fn disconnect(&self, _conn: &Connection) {
        self.count(Event::Disconnected {
            listener: self.listener,
        });
    }

    fn helo(&self, conn: &Connection, _host: &Host, _extended: bool) -> Decision {
        if self.role == Role::Inbound && conn.authenticated.is_none() {
            if let Some(refusal) = self.shared.filter.check_client(conn.peer.ip()) {
                tracing::info!(client = %conn.peer.ip(), reply = %refusal.text, "client refused");
                return self.refuse("dnsbl", refusal_reply(&refusal));
            }
        }
        Decision::Accept
    }

    fn mail_from(&self, conn: &Connection, from: &ReversePath, _params: &MailParams) -> Decision {
        match (&conn.authenticated, self.role) {
            (Some(user), _) => {
                let owned = from
                    .mailbox()
                    .is_some_and(|m| self.shared.directory.may_send_as(user, &m.to_string()));
                if !owned {
                    return self.refuse(
                        "sender_not_owned",
                        reply(
                            553,
                            (5, 7, 1),
                            &format!("Sender address rejected: {from} does not belong to the authenticated user"),
                        ),
                    );
                }
                Decision::Accept
            }
            // The session requires AUTH on submission before MAIL; this is
            // the handler's own guard.
            (None, Role::Submission) => self.refuse(
                "auth_required",
                reply(530, (5, 7, 0), "Authentication required"),
            ),
            (None, Role::Inbound) => Decision::Accept,
        }
    }

    fn rcpt_to(&self, conn: &Connection, to: &ForwardPath, _params: &RcptParams) -> Decision {
        let address = address_of(to, &self.shared.hostname);
        if let Some(decision) = self.srs_recipient(conn, &address) {
            return decision;
        }
        match self.shared.directory.resolve(&address) {
            Recipient::Local(users) if users.is_empty() => self.refuse(
                "unknown_user",
                reply(550, (5, 1, 1), "Recipient address rejected: user unknown"),
            ),
            Recipient::Forward { local, .. }
                if local.is_empty() && self.shared.outbound.is_none() =>
            {
                self.refuse(
                    "unknown_user",
                    reply(550, (5, 1, 1), "Recipient address rejected: it forwards elsewhere and this server has no spool"),
                )
            }
            Recipient::Local(users) | Recipient::Forward { local: users, .. } => {
                for user in &users {
                    match self.shared.store.room(&user.address, user.quota, 1) {
                        Ok(true) => {}
                        Ok(false) => {
                            return self.refuse(
                                "over_quota",
                                reply(452, (4, 2, 2), "Mailbox full, try again later"),
                            )
                        }
                        Err(error) => {
                            tracing::error!(user = %user.address, %error, "quota check failed");
                            self.count(Event::StorageError);
                            return self.refuse(
                                "store_error",
                                reply(451, (4, 3, 0), "Mailbox unavailable, try again later"),
                            );
                        }
                    }
                }
                self.greylist(conn, &address)
            }
            Recipient::Unknown => self.refuse(
                "unknown_user",
                reply(550, (5, 1, 1), "Recipient address rejected: user unknown"),
            ),
            Recipient::NotLocal if conn.authenticated.is_some() => {
                if self.shared.outbound.is_some() {
                    Decision::Accept
                } else {
                    self.refuse(
                        "relay_denied",
                        reply(
                            554,
                            (5, 7, 1),
                            "Relay access denied: this server has no spool for outgoing mail",
                        ),
                    )
                }
            }
            Recipient::NotLocal => {
                self.refuse("relay_denied", reply(554, (5, 7, 1), "Relay access denied"))
            }
        }
    }

    fn data_start(
        &self,
        conn: &Connection,
        transaction: &Transaction,
    ) -> Result<MessageSink<D, S, F>, Reply> {
        // A recipient that went away since its RCPT would lose its copy
        // after a 250; the client is asked to try again instead, and then
        // hears at RCPT what became of it.
        let (local, remote) = self.plan(conn, transaction).map_err(|address| {
            tracing::info!(recipient = %address, "a recipient changed during the transaction");
            reply(
                451,
                (4, 3, 0),
                "a recipient of this message changed while it was sent; try again",
            )
        })?;
        let mail_from = transaction
            .from
            .mailbox()
            .map(ToString::to_string)
            .unwrap_or_default();
        let recipients: Vec<String> = transaction
            .recipients
            .iter()
            .map(|r| address_of(r, &self.shared.hostname))
            .collect();
        let incoming = self.shared.store.begin().map_err(|error| {
            tracing::error!(%error, "could not start storing a message");
            self.count(Event::StorageError);
            try_later()
        })?;
        let helo = sanitize_helo(conn.helo.as_ref(), false);
        let checking = match (&self.shared.checks, &conn.authenticated) {
            (Some(checks), None) => Some(
                checks.start(
                    conn.peer.ip(),
                    conn.helo
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    mail_from.clone(),
                ),
            ),
            _ => None,
        };
        Ok(MessageSink {
            handler: self.clone(),
            incoming: Some(incoming),
            checking,
            facts: MessageFacts {
                client_ip: conn.peer.ip(),
                helo,
                mail_from,
                recipients,
                authenticated: conn.authenticated.clone(),
                queue_id: queue_id(),
                size: 0,
            },
            local,
            remote,
            protocol: transaction.protocol,
            finished: None,
        })
    }

    fn auth(&self, conn: &Connection, request: &AuthRequest) -> Decision {
        let ip = conn.peer.ip();
        let user = request.username().to_owned();
        if !lock(&self.shared.limiter).allowed(Some(&user), ip, Instant::now()) {
            return Decision::Reject(reply(
                454,
                (4, 7, 0),
                "Too many authentication failures, try again later",
            ));
        }
        let password = match request {
            AuthRequest::Plain {
                authzid, password, ..
            } if authzid.as_deref().is_none_or(|a| a == user) => Some(password),
            AuthRequest::Login { password, .. } => Some(password),
            _ => None,
        };
        let verified = password.is_some_and(|p| self.shared.directory.verify(&user, p.expose()));
        if verified {
            lock(&self.shared.limiter).succeeded(&user, ip);
            return Decision::Accept;
        }
        let mut refused = lock(&self.shared.refused_users);
        if refused.len() >= 10_000 {
            refused.clear();
        }
        refused.insert(conn.peer, user);
        Decision::auth_invalid()
    }

    fn auth_failed(&self, conn: &Connection, failures: usize) {
        let ip = conn.peer.ip();
        // A cancelled or garbled exchange named no user.
        let user = lock(&self.shared.refused_users)
            .remove(&conn.peer)
            .unwrap_or_default();
        lock(&self.shared.limiter).failed(&user, ip, Instant::now());
        self.count(Event::AuthFailed {
            listener: self.listener,
        });
        tracing::warn!(user = ?user, client = %ip, failures, "AUTH failed");
    }
}
