//! The users file: one account per line,
//!
//! ```text
//! # comments and blank lines are kept as they are
//! alice@example.org:$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA
//! bob@example.org:$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA:2G
//! ```
//!
//! `address:PHC-hash[:quota]`. The address ends at the first colon (an
//! account's local part cannot hold one); a PHC string holds none. Parse
//! errors name the line, never its content, so that a password typed into
//! the file by mistake never reaches a terminal or a log.
//!
//! Rewrites are atomic: a temporary file beside the real one (mode 0600)
//! is written, synced, renamed over it, and the directory synced, so a
//! crash leaves the old file or the new one, never a mix. Comments, blank
//! lines, the order and untouched lines are kept byte for byte.

use crate::address::canonical_address;
use crate::password::{HashProblem, HashedPassword};
use crate::quota::{format_quota, parse_quota};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest users file read (16 MiB: some hundred thousand accounts).
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// What is wrong with a users file. Each names the line (from 1), never
/// its content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersFileError {
    /// The line is not `address:hash[:quota]`.
    #[error("line {line}: expected address:hash or address:hash:quota")]
    Syntax {
        /// The line number, from 1.
        line: usize,
    },
    /// The address is not `local@domain` (with no space, control
    /// character or colon in the local part, and a valid domain).
    #[error("line {line}: the address is not local@domain")]
    BadAddress {
        /// The line number, from 1.
        line: usize,
    },
    /// The second field is not a hash: a password in plain text.
    #[error(
        "line {line} holds a password in plain text, not an argon2 hash: \
         set the password with `mailwire user passwd ADDRESS --users-file FILE` \
         (after deleting the line, or with `mailwire user add`)"
    )]
    PlainPassword {
        /// The line number, from 1.
        line: usize,
    },
    /// A PHC hash of another algorithm than argon2.
    #[error(
        "line {line}: the hash is not argon2 (only argon2 hashes are read): \
         set the password again with `mailwire user passwd`"
    )]
    UnsupportedHash {
        /// The line number, from 1.
        line: usize,
    },
    /// An argon2 hash that does not parse or asks for more than 256 MiB,
    /// 64 passes or 16 lanes.
    #[error("line {line}: the argon2 hash is malformed or its parameters are too large")]
    BadHash {
        /// The line number, from 1.
        line: usize,
    },
    /// The quota is not digits with an optional K, M, G or T.
    #[error("line {line}: the quota is not a size such as 500M, 2G or 1048576")]
    BadQuota {
        /// The line number, from 1.
        line: usize,
    },
    /// The account appears twice (addresses compared as the directory does).
    #[error("line {line}: the account of line {first} appears again")]
    Duplicate {
        /// The line number of the second entry.
        line: usize,
        /// The line number of the first.
        first: usize,
    },
    /// The file is over [`MAX_FILE_SIZE`].
    #[error("the users file {} is larger than 16 MiB", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be read or written.
    #[error("{action} the users file {}", path.display())]
    Io {
        /// What was being done: "reading", "writing".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid UTF-8.
    #[error("line {line} is not valid UTF-8")]
    NotUtf8 {
        /// The line number, from 1.
        line: usize,
    },
}

impl UsersFileError {
    /// The line the error is about, when it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            UsersFileError::Syntax { line }
            | UsersFileError::BadAddress { line }
            | UsersFileError::PlainPassword { line }
            | UsersFileError::UnsupportedHash { line }
            | UsersFileError::BadHash { line }
            | UsersFileError::BadQuota { line }
            | UsersFileError::Duplicate { line, .. }
            | UsersFileError::NotUtf8 { line } => Some(*line),
            UsersFileError::TooLarge { .. } | UsersFileError::Io { .. } => None,
        }
    }
}

/// Why an edit of the users file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// `add` of an address that already has an account.
    #[error("{0} already has an account")]
    Exists(String),
    /// `passwd`, `set_quota` or `remove` of an address without one.
    #[error("{0} has no account")]
    Missing(String),
    /// The address is not `local@domain`.
    #[error("{0:?} is not an address (local@domain, no space or colon)")]
    BadAddress(String),
}

/// One account of the file. Two entries are equal when their address,
/// hash and quota are (however their lines were spaced).
#[derive(Clone)]
pub struct UserEntry {
    address: String,
    hash: HashedPassword,
    quota: Option<u64>,
    /// The line as read, written back while the entry is unchanged.
    raw: Option<String>,
}

impl PartialEq for UserEntry {
    fn eq(&self, other: &UserEntry) -> bool {
        (&self.address, &self.hash, self.quota) == (&other.address, &other.hash, other.quota)
    }
}

impl Eq for UserEntry {}

impl fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserEntry")
            .field("address", &self.address)
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

impl UserEntry {
    /// The account's address in canonical form (see
    /// [`canonical_address`](crate::canonical_address)).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Its quota in bytes, when the line gives one.
    pub fn quota(&self) -> Option<u64> {
        self.quota
    }

    /// Its password hash.
    pub fn hash(&self) -> &HashedPassword {
        &self.hash
    }

    fn render(&self) -> String {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        match self.quota {
            Some(quota) => format!(
                "{}:{}:{}",
                self.address,
                self.hash.as_phc(),
                format_quota(quota)
            ),
            None => format!("{}:{}", self.address, self.hash.as_phc()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// A comment or a blank line, kept as it was.
    Kept(String),
    User(UserEntry),
}

/// A users file in memory: its accounts, with its comments and blank
/// lines in their places.
///
/// ```
/// use mail_accounts::{HashedPassword, UsersFile};
/// let mut file = UsersFile::parse("# staff\n")?;
/// file.add("ana@Example.ORG", HashedPassword::new("s3cret")?, Some(1 << 30))?;
/// let text = file.render();
/// assert!(text.starts_with("# staff\nana@example.org:$argon2id$"));
/// assert!(text.ends_with(":1G\n"));
/// assert_eq!(UsersFile::parse(&text)?, file);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsersFile {
    lines: Vec<Line>,
}

impl UsersFile {
    /// An empty file.
    pub fn new() -> UsersFile {
        UsersFile::default()
    }

    /// Reads the lines of a users file (see the module docs). Lines may end
    /// in LF or CRLF; whitespace around a line and its fields is ignored.
    pub fn parse(text: &str) -> Result<UsersFile, UsersFileError> {
        let mut lines = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            // CRs ending a line would turn into CRLF when rendered: gone.
            let raw = raw.trim_end_matches('\r');
            let number = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Line::Kept(raw.to_owned()));
                continue;
            }
            let mut entry = parse_entry(trimmed, number)?;
            if let Some(first) = seen.insert(entry.address.clone(), number) {
                return Err(UsersFileError::Duplicate {
                    line: number,
                    first,
                });
            }
            entry.raw = Some(raw.to_owned());
            lines.push(Line::User(entry));
        }
        Ok(UsersFile { lines })
    }

    /// Reads the file at `path` (at most [`MAX_FILE_SIZE`]).
    pub fn read(path: &Path) -> Result<UsersFile, UsersFileError> {
        let io = |source| UsersFileError::Io {
            action: "reading",
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(&file, MAX_FILE_SIZE + 1),
            &mut bytes,
        )
        .map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_SIZE {
            return Err(UsersFileError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = String::from_utf8(bytes).map_err(|error| {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            UsersFileError::NotUtf8 { line }
        })?;
        UsersFile::parse(&text)
    }

    /// Reads the file at `path`, or an empty one when there is none yet.
    pub fn read_or_new(path: &Path) -> Result<UsersFile, UsersFileError> {
        match UsersFile::read(path) {
            Err(UsersFileError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(UsersFile::new())
            }
            other => other,
        }
    }

    /// The text of the file: each line ends with LF.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for line in &self.lines {
            match line {
                Line::Kept(kept) => text.push_str(kept),
                Line::User(entry) => text.push_str(&entry.render()),
            }
            text.push('\n');
        }
        text
    }

    /// Replaces the file at `path` atomically with [`render`](Self::render)'s
    /// text, mode 0600; see the module docs.
    pub fn write(&self, path: &Path) -> Result<(), UsersFileError> {
        write_atomically(path, self.render().as_bytes()).map_err(|source| UsersFileError::Io {
            action: "writing",
            path: path.to_owned(),
            source,
        })
    }

    /// The accounts, in file order.
    pub fn entries(&self) -> impl Iterator<Item = &UserEntry> {
        self.lines.iter().filter_map(|line| match line {
            Line::User(entry) => Some(entry),
            Line::Kept(_) => None,
        })
    }

    /// The account of `address` (compared in canonical form).
    pub fn get(&self, address: &str) -> Option<&UserEntry> {
        let address = canonical_address(address)?;
        self.entries().find(|entry| entry.address == address)
    }

    fn get_mut(&mut self, address: &str) -> Result<&mut UserEntry, EditError> {
        let canonical =
            canonical_address(address).ok_or_else(|| EditError::BadAddress(address.to_owned()))?;
        self.lines
            .iter_mut()
            .find_map(|line| match line {
                Line::User(entry) if entry.address == canonical => Some(entry),
                _ => None,
            })
            .ok_or(EditError::Missing(canonical))
    }

    /// Adds an account at the end; refuses an address that has one.
    pub fn add(
        &mut self,
        address: &str,
        hash: HashedPassword,
        quota: Option<u64>,
    ) -> Result<(), EditError> {
        let canonical =
            canonical_address(address).ok_or_else(|| EditError::BadAddress(address.to_owned()))?;
        if self.entries().any(|entry| entry.address == canonical) {
            return Err(EditError::Exists(canonical));
        }
        self.lines.push(Line::User(UserEntry {
            address: canonical,
            hash,
            quota,
            raw: None,
        }));
        Ok(())
    }

    /// Sets the password hash of an existing account.
    pub fn set_password(&mut self, address: &str, hash: HashedPassword) -> Result<(), EditError> {
        let entry = self.get_mut(address)?;
        entry.hash = hash;
        entry.raw = None;
        Ok(())
    }

    /// Sets (or, with `None`, removes) the quota of an existing account.
    pub fn set_quota(&mut self, address: &str, quota: Option<u64>) -> Result<(), EditError> {
        let entry = self.get_mut(address)?;
        entry.quota = quota;
        entry.raw = None;
        Ok(())
    }

    /// Removes an account; the lines around it stay.
    pub fn remove(&mut self, address: &str) -> Result<(), EditError> {
        let canonical =
            canonical_address(address).ok_or_else(|| EditError::BadAddress(address.to_owned()))?;
        let before = self.lines.len();
        self.lines
            .retain(|line| !matches!(line, Line::User(entry) if entry.address == canonical));
        if self.lines.len() == before {
            return Err(EditError::Missing(canonical));
        }
        Ok(())
    }
}

/// `address:hash[:quota]`, already trimmed and not a comment.
fn parse_entry(line: &str, number: usize) -> Result<UserEntry, UsersFileError> {
    let Some((address, rest)) = line.split_once(':') else {
        return Err(UsersFileError::Syntax { line: number });
    };
    let (hash, quota) = match rest.split_once(':') {
        Some((hash, quota)) => (hash.trim(), Some(quota.trim())),
        None => (rest.trim(), None),
    };
    if hash.is_empty() {
        return Err(UsersFileError::Syntax { line: number });
    }
    // The hash is looked at first: an old `user:password` line is a plain
    // password whatever its user name looks like.
    let hash = HashedPassword::parse(hash).map_err(|problem| match problem {
        HashProblem::NotPhc => UsersFileError::PlainPassword { line: number },
        HashProblem::NotArgon2 => UsersFileError::UnsupportedHash { line: number },
        HashProblem::Malformed => UsersFileError::BadHash { line: number },
    })?;
    let address =
        canonical_address(address.trim()).ok_or(UsersFileError::BadAddress { line: number })?;
    let quota = match quota {
        Some(text) => Some(parse_quota(text).ok_or(UsersFileError::BadQuota { line: number })?),
        None => None,
    };
    Ok(UserEntry {
        address,
        hash,
        quota,
        raw: None,
    })
}

/// Writes `bytes` to a temporary file beside `path` (mode 0600), syncs it,
/// renames it over `path` and syncs the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        // A leftover of this process id (a crash) is ours to replace.
        match std::fs::remove_file(&tmp) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(error);
    }
    #[cfg(unix)]
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cheap but valid argon2 hash (8 KiB, 1 pass), for parser tests.
    pub(crate) const HASH: &str =
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$nnvBv7XdFHzd+ZwuLuA7nKT4OR/MyGGPmv1Ff4l3/Yg";

    #[test]
    fn a_file_with_comments_quota_and_crlf_parses() {
        let text = format!(
            "# staff\r\n\r\n  alice@Example.org:{HASH}\r\nbob@example.org : {HASH} : 2G\n\t# end\n"
        );
        let file = UsersFile::parse(&text).unwrap();
        let entries: Vec<_> = file.entries().collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].address(), "alice@example.org");
        assert_eq!(entries[0].quota(), None);
        assert_eq!(entries[1].address(), "bob@example.org");
        assert_eq!(entries[1].quota(), Some(2 << 30));
        assert_eq!(
            file.get("bob@EXAMPLE.ORG").map(UserEntry::quota),
            Some(Some(2 << 30))
        );
        // Rendered back line for line (CRLF becomes LF).
        assert_eq!(file.render(), text.replace("\r\n", "\n"));
        // A last line ending in bare CRs reads as if it ended in CRLF.
        let bare = UsersFile::parse("# last\r\r\r").unwrap();
        assert_eq!(bare.render(), "# last\n");
        assert_eq!(UsersFile::parse(&bare.render()).unwrap(), bare);
    }

    #[test]
    fn errors_name_the_line_and_never_the_content() {
        let cases: Vec<(String, usize, &str)> = vec![
            ("secretvalue".into(), 1, "expected address:hash"),
            ("a@x.example:".into(), 1, "expected address:hash"),
            ("# c\nalice:secretvalue".into(), 2, "plain text"),
            (
                "alice@x.example:secretvalue:1G".into(),
                1,
                "mailwire user passwd",
            ),
            ("a@x.example:$6$secretvalue$x".into(), 1, "not argon2"),
            ("a@x.example:$argon2id$secretvalue".into(), 1, "malformed"),
            (format!("secretvalue:{HASH}"), 1, "not local@domain"),
            (
                format!("secret value@x.example:{HASH}"),
                1,
                "not local@domain",
            ),
            (format!("a@x.example:{HASH}:secretvalue"), 1, "quota"),
            (format!("a@x.example:{HASH}:0"), 1, "quota"),
            (
                format!("\n\na@x.example:{HASH}\na@X.example:{HASH}"),
                4,
                "appears again",
            ),
            (
                format!("a@x.example:{HASH}\na@X.EXAMPLE:{HASH}"),
                2,
                "line 1",
            ),
        ];
        for (text, line, expected) in cases {
            let error = UsersFile::parse(&text).unwrap_err();
            let shown = error.to_string();
            let debug = format!("{error:?}");
            assert_eq!(error.line(), Some(line), "{text:?}: {shown}");
            assert!(shown.contains(&format!("line {line}")), "{shown}");
            assert!(shown.contains(expected), "{text:?}: {shown}");
            for output in [&shown, &debug] {
                assert!(!output.contains("secret"), "{output}");
                assert!(!output.contains("nnvBv7"), "{output}");
            }
        }
        assert!(matches!(
            UsersFile::parse("alice:pw").unwrap_err(),
            UsersFileError::PlainPassword { line: 1 }
        ));
    }

    #[test]
    fn edits_keep_comments_order_and_untouched_lines() {
        let text = format!("# one\nb@x.example : {HASH}\n\n# two\nc@x.example:{HASH}:1M\n");
        let mut file = UsersFile::parse(&text).unwrap();
        let new = HashedPassword::parse(HASH).unwrap();
        file.add("a@X.example", new.clone(), None).unwrap();
        assert_eq!(
            file.add("a@x.EXAMPLE", new.clone(), None),
            Err(EditError::Exists("a@x.example".into()))
        );
        // Local parts are compared exactly: this is another user.
        file.add("A@x.example", new.clone(), None).unwrap();
        file.set_quota("c@x.example", Some(3 << 30)).unwrap();
        file.remove("b@x.example").unwrap();
        assert_eq!(
            file.remove("b@x.example"),
            Err(EditError::Missing("b@x.example".into()))
        );
        assert_eq!(
            file.set_password("z@x.example", new.clone()),
            Err(EditError::Missing("z@x.example".into()))
        );
        assert!(matches!(
            file.add("nobody", new, None),
            Err(EditError::BadAddress(_))
        ));
        assert_eq!(
            file.render(),
            format!(
                "# one\n\n# two\nc@x.example:{HASH}:3G\na@x.example:{HASH}\nA@x.example:{HASH}\n"
            )
        );
    }

    #[test]
    fn debug_shows_no_hash() {
        let file = UsersFile::parse(&format!("a@x.example:{HASH}:1G\n")).unwrap();
        let shown = format!("{file:?}");
        assert!(shown.contains("a@x.example"), "{shown}");
        assert!(!shown.contains("argon2"), "{shown}");
    }

    #[test]
    fn writing_is_atomic_with_mode_0600_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("mail-accounts-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("users");
        assert!(UsersFile::read_or_new(&path)
            .unwrap()
            .entries()
            .next()
            .is_none());
        assert!(matches!(
            UsersFile::read(&path),
            Err(UsersFileError::Io { .. })
        ));
        std::fs::write(&path, "# old\n").unwrap();
        let mut file = UsersFile::read(&path).unwrap();
        file.add("a@x.example", HashedPassword::parse(HASH).unwrap(), None)
            .unwrap();
        file.write(&path).unwrap();
        assert_eq!(
            UsersFile::read(&path).unwrap(),
            UsersFile::parse(&file.render()).unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Nothing is left beside it.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("users")]);
        // A file that is not UTF-8 names its line.
        std::fs::write(&path, b"# a\n# b\n\xff\n").unwrap();
        assert!(matches!(
            UsersFile::read(&path),
            Err(UsersFileError::NotUtf8 { line: 3 })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
