//! Counting what the servers stored: every file in a `new/` or `cur/`
//! directory anywhere under a root (one Maildir, a Maildir per user, or
//! Maildir++ folders), by its Message-ID, and whether it is complete (ends
//! with the load's end marker for that Message-ID).

use crate::load::end_marker;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let is_mail_dir = matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("new") | Some("cur")
    );
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&entry.path(), out);
        } else if kind.is_file() && is_mail_dir {
            out.push(entry.path());
        }
    }
}

/// How many message files are under `root` (no paths kept).
pub fn count(root: &Path) -> usize {
    fn go(dir: &Path, mail: bool) -> usize {
        let Ok(entries) = fs::read_dir(dir) else {
            return 0;
        };
        let mut n = 0;
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => {
                    let name = entry.file_name();
                    n += go(&entry.path(), name == "new" || name == "cur");
                }
                Ok(t) if t.is_file() && mail => n += 1,
                _ => {}
            }
        }
        n
    }
    go(root, false)
}

/// The message files under `root`.
pub fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Complete files per Message-ID (without angle brackets).
    pub complete: HashMap<String, usize>,
    /// Files without a Message-ID or without their end marker.
    pub incomplete: usize,
    pub files: usize,
}

/// The Message-ID of a stored message (first such header field of the
/// header section, unfolded), without angle brackets.
pub fn message_id(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            return None;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("message-id") {
                let v = value.trim();
                return Some(v.trim_start_matches('<').trim_end_matches('>').to_string());
            }
        }
    }
    None
}

/// Reads every message file under `root`.
pub fn scan(root: &Path) -> Scan {
    let mut scan = Scan::default();
    for path in files(root) {
        scan.files += 1;
        let text = fs::read(&path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        match message_id(&text) {
            Some(id) if text.trim_end().ends_with(&end_marker(&id)) => {
                *scan.complete.entry(id).or_insert(0) += 1;
            }
            _ => scan.incomplete += 1,
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_message_id_in_the_header_section_only() {
        let text = "Received: x\r\nmessage-id:  <1.r@h>\r\n\r\nMessage-ID: <2.r@h>\r\n";
        assert_eq!(message_id(text).as_deref(), Some("1.r@h"));
        assert_eq!(message_id("A: b\n\nMessage-ID: <3@h>\n"), None);
    }

    #[test]
    fn a_file_without_its_end_marker_is_incomplete() {
        let root = std::env::temp_dir().join(format!("server-bench-scan-{}", std::process::id()));
        let new = root.join("user0/new");
        fs::create_dir_all(&new).unwrap();
        fs::create_dir_all(root.join("user0/tmp")).unwrap();
        let id = "7.run@load.bench.test";
        fs::write(
            new.join("a"),
            format!("Message-ID: <{id}>\n\nbody\n{}\n", end_marker(id)),
        )
        .unwrap();
        fs::write(new.join("b"), format!("Message-ID: <{id}>\n\nbody\n")).unwrap();
        fs::write(
            root.join("user0/tmp/c"),
            format!("Message-ID: <{id}>\n\n{}\n", end_marker(id)),
        )
        .unwrap();
        let scan = scan(&root);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(scan.files, 2);
        assert_eq!(scan.incomplete, 1);
        assert_eq!(scan.complete.get(id), Some(&1));
    }
}
