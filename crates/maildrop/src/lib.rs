//! Maildir storage for the mail server and its readers.
//!
//! - [`MailStore`]: the server's mailbox store, one Maildir++ tree per user
//!   under one root, streaming two-phase delivery ([`Incoming`]) and
//!   Maildir++ quotas (docs/mailbox-store.md);
//! - [`MaildirFolders`]: a user's tree as IMAP folders, with a per-folder
//!   index ([`index`]) that keeps UIDs and lists unchanged folders without
//!   reading their directories;
//! - [`Maildrop`]: a Maildir read as a POP3 maildrop, described below.
//!
//! [`Maildrop::scan`] lists the messages in `new/` and `cur/` with their
//! sizes and unique ids; [`Maildrop::open`] gives a message as a reader to
//! stream in chunks (never read whole into memory); [`Maildrop::delete`]
//! removes messages at POP3's UPDATE step.
//!
//! The unique id is the Maildir unique name — the file name without its
//! `:2,flags` info suffix — so it stays the same when another reader moves a
//! message from `new/` to `cur/` or changes its flags, and across restarts
//! (RFC 1939 §7 asks UIDL ids to persist). Names that cannot be a UIDL id
//! (longer than 70 octets, or holding octets outside `0x21..=0x7E`) are left
//! out of the listing and counted in [`Maildrop::skipped`].
//!
//! Delivery into the Maildir (`tmp/` then rename into `new/`) never shows a
//! half-written file here, since only `new/` and `cur/` are read.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("maildrop-doc-{}", std::process::id()));
//! # for sub in ["tmp", "new", "cur"] { std::fs::create_dir_all(dir.join(sub))?; }
//! # std::fs::write(dir.join("new/1700000000.M1P1.host"), b"Subject: hi\r\n\r\nHello\r\n")?;
//! use std::io::Read;
//! let drop = maildrop::Maildrop::scan(&dir)?;
//! let message = &drop.messages()[0];
//! assert_eq!(message.uid(), "1700000000.M1P1.host");
//! assert_eq!(message.size(), 22);
//! let mut chunk = [0u8; 8];
//! let n = drop.open(0)?.read(&mut chunk)?;
//! assert_eq!(&chunk[..n], b"Subject:");
//! drop.delete(&[0])?;
//! assert!(maildrop::Maildrop::scan(&dir)?.messages().is_empty());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod fifo;
mod folders;
mod group_sync;
pub mod index;
mod names;
mod quota;
mod store;

pub use folders::{Delivery, FolderError, FolderListing, FolderMessage, MaildirFolders};
pub use store::{CopyMode, Delivered, Incoming, MailStore, StoreError, Usage};

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// One message of the maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    uid: String,
    size: u64,
    path: PathBuf,
}

impl Message {
    /// The Maildir unique name: a valid UIDL id.
    pub fn uid(&self) -> &str {
        &self.uid
    }
    /// Its size in octets when scanned.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Where it was when scanned.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Why some messages could not be deleted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeleteError {
    /// An index is not in the listing.
    #[error("message index {0} is not in the listing")]
    NoSuchMessage(usize),
    /// Removing a file failed; the other deletions were still attempted.
    #[error("could not remove {failed} of the messages: {first}")]
    Io {
        /// How many could not be removed.
        failed: usize,
        /// The first error.
        first: io::Error,
    },
}

/// A snapshot of a Maildir's messages, oldest unique name first.
#[derive(Debug, Clone)]
pub struct Maildrop {
    root: PathBuf,
    messages: Vec<Message>,
    skipped: usize,
}

/// The unique name of a Maildir file: the name up to its `:` info suffix.
pub fn unique_name(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

fn valid_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.len() <= 70 && uid.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl Maildrop {
    /// Lists `new/` and `cur/` under `root`. A missing subdirectory is an
    /// empty one; dot files and anything but regular files are ignored.
    ///
    /// When the Maildir has an index ([`MaildirFolders`]' `.mailwire-uidlist`)
    /// that recorded both directories as they are now, the listing comes
    /// from it without reading the directories (names that are not UTF-8
    /// are then not counted in [`skipped`](Self::skipped)); the index is
    /// only read here, never written.
    pub fn scan(root: impl AsRef<Path>) -> io::Result<Maildrop> {
        let root = root.as_ref().to_path_buf();
        let mut messages = Vec::new();
        let mut skipped = 0;
        if let Some(index) = folders::unchanged_index(&root) {
            for entry in index.entries {
                let Some(file) = entry.file else { continue };
                if valid_uid(&entry.unique) {
                    let sub = if file.in_new { "new" } else { "cur" };
                    messages.push(Message {
                        uid: entry.unique,
                        size: file.size,
                        path: root.join(sub).join(file.name),
                    });
                } else {
                    skipped += 1;
                }
            }
            messages.sort_by(|a, b| a.uid.cmp(&b.uid));
            return Ok(Maildrop {
                root,
                messages,
                skipped,
            });
        }
        for sub in ["new", "cur"] {
            let dir = root.join(sub);
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else {
                    skipped += 1;
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let metadata = match entry.metadata() {
                    Ok(m) => m,
                    // Moved or removed by another reader since read_dir.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if !metadata.is_file() {
                    continue;
                }
                let uid = unique_name(name);
                if !valid_uid(uid) {
                    skipped += 1;
                    continue;
                }
                messages.push(Message {
                    uid: uid.to_owned(),
                    size: metadata.len(),
                    path: entry.path(),
                });
            }
        }
        messages.sort_by(|a, b| a.uid.cmp(&b.uid));
        // The same unique name in new/ and cur/ (a move caught half-way):
        // list it once.
        messages.dedup_by(|a, b| a.uid == b.uid);
        Ok(Maildrop {
            root,
            messages,
            skipped,
        })
    }

    /// The Maildir this snapshot was taken of.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The messages, oldest unique name first (Maildir names begin with the
    /// delivery time in seconds).
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Files left out because their names cannot be UIDL ids.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Opens message `index` for reading, following it if another reader
    /// moved it between `new/` and `cur/` since the scan.
    pub fn open(&self, index: usize) -> io::Result<File> {
        let message = self
            .messages
            .get(index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such message"))?;
        match File::open(&message.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => match self.find(&message.uid)? {
                Some(path) => File::open(path),
                None => Err(e),
            },
            other => other,
        }
    }

    /// Where the message with this unique name is now, if anywhere.
    fn find(&self, uid: &str) -> io::Result<Option<PathBuf>> {
        for sub in ["cur", "new"] {
            let entries = match fs::read_dir(self.root.join(sub)) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                if entry.file_name().to_str().map(unique_name) == Some(uid) {
                    return Ok(Some(entry.path()));
                }
            }
        }
        Ok(None)
    }

    /// Removes these messages (indexes into [`messages`](Self::messages)),
    /// then syncs both directories so the removal survives a crash. A
    /// message already gone counts as removed. Every deletion is attempted
    /// even when one fails. The removed messages are counted out of the
    /// Maildir++ `maildirsize`, if the Maildir keeps one.
    pub fn delete(&self, indexes: &[usize]) -> Result<(), DeleteError> {
        let mut failed = 0;
        let mut first = None;
        let (mut bytes, mut count) = (0u64, 0u64);
        for &index in indexes {
            let message = self
                .messages
                .get(index)
                .ok_or(DeleteError::NoSuchMessage(index))?;
            let result = match fs::remove_file(&message.path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match self.find(&message.uid) {
                    Ok(Some(path)) => fs::remove_file(path).map(|()| true),
                    Ok(None) => Ok(false),
                    Err(e) => Err(e),
                },
                other => other.map(|()| true),
            };
            match result {
                Ok(true) => {
                    bytes += message.size;
                    count += 1;
                }
                Ok(false) => {}
                Err(e) => {
                    failed += 1;
                    first.get_or_insert(e);
                }
            }
        }
        quota::note_removed(&self.root, bytes, count);
        for sub in ["new", "cur"] {
            if let Ok(dir) = File::open(self.root.join(sub)) {
                if let Err(e) = dir.sync_all() {
                    failed += 1;
                    first.get_or_insert(e);
                }
            }
        }
        match first {
            None => Ok(()),
            Some(first) => Err(DeleteError::Io { failed, first }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "maildrop-test-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&dir);
            for sub in ["tmp", "new", "cur"] {
                fs::create_dir_all(dir.join(sub)).unwrap();
            }
            TempDir(dir)
        }
        fn put(&self, rel: &str, body: &[u8]) {
            fs::write(self.0.join(rel), body).unwrap();
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn lists_new_and_cur_with_sizes_and_uids() {
        let dir = TempDir::new("list");
        dir.put("new/1700000002.M3P1.host", b"three");
        dir.put("cur/1700000001.M2P1.host:2,S", b"two!");
        dir.put("new/1700000000.M1P1.host", b"1");
        dir.put("tmp/1700000003.M4P1.host", b"half-written");
        dir.put("new/.hidden", b"x");
        fs::create_dir(dir.0.join("cur/subdir")).unwrap();
        dir.put("new/has space", b"x");
        let drop = Maildrop::scan(&dir.0).unwrap();
        let listed: Vec<(&str, u64)> = drop
            .messages()
            .iter()
            .map(|m| (m.uid(), m.size()))
            .collect();
        assert_eq!(
            listed,
            [
                ("1700000000.M1P1.host", 1),
                ("1700000001.M2P1.host", 4),
                ("1700000002.M3P1.host", 5)
            ]
        );
        assert_eq!(drop.skipped(), 1);
    }

    #[test]
    fn uid_is_stable_when_moved_to_cur() {
        let dir = TempDir::new("move");
        dir.put("new/1700000000.M1P1.host", b"hello");
        let before = Maildrop::scan(&dir.0).unwrap();
        fs::rename(
            dir.0.join("new/1700000000.M1P1.host"),
            dir.0.join("cur/1700000000.M1P1.host:2,S"),
        )
        .unwrap();
        let after = Maildrop::scan(&dir.0).unwrap();
        assert_eq!(before.messages()[0].uid(), after.messages()[0].uid());
        // The old snapshot still finds it to read and to delete.
        let mut text = String::new();
        before.open(0).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        before.delete(&[0]).unwrap();
        assert!(Maildrop::scan(&dir.0).unwrap().messages().is_empty());
    }

    #[test]
    fn streams_in_chunks() {
        let dir = TempDir::new("stream");
        let body: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        dir.put("new/1.M1.host", &body);
        let drop = Maildrop::scan(&dir.0).unwrap();
        let mut file = drop.open(0).unwrap();
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = file.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, body);
        assert!(drop.open(1).is_err());
    }

    #[test]
    fn delete_tolerates_vanished_files_and_reports_bad_indexes() {
        let dir = TempDir::new("delete");
        dir.put("new/1.M1.host", b"a");
        dir.put("new/2.M2.host", b"b");
        dir.put("new/3.M3.host", b"c");
        let drop = Maildrop::scan(&dir.0).unwrap();
        fs::remove_file(dir.0.join("new/1.M1.host")).unwrap();
        drop.delete(&[0, 2]).unwrap();
        let left = Maildrop::scan(&dir.0).unwrap();
        assert_eq!(left.messages().len(), 1);
        assert_eq!(left.messages()[0].uid(), "2.M2.host");
        assert!(matches!(
            drop.delete(&[7]),
            Err(DeleteError::NoSuchMessage(7))
        ));
    }

    #[test]
    fn missing_subdirectories_are_empty() {
        let dir = std::env::temp_dir().join(format!("maildrop-none-{}", std::process::id()));
        let drop = Maildrop::scan(&dir).unwrap();
        assert!(drop.messages().is_empty());
    }

    #[test]
    fn unique_name_strips_info() {
        assert_eq!(unique_name("123.M1.host:2,RS"), "123.M1.host");
        assert_eq!(unique_name("123.M1.host"), "123.M1.host");
    }
}
