//! The mail server's mailbox store: one Maildir++ tree per user under one
//! root, streaming two-phase delivery, and Maildir++ quotas.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let root = std::env::temp_dir().join(format!("maildrop-store-doc-{}", std::process::id()));
//! use maildrop::MailStore;
//! let store = MailStore::open(&root)?;
//! let mut incoming = store.begin()?;
//! incoming.write(b"Subject: hi\r\n\r\n")?;
//! incoming.write(b"Hello\r\n")?;
//! // Filters may read incoming.path() here.
//! let delivered = incoming.commit(
//!     b"Received: from client\r\n",
//!     &[("alice@example.org", Some(10_000_000)), ("bob@example.org", None)],
//!     None,
//! )?;
//! assert_eq!(delivered.len(), 2);
//! assert_eq!(store.usage("alice@example.org")?.messages, 1);
//! let inbox = maildrop::Maildrop::scan(store.maildir("bob@example.org")?)?;
//! assert_eq!(inbox.messages()[0].size(), 23 + 22);
//! # std::fs::remove_dir_all(&root)?;
//! # Ok(()) }
//! ```

use crate::fifo::{FifoGuard, FifoLock};
use crate::folders::{sync_dir, valid_name};
use crate::group_sync;
use crate::names;
use crate::quota::{self, Want};
use crate::MaildirFolders;
use std::collections::HashMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The store-wide staging directory (no user directory starts with `.`).
const STAGING: &str = ".tmp";
/// Staging is spread over this many subdirectories of [`STAGING`]
/// (`00`..`1f`): every message creates and removes files there, and one
/// directory's lock, taken by each create and unlink, was the most
/// contended lock of the load benchmark with 1,000 clients.
const STAGING_SHARDS: usize = 32;
/// The next staging subdirectory (round robin).
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
/// How old a staging file must be to count as left behind by a crash.
const STALE: Duration = Duration::from_secs(36 * 3600);
/// Deliveries to one user take one of these locks around the quota check
/// (threads of one process; across processes the check is best effort).
/// FIFO, so that no delivery is passed over while others come and go (see
/// `fifo.rs`).
static QUOTA_LOCKS: [FifoLock; 256] = [const { FifoLock::new() }; 256];

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The address cannot name a mailbox (no `@`, an empty side, or a side
    /// longer than a file name).
    #[error("not a mailbox address")]
    InvalidUser,
    /// Not a valid folder name.
    #[error("invalid folder name")]
    InvalidFolder,
    /// The message would take this user over their quota.
    #[error("mailbox of {user} is over quota")]
    OverQuota {
        /// The user.
        user: String,
    },
    /// A file system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A user's usage, from Maildir++ `maildirsize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Octets stored.
    pub bytes: u64,
    /// Messages stored.
    pub messages: u64,
    /// The byte limit the file records, if any.
    pub limit: Option<u64>,
}

/// One stored copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The user, as given to `commit`.
    pub user: String,
    /// The file in the user's `new/`.
    pub path: PathBuf,
    /// Its Maildir unique name (a POP3 UIDL id).
    pub unique: String,
    /// Its size in octets (prepend and body).
    pub size: u64,
}

/// How a message for several users is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CopyMode {
    /// One file, fsynced once, hard-linked into each user's `new/`; a user
    /// on another file system gets a copy. The default (see
    /// docs/mailbox-store.md for the measurement).
    #[default]
    Link,
    /// One file written and fsynced per user.
    Copy,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    host: String,
    mode: CopyMode,
}

/// Per-user Maildir++ trees under one root: `root/<domain>/<local-part>/`.
///
/// Cheap to clone (shared); [`Incoming`] keeps its own handle, so server
/// threads can hold both.
#[derive(Debug, Clone)]
pub struct MailStore {
    inner: Arc<Inner>,
}

fn dir_builder() -> DirBuilder {
    let mut b = DirBuilder::new();
    b.recursive(true).mode(0o700);
    b
}

fn new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

impl MailStore {
    /// Opens (creating) the store at `root`, and removes staging files a
    /// crash left more than 36 hours ago.
    pub fn open(root: impl AsRef<Path>) -> io::Result<MailStore> {
        let root = root.as_ref().to_path_buf();
        let staging = root.join(STAGING);
        let shards: Vec<PathBuf> = (0..STAGING_SHARDS)
            .map(|i| staging.join(format!("{i:02x}")))
            .collect();
        for dir in &shards {
            dir_builder().create(dir)?;
        }
        let now = SystemTime::now();
        for dir in std::iter::once(&staging).chain(&shards) {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .ok()
                    .filter(fs::Metadata::is_file)
                    .and_then(|m| m.modified().ok())
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age > STALE);
                if old {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(MailStore {
            inner: Arc::new(Inner {
                root,
                host: names::host_part(),
                mode: CopyMode::Link,
            }),
        })
    }

    /// The same store, storing copies this way.
    pub fn with_copy_mode(self, mode: CopyMode) -> MailStore {
        MailStore {
            inner: Arc::new(Inner {
                root: self.inner.root.clone(),
                host: self.inner.host.clone(),
                mode,
            }),
        }
    }

    /// The store's root.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The user's Maildir++ tree (INBOX), `root/<domain>/<local-part>`,
    /// whether or not it exists yet: what POP3 and IMAP open.
    pub fn maildir(&self, user: &str) -> Result<PathBuf, StoreError> {
        let (domain, local) = names::user_components(user).ok_or(StoreError::InvalidUser)?;
        Ok(self.inner.root.join(domain).join(local))
    }

    /// The user's tree as IMAP folders (made if missing).
    pub fn folders(&self, user: &str) -> Result<MaildirFolders, StoreError> {
        let dir = self.ensure_tree(user)?;
        Ok(MaildirFolders::open(dir)?)
    }

    /// Makes the user's tree if missing (durably); returns its path.
    fn ensure_tree(&self, user: &str) -> Result<PathBuf, StoreError> {
        let dir = self.maildir(user)?;
        if !dir.join("cur").is_dir() {
            for sub in ["tmp", "new", "cur"] {
                dir_builder().create(dir.join(sub))?;
            }
            sync_dir(&dir)?;
            if let Some(domain) = dir.parent() {
                sync_dir(domain)?;
            }
            sync_dir(&self.inner.root)?;
        }
        Ok(dir)
    }

    /// The user's usage, from `maildirsize` (recalculated if missing or
    /// stale). A user with no mailbox yet uses nothing.
    pub fn usage(&self, user: &str) -> Result<Usage, StoreError> {
        let dir = self.maildir(user)?;
        if !dir.join("cur").is_dir() {
            return Ok(Usage::default());
        }
        let _guard = lock_for(&dir);
        let file = quota::read(&dir, Want::Keep)?;
        Ok(Usage {
            bytes: u64::try_from(file.bytes).unwrap_or(0),
            messages: u64::try_from(file.messages).unwrap_or(0),
            limit: file.limits.bytes,
        })
    }

    /// Whether a message of `size` octets fits in the user's `quota`
    /// (bytes; `None`: no limit): the check behind RCPT's 452.
    pub fn room(&self, user: &str, quota: Option<u64>, size: u64) -> Result<bool, StoreError> {
        let dir = self.maildir(user)?;
        if quota.is_none() {
            return Ok(true);
        }
        if !dir.join("cur").is_dir() {
            return Ok(quota.is_none_or(|q| size <= q));
        }
        let _guard = lock_for(&dir);
        let file = quota::read(&dir, Want::Bytes(quota))?;
        Ok(file.limits.fits((file.bytes, file.messages), size, 1))
    }

    /// Starts receiving a message into a private staging file.
    pub fn begin(&self) -> Result<Incoming, StoreError> {
        let name = format!("{}.incoming", names::unique_name(&self.inner.host, 0));
        let shard = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % STAGING_SHARDS;
        let path = self
            .inner
            .root
            .join(STAGING)
            .join(format!("{shard:02x}"))
            .join(name);
        let file = new_file(&path)?;
        Ok(Incoming {
            store: Arc::clone(&self.inner),
            path,
            file: Some(file),
            size: 0,
        })
    }
}

fn lock_for(dir: &Path) -> FifoGuard<'static> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    let i = usize::try_from(h.finish() % QUOTA_LOCKS.len() as u64).unwrap_or(0);
    QUOTA_LOCKS[i].lock()
}

/// A message being received. Dropped without [`commit`](Self::commit), its
/// staging file is removed.
#[derive(Debug)]
pub struct Incoming {
    store: Arc<Inner>,
    path: PathBuf,
    file: Option<File>,
    size: u64,
}

impl Incoming {
    /// Appends a chunk (written through, unbuffered, so
    /// [`path`](Self::path) always holds everything written).
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the message file is closed"))?;
        file.write_all(chunk)?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// The file received so far (for filters, after the last chunk).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Octets received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Gives up on the message: its staging file is removed.
    pub fn abort(self) {}

    /// Stores the message, `prepend` (e.g. `Received:` and
    /// `Authentication-Results:` lines) in front of the received bytes,
    /// once for each distinct user, in `folder` (`None`: INBOX; a missing
    /// folder is made), each copy durable (file and directory fsynced)
    /// before this returns.
    ///
    /// Each user is tried even when another fails: a user over quota gets
    /// no copy while the others keep theirs, and the first failure is the
    /// error returned (`OverQuota { user }` names the user). Use
    /// [`commit_each`](Self::commit_each) for the outcome per user.
    pub fn commit(
        self,
        prepend: &[u8],
        users: &[(&str, Option<u64>)],
        folder: Option<&str>,
    ) -> Result<Vec<Delivered>, StoreError> {
        let mut out = Vec::with_capacity(users.len());
        let mut first = None;
        for outcome in self.commit_each(prepend, users, folder)? {
            match outcome {
                Ok(d) => out.push(d),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        match first {
            None => Ok(out),
            Some(e) => Err(e),
        }
    }

    /// Like [`commit`](Self::commit), with one outcome per entry of
    /// `users`, in order (a user listed twice gets the same copy twice).
    /// The outer error is a failure before any copy was stored.
    pub fn commit_each(
        mut self,
        prepend: &[u8],
        users: &[(&str, Option<u64>)],
        folder: Option<&str>,
    ) -> Result<Vec<Result<Delivered, StoreError>>, StoreError> {
        if let Some(name) = folder {
            if !name.eq_ignore_ascii_case("INBOX") && !valid_name(name) {
                return Err(StoreError::InvalidFolder);
            }
        }
        let received = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("the message file is closed"))?;
        let size = self.size + prepend.len() as u64;
        let unique = names::unique_name(&self.store.host, size);
        let store = MailStore {
            inner: Arc::clone(&self.store),
        };
        // The one file every link points to: the received file itself when
        // nothing goes in front, else the prepend then the received bytes
        // (a kernel copy on Linux).
        let staged = match self.store.mode {
            CopyMode::Copy => None,
            CopyMode::Link if prepend.is_empty() => {
                received.sync_all()?;
                Some(self.path.clone())
            }
            CopyMode::Link => {
                // Next to the received file, in the same staging shard.
                let path = self.path.with_file_name(format!("{unique}.staged"));
                let result = write_copy(&path, prepend, &self.path);
                if let Err(e) = result {
                    let _ = fs::remove_file(&path);
                    return Err(e.into());
                }
                Some(path)
            }
        };
        drop(received);
        let mut done: HashMap<PathBuf, Delivered> = HashMap::new();
        let mut outcomes = Vec::with_capacity(users.len());
        for &(user, quota) in users {
            let outcome = match store.maildir(user) {
                Err(e) => Err(e),
                Ok(dir) => match done.get(&dir) {
                    Some(d) => Ok(Delivered {
                        user: user.to_owned(),
                        ..d.clone()
                    }),
                    None => {
                        let r = self.deliver_one(
                            &store,
                            user,
                            quota,
                            folder,
                            &unique,
                            size,
                            prepend,
                            staged.as_deref(),
                        );
                        if let Ok(d) = &r {
                            done.insert(dir, d.clone());
                        }
                        r
                    }
                },
            };
            outcomes.push(outcome);
        }
        if let Some(staged) = staged {
            if staged != self.path {
                let _ = fs::remove_file(staged);
            }
        }
        Ok(outcomes)
    }

    #[allow(clippy::too_many_arguments)]
    fn deliver_one(
        &self,
        store: &MailStore,
        user: &str,
        quota: Option<u64>,
        folder: Option<&str>,
        unique: &str,
        size: u64,
        prepend: &[u8],
        staged: Option<&Path>,
    ) -> Result<Delivered, StoreError> {
        let root = store.ensure_tree(user)?;
        let dir = match folder {
            Some(name) if !name.eq_ignore_ascii_case("INBOX") => {
                let dir = root.join(format!(".{name}"));
                if !dir.join("cur").is_dir() {
                    for sub in ["tmp", "new", "cur"] {
                        dir_builder().create(dir.join(sub))?;
                    }
                    File::create(dir.join("maildirfolder"))?;
                    sync_dir(&dir)?;
                    sync_dir(&root)?;
                }
                dir
            }
            _ => root.clone(),
        };
        {
            let _guard = lock_for(&root);
            let file = quota::read(&root, Want::Bytes(quota))?;
            if !file.limits.fits((file.bytes, file.messages), size, 1) {
                return Err(StoreError::OverQuota {
                    user: user.to_owned(),
                });
            }
            quota::append(&root, i64::try_from(size).unwrap_or(i64::MAX), 1)?;
        }
        let target = dir.join("new").join(unique);
        let stored = match staged {
            Some(staged) => match fs::hard_link(staged, &target) {
                Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                    copy_into(&dir, unique, prepend, &self.path)
                }
                other => other,
            },
            None => copy_into(&dir, unique, prepend, &self.path),
        }
        // Shared with the deliveries linking into the same `new/` now.
        .and_then(|()| group_sync::sync_dir(&dir.join("new")));
        if let Err(e) = stored {
            let _ = fs::remove_file(&target);
            let _ = quota::append(&root, -i64::try_from(size).unwrap_or(i64::MAX), -1);
            return Err(e.into());
        }
        Ok(Delivered {
            user: user.to_owned(),
            path: target,
            unique: unique.to_owned(),
            size,
        })
    }
}

/// Writes `prepend` then the file at `body` into a new file at `path`,
/// fsynced.
fn write_copy(path: &Path, prepend: &[u8], body: &Path) -> io::Result<()> {
    let mut out = new_file(path)?;
    out.write_all(prepend)?;
    let mut input = File::open(body)?;
    io::copy(&mut input, &mut out)?;
    out.sync_all()
}

/// One user's own copy: written under `tmp/`, fsynced, renamed into `new/`.
fn copy_into(dir: &Path, unique: &str, prepend: &[u8], body: &Path) -> io::Result<()> {
    let tmp = dir.join("tmp").join(unique);
    if let Err(e) = write_copy(&tmp, prepend, body) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, dir.join("new").join(unique))
}

impl Drop for Incoming {
    fn drop(&mut self) {
        drop(self.file.take());
        let _ = fs::remove_file(&self.path);
    }
}
