//! What the application sends (an [`Envelope`]) and what it gets back (a
//! [`DeliveryReport`]).

use crate::types::{Body, ForwardPath, Notify, Orcpt, Reply, Ret, ReversePath};

/// One recipient, with its DSN parameters (RFC 3461).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address.
    pub path: ForwardPath,
    /// `NOTIFY=`: when to send a delivery status notification.
    pub notify: Option<Notify>,
    /// `ORCPT=`: the original recipient.
    pub orcpt: Option<Orcpt>,
}

impl Recipient {
    /// A recipient without DSN parameters.
    pub fn new(path: impl Into<ForwardPath>) -> Recipient {
        Recipient {
            path: path.into(),
            notify: None,
            orcpt: None,
        }
    }

    /// Asks for notifications.
    pub fn with_notify(mut self, notify: Notify) -> Recipient {
        self.notify = Some(notify);
        self
    }

    /// Records the original recipient.
    pub fn with_orcpt(mut self, orcpt: Orcpt) -> Recipient {
        self.orcpt = Some(orcpt);
        self
    }

    fn needs_dsn(&self) -> bool {
        self.notify.is_some() || self.orcpt.is_some()
    }
}

/// The envelope of one message: sender, recipients and what the body needs.
///
/// ```
/// use smtp_proto::session::{Envelope, Recipient};
/// use smtp_proto::{Body, Mailbox};
///
/// let envelope = Envelope::new(Mailbox::parse("alice@example.com").unwrap().into())
///     .with_recipient(Recipient::new(Mailbox::parse("bob@example.org").unwrap()))
///     .with_size(2048)
///     .with_body(Body::EightBitMime);
/// assert_eq!(envelope.recipients.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// `MAIL FROM:` (null for bounces).
    pub from: ReversePath,
    /// `RCPT TO:`, in order.
    pub recipients: Vec<Recipient>,
    /// The body size in octets, when known: checked against the server's SIZE
    /// and sent as `SIZE=`.
    pub size: Option<u64>,
    /// What the body holds: 7-bit, 8-bit text (8BITMIME) or binary (BINARYMIME).
    pub body: Body,
    /// `RET=` (DSN).
    pub dsn_ret: Option<Ret>,
    /// `ENVID=` (DSN).
    pub dsn_envid: Option<String>,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
}

impl Envelope {
    /// A 7-bit message from `from`, with no recipients yet.
    pub fn new(from: ReversePath) -> Envelope {
        Envelope {
            from,
            recipients: Vec::new(),
            size: None,
            body: Body::SevenBit,
            dsn_ret: None,
            dsn_envid: None,
            requiretls: false,
        }
    }

    /// Adds a recipient.
    pub fn with_recipient(mut self, recipient: Recipient) -> Envelope {
        self.recipients.push(recipient);
        self
    }

    /// Sets the body size.
    pub fn with_size(mut self, size: u64) -> Envelope {
        self.size = Some(size);
        self
    }

    /// Sets the body type.
    pub fn with_body(mut self, body: Body) -> Envelope {
        self.body = body;
        self
    }

    /// Sets `RET=`.
    pub fn with_dsn_ret(mut self, ret: Ret) -> Envelope {
        self.dsn_ret = Some(ret);
        self
    }

    /// Sets `ENVID=`.
    pub fn with_dsn_envid(mut self, envid: impl Into<String>) -> Envelope {
        self.dsn_envid = Some(envid.into());
        self
    }

    /// Asks for `REQUIRETLS`.
    pub fn with_requiretls(mut self, on: bool) -> Envelope {
        self.requiretls = on;
        self
    }

    pub(super) fn needs_dsn(&self) -> bool {
        self.dsn_ret.is_some()
            || self.dsn_envid.is_some()
            || self.recipients.iter().any(Recipient::needs_dsn)
    }

    pub(super) fn needs_smtputf8(&self) -> bool {
        let from = self.from.mailbox().is_some_and(|m| !m.is_ascii());
        from || self
            .recipients
            .iter()
            .any(|r| r.path.mailbox().is_some_and(|m| !m.is_ascii()))
    }
}

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecipientStatus {
    /// RCPT was accepted with this reply.
    Accepted(Reply),
    /// RCPT was refused with this reply.
    Rejected(Reply),
    /// RCPT was never sent (MAIL was refused first).
    NotTried,
}

/// The result of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Each recipient, in envelope order, with its outcome.
    pub recipients: Vec<(ForwardPath, RecipientStatus)>,
    /// The reply to MAIL.
    pub mail_reply: Option<Reply>,
    /// The reply that ended the transaction: to the end of data, or the
    /// refusal of DATA / BDAT.
    pub final_reply: Option<Reply>,
    /// The server's queue id, read from the final reply when it shows one.
    pub queue_id: Option<String>,
}

impl DeliveryReport {
    /// The recipients the server accepted.
    pub fn accepted(&self) -> impl Iterator<Item = &ForwardPath> {
        self.recipients
            .iter()
            .filter(|(_, s)| matches!(s, RecipientStatus::Accepted(_)))
            .map(|(p, _)| p)
    }
}

/// Reads a queue id from a positive end-of-data reply, best effort:
/// `queued as ID` (Postfix), `id=ID` (Exim), `OK <time> ID - gsmtp` (Gmail),
/// `ID Message accepted for delivery` (Sendmail).
pub(super) fn queue_id(reply: &Reply) -> Option<String> {
    let text = reply.lines().last()?;
    let clean = |t: &str| {
        let t = t.trim_matches(|c: char| {
            matches!(c, '(' | ')' | '<' | '>' | '[' | ']' | ',' | ';' | '.' | ':')
        });
        (!t.is_empty()).then(|| t.to_owned())
    };
    let lower = text.to_ascii_lowercase();
    if let Some(pos) = lower.find("queued as ") {
        let rest = text.get(pos + "queued as ".len()..)?;
        return rest.split_whitespace().next().and_then(clean);
    }
    if let Some(pos) = lower.find("id=") {
        let rest = text.get(pos + 3..)?;
        return rest.split_whitespace().next().and_then(clean);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.first().is_some_and(|w| w.eq_ignore_ascii_case("ok")) && words.len() > 1 {
        let mut tail = words.get(1..).unwrap_or(&[]);
        if let [rest @ .., "-", "gsmtp"] = tail {
            tail = rest;
        }
        return tail.last().and_then(|w| clean(w));
    }
    if lower.contains("message accepted for delivery") && words.len() > 1 {
        return words.first().and_then(|w| clean(w));
    }
    None
}
