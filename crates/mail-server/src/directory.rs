//! Who is local: the [`Directory`] the server asks at RCPT, AUTH and MAIL.

/// One local mailbox a recipient address reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// The user's canonical address (the mailbox's name in the store).
    pub address: String,
    /// The user's quota in bytes, if any.
    pub quota: Option<u64>,
}

/// What a recipient address is to this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// In a local domain, reaching these users (an alias may reach
    /// several; a `+detail` or a catch-all reaches its user).
    Local(Vec<LocalUser>),
    /// An alias that reaches addresses elsewhere too: stored for the
    /// `local` users, queued for the `remote` addresses.
    Forward {
        /// The local users among the targets (maybe none).
        local: Vec<LocalUser>,
        /// The targets in other domains.
        remote: Vec<String>,
    },
    /// In a local domain, but nobody there: `550 5.1.1`.
    Unknown,
    /// Not in a local domain: relayed for authenticated clients only.
    NotLocal,
}

/// The server's users and domains.
///
/// Implemented by `mail_accounts::Accounts` (a users file of argon2
/// hashes plus the `[directory]` table); an embedder may bring its own
/// (LDAP, SQL).
pub trait Directory: Send + Sync + 'static {
    /// What `address` (`local@domain`) reaches.
    fn resolve(&self, address: &str) -> Recipient;
    /// True when `password` is `user`'s. Should cost the same time for an
    /// unknown user as for a known one.
    fn verify(&self, user: &str, password: &str) -> bool;
    /// True when the authenticated `user` may use `mail_from` as the
    /// envelope sender (their own address, or an alias of theirs).
    fn may_send_as(&self, user: &str, mail_from: &str) -> bool;
    /// True when mail for `domain` is delivered here.
    fn is_local_domain(&self, domain: &str) -> bool;
}

impl<D: Directory + ?Sized> Directory for std::sync::Arc<D> {
    fn resolve(&self, address: &str) -> Recipient {
        (**self).resolve(address)
    }
    fn verify(&self, user: &str, password: &str) -> bool {
        (**self).verify(user, password)
    }
    fn may_send_as(&self, user: &str, mail_from: &str) -> bool {
        (**self).may_send_as(user, mail_from)
    }
    fn is_local_domain(&self, domain: &str) -> bool {
        (**self).is_local_domain(domain)
    }
}
