//! `mailwire serve --check-auth`: SPF, DKIM and DMARC on each received message, an
//! Authentication-Results field (RFC 8601) on what is stored, and DMARC's policy applied.
//!
//! [`AuthCheck`] wraps any server [`Handler`]: the wrapped handler's sink receives the message
//! with the Authentication-Results field (and, for quarantined mail, `X-Mailwire-Quarantine`)
//! on top, so it can decide on the results too. The field must come first but depends on the
//! whole message, so the content goes through the DKIM verifier into an unlinked temporary
//! file while it arrives, and is replayed into the wrapped sink behind the field at the end:
//! memory stays constant whatever the message size.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use mailwire_auth::dkim::DkimVerifier;
use mailwire_auth::{Envelope, Verdict};
use smtp_blocking::{Connection, Decision, Error, Handler, Sink, Transaction};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::{
    EnhancedStatus, ForwardPath, Host, MailParams, RcptParams, Reply, ReplyCode, ReversePath,
};

use crate::Failure;

#[derive(Debug, Args)]
pub(crate) struct CheckAuthArgs {
    /// Check SPF, DKIM and DMARC on each message and add an Authentication-Results field.
    #[arg(long)]
    check_auth: bool,
    /// With --check-auth: what to do with mail that fails DMARC. `enforce` follows the
    /// sender's policy (p=reject refused with 550 5.7.26, p=quarantine stored with an
    /// X-Mailwire-Quarantine field); `report` only adds the results.
    #[arg(long, value_enum, default_value_t = DmarcAction::Enforce, requires = "check_auth")]
    dmarc_policy: DmarcAction,
    /// The DNS server --check-auth asks, HOST:PORT (default: the system's
    /// resolver); the same flag as `deliver --dns` and `probe --dns`. As a
    /// mail server (see --config), the DNS server of every check and of
    /// the delivery workers.
    #[arg(long = "dns", alias = "auth-dns", value_name = "HOST:PORT")]
    dns: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DmarcAction {
    Enforce,
    Report,
}

impl CheckAuthArgs {
    /// `--check-auth` was given.
    pub(crate) fn enabled(&self) -> bool {
        self.check_auth
    }

    /// `--dmarc-policy report` was given.
    pub(crate) fn report_only(&self) -> bool {
        self.dmarc_policy == DmarcAction::Report
    }

    /// `--dns`.
    pub(crate) fn dns(&self) -> Option<SocketAddr> {
        self.dns
    }

    /// Wraps `inner`: checking when --check-auth was given, passing through otherwise.
    pub(crate) fn wrap<H: Handler>(
        &self,
        inner: H,
        authserv_id: &str,
    ) -> Result<AuthCheck<H>, Failure> {
        if self.dns.is_some() && !self.check_auth {
            return Err(Failure::usage(anyhow!(
                "--dns needs --check-auth (or the mail server's --config / --domain)"
            )));
        }
        let resolver = if self.check_auth {
            let config = match self.dns {
                Some(server) => mail_dns::DnsConfig::server(server),
                None => mail_dns::DnsConfig::default(),
            };
            let resolver = mail_dns::Resolver::new(config.with_timeout(Duration::from_secs(10)))
                .map_err(|e| Failure::other(anyhow!(e)))?;
            Some(Arc::new(resolver))
        } else {
            None
        };
        Ok(AuthCheck {
            inner,
            resolver,
            enforce: self.dmarc_policy == DmarcAction::Enforce,
            authserv_id: authserv_id.to_owned(),
        })
    }
}

/// A handler that authenticates each message before handing it to `inner`.
#[derive(Debug, Clone)]
pub(crate) struct AuthCheck<H> {
    inner: H,
    resolver: Option<Arc<mail_dns::Resolver>>,
    enforce: bool,
    authserv_id: String,
}

fn random_sample() -> u8 {
    // pct= sampling needs no strong randomness; the clock's nanoseconds spread well enough.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u8::try_from(nanos % 100).unwrap_or(0)
}

fn local_error(text: &'static str) -> Reply {
    // The texts are constants without CR or LF, which is all a reply text must avoid.
    #[allow(clippy::expect_used)]
    Reply::new(ReplyCode::LOCAL_ERROR, EnhancedStatus::new(4, 3, 0), [text])
        .expect("a constant reply text")
}

/// A new temporary file, unlinked at once so nothing is left behind.
fn spool_file() -> std::io::Result<File> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = std::env::temp_dir().join(format!(
        "mailwire-check-auth-{}-{nanos}",
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

impl<H: Handler> Handler for AuthCheck<H> {
    type Sink = AuthSink<H::Sink>;

    fn helo(&self, conn: &Connection, host: &Host, extended: bool) -> Decision {
        self.inner.helo(conn, host, extended)
    }
    fn mail_from(&self, conn: &Connection, from: &ReversePath, params: &MailParams) -> Decision {
        self.inner.mail_from(conn, from, params)
    }
    fn rcpt_to(&self, conn: &Connection, to: &ForwardPath, params: &RcptParams) -> Decision {
        self.inner.rcpt_to(conn, to, params)
    }
    fn auth(&self, conn: &Connection, request: &AuthRequest) -> Decision {
        self.inner.auth(conn, request)
    }
    fn auth_failed(&self, conn: &Connection, failures: usize) {
        self.inner.auth_failed(conn, failures);
    }
    fn connection_error(&self, peer: SocketAddr, error: &Error) {
        self.inner.connection_error(peer, error);
    }

    fn data_start(
        &self,
        conn: &Connection,
        transaction: &Transaction,
    ) -> Result<Self::Sink, Reply> {
        let inner = self.inner.data_start(conn, transaction)?;
        let Some(resolver) = &self.resolver else {
            return Ok(AuthSink { inner, check: None });
        };
        let spool = match spool_file() {
            Ok(f) => f,
            Err(e) => {
                eprintln!("mailwire: --check-auth could not create a temporary file: {e}");
                inner.abort();
                return Err(local_error("Could not check the message, try again later"));
            }
        };
        let mail_from = transaction.from.to_string();
        let check = Check {
            resolver: Arc::clone(resolver),
            enforce: self.enforce,
            authserv_id: self.authserv_id.clone(),
            client_ip: conn.peer.ip(),
            helo: conn
                .helo
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            mail_from: mail_from
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned(),
            verifier: DkimVerifier::new(),
            headers_too_large: false,
            spool,
        };
        Ok(AuthSink {
            inner,
            check: Some(Box::new(check)),
        })
    }
}

/// What one message's check needs: the envelope, the verifier fed as the content arrives,
/// and the spooled content.
#[derive(Debug)]
pub(crate) struct Check {
    resolver: Arc<mail_dns::Resolver>,
    enforce: bool,
    authserv_id: String,
    client_ip: std::net::IpAddr,
    helo: String,
    mail_from: String,
    verifier: DkimVerifier,
    headers_too_large: bool,
    spool: File,
}

/// The wrapped handler's sink, fed only once the results are known (see the module docs).
#[derive(Debug)]
pub(crate) struct AuthSink<S> {
    inner: S,
    check: Option<Box<Check>>,
}

impl<S: Sink> Sink for AuthSink<S> {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Reply> {
        let Some(check) = self.check.as_mut() else {
            return self.inner.write(chunk);
        };
        if !check.headers_too_large && check.verifier.feed(chunk).is_err() {
            // A header section beyond the verifier's bound: the message is still stored,
            // with DKIM reported as not checked (no signature results).
            check.headers_too_large = true;
        }
        check.spool.write_all(chunk).map_err(|e| {
            eprintln!("mailwire: --check-auth could not spool the message: {e}");
            local_error("Could not check the message, try again later")
        })
    }

    fn finish(self) -> Decision {
        let AuthSink { mut inner, check } = self;
        let Some(check) = check else {
            return inner.finish();
        };
        let Check {
            resolver,
            enforce,
            authserv_id,
            client_ip,
            helo,
            mail_from,
            verifier,
            headers_too_large,
            mut spool,
        } = *check;
        let envelope = Envelope {
            client_ip,
            helo: &helo,
            mail_from: &mail_from,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (results, verdict) = mailwire_auth::check::decide_streamed(
            resolver.as_ref(),
            &envelope,
            verifier,
            headers_too_large,
            now,
            random_sample(),
        );
        if enforce && verdict == Verdict::Reject {
            inner.abort();
            let domain = results
                .dmarc
                .as_ref()
                .map(|d| d.from_domain.clone())
                .unwrap_or_default();
            eprintln!("mailwire: refused mail from {client_ip} claiming {domain}: DMARC failed under p=reject");
            let text = format!("Message rejected: it fails the DMARC policy of {domain}");
            return match Reply::new(
                ReplyCode::MAILBOX_UNAVAILABLE,
                EnhancedStatus::new(5, 7, 26),
                [text],
            ) {
                Ok(reply) => Decision::Reject(reply),
                Err(_) => Decision::Reject(local_error("Message rejected by DMARC policy")),
            };
        }
        let mut top = results.to_header(&authserv_id);
        if enforce && verdict == Verdict::Quarantine {
            top.push_str("X-Mailwire-Quarantine: DMARC failed under the sender's p=quarantine\r\n");
        }
        if let Err(reply) = inner.write(top.as_bytes()) {
            inner.abort();
            return Decision::Reject(reply);
        }
        if let Err(e) = spool.seek(SeekFrom::Start(0)) {
            eprintln!("mailwire: --check-auth could not read the spooled message: {e}");
            inner.abort();
            return Decision::Reject(local_error("Could not store the message, try again later"));
        }
        let mut buf = vec![0; 64 * 1024];
        loop {
            match spool.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Err(reply) = inner.write(&buf[..n]) {
                        inner.abort();
                        return Decision::Reject(reply);
                    }
                }
                Err(e) => {
                    eprintln!("mailwire: --check-auth could not read the spooled message: {e}");
                    inner.abort();
                    return Decision::Reject(local_error(
                        "Could not store the message, try again later",
                    ));
                }
            }
        }
        inner.finish()
    }

    fn abort(self) {
        self.inner.abort();
    }
}
