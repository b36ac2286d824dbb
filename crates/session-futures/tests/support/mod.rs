//! Shared by the async servers' tests: a temporary Maildir, a test CA, the
//! servers on a free loopback port on either runtime, and Python's poplib
//! and imaplib as clients (real clients we did not write).
#![allow(dead_code, unreachable_pub, unused_imports)]

use session_futures::{ImapOptions, ImapServer, Login, Pop3Options, Pop3Server, ServerHandle};
use smtp_futures::Runtime;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use session_server::test_support::{line, poll_until, python, TempDir};
pub use smtp_async_std::AsyncStd;
pub use smtp_smol::Smol;

pub const LIMIT: Duration = Duration::from_secs(60);

/// A TLS configuration whose certificate (for 127.0.0.1 and localhost) is
/// signed by a fresh test CA, written as PEM to `ca_file`.
pub fn tls(ca_file: &Path) -> Arc<rustls::ServerConfig> {
    session_server::test_support::tls(ca_file, "mailwire async readers test CA")
}

/// alice / `secret` reads `maildir`; mallory is limited (refused unchecked).
fn login(user: &str, password_ok: bool, maildir: &Path) -> Login {
    match user {
        "mallory" => Login::Limited,
        "alice" if password_ok => Login::Granted(maildir.to_path_buf()),
        _ => Login::Refused,
    }
}

/// A POP3 server on runtime `R`, accepting on that runtime's executor.
pub fn pop3<R: Runtime>(options: Pop3Options, maildir: PathBuf) -> ServerHandle<R> {
    let auth = move |c: &pop3_proto::Credentials, _peer: SocketAddr| {
        login(c.username(), c.verify_password("secret"), &maildir)
    };
    Pop3Server::<R>::bind("127.0.0.1:0", options, auth)
        .unwrap()
        .spawn()
}

/// An IMAP server on runtime `R`.
pub fn imap<R: Runtime>(options: ImapOptions, maildir: PathBuf) -> ServerHandle<R> {
    let auth = move |c: &imap_proto::Credentials, _peer: SocketAddr| {
        login(&c.username, c.password.expose() == "secret", &maildir)
    };
    ImapServer::<R>::bind("127.0.0.1:0", options, auth)
        .unwrap()
        .spawn()
}

pub fn pop3_config() -> pop3_proto::Pop3Config {
    pop3_proto::Pop3Config::new("pop.test").with_auth_failure_delay(Duration::from_millis(300))
}

pub fn imap_config() -> imap_proto::ImapConfig {
    imap_proto::ImapConfig::new("imap.test")
        .with_auth_failure_delay(Duration::from_millis(300))
        .with_idle_poll(Duration::from_millis(200))
}

/// Three messages: plain, dot-stuffing and 8-bit text, a third.
pub fn messages() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "new/1700000000.M1P1.test",
            b"From: a@example.org\r\nSubject: one\r\n\r\nfirst line\r\nsecond line\r\n".to_vec(),
        ),
        (
            "cur/1700000001.M2P1.test:2,S",
            [
                &b"From: b@example.org\r\nSubject: =?UTF-8?B?5rWL6K+V?=\r\n\r\n"[..],
                b".starts with a dot\r\n..two dots\r\n.\r\n",
                "8bit: \u{4e2d}\u{6587}\r\n".as_bytes(),
            ]
            .concat(),
        ),
        (
            "new/1700000002.M3P1.test",
            b"Subject: three\r\n\r\nbody\r\n".to_vec(),
        ),
    ]
}

/// A Maildir holding [`messages`].
pub fn filled(dir: &TempDir) -> PathBuf {
    let maildir = dir.maildir();
    for (path, body) in messages() {
        fs::write(maildir.join(path), body).unwrap();
    }
    maildir
}

/// Stops a server and waits for its sessions to end.
pub fn stop<R: Runtime>(server: ServerHandle<R>) {
    smol::block_on(server.shutdown());
}

/// This process's resident set, in KiB.
pub fn rss_kib() -> u64 {
    session_server::test_support::status_kib("VmRSS:")
}

/// A temporary directory of its own for a test on runtime `R` (the tests
/// of one binary share a process id, and run on both runtimes at once).
pub fn temp_dir<R: Runtime>(tag: &str) -> TempDir {
    let runtime = std::any::type_name::<R>()
        .rsplit("::")
        .next()
        .unwrap_or("rt");
    TempDir::new(&format!("{tag}-{runtime}"))
}
