//! A message delivered as it arrives: written to `tmp/` chunk by chunk,
//! synced, then renamed into `cur/` (IMAP APPEND of a large message never
//! held whole in memory).

use super::{sync_dir, FolderError, MaildirFolders, COUNTER};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

/// A message being written into a folder's `tmp/`. Dropped unfinished, its
/// file is removed.
#[derive(Debug)]
pub struct Delivery {
    folder: String,
    dir: PathBuf,
    unique: String,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
    written: u64,
}

impl Delivery {
    /// Appends octets of the message.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("delivery already finished"))?;
        file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
    /// Octets written so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl MaildirFolders {
    /// Starts delivering a message into folder `name` (which must exist).
    pub fn begin_delivery(&self, name: &str) -> Result<Delivery, FolderError> {
        let dir = self.dir(name)?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let unique = format!(
            "{}.M{:06}P{}Q{n:010}.mailwire",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id()
        );
        let tmp = dir.join("tmp").join(&unique);
        let file = BufWriter::with_capacity(64 * 1024, File::create(&tmp)?);
        Ok(Delivery {
            folder: name.to_owned(),
            dir,
            unique,
            tmp,
            file: Some(file),
            written: 0,
        })
    }

    /// Finishes a delivery: syncs the file, gives it its modification time
    /// (INTERNALDATE) and flags, renames it into `cur/` and syncs that;
    /// returns the folder's UIDVALIDITY and the message's UID.
    pub fn finish_delivery(
        &self,
        mut delivery: Delivery,
        letters: &str,
        mtime: Option<i64>,
    ) -> Result<(u32, u32), FolderError> {
        let file = delivery
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("delivery already finished"))?;
        file.flush()?;
        let file = file.get_ref();
        if let Some(t) = mtime.and_then(|t| u64::try_from(t).ok()) {
            let when = UNIX_EPOCH + std::time::Duration::from_secs(t);
            file.set_times(fs::FileTimes::new().set_modified(when).set_accessed(when))?;
        }
        file.sync_all()?;
        let mut sorted: Vec<char> = letters.chars().filter(char::is_ascii_uppercase).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let letters: String = sorted.into_iter().collect();
        let target = delivery
            .dir
            .join("cur")
            .join(format!("{}:2,{letters}", delivery.unique));
        fs::rename(&delivery.tmp, target)?;
        // Renamed: nothing for Drop to remove.
        delivery.file = None;
        sync_dir(&delivery.dir.join("cur"))?;
        let listing = self.list(&delivery.folder, false)?;
        let uid = listing
            .messages
            .iter()
            .find(|m| m.unique == delivery.unique)
            .map(|m| m.uid)
            .ok_or(FolderError::NoSuchMessage)?;
        Ok((listing.uid_validity, uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_delivery_lands_whole_and_an_abandoned_one_leaves_nothing() {
        let root = std::env::temp_dir().join(format!("maildrop-delivery-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let folders = MaildirFolders::open(&root).unwrap();
        let mut d = folders.begin_delivery("INBOX").unwrap();
        d.write(b"Subject: a\r\n\r\n").unwrap();
        d.write(b"body\r\n").unwrap();
        assert_eq!(d.written(), 20);
        let (_, uid) = folders
            .finish_delivery(d, "S", Some(1_700_000_000))
            .unwrap();
        assert_eq!(
            folders.read("INBOX", uid).unwrap(),
            b"Subject: a\r\n\r\nbody\r\n"
        );
        let listing = folders.list("INBOX", false).unwrap();
        assert_eq!(listing.messages[0].flags, "S");
        assert_eq!(listing.messages[0].mtime, 1_700_000_000);
        let mut d = folders.begin_delivery("INBOX").unwrap();
        d.write(b"partial").unwrap();
        drop(d);
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        assert!(matches!(
            folders.begin_delivery("Nope"),
            Err(FolderError::NoSuchFolder)
        ));
        fs::remove_dir_all(&root).unwrap();
    }
}
