//! Shared by the end-to-end tests: a temporary Maildir, a test CA whose
//! certificate names 127.0.0.1, a server on a free loopback port, and
//! Python's imaplib as the client (a real client we did not write).
#![allow(dead_code, unreachable_pub, unused_imports)]

use imap_blocking::{ImapServer, RunningServer, ServerOptions};
use imap_proto::{Credentials, ImapConfig};
use std::fs;
use std::net::SocketAddr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use session_server::test_support::{python, TempDir};

/// A TLS configuration whose certificate (for 127.0.0.1 and localhost) is
/// signed by a fresh test CA, written as PEM to `ca_file`.
pub fn tls(ca_file: &Path) -> Arc<rustls::ServerConfig> {
    session_server::test_support::tls(ca_file, "mailwire IMAP test CA")
}

/// One account, alice / `secret`, whose mail is `maildir`.
pub fn alice(
    maildir: PathBuf,
) -> impl Fn(&Credentials, SocketAddr) -> Option<PathBuf> + Send + Sync + 'static {
    move |c: &Credentials, _peer: SocketAddr| {
        (c.username == "alice" && c.password.expose() == "secret").then(|| maildir.clone())
    }
}

pub fn start(options: ServerOptions, maildir: PathBuf) -> RunningServer {
    ImapServer::bind("127.0.0.1:0", options, alice(maildir))
        .unwrap()
        .spawn()
}

pub fn config() -> ImapConfig {
    ImapConfig::new("imap.test").with_auth_failure_delay(Duration::from_millis(300))
}

/// A private Dovecot on a loopback port, killed on drop.
pub struct Dovecot {
    child: Child,
    pub port: u16,
    /// Its Maildir for user alice (made by Dovecot at first login).
    pub maildir: PathBuf,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Dovecot (Debian package dovecot-imapd) with a private
/// configuration under `dir`: user alice / `secret`, plaintext allowed.
pub fn start_dovecot(dir: &Path) -> Dovecot {
    let binary = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("dovecot is missing: run the tests through tests/run-all.sh, which installs dovecot-imapd"));
    let port = free_port();
    let mail = dir.join("dovecot-mail");
    fs::create_dir_all(&mail).unwrap();
    fs::create_dir_all(dir.join("dovecot-run")).unwrap();
    fs::write(dir.join("dovecot-users"), "alice:{PLAIN}secret\n").unwrap();
    let d = dir.display();
    let conf = format!(
        "base_dir = {d}/dovecot-run\nstate_dir = {d}/dovecot-state\nlog_path = {d}/dovecot.log\n\
         protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
         auth_mechanisms = plain\nmail_location = maildir:{d}/dovecot-mail/%u\nfirst_valid_uid = 0\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/dovecot-users\n}}\n\
         userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={d}/dovecot-mail/%u\n}}\n\
         service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
         service anvil {{\n  chroot =\n}}\n"
    );
    fs::write(dir.join("dovecot.conf"), conf).unwrap();
    let status = Command::new("chown")
        .args(["-R", "dovecot:dovecot"])
        .arg(&mail)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "chown of the Dovecot mail directory failed"
    );
    let mut perms = fs::metadata(dir).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(dir, perms).unwrap();
    let child = Command::new(binary)
        .arg("-F")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dovecot = Dovecot {
        child,
        port,
        maildir: mail.join("alice"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "Dovecot did not start: {}",
            fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    dovecot
}
