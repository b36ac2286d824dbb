//! Shared by the integration tests: messages in files, an envelope, the
//! daemons' addresses from the test command.
#![allow(dead_code, unreachable_pub)]

use mail_filter::MessageInfo;
use std::path::{Path, PathBuf};

/// A private directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mail-filter-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a message file and returns its path.
    pub fn message(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A complete message (Date, Message-ID) with `body`.
pub fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: {subject}\r\n\
         Date: Sun, 6 Dec 2026 07:00:00 +0000\r\nMessage-ID: <t1@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

pub fn info(size: usize) -> MessageInfo {
    MessageInfo {
        client_ip: [127, 0, 0, 1].into(),
        helo: "mx.example.com".into(),
        mail_from: "alice@example.com".into(),
        recipients: vec!["bob@example.org".into()],
        authenticated: None,
        queue_id: "TESTQ1".into(),
        size: size as u64,
    }
}

/// A variable the test command (tests/run-all.sh) exports.
pub fn required_env(name: &str, what: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run these tests with `bash tests/run-all.sh cargo test -p mail-filter`, \
             which starts {what} (tests/setup/)"
        )
    })
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
