//! The session's [`Mailstore`] over a Maildir++ tree ([`MaildirFolders`]).

use imap_proto::{Copied, Flags, FolderView, Mailstore, MessageMeta, StoreError};
use maildrop::{FolderError, FolderMessage, MaildirFolders};
use std::collections::HashMap;

/// A user's Maildir++ tree as the IMAP session sees it.
///
/// It remembers where each message of the last listing of a folder was, so
/// a FETCH or STORE of many messages reads and renames files without
/// listing the folder once per message; a message moved or removed since
/// is looked up again.
#[derive(Debug, Clone)]
pub struct MaildirStore {
    folders: MaildirFolders,
    known: HashMap<String, HashMap<u32, FolderMessage>>,
}

impl MaildirStore {
    /// The store over this tree.
    pub fn new(folders: MaildirFolders) -> MaildirStore {
        MaildirStore {
            folders,
            known: HashMap::new(),
        }
    }
}

fn map(e: FolderError) -> StoreError {
    match e {
        FolderError::NoSuchFolder => StoreError::NoSuchFolder,
        FolderError::AlreadyExists => StoreError::AlreadyExists,
        FolderError::InvalidName => StoreError::InvalidName,
        FolderError::NoSuchMessage => StoreError::NoSuchMessage,
        FolderError::Inbox => StoreError::NotAllowed("INBOX cannot be deleted or renamed".into()),
        // The text goes to the client: the kind, never a path.
        FolderError::Io(e) => StoreError::Io(e.kind().to_string()),
        _ => StoreError::Io("unknown".into()),
    }
}

impl Mailstore for MaildirStore {
    fn folders(&mut self) -> Result<Vec<String>, StoreError> {
        self.folders.names().map_err(|e| map(e.into()))
    }
    fn create(&mut self, name: &str) -> Result<(), StoreError> {
        self.folders.create(name).map_err(map)
    }
    fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        self.folders.delete(name).map_err(map)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        self.folders.rename(from, to).map_err(map)
    }
    fn view(&mut self, folder: &str, claim_recent: bool) -> Result<FolderView, StoreError> {
        let listing = self.folders.list(folder, claim_recent).map_err(map)?;
        self.known.insert(
            folder.to_owned(),
            listing
                .messages
                .iter()
                .map(|m| (m.uid, m.clone()))
                .collect(),
        );
        Ok(FolderView {
            uid_validity: listing.uid_validity,
            uid_next: listing.uid_next,
            messages: listing
                .messages
                .into_iter()
                .map(|m| MessageMeta {
                    uid: m.uid,
                    flags: Flags::from_maildir_letters(&m.flags),
                    size: m.size,
                    internal_date: m.mtime,
                    recent: m.recent,
                })
                .collect(),
        })
    }
    fn read(&mut self, folder: &str, uid: u32) -> Result<Vec<u8>, StoreError> {
        if let Some(m) = self.known.get(folder).and_then(|k| k.get(&uid)) {
            if let Ok(bytes) = std::fs::read(m.path()) {
                return Ok(bytes);
            }
        }
        self.folders.read(folder, uid).map_err(map)
    }
    fn set_flags(&mut self, folder: &str, uid: u32, flags: Flags) -> Result<(), StoreError> {
        let letters = flags.maildir_letters();
        if let Some(m) = self.known.get_mut(folder).and_then(|k| k.get_mut(&uid)) {
            if self.folders.set_flags_of(folder, m, &letters).is_ok() {
                return Ok(());
            }
        }
        self.folders.set_flags(folder, uid, &letters).map_err(map)
    }
    fn expunge(&mut self, folder: &str, uids: &[u32]) -> Result<(), StoreError> {
        self.folders.expunge(folder, uids).map_err(map)
    }
    fn copy(&mut self, folder: &str, uids: &[u32], to: &str) -> Result<Copied, StoreError> {
        let (uid_validity, uids) = self.folders.copy(folder, uids, to).map_err(map)?;
        Ok(Copied { uid_validity, uids })
    }
    fn append(
        &mut self,
        folder: &str,
        flags: Flags,
        internal_date: Option<i64>,
        message: &[u8],
    ) -> Result<(u32, u32), StoreError> {
        self.folders
            .deliver(folder, message, &flags.maildir_letters(), internal_date)
            .map_err(map)
    }
}
