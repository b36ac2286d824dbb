//! `mailwire serve --pop3 ADDR --pop3s ADDR`: the sink's Maildir read over
//! POP3 (STLS on `--pop3` when the sink has a certificate, implicit TLS on
//! `--pop3s`), by the same accounts that may AUTH over SMTP.

use crate::users::Users;
use anyhow::{anyhow, Context};
use pop3_blocking::{Pop3Server, RunningServer, ServerOptions};
use pop3_proto::{Credentials, Pop3Config};
use smtp_adapter::Upgrade;
use smtp_blocking::ServerTls;
use std::path::PathBuf;
use std::sync::Arc;

/// What the POP3 listeners need from `serve`'s settings.
#[derive(Debug)]
pub(crate) struct Pop3Listeners<'a> {
    /// `--pop3`: STLS offered when there is a certificate.
    pub(crate) plain: Option<&'a str>,
    /// `--pop3s`: implicit TLS.
    pub(crate) implicit: Option<&'a str>,
    /// The server's name in the greeting.
    pub(crate) hostname: &'a str,
    /// The sink's Maildir, the one maildrop every account reads.
    pub(crate) maildir: PathBuf,
    /// `--allow-plaintext-auth`: USER/PASS before STLS too.
    pub(crate) allow_plaintext: bool,
    /// `--max-connections`.
    pub(crate) max_connections: usize,
}

/// The rustls configuration inside a server certificate.
fn rustls_config(tls: &ServerTls) -> Option<Arc<rustls::ServerConfig>> {
    match tls.upgrade() {
        Upgrade::Server(config) => Some(config),
        _ => None,
    }
}

impl Pop3Listeners<'_> {
    /// Binds and starts each listener asked for; prints `POP3 on ADDR (…)`
    /// for each. The handles stop them when dropped.
    pub(crate) fn start(
        &self,
        users: Arc<Users>,
        tls: Option<&ServerTls>,
    ) -> anyhow::Result<Vec<RunningServer>> {
        if self.plain.is_none() && self.implicit.is_none() {
            return Ok(Vec::new());
        }
        if users.is_empty() {
            return Err(anyhow!(
                "--pop3 and --pop3s need accounts (--users-file or MAILWIRE_SERVE_USERS)"
            ));
        }
        let tls = tls.and_then(rustls_config);
        let mut running = Vec::new();
        if let Some(addr) = self.plain {
            let config = Pop3Config::new(self.hostname)
                .with_stls(tls.is_some())
                .with_plaintext_auth(self.allow_plaintext);
            let mut options = ServerOptions::new(config).with_max_connections(self.max_connections);
            if let Some(tls) = &tls {
                options = options.with_tls(Arc::clone(tls));
            }
            let mode = if tls.is_some() {
                "STLS offered"
            } else {
                "no TLS"
            };
            running.push(self.bind(addr, options, Arc::clone(&users), mode)?);
        }
        if let Some(addr) = self.implicit {
            let tls = tls.clone().ok_or_else(|| {
                anyhow!("--pop3s needs a certificate: --tls-cert and --tls-key, or --self-signed")
            })?;
            let config = Pop3Config::new(self.hostname).with_plaintext_auth(self.allow_plaintext);
            let options = ServerOptions::new(config)
                .with_implicit_tls(tls)
                .with_max_connections(self.max_connections);
            running.push(self.bind(addr, options, Arc::clone(&users), "implicit TLS")?);
        }
        Ok(running)
    }

    fn bind(
        &self,
        addr: &str,
        options: ServerOptions,
        users: Arc<Users>,
        mode: &str,
    ) -> anyhow::Result<RunningServer> {
        let maildir = self.maildir.clone();
        let login = move |credentials: &Credentials| {
            users
                .verify(credentials.username(), |password| {
                    credentials.verify_password(password)
                })
                .then(|| maildir.clone())
        };
        let server = Pop3Server::bind(addr, options, login)
            .with_context(|| format!("listening for POP3 on {addr}"))?;
        let local = server
            .local_addr()
            .with_context(|| format!("listening for POP3 on {addr}"))?;
        println!(
            "POP3 on {local} ({mode}), reading {}",
            self.maildir.display()
        );
        Ok(server.spawn())
    }
}
