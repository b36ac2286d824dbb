//! Where local mail lands: the [`MailboxStore`], written to as the message
//! arrives and committed once per user before the 250.

use std::io;
use std::path::{Path, PathBuf};

/// Why the store could not take a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The user's mailbox has no room for it: `452 4.2.2`.
    #[error("the mailbox of {user} is over its quota")]
    OverQuota {
        /// The user.
        user: String,
    },
    /// Reading or writing failed: `451 4.3.0`.
    #[error("mailbox store: {0}")]
    Io(#[from] io::Error),
    /// Anything else the store refuses (an unusable user name, say).
    #[error("mailbox store: {0}")]
    Other(String),
}

/// Per-user mailboxes, with quotas.
///
/// Implemented by `maildrop::MailStore` (Maildir++ per user).
pub trait MailboxStore: Send + Sync + 'static {
    /// One message on its way in.
    type Incoming: IncomingMessage;
    /// Starts receiving a message (into a temporary file).
    fn begin(&self) -> Result<Self::Incoming, StoreError>;
    /// True when `user`'s mailbox (with `quota` bytes, if any) has room for
    /// `size` more bytes.
    fn room(&self, user: &str, quota: Option<u64>, size: u64) -> Result<bool, StoreError>;
    /// The Maildir of `user`, which POP3 and IMAP open.
    fn maildir(&self, user: &str) -> Result<PathBuf, StoreError>;
}

/// One message being received: written chunk by chunk, then committed to
/// every recipient's mailbox, or aborted.
pub trait IncomingMessage: Send + 'static {
    /// The next chunk of the message.
    fn write(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// The file holding what was written so far (filters read it).
    fn path(&self) -> &Path;
    /// Stores the message, with `prepend` in front, once per user (each
    /// with its quota), into `folder` (the inbox when `None`), durably
    /// (files and directories synced) before returning. One outcome per
    /// user, in order: a user over quota gets no copy while the others keep
    /// theirs. The outer error is a failure before any copy was stored.
    #[allow(clippy::type_complexity)]
    fn commit(
        self,
        prepend: &[u8],
        users: &[(&str, Option<u64>)],
        folder: Option<&str>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>
    where
        Self: Sized;
    /// Drops the message and whatever was written of it.
    fn abort(self)
    where
        Self: Sized;
}

impl<S: MailboxStore + ?Sized> MailboxStore for std::sync::Arc<S> {
    type Incoming = S::Incoming;
    fn begin(&self) -> Result<Self::Incoming, StoreError> {
        (**self).begin()
    }
    fn room(&self, user: &str, quota: Option<u64>, size: u64) -> Result<bool, StoreError> {
        (**self).room(user, quota, size)
    }
    fn maildir(&self, user: &str) -> Result<PathBuf, StoreError> {
        (**self).maildir(user)
    }
}
