//! One call for a receiving server: SPF, every DKIM signature and DMARC on a message, with
//! the Authentication-Results field and the policy's verdict.

use std::net::IpAddr;

use crate::arc::ArcResult;
use crate::auth_results::AuthResults;
use crate::dkim::{DkimOutcome, DkimVerifier};
use crate::dmarc::{evaluate, DmarcResult, Policy};
use crate::header::HeaderField;
use crate::resolver::Resolver;
use crate::spf::{check_mail_from, SpfOutcome, SpfQuery};

/// What the SMTP session knows about a message.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The client's IP address.
    pub client_ip: IpAddr,
    /// The EHLO/HELO name.
    pub helo: &'a str,
    /// The MAIL FROM address (empty for the null reverse-path).
    pub mail_from: &'a str,
}

/// What DMARC asks the receiver to do with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver normally.
    Deliver,
    /// Deliver to the spam folder: DMARC failed under `p=quarantine`.
    Quarantine,
    /// Refuse with `550 5.7.26`: DMARC failed under `p=reject`.
    Reject,
}

/// The domain of the (first) From address, as DMARC uses it (RFC 7489 §6.6.1).
pub fn from_domain(headers: &[HeaderField]) -> Option<String> {
    let from = headers.iter().find(|h| h.is("from"))?;
    let value = String::from_utf8_lossy(from.value());
    // The address is in <...> when a display name is present; else the whole value.
    let address = match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => value[open + 1..close].to_owned(),
        _ => value.split(',').next().unwrap_or("").trim().to_owned(),
    };
    let domain = address
        .rsplit_once('@')?
        .1
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// Checks SPF, every DKIM signature and DMARC on `message` (the whole message, as received).
/// `now` is seconds since the Unix epoch; `sample` a random number in 0..100 for `pct=`.
/// The message is read in one pass; a server that streams can feed a [`DkimVerifier`] itself.
pub fn authenticate<R: Resolver + ?Sized>(
    resolver: &R,
    envelope: &Envelope<'_>,
    message: &[u8],
    now: u64,
    sample: u8,
) -> (AuthResults, Verdict) {
    let spf = check_mail_from(
        resolver,
        &SpfQuery {
            ip: envelope.client_ip,
            helo: envelope.helo,
            sender: envelope.mail_from,
        },
    );
    let mut verifier = DkimVerifier::new();
    let (dkim, arc, headers) = match verifier.feed(message) {
        Ok(()) => {
            let pending = verifier.finish();
            (
                pending.check(resolver, now),
                pending.check_arc(resolver),
                pending.headers().to_vec(),
            )
        }
        Err(_) => (Vec::new(), ArcResult::None, Vec::new()),
    };
    decide_with_spf(resolver, spf, &headers, dkim, arc, sample)
}

/// For a server that streams the message through a [`DkimVerifier`] itself: SPF for the
/// envelope, then DMARC over the message's header fields and the DKIM outcomes it got.
pub fn decide<R: Resolver + ?Sized>(
    resolver: &R,
    envelope: &Envelope<'_>,
    headers: &[HeaderField],
    dkim: Vec<DkimOutcome>,
    arc: ArcResult,
    sample: u8,
) -> (AuthResults, Verdict) {
    let spf = check_mail_from(
        resolver,
        &SpfQuery {
            ip: envelope.client_ip,
            helo: envelope.helo,
            sender: envelope.mail_from,
        },
    );
    decide_with_spf(resolver, spf, headers, dkim, arc, sample)
}

/// For a server that fed the whole message to a [`DkimVerifier`] as it arrived: its DKIM
/// signatures and ARC chain are checked at `now` (seconds since the Unix epoch; none when
/// the header section was beyond the verifier's bound, `headers_too_large`), then
/// [`decide`]: what `mailwire serve --check-auth` and the mail server both conclude with.
pub fn decide_streamed<R: Resolver + ?Sized>(
    resolver: &R,
    envelope: &Envelope<'_>,
    verifier: DkimVerifier,
    headers_too_large: bool,
    now: u64,
    sample: u8,
) -> (AuthResults, Verdict) {
    let pending = verifier.finish();
    let (dkim, arc) = if headers_too_large {
        (Vec::new(), ArcResult::None)
    } else {
        (pending.check(resolver, now), pending.check_arc(resolver))
    };
    decide(resolver, envelope, pending.headers(), dkim, arc, sample)
}

fn decide_with_spf<R: Resolver + ?Sized>(
    resolver: &R,
    spf: SpfOutcome,
    headers: &[HeaderField],
    dkim: Vec<DkimOutcome>,
    arc: ArcResult,
    sample: u8,
) -> (AuthResults, Verdict) {
    let dmarc = from_domain(headers).map(|domain| evaluate(resolver, &domain, &spf, &dkim, sample));
    let verdict = match &dmarc {
        Some(d) if d.result == DmarcResult::Fail => match d.disposition {
            Policy::Reject => Verdict::Reject,
            Policy::Quarantine => Verdict::Quarantine,
            Policy::None => Verdict::Deliver,
        },
        _ => Verdict::Deliver,
    };
    (
        AuthResults {
            spf: Some(spf),
            dkim,
            dkim_checked: true,
            dmarc,
            arc: Some(arc),
        },
        verdict,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::split_fields;

    #[test]
    fn from_domain_reads_the_address() {
        let d = |h: &[u8]| from_domain(&split_fields(h));
        assert_eq!(
            d(b"From: Ann <ann@Example.COM>\r\n"),
            Some("example.com".into())
        );
        assert_eq!(d(b"From: ann@example.org\r\n"), Some("example.org".into()));
        assert_eq!(
            d(b"From: \"a@b\" <x@mail.example.net>\r\n"),
            Some("mail.example.net".into())
        );
        assert_eq!(d(b"Subject: x\r\n"), None);
        assert_eq!(d(b"From: nobody\r\n"), None);
    }
}
