//! Delivery into a Maildir, streamed: a message is written chunk by chunk
//! into a new file under `tmp/`, fsynced, linked into `new/` (never over
//! another file), and `new/` fsynced; only then is it delivered. Files are
//! private (0600), directories too (0700). Stale files in `tmp/` (older
//! than 36 hours, the Maildir convention) are removed at start.

use anyhow::Context;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How old a file in `tmp/` must be to count as left behind by a crash.
const STALE: Duration = Duration::from_secs(36 * 3600);

/// Writes to the file are gathered to this size: fewer system calls for
/// small chunks, a bounded buffer for large ones.
const WRITE_BUFFER: usize = 64 * 1024;

/// Makes a directory's entries durable.
type SyncDir = fn(&Path) -> io::Result<()>;

/// A Maildir directory with `tmp/`, `new/` and `cur/`.
#[derive(Debug)]
pub(crate) struct Maildir {
    root: PathBuf,
    host: String,
    counter: AtomicU64,
    sync_dir: SyncDir,
}

impl Maildir {
    /// Opens `root`, creating it and its subdirectories (mode 0700) when
    /// missing, and removes stale files from `tmp/`.
    pub(crate) fn create(root: &Path) -> anyhow::Result<Maildir> {
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        for sub in ["tmp", "new", "cur"] {
            let dir = root.join(sub);
            builder
                .create(&dir)
                .with_context(|| format!("creating the Maildir directory {}", dir.display()))?;
        }
        let maildir = Maildir {
            root: root.to_path_buf(),
            host: unique_name_host(crate::serve_tls::machine_name().as_deref()),
            counter: AtomicU64::new(0),
            sync_dir,
        };
        maildir.sweep_tmp(SystemTime::now());
        Ok(maildir)
    }

    /// The path of the message called `name` in `new/`.
    pub(crate) fn new_path(&self, name: &str) -> PathBuf {
        self.root.join("new").join(name)
    }

    /// Starts a new message: a private file under `tmp/` with a name no
    /// other delivery uses.
    pub(crate) fn begin(self: &Arc<Self>) -> anyhow::Result<Delivery> {
        let name = self.unique_name();
        let tmp = self.root.join("tmp").join(&name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        Ok(Delivery {
            maildir: Arc::clone(self),
            name,
            tmp,
            file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
        })
    }

    /// Stores `header` then `body` as one new message; returns its file name.
    #[cfg(test)]
    pub(crate) fn deliver(self: &Arc<Self>, header: &[u8], body: &[u8]) -> anyhow::Result<String> {
        let mut delivery = self.begin()?;
        delivery.write(header)?;
        delivery.write(body)?;
        delivery.commit()
    }

    /// `seconds.MmicrosPpidQn.host`, Maildir's unique name: unique per host,
    /// process and delivery.
    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            n,
            self.host
        )
    }

    /// Removes files in `tmp/` last changed before `now` − 36 hours: what a
    /// crash left. Failures are ignored (the next start tries again).
    fn sweep_tmp(&self, now: SystemTime) -> usize {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let old = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > STALE);
            if meta.is_file() && old && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// A message being written under `tmp/`. Dropped without
/// [`commit`](Self::commit), its file is removed.
#[derive(Debug)]
pub(crate) struct Delivery {
    maildir: Arc<Maildir>,
    name: String,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl Delivery {
    /// Appends content.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let file = self.file.as_mut().context("the message file is closed")?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", self.tmp.display()))
    }

    /// Makes the message durable in `new/` and returns its name: flush and
    /// fsync the file, link it into `new/` (which fails rather than replace
    /// a file there), remove the `tmp/` name, fsync `new/`. On any failure
    /// nothing is left in `new/` (nor in `tmp/`).
    pub(crate) fn commit(mut self) -> anyhow::Result<String> {
        let file = self.file.take().context("the message file is closed")?;
        file.into_inner()
            .map_err(io::IntoInnerError::into_error)
            .and_then(|file| file.sync_all())
            .with_context(|| format!("writing {}", self.tmp.display()))?;
        let new = self.maildir.new_path(&self.name);
        fs::hard_link(&self.tmp, &new)
            .with_context(|| format!("moving {} into new/", self.tmp.display()))?;
        let _ = fs::remove_file(&self.tmp);
        if let Err(error) = (self.maildir.sync_dir)(&self.maildir.root.join("new")) {
            let _ = fs::remove_file(&new);
            return Err(error).context("syncing the Maildir's new/ directory");
        }
        Ok(std::mem::take(&mut self.name))
    }

    /// Gives up on the message: its file is removed.
    pub(crate) fn abort(self) {}
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // Committed (or never created): the tmp name is gone already and
        // removing it again is harmless.
        drop(self.file.take());
        let _ = fs::remove_file(&self.tmp);
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The host part of a unique name: the machine's name with `/` and `:`
/// written as `\057` and `\072`, as the Maildir specification asks.
fn unique_name_host(machine: Option<&str>) -> String {
    let host = machine.unwrap_or("localhost");
    host.replace('/', "\\057").replace(':', "\\072")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_root(name: &str) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir().join(format!(
            "mailwire-maildir-{name}-{}-{nanos}",
            std::process::id()
        ))
    }

    fn count(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn messages_and_folders_are_private_and_named_after_the_host() {
        let root = temp_root("private");
        let maildir = Arc::new(Maildir::create(&root).unwrap());
        let name = maildir.deliver(b"H: 1\r\n", b"\r\nbody\r\n").unwrap();
        let path = maildir.new_path(&name);
        assert_eq!(fs::read(&path).unwrap(), b"H: 1\r\n\r\nbody\r\n");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        for sub in ["", "tmp", "new", "cur"] {
            assert_eq!(mode(&root.join(sub)), 0o700, "{sub}");
        }
        assert!(name.ends_with(&format!(".{}", maildir.host)), "{name}");
        assert_eq!(count(&root.join("tmp")), 0);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_host_part_escapes_slash_and_colon() {
        assert_eq!(unique_name_host(Some("a/b:c")), "a\\057b\\072c");
        assert_eq!(unique_name_host(None), "localhost");
    }

    #[test]
    fn a_failed_fsync_of_new_leaves_no_message_and_reports_the_failure() {
        let root = temp_root("fsync");
        let mut maildir = Maildir::create(&root).unwrap();
        maildir.sync_dir = |_| Err(io::Error::other("injected fsync failure"));
        let maildir = Arc::new(maildir);
        let error = maildir.deliver(b"", b"body\r\n").unwrap_err();
        assert!(format!("{error:#}").contains("injected"), "{error:#}");
        assert_eq!(count(&root.join("new")), 0);
        assert_eq!(count(&root.join("tmp")), 0);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_delivery_never_replaces_a_file_in_new() {
        let root = temp_root("nooverwrite");
        let maildir = Arc::new(Maildir::create(&root).unwrap());
        let mut delivery = maildir.begin().unwrap();
        delivery.write(b"second\r\n").unwrap();
        // Another writer took the same name in new/ meanwhile.
        let taken = maildir.new_path(&delivery.name);
        fs::write(&taken, b"first\r\n").unwrap();
        assert!(delivery.commit().is_err());
        assert_eq!(fs::read(&taken).unwrap(), b"first\r\n");
        assert_eq!(count(&root.join("tmp")), 0);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_aborted_or_dropped_delivery_leaves_nothing() {
        let root = temp_root("abort");
        let maildir = Arc::new(Maildir::create(&root).unwrap());
        let mut delivery = maildir.begin().unwrap();
        delivery.write(b"partial").unwrap();
        assert_eq!(count(&root.join("tmp")), 1);
        delivery.abort();
        drop(maildir.begin().unwrap());
        assert_eq!(count(&root.join("tmp")), 0);
        assert_eq!(count(&root.join("new")), 0);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn stale_tmp_files_are_swept_at_start_and_fresh_ones_kept() {
        let root = temp_root("sweep");
        drop(Maildir::create(&root).unwrap());
        let stale = root.join("tmp").join("stale");
        let fresh = root.join("tmp").join("fresh");
        fs::write(&stale, b"x").unwrap();
        fs::write(&fresh, b"x").unwrap();
        let two_days_ago = SystemTime::now() - Duration::from_secs(48 * 3600);
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(two_days_ago)
            .unwrap();
        drop(Maildir::create(&root).unwrap());
        assert!(!stale.exists());
        assert!(fresh.exists());
        fs::remove_dir_all(&root).unwrap();
    }
}
