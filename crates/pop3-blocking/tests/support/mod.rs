//! Shared by the end-to-end tests: a temporary Maildir, a test CA whose
//! certificate names 127.0.0.1, a server on a free loopback port, and
//! Python's poplib as the client (a real client we did not write).
#![allow(dead_code, unreachable_pub, unused_imports)]

use pop3_blocking::{Pop3Server, RunningServer, ServerOptions};
use pop3_proto::{Credentials, Pop3Config};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use session_server::test_support::{python, TempDir};

/// A TLS configuration whose certificate (for 127.0.0.1 and localhost) is
/// signed by a fresh test CA, written as PEM to `ca_file`.
pub fn tls(ca_file: &Path) -> Arc<rustls::ServerConfig> {
    session_server::test_support::tls(ca_file, "mailwire POP3 test CA")
}

/// One account, alice / `secret`, whose mail is `maildir`.
pub fn alice(
    maildir: PathBuf,
) -> impl Fn(&Credentials, SocketAddr) -> Option<PathBuf> + Send + Sync + 'static {
    move |c: &Credentials, _peer: SocketAddr| {
        (c.username() == "alice" && c.verify_password("secret")).then(|| maildir.clone())
    }
}

pub fn start(options: ServerOptions, maildir: PathBuf) -> RunningServer {
    Pop3Server::bind("127.0.0.1:0", options, alice(maildir))
        .unwrap()
        .spawn()
}

pub fn config() -> Pop3Config {
    Pop3Config::new("pop.test").with_auth_failure_delay(Duration::from_millis(300))
}
