//! The SMTP handler: every decision of port 25 and of submission, and the
//! sink that streams each message into the store (and the spool).

use crate::checks::{AuthChecks, Checked, Checking};
use crate::directory::{Directory, LocalUser, Recipient};
use crate::filter::{FilterVerdict, MessageFacts, MessageFilter, Refusal};
use crate::limiter::LoginLimiter;
use crate::metrics::{Event, ServerMetrics};
use crate::outbound::Outbound;
use crate::received::{header_field, received_field, sanitize_helo};
use crate::store::{IncomingMessage, MailboxStore, StoreError};
use mailwire_auth::Verdict;
use smtp_blocking::{Connection, Decision, Handler, Sink, Transaction};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::{
    EnhancedStatus, ForwardPath, Host, MailParams, RcptParams, Reply, ReplyCode, ReversePath,
};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
            refused_users: Mutex::default(),
        }
    }
}

/// The mail server's SMTP handler for one listener's [`Role`]; clones share
/// everything (directory, store, filters, spool, counters).
pub struct MailHandler<D, S, F> {
    shared: Arc<Shared<D, S, F>>,
    role: Role,
    listener: &'static str,
    /// Its connections start with TLS (port 465).
    implicit_tls: bool,
}

impl<D, S, F> Clone for MailHandler<D, S, F> {
    fn clone(&self) -> Self {
        MailHandler {
            shared: Arc::clone(&self.shared),
            role: self.role,
            listener: self.listener,
            implicit_tls: self.implicit_tls,
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

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A reply from constant parts; a text a reply cannot hold (CR, LF) falls
/// back to the bare code.
fn reply(code: u16, status: (u8, u16, u16), text: &str) -> Reply {
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

fn refusal_reply(refusal: &Refusal) -> Reply {
    let code = if (400..600).contains(&refusal.code) {
        refusal.code
    } else {
        451
    };
    reply(code, refusal.status, &refusal.text)
}

fn try_later() -> Reply {
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
            implicit_tls: false,
        }
    }

    /// The same handler for another listener: its name (in logs and
    /// metrics), its role, and whether its connections start with TLS.
    pub fn for_listener(
        &self,
        listener: &'static str,
        role: Role,
        implicit_tls: bool,
    ) -> MailHandler<D, S, F> {
        MailHandler {
            shared: Arc::clone(&self.shared),
            role,
            listener,
            implicit_tls,
        }
    }

    fn count(&self, event: Event<'_>) {
        self.shared.metrics.record(event);
    }

    fn refuse(&self, reason: &'static str, reply: Reply) -> Decision {
        self.count(Event::Rejected {
            listener: self.listener,
            reason,
        });
        Decision::Reject(reply)
    }

    /// The recipients of a transaction, as local users (each once) and
    /// remote addresses (kept only for an authenticated client).
    fn plan(&self, conn: &Connection, transaction: &Transaction) -> (Vec<LocalUser>, Vec<String>) {
        let mut local: Vec<LocalUser> = Vec::new();
        let mut remote: Vec<String> = Vec::new();
        for path in &transaction.recipients {
            let address = address_of(path, &self.shared.hostname);
            match self.shared.directory.resolve(&address) {
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
                Recipient::NotLocal if conn.authenticated.is_some() => {
                    if !remote.contains(&address) {
                        remote.push(address);
                    }
                }
                Recipient::NotLocal | Recipient::Unknown => {}
            }
        }
        (local, remote)
    }
}

impl<D: Directory, S: MailboxStore, F: MessageFilter> Handler for MailHandler<D, S, F> {
    type Sink = MessageSink<D, S, F>;

    fn helo(&self, conn: &Connection, _host: &Host, _extended: bool) -> Decision {
        // Once per connection: the EHLO after STARTTLS is not another one.
        if conn.tls.is_none() || self.implicit_tls {
            self.count(Event::Session {
                listener: self.listener,
            });
        }
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
                Decision::Accept
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
        let (local, remote) = self.plan(conn, transaction);
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
        if conn.authenticated.is_none() {
            if let Some(refusal) = self.shared.filter.check_envelope(
                conn.peer.ip(),
                &mail_from,
                &recipients,
                SystemTime::now(),
            ) {
                self.count(Event::Rejected {
                    listener: self.listener,
                    reason: "greylist",
                });
                tracing::info!(client = %conn.peer.ip(), from = %mail_from, reply = %refusal.text, "envelope refused");
                return Err(refusal_reply(&refusal));
            }
        }
        let incoming = self.shared.store.begin().map_err(|error| {
            tracing::error!(%error, "could not start storing a message");
            self.count(Event::StorageError);
            try_later()
        })?;
        let helo = sanitize_helo(conn.helo.as_ref());
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

/// One message on its way into the mailboxes (and the spool).
pub struct MessageSink<D, S: MailboxStore, F> {
    handler: MailHandler<D, S, F>,
    incoming: Option<S::Incoming>,
    checking: Option<Checking>,
    facts: MessageFacts,
    local: Vec<LocalUser>,
    remote: Vec<String>,
    protocol: &'static str,
    /// When the end of the data arrived.
    finished: Option<Instant>,
}

impl<D, S: MailboxStore, F> fmt::Debug for MessageSink<D, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageSink")
            .field("queue_id", &self.facts.queue_id)
            .field("size", &self.facts.size)
            .finish_non_exhaustive()
    }
}

impl<D: Directory, S: MailboxStore, F: MessageFilter> Sink for MessageSink<D, S, F> {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Reply> {
        self.facts.size += chunk.len() as u64;
        if let Some(checking) = &mut self.checking {
            checking.feed(chunk);
        }
        let Some(incoming) = &mut self.incoming else {
            return Err(try_later());
        };
        incoming.write(chunk).map_err(|error| {
            tracing::error!(queue_id = %self.facts.queue_id, %error, "storing a message failed");
            self.handler.count(Event::StorageError);
            try_later()
        })
    }

    fn finish(mut self) -> Decision {
        self.finished = Some(Instant::now());
        let handler = self.handler.clone();
        handler.finish_message(self)
    }

    fn abort(mut self) {
        if let Some(incoming) = self.incoming.take() {
            incoming.abort();
        }
    }
}

/// Where a message goes and what is put on top of it.
struct Outcome {
    folder: Option<String>,
    fields: String,
}

/// Why a message is refused at its end: the reason counted, the reply.
struct Refused(&'static str, Reply);

/// Each filter's verdict, `name=verdict` joined with spaces (for the log).
fn filter_summary(per_filter: &[(String, &'static str)]) -> String {
    per_filter
        .iter()
        .map(|(name, verdict)| format!("{name}={verdict}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl<D: Directory, S: MailboxStore, F: MessageFilter> MailHandler<D, S, F> {
    fn finish_message(&self, mut sink: MessageSink<D, S, F>) -> Decision {
        let Some(incoming) = sink.incoming.take() else {
            return Decision::Reject(try_later());
        };
        let checked = sink.checking.take().map(Checking::finish);
        let mut filters = String::new();
        let (decision, quarantined) =
            match self.decide(&sink, checked.as_ref(), incoming.path(), &mut filters) {
                Ok(outcome) => {
                    let quarantined = outcome.folder.is_some();
                    (self.deliver(&sink, incoming, outcome), quarantined)
                }
                Err(Refused(reason, reply)) => {
                    incoming.abort();
                    (self.refuse(reason, reply), false)
                }
            };
        let (word, reply) = match &decision {
            Decision::AcceptWith(reply) if quarantined => ("quarantined", reply_text(reply)),
            Decision::AcceptWith(reply) => ("accepted", reply_text(reply)),
            Decision::Reject(reply) => {
                let text = reply_text(reply);
                let word = if text.starts_with('4') {
                    "tempfailed"
                } else {
                    "rejected"
                };
                (word, text)
            }
            _ => ("accepted", "250".to_owned()),
        };
        let facts = &sink.facts;
        let client = facts.client_ip.to_string();
        let auth_results = checked
            .as_ref()
            .map(|c| c.header.split_whitespace().collect::<Vec<_>>().join(" "));
        mail_metrics::logging::MessageLog {
            queue_id: &facts.queue_id,
            listener: self.listener,
            client: &client,
            helo: &facts.helo,
            mail_from: &facts.mail_from,
            recipients: &facts.recipients,
            user: facts.authenticated.as_deref(),
            size: facts.size,
            outcome: word,
            reply: &reply,
            auth_results: auth_results.as_deref(),
            filters: &filters,
            reply_ms: sink.finished.map_or(0, |t| {
                u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
            }),
        }
        .emit();
        decision
    }

    /// DMARC's policy, then the filters.
    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        sink: &MessageSink<D, S, F>,
        checked: Option<&Checked>,
        path: &std::path::Path,
        filters: &mut String,
    ) -> Result<Outcome, Refused> {
        let mut folder = None;
        let mut fields = String::new();
        if let Some(checked) = checked {
            fields.push_str(&checked.header);
            match checked.verdict {
                Verdict::Reject => {
                    let domain = checked.from_domain.clone().unwrap_or_default();
                    return Err(Refused(
                        "dmarc",
                        reply(
                            550,
                            (5, 7, 26),
                            &format!("Message rejected: it fails the DMARC policy of {domain}"),
                        ),
                    ));
                }
                Verdict::Quarantine => {
                    fields.push_str(
                        "X-Mailwire-Quarantine: DMARC failed under the sender's p=quarantine\r\n",
                    );
                    folder = Some(self.shared.junk_folder.clone());
                }
                Verdict::Deliver => {}
            }
        }
        let outcome = self.shared.filter.check_message(&sink.facts, path);
        *filters = filter_summary(&outcome.per_filter);
        for (filter, verdict) in &outcome.per_filter {
            self.count(Event::FilterVerdict { filter, verdict });
        }
        let add = |fields: &mut String, headers: &[(String, String)]| {
            for (name, value) in headers {
                if let Some(field) = header_field(name, value) {
                    fields.push_str(&field);
                }
            }
        };
        match outcome.verdict {
            FilterVerdict::Accept { add_headers } => add(&mut fields, &add_headers),
            FilterVerdict::Quarantine {
                reason,
                add_headers,
            } => {
                add(&mut fields, &add_headers);
                if let Some(field) = header_field("X-Mailwire-Quarantine", &reason) {
                    fields.push_str(&field);
                }
                folder = Some(self.shared.junk_folder.clone());
            }
            FilterVerdict::Reject(refusal) => {
                return Err(Refused("filter", refusal_reply(&refusal)))
            }
            FilterVerdict::TempFail { text } => {
                return Err(Refused("filter", reply(451, (4, 7, 1), &text)))
            }
        }
        Ok(Outcome { folder, fields })
    }

    /// Stores for the local users, queues for the remote ones: both
    /// durable before the 250.
    fn deliver(
        &self,
        sink: &MessageSink<D, S, F>,
        incoming: S::Incoming,
        outcome: Outcome,
    ) -> Decision {
        let facts = &sink.facts;
        let received = received_field(
            &facts.helo,
            facts.client_ip,
            &self.shared.hostname,
            sink.protocol,
            &facts.queue_id,
            facts.authenticated.as_deref(),
        );
        let mut prepend = received.into_bytes();
        let outbound = self.shared.outbound.as_ref();
        // Mail that leaves (and mail from an authenticated user, whose local
        // copies carry the same signature) is read whole: the spool keeps
        // bodies in its database.
        let mut content = None;
        let signs = facts.authenticated.is_some() && outbound.is_some();
        if signs || !sink.remote.is_empty() {
            match std::fs::read(incoming.path()) {
                Ok(body) => content = Some(body),
                Err(error) => {
                    tracing::error!(queue_id = %facts.queue_id, %error, "reading the received message failed");
                    incoming.abort();
                    self.count(Event::StorageError);
                    return self.refuse("store_error", try_later());
                }
            }
        }
        if let (true, Some(outbound), Some(body)) = (signs, outbound, &content) {
            let now = u64::try_from(crate::received::now_secs()).unwrap_or(0);
            match outbound.sign(body, now) {
                Ok(signature) => prepend.extend_from_slice(signature.as_bytes()),
                Err(error) => {
                    tracing::error!(queue_id = %facts.queue_id, %error, "DKIM signing failed");
                    incoming.abort();
                    return self.refuse(
                        "dkim_error",
                        reply(
                            451,
                            (4, 3, 0),
                            "Could not sign the message, try again later",
                        ),
                    );
                }
            }
        }
        prepend.extend_from_slice(outcome.fields.as_bytes());
        // Local copies first: when none can be stored, nothing is queued
        // either and the client may try again without duplicates.
        let mut not_stored: Vec<String> = Vec::new();
        if sink.local.is_empty() {
            incoming.abort();
        } else {
            let users: Vec<(&str, Option<u64>)> = sink
                .local
                .iter()
                .map(|u| (u.address.as_str(), u.quota))
                .collect();
            let outcomes = incoming.commit(&prepend, &users, outcome.folder.as_deref());
            let mut first_error = None;
            let mut stored = 0;
            match outcomes {
                Ok(outcomes) => {
                    for ((user, _), result) in users.iter().zip(outcomes) {
                        match result {
                            Ok(()) => stored += 1,
                            Err(error) => {
                                tracing::warn!(queue_id = %facts.queue_id, user = %user, %error, "not stored for this user");
                                not_stored.push((*user).to_owned());
                                first_error.get_or_insert(error);
                            }
                        }
                    }
                }
                Err(error) => {
                    first_error = Some(error);
                }
            }
            if stored == 0 {
                if let Some(error) = first_error {
                    let (reason, answer) = match &error {
                        StoreError::OverQuota { .. } => (
                            "over_quota",
                            reply(452, (4, 2, 2), "Mailbox full, try again later"),
                        ),
                        _ => {
                            self.count(Event::StorageError);
                            ("store_error", try_later())
                        }
                    };
                    tracing::error!(queue_id = %facts.queue_id, %error, "storing failed");
                    return self.refuse(reason, answer);
                }
            }
        }
        if !sink.remote.is_empty() {
            let (Some(outbound), Some(body)) = (outbound, content) else {
                return self.refuse("relay_denied", reply(554, (5, 7, 1), "Relay access denied"));
            };
            let mut message = prepend.clone();
            message.extend_from_slice(&body);
            if let Err(error) = outbound.enqueue(&facts.mail_from, sink.remote.clone(), message) {
                tracing::error!(queue_id = %facts.queue_id, %error, "queueing failed");
                return self.refuse(
                    "spool_error",
                    reply(
                        451,
                        (4, 3, 0),
                        "Could not queue the message, try again later",
                    ),
                );
            }
        }
        self.count(Event::Accepted {
            listener: self.listener,
            bytes: facts.size,
            quarantined: outcome.folder.is_some(),
            took: sink.finished.map_or(Duration::ZERO, |t| t.elapsed()),
        });
        Decision::AcceptWith(reply(
            250,
            (2, 0, 0),
            &format!("Ok: queued as {}", facts.queue_id),
        ))
    }
}

fn reply_text(reply: &Reply) -> String {
    reply.to_string().trim_end().to_owned()
}
