//! Checks on a message and its client: the [`MessageFilter`] the server
//! runs at the end of DATA (and, optionally, on the client's address and on
//! each recipient before the content).

use std::net::IpAddr;
use std::path::Path;
use std::time::SystemTime;

/// What a filter knows about a message besides its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFacts {
    /// The client's address.
    pub client_ip: IpAddr,
    /// The name the client gave in EHLO/HELO.
    pub helo: String,
    /// The envelope sender (empty for `<>`).
    pub mail_from: String,
    /// The envelope recipients.
    pub recipients: Vec<String>,
    /// The authenticated user, if any.
    pub authenticated: Option<String>,
    /// The server's id for the message (in logs and the 250 reply).
    pub queue_id: String,
    /// The message's size as received.
    pub size: u64,
}

/// A refusal: the reply's code, enhanced status and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A 4yz or 5yz code.
    pub code: u16,
    /// The enhanced status code (RFC 3463).
    pub status: (u8, u16, u16),
    /// The reply's text (one line).
    pub text: String,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterVerdict {
    /// Store it, with these header fields added on top.
    Accept {
        /// Fields to add (name, value).
        add_headers: Vec<(String, String)>,
    },
    /// Refuse it with this reply.
    Reject(Refusal),
    /// Store it in each recipient's junk folder.
    Quarantine {
        /// Why (logged, and added as `X-Mailwire-Quarantine`).
        reason: String,
        /// Fields to add (name, value).
        add_headers: Vec<(String, String)>,
    },
    /// Answer `451 4.7.1` with this text: the client tries again later.
    TempFail {
        /// The reply's text.
        text: String,
    },
}

impl FilterVerdict {
    /// The verdict's name in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            FilterVerdict::Accept { .. } => "accept",
            FilterVerdict::Reject(_) => "reject",
            FilterVerdict::Quarantine { .. } => "quarantine",
            FilterVerdict::TempFail { .. } => "tempfail",
        }
    }
}

/// A verdict and which filter gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterOutcome {
    /// The verdict.
    pub verdict: FilterVerdict,
    /// The filter that decided, when one did (`None`: every filter
    /// accepted, or there were none).
    pub decided_by: Option<String>,
    /// Each filter that ran and what it said (`accept`, `reject`,
    /// `quarantine`, `tempfail`, or `failed`), for the metrics.
    pub per_filter: Vec<(String, &'static str)>,
}

impl FilterOutcome {
    /// Accept with nothing added, decided by no one.
    pub fn accept() -> FilterOutcome {
        FilterOutcome {
            verdict: FilterVerdict::Accept {
                add_headers: Vec::new(),
            },
            decided_by: None,
            per_filter: Vec::new(),
        }
    }
}

/// The server's filters.
///
/// Implemented by `mail_filter`'s chain (size and header rules, rspamd,
/// clamd, an external command, greylisting, DNSBL); [`NoFilters`] accepts
/// everything.
pub trait MessageFilter: Send + Sync + 'static {
    /// The end of DATA: the message (without the fields the server adds)
    /// is in the file at `message`. Read it, don't hold it whole.
    fn check_message(&self, facts: &MessageFacts, message: &Path) -> FilterOutcome;

    /// The client's address, at its EHLO/HELO (a DNSBL lookup, say):
    /// `Some` refuses the session's mail. Accepts by default.
    fn check_client(&self, _ip: IpAddr) -> Option<Refusal> {
        None
    }

    /// An unauthenticated client's recipient, at its RCPT TO, before any
    /// content is sent (greylisting on the triplet of client network,
    /// sender and this recipient): `Some` refuses this recipient (a 4yz
    /// reply defers it; the client tries again later). Accepts by default.
    fn check_recipient(
        &self,
        _ip: IpAddr,
        _mail_from: &str,
        _recipient: &str,
        _now: SystemTime,
    ) -> Option<Refusal> {
        None
    }
}

/// No filters: every message is accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFilters;

impl MessageFilter for NoFilters {
    fn check_message(&self, _facts: &MessageFacts, _message: &Path) -> FilterOutcome {
        FilterOutcome::accept()
    }
}

impl<F: MessageFilter + ?Sized> MessageFilter for std::sync::Arc<F> {
    fn check_message(&self, facts: &MessageFacts, message: &Path) -> FilterOutcome {
        (**self).check_message(facts, message)
    }
    fn check_client(&self, ip: IpAddr) -> Option<Refusal> {
        (**self).check_client(ip)
    }
    fn check_recipient(
        &self,
        ip: IpAddr,
        mail_from: &str,
        recipient: &str,
        now: SystemTime,
    ) -> Option<Refusal> {
        (**self).check_recipient(ip, mail_from, recipient, now)
    }
}
