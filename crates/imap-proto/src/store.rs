//! What the session asks of the mailbox store. The driver implements
//! [`Mailstore`] over real storage (a Maildir++ tree in `imap-blocking`);
//! tests use an in-memory one. The session itself does no I/O: it calls
//! the store it is handed with each input.

use crate::columns::Columns;
use crate::summary::Summary;
use std::fmt;

/// The system flags a Maildir can keep in its file names (`:2,DFRST`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// `\Answered` (Maildir `R`).
    pub const ANSWERED: Flags = Flags(1);
    /// `\Flagged` (Maildir `F`).
    pub const FLAGGED: Flags = Flags(2);
    /// `\Deleted` (Maildir `T`).
    pub const DELETED: Flags = Flags(4);
    /// `\Seen` (Maildir `S`).
    pub const SEEN: Flags = Flags(8);
    /// `\Draft` (Maildir `D`).
    pub const DRAFT: Flags = Flags(16);
    /// No flag.
    pub const EMPTY: Flags = Flags(0);

    const ALL: [(Flags, &'static str, char); 5] = [
        (Flags::ANSWERED, "\\Answered", 'R'),
        (Flags::FLAGGED, "\\Flagged", 'F'),
        (Flags::DELETED, "\\Deleted", 'T'),
        (Flags::SEEN, "\\Seen", 'S'),
        (Flags::DRAFT, "\\Draft", 'D'),
    ];

    /// True if every flag of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Both sets.
    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    /// This set without `other`.
    pub fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
    /// The IMAP names, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::ALL
            .into_iter()
            .filter(move |(f, _, _)| self.contains(*f))
            .map(|(_, name, _)| name)
    }
    /// The Maildir info letters, in ASCII order as the Maildir spec asks.
    pub fn maildir_letters(self) -> String {
        let mut letters: Vec<char> = Flags::ALL
            .into_iter()
            .filter(|(f, _, _)| self.contains(*f))
            .map(|(_, _, c)| c)
            .collect();
        letters.sort_unstable();
        letters.into_iter().collect()
    }
    /// Reads Maildir info letters; letters for other flags are ignored.
    pub fn from_maildir_letters(letters: &str) -> Flags {
        let mut flags = Flags::EMPTY;
        for c in letters.chars() {
            if let Some((f, _, _)) = Flags::ALL.into_iter().find(|(_, _, l)| *l == c) {
                flags = flags.union(f);
            }
        }
        flags
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// One message of a folder as the store lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// Its UID, stable while the folder's UIDVALIDITY holds.
    pub uid: u32,
    /// Its flags.
    pub flags: Flags,
    /// Its size in octets.
    pub size: u64,
    /// INTERNALDATE as seconds since the Unix epoch (UTC).
    pub internal_date: i64,
    /// It arrived since a session last selected the folder (`\Recent`).
    pub recent: bool,
}

/// A folder's listing: what SELECT, STATUS and the update checks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderView {
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// The UID the next message will get.
    pub uid_next: u32,
    /// The messages in ascending UID order.
    pub messages: Vec<MessageMeta>,
}

/// Why the store could not do what the session asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such folder.
    #[error("no such mailbox")]
    NoSuchFolder,
    /// The folder already exists.
    #[error("mailbox already exists")]
    AlreadyExists,
    /// The name cannot be a folder here.
    #[error("invalid mailbox name")]
    InvalidName,
    /// The message is gone (expunged by another session).
    #[error("message is gone")]
    NoSuchMessage,
    /// The operation is not allowed (for example deleting INBOX).
    #[error("{0}")]
    NotAllowed(String),
    /// A storage failure; the text is for the client, without paths.
    #[error("storage failure: {0}")]
    Io(String),
}

/// The result of a COPY or MOVE: the target's UIDVALIDITY and the new UIDs
/// in the order of the source UIDs (for the UIDPLUS `COPYUID` code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The target folder's UIDVALIDITY.
    pub uid_validity: u32,
    /// `(source uid, new uid)` pairs.
    pub uids: Vec<(u32, u32)>,
}

/// Mailbox access for one authenticated user. Folder names are as the
/// client writes them, with `.` as the hierarchy separator and `INBOX`
/// spelled in capitals.
pub trait Mailstore {
    /// Every folder, `INBOX` included.
    fn folders(&mut self) -> Result<Vec<String>, StoreError>;
    /// Creates a folder.
    fn create(&mut self, name: &str) -> Result<(), StoreError>;
    /// Deletes a folder and its messages.
    fn delete(&mut self, name: &str) -> Result<(), StoreError>;
    /// Renames a folder (and its subfolders).
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError>;
    /// Lists a folder. With `claim_recent`, messages new since the last
    /// claim are reported `recent` once and then no longer (SELECT does
    /// this; EXAMINE, STATUS and update checks do not).
    fn view(&mut self, folder: &str, claim_recent: bool) -> Result<FolderView, StoreError>;
    /// The whole message. The session asks for it only for what it cannot
    /// answer from [`summary`](Self::summary) or stream with
    /// [`read_at`](Self::read_at): sections of MIME parts.
    fn read(&mut self, folder: &str, uid: u32) -> Result<Vec<u8>, StoreError>;
    /// Up to `buf.len()` octets of the message from `offset`; the count
    /// read, 0 at its end. FETCH of `BODY[]`, `BODY[TEXT]` and partials, and
    /// SEARCH BODY/TEXT, read messages this way, a bounded chunk at a time.
    /// The default reads the whole message (for small test stores).
    fn read_at(
        &mut self,
        folder: &str,
        uid: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StoreError> {
        let bytes = self.read(folder, uid)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }
    /// The message's [`Summary`], with its structure when `structure` is
    /// set. A store may keep summaries (the Maildir store keeps them in a
    /// cache file per folder); the default computes it from the message.
    fn summary(&mut self, folder: &str, uid: u32, structure: bool) -> Result<Summary, StoreError> {
        let _ = structure;
        Ok(Summary::of(&self.read(folder, uid)?))
    }
    /// The day of the message's Date field ([`Summary::sent_day`]), for
    /// SENTSINCE, SENTBEFORE and SENTON. A store with a cache may answer it
    /// from memory; the default takes it from the summary.
    fn sent_day(&mut self, folder: &str, uid: u32) -> Result<Option<i32>, StoreError> {
        Ok(self.summary(folder, uid, false)?.sent_day)
    }
    /// The message's search [`Columns`] (sent day, From, To, Cc, Bcc and
    /// Subject as the header SEARCH keys match them), written into `out`
    /// (a buffer the session reuses). A store may keep them apart from the
    /// summaries (the Maildir store keeps `.mailwire-imapsearch`, read in
    /// one pass); the default takes them from the summary.
    fn search_columns(
        &mut self,
        folder: &str,
        uid: u32,
        out: &mut Columns,
    ) -> Result<(), StoreError> {
        out.fill(&self.summary(folder, uid, false)?);
        Ok(())
    }
    /// Replaces a message's flags.
    fn set_flags(&mut self, folder: &str, uid: u32, flags: Flags) -> Result<(), StoreError>;
    /// Removes messages for good.
    fn expunge(&mut self, folder: &str, uids: &[u32]) -> Result<(), StoreError>;
    /// Copies messages (with their flags) into another folder.
    fn copy(&mut self, folder: &str, uids: &[u32], to: &str) -> Result<Copied, StoreError>;
    /// Starts storing a new message of `size` octets in `folder` (APPEND):
    /// refused here (no such folder, too large) before the client sends
    /// it. The octets follow through [`append_data`](Self::append_data) as
    /// they arrive; then [`append_finish`](Self::append_finish) or
    /// [`append_abort`](Self::append_abort). One append at a time.
    fn append_begin(&mut self, folder: &str, size: u64) -> Result<(), StoreError>;
    /// The next octets of the message being appended.
    fn append_data(&mut self, chunk: &[u8]) -> Result<(), StoreError>;
    /// Stores the appended message; returns the folder's UIDVALIDITY and
    /// its UID.
    fn append_finish(
        &mut self,
        flags: Flags,
        internal_date: Option<i64>,
    ) -> Result<(u32, u32), StoreError>;
    /// Drops the message being appended.
    fn append_abort(&mut self);
}

/// The store to hand the session before login: every call fails. The
/// session never calls it in the Not Authenticated state.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStore;

impl Mailstore for NoStore {
    fn folders(&mut self) -> Result<Vec<String>, StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn create(&mut self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn delete(&mut self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn rename(&mut self, _: &str, _: &str) -> Result<(), StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn view(&mut self, _: &str, _: bool) -> Result<FolderView, StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn read(&mut self, _: &str, _: u32) -> Result<Vec<u8>, StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn set_flags(&mut self, _: &str, _: u32, _: Flags) -> Result<(), StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn expunge(&mut self, _: &str, _: &[u32]) -> Result<(), StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn copy(&mut self, _: &str, _: &[u32], _: &str) -> Result<Copied, StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn append_begin(&mut self, _: &str, _: u64) -> Result<(), StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn append_data(&mut self, _: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn append_finish(&mut self, _: Flags, _: Option<i64>) -> Result<(u32, u32), StoreError> {
        Err(StoreError::NotAllowed("not logged in".into()))
    }
    fn append_abort(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_letters_round_trip() {
        let f = Flags::SEEN.union(Flags::ANSWERED).union(Flags::DELETED);
        assert_eq!(f.maildir_letters(), "RST");
        assert_eq!(Flags::from_maildir_letters("RST"), f);
        assert_eq!(Flags::from_maildir_letters("Sx"), Flags::SEEN);
        assert_eq!(
            f.names().collect::<Vec<_>>(),
            ["\\Answered", "\\Deleted", "\\Seen"]
        );
    }
}
