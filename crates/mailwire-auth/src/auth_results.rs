//! The Authentication-Results header field (RFC 8601).

use crate::arc::ArcResult;
use crate::dkim::DkimOutcome;
use crate::dmarc::DmarcOutcome;
use crate::spf::SpfOutcome;

/// Everything checked on one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthResults {
    /// SPF for MAIL FROM (or HELO).
    pub spf: Option<SpfOutcome>,
    /// One outcome per DKIM-Signature; empty when the message is unsigned.
    pub dkim: Vec<DkimOutcome>,
    /// Whether DKIM was checked at all (so an empty list means `dkim=none`).
    pub dkim_checked: bool,
    /// DMARC for the From domain.
    pub dmarc: Option<DmarcOutcome>,
    /// ARC chain validation, when checked.
    pub arc: Option<ArcResult>,
}

/// Keeps only what may appear in a header value: no CR, LF, or other control characters,
/// and no characters that would end a comment or a property early.
fn clean(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '(' | ')' | ';' | '\\' | '"'))
        .collect()
}

impl AuthResults {
    /// The whole field, `Authentication-Results: authserv-id; ...` with CRLF, one method per
    /// folded line. `authserv_id` names the receiving host.
    pub fn to_header(&self, authserv_id: &str) -> String {
        let mut parts = Vec::new();
        if let Some(spf) = &self.spf {
            parts.push(format!(
                "spf={} ({}) smtp.mailfrom={}",
                spf.result.keyword(),
                clean(&spf.reason),
                clean(&spf.domain)
            ));
        }
        if self.dkim_checked {
            if self.dkim.is_empty() {
                parts.push("dkim=none".into());
            }
            for d in &self.dkim {
                let mut p = format!("dkim={}", d.result.keyword());
                if let Some(reason) = d.result.reason() {
                    p.push_str(&format!(" ({})", clean(reason)));
                }
                if let Some(domain) = &d.domain {
                    p.push_str(&format!(" header.d={}", clean(domain)));
                }
                if let Some(selector) = &d.selector {
                    p.push_str(&format!(" header.s={}", clean(selector)));
                }
                if !d.signature_prefix.is_empty() {
                    p.push_str(&format!(" header.b={}", clean(&d.signature_prefix)));
                }
                parts.push(p);
            }
        }
        if let Some(arc) = &self.arc {
            let mut p = format!("arc={}", arc.keyword());
            if let ArcResult::Fail(reason) = arc {
                p.push_str(&format!(" ({})", clean(reason)));
            }
            parts.push(p);
        }
        if let Some(dmarc) = &self.dmarc {
            let mut p = format!("dmarc={}", dmarc.result.keyword());
            if let Some(policy) = dmarc.requested {
                p.push_str(&format!(
                    " (p={} dis={})",
                    policy.as_str(),
                    dmarc.disposition.as_str()
                ));
            }
            p.push_str(&format!(" header.from={}", clean(&dmarc.from_domain)));
            parts.push(p);
        }
        let mut field = format!("Authentication-Results: {}", clean(authserv_id));
        if parts.is_empty() {
            field.push_str("; none");
        }
        for p in parts {
            field.push_str(";\r\n\t");
            field.push_str(&p);
        }
        field.push_str("\r\n");
        field
    }
}
