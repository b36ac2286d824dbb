//! The per-folder index, `.mailwire-uidlist`: UIDs that stay the same
//! across restarts, and what a listing needs of each file (size, flags,
//! INTERNALDATE), so that a listing of an unchanged folder reads one file
//! instead of stat-ing every message.
//!
//! Format version 2 (one line each, `\n` ends every line):
//!
//! ```text
//! mailwire-uidlist 2 UIDVALIDITY UIDNEXT NEW-STAMP CUR-STAMP
//! UID SIZE MTIME N|C FILE-NAME      a message whose file was seen (N: in new/, C: in cur/)
//! UID - UNIQUE-NAME                 a message known by its UID only
//! ```
//!
//! A stamp is `INODE.SECONDS.NANOSECONDS` of the `new/` or `cur/`
//! directory when it was last read in full, or `-` when it must be read
//! again (it was changing at the time). In a file name, `%`, CR and LF are
//! written `%25`, `%0D`, `%0A`. Version 1 (`mailwire-uidlist 1 V N`, then
//! `UID UNIQUE-NAME` lines) is still read.
//!
//! The parser is strict: anything out of place (UIDs not ascending, a UID
//! at or past UIDNEXT, a name twice, a stray `%`) makes the whole file
//! [`IndexError`], and the folder's UIDs start over under a new
//! UIDVALIDITY — the rule IMAP sets when UIDs cannot be kept.
//!
//! ```
//! use maildrop::index::{UidIndex, IndexEntry, CachedFile};
//! let index = UidIndex {
//!     uid_validity: 1700000000,
//!     uid_next: 2,
//!     new_stamp: None,
//!     cur_stamp: None,
//!     entries: vec![IndexEntry {
//!         uid: 1,
//!         unique: "1700000000.M1P1.host".into(),
//!         file: Some(CachedFile { size: 5, mtime: 1700000000, in_new: false, name: "1700000000.M1P1.host:2,S".into() }),
//!     }],
//! };
//! let bytes = index.encode();
//! assert_eq!(UidIndex::parse(&bytes), Ok(index));
//! ```

use crate::unique_name;

/// Where a directory was when last read: it has not changed while these
/// hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirStamp {
    /// Its inode number.
    pub ino: u64,
    /// Its modification time, seconds since the epoch.
    pub secs: i64,
    /// And nanoseconds.
    pub nanos: u32,
}

/// What the index keeps of a message's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedFile {
    /// Size in octets.
    pub size: u64,
    /// Modification time, seconds since the epoch (INTERNALDATE).
    pub mtime: i64,
    /// In `new/` (else `cur/`).
    pub in_new: bool,
    /// The file name, with its `:2,flags` suffix.
    pub name: String,
}

/// One message of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Its UID.
    pub uid: u32,
    /// Its Maildir unique name.
    pub unique: String,
    /// Its file when last seen, if known.
    pub file: Option<CachedFile>,
}

/// A folder's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidIndex {
    /// UIDVALIDITY (never 0).
    pub uid_validity: u32,
    /// The UID the next new message gets (above every UID here).
    pub uid_next: u32,
    /// `new/` when last read in full.
    pub new_stamp: Option<DirStamp>,
    /// `cur/` when last read in full.
    pub cur_stamp: Option<DirStamp>,
    /// The messages, ascending UID.
    pub entries: Vec<IndexEntry>,
}

/// Why an index file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The first line is not a known header.
    #[error("not a mailwire-uidlist header")]
    Header,
    /// Line `n` (1-based) is malformed or out of order.
    #[error("bad index line {0}")]
    Line(usize),
    /// The file is not UTF-8.
    #[error("index is not UTF-8")]
    Encoding,
}

impl IndexError {
    /// UIDVALIDITY from the header, when the header was readable though a
    /// later line was not (a new UIDVALIDITY must differ from it).
    pub fn validity_hint(bytes: &[u8]) -> Option<u32> {
        let text = std::str::from_utf8(bytes).ok()?;
        let header = text.split('\n').next()?;
        let mut fields = header.split(' ');
        if fields.next()? != "mailwire-uidlist" {
            return None;
        }
        fields.next()?;
        fields.next()?.parse().ok()
    }
}

fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> Option<String> {
    if text.contains('\r') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3)?;
        out.push(match code {
            "25" => '%',
            "0A" => '\n',
            "0D" => '\r',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// A name the index can hold: non-empty, not a dot file, no `/` or NUL.
fn valid_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\0'])
}

fn encode_stamp(stamp: Option<DirStamp>) -> String {
    match stamp {
        None => "-".into(),
        Some(s) => format!("{}.{}.{}", s.ino, s.secs, s.nanos),
    }
}

fn parse_stamp(text: &str) -> Option<Option<DirStamp>> {
    if text == "-" {
        return Some(None);
    }
    let mut parts = text.split('.');
    let stamp = DirStamp {
        ino: digits(parts.next()?)?,
        secs: signed(parts.next()?)?,
        nanos: digits(parts.next()?).filter(|&n: &u32| n < 1_000_000_000)?,
    };
    parts.next().is_none().then_some(Some(stamp))
}

/// Plain decimal digits only (no sign, no `+`), so encoding is canonical.
fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

fn signed(text: &str) -> Option<i64> {
    match text.strip_prefix('-') {
        Some(rest) => digits::<i64>(rest).filter(|&n| n != 0).map(|n| -n),
        None => digits(text),
    }
}

impl UidIndex {
    /// A fresh, empty index.
    pub fn new(uid_validity: u32) -> UidIndex {
        UidIndex {
            uid_validity: uid_validity.max(1),
            uid_next: 1,
            new_stamp: None,
            cur_stamp: None,
            entries: Vec::new(),
        }
    }

    /// The file's bytes (version 2).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "mailwire-uidlist 2 {} {} {} {}\n",
            self.uid_validity,
            self.uid_next,
            encode_stamp(self.new_stamp),
            encode_stamp(self.cur_stamp)
        );
        for e in &self.entries {
            match &e.file {
                Some(f) => out.push_str(&format!(
                    "{} {} {} {} {}\n",
                    e.uid,
                    f.size,
                    f.mtime,
                    if f.in_new { 'N' } else { 'C' },
                    escape(&f.name)
                )),
                None => out.push_str(&format!("{} - {}\n", e.uid, escape(&e.unique))),
            }
        }
        out.into_bytes()
    }

    /// Parses an index file (version 1 or 2), strictly.
    pub fn parse(bytes: &[u8]) -> Result<UidIndex, IndexError> {
        let text = std::str::from_utf8(bytes).map_err(|_| IndexError::Encoding)?;
        let body = text.strip_suffix('\n').ok_or(IndexError::Header)?;
        let mut lines = body.split('\n');
        let header: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
        let (version, mut index) = match header.as_slice() {
            ["mailwire-uidlist", "1", v, n] => (1, header_index(v, n, "-", "-")?),
            ["mailwire-uidlist", "2", v, n, new, cur] => (2, header_index(v, n, new, cur)?),
            _ => return Err(IndexError::Header),
        };
        // Keys are the names as written (escaping is injective), borrowed.
        let mut seen = std::collections::HashSet::with_capacity(body.len() / 64);
        let mut last_uid = 0u32;
        for (i, line) in lines.enumerate() {
            let bad = IndexError::Line(i + 2);
            let (entry, key) = if version == 1 {
                let (uid, unique) = line.split_once(' ').ok_or(bad.clone())?;
                let entry = IndexEntry {
                    uid: digits(uid).ok_or(bad.clone())?,
                    unique: unique.to_owned(),
                    file: None,
                };
                (entry, unique)
            } else {
                parse_entry(line).ok_or(bad.clone())?
            };
            let unique_ok = valid_file_name(&entry.unique)
                && entry.file.as_ref().is_none_or(|f| {
                    valid_file_name(&f.name) && unique_name(&f.name) == entry.unique
                })
                && !entry.unique.contains(':');
            if entry.uid <= last_uid
                || entry.uid >= index.uid_next
                || !unique_ok
                || !seen.insert(key)
            {
                return Err(bad);
            }
            last_uid = entry.uid;
            index.entries.push(entry);
        }
        Ok(index)
    }
}

fn header_index(v: &str, n: &str, new: &str, cur: &str) -> Result<UidIndex, IndexError> {
    let uid_validity: u32 = digits(v).filter(|&v| v != 0).ok_or(IndexError::Header)?;
    let uid_next: u32 = digits(n).filter(|&n| n != 0).ok_or(IndexError::Header)?;
    Ok(UidIndex {
        uid_validity,
        uid_next,
        new_stamp: parse_stamp(new).ok_or(IndexError::Header)?,
        cur_stamp: parse_stamp(cur).ok_or(IndexError::Header)?,
        entries: Vec::new(),
    })
}

/// An entry and its name as written (the duplicate check's key).
fn parse_entry(line: &str) -> Option<(IndexEntry, &str)> {
    let (uid, rest) = line.split_once(' ')?;
    let uid = digits(uid)?;
    if let Some(unique) = rest.strip_prefix("- ") {
        let entry = IndexEntry {
            uid,
            unique: unescape(unique)?,
            file: None,
        };
        return Some((entry, unique));
    }
    let mut fields = rest.splitn(4, ' ');
    let size = digits(fields.next()?)?;
    let mtime = signed(fields.next()?)?;
    let in_new = match fields.next()? {
        "N" => true,
        "C" => false,
        _ => return None,
    };
    let written = fields.next()?;
    let name = unescape(written)?;
    let entry = IndexEntry {
        uid,
        unique: unique_name(&name).to_owned(),
        file: Some(CachedFile {
            size,
            mtime,
            in_new,
            name,
        }),
    };
    Some((entry, unique_name(written)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_version_1() {
        let idx =
            UidIndex::parse(b"mailwire-uidlist 1 1700000000 4\n1 a.M1.h\n3 b.M2.h\n").unwrap();
        assert_eq!(idx.uid_next, 4);
        assert_eq!(idx.entries.len(), 2);
        assert_eq!(idx.entries[1].unique, "b.M2.h");
        assert!(idx.entries[1].file.is_none());
        assert!(idx.new_stamp.is_none());
    }

    #[test]
    fn refuses_what_is_out_of_place() {
        for bad in [
            &b""[..],
            b"mailwire-uidlist 2 1 2 - -",
            b"mailwire-uidlist 2 0 2 - -\n",
            b"mailwire-uidlist 2 1 0 - -\n",
            b"mailwire-uidlist 3 1 2 - -\n",
            b"mailwire-uidlist 2 1 2 - -\n2 - a\n",
            b"mailwire-uidlist 2 1 3 - -\n1 - a\n1 - b\n",
            b"mailwire-uidlist 2 1 3 - -\n2 - a\n1 - b\n",
            b"mailwire-uidlist 2 1 3 - -\n1 - a\n2 - a\n",
            b"mailwire-uidlist 2 1 3 - -\n1 - .a\n",
            b"mailwire-uidlist 2 1 3 - -\n1 - a/b\n",
            b"mailwire-uidlist 2 1 3 - -\n1 - a%zz\n",
            b"mailwire-uidlist 2 1 3 - -\n1 5 7 X a\n",
            b"mailwire-uidlist 2 1 3 - -\n1 05 7 C a\n",
            b"mailwire-uidlist 2 1 3 - -\n1 +5 7 C a\n",
            b"mailwire-uidlist 2 1 3 1.2 -\n",
            b"mailwire-uidlist 2 1 3 1.2.1000000000 -\n",
            b"mailwire-uidlist 2 1 3 - -\n\n",
            b"mailwire-uidlist 2 1 3 - -\n1 - a:2,S\n",
            b"mailwire-uidlist 2 1 3 - -\n1 - \xff\n",
        ] {
            assert!(
                UidIndex::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            IndexError::validity_hint(b"mailwire-uidlist 2 77 3 - -\ngarbage\n"),
            Some(77)
        );
    }

    fn name() -> impl Strategy<Value = String> {
        "[^./\\x00][^/\\x00]{0,30}"
    }

    fn stamp() -> impl Strategy<Value = Option<DirStamp>> {
        proptest::option::of(
            (any::<u64>(), any::<i64>(), 0u32..1_000_000_000)
                .prop_map(|(ino, secs, nanos)| DirStamp { ino, secs, nanos }),
        )
    }

    prop_compose! {
        fn index()(validity in 1u32.., new_stamp in stamp(), cur_stamp in stamp(),
                   files in proptest::collection::vec((name(), proptest::option::of((any::<u64>(), any::<i64>(), any::<bool>(), "(:2,[A-Z]{0,4})?")), 1u32..5), 0..20))
                   -> UidIndex {
            let mut uid = 0u32;
            let mut entries = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (unique, file, step) in files {
                let unique = unique.replace(':', "_");
                if !seen.insert(unique.clone()) { continue; }
                uid += step;
                entries.push(IndexEntry {
                    uid,
                    file: file.map(|(size, mtime, in_new, info)| CachedFile { size, mtime, in_new, name: format!("{unique}{info}") }),
                    unique,
                });
            }
            UidIndex { uid_validity: validity, uid_next: uid + 1, new_stamp, cur_stamp, entries }
        }
    }

    proptest! {
        #[test]
        fn round_trip(index in index()) {
            let bytes = index.encode();
            prop_assert_eq!(UidIndex::parse(&bytes), Ok(index));
        }

        /// Whatever is parsed re-encodes to the same bytes (the format is
        /// canonical), and nothing panics.
        #[test]
        fn canonical(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(index) = UidIndex::parse(&bytes) {
                if bytes.starts_with(b"mailwire-uidlist 2") {
                    prop_assert_eq!(index.encode(), bytes);
                }
            }
        }
    }
}
