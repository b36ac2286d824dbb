//! Delivery into a Maildir: write under `tmp/`, fsync, rename into `new/`.

use anyhow::Context;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A Maildir directory with `tmp/`, `new/` and `cur/`.
#[derive(Debug)]
pub(crate) struct Maildir {
    root: PathBuf,
    counter: AtomicU64,
}

impl Maildir {
    /// Opens `root`, creating it and its subdirectories when missing.
    pub(crate) fn create(root: &Path) -> anyhow::Result<Maildir> {
        for sub in ["tmp", "new", "cur"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir)
                .with_context(|| format!("creating the Maildir directory {}", dir.display()))?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
            counter: AtomicU64::new(0),
        })
    }

    /// The path of the message called `name` in `new/`.
    pub(crate) fn new_path(&self, name: &str) -> PathBuf {
        self.root.join("new").join(name)
    }

    /// Stores `header` then `body` as one new message; returns its file name.
    pub(crate) fn deliver(&self, header: &[u8], body: &[u8]) -> anyhow::Result<String> {
        let name = self.unique_name();
        let tmp = self.root.join("tmp").join(&name);
        let result = write_synced(&tmp, header, body).and_then(|()| {
            fs::rename(&tmp, self.new_path(&name))
                .with_context(|| format!("moving {} into new/", tmp.display()))
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        // Make the rename itself durable.
        if let Ok(dir) = File::open(self.root.join("new")) {
            let _ = dir.sync_all();
        }
        Ok(name)
    }

    /// `seconds.MmicrosPpidQn.mailwire`: unique per process and call.
    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!(
            "{}.M{}P{}Q{}.mailwire",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            n
        )
    }
}

fn write_synced(path: &Path, header: &[u8], body: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(header)
        .and_then(|()| file.write_all(body))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
