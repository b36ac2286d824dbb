//! The directory of a running server, reloaded when its users file
//! changes: `mailwire user add` (or `passwd`, `delete`, `quota`) takes
//! effect without a restart.
//!
//! The file is looked at (one `stat`) at most once per check interval, by
//! whichever caller comes first; callers in between read the current
//! directory without touching the disk. A file that no longer loads (a
//! syntax error, a bad hash, an alias that leads nowhere) or that vanished
//! leaves the last good directory in place: the error is kept for
//! [`LiveAccounts::last_error`] and logged once per change of the file.

use crate::directory::{Accounts, AccountsError, DirectoryConfig};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// How often the users file is looked at by default.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies one version of the users file. The file is rewritten by
/// renaming a new file over it, so its inode changes with every edit; the
/// size and modification time catch editors that write in place.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stamp {
    Present {
        len: u64,
        modified: Option<SystemTime>,
        inode: u64,
    },
    Missing,
}

impl Stamp {
    fn of(path: &Path) -> Stamp {
        match std::fs::metadata(path) {
            Ok(meta) => Stamp::Present {
                len: meta.len(),
                modified: meta.modified().ok(),
                inode: inode(&meta),
            },
            Err(_) => Stamp::Missing,
        }
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// A directory ([`Accounts`]) that follows its users file.
///
/// ```no_run
/// use mail_accounts::{DirectoryConfig, LiveAccounts};
/// use std::path::Path;
///
/// let live = LiveAccounts::load(Some(Path::new("users")), &DirectoryConfig::default())?;
/// // Each lookup sees the file as it was at most a second ago.
/// let known = live.current().user("ana@example.org").is_some();
/// # Ok::<(), mail_accounts::AccountsError>(())
/// ```
#[derive(Debug)]
pub struct LiveAccounts {
    path: Option<PathBuf>,
    current: RwLock<Arc<Accounts>>,
    stamp: Mutex<Stamp>,
    /// Milliseconds after `epoch` of the last look at the file.
    checked: AtomicU64,
    epoch: Instant,
    interval: Duration,
    last_error: Mutex<Option<String>>,
}

impl LiveAccounts {
    /// Reads the users file (when given) and the configuration, as
    /// [`Accounts::load`] does; a file that does not load is an error here,
    /// at start.
    pub fn load(
        users_file: Option<&Path>,
        config: &DirectoryConfig,
    ) -> Result<LiveAccounts, AccountsError> {
        let stamp = users_file.map_or(Stamp::Missing, Stamp::of);
        let accounts = Accounts::load(users_file, config)?;
        Ok(LiveAccounts::with(
            users_file.map(Path::to_owned),
            accounts,
            stamp,
        ))
    }

    /// Follows `accounts` (made by [`Accounts::load`] from `users_file`),
    /// starting from the file as it is now.
    pub fn new(users_file: Option<&Path>, accounts: Accounts) -> LiveAccounts {
        let stamp = users_file.map_or(Stamp::Missing, Stamp::of);
        LiveAccounts::with(users_file.map(Path::to_owned), accounts, stamp)
    }

    fn with(path: Option<PathBuf>, accounts: Accounts, stamp: Stamp) -> LiveAccounts {
        LiveAccounts {
            path,
            current: RwLock::new(Arc::new(accounts)),
            stamp: Mutex::new(stamp),
            checked: AtomicU64::new(0),
            epoch: Instant::now(),
            interval: DEFAULT_CHECK_INTERVAL,
            last_error: Mutex::new(None),
        }
    }

    /// Looks at the file at most once per `interval` (zero: at every call).
    pub fn with_check_interval(mut self, interval: Duration) -> LiveAccounts {
        self.interval = interval;
        self
    }

    /// The directory as the users file has it now (checked at most once
    /// per interval).
    pub fn current(&self) -> Arc<Accounts> {
        if self.due() {
            self.check();
        }
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Why the last change of the users file was not taken (the directory
    /// before it stays in use), until a later version loads.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether this caller is the one to look at the file now.
    fn due(&self) -> bool {
        if self.path.is_none() {
            return false;
        }
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.checked.load(Ordering::Relaxed);
        let interval = u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX);
        if last != 0 && now.saturating_sub(last) < interval {
            return false;
        }
        // One caller per interval; the others go on with what is loaded.
        self.checked
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Reloads the directory if the file changed since it was loaded.
    /// Returns whether a new directory was taken.
    ///
    /// The version lock is held until the new directory is in place, so
    /// that a slower reload of an older version can never replace a newer
    /// one another caller took meanwhile; a file that changed while it was
    /// read (written in place) is not taken, and is read again next time.
    pub fn check(&self) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        let mut stamp = self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Stamp::of(path);
        if now == *stamp {
            return false;
        }
        // Taken before reading: a change during the read is seen next time.
        *stamp = now.clone();
        let result = match now {
            Stamp::Missing => Err(format!("the users file {} is gone", path.display())),
            Stamp::Present { .. } => {
                let old = Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner));
                let read = old.reload().map_err(|e| e.to_string());
                if Stamp::of(path) != now {
                    // Changed while read: maybe half written. Its new
                    // version differs from `stamp`, so it is read next time.
                    return false;
                }
                read
            }
        };
        let mut last_error = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(accounts) => {
                tracing::info!(
                    file = %path.display(),
                    users = accounts.users().count(),
                    "users file reloaded"
                );
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(accounts);
                *last_error = None;
                drop(stamp);
                true
            }
            Err(error) => {
                tracing::error!(
                    file = %path.display(),
                    %error,
                    "the changed users file was not taken; the previous users stay"
                );
                *last_error = Some(error);
                drop(stamp);
                false
            }
        }
    }
}
