//! DNS blocklists: the client's address, reversed, under each zone
//! (`2.0.0.127.zen.example`); an answer in `127.0.0.0/24` means listed, and
//! the zone's TXT record there says why.
//!
//! A failed lookup (timeout, server failure) counts as not listed and is
//! logged: a blocklist that cannot be reached must not stop mail.

use crate::{sanitize_text, Filter, FilterError, MessageInfo, Verdict};
use mail_dns::Resolver;
use serde::Deserialize;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// The server's `[dnsbl]` table. Off by default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsblConfig {
    /// Whether the server asks at all (default false).
    pub enabled: bool,
    /// The zones asked, in order (`zen.spamhaus.org`); the first that lists
    /// the client decides.
    pub zones: Vec<String>,
}

/// A client found on a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The zone that lists it.
    pub zone: String,
    /// The listed client.
    pub ip: IpAddr,
    /// The answers (`127.0.0.2`...), which some lists use as codes.
    pub codes: Vec<Ipv4Addr>,
    /// The zone's TXT record for it, if any.
    pub reason: Option<String>,
}

impl Listing {
    /// `554 5.7.1` naming the client, the zone and its reason.
    pub fn verdict(&self) -> Verdict {
        let mut text = format!("client {} is listed in {}", self.ip, self.zone);
        if let Some(reason) = &self.reason {
            let _ = write!(text, ": {reason}");
        }
        Verdict::reject(text)
    }
}

/// The name to ask for `ip` in `zone`: the address's octets (IPv4) or
/// nibbles (IPv6) in reverse order. An IPv4-mapped IPv6 address is asked as
/// IPv4.
///
/// ```
/// use mail_filter::dnsbl::query_name;
/// assert_eq!(query_name([192, 0, 2, 99].into(), "bl.example"), "99.2.0.192.bl.example");
/// ```
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_matches('.');
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                let _ = write!(name, "{:x}.{:x}.", byte & 0x0f, byte >> 4);
            }
            name.push_str(zone);
            name
        }
    }
}

/// Whether an answer means "listed": `127.0.0.0/24` (other answers, such as
/// `127.255.255.x` for a refused query, do not).
pub fn is_listing_code(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 127 && b == 0 && c == 0
}

/// The blocklist checker.
#[derive(Debug, Clone)]
pub struct Dnsbl {
    zones: Vec<String>,
    resolver: Resolver,
}

impl Dnsbl {
    /// Asks `config`'s zones through `resolver` (which names the DNS server
    /// and the lookup deadline).
    pub fn new(config: &DnsblConfig, resolver: Resolver) -> Result<Dnsbl, FilterError> {
        let zones: Vec<String> = config
            .zones
            .iter()
            .map(|z| z.trim().trim_matches('.').to_ascii_lowercase())
            .collect();
        if let Some(bad) = zones.iter().find(|z| {
            z.is_empty()
                || !z
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }) {
            return Err(FilterError::Config(format!("{bad:?} is not a DNSBL zone")));
        }
        Ok(Dnsbl { zones, resolver })
    }

    /// The first zone that lists `ip`, if any.
    pub fn check(&self, ip: IpAddr) -> Option<Listing> {
        self.zones.iter().find_map(|zone| self.check_zone(ip, zone))
    }

    fn check_zone(&self, ip: IpAddr, zone: &str) -> Option<Listing> {
        let name = query_name(ip, zone);
        let answers = match self.resolver.ipv4(&name).wait() {
            Ok(answers) => answers,
            Err(e) if e.is_negative() => return None,
            Err(e) => {
                tracing::warn!(%ip, zone, "DNSBL lookup failed, taken as not listed: {e}");
                return None;
            }
        };
        let codes: Vec<Ipv4Addr> = answers
            .into_iter()
            .filter_map(|a| match a {
                IpAddr::V4(v4) if is_listing_code(v4) => Some(v4),
                _ => None,
            })
            .collect();
        if codes.is_empty() {
            return None;
        }
        let reason = match self.resolver.txt(&name).wait() {
            Ok(texts) => texts
                .first()
                .map(|t| sanitize_text(t))
                .filter(|t| !t.is_empty()),
            Err(e) => {
                if !e.is_negative() {
                    tracing::warn!(%ip, zone, "DNSBL TXT lookup failed: {e}");
                }
                None
            }
        };
        Some(Listing {
            zone: zone.to_owned(),
            ip,
            codes,
            reason,
        })
    }
}

impl Filter for Dnsbl {
    fn name(&self) -> &str {
        "dnsbl"
    }

    fn check(&self, info: &MessageInfo, _message: &Path) -> Result<Verdict, FilterError> {
        Ok(Dnsbl::check(self, info.client_ip).map_or_else(Verdict::accept, |l| l.verdict()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_names_are_nibbles() {
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            query_name(ip, "bl.example."),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example"
        );
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(query_name(mapped, "bl.example"), "1.2.0.192.bl.example");
    }

    #[test]
    fn listing_codes() {
        assert!(is_listing_code(Ipv4Addr::new(127, 0, 0, 2)));
        assert!(!is_listing_code(Ipv4Addr::new(127, 255, 255, 254)));
        assert!(!is_listing_code(Ipv4Addr::new(10, 0, 0, 2)));
    }
}
