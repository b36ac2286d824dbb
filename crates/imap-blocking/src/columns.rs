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
//! Maildir unique name, compared in full with the folder's listing the
//! first time a session uses the record: a message expunged, replaced or
//! renumbered never matches an old record, and a new one is summarized and
//! appended. A UID names one message for as long as the folder's
//! UIDVALIDITY holds, so a record checked once is not checked again until
//! the UIDVALIDITY changes (the store then reads the file afresh). Reading stops at the first record that
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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Serializes appends and cuts within this process.
static WRITE: Mutex<()> = Mutex::new(());

/// The column file's name in a Maildir folder directory.
pub const COLUMNS_FILE: &str = ".mailwire-imapsearch";

/// The most record octets a session holds in memory for one folder
/// (about 400,000 messages of ordinary headers). Past it, lookups of
/// messages not held fall back to the summary cache and are not appended.
pub const MAX_HELD: usize = 64 * 1024 * 1024;

/// The most record octets all the sessions of this process hold together,
/// whatever the number of sessions and folders: a hundred sessions on one
/// large folder share this, not a hundred times [`MAX_HELD`]. A session
/// that finds it spent holds what it has and falls back to the summary
/// cache for the rest, as at [`MAX_HELD`].
pub const MAX_HELD_TOTAL: usize = 256 * 1024 * 1024;

/// Record octets held now by every [`ColumnFile`] of this process.
static HELD_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// Takes up to `want` octets from what `total` leaves under `limit`; how
/// many it took.
fn reserve_from(total: &AtomicUsize, limit: usize, want: usize) -> usize {
    let mut now = total.load(Ordering::Relaxed);
    loop {
        let grant = want.min(limit.saturating_sub(now));
        if grant == 0 {
            return 0;
        }
        match total.compare_exchange_weak(now, now + grant, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return grant,
            Err(seen) => now = seen,
        }
    }
}

/// A record held in memory.
#[derive(Debug, Clone)]
struct Entry {
    uid: u32,
    /// Where its payload lies in `held`.
    at: usize,
    len: usize,
    sent_day: Option<i32>,
    /// Its key was compared with the folder's listing.
    checked: bool,
    /// No later record for the same UID replaced it.
    current: bool,
}

/// One folder's column file, read and held.
#[derive(Debug)]
pub struct ColumnFile {
    path: PathBuf,
    file: File,
    /// The good records as read or written (frames included), back to
    /// back.
    held: Vec<u8>,
    /// Octets of [`MAX_HELD_TOTAL`] this file has taken (at least
    /// `held.len()`; given back as `held` shrinks and on drop).
    reserved: usize,
    /// The records in file order (mostly UID order, as searches go).
    entries: Vec<Entry>,
    /// Each UID's current entry.
    index: HashMap<u32, usize>,
    /// Where the last lookup's successor is: a search goes in UID order,
    /// so the next lookup usually finds its entry there without hashing.
    cursor: usize,
    /// How far the file has been read.
    end: u64,
    /// `held` reached [`MAX_HELD`].
    full: bool,
    /// Lookups that missed since the file's length was last asked: a
    /// search that summarizes a whole folder misses on every message, and
    /// asks once in [`RECHECK`] misses whether another session appended.
    misses: u32,
    /// Records put but not yet written: a SEARCH that summarizes a whole
    /// folder writes them a batch at a time (and the rest when the store
    /// is dropped).
    pending: Vec<u8>,
}

/// See `misses`.
const RECHECK: u32 = 64;

/// How many octets of new records are written at once.
const BATCH: usize = 256 * 1024;

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
            reserved: 0,
            entries: Vec::new(),
            index: HashMap::new(),
            cursor: 0,
            end: 0,
            full: false,
            misses: 0,
            pending: Vec::new(),
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
        let want = (MAX_HELD.saturating_sub(self.held.len()) as u64).min(len.saturating_sub(from));
        let want = usize::try_from(want).unwrap_or(usize::MAX);
        let granted = reserve_from(&HELD_TOTAL, MAX_HELD_TOTAL, want);
        self.reserved += granted;
        let room = granted as u64;
        // Read straight behind the records held, then keep the good part.
        let base = self.held.len();
        let mut f = &self.file;
        f.seek(SeekFrom::Start(from))?;
        let read = f.take(room).read_to_end(&mut self.held);
        if let Err(e) = read {
            self.held.truncate(base);
            self.give_back();
            return Err(e);
        }
        let (records, good) = scan_records(&self.held[base..]);
        let count = records.len();
        let found: Vec<(usize, usize)> = records
            .iter()
            .map(|(at, p)| (base + at + 8, p.len()))
            .collect();
        self.held.truncate(base + good);
        self.give_back();
        for (at, plen) in found {
            self.index_payload(at, plen);
        }
        if from.saturating_add(room) < len {
            self.full = true;
        }
        let good = from + good as u64;
        self.end = good;
        Ok((count, good, len))
    }

    /// Holds a whole record (frame included).
    fn hold(&mut self, record: &[u8]) {
        if self.held.len() + record.len() > MAX_HELD {
            self.full = true;
            return;
        }
        let granted = reserve_from(&HELD_TOTAL, MAX_HELD_TOTAL, record.len());
        self.reserved += granted;
        if granted < record.len() {
            self.give_back();
            self.full = true;
            return;
        }
        let at = self.held.len();
        self.held.extend_from_slice(record);
        self.index_payload(at + 8, record.len().saturating_sub(8));
    }

    /// Gives back to [`MAX_HELD_TOTAL`] what this file took beyond what
    /// it holds.
    fn give_back(&mut self) {
        let spare = self.reserved.saturating_sub(self.held.len());
        if spare > 0 {
            HELD_TOTAL.fetch_sub(spare, Ordering::Relaxed);
            self.reserved -= spare;
        }
    }

    /// Indexes the payload held at `at`.
    fn index_payload(&mut self, at: usize, len: usize) {
        let Some(r) = self
            .held
            .get(at..at + len)
            .and_then(imap_proto::columns::parse_payload)
        else {
            return;
        };
        let (uid, sent_day) = (r.uid, r.sent_day);
        let i = self.entries.len();
        self.entries.push(Entry {
            uid,
            at,
            len,
            sent_day,
            checked: false,
            current: true,
        });
        if let Some(old) = self.index.insert(uid, i) {
            if let Some(e) = self.entries.get_mut(old) {
                e.current = false;
            }
        }
    }

    fn payload(&self, i: usize) -> Option<ColumnsRef<'_>> {
        let e = self.entries.get(i)?;
        imap_proto::columns::parse_payload(self.held.get(e.at..e.at + e.len)?)
    }

    fn held(&self, uid: u32) -> Option<ColumnsRef<'_>> {
        self.payload(*self.index.get(&uid)?)
    }

    /// The current entry of `uid`, looked for at the cursor first.
    fn position(&mut self, uid: u32) -> Option<usize> {
        let i = match self.entries.get(self.cursor) {
            Some(e) if e.uid == uid && e.current => self.cursor,
            _ => *self.index.get(&uid)?,
        };
        self.cursor = i + 1;
        Some(i)
    }

    /// The entry held for message `uid`, its key compared (once) with
    /// `listed`, the message's size, time and unique name as the folder
    /// lists it. On a miss, records other sessions appended since are read
    /// first.
    pub fn find<'k>(
        &mut self,
        uid: u32,
        listed: impl Fn() -> Option<(u64, i64, &'k str)>,
    ) -> Option<usize> {
        for attempt in 0..2 {
            if attempt == 1 {
                // The first miss asks, then one in RECHECK: what another
                // session appended meanwhile is read then (a record
                // computed twice is only time).
                self.misses = self.misses.wrapping_add(1);
                if self.misses % RECHECK != 1 {
                    return None;
                }
                let grown = self.file.metadata().is_ok_and(|m| m.len() > self.end);
                if !grown || self.full {
                    return None;
                }
                let end = self.end;
                self.read_from(end).ok()?;
            }
            let Some(i) = self.position(uid) else {
                continue;
            };
            if self.entries.get(i).is_some_and(|e| e.checked) {
                return Some(i);
            }
            let (size, mtime, unique) = listed()?;
            if self
                .payload(i)
                .is_some_and(|r| r.is_for(uid, size, mtime, unique))
            {
                if let Some(e) = self.entries.get_mut(i) {
                    e.checked = true;
                }
                return Some(i);
            }
        }
        None
    }

    /// The sent day of entry `i` (from [`find`](Self::find)).
    pub fn sent_day(&self, i: usize) -> Option<i32> {
        self.entries.get(i).and_then(|e| e.sent_day)
    }

    /// The columns of entry `i` (from [`find`](Self::find)).
    pub fn columns(&self, i: usize) -> Option<ColumnsRef<'_>> {
        self.payload(i)
    }

    /// The columns held for this message, if a record for it (the same
    /// UID, size, time and unique name) was read.
    pub fn get(&mut self, uid: u32, size: u64, mtime: i64, unique: &str) -> Option<ColumnsRef<'_>> {
        let i = self.find(uid, || Some((size, mtime, unique)))?;
        self.payload(i)
    }

    /// Appends (and holds) the columns of this message.
    pub fn put(&mut self, key: &CacheKey, columns: &Columns) -> io::Result<()> {
        if self.full {
            return Ok(());
        }
        let record = columns.encode_record(key);
        self.hold(&record);
        self.pending.extend_from_slice(&record);
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the records put since the last flush.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let _guard = WRITE.lock().unwrap_or_else(|e| e.into_inner());
        let before = self.file.metadata()?.len();
        // Opened for appending: the records land at the end whatever other
        // sessions wrote.
        let written = (&self.file).write_all(&self.pending);
        if written.is_ok() && before == self.end {
            // Nothing of others' between what was read and these: they
            // need not be read back.
            self.end += self.pending.len() as u64;
        }
        self.pending.clear();
        written
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
        let mut records = Vec::new();
        for uid in uids {
            let Some(r) = self.held(uid) else { continue };
            records.push(r.encode());
        }
        let mut at = COLUMNS_MAGIC.len() as u64;
        for record in &records {
            out.write_all(record)?;
            at += record.len() as u64;
        }
        out.into_inner().map_err(|e| e.into_error())?;
        fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)?;
        self.held.clear();
        self.give_back();
        self.entries.clear();
        self.index.clear();
        self.cursor = 0;
        for record in &records {
            self.hold(record);
        }
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

impl Drop for ColumnFile {
    fn drop(&mut self) {
        // Lost records cost time only.
        let _ = self.flush();
        self.held.clear();
        self.give_back();
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

#[cfg(test)]
mod budget_tests {
    use super::reserve_from;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn reservations_never_pass_the_limit_and_take_what_is_left() {
        let total = AtomicUsize::new(0);
        assert_eq!(reserve_from(&total, 100, 60), 60);
        assert_eq!(reserve_from(&total, 100, 60), 40);
        assert_eq!(reserve_from(&total, 100, 1), 0);
        assert_eq!(total.load(Ordering::Relaxed), 100);
        total.fetch_sub(30, Ordering::Relaxed);
        assert_eq!(reserve_from(&total, 100, 50), 30);
    }

    #[test]
    fn threads_together_never_take_more_than_the_limit() {
        let total = AtomicUsize::new(0);
        let taken = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        taken.fetch_add(reserve_from(&total, 5000, 3), Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(taken.load(Ordering::Relaxed), 5000);
        assert_eq!(total.load(Ordering::Relaxed), 5000);
    }
}
