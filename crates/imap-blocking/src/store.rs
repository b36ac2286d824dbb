//! The session's [`Mailstore`] over a Maildir++ tree ([`MaildirFolders`]).

use crate::cache::FolderCache;
use crate::columns::ColumnFile;
use imap_proto::columns::Columns;
use imap_proto::summary::StructureScanner;
use imap_proto::summary::{CacheKey, HeaderEnd, MAX_CACHED_HEADER, WHOLE_SUMMARY_LIMIT};
use imap_proto::{Copied, Flags, FolderView, Mailstore, MessageMeta, StoreError, Summary};
use maildrop::{Delivery, FolderError, FolderMessage, MaildirFolders};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

/// A user's Maildir++ tree as the IMAP session sees it.
///
/// It remembers where each message of the last listing of a folder was, so
/// a FETCH or STORE of many messages reads and renames files without
/// listing the folder once per message; a message moved or removed since
/// is looked up again.
///
/// Message summaries (ENVELOPE, BODYSTRUCTURE, the header block) are kept
/// in a cache file per folder ([`crate::cache`]); message bodies are read a
/// chunk at a time.
#[derive(Debug)]
pub struct MaildirStore {
    folders: MaildirFolders,
    known: HashMap<String, HashMap<u32, FolderMessage>>,
    caches: HashMap<String, FolderCache>,
    /// Each folder's search columns, read once and held ([`crate::columns`]),
    /// with the UIDVALIDITY they were read under.
    /// A short list: a session searches few folders, and finding one by
    /// comparing names is cheaper per message than hashing the name.
    columns: Vec<(String, u32, ColumnFile)>,
    /// Each folder's UIDVALIDITY at its last listing.
    validity: HashMap<String, u32>,
    /// The message file last read by `read_at`, kept open for the next chunk.
    open: Option<(String, u32, File)>,
    /// The APPEND being written to `tmp/`.
    appending: Option<Delivery>,
}

impl MaildirStore {
    /// The store over this tree.
    pub fn new(folders: MaildirFolders) -> MaildirStore {
        MaildirStore {
            folders,
            known: HashMap::new(),
            caches: HashMap::new(),
            columns: Vec::new(),
            validity: HashMap::new(),
            open: None,
            appending: None,
        }
    }

    /// The message as last listed (`fresh`: listed again first).
    fn message(
        &mut self,
        folder: &str,
        uid: u32,
        fresh: bool,
    ) -> Result<FolderMessage, StoreError> {
        if !fresh {
            if let Some(m) = self.known.get(folder).and_then(|k| k.get(&uid)) {
                return Ok(m.clone());
            }
        }
        self.view(folder, false)?;
        self.known
            .get(folder)
            .and_then(|k| k.get(&uid))
            .cloned()
            .ok_or(StoreError::NoSuchMessage)
    }

    /// Computes a summary from the file: from its whole bytes when small,
    /// else from its first octets and a scan for the end of its header,
    /// and (when `structure` is asked for) a scan of its MIME structure,
    /// all in one pass holding one chunk at a time.
    fn summarize(m: &FolderMessage, structure: bool) -> std::io::Result<Summary> {
        let mut file = File::open(m.path())?;
        let size = file.metadata()?.len();
        if size <= WHOLE_SUMMARY_LIMIT {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            return Ok(Summary::of(&bytes));
        }
        let mut head = Vec::new();
        let mut end = HeaderEnd::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut at = 0u64;
        let mut scanner = structure.then(StructureScanner::default);
        while end.body_offset().is_none() || scanner.is_some() {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            end.feed(chunk);
            if let Some(s) = scanner.as_mut() {
                s.feed(chunk);
            }
            let room = (MAX_CACHED_HEADER + 2).saturating_sub(head.len());
            head.extend_from_slice(&chunk[..room.min(n)]);
            at += n as u64;
        }
        let body_offset = end.body_offset().unwrap_or(at).min(size);
        let mut summary = Summary::of_head(&head, size, body_offset);
        if let Some(s) = scanner {
            summary.add_structure(&s.finish());
        }
        Ok(summary)
    }

    /// [`Mailstore::summary`] of a message whose file moved since listed.
    fn summary_relisted(
        &mut self,
        folder: &str,
        uid: u32,
        structure: bool,
    ) -> Result<Summary, StoreError> {
        let m = self.message(folder, uid, true)?;
        let summary = Self::summarize(&m, structure).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NoSuchMessage,
            k => StoreError::Io(k.to_string()),
        })?;
        Ok(summary)
    }

    fn cache(&mut self, folder: &str, m: &FolderMessage) -> Option<&mut FolderCache> {
        if !self.caches.contains_key(folder) {
            let dir = m.path().parent()?.parent()?;
            let live: HashSet<u32> = self
                .known
                .get(folder)
                .map(|k| k.keys().copied().collect())
                .unwrap_or_default();
            let cache = FolderCache::open(dir, &live).ok()?;
            self.caches.insert(folder.to_owned(), cache);
        }
        self.caches.get_mut(folder)
    }

    fn column_file(&mut self, folder: &str, m: &FolderMessage) -> Option<&mut ColumnFile> {
        let validity = self.validity.get(folder).copied().unwrap_or(0);
        self.columns
            .retain(|(f, v, _)| f != folder || *v == validity);
        if !self.columns.iter().any(|(f, _, _)| f == folder) {
            let dir = m.path().parent()?.parent()?;
            let live: HashSet<u32> = self
                .known
                .get(folder)
                .map(|k| k.keys().copied().collect())
                .unwrap_or_default();
            let cols = ColumnFile::open(dir, &live).ok()?;
            self.columns.push((folder.to_owned(), validity, cols));
        }
        self.columns
            .iter_mut()
            .find(|(f, _, _)| f == folder)
            .map(|(_, _, c)| c)
    }

    /// The held entry of a message as last listed (the common case of a
    /// warm SEARCH: no copy of its listing entry, and its key compared
    /// with the listing once per UIDVALIDITY).
    fn held_entry(&mut self, folder: &str, uid: u32) -> Option<(&mut ColumnFile, usize)> {
        let known = &self.known;
        let (_, _, cols) = self.columns.iter_mut().find(|(f, _, _)| f == folder)?;
        let i = cols.find(uid, || {
            known
                .get(folder)
                .and_then(|k| k.get(&uid))
                .map(|m| (m.size, m.mtime, m.unique.as_str()))
        })?;
        Some((cols, i))
    }

    fn held_columns(&mut self, folder: &str, uid: u32, out: &mut Columns) -> bool {
        match self.held_entry(folder, uid) {
            Some((cols, i)) => match cols.columns(i) {
                Some(r) => {
                    out.set(&r);
                    true
                }
                None => false,
            },
            None => false,
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
        // Columns a search computed are written out at the latest here
        // (the session lists the folder at each NOOP, IDLE poll and SELECT).
        for (_, _, cols) in &mut self.columns {
            let _ = cols.flush();
        }
        let listing = self.folders.list(folder, claim_recent).map_err(map)?;
        if self
            .validity
            .insert(folder.to_owned(), listing.uid_validity)
            != Some(listing.uid_validity)
        {
            // Renumbered: the held columns are checked against the new
            // listing when next read.
            self.columns.retain(|(f, _, _)| f != folder);
        }
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
    fn read_at(
        &mut self,
        folder: &str,
        uid: u32,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StoreError> {
        let same = matches!(&self.open, Some((f, u, _)) if f == folder && *u == uid);
        if !same {
            self.open = None;
            let m = self.message(folder, uid, false)?;
            // Moved (its flags changed) since listed: list again.
            let file = match File::open(m.path()) {
                Ok(f) => Ok(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    File::open(self.message(folder, uid, true)?.path())
                }
                Err(e) => Err(e),
            }
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => StoreError::NoSuchMessage,
                k => StoreError::Io(k.to_string()),
            })?;
            self.open = Some((folder.to_owned(), uid, file));
        }
        let Some((_, _, file)) = &self.open else {
            return Err(StoreError::NoSuchMessage);
        };
        file.read_at(buf, offset)
            .map_err(|e| StoreError::Io(e.kind().to_string()))
    }
    fn summary(&mut self, folder: &str, uid: u32, structure: bool) -> Result<Summary, StoreError> {
        // The common case, a cache hit, without copying the listing entry.
        let known = self.known.get(folder).and_then(|k| k.get(&uid));
        if let (Some(m), Some(cache)) = (known, self.caches.get_mut(folder)) {
            let key = CacheKey {
                uid,
                size: m.size,
                mtime: m.mtime,
                unique: m.unique.clone(),
            };
            if let Some(s) = cache.get(&key) {
                if s.structure.is_some() || !structure {
                    return Ok(s);
                }
            }
        }
        let m = self.message(folder, uid, false)?;
        let key = CacheKey {
            uid,
            size: m.size,
            mtime: m.mtime,
            unique: m.unique.clone(),
        };
        let cached = self.cache(folder, &m).and_then(|c| c.get(&key));
        if let Some(s) = cached {
            if s.structure.is_some() || !structure {
                return Ok(s);
            }
        }
        let summary = match Self::summarize(&m, structure) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self.summary_relisted(folder, uid, structure);
            }
            other => other,
        }
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NoSuchMessage,
            k => StoreError::Io(k.to_string()),
        })?;
        if let Some(c) = self.cache(folder, &m) {
            // A cache that cannot be written costs time, not answers.
            let _ = c.put(&key, &summary);
        }
        Ok(summary)
    }
    fn sent_day(&mut self, folder: &str, uid: u32) -> Result<Option<i32>, StoreError> {
        if let Some((cols, i)) = self.held_entry(folder, uid) {
            return Ok(cols.sent_day(i));
        }
        let mut out = Columns::default();
        self.search_columns(folder, uid, &mut out)?;
        Ok(out.sent_day)
    }
    fn search_columns(
        &mut self,
        folder: &str,
        uid: u32,
        out: &mut Columns,
    ) -> Result<(), StoreError> {
        if self.held_columns(folder, uid, out) {
            return Ok(());
        }
        let m = self.message(folder, uid, false)?;
        // The first lookup in this folder reads the file.
        let opened = !self.columns.iter().any(|(f, _, _)| f == folder);
        if opened && self.column_file(folder, &m).is_some() && self.held_columns(folder, uid, out) {
            return Ok(());
        }
        let summary = self.summary(folder, uid, false)?;
        out.fill(&summary);
        let key = CacheKey {
            uid,
            size: m.size,
            mtime: m.mtime,
            unique: m.unique.clone(),
        };
        if let Some(cols) = self.column_file(folder, &m) {
            // A file that cannot be written costs time, not answers.
            let _ = cols.put(&key, out);
        }
        Ok(())
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
    fn append_begin(&mut self, folder: &str, _size: u64) -> Result<(), StoreError> {
        self.appending = Some(self.folders.begin_delivery(folder).map_err(map)?);
        Ok(())
    }
    fn append_data(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        match &mut self.appending {
            Some(d) => d
                .write(chunk)
                .map_err(|e| StoreError::Io(e.kind().to_string())),
            None => Err(StoreError::NotAllowed("no append in progress".into())),
        }
    }
    fn append_finish(
        &mut self,
        flags: Flags,
        internal_date: Option<i64>,
    ) -> Result<(u32, u32), StoreError> {
        let Some(d) = self.appending.take() else {
            return Err(StoreError::NotAllowed("no append in progress".into()));
        };
        self.folders
            .finish_delivery(d, &flags.maildir_letters(), internal_date)
            .map_err(map)
    }
    fn append_abort(&mut self) {
        // Dropping the delivery removes its temporary file.
        self.appending = None;
    }
}
