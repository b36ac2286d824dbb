//! A Maildir++ tree read and written as IMAP folders: `INBOX` is the
//! Maildir itself, folder `Name` is the subdirectory `.Name` (hierarchy
//! separator `.`), flags live in the file names (`:2,DFRST`), and each
//! folder keeps its UIDs in a small list file, `.mailwire-uidlist` (the
//! role of Dovecot's `dovecot-uidlist`), so UIDVALIDITY and UIDNEXT stay
//! the same across restarts.
//!
//! The list (format in [`crate::index`]) also keeps each message's size,
//! date and file name with the stamps of `new/` and `cur/`, so a folder
//! whose directories did not change is listed without reading them. It is
//! rewritten atomically (temporary file, fsync, rename, fsync of the
//! directory) whenever it changes, and a message never gets a UID lower than
//! UIDNEXT, so a UID is never reused while UIDVALIDITY holds; a deleted or
//! corrupt list is rebuilt from the files under a new UIDVALIDITY. Writers
//! within one process take a lock; two processes writing one tree at once is
//! not supported.

use crate::index::{CachedFile, DirStamp, IndexEntry, IndexError, UidIndex};
use crate::unique_name;

mod delivery;
pub use delivery::Delivery;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const UIDLIST: &str = ".mailwire-uidlist";
const UIDVALIDITY: &str = ".mailwire-uidvalidity";
static LOCK: Mutex<()> = Mutex::new(());
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One message of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderMessage {
    /// Its UID.
    pub uid: u32,
    /// Its Maildir unique name.
    pub unique: String,
    /// Its flag letters (`DFPRST`), sorted.
    pub flags: String,
    /// Its size in octets.
    pub size: u64,
    /// Its file's modification time, seconds since the epoch (the
    /// delivery time, used as INTERNALDATE).
    pub mtime: i64,
    /// It was in `new/` when listed.
    pub recent: bool,
    path: PathBuf,
}

impl FolderMessage {
    /// Where the file was when listed (a reader that finds it gone lists
    /// the folder again).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A folder's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderListing {
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// The UID the next message gets.
    pub uid_next: u32,
    /// Messages in ascending UID order.
    pub messages: Vec<FolderMessage>,
}

/// Why a folder operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FolderError {
    /// No such folder.
    #[error("no such folder")]
    NoSuchFolder,
    /// The folder exists already.
    #[error("folder already exists")]
    AlreadyExists,
    /// Not a valid folder name (empty, `/`, `..`, a leading `.`, control
    /// characters, longer than 200 octets).
    #[error("invalid folder name")]
    InvalidName,
    /// No message with that UID.
    #[error("no such message")]
    NoSuchMessage,
    /// INBOX cannot be deleted or renamed.
    #[error("INBOX cannot be deleted or renamed")]
    Inbox,
    /// A file system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A user's Maildir++ tree.
#[derive(Debug, Clone)]
pub struct MaildirFolders {
    root: PathBuf,
}

fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn info_flags(file_name: &str) -> String {
    match file_name.split_once(":2,") {
        // Already sorted, distinct capitals (what we write): as is.
        Some((_, f))
            if f.as_bytes().windows(2).all(|w| w[0] < w[1])
                && f.bytes().all(|b| b.is_ascii_uppercase()) =>
        {
            f.to_owned()
        }
        Some((_, f)) => {
            let mut letters: Vec<char> = f.chars().filter(char::is_ascii_uppercase).collect();
            letters.sort_unstable();
            letters.dedup();
            letters.into_iter().collect()
        }
        None => String::new(),
    }
}

impl MaildirFolders {
    /// The tree rooted at `root` (INBOX). Its `tmp/ new/ cur/` are made if
    /// missing.
    pub fn open(root: impl AsRef<Path>) -> io::Result<MaildirFolders> {
        let root = root.as_ref().to_path_buf();
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(root.join(sub))?;
        }
        Ok(MaildirFolders { root })
    }

    fn dir(&self, name: &str) -> Result<PathBuf, FolderError> {
        if is_inbox(name) {
            return Ok(self.root.clone());
        }
        if !valid_name(name) {
            return Err(FolderError::InvalidName);
        }
        let dir = self.root.join(format!(".{name}"));
        if dir.join("cur").is_dir() {
            Ok(dir)
        } else {
            Err(FolderError::NoSuchFolder)
        }
    }

    /// `INBOX` and every folder, sorted.
    pub fn names(&self) -> io::Result<Vec<String>> {
        let mut names = vec!["INBOX".to_owned()];
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if let Some(folder) = name.strip_prefix('.') {
                if valid_name(folder) && entry.path().join("cur").is_dir() {
                    names.push(folder.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Creates a folder.
    pub fn create(&self, name: &str) -> Result<(), FolderError> {
        if is_inbox(name) {
            return Err(FolderError::AlreadyExists);
        }
        if !valid_name(name) {
            return Err(FolderError::InvalidName);
        }
        let dir = self.root.join(format!(".{name}"));
        if dir.exists() {
            return Err(FolderError::AlreadyExists);
        }
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        // Maildir++ marks a folder with this file.
        File::create(dir.join("maildirfolder"))?;
        sync_dir(&self.root)?;
        Ok(())
    }

    /// Deletes a folder with its messages (not its subfolders).
    pub fn delete(&self, name: &str) -> Result<(), FolderError> {
        if is_inbox(name) {
            return Err(FolderError::Inbox);
        }
        let dir = self.dir(name)?;
        fs::remove_dir_all(dir)?;
        sync_dir(&self.root)?;
        Ok(())
    }

    /// Renames a folder and its subfolders; their UIDs go with them.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), FolderError> {
        if is_inbox(from) || is_inbox(to) {
            return Err(FolderError::Inbox);
        }
        self.dir(from)?;
        if !valid_name(to) {
            return Err(FolderError::InvalidName);
        }
        if self.root.join(format!(".{to}")).exists() {
            return Err(FolderError::AlreadyExists);
        }
        let prefix = format!("{from}.");
        for name in self.names()? {
            let new = if name == from {
                to.to_owned()
            } else if let Some(rest) = name.strip_prefix(&prefix) {
                format!("{to}.{rest}")
            } else {
                continue;
            };
            fs::rename(
                self.root.join(format!(".{name}")),
                self.root.join(format!(".{new}")),
            )?;
        }
        sync_dir(&self.root)?;
        Ok(())
    }

    /// Lists a folder, giving UIDs to messages that have none yet. With
    /// `claim_recent`, messages in `new/` move to `cur/` (they are reported
    /// `recent` this once).
    ///
    /// When neither `new/` nor `cur/` changed since the index recorded them,
    /// the listing comes from the index alone; otherwise the directories
    /// are read and only files the index does not know are stat-ed.
    pub fn list(&self, name: &str, claim_recent: bool) -> Result<FolderListing, FolderError> {
        let dir = self.dir(name)?;
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let now = i64::try_from(now_secs()).unwrap_or(i64::MAX);
        let stored = load_index(&dir)?;
        // Taken before reading the directories: a change during the read
        // shows as a different stamp next time.
        let new_stamp = dir_stamp(&dir.join("new"))?;
        let cur_stamp = dir_stamp(&dir.join("cur"))?;
        if let Ok(index) = &stored {
            let unchanged = index.new_stamp.is_some()
                && index.cur_stamp.is_some()
                && index.new_stamp == new_stamp
                && index.cur_stamp == cur_stamp;
            let cached = index.entries.iter().all(|e| e.file.is_some());
            let claims = claim_recent
                && index
                    .entries
                    .iter()
                    .any(|e| e.file.as_ref().is_some_and(|f| f.in_new));
            if unchanged && cached && !claims {
                return Ok(listing_from(&dir, index));
            }
        }
        let (mut validity, mut next) = match &stored {
            Ok(index) => (index.uid_validity, index.uid_next),
            Err(hint) => (new_validity(&dir, *hint)?, 1),
        };
        let known: HashMap<&str, &IndexEntry> = match &stored {
            Ok(index) => index
                .entries
                .iter()
                .map(|e| (e.unique.as_str(), e))
                .collect(),
            Err(_) => HashMap::new(),
        };
        let mut found = Vec::new();
        for (sub, recent) in [("new", true), ("cur", false)] {
            let entries = match fs::read_dir(dir.join(sub)) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            for entry in entries {
                let entry = entry?;
                let Some(file) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if file.starts_with('.') || entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let unique = unique_name(&file).to_owned();
                let cached = known
                    .get(unique.as_str())
                    .and_then(|e| e.file.as_ref())
                    .map(|f| (f.size, f.mtime));
                let (size, mtime) = match cached {
                    Some(known) => known,
                    None => {
                        let meta = match entry.metadata() {
                            Ok(m) if m.is_file() => m,
                            _ => continue,
                        };
                        let mtime = meta
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                            .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
                            .unwrap_or(0);
                        (meta.len(), mtime)
                    }
                };
                let mut path = entry.path();
                let mut file_name = file.clone();
                let mut in_new = recent;
                if recent && claim_recent {
                    let moved = format!("{unique}:2,{}", info_flags(&file));
                    let target = dir.join("cur").join(&moved);
                    if fs::rename(&path, &target).is_ok() {
                        path = target;
                        file_name = moved;
                        in_new = false;
                    }
                }
                let flags = info_flags(&file_name);
                found.push((unique, flags, size, mtime, recent, path, file_name, in_new));
            }
        }
        // Oldest unique name first, so new UIDs follow delivery order.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.dedup_by(|a, b| a.0 == b.0);
        let mut messages = Vec::with_capacity(found.len());
        let mut entries = Vec::with_capacity(found.len());
        for (unique, flags, size, mtime, recent, path, file_name, in_new) in found {
            let uid = match known.get(unique.as_str()) {
                Some(e) => e.uid,
                None => {
                    let uid = next;
                    next = next.saturating_add(1);
                    uid
                }
            };
            entries.push(IndexEntry {
                uid,
                unique: unique.clone(),
                file: Some(CachedFile {
                    size,
                    mtime,
                    in_new,
                    name: file_name,
                }),
            });
            messages.push(FolderMessage {
                uid,
                unique,
                flags,
                size,
                mtime,
                recent,
                path,
            });
        }
        if next == u32::MAX {
            // UIDs ran out: start over under a new UIDVALIDITY.
            validity = new_validity(&dir, Some(validity))?;
            next = 1;
            for (m, e) in messages.iter_mut().zip(entries.iter_mut()) {
                m.uid = next;
                e.uid = next;
                next += 1;
            }
        }
        entries.sort_by_key(|e| e.uid);
        messages.sort_by_key(|m| m.uid);
        // A stamp still inside the current second may yet change without
        // its time changing: record it as unknown, so the next listing
        // reads the directory again.
        let settled = |s: Option<DirStamp>| s.filter(|s| s.secs < now - 1);
        let index = UidIndex {
            uid_validity: validity,
            uid_next: next,
            new_stamp: settled(new_stamp),
            cur_stamp: settled(cur_stamp),
            entries,
        };
        if stored.as_ref().ok() != Some(&index) {
            write_index(&dir, &index)?;
        }
        Ok(FolderListing {
            uid_validity: validity,
            uid_next: next,
            messages,
        })
    }

    fn find(&self, name: &str, uid: u32) -> Result<FolderMessage, FolderError> {
        self.list(name, false)?
            .messages
            .into_iter()
            .find(|m| m.uid == uid)
            .ok_or(FolderError::NoSuchMessage)
    }

    /// The message's bytes.
    pub fn read(&self, name: &str, uid: u32) -> Result<Vec<u8>, FolderError> {
        let m = self.find(name, uid)?;
        match fs::read(&m.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FolderError::NoSuchMessage),
            other => Ok(other?),
        }
    }

    /// Sets the message's flag letters (renaming it into `cur/`).
    pub fn set_flags(&self, name: &str, uid: u32, letters: &str) -> Result<(), FolderError> {
        let mut m = self.find(name, uid)?;
        self.set_flags_of(name, &mut m, letters)
    }

    /// Like [`set_flags`](Self::set_flags) for a message from an earlier
    /// listing, without listing the folder again; `message` is updated to
    /// its new name. `NoSuchMessage` if it moved or vanished since.
    pub fn set_flags_of(
        &self,
        name: &str,
        message: &mut FolderMessage,
        letters: &str,
    ) -> Result<(), FolderError> {
        let dir = self.dir(name)?;
        let mut sorted: Vec<char> = letters.chars().filter(char::is_ascii_uppercase).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let letters: String = sorted.into_iter().collect();
        let target = dir
            .join("cur")
            .join(format!("{}:2,{letters}", message.unique));
        if target != message.path {
            match fs::rename(&message.path, &target) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(FolderError::NoSuchMessage)
                }
                other => other?,
            }
            sync_dir(&dir.join("cur"))?;
            message.path = target;
            message.flags = letters;
        }
        Ok(())
    }

    /// Removes messages for good (and counts them out of the tree's
    /// Maildir++ `maildirsize`, if it keeps one).
    pub fn expunge(&self, name: &str, uids: &[u32]) -> Result<(), FolderError> {
        let dir = self.dir(name)?;
        let uids: std::collections::HashSet<u32> = uids.iter().copied().collect();
        let (mut bytes, mut count) = (0u64, 0u64);
        let mut result = Ok(());
        for m in self
            .list(name, false)?
            .messages
            .iter()
            .filter(|m| uids.contains(&m.uid))
        {
            match fs::remove_file(&m.path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
                Ok(()) => {
                    bytes += m.size;
                    count += 1;
                }
            }
        }
        crate::quota::note_removed(&self.root, bytes, count);
        result?;
        sync_dir(&dir.join("cur"))?;
        sync_dir(&dir.join("new"))?;
        Ok(())
    }

    /// Writes a message into `tmp/`, syncs it, and renames it into `cur/`
    /// with these flags; returns its unique name. The caller syncs `cur/`.
    fn store_file(
        &self,
        dir: &Path,
        message: &[u8],
        letters: &str,
        mtime: Option<i64>,
    ) -> Result<String, FolderError> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // Fixed widths, so names sort in the order they were made and new
        // UIDs follow it.
        let unique = format!(
            "{}.M{:06}P{}Q{n:010}.mailwire",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id()
        );
        let tmp = dir.join("tmp").join(&unique);
        let mut file = File::create(&tmp)?;
        file.write_all(message)?;
        if let Some(t) = mtime.and_then(|t| u64::try_from(t).ok()) {
            let when = UNIX_EPOCH + std::time::Duration::from_secs(t);
            file.set_times(fs::FileTimes::new().set_modified(when).set_accessed(when))?;
        }
        file.sync_all()?;
        drop(file);
        let mut sorted: Vec<char> = letters.chars().filter(char::is_ascii_uppercase).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let letters: String = sorted.into_iter().collect();
        fs::rename(&tmp, dir.join("cur").join(format!("{unique}:2,{letters}")))?;
        Ok(unique)
    }

    /// Stores a new message in `cur/` with these flag letters and
    /// modification time (INTERNALDATE), synced to disk before its UID is
    /// given; returns the folder's UIDVALIDITY and the message's UID.
    pub fn deliver(
        &self,
        name: &str,
        message: &[u8],
        letters: &str,
        mtime: Option<i64>,
    ) -> Result<(u32, u32), FolderError> {
        let dir = self.dir(name)?;
        let unique = self.store_file(&dir, message, letters, mtime)?;
        sync_dir(&dir.join("cur"))?;
        let listing = self.list(name, false)?;
        let uid = listing
            .messages
            .iter()
            .find(|m| m.unique == unique)
            .map(|m| m.uid)
            .ok_or(FolderError::NoSuchMessage)?;
        Ok((listing.uid_validity, uid))
    }

    /// Copies messages with their flags; returns the target's UIDVALIDITY
    /// and `(source uid, new uid)` pairs.
    pub fn copy(
        &self,
        name: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<(u32, Vec<(u32, u32)>), FolderError> {
        let target = self.dir(to)?;
        let listing = self.list(name, false)?;
        let uids: std::collections::HashSet<u32> = uids.iter().copied().collect();
        let mut stored = Vec::new();
        for m in listing.messages.iter().filter(|m| uids.contains(&m.uid)) {
            let bytes = match fs::read(&m.path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                other => other?,
            };
            let unique = self.store_file(&target, &bytes, &m.flags, Some(m.mtime))?;
            stored.push((m.uid, unique));
        }
        sync_dir(&target.join("cur"))?;
        // One listing gives every copy its UID, in the order made.
        let after = self.list(to, false)?;
        let by_name: HashMap<&str, u32> = after
            .messages
            .iter()
            .map(|m| (m.unique.as_str(), m.uid))
            .collect();
        let pairs = stored
            .iter()
            .filter_map(|(old, unique)| by_name.get(unique.as_str()).map(|&new| (*old, new)))
            .collect();
        Ok((after.uid_validity, pairs))
    }
}

/// The folder's index; `Err` (with the old UIDVALIDITY when readable)
/// when it is missing or corrupt, and UIDs must start over.
fn load_index(dir: &Path) -> io::Result<Result<UidIndex, Option<u32>>> {
    let bytes = match fs::read(dir.join(UIDLIST)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Err(None)),
        Err(e) => return Err(e),
    };
    Ok(UidIndex::parse(&bytes).map_err(|_| IndexError::validity_hint(&bytes)))
}

/// A UIDVALIDITY for UIDs that start over: the time, and always above the
/// one before (from the index header when readable) and the last one this
/// folder used (kept in `.mailwire-uidvalidity`, the role of Dovecot's
/// `dovecot-uidvalidity`, so an index lost in the second it was made still
/// gets a new value).
fn new_validity(dir: &Path, before: Option<u32>) -> io::Result<u32> {
    let now = u32::try_from(now_secs()).unwrap_or(u32::MAX).max(1);
    let last = fs::read_to_string(dir.join(UIDVALIDITY))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok());
    let floor = before.max(last);
    let validity = match floor {
        Some(old) if old >= now => old.checked_add(1).unwrap_or(1),
        _ => now,
    };
    let tmp = dir.join(format!("{UIDVALIDITY}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(format!("{validity}\n").as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(UIDVALIDITY))?;
    Ok(validity)
}

fn dir_stamp(dir: &Path) -> io::Result<Option<DirStamp>> {
    use std::os::unix::fs::MetadataExt;
    match fs::metadata(dir) {
        Ok(m) => Ok(Some(DirStamp {
            ino: m.ino(),
            secs: m.mtime(),
            nanos: u32::try_from(m.mtime_nsec()).unwrap_or(0),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The folder's index, if it is readable,
/// complete, and both directories are as it recorded them (what POP3's
/// scan uses; it never writes).
pub(crate) fn unchanged_index(dir: &Path) -> Option<UidIndex> {
    let bytes = fs::read(dir.join(UIDLIST)).ok()?;
    let index = UidIndex::parse(&bytes).ok()?;
    let new_stamp = dir_stamp(&dir.join("new")).ok()?;
    let cur_stamp = dir_stamp(&dir.join("cur")).ok()?;
    let unchanged = index.new_stamp.is_some()
        && index.cur_stamp.is_some()
        && index.new_stamp == new_stamp
        && index.cur_stamp == cur_stamp
        && index.entries.iter().all(|e| e.file.is_some());
    unchanged.then_some(index)
}

fn listing_from(dir: &Path, index: &UidIndex) -> FolderListing {
    let messages = index
        .entries
        .iter()
        .filter_map(|e| {
            let f = e.file.as_ref()?;
            Some(FolderMessage {
                uid: e.uid,
                unique: e.unique.clone(),
                flags: info_flags(&f.name),
                size: f.size,
                mtime: f.mtime,
                recent: f.in_new,
                path: {
                    let sub = if f.in_new { "new" } else { "cur" };
                    let mut path = PathBuf::with_capacity(
                        dir.as_os_str().len() + sub.len() + f.name.len() + 2,
                    );
                    path.push(dir);
                    path.push(sub);
                    path.push(&f.name);
                    path
                },
            })
        })
        .collect();
    FolderListing {
        uid_validity: index.uid_validity,
        uid_next: index.uid_next,
        messages,
    }
}

/// Replaces the index atomically and durably (temporary file, fsync,
/// rename, fsync of the directory): a UID once given is never given again
/// under the same UIDVALIDITY, even after a crash.
fn write_index(dir: &Path, index: &UidIndex) -> io::Result<()> {
    let tmp = dir.join(format!("{UIDLIST}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(&index.encode())?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(UIDLIST))?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(tag: &str) -> (PathBuf, MaildirFolders) {
        let dir =
            std::env::temp_dir().join(format!("maildrop-folders-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let f = MaildirFolders::open(&dir).unwrap();
        (dir, f)
    }

    #[test]
    fn uids_survive_reopen_and_are_never_reused() {
        let (dir, f) = tree("uids");
        fs::write(dir.join("new/1000.M1.host"), b"one").unwrap();
        fs::write(dir.join("new/1001.M2.host"), b"two").unwrap();
        let first = f.list("INBOX", true).unwrap();
        assert_eq!(
            first.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(first.messages.iter().all(|m| m.recent));
        assert!(dir.join("cur/1000.M1.host:2,").exists());
        f.expunge("INBOX", &[2]).unwrap();
        let reopened = MaildirFolders::open(&dir).unwrap();
        let (v, uid) = reopened
            .deliver("INBOX", b"three", "S", Some(1_700_000_000))
            .unwrap();
        assert_eq!((v, uid), (first.uid_validity, 3));
        let again = reopened.list("INBOX", false).unwrap();
        assert_eq!(again.uid_next, 4);
        assert_eq!(again.messages[1].flags, "S");
        assert_eq!(again.messages[1].mtime, 1_700_000_000);
        assert!(!again.messages[0].recent);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn folders_create_rename_delete_copy() {
        let (dir, f) = tree("folders");
        f.create("Archive").unwrap();
        f.create("Archive.2024").unwrap();
        assert!(matches!(
            f.create("Archive"),
            Err(FolderError::AlreadyExists)
        ));
        assert!(matches!(f.create("../x"), Err(FolderError::InvalidName)));
        assert_eq!(f.names().unwrap(), ["Archive", "Archive.2024", "INBOX"]);
        f.rename("Archive", "Old").unwrap();
        assert_eq!(f.names().unwrap(), ["INBOX", "Old", "Old.2024"]);
        let (_, uid) = f.deliver("INBOX", b"msg", "F", None).unwrap();
        let (_, pairs) = f.copy("INBOX", &[uid], "Old").unwrap();
        assert_eq!(pairs, [(1, 1)]);
        assert_eq!(f.read("Old", 1).unwrap(), b"msg");
        f.set_flags("Old", 1, "SF").unwrap();
        assert_eq!(f.list("Old", false).unwrap().messages[0].flags, "FS");
        f.delete("Old").unwrap();
        assert!(matches!(
            f.list("Old", false),
            Err(FolderError::NoSuchFolder)
        ));
        assert!(matches!(f.delete("INBOX"), Err(FolderError::Inbox)));
        let _ = fs::remove_dir_all(&dir);
    }
}
