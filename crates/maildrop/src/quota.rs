//! Maildir++ quotas: the `maildirsize` file at the root of a user's tree,
//! in the format Courier and Dovecot share.
//!
//! ```text
//! 1000000S,1000C      the quota: bytes (S) and/or messages (C); empty = none
//! 52310 12            usage when last recalculated
//! 2048 1              one line appended per delivery
//! -2048 -1            and per removal
//! ```
//!
//! Usage is the sum of every line after the first. The file is rewritten
//! from the files themselves ("recalculated") when it is missing or
//! unreadable, when its quota line differs from the quota in force, when it
//! has grown past 5,120 octets, or when it says the user is over quota and
//! is more than 15 minutes old (Courier's rules; clients that delete without
//! appending a line make it drift upward, never downward for long).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

pub(crate) const FILE: &str = "maildirsize";
const MAX_LEN: u64 = 5120;
const STALE_OVER: Duration = Duration::from_secs(15 * 60);

/// A quota definition: limits in bytes and in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Limits {
    pub(crate) bytes: Option<u64>,
    pub(crate) messages: Option<u64>,
}

impl Limits {
    /// The first line of `maildirsize` (without its newline).
    pub(crate) fn encode(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.bytes {
            parts.push(format!("{b}S"));
        }
        if let Some(c) = self.messages {
            parts.push(format!("{c}C"));
        }
        parts.join(",")
    }

    /// Parses a quota line; `None` if it is not one. `0` means no limit
    /// (Dovecot's reading).
    pub(crate) fn parse(line: &str) -> Option<Limits> {
        let mut limits = Limits::default();
        for part in line.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let value = |digits: &str| digits.parse::<u64>().ok().map(|n| (n != 0).then_some(n));
            if let Some(digits) = part.strip_suffix('S') {
                limits.bytes = value(digits)?;
            } else if let Some(digits) = part.strip_suffix('C') {
                limits.messages = value(digits)?;
            } else {
                return None;
            }
        }
        Some(limits)
    }

    /// Whether `bytes` and `messages` more fit on top of `usage`.
    pub(crate) fn fits(&self, usage: (i64, i64), bytes: u64, messages: u64) -> bool {
        let within = |used: i64, more: u64, limit: Option<u64>| match limit {
            None => true,
            Some(limit) => i128::from(used.max(0)) + i128::from(more) <= i128::from(limit),
        };
        within(usage.0, bytes, self.bytes) && within(usage.1, messages, self.messages)
    }
}

/// A parsed `maildirsize`: its quota line and the summed usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SizeFile {
    pub(crate) limits: Limits,
    pub(crate) bytes: i64,
    pub(crate) messages: i64,
}

/// Parses the whole file; `None` if any line is malformed (then the file is
/// recalculated).
pub(crate) fn parse(text: &str) -> Option<SizeFile> {
    let mut lines = text.split('\n');
    let limits = Limits::parse(lines.next()?)?;
    let (mut bytes, mut messages) = (0i64, 0i64);
    let mut rest = lines.peekable();
    while let Some(line) = rest.next() {
        if line.trim().is_empty() {
            // Only the final newline may leave an empty piece.
            if rest.peek().is_some() {
                return None;
            }
            continue;
        }
        let mut fields = line.split_ascii_whitespace();
        let b: i64 = fields.next()?.parse().ok()?;
        let c: i64 = fields.next()?.parse().ok()?;
        if fields.next().is_some() {
            return None;
        }
        bytes = bytes.checked_add(b)?;
        messages = messages.checked_add(c)?;
    }
    Some(SizeFile {
        limits,
        bytes,
        messages,
    })
}

/// Usage recounted from the files of the tree at `root`: `new/` and `cur/`
/// of INBOX and of every `.Folder`, sizes from `,S=` when the name has it.
pub(crate) fn count(root: &Path) -> io::Result<(i64, i64)> {
    let mut dirs = vec![root.to_path_buf()];
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.len() > 1 && name.starts_with('.') && entry.path().join("cur").is_dir() {
            dirs.push(entry.path());
        }
    }
    let (mut bytes, mut messages) = (0i64, 0i64);
    for dir in dirs {
        for sub in ["new", "cur"] {
            let entries = match fs::read_dir(dir.join(sub)) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') {
                    continue;
                }
                let size = match crate::names::size_from_name(&name) {
                    Some(s) => s,
                    None => match entry.metadata() {
                        Ok(m) if m.is_file() => m.len(),
                        _ => continue,
                    },
                };
                bytes = bytes.saturating_add(i64::try_from(size).unwrap_or(i64::MAX));
                messages += 1;
            }
        }
    }
    Ok((bytes, messages))
}

/// Which quota is in force.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// The one the file records.
    Keep,
    /// This byte limit (`None`: none), with the file's message limit.
    Bytes(Option<u64>),
}

/// Reads `root/maildirsize`, recalculating it first when the rules above
/// say so.
pub(crate) fn read(root: &Path, want: Want) -> io::Result<SizeFile> {
    let path = root.join(FILE);
    let current = match fs::read(&path) {
        Ok(bytes) => {
            let meta = fs::metadata(&path)?;
            let parsed = std::str::from_utf8(&bytes).ok().and_then(parse);
            parsed.filter(|p| {
                let same_limits = match want {
                    Want::Keep => true,
                    Want::Bytes(b) => b.filter(|&b| b != 0) == p.limits.bytes,
                };
                let short = meta.len() <= MAX_LEN;
                let over = !p.limits.fits((p.bytes, p.messages), 0, 0);
                let stale = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .is_some_and(|age| age > STALE_OVER);
                same_limits && short && !(over && stale) && p.bytes >= 0 && p.messages >= 0
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if let Some(current) = current {
        return Ok(current);
    }
    let mut limits = fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.lines().next().and_then(Limits::parse))
        .unwrap_or_default();
    if let Want::Bytes(b) = want {
        limits.bytes = b.filter(|&b| b != 0);
    }
    let (bytes, messages) = count(root)?;
    let text = format!("{}\n{bytes} {messages}\n", limits.encode());
    let tmp = root.join(format!("tmp/{FILE}.{}", std::process::id()));
    fs::create_dir_all(root.join("tmp"))?;
    let mut file = File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, &path)?;
    Ok(SizeFile {
        limits,
        bytes,
        messages,
    })
}

/// Appends a usage line (`+bytes +1` for a delivery, negative for a
/// removal). One short `O_APPEND` write, so concurrent writers never
/// interleave inside a line.
pub(crate) fn append(root: &Path, bytes: i64, messages: i64) -> io::Result<()> {
    let mut file = OpenOptions::new().append(true).open(root.join(FILE))?;
    file.write_all(format!("{bytes} {messages}\n").as_bytes())
}

/// Appends a removal line if the tree at `root` keeps a `maildirsize`
/// (what POP3 DELE and IMAP EXPUNGE call). Errors are ignored: the file is
/// recalculated when it drifts.
pub(crate) fn note_removed(root: &Path, bytes: u64, messages: u64) {
    if messages == 0 || !root.join(FILE).exists() {
        return;
    }
    let b = i64::try_from(bytes).unwrap_or(i64::MAX);
    let c = i64::try_from(messages).unwrap_or(i64::MAX);
    let _ = append(root, -b, -c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_courier_files() {
        let f = parse("1000000S,1000C\n52310 12\n2048 1\n-2048 -1\n").unwrap();
        assert_eq!(
            f.limits,
            Limits {
                bytes: Some(1_000_000),
                messages: Some(1000)
            }
        );
        assert_eq!((f.bytes, f.messages), (52310, 12));
        let none = parse("\n0 0\n").unwrap();
        assert_eq!(none.limits, Limits::default());
        assert_eq!(parse("0S\n5 1\n").unwrap().limits, Limits::default());
        assert!(parse("10X\n0 0\n").is_none());
        assert!(parse("10S\n1 2 3\n").is_none());
        assert!(parse("10S\n1\n").is_none());
        assert!(parse("10S\n\n1 1\n").is_none());
        assert!(parse("10S\n9223372036854775807 1\n1 1\n").is_none());
        assert!(parse("").is_none() || parse("").unwrap().bytes == 0);
    }

    #[test]
    fn fits_counts_both_limits() {
        let l = Limits {
            bytes: Some(100),
            messages: Some(2),
        };
        assert!(l.fits((50, 1), 50, 1));
        assert!(!l.fits((50, 1), 51, 1));
        assert!(!l.fits((50, 2), 1, 1));
        assert!(Limits::default().fits((i64::MAX, i64::MAX), u64::MAX, 1));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::option::of(1u64..u64::MAX), messages in proptest::option::of(1u64..1_000_000), lines in proptest::collection::vec((-1_000_000i64..1_000_000, -10i64..10), 0..20)) {
            let limits = Limits { bytes, messages };
            let mut text = format!("{}\n", limits.encode());
            for (b, c) in &lines {
                text.push_str(&format!("{b} {c}\n"));
            }
            let parsed = parse(&text).unwrap();
            prop_assert_eq!(parsed.limits, limits);
            prop_assert_eq!(parsed.bytes, lines.iter().map(|l| l.0).sum::<i64>());
            prop_assert_eq!(parsed.messages, lines.iter().map(|l| l.1).sum::<i64>());
        }

        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = parse(&text);
        }
    }
}
