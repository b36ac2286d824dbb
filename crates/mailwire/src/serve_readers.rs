//! What reads the sink's Maildir besides `grep` and `cat`: POP3 (`--pop3`,
//! `--pop3s`), IMAP (`--imap`, `--imaps`) for the same accounts that may
//! AUTH over SMTP, and the web page with its JSON API (`--web`).
//!
//! As a mail server, each user logs in to their own mailbox instead
//! ([`Readers::per_user`]).
//!
//! Logins go through the same [`AuthLimiter`] as SMTP AUTH
//! ([`Readers::limiter`]): a password guessed over POP3 counts toward the
//! same per-user and per-address limits as one guessed over SMTP or IMAP,
//! and once a limit is reached POP3 answers `-ERR [AUTH]` and IMAP
//! `NO [UNAVAILABLE]` without checking the password.
//!
//! Each listener prints one line, `POP3 on ADDR (mode)`, `IMAP on ADDR
//! (mode)` or `web page on http://ADDR/`, and stops when its handle drops.

use crate::users::Users;
use anyhow::{anyhow, Context};
use mail_accounts::AuthLimiter;
use session_server::Login;
use smtp_adapter::Upgrade;
use smtp_blocking::ServerTls;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The readers `serve` was asked for, and what they share with it.
#[derive(Debug)]
pub(crate) struct Readers<'a> {
    /// `--pop3`: STLS offered when there is a certificate.
    pub(crate) pop3: Option<&'a str>,
    /// `--pop3s`: implicit TLS.
    pub(crate) pop3s: Option<&'a str>,
    /// `--imap`: STARTTLS offered when there is a certificate.
    pub(crate) imap: Option<&'a str>,
    /// `--imaps`: implicit TLS.
    pub(crate) imaps: Option<&'a str>,
    /// `--web`: the page and the JSON API (no login: keep it on loopback).
    pub(crate) web: Option<&'a str>,
    /// The server's name in the greetings.
    pub(crate) hostname: &'a str,
    /// The sink's Maildir: every account reads this one.
    pub(crate) maildir: PathBuf,
    /// `--allow-plaintext-auth`: logins before TLS too.
    pub(crate) allow_plaintext: bool,
    /// `--max-connections`.
    pub(crate) max_connections: usize,
    /// As a mail server: each user's own Maildir, found by a login (user,
    /// password); `users` and `maildir` are then not used.
    pub(crate) per_user: Option<PerUser>,
    /// The limiter SMTP AUTH uses: POP3 and IMAP logins count in it too.
    pub(crate) limiter: LoginLimit,
}

/// An [`AuthLimiter`] shared by SMTP AUTH, POP3 and IMAP logins, and how
/// its log lines are written.
#[derive(Debug, Clone)]
pub(crate) struct LoginLimit {
    limiter: Arc<Mutex<AuthLimiter>>,
    /// Log through `tracing` (the mail server) rather than to stderr (the
    /// sink).
    structured: bool,
}

impl LoginLimit {
    /// A limiter whose failures the sink logs to stderr.
    pub(crate) fn plain(limiter: Arc<Mutex<AuthLimiter>>) -> LoginLimit {
        LoginLimit {
            limiter,
            structured: false,
        }
    }

    /// A limiter whose failures are logged through `tracing`.
    pub(crate) fn structured(limiter: Arc<Mutex<AuthLimiter>>) -> LoginLimit {
        LoginLimit {
            limiter,
            structured: true,
        }
    }

    fn lock(&self) -> MutexGuard<'_, AuthLimiter> {
        self.limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A `protocol` login of `user` from `peer`: refused at once when the
    /// limiter says so, else `check` (argon2, outside the lock) decides and
    /// the outcome is counted.
    fn login(
        &self,
        protocol: &str,
        user: &str,
        peer: SocketAddr,
        check: impl FnOnce() -> Option<PathBuf>,
    ) -> Login {
        let ip = peer.ip();
        if !self.lock().allowed(Some(user), ip, Instant::now()) {
            return Login::Limited;
        }
        if let Some(maildir) = check() {
            self.lock().succeeded(user, ip);
            return Login::Granted(maildir);
        }
        let due = self.lock().record_failure(Some(user), ip, Instant::now());
        if let Some(failures) = due {
            // The user name only: a password never reaches a log.
            if self.structured {
                tracing::warn!(user = ?user, client = %ip, failures, "{protocol} login failed");
            } else {
                eprintln!(
                    "mailwire: {protocol} login failed for user={} client={ip} failures={failures}",
                    crate::sink::quote(user)
                );
            }
        }
        Login::Refused
    }
}

/// SMTP AUTH (the mail server's handler) counting in the same limiter.
impl mail_server::LoginLimiter for LoginLimit {
    fn allowed(&mut self, user: Option<&str>, ip: std::net::IpAddr, now: Instant) -> bool {
        mail_server::LoginLimiter::allowed(&mut *self.lock(), user, ip, now)
    }
    fn failed(&mut self, user: &str, ip: std::net::IpAddr, now: Instant) {
        mail_server::LoginLimiter::failed(&mut *self.lock(), user, ip, now);
    }
    fn succeeded(&mut self, user: &str, ip: std::net::IpAddr) {
        mail_server::LoginLimiter::succeeded(&mut *self.lock(), user, ip);
    }
}

/// A login that opens the user's own Maildir: `Some(dir)` when `password`
/// is `user`'s.
#[derive(Clone)]
pub(crate) struct PerUser(pub(crate) Arc<OpenMailbox>);

/// (user, password) → the user's Maildir, when the password is theirs.
pub(crate) type OpenMailbox = dyn Fn(&str, &str) -> Option<PathBuf> + Send + Sync;

impl std::fmt::Debug for PerUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PerUser")
    }
}

/// A running reader, kept only to be dropped: dropping it stops it.
pub(crate) type Running = Box<dyn std::any::Any + Send>;

/// The rustls configuration inside a server certificate.
fn rustls_config(tls: &ServerTls) -> Option<Arc<rustls::ServerConfig>> {
    match tls.upgrade() {
        Upgrade::Server(config) => Some(config),
        _ => None,
    }
}

const NEED_CERT: &str = "needs a certificate: --tls-cert and --tls-key, or --self-signed";

impl Readers<'_> {
    /// True when any reader was asked for.
    pub(crate) fn any(&self) -> bool {
        self.mail_readers() || self.web.is_some()
    }

    fn mail_readers(&self) -> bool {
        [self.pop3, self.pop3s, self.imap, self.imaps]
            .iter()
            .any(Option::is_some)
    }

    /// Binds and starts each reader asked for.
    pub(crate) fn start(
        &self,
        users: &Arc<Users>,
        tls: Option<&ServerTls>,
    ) -> anyhow::Result<Vec<Running>> {
        if self.mail_readers() && users.is_empty() && self.per_user.is_none() {
            return Err(anyhow!(
                "--pop3, --pop3s, --imap and --imaps need accounts (--users-file or MAILWIRE_SERVE_USERS)"
            ));
        }
        let tls = tls.and_then(rustls_config);
        let mut running = Vec::new();
        if let Some(addr) = self.pop3 {
            running.push(self.pop3(addr, users, tls.clone(), false)?);
        }
        if let Some(addr) = self.pop3s {
            let tls = tls.clone().ok_or_else(|| anyhow!("--pop3s {NEED_CERT}"))?;
            running.push(self.pop3(addr, users, Some(tls), true)?);
        }
        if let Some(addr) = self.imap {
            running.push(self.imap(addr, users, tls.clone(), false)?);
        }
        if let Some(addr) = self.imaps {
            let tls = tls.clone().ok_or_else(|| anyhow!("--imaps {NEED_CERT}"))?;
            running.push(self.imap(addr, users, Some(tls), true)?);
        }
        if let Some(addr) = self.web {
            let handle = mail_web::serve(addr, &self.maildir)
                .with_context(|| format!("serving the web page on {addr}"))?;
            out!("web page on http://{}/", handle.local_addr());
            running.push(Box::new(handle));
        }
        Ok(running)
    }

    /// The mode a listener's line names.
    fn mode(tls: bool, implicit: bool, upgrade: &str) -> String {
        match (tls, implicit) {
            (_, true) => "implicit TLS".to_owned(),
            (true, false) => format!("{upgrade} offered"),
            (false, false) => "no TLS".to_owned(),
        }
    }

    /// A POP3 or IMAP listener's options: the connection limit, and the
    /// certificate for STLS/STARTTLS or for implicit TLS.
    fn options<C>(
        &self,
        config: C,
        tls: Option<Arc<rustls::ServerConfig>>,
        implicit: bool,
    ) -> session_server::ServerOptions<C> {
        let options =
            session_server::ServerOptions::new(config).with_max_connections(self.max_connections);
        match tls {
            Some(tls) if implicit => options.with_implicit_tls(tls),
            Some(tls) => options.with_tls(tls),
            None => options,
        }
    }

    fn announce(&self, protocol: &str, addr: std::io::Result<std::net::SocketAddr>, mode: &str) {
        if let Ok(addr) = addr {
            out!(
                "{protocol} on {addr} ({mode}), reading {}",
                self.maildir.display()
            );
        }
    }

    fn pop3(
        &self,
        addr: &str,
        users: &Arc<Users>,
        tls: Option<Arc<rustls::ServerConfig>>,
        implicit: bool,
    ) -> anyhow::Result<Running> {
        let config = pop3_proto::Pop3Config::new(self.hostname)
            .with_stls(tls.is_some() && !implicit)
            .with_plaintext_auth(self.allow_plaintext);
        let mode = Self::mode(tls.is_some(), implicit, "STLS");
        let options = self.options(config, tls, implicit);
        let (users, maildir) = (Arc::clone(users), self.maildir.clone());
        let (per_user, limit) = (self.per_user.clone(), self.limiter.clone());
        let login = move |c: &pop3_proto::Credentials, peer: SocketAddr| {
            limit.login("POP3", c.username(), peer, || match &per_user {
                // A PLAIN authorization identity for someone else is
                // refused: `verify_password` of the client's own password
                // says so.
                Some(open) => c
                    .password()
                    .filter(|p| c.verify_password(p.expose()))
                    .and_then(|p| (open.0)(c.username(), p.expose())),
                None => users.check_pop3(c).then(|| maildir.clone()),
            })
        };
        let server = pop3_blocking::Pop3Server::bind(addr, options, login)
            .with_context(|| format!("listening for POP3 on {addr}"))?;
        self.announce("POP3", server.local_addr(), &mode);
        Ok(Box::new(server.spawn()))
    }

    fn imap(
        &self,
        addr: &str,
        users: &Arc<Users>,
        tls: Option<Arc<rustls::ServerConfig>>,
        implicit: bool,
    ) -> anyhow::Result<Running> {
        let config = imap_proto::ImapConfig::new(self.hostname)
            .with_starttls(tls.is_some() && !implicit)
            .with_plaintext_auth(self.allow_plaintext);
        let mode = Self::mode(tls.is_some(), implicit, "STARTTLS");
        let options = self.options(config, tls, implicit);
        let (users, maildir) = (Arc::clone(users), self.maildir.clone());
        let (per_user, limit) = (self.per_user.clone(), self.limiter.clone());
        let login = move |c: &imap_proto::Credentials, peer: SocketAddr| {
            limit.login("IMAP", &c.username, peer, || match &per_user {
                Some(open) => {
                    let for_someone_else = c.authzid.as_ref().is_some_and(|a| *a != c.username);
                    if for_someone_else {
                        None
                    } else {
                        (open.0)(&c.username, c.password.expose())
                    }
                }
                None => users.check_imap(c).then(|| maildir.clone()),
            })
        };
        let server = imap_blocking::ImapServer::bind(addr, options, login)
            .with_context(|| format!("listening for IMAP on {addr}"))?;
        self.announce("IMAP", server.local_addr(), &mode);
        Ok(Box::new(server.spawn()))
    }
}
