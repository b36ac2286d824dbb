//! The per-folder summary cache, `.mailwire-imapcache` beside maildrop's
//! `.mailwire-uidlist`: what ENVELOPE, BODYSTRUCTURE, HEADER.FIELDS and the
//! header SEARCH keys need, computed once per message and kept on disk, so
//! they are answered without opening the message files (as Dovecot's
//! `dovecot.index.cache` does).
//!
//! The file is the magic `MWIMAPC2` and then records appended one by one
//! (imap-proto's [`summary`](imap_proto::summary) record form: length,
//! CRC-32, key, summary). Each record is keyed by UID, size, modification
//! time and Maildir unique name: a message replaced, renumbered or
//! removed never matches its old record. Reading stops at the first record
//! that does not verify and the file is cut there; a file without the magic
//! is started afresh. Nothing in it is trusted without its checksum, and
//! since every summary can be recomputed from its message, a lost or
//! damaged cache costs time only (so appends are not synced). Appends are
//! serialized within the process, so sessions sharing a folder do not
//! interleave records; a file with many stale records is rewritten (to a
//! temporary file, then renamed) when it is next loaded.

use imap_proto::summary::{decode_record, encode_record, record_len, CacheKey, CACHE_MAGIC};
use imap_proto::Summary;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Serializes appends and cuts within this process (as maildrop's folder
/// lock does for the UID list). Another process appending at the same
/// moment can garble a record; the checksum and the key compared on every
/// read make that a cache miss, never a wrong answer.
static WRITE: Mutex<()> = Mutex::new(());

/// The cache file's name in a Maildir folder directory.
pub const CACHE_FILE: &str = ".mailwire-imapcache";

/// Where a verified record lies, and the key it was written for.
#[derive(Debug, Clone)]
struct Slot {
    offset: u64,
    len: usize,
    size: u64,
    mtime: i64,
    unique: u64,
    /// The summary's `sent_day`, kept in memory: date searches need no read.
    sent_day: Option<i32>,
}

fn fingerprint(unique: &str) -> u64 {
    // FNV-1a: only to tell records apart in memory; the record itself
    // holds the full name and is compared on read.
    unique.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One folder's cache file, opened.
#[derive(Debug)]
pub struct FolderCache {
    path: PathBuf,
    file: File,
    slots: HashMap<u32, Slot>,
    /// How far the file has been read (records past it were appended by
    /// another session and are picked up on a miss).
    end: u64,
    /// The file's octets from `window_at`, read ahead for the next lookups.
    /// Verified records never change in place, and every record taken
    /// from it is checked again.
    window: Vec<u8>,
    window_at: u64,
}

/// How much of the cache file one read brings in.
const WINDOW: usize = 256 * 1024;

/// Reads from `offset` until `buf` is full or the file ends; the count.
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl FolderCache {
    /// Opens (or starts) the cache of the folder in `dir`, keeping records
    /// of the UIDs in `live` only when it rewrites a file grown stale.
    pub fn open(dir: &Path, live: &HashSet<u32>) -> io::Result<FolderCache> {
        let path = dir.join(CACHE_FILE);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => fresh(&path)?,
            Err(e) => return Err(e),
        };
        let mut cache = FolderCache {
            path,
            file,
            slots: HashMap::new(),
            end: 0,
            window: Vec::new(),
            window_at: 0,
        };
        let (records, good) = cache.scan_from(0)?;
        if good == 0 {
            cache.file = fresh(&cache.path)?;
            cache.window.clear();
            cache.slots.clear();
            cache.end = CACHE_MAGIC.len() as u64;
            return Ok(cache);
        }
        if good < cache.file.metadata()?.len() {
            // A torn or damaged tail: cut it off under the lock, unless
            // another writer has meanwhile appended good records.
            let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
            let (_, again) = cache.scan_from(good)?;
            if again < cache.file.metadata()?.len() {
                cache.file.set_len(again)?;
            }
        }
        let stale = cache.slots.keys().filter(|u| !live.contains(u)).count();
        if records > 1000 && (records > 2 * cache.slots.len() || stale > cache.slots.len() / 2) {
            cache.compact(live)?;
        }
        Ok(cache)
    }

    /// Reads records from `from` (0: the start, magic included) to the end
    /// of the file; returns how many were read and where the good part
    /// ends (0 when the magic is wrong).
    fn scan_from(&mut self, from: u64) -> io::Result<(usize, u64)> {
        let mut reader = BufReader::with_capacity(256 * 1024, &self.file);
        let mut at = from;
        reader.seek(SeekFrom::Start(from))?;
        if from == 0 {
            let mut magic = [0u8; 8];
            if reader.read_exact(&mut magic).is_err() || &magic != CACHE_MAGIC {
                return Ok((0, 0));
            }
            at = CACHE_MAGIC.len() as u64;
        }
        let mut count = 0;
        let mut record = Vec::new();
        loop {
            let mut frame = [0u8; 8];
            if reader.read_exact(&mut frame).is_err() {
                break;
            }
            let Some(len) = record_len(&frame) else { break };
            record.clear();
            record.extend_from_slice(&frame);
            record.resize(len, 0);
            if reader.read_exact(&mut record[8..]).is_err() {
                break;
            }
            let Some((key, summary)) = decode_record(&record) else {
                break;
            };
            self.slots.insert(
                key.uid,
                Slot {
                    offset: at,
                    len,
                    size: key.size,
                    mtime: key.mtime,
                    unique: fingerprint(&key.unique),
                    sent_day: summary.sent_day,
                },
            );
            at += len as u64;
            count += 1;
        }
        self.end = at;
        Ok((count, at))
    }

    /// The Date field's day cached for this message, if its record still
    /// matches (from memory).
    pub fn sent_day(&mut self, key: &CacheKey) -> Option<Option<i32>> {
        self.catch_up(key);
        if !self.matching(key) {
            return None;
        }
        self.slots.get(&key.uid).map(|s| s.sent_day)
    }

    /// Reads records other sessions appended, when `key` has none.
    fn catch_up(&mut self, key: &CacheKey) {
        // The file's length is asked only on a miss: a lookup that hits
        // makes no system call.
        if !self.matching(key) && self.file.metadata().is_ok_and(|m| m.len() > self.end) {
            let end = self.end;
            let _ = self.scan_from(end);
        }
    }

    /// The summary cached for this message, if its record still matches.
    pub fn get(&mut self, key: &CacheKey) -> Option<Summary> {
        // Another session may have summarized it meanwhile.
        self.catch_up(key);
        if !self.matching(key) {
            return None;
        }
        let (offset, len) = self.slots.get(&key.uid).map(|s| (s.offset, s.len))?;
        let end = offset.checked_add(len as u64)?;
        let window_end = self.window_at + self.window.len() as u64;
        if offset < self.window_at || end > window_end {
            // Records are mostly in UID order, and so are SEARCH and FETCH:
            // one read brings the next few hundred.
            self.window.resize(len.max(WINDOW), 0);
            let n = read_up_to(&self.file, &mut self.window, offset).ok()?;
            self.window.truncate(n);
            self.window_at = offset;
            if n < len {
                return None;
            }
        }
        let start = usize::try_from(offset - self.window_at).ok()?;
        let bytes = self.window.get(start..start + len)?;
        match decode_record(bytes) {
            Some((k, summary)) if k == *key => Some(summary),
            _ => {
                self.slots.remove(&key.uid);
                self.window.clear();
                None
            }
        }
    }

    fn matching(&self, key: &CacheKey) -> bool {
        self.slots.get(&key.uid).is_some_and(|s| {
            s.size == key.size && s.mtime == key.mtime && s.unique == fingerprint(&key.unique)
        })
    }

    /// Appends a summary for this message.
    pub fn put(&mut self, key: &CacheKey, summary: &Summary) -> io::Result<()> {
        let record = encode_record(key, summary);
        let at = {
            let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
            let at = self.file.seek(SeekFrom::End(0))?;
            self.file.write_all(&record)?;
            at
        };
        self.slots.insert(
            key.uid,
            Slot {
                offset: at,
                len: record.len(),
                size: key.size,
                mtime: key.mtime,
                unique: fingerprint(&key.unique),
                sent_day: summary.sent_day,
            },
        );
        if at == self.end {
            self.end = at + record.len() as u64;
        }
        Ok(())
    }

    /// Rewrites the file with the live records only: a temporary file,
    /// then renamed over the old one.
    fn compact(&mut self, live: &HashSet<u32>) -> io::Result<()> {
        let tmp = self.path.with_extension(temp_suffix("tmp"));
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        out.write_all(CACHE_MAGIC)?;
        let mut at = CACHE_MAGIC.len() as u64;
        let mut slots = HashMap::new();
        let mut uids: Vec<u32> = self
            .slots
            .keys()
            .copied()
            .filter(|u| live.contains(u))
            .collect();
        uids.sort_unstable();
        for uid in uids {
            let Some(slot) = self.slots.get(&uid) else {
                continue;
            };
            let mut bytes = vec![0u8; slot.len];
            if self.file.read_exact_at(&mut bytes, slot.offset).is_err()
                || decode_record(&bytes).is_none()
            {
                continue;
            }
            out.write_all(&bytes)?;
            slots.insert(
                uid,
                Slot {
                    offset: at,
                    ..slot.clone()
                },
            );
            at += bytes.len() as u64;
        }
        out.into_inner().map_err(|e| e.into_error())?;
        fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        self.window.clear();
        self.slots = slots;
        self.end = at;
        Ok(())
    }

    /// How many messages have a record (for tests and statistics).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No message has a record.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// A new, empty cache file (the magic alone), put in place by rename so
/// no reader sees it half written.
fn fresh(path: &Path) -> io::Result<File> {
    let tmp = path.with_extension(temp_suffix("new"));
    fs::write(&tmp, CACHE_MAGIC)?;
    fs::rename(&tmp, path)?;
    OpenOptions::new().read(true).write(true).open(path)
}

/// A temporary name's suffix no other session of this process uses.
fn temp_suffix(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{what}.{}.{n}", std::process::id())
}
