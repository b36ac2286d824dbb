//! The index: a summary of every message (sender, recipients, subject,
//! dates, size, and its JSON list entry) kept in memory and refreshed
//! incrementally, so listing and searching 100,000 messages costs no file
//! reads.
//!
//! A refresh first compares the modification times of `new/` and `cur/`
//! with those seen at the last scan: a delivery, move or removal changes
//! them. Only then does it read the directories, keeping the summary of every
//! file it already knows (same name, same size) and reading the header
//! section of the new ones only.

use crate::{json, time};
use mime_codec::{Address, Mailbox, Message};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The most of a file read to find its header section.
const MAX_HEADER_BYTES: usize = 256 * 1024;

/// What the list shows of one message.
#[derive(Debug)]
pub(crate) struct Summary {
    /// The Maildir unique name: the file name without its `:2,` info.
    pub(crate) id: String,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    /// When it arrived (the file's modification time), for the order.
    pub(crate) received: (i64, u32),
    /// Lower-cased sender names and addresses, for search.
    pub(crate) search_from: String,
    pub(crate) search_to: String,
    pub(crate) search_subject: String,
    /// The list entry as JSON.
    pub(crate) json: String,
}

/// One state of the Maildir.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// Newest first.
    pub(crate) list: Vec<Arc<Summary>>,
    pub(crate) by_id: HashMap<String, Arc<Summary>>,
    /// Changes each time the set of messages changes.
    pub(crate) generation: u64,
}

/// Modification times of `new/` and `cur/`.
type Stamp = [Option<SystemTime>; 2];

#[derive(Debug)]
struct ScanState {
    stamp: Stamp,
    last_scan: Option<Instant>,
}

/// The index of one Maildir.
#[derive(Debug)]
pub(crate) struct MailIndex {
    root: PathBuf,
    scan: Mutex<ScanState>,
    snapshot: RwLock<Arc<Snapshot>>,
}

/// The Maildir unique name of a file name.
pub(crate) fn unique_name(file_name: &str) -> &str {
    file_name.split(':').next().unwrap_or(file_name)
}

/// Whether `id` can be a message id: what POP3 accepts as a UIDL (printable
/// ASCII, at most 70 octets) and nothing a path could be built from.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 70
        && id
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'/' && b != b'\\')
        && !id.starts_with('.')
}

fn stamp(root: &Path) -> Stamp {
    ["new", "cur"].map(|sub| fs::metadata(root.join(sub)).and_then(|m| m.modified()).ok())
}

impl MailIndex {
    pub(crate) fn new(root: PathBuf) -> Self {
        MailIndex {
            root,
            scan: Mutex::new(ScanState {
                stamp: [None, None],
                last_scan: None,
            }),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
        }
    }

    /// The current state (refresh first for the newest).
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Brings the index up to date: a scan when the directories changed
    /// since the last one, or when `force`. Returns whether the set of
    /// messages changed.
    pub(crate) fn refresh(&self, force: bool) -> io::Result<bool> {
        let mut state = self.scan.lock().unwrap_or_else(PoisonError::into_inner);
        let now_stamp = stamp(&self.root);
        if !force && state.last_scan.is_some() && now_stamp == state.stamp {
            return Ok(false);
        }
        let old = self.snapshot();
        let mut by_id: HashMap<String, Arc<Summary>> = HashMap::with_capacity(old.by_id.len());
        for sub in ["new", "cur"] {
            let entries = match fs::read_dir(self.root.join(sub)) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let id = unique_name(name);
                if !valid_id(id) {
                    continue;
                }
                let path = entry.path();
                if let Some(known) = old.by_id.get(id) {
                    if known.path == path {
                        by_id.insert(id.to_owned(), Arc::clone(known));
                        continue;
                    }
                }
                let Ok(metadata) = entry.metadata() else {
                    continue;
                };
                if !metadata.is_file() {
                    continue;
                }
                match summarize(id, path, &metadata) {
                    Ok(summary) => {
                        by_id.insert(id.to_owned(), Arc::new(summary));
                    }
                    // Removed by another reader meanwhile.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        state.stamp = now_stamp;
        state.last_scan = Some(Instant::now());
        let changed = by_id.len() != old.by_id.len()
            || by_id
                .iter()
                .any(|(id, s)| old.by_id.get(id).is_none_or(|o| !Arc::ptr_eq(o, s)));
        if changed {
            let mut list: Vec<Arc<Summary>> = by_id.values().cloned().collect();
            list.sort_unstable_by(|a, b| b.received.cmp(&a.received).then_with(|| b.id.cmp(&a.id)));
            let snapshot = Snapshot {
                list,
                by_id,
                generation: old.generation + 1,
            };
            *self
                .snapshot
                .write()
                .unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
        }
        Ok(changed)
    }

    /// How long since the last scan.
    pub(crate) fn since_last_scan(&self) -> Option<std::time::Duration> {
        let state = self.scan.lock().unwrap_or_else(PoisonError::into_inner);
        state.last_scan.map(|t| t.elapsed())
    }

    /// Removes messages by id, following a message another reader moved
    /// between `new/` and `cur/`; then syncs the directories and refreshes.
    /// Returns how many were removed (an id already gone is not counted).
    pub(crate) fn delete(&self, ids: &[String]) -> io::Result<usize> {
        let snapshot = self.snapshot();
        let mut removed = 0;
        let mut first_error = None;
        for id in ids {
            let Some(summary) = snapshot.by_id.get(id) else {
                continue;
            };
            let result = match fs::remove_file(&summary.path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => match self.find(id) {
                    Some(path) => fs::remove_file(path),
                    None => Err(e),
                },
                other => other,
            };
            match result {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        for sub in ["new", "cur"] {
            if let Ok(dir) = File::open(self.root.join(sub)) {
                let _ = dir.sync_all();
            }
        }
        self.refresh(true)?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    /// Where the message with this id is now.
    pub(crate) fn find(&self, id: &str) -> Option<PathBuf> {
        for sub in ["cur", "new"] {
            let Ok(entries) = fs::read_dir(self.root.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_str().map(unique_name) == Some(id) {
                    return Some(entry.path());
                }
            }
        }
        None
    }

    /// Opens a message by id, following a move since the last scan.
    pub(crate) fn open(&self, id: &str) -> io::Result<Option<(File, Arc<Summary>)>> {
        let snapshot = self.snapshot();
        let Some(summary) = snapshot.by_id.get(id) else {
            return Ok(None);
        };
        let file = match File::open(&summary.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => match self.find(id) {
                Some(path) => File::open(path)?,
                None => return Ok(None),
            },
            other => other?,
        };
        Ok(Some((file, Arc::clone(summary))))
    }
}

/// Reads the header section of a message (up to the blank line, at most
/// [`MAX_HEADER_BYTES`]).
fn read_header_section(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        let start = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = header_end(&buf[start..]) {
            buf.truncate(start + end);
            break;
        }
        if buf.len() >= MAX_HEADER_BYTES {
            buf.truncate(MAX_HEADER_BYTES);
            break;
        }
    }
    Ok(buf)
}

/// The offset just past the blank line ending the header section.
pub(crate) fn header_end(buf: &[u8]) -> Option<usize> {
    (0..buf.len()).find_map(|i| {
        if buf[i..].starts_with(b"\n\r\n") {
            Some(i + 3)
        } else if buf[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

fn summarize(id: &str, path: PathBuf, metadata: &fs::Metadata) -> io::Result<Summary> {
    let header = read_header_section(&path)?;
    let message = Message::parse(&header);
    let received = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or((0, 0), |d| (d.as_secs() as i64, d.subsec_nanos()));
    let from: Vec<Mailbox> = mailboxes(&message.from());
    let to = mailboxes(&message.to());
    let cc = mailboxes(&message.cc());
    let bcc = mailboxes(&message.bcc());
    let subject = message
        .subject()
        .map(|s| s.into_owned())
        .unwrap_or_default();
    let date = message.date().map(|d| time::rfc3339(&d));
    let message_id = message.message_id();

    let mut entry = String::with_capacity(256);
    let mut o = json::Object::new(&mut entry);
    o.str("id", id)
        .opt_str("messageId", message_id.as_deref())
        .with("from", |out| match from.first() {
            Some(m) => mailbox_json(out, m),
            None => out.push_str("null"),
        })
        .with("to", |out| mailboxes_json(out, &to))
        .with("cc", |out| mailboxes_json(out, &cc))
        .with("bcc", |out| mailboxes_json(out, &bcc))
        .str("subject", &subject)
        .opt_str("date", date.as_deref())
        .str("received", &time::rfc3339_utc(received.0))
        .num("size", metadata.len());
    o.end();

    Ok(Summary {
        id: id.to_owned(),
        path,
        size: metadata.len(),
        received,
        search_from: search_text(&from),
        search_to: search_text(to.iter().chain(&cc).chain(&bcc)),
        search_subject: subject.to_lowercase(),
        json: entry,
    })
}

pub(crate) fn mailboxes(addresses: &[Address]) -> Vec<Mailbox> {
    addresses
        .iter()
        .flat_map(|a| a.mailboxes().iter().cloned())
        .collect()
}

pub(crate) fn mailbox_json(out: &mut String, m: &Mailbox) {
    let mut o = json::Object::new(out);
    o.str("name", m.name().unwrap_or(""))
        .str("address", m.address());
    o.end();
}

pub(crate) fn mailboxes_json(out: &mut String, list: &[Mailbox]) {
    json::array(out, list, mailbox_json);
}

fn search_text<'m>(list: impl IntoIterator<Item = &'m Mailbox>) -> String {
    let mut s = String::new();
    for m in list {
        if let Some(name) = m.name() {
            s.push_str(&name.to_lowercase());
            s.push('\n');
        }
        s.push_str(&m.address().to_lowercase());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("1700000000.M1P2Q3.mailwire"));
        for bad in [
            "",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "a b",
            "é",
            &"x".repeat(71),
        ] {
            assert!(!valid_id(bad), "{bad:?}");
        }
        assert_eq!(unique_name("1.M2.host:2,S"), "1.M2.host");
    }

    #[test]
    fn header_ends() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody"), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody"), Some(6));
        assert_eq!(header_end(b"A: b\r\n"), None);
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn maildir(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("mail-web-index-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        Dir(d)
    }

    fn put(dir: &Dir, rel: &str, subject: &str, mtime: u64) {
        let path = dir.0.join(rel);
        fs::write(
            &path,
            format!("Subject: {subject}\r\nFrom: a@example.com\r\n\r\nbody\r\n"),
        )
        .unwrap();
        let f = File::options().write(true).open(&path).unwrap();
        f.set_modified(UNIX_EPOCH + std::time::Duration::from_secs(mtime))
            .unwrap();
    }

    fn subjects(index: &MailIndex) -> Vec<String> {
        index
            .snapshot()
            .list
            .iter()
            .map(|s| {
                s.json
                    .split("\"subject\":\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn newest_first_and_incremental() {
        let dir = maildir("incr");
        put(&dir, "new/100.A.h", "old", 100);
        put(&dir, "cur/300.C.h:2,S", "newest", 300);
        put(&dir, "new/200.B.h", "middle", 200);
        put(&dir, "new/.hidden", "hidden", 400);
        let index = MailIndex::new(dir.0.clone());
        assert!(index.refresh(false).unwrap());
        assert_eq!(subjects(&index), ["newest", "middle", "old"]);
        let before = index.snapshot();
        // Nothing changed: no scan, same snapshot.
        assert!(!index.refresh(false).unwrap());
        assert!(Arc::ptr_eq(&before, &index.snapshot()));
        // A reader moves a message to cur/ with flags: same id, followed.
        fs::rename(dir.0.join("new/100.A.h"), dir.0.join("cur/100.A.h:2,RS")).unwrap();
        index.refresh(true).unwrap();
        assert!(index.snapshot().by_id["100.A.h"]
            .path
            .ends_with("cur/100.A.h:2,RS"));
        // Unchanged files keep their summaries (no re-read).
        assert!(Arc::ptr_eq(
            &before.by_id["200.B.h"],
            &index.snapshot().by_id["200.B.h"]
        ));
        // Moved after the scan: open and delete still find it.
        fs::rename(dir.0.join("cur/100.A.h:2,RS"), dir.0.join("new/100.A.h")).unwrap();
        assert!(index.open("100.A.h").unwrap().is_some());
        assert_eq!(
            index.delete(&["100.A.h".into(), "missing".into()]).unwrap(),
            1
        );
        assert_eq!(subjects(&index), ["newest", "middle"]);
        assert!(index.open("100.A.h").unwrap().is_none());
    }
}
