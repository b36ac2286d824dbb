//! `mailwire serve --check-auth`: SPF, DKIM and DMARC on each received message, an
//! Authentication-Results field (RFC 8601) on what is stored, and DMARC's policy applied.
//!
//! [`AuthCheck`] wraps any server [`Handler`]: the wrapped handler receives the message with
//! the Authentication-Results field (and, for quarantined mail, `X-Mailwire-Quarantine`) on
//! top, so it can decide on the results too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use mailwire_auth::{authenticate, Envelope, Verdict};
use smtp_blocking::{Connection, Decision, Error, Handler, Message};
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
    /// The DNS server to ask, HOST:PORT (default: the system's resolver).
    #[arg(long = "auth-dns", value_name = "HOST:PORT", requires = "check_auth")]
    dns: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DmarcAction {
    Enforce,
    Report,
}

impl CheckAuthArgs {
    /// Wraps `inner`: checking when --check-auth was given, passing through otherwise.
    pub(crate) fn wrap<H: Handler>(
        &self,
        inner: H,
        authserv_id: &str,
    ) -> Result<AuthCheck<H>, Failure> {
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

impl<H: Handler> Handler for AuthCheck<H> {
    fn helo(&self, conn: &Connection, host: &Host, extended: bool) -> Decision {
        self.inner.helo(conn, host, extended)
    }
    fn mail_from(&self, conn: &Connection, from: &ReversePath, params: &MailParams) -> Decision {
        self.inner.mail_from(conn, from, params)
    }
    fn rcpt_to(&self, conn: &Connection, to: &ForwardPath, params: &RcptParams) -> Decision {
        self.inner.rcpt_to(conn, to, params)
    }
    fn data_start(&self, conn: &Connection) -> Decision {
        self.inner.data_start(conn)
    }
    fn auth(&self, conn: &Connection, request: &AuthRequest) -> Decision {
        self.inner.auth(conn, request)
    }
    fn connection_error(&self, peer: SocketAddr, error: &Error) {
        self.inner.connection_error(peer, error);
    }

    fn message(&self, conn: &Connection, message: &Message) -> Decision {
        let Some(resolver) = &self.resolver else {
            return self.inner.message(conn, message);
        };
        let helo = conn
            .helo
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let mail_from = message.from.to_string();
        let mail_from = mail_from.trim_start_matches('<').trim_end_matches('>');
        let envelope = Envelope {
            client_ip: conn.peer.ip(),
            helo: &helo,
            mail_from,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (results, verdict) = authenticate(
            resolver.as_ref(),
            &envelope,
            &message.bytes,
            now,
            random_sample(),
        );
        if self.enforce && verdict == Verdict::Reject {
            let domain = results
                .dmarc
                .as_ref()
                .map(|d| d.from_domain.clone())
                .unwrap_or_default();
            eprintln!(
                "mailwire: refused mail from {} claiming {domain}: DMARC failed under p=reject",
                conn.peer.ip()
            );
            let text = format!("Message rejected: it fails the DMARC policy of {domain}");
            return match Reply::new(
                ReplyCode::MAILBOX_UNAVAILABLE,
                EnhancedStatus::new(5, 7, 26),
                [text],
            ) {
                Ok(reply) => Decision::Reject(reply),
                Err(_) => Decision::Accept,
            };
        }
        let mut top = results.to_header(&self.authserv_id);
        if self.enforce && verdict == Verdict::Quarantine {
            top.push_str("X-Mailwire-Quarantine: DMARC failed under the sender's p=quarantine\r\n");
        }
        let mut checked = message.clone();
        checked.bytes = [top.into_bytes(), std::mem::take(&mut checked.bytes)].concat();
        self.inner.message(conn, &checked)
    }
}
