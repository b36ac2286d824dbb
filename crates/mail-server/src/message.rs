//! One message at the end of its data: DMARC's policy and the filters
//! decide, then it is stored for the local users and queued for the remote
//! ones, both durably before the 250, and logged once.

use crate::checks::{Checked, Checking};
use crate::directory::{Directory, LocalUser};
use crate::filter::{FilterVerdict, MessageFacts, MessageFilter};
use crate::handler::{refusal_reply, reply, try_later, MailHandler};
use crate::metrics::Event;
use crate::received::{header_field, received_field};
use crate::store::{IncomingMessage, MailboxStore, StoreError};
use mailwire_auth::Verdict;
use smtp_blocking::{Decision, Sink};
use smtp_proto::Reply;
use std::fmt;
use std::time::{Duration, Instant};

/// One message on its way into the mailboxes (and the spool).
pub struct MessageSink<D, S: MailboxStore, F> {
    pub(crate) handler: MailHandler<D, S, F>,
    pub(crate) incoming: Option<S::Incoming>,
    pub(crate) checking: Option<Checking>,
    pub(crate) facts: MessageFacts,
    pub(crate) local: Vec<LocalUser>,
    pub(crate) remote: Vec<String>,
    pub(crate) protocol: &'static str,
    /// When the end of the data arrived.
    pub(crate) finished: Option<Instant>,
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
            // Quotas: a message that fits no recipient's mailbox is refused
            // (452, the client keeps it and tries again). When it fits some
            // but not others, there is no reply that says so after DATA: it
            // is stored for every recipient, the full mailboxes going over
            // their quota by this message (as Dovecot's quota grace does),
            // and their next RCPT gets 452. No recipient's copy is lost.
            let size = prepend.len() as u64 + facts.size;
            let fits = |u: &LocalUser| {
                u.quota.is_none()
                    || self
                        .shared
                        .store
                        .room(&u.address, u.quota, size)
                        .unwrap_or(true)
            };
            // One recipient: the commit itself enforces the quota (and a
            // refusal loses nothing), so no check is made here.
            let fitting = if sink.local.len() > 1 {
                sink.local.iter().filter(|u| fits(u)).count()
            } else {
                0
            };
            // With several recipients and room for at least one, quotas
            // were checked just now and are not enforced again at the
            // commit: a mailbox filled meanwhile by another delivery must
            // not make this one lose its copy either.
            let grace = sink.local.len() > 1 && fitting > 0;
            if grace && fitting < sink.local.len() {
                tracing::warn!(queue_id = %facts.queue_id, "stored over quota for recipients whose mailbox is full, so that none loses it");
            }
            let users: Vec<(&str, Option<u64>)> = sink
                .local
                .iter()
                .map(|u| (u.address.as_str(), if grace { None } else { u.quota }))
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
            let sender = self.forward_sender(&facts.mail_from);
            if let Err(error) = outbound.enqueue(&sender, sink.remote.clone(), message) {
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
