//! DMARC (RFC 7489): does the From domain's policy accept this message's SPF and DKIM results?

use crate::dkim::{DkimOutcome, DkimResult};
use crate::resolver::{DnsError, Resolver};
use crate::spf::{SpfOutcome, SpfResult};
use crate::tag_list::{parse_tag_list, strip_fws, TagListError};

/// A requested policy (`p=`, `sp=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Monitor only.
    None,
    /// Treat failing mail as suspicious (spam folder).
    Quarantine,
    /// Reject failing mail.
    Reject,
}

impl Policy {
    fn parse(v: &str) -> Option<Self> {
        match v.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }
}

/// Identifier alignment mode (`adkim=`, `aspf=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    /// Same organizational domain.
    Relaxed,
    /// Exactly the same domain.
    Strict,
}

/// Why a DMARC record is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DmarcError {
    /// Not a tag list.
    #[error("not a tag list: {0}")]
    Syntax(#[from] TagListError),
    /// Does not start with `v=DMARC1`.
    #[error("the record does not start with v=DMARC1")]
    Version,
    /// `p=` is missing (and no `rua=` makes it `none`) or not a policy.
    #[error("p= is missing or not none, quarantine or reject")]
    Policy,
    /// A tag has a value outside its grammar.
    #[error("tag {0}= has an invalid value")]
    BadValue(&'static str),
}

/// A parsed DMARC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcRecord {
    /// `p=`
    pub policy: Policy,
    /// `sp=` (defaults to `p=`)
    pub subdomain_policy: Policy,
    /// `adkim=`
    pub dkim_alignment: Alignment,
    /// `aspf=`
    pub spf_alignment: Alignment,
    /// `pct=` (0..=100)
    pub percent: u8,
    /// `rua=` aggregate report addresses.
    pub aggregate_reports: Vec<String>,
    /// `ruf=` failure report addresses.
    pub failure_reports: Vec<String>,
}

fn alignment(tag: &'static str, v: &str) -> Result<Alignment, DmarcError> {
    match v.to_ascii_lowercase().as_str() {
        "r" => Ok(Alignment::Relaxed),
        "s" => Ok(Alignment::Strict),
        _ => Err(DmarcError::BadValue(tag)),
    }
}

fn uris(v: &str) -> Vec<String> {
    strip_fws(v)
        .split(',')
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a TXT string is a DMARC record (`v=DMARC1` as its first tag).
pub fn is_dmarc_record(txt: &str) -> bool {
    let t = txt.trim_start();
    t.strip_prefix("v")
        .map(str::trim_start)
        .and_then(|t| t.strip_prefix('='))
        .map(str::trim_start)
        .is_some_and(|t| {
            t.starts_with("DMARC1") && t[6..].trim_start().chars().next().is_none_or(|c| c == ';')
        })
}

impl DmarcRecord {
    /// Reads a record: `v=DMARC1; p=reject; rua=mailto:dmarc@example.com`.
    pub fn parse(record: &str) -> Result<Self, DmarcError> {
        let tags = parse_tag_list(record)?;
        match tags.first() {
            Some(("v", "DMARC1")) => {}
            _ => return Err(DmarcError::Version),
        }
        let get = |name: &str| {
            tags.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        let aggregate_reports = get("rua").map(uris).unwrap_or_default();
        // RFC 7489 §6.6.3: a record with no p= but a valid rua= is treated as p=none.
        let policy = match get("p") {
            Some(p) => Policy::parse(p).ok_or(DmarcError::Policy)?,
            None if !aggregate_reports.is_empty() => Policy::None,
            None => return Err(DmarcError::Policy),
        };
        let subdomain_policy = match get("sp") {
            Some(sp) => Policy::parse(sp).ok_or(DmarcError::BadValue("sp"))?,
            None => policy,
        };
        let percent = match get("pct") {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= 100)
                .ok_or(DmarcError::BadValue("pct"))?,
            None => 100,
        };
        Ok(DmarcRecord {
            policy,
            subdomain_policy,
            dkim_alignment: get("adkim")
                .map_or(Ok(Alignment::Relaxed), |v| alignment("adkim", v))?,
            spf_alignment: get("aspf").map_or(Ok(Alignment::Relaxed), |v| alignment("aspf", v))?,
            percent,
            aggregate_reports,
            failure_reports: get("ruf").map(uris).unwrap_or_default(),
        })
    }
}

/// The organizational domain (RFC 7489 §3.2) from the Public Suffix List.
pub fn organizational_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&d).map_or(d.clone(), str::to_owned)
}

fn aligned(a: &str, b: &str, mode: Alignment) -> bool {
    let (a, b) = (
        a.trim_end_matches('.').to_ascii_lowercase(),
        b.trim_end_matches('.').to_ascii_lowercase(),
    );
    match mode {
        Alignment::Strict => a == b,
        Alignment::Relaxed => organizational_domain(&a) == organizational_domain(&b),
    }
}

/// The DMARC result (RFC 7489 §11.2 / RFC 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmarcResult {
    /// The From domain publishes no usable record.
    None,
    /// An aligned identifier passed.
    Pass,
    /// No aligned identifier passed.
    Fail,
    /// The record could not be fetched for now.
    TempError,
    /// More than one record, or one that cannot be read.
    PermError,
}

impl DmarcResult {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            DmarcResult::None => "none",
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

/// What the receiver should do with a message, per the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutcome {
    /// The result.
    pub result: DmarcResult,
    /// The RFC5322.From domain.
    pub from_domain: String,
    /// The policy requested for this message (`sp=` for a subdomain), if a record was found.
    pub requested: Option<Policy>,
    /// The policy to apply after `pct=` sampling: `Policy::None` when the message passes.
    pub disposition: Policy,
    /// SPF passed for an aligned domain.
    pub spf_aligned: bool,
    /// A DKIM signature passed for an aligned domain.
    pub dkim_aligned: bool,
    /// The record, if one was found.
    pub record: Option<DmarcRecord>,
}

/// Finds the policy record: `_dmarc.<from>`, else `_dmarc.<organizational domain>`.
/// Returns the record and whether it came from the organizational domain.
pub fn discover<R: Resolver + ?Sized>(
    resolver: &R,
    from_domain: &str,
) -> Result<Option<(DmarcRecord, bool)>, DmarcResult> {
    let from = from_domain.trim_end_matches('.').to_ascii_lowercase();
    let org = organizational_domain(&from);
    let mut names = vec![(from.clone(), false)];
    if org != from {
        names.push((org, true));
    }
    for (name, is_org) in names {
        match resolver.txt(&format!("_dmarc.{name}")) {
            Ok(txt) => {
                let records: Vec<&String> = txt.iter().filter(|t| is_dmarc_record(t)).collect();
                match records.as_slice() {
                    [] => continue,
                    [one] => {
                        return DmarcRecord::parse(one)
                            .map(|r| Some((r, is_org)))
                            .map_err(|_| DmarcResult::PermError)
                    }
                    _ => return Err(DmarcResult::PermError),
                }
            }
            Err(DnsError::Temporary(_)) => return Err(DmarcResult::TempError),
            Err(_) => continue,
        }
    }
    Ok(None)
}

/// Evaluates DMARC for a message whose RFC5322.From domain is `from_domain`, given the SPF
/// outcome for MAIL FROM and the DKIM outcomes. `sample` is a number in 0..100 the caller
/// draws at random per message for `pct=` (the check itself stays deterministic).
pub fn evaluate<R: Resolver + ?Sized>(
    resolver: &R,
    from_domain: &str,
    spf: &SpfOutcome,
    dkim: &[DkimOutcome],
    sample: u8,
) -> DmarcOutcome {
    let from = from_domain.trim_end_matches('.').to_ascii_lowercase();
    let mut outcome = DmarcOutcome {
        result: DmarcResult::None,
        from_domain: from.clone(),
        requested: None,
        disposition: Policy::None,
        spf_aligned: false,
        dkim_aligned: false,
        record: None,
    };
    let (record, from_org) = match discover(resolver, &from) {
        Ok(Some(found)) => found,
        Ok(None) => return outcome,
        Err(result) => {
            outcome.result = result;
            return outcome;
        }
    };
    outcome.spf_aligned =
        spf.result == SpfResult::Pass && aligned(&spf.domain, &from, record.spf_alignment);
    outcome.dkim_aligned = dkim.iter().any(|d| {
        d.result == DkimResult::Pass
            && d.domain
                .as_deref()
                .is_some_and(|dd| aligned(dd, &from, record.dkim_alignment))
    });
    let requested = if from_org {
        record.subdomain_policy
    } else {
        record.policy
    };
    outcome.requested = Some(requested);
    if outcome.spf_aligned || outcome.dkim_aligned {
        outcome.result = DmarcResult::Pass;
    } else {
        outcome.result = DmarcResult::Fail;
        // RFC 7489 §6.6.4: a message outside the pct= sample gets the next weaker policy.
        outcome.disposition = if sample < record.percent {
            requested
        } else {
            match requested {
                Policy::Reject => Policy::Quarantine,
                _ => Policy::None,
            }
        };
    }
    outcome.record = Some(record);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc7489_examples() {
        let r =
            DmarcRecord::parse("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com").unwrap();
        assert_eq!(r.policy, Policy::None);
        assert_eq!(
            r.aggregate_reports,
            vec!["mailto:dmarc-feedback@example.com"]
        );
        let r = DmarcRecord::parse(
            "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com, mailto:tld-test@thirdparty.example.net!10m; pct=25",
        )
        .unwrap();
        assert_eq!(
            (r.policy, r.percent, r.aggregate_reports.len()),
            (Policy::Quarantine, 25, 2)
        );
        let r = DmarcRecord::parse("v=DMARC1; p=reject; sp=none; adkim=s; aspf=s").unwrap();
        assert_eq!(
            (r.subdomain_policy, r.dkim_alignment),
            (Policy::None, Alignment::Strict)
        );
        assert_eq!(
            DmarcRecord::parse("p=reject; v=DMARC1"),
            Err(DmarcError::Version)
        );
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=bogus"),
            Err(DmarcError::Policy)
        );
        assert_eq!(
            DmarcRecord::parse("v=DMARC1; p=none; pct=101"),
            Err(DmarcError::BadValue("pct"))
        );
        assert!(is_dmarc_record("v=DMARC1; p=none"));
        assert!(!is_dmarc_record("v=DMARC10; p=none"));
    }

    #[test]
    fn organizational_domains_come_from_the_public_suffix_list() {
        assert_eq!(organizational_domain("mail.example.com"), "example.com");
        assert_eq!(organizational_domain("a.b.example.co.uk"), "example.co.uk");
        assert!(aligned(
            "bounce.example.com",
            "example.com",
            Alignment::Relaxed
        ));
        assert!(!aligned(
            "bounce.example.com",
            "example.com",
            Alignment::Strict
        ));
        assert!(!aligned("example.org", "example.com", Alignment::Relaxed));
    }
}
