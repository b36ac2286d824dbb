//! Direct delivery's routing decision, pure: from a domain's MX answer to
//! the hosts to try, in order (RFC 5321 §5.1, RFC 7505).

use std::net::IpAddr;

/// What a DNS lookup gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Records.
    Found(T),
    /// The name exists but has no records of this type (NODATA).
    NoRecords,
    /// The name does not exist (NXDOMAIN).
    NoDomain,
    /// The lookup failed for now (timeout, SERVFAIL): retry later.
    Temporary(String),
}

/// The DNS questions direct delivery asks. Implemented over mail-dns; a
/// test may answer from a table.
pub trait MxResolver: Send + Sync {
    /// The MX records of `domain`: (preference, exchange host).
    fn mx(&self, domain: &str) -> Lookup<Vec<(u16, String)>>;
    /// The IPv4 and IPv6 addresses of `host`.
    fn addresses(&self, host: &str) -> Lookup<Vec<IpAddr>>;
}

/// One host to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Its name (the TLS name).
    pub name: String,
    /// Its addresses (empty when they could not be looked up now).
    pub addresses: Vec<IpAddr>,
}

/// Where a domain's mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxPlan {
    /// Try these, in order.
    Hosts(Vec<MxHost>),
    /// Never deliverable: fail the recipients (null MX, no such domain).
    Fail(String),
    /// Not now: retry later.
    Retry(String),
}

/// Plans delivery to `domain`:
/// - MX records sorted by preference (ties in the order given), each
///   exchange's addresses looked up; a host without addresses is skipped;
/// - a single MX of preference 0 and exchange `.` is a null MX (RFC 7505):
///   the domain accepts no mail, a permanent failure;
/// - no MX records: the domain itself is the implicit MX (its A/AAAA);
/// - a domain that does not exist fails; a failed lookup retries.
pub fn plan_mx(domain: &str, resolver: &dyn MxResolver) -> MxPlan {
    let records = match resolver.mx(domain) {
        Lookup::Found(records) if !records.is_empty() => records,
        Lookup::Found(_) | Lookup::NoRecords => vec![(0, domain.to_owned())],
        Lookup::NoDomain => {
            return MxPlan::Fail(format!(
                "550 5.1.2 the domain {domain} does not exist (DNS NXDOMAIN)"
            ))
        }
        Lookup::Temporary(why) => {
            return MxPlan::Retry(format!("451 4.4.3 MX lookup for {domain} failed: {why}"))
        }
    };
    let is_null = |(_, host): &(u16, String)| host.trim_end_matches('.').is_empty();
    if records.iter().any(is_null) {
        return MxPlan::Fail(format!(
            "556 5.1.10 {domain} accepts no mail (null MX, RFC 7505)"
        ));
    }
    let mut records = records;
    records.sort_by_key(|(pref, _)| *pref);
    let mut hosts = Vec::new();
    let mut temporary = Vec::new();
    for (_, name) in records {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if hosts.iter().any(|h: &MxHost| h.name == name) {
            continue;
        }
        match resolver.addresses(&name) {
            Lookup::Found(addresses) if !addresses.is_empty() => {
                hosts.push(MxHost { name, addresses })
            }
            Lookup::Temporary(why) => temporary.push(format!("{name}: {why}")),
            _ => {}
        }
    }
    if !hosts.is_empty() {
        return MxPlan::Hosts(hosts);
    }
    if !temporary.is_empty() {
        return MxPlan::Retry(format!(
            "451 4.4.3 address lookup failed: {}",
            temporary.join("; ")
        ));
    }
    MxPlan::Fail(format!("550 5.4.4 no MX host of {domain} has an address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Table {
        mx: HashMap<&'static str, Lookup<Vec<(u16, String)>>>,
        a: HashMap<&'static str, Lookup<Vec<IpAddr>>>,
    }

    impl MxResolver for Table {
        fn mx(&self, domain: &str) -> Lookup<Vec<(u16, String)>> {
            self.mx.get(domain).cloned().unwrap_or(Lookup::NoDomain)
        }
        fn addresses(&self, host: &str) -> Lookup<Vec<IpAddr>> {
            self.a.get(host).cloned().unwrap_or(Lookup::NoDomain)
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn preference_order_skips_hosts_without_addresses() {
        let mut t = Table::default();
        t.mx.insert(
            "d.example",
            Lookup::Found(vec![
                (20, "b.d.example.".into()),
                (10, "a.d.example".into()),
                (5, "gone.d.example".into()),
            ]),
        );
        t.a.insert("a.d.example", Lookup::Found(vec![ip("192.0.2.1")]));
        t.a.insert("b.d.example", Lookup::Found(vec![ip("2001:db8::2")]));
        let MxPlan::Hosts(hosts) = plan_mx("d.example", &t) else {
            panic!()
        };
        let names: Vec<_> = hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["a.d.example", "b.d.example"]);
    }

    #[test]
    fn no_mx_means_the_domain_itself() {
        let mut t = Table::default();
        t.mx.insert("plain.example", Lookup::NoRecords);
        t.a.insert("plain.example", Lookup::Found(vec![ip("192.0.2.9")]));
        assert_eq!(
            plan_mx("plain.example", &t),
            MxPlan::Hosts(vec![MxHost {
                name: "plain.example".into(),
                addresses: vec![ip("192.0.2.9")]
            }])
        );
    }

    #[test]
    fn null_mx_and_missing_domains_fail_and_lookup_trouble_retries() {
        let mut t = Table::default();
        t.mx.insert("null.example", Lookup::Found(vec![(0, ".".into())]));
        t.mx.insert("flaky.example", Lookup::Temporary("timed out".into()));
        t.mx.insert(
            "noaddr.example",
            Lookup::Found(vec![(10, "mx.noaddr.example".into())]),
        );
        t.mx.insert(
            "slowaddr.example",
            Lookup::Found(vec![(10, "mx.slowaddr.example".into())]),
        );
        t.a.insert("mx.slowaddr.example", Lookup::Temporary("SERVFAIL".into()));
        assert!(matches!(plan_mx("null.example", &t), MxPlan::Fail(r) if r.contains("RFC 7505")));
        assert!(
            matches!(plan_mx("missing.example", &t), MxPlan::Fail(r) if r.contains("does not exist"))
        );
        assert!(matches!(plan_mx("flaky.example", &t), MxPlan::Retry(_)));
        assert!(matches!(plan_mx("noaddr.example", &t), MxPlan::Fail(_)));
        assert!(matches!(plan_mx("slowaddr.example", &t), MxPlan::Retry(_)));
    }
}
