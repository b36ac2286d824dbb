//! SPF, DKIM and DMARC on received mail, through `mailwire-auth` (the same
//! checks as `mailwire serve --check-auth`): the DKIM verifier is fed each
//! chunk as it arrives; at the end SPF, DKIM, ARC and DMARC are decided and
//! written as an `Authentication-Results` field (RFC 8601).

use mailwire_auth::dkim::DkimVerifier;
use mailwire_auth::{Envelope, Resolver, Verdict};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The checks' settings: the resolver they ask, the name in the
/// `Authentication-Results` field, and whether DMARC's policy is applied.
#[derive(Clone)]
pub struct AuthChecks {
    resolver: Arc<dyn Resolver + Send + Sync>,
    authserv_id: String,
    enforce: bool,
}

impl fmt::Debug for AuthChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthChecks")
            .field("authserv_id", &self.authserv_id)
            .field("enforce", &self.enforce)
            .finish_non_exhaustive()
    }
}

impl AuthChecks {
    /// Checks asking `resolver`, naming themselves `authserv_id` (the
    /// server's host name). With `enforce`, mail failing DMARC under
    /// `p=reject` is refused (`550 5.7.26`) and under `p=quarantine` goes
    /// to the junk folder; without, the results are only recorded.
    pub fn new(
        resolver: Arc<dyn Resolver + Send + Sync>,
        authserv_id: impl Into<String>,
        enforce: bool,
    ) -> AuthChecks {
        AuthChecks {
            resolver,
            authserv_id: authserv_id.into(),
            enforce,
        }
    }

    pub(crate) fn start(&self, client_ip: IpAddr, helo: String, mail_from: String) -> Checking {
        Checking {
            checks: self.clone(),
            client_ip,
            helo,
            mail_from,
            verifier: DkimVerifier::new(),
            headers_too_large: false,
        }
    }
}

/// One message's checks, fed as it arrives.
#[derive(Debug)]
pub(crate) struct Checking {
    checks: AuthChecks,
    client_ip: IpAddr,
    helo: String,
    mail_from: String,
    verifier: DkimVerifier,
    headers_too_large: bool,
}

/// What the checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The `Authentication-Results` field, CRLF-terminated.
    pub(crate) header: String,
    /// What DMARC's policy asks, when it is enforced (`Deliver` otherwise).
    pub(crate) verdict: Verdict,
    /// The From domain DMARC evaluated, if any.
    pub(crate) from_domain: Option<String>,
}

impl Checking {
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        // A header section beyond the verifier's bound: DKIM is reported
        // as not checked; the message is still taken.
        if !self.headers_too_large && self.verifier.feed(chunk).is_err() {
            self.headers_too_large = true;
        }
    }

    pub(crate) fn finish(self) -> Checked {
        let envelope = Envelope {
            client_ip: self.client_ip,
            helo: &self.helo,
            mail_from: &self.mail_from,
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let resolver: &(dyn Resolver + Send + Sync) = self.checks.resolver.as_ref();
        let (results, verdict) = mailwire_auth::check::decide_streamed(
            resolver,
            &envelope,
            self.verifier,
            self.headers_too_large,
            now,
            sample(),
        );
        Checked {
            header: results.to_header(&self.checks.authserv_id),
            verdict: if self.checks.enforce {
                verdict
            } else {
                Verdict::Deliver
            },
            from_domain: results.dmarc.as_ref().map(|d| d.from_domain.clone()),
        }
    }
}

/// DMARC's `pct=` sampling needs no strong randomness.
fn sample() -> u8 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u8::try_from(nanos % 100).unwrap_or(0)
}
