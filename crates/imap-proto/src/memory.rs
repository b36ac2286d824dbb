//! An in-memory [`Mailstore`] for tests, examples and fuzzing.

use crate::store::{Copied, Flags, FolderView, Mailstore, MessageMeta, StoreError};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Folder {
    uid_validity: u32,
    uid_next: u32,
    messages: Vec<(MessageMeta, Vec<u8>)>,
}

impl Folder {
    fn new(uid_validity: u32) -> Folder {
        Folder {
            uid_validity,
            uid_next: 1,
            messages: Vec::new(),
        }
    }
}

/// Folders and messages held in memory. Starts with an empty INBOX.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    folders: BTreeMap<String, Folder>,
    next_validity: u32,
    /// INTERNALDATE given to delivered messages without one.
    pub now_seconds: i64,
    appending: Option<(String, Vec<u8>)>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        let mut folders = BTreeMap::new();
        folders.insert("INBOX".to_owned(), Folder::new(1));
        MemoryStore {
            folders,
            next_validity: 2,
            now_seconds: 1_700_000_000,
            appending: None,
        }
    }
}

fn key(name: &str) -> String {
    if name.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        name.to_owned()
    }
}

impl MemoryStore {
    /// Delivers a message as new mail (`\Recent`); returns its UID.
    pub fn deliver(&mut self, folder: &str, message: &[u8]) -> u32 {
        let now = self.now_seconds;
        let f = self
            .folders
            .entry(key(folder))
            .or_insert_with(|| Folder::new(1));
        let uid = f.uid_next;
        f.uid_next += 1;
        let meta = MessageMeta {
            uid,
            flags: Flags::EMPTY,
            size: message.len() as u64,
            internal_date: now,
            recent: true,
        };
        f.messages.push((meta, message.to_vec()));
        uid
    }

    fn folder(&mut self, name: &str) -> Result<&mut Folder, StoreError> {
        self.folders
            .get_mut(&key(name))
            .ok_or(StoreError::NoSuchFolder)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.contains("..")
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

impl Mailstore for MemoryStore {
    fn folders(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(self.folders.keys().cloned().collect())
    }
    fn create(&mut self, name: &str) -> Result<(), StoreError> {
        if !valid_name(name) {
            return Err(StoreError::InvalidName);
        }
        if self.folders.contains_key(&key(name)) {
            return Err(StoreError::AlreadyExists);
        }
        let v = self.next_validity;
        self.next_validity += 1;
        self.folders.insert(key(name), Folder::new(v));
        Ok(())
    }
    fn delete(&mut self, name: &str) -> Result<(), StoreError> {
        if key(name) == "INBOX" {
            return Err(StoreError::NotAllowed("INBOX cannot be deleted".into()));
        }
        self.folders
            .remove(&key(name))
            .map(|_| ())
            .ok_or(StoreError::NoSuchFolder)
    }
    fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        if !valid_name(to) || key(to) == "INBOX" {
            return Err(StoreError::InvalidName);
        }
        if self.folders.contains_key(&key(to)) {
            return Err(StoreError::AlreadyExists);
        }
        let f = self
            .folders
            .remove(&key(from))
            .ok_or(StoreError::NoSuchFolder)?;
        self.folders.insert(key(to), f);
        Ok(())
    }
    fn view(&mut self, folder: &str, claim_recent: bool) -> Result<FolderView, StoreError> {
        let f = self.folder(folder)?;
        let view = FolderView {
            uid_validity: f.uid_validity,
            uid_next: f.uid_next,
            messages: f.messages.iter().map(|(m, _)| m.clone()).collect(),
        };
        if claim_recent {
            for (m, _) in &mut f.messages {
                m.recent = false;
            }
        }
        Ok(view)
    }
    fn read(&mut self, folder: &str, uid: u32) -> Result<Vec<u8>, StoreError> {
        let f = self.folder(folder)?;
        f.messages
            .iter()
            .find(|(m, _)| m.uid == uid)
            .map(|(_, b)| b.clone())
            .ok_or(StoreError::NoSuchMessage)
    }
    fn read_at(
        &mut self,
        folder: &str,
        uid: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StoreError> {
        let f = self.folder(folder)?;
        let bytes = f
            .messages
            .iter()
            .find(|(m, _)| m.uid == uid)
            .map(|(_, b)| b)
            .ok_or(StoreError::NoSuchMessage)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }
    fn set_flags(&mut self, folder: &str, uid: u32, flags: Flags) -> Result<(), StoreError> {
        let f = self.folder(folder)?;
        let (m, _) = f
            .messages
            .iter_mut()
            .find(|(m, _)| m.uid == uid)
            .ok_or(StoreError::NoSuchMessage)?;
        m.flags = flags;
        Ok(())
    }
    fn expunge(&mut self, folder: &str, uids: &[u32]) -> Result<(), StoreError> {
        let f = self.folder(folder)?;
        f.messages.retain(|(m, _)| !uids.contains(&m.uid));
        Ok(())
    }
    fn copy(&mut self, folder: &str, uids: &[u32], to: &str) -> Result<Copied, StoreError> {
        let picked: Vec<(MessageMeta, Vec<u8>)> = {
            let f = self.folder(folder)?;
            f.messages
                .iter()
                .filter(|(m, _)| uids.contains(&m.uid))
                .cloned()
                .collect()
        };
        let t = self.folder(to)?;
        let mut pairs = Vec::new();
        for (mut m, b) in picked {
            let old = m.uid;
            m.uid = t.uid_next;
            m.recent = true;
            t.uid_next += 1;
            pairs.push((old, m.uid));
            t.messages.push((m, b));
        }
        Ok(Copied {
            uid_validity: t.uid_validity,
            uids: pairs,
        })
    }
    fn append_begin(&mut self, folder: &str, _size: u64) -> Result<(), StoreError> {
        self.folder(folder)?;
        self.appending = Some((key(folder), Vec::new()));
        Ok(())
    }
    fn append_data(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        match &mut self.appending {
            Some((_, bytes)) => {
                bytes.extend_from_slice(chunk);
                Ok(())
            }
            None => Err(StoreError::NotAllowed("no append in progress".into())),
        }
    }
    fn append_abort(&mut self) {
        self.appending = None;
    }
    fn append_finish(
        &mut self,
        flags: Flags,
        internal_date: Option<i64>,
    ) -> Result<(u32, u32), StoreError> {
        let Some((folder, message)) = self.appending.take() else {
            return Err(StoreError::NotAllowed("no append in progress".into()));
        };
        let now = self.now_seconds;
        let f = self.folder(&folder)?;
        let uid = f.uid_next;
        f.uid_next += 1;
        let meta = MessageMeta {
            uid,
            flags,
            size: message.len() as u64,
            internal_date: internal_date.unwrap_or(now),
            recent: true,
        };
        f.messages.push((meta, message));
        Ok((f.uid_validity, uid))
    }
}
