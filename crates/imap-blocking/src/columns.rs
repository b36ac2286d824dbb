//! The per-folder search-column file, `.mailwire-imapsearch`, beside the
//! summary cache: per message the sent day and the From, To, Cc, Bcc and
//! Subject columns the header SEARCH keys match
//! ([`imap_proto::columns`]), about 150 octets a message where a summary
//! is over a kilobyte. A session reads the file in one pass the first time
//! a SEARCH needs it and then holds the verified records in memory (up to
//! [`MAX_HELD`] octets a folder), so a warm header or date SEARCH reads no
//! file at all.
//!
//! The file is the magic `MWIMAPS1` and records appended one at a time
//! (`LEN CRC32 PAYLOAD`), each keyed by UID, size, modification time and
//! Maildir unique name, compared in full on every lookup: a message
//! expunged, replaced or renumbered never matches an old record, and a new
//! one is summarized and appended. Reading stops at the first record that
//! does not verify and the file is cut there; a file without the magic is
//! started afresh. Everything in it can be recomputed from the messages,
//! so appends are not synced. A file with many stale records is rewritten
//! with the live ones (temporary file, then rename) when it is next read.

use imap_proto::columns::{scan_records, Columns, ColumnsRef, COLUMNS_MAGIC};
use imap_proto::summary::CacheKey;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Serializes appends and cuts within this process.
static WRITE: Mutex<()> = Mutex::new(());

/// The column file's name in a Maildir folder directory.
pub const COLUMNS_FILE: &str = ".mailwire-imapsearch";

/// The most record octets a session holds in memory for one folder
/// (about 400,000 messages of ordinary headers). Past it, lookups of
/// messages not held fall back to the summary cache and are not appended.
pub const MAX_HELD: usize = 64 * 1024 * 1024;

/// One folder's column file, read and held.
#[derive(Debug)]
pub struct ColumnFile {
    path: PathBuf,
    file: File,
    /// The verified payloads, back to back.
    held: Vec<u8>,
    /// Where each UID's latest payload lies in `held`.
    index: HashMap<u32, (usize, usize)>,
    /// How far the file has been read.
    end: u64,
    /// `held` reached [`MAX_HELD`].
    full: bool,
}

impl ColumnFile {
    /// Opens (or starts) the column file of the folder in `dir` and reads
    /// it; rewrites it with the records of the UIDs in `live` when it has
    /// grown stale.
    pub fn open(dir: &Path, live: &HashSet<u32>) -> io::Result<ColumnFile> {
        let path = dir.join(COLUMNS_FILE);
        let file = match OpenOptions::new().read(true).append(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => fresh(&path)?,
            Err(e) => return Err(e),
        };
        let mut cols = ColumnFile {
            path,
            file,
            held: Vec::new(),
            index: HashMap::new(),
            end: 0,
            full: false,
        };
        let mut magic = [0u8; 8];
        let magic_ok = (&cols.file).read_exact(&mut magic).is_ok() && &magic == COLUMNS_MAGIC;
        if !magic_ok {
            cols.file = fresh(&cols.path)?;
            cols.end = COLUMNS_MAGIC.len() as u64;
            return Ok(cols);
        }
        let (records, good, len) = cols.read_from(COLUMNS_MAGIC.len() as u64)?;
        if good < len && !cols.full {
            // A torn or damaged tail: cut it off under the lock, unless
            // another writer has meanwhile appended good records.
            let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
            let (_, again, len) = cols.read_from(good)?;
            if again < len && !cols.full {
                cols.file.set_len(again)?;
            }
        }
        let stale = cols.index.keys().filter(|u| !live.contains(u)).count();
        let kept = cols.index.len();
        if records > 1000 && (records > 2 * kept || stale > kept / 2) {
            cols.compact(live)?;
        }
        Ok(cols)
    }

    /// Reads the records from `from` to the end of the file into memory;
    /// returns how many verified, where the good part ends, and the file's
    /// length.
    fn read_from(&mut self, from: u64) -> io::Result<(usize, u64, u64)> {
        let len = self.file.metadata()?.len();
        let room = MAX_HELD.saturating_sub(self.held.len()) as u64;
        let mut bytes = Vec::new();
        let mut f = &self.file;
        f.seek(SeekFrom::Start(from))?;
        f.take(room.min(len.saturating_sub(from)))
            .read_to_end(&mut bytes)?;
        let (records, good) = scan_records(&bytes);
        let count = records.len();
        for (_, payload) in records {
            self.hold(payload);
        }
        if from.saturating_add(room) < len {
            self.full = true;
        }
        let good = from + good as u64;
        self.end = good;
        Ok((count, good, len))
    }

    fn hold(&mut self, payload: &[u8]) {
        let Some(r) = imap_proto::columns::parse_payload(payload) else {
            return;
        };
        if self.held.len() + payload.len() > MAX_HELD {
            self.full = true;
            return;
        }
        let at = self.held.len();
        self.held.extend_from_slice(payload);
        self.index.insert(r.uid, (at, payload.len()));
    }

    fn held(&self, uid: u32) -> Option<ColumnsRef<'_>> {
        let (at, len) = *self.index.get(&uid)?;
        imap_proto::columns::parse_payload(self.held.get(at..at + len)?)
    }

    /// The columns held for this message, if a record for it (the same
    /// UID, size, time and unique name) was read; on a miss, records other
    /// sessions appended since are read first.
    pub fn get(&mut self, uid: u32, size: u64, mtime: i64, unique: &str) -> Option<ColumnsRef<'_>> {
        let hit = self
            .held(uid)
            .is_some_and(|r| r.is_for(uid, size, mtime, unique));
        if !hit {
            let grown = self.file.metadata().is_ok_and(|m| m.len() > self.end);
            if !grown || self.full {
                return None;
            }
            let end = self.end;
            self.read_from(end).ok()?;
        }
        self.held(uid).filter(|r| r.is_for(uid, size, mtime, unique))
    }

    /// Appends (and holds) the columns of this message.
    pub fn put(&mut self, key: &CacheKey, columns: &Columns) -> io::Result<()> {
        if self.full {
            return Ok(());
        }
        let record = columns.encode_record(key);
        {
            let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
            // Opened for appending: the record lands at the end whatever
            // other sessions wrote.
            (&self.file).write_all(&record)?;
        }
        self.hold(&record[8..]);
        Ok(())
    }

    /// Rewrites the file with the live records only.
    fn compact(&mut self, live: &HashSet<u32>) -> io::Result<()> {
        let tmp = self.path.with_extension(temp_suffix("tmp"));
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        out.write_all(COLUMNS_MAGIC)?;
        let mut uids: Vec<u32> = self
            .index
            .keys()
            .copied()
            .filter(|u| live.contains(u))
            .collect();
        uids.sort_unstable();
        let mut held = Vec::new();
        let mut index = HashMap::new();
        let mut at = COLUMNS_MAGIC.len() as u64;
        for uid in uids {
            let Some(r) = self.held(uid) else { continue };
            let record = r.encode();
            out.write_all(&record)?;
            at += record.len() as u64;
            index.insert(uid, (held.len(), record.len() - 8));
            held.extend_from_slice(&record[8..]);
        }
        out.into_inner().map_err(|e| e.into_error())?;
        fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().read(true).append(true).open(&self.path)?;
        self.held = held;
        self.index = index;
        self.end = at;
        Ok(())
    }

    /// How many messages have columns held (for tests).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No message has columns held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// A new file holding the magic alone, put in place by rename.
fn fresh(path: &Path) -> io::Result<File> {
    let tmp = path.with_extension(temp_suffix("new"));
    fs::write(&tmp, COLUMNS_MAGIC)?;
    fs::rename(&tmp, path)?;
    OpenOptions::new().read(true).append(true).open(path)
}

/// A temporary name's suffix no other session of this process uses.
fn temp_suffix(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{what}.{}.{n}", std::process::id())
}
