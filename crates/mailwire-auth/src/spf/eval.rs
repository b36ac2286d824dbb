//! `check_host()` (RFC 7208 §4): evaluating a domain's SPF record for a client IP.

use std::net::IpAddr;

use super::record::{is_spf_record, MacroString, MacroToken, Mechanism, Qualifier, SpfRecord};
use crate::resolver::{DnsError, Resolver};

/// An SPF result (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfResult {
    /// No record, or no valid domain to check.
    None,
    /// The domain makes no assertion about this IP.
    Neutral,
    /// The IP is authorized.
    Pass,
    /// The IP is not authorized.
    Fail,
    /// Probably not authorized.
    SoftFail,
    /// A transient DNS error.
    TempError,
    /// The record is broken or the lookup limits were exceeded.
    PermError,
}

impl SpfResult {
    /// The result keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

/// The outcome of an SPF check, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    /// The result.
    pub result: SpfResult,
    /// The domain checked (the MAIL FROM domain, or the HELO name).
    pub domain: String,
    /// DNS-querying terms evaluated (at most 10 are allowed).
    pub lookups: u32,
    /// Plain words: which mechanism matched or what went wrong.
    pub reason: String,
}

/// The limits of RFC 7208 §4.6.4, adjustable for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpfLimits {
    /// Terms that cause DNS queries (include, a, mx, ptr, exists, redirect).
    pub lookups: u32,
    /// Lookups that return no records or NXDOMAIN.
    pub void_lookups: u32,
    /// Names per MX or PTR answer that are looked up further.
    pub names_per_answer: usize,
}

impl Default for SpfLimits {
    fn default() -> Self {
        SpfLimits {
            lookups: 10,
            void_lookups: 2,
            names_per_answer: 10,
        }
    }
}

/// What the check is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfQuery<'a> {
    /// The connecting client's IP.
    pub ip: IpAddr,
    /// The HELO/EHLO name.
    pub helo: &'a str,
    /// The MAIL FROM address; empty for the null reverse-path (then `postmaster@helo`).
    pub sender: &'a str,
}

/// Checks the MAIL FROM identity (or HELO for a null reverse-path), as RFC 7208 §2.4 asks.
pub fn check_mail_from<R: Resolver + ?Sized>(resolver: &R, query: &SpfQuery<'_>) -> SpfOutcome {
    check_with_limits(resolver, query, SpfLimits::default())
}

/// [`check_mail_from`] with other limits.
pub fn check_with_limits<R: Resolver + ?Sized>(
    resolver: &R,
    query: &SpfQuery<'_>,
    limits: SpfLimits,
) -> SpfOutcome {
    let sender = if query.sender.contains('@') && !query.sender.ends_with('@') {
        query.sender.to_owned()
    } else if query.sender.is_empty() {
        format!("postmaster@{}", query.helo)
    } else {
        format!("postmaster@{}", query.sender.trim_end_matches('@'))
    };
    let domain = sender
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let mut ctx = Context {
        resolver,
        limits,
        ip: unmap(query.ip),
        sender: &sender,
        helo: query.helo,
        lookups: 0,
        voids: 0,
        reason: String::new(),
    };
    let result = match ctx.check_host(&domain, 0) {
        Ok(r) => r,
        Err(Stop(r, why)) => {
            ctx.reason = why;
            r
        }
    };
    SpfOutcome {
        result,
        domain,
        lookups: ctx.lookups,
        reason: ctx.reason,
    }
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An evaluation that ends at once with this result (errors and limits).
struct Stop(SpfResult, String);

struct Context<'a, R: ?Sized> {
    resolver: &'a R,
    limits: SpfLimits,
    ip: IpAddr,
    sender: &'a str,
    helo: &'a str,
    lookups: u32,
    voids: u32,
    reason: String,
}

fn valid_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    labels.len() >= 2 && d.len() <= 253 && labels.iter().all(|l| !l.is_empty() && l.len() <= 63)
}

/// Whether a DNS query can carry `name`: labels of 1 to 63 octets, 253 in all.
fn queryable(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

fn in_network(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl<R: Resolver + ?Sized> Context<'_, R> {
    fn count_lookup(&mut self) -> Result<(), Stop> {
        self.lookups += 1;
        if self.lookups > self.limits.lookups {
            return Err(Stop(
                SpfResult::PermError,
                format!("more than {} DNS lookups", self.limits.lookups),
            ));
        }
        Ok(())
    }

    /// Turns a DNS answer into records; a void answer counts toward the void limit.
    fn answer<T>(&mut self, what: &str, r: Result<Vec<T>, DnsError>) -> Result<Vec<T>, Stop> {
        match r {
            Ok(v) if !v.is_empty() => Ok(v),
            Ok(_) | Err(DnsError::NxDomain) | Err(DnsError::NoRecords) => {
                self.voids += 1;
                if self.voids > self.limits.void_lookups {
                    return Err(Stop(
                        SpfResult::PermError,
                        format!(
                            "more than {} lookups found nothing (last: {what})",
                            self.limits.void_lookups
                        ),
                    ));
                }
                Ok(Vec::new())
            }
            Err(DnsError::Temporary(e)) => Err(Stop(SpfResult::TempError, format!("{what}: {e}"))),
        }
    }

    fn addresses(&mut self, name: &str) -> Result<Vec<IpAddr>, Stop> {
        Ok(match self.ip {
            IpAddr::V4(_) => {
                let r = self.resolver.a(name);
                self.answer(name, r)?.into_iter().map(IpAddr::V4).collect()
            }
            IpAddr::V6(_) => {
                let r = self.resolver.aaaa(name);
                self.answer(name, r)?.into_iter().map(IpAddr::V6).collect()
            }
        })
    }

    fn expand(&self, m: &MacroString, domain: &str) -> Result<String, Stop> {
        let mut out = String::new();
        for token in &m.0 {
            match token {
                MacroToken::Literal(s) => out.push_str(s),
                MacroToken::Macro {
                    letter,
                    escape,
                    keep,
                    reverse,
                    delimiters,
                } => {
                    let (local, sender_domain) = self
                        .sender
                        .rsplit_once('@')
                        .unwrap_or(("postmaster", self.sender));
                    let value = match letter {
                        's' => self.sender.to_owned(),
                        'l' => local.to_owned(),
                        'o' => sender_domain.to_owned(),
                        'd' => domain.to_owned(),
                        'i' => match self.ip {
                            IpAddr::V4(v4) => v4.to_string(),
                            IpAddr::V6(v6) => v6
                                .octets()
                                .iter()
                                .flat_map(|b| [b >> 4, b & 15])
                                .map(|n| format!("{n:x}"))
                                .collect::<Vec<_>>()
                                .join("."),
                        },
                        'p' => self.validated_name(domain),
                        'v' => if self.ip.is_ipv4() { "in-addr" } else { "ip6" }.to_owned(),
                        'h' => self.helo.to_owned(),
                        _ => {
                            return Err(Stop(
                                SpfResult::PermError,
                                format!("macro %{{{letter}}} is only for exp="),
                            ))
                        }
                    };
                    let mut parts: Vec<&str> = value.split(|c| delimiters.contains(c)).collect();
                    if *reverse {
                        parts.reverse();
                    }
                    if let Some(k) = keep {
                        let k = *k as usize;
                        if parts.len() > k {
                            parts.drain(..parts.len() - k);
                        }
                    }
                    let joined = parts.join(".");
                    out.push_str(&if *escape { url_escape(&joined) } else { joined });
                }
            }
        }
        // RFC 7208 §7.3: drop left labels until the name fits in 253 octets.
        while out.len() > 253 {
            match out.split_once('.') {
                Some((_, rest)) => out = rest.to_owned(),
                None => break,
            }
        }
        Ok(out.trim_end_matches('.').to_owned())
    }

    /// `%{p}` (RFC 7208 §7.3): a name of the client's PTR records whose own addresses hold
    /// the client: the domain itself, else one of its subdomains, else any; `unknown` when
    /// none validates. Its lookups do not count toward the limit (§4.6.4 counts terms).
    fn validated_name(&self, domain: &str) -> String {
        let names = self.resolver.ptr(self.ip).unwrap_or_default();
        let mut validated = Vec::new();
        for name in names.into_iter().take(self.limits.names_per_answer) {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let holds = match self.ip {
                IpAddr::V4(v4) => self.resolver.a(&name).is_ok_and(|a| a.contains(&v4)),
                IpAddr::V6(v6) => self.resolver.aaaa(&name).is_ok_and(|a| a.contains(&v6)),
            };
            if holds {
                validated.push(name);
            }
        }
        let domain = domain.to_ascii_lowercase();
        let subdomain = format!(".{domain}");
        validated
            .iter()
            .find(|n| **n == domain)
            .or_else(|| validated.iter().find(|n| n.ends_with(&subdomain)))
            .or_else(|| validated.first())
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned())
    }

    fn target(&self, m: &Option<MacroString>, domain: &str) -> Result<String, Stop> {
        match m {
            Some(m) => self.expand(m, domain),
            None => Ok(domain.to_owned()),
        }
    }

    fn check_host(&mut self, domain: &str, depth: u32) -> Result<SpfResult, Stop> {
        if !valid_domain(domain) {
            self.reason = format!("{domain:?} is not a domain SPF can check");
            return Ok(SpfResult::None);
        }
        let txt = match self.resolver.txt(domain) {
            Ok(t) => t,
            Err(DnsError::Temporary(e)) => {
                return Err(Stop(SpfResult::TempError, format!("TXT {domain}: {e}")))
            }
            Err(_) => Vec::new(),
        };
        let records: Vec<&String> = txt.iter().filter(|t| is_spf_record(t)).collect();
        let record = match records.as_slice() {
            [] => {
                self.reason = format!("{domain} publishes no SPF record");
                return Ok(SpfResult::None);
            }
            [one] => SpfRecord::parse(one)
                .map_err(|e| Stop(SpfResult::PermError, format!("{domain}: {e}")))?,
            _ => {
                return Err(Stop(
                    SpfResult::PermError,
                    format!("{domain} publishes more than one SPF record"),
                ))
            }
        };
        for (qualifier, mechanism) in &record.directives {
            if self.matches(mechanism, domain, depth)? {
                self.reason = format!("{domain} matched {}", describe(mechanism));
                return Ok(match qualifier {
                    Qualifier::Pass => SpfResult::Pass,
                    Qualifier::Fail => SpfResult::Fail,
                    Qualifier::SoftFail => SpfResult::SoftFail,
                    Qualifier::Neutral => SpfResult::Neutral,
                });
            }
        }
        if let Some(redirect) = &record.redirect {
            self.count_lookup()?;
            let target = self.expand(redirect, domain)?;
            return match self.check_host(&target, depth + 1)? {
                SpfResult::None => Err(Stop(
                    SpfResult::PermError,
                    format!("redirect to {target}, which has no SPF record"),
                )),
                r => Ok(r),
            };
        }
        self.reason = format!("no mechanism of {domain} matched");
        Ok(SpfResult::Neutral)
    }

    fn matches(&mut self, mechanism: &Mechanism, domain: &str, depth: u32) -> Result<bool, Stop> {
        if mechanism.counts_as_lookup() {
            self.count_lookup()?;
        }
        let ip = self.ip;
        Ok(match mechanism {
            Mechanism::All => true,
            Mechanism::Ip4(net, len) => in_network(ip, IpAddr::V4(*net), *len),
            Mechanism::Ip6(net, len) => in_network(ip, IpAddr::V6(*net), *len),
            Mechanism::A { domain: d, v4, v6 } => {
                let target = self.target(d, domain)?;
                // A name no DNS query can carry (an empty or over-long label, perhaps from
                // a macro) matches nothing (RFC 7208 §4.3 by analogy; §4.8 leaves it open).
                if !queryable(&target) {
                    return Ok(false);
                }
                let len = if ip.is_ipv4() { *v4 } else { *v6 };
                self.addresses(&target)?
                    .into_iter()
                    .any(|a| in_network(ip, a, len))
            }
            Mechanism::Mx { domain: d, v4, v6 } => {
                let target = self.target(d, domain)?;
                if !queryable(&target) {
                    return Ok(false);
                }
                let r = self.resolver.mx(&target);
                let mut mx = self.answer(&target, r)?;
                if mx.len() > self.limits.names_per_answer {
                    return Err(Stop(
                        SpfResult::PermError,
                        format!("{target} has more than 10 MX records"),
                    ));
                }
                mx.sort_by_key(|m| m.preference);
                let len = if ip.is_ipv4() { *v4 } else { *v6 };
                let mut found = false;
                for m in mx {
                    if self
                        .addresses(&m.exchange)?
                        .into_iter()
                        .any(|a| in_network(ip, a, len))
                    {
                        found = true;
                        break;
                    }
                }
                found
            }
            Mechanism::Ptr(d) => {
                let target = self.target(d, domain)?.to_ascii_lowercase();
                let names = match self.resolver.ptr(ip) {
                    Ok(n) => n,
                    Err(DnsError::Temporary(_)) | Err(_) => Vec::new(),
                };
                let mut found = false;
                for name in names.into_iter().take(self.limits.names_per_answer) {
                    let name = name.trim_end_matches('.').to_ascii_lowercase();
                    let in_domain = name == target || name.ends_with(&format!(".{target}"));
                    let addrs = match self.ip {
                        IpAddr::V4(_) => self
                            .resolver
                            .a(&name)
                            .map(|v| v.into_iter().map(IpAddr::V4).collect()),
                        IpAddr::V6(_) => self
                            .resolver
                            .aaaa(&name)
                            .map(|v| v.into_iter().map(IpAddr::V6).collect()),
                    }
                    .unwrap_or_else(|_| Vec::<IpAddr>::new());
                    if in_domain && addrs.contains(&ip) {
                        found = true;
                        break;
                    }
                }
                found
            }
            Mechanism::Exists(d) => {
                let target = self.expand(d, domain)?;
                if !queryable(&target) {
                    return Ok(false);
                }
                let r = self.resolver.a(&target);
                !self.answer(&target, r)?.is_empty()
            }
            Mechanism::Include(d) => {
                let target = self.expand(d, domain)?;
                if depth >= self.limits.lookups {
                    return Err(Stop(SpfResult::PermError, "include loop".into()));
                }
                match self.check_host(&target, depth + 1)? {
                    SpfResult::Pass => true,
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => false,
                    SpfResult::None => {
                        return Err(Stop(
                            SpfResult::PermError,
                            format!("include:{target} has no SPF record"),
                        ))
                    }
                    r @ (SpfResult::TempError | SpfResult::PermError) => {
                        return Err(Stop(r, format!("include:{target} gave {}", r.keyword())))
                    }
                }
            }
        })
    }
}

fn describe(m: &Mechanism) -> String {
    match m {
        Mechanism::All => "all".into(),
        Mechanism::Include(_) => "include".into(),
        Mechanism::A { .. } => "a".into(),
        Mechanism::Mx { .. } => "mx".into(),
        Mechanism::Ptr(_) => "ptr".into(),
        Mechanism::Ip4(n, l) => format!("ip4:{n}/{l}"),
        Mechanism::Ip6(n, l) => format!("ip6:{n}/{l}"),
        Mechanism::Exists(_) => "exists".into(),
    }
}
