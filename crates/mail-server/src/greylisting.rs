//! Greylisting at RCPT TO: each recipient of an unauthenticated client is
//! judged on its own triplet (client network, sender, recipient) before any
//! content is sent, so a deferred client never sends the body.

use crate::directory::Directory;
use crate::filter::MessageFilter;
use crate::handler::{refusal_reply, MailHandler, Role};
use crate::metrics::Event;
use crate::store::MailboxStore;
use smtp_blocking::{Connection, Decision};
use std::time::SystemTime;

impl<D: Directory, S: MailboxStore, F: MessageFilter> MailHandler<D, S, F> {
    /// The answer to an otherwise acceptable local recipient `address`:
    /// deferred when the filter's greylist does not know its triplet yet.
    /// Authenticated clients and submission are never greylisted.
    pub(crate) fn greylist(&self, conn: &Connection, address: &str) -> Decision {
        if self.role != Role::Inbound || conn.authenticated.is_some() {
            return Decision::Accept;
        }
        let mail_from = conn
            .mail_from
            .as_ref()
            .and_then(|from| from.mailbox())
            .map(ToString::to_string)
            .unwrap_or_default();
        let Some(refusal) = self.shared.filter.check_recipient(
            conn.peer.ip(),
            &mail_from,
            address,
            SystemTime::now(),
        ) else {
            return Decision::Accept;
        };
        tracing::info!(client = %conn.peer.ip(), from = %mail_from, to = %address, reply = %refusal.text, "recipient greylisted");
        self.count(Event::Rejected {
            listener: self.listener,
            reason: "greylist",
        });
        Decision::Reject(refusal_reply(&refusal))
    }
}
