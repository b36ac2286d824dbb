//! The public SPF test suite for RFC 7208 (the openspf.org suite as pyspf distributes it in
//! test/rfc7208-tests.yml; tests/setup/16-spf-suite.sh fetches it from pyspf's source release,
//! checks its hash and exports MAILWIRE_TEST_SPF_SUITE): each scenario's zone is served through this crate's
//! `Resolver` trait, the way the suite's own driver serves it, and each case's result must be
//! one of those the suite accepts. Explanations (`exp=`) are not compared: `exp=` is parsed but
//! not fetched (docs/mail-auth.md).
//!
//! The cases listed in [`KNOWN_DIFFERENCES`] are the ones where our answer differs, each with
//! the reason; the test fails when another case fails, and when a listed case starts to pass
//! (so the list stays true).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mailwire_auth::spf::{check_mail_from, SpfQuery};
use mailwire_auth::{DnsError, MxRecord, Resolver};
use yaml_rust2::{Yaml, YamlLoader};

/// Cases whose result differs from the suite's, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// One DNS record of a scenario's zone, as the suite writes it.
#[derive(Debug, Clone)]
enum Entry {
    /// `- TIMEOUT`: every query for the name times out, unless a record of the asked type
    /// came before it.
    Timeout,
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(u16, String),
    Ptr(String),
    Cname(String),
    /// TXT strings (joined without spaces when answered).
    Txt(Vec<String>),
    /// A record of this type that times out.
    TypedTimeout(&'static str),
}

impl Entry {
    fn kind(&self) -> &'static str {
        match self {
            Entry::Timeout => "TIMEOUT",
            Entry::A(_) => "A",
            Entry::Aaaa(_) => "AAAA",
            Entry::Mx(..) => "MX",
            Entry::Ptr(_) => "PTR",
            Entry::Cname(_) => "CNAME",
            Entry::Txt(_) => "TXT",
            Entry::TypedTimeout(kind) => kind,
        }
    }
}

/// A scenario's zone, answering as the suite's driver (pyspf's `testspf.py`) does.
#[derive(Debug, Default)]
struct SuiteZone {
    names: HashMap<String, Vec<Entry>>,
}

impl SuiteZone {
    /// The answers of type `kind` for `name`: the driver drops empty labels, times out on a
    /// label over 63 octets and on names under `error.`, and follows one CNAME.
    fn lookup(&self, name: &str, kind: &str, depth: u8) -> Result<Vec<Entry>, DnsError> {
        let mut labels = Vec::new();
        for label in name.split('.') {
            if label.len() > 63 {
                return Err(DnsError::Temporary("DNS label too long".into()));
            }
            if !label.is_empty() {
                labels.push(label.to_ascii_lowercase());
            }
        }
        let name = labels.join(".");
        let Some(entries) = self.names.get(&name) else {
            if name.starts_with("error.") {
                return Err(DnsError::Temporary("DNS timeout".into()));
            }
            return Err(DnsError::NxDomain);
        };
        let mut timeout = true;
        let mut found = Vec::new();
        for entry in entries {
            if let Entry::Timeout = entry {
                if timeout {
                    return Err(DnsError::Temporary("DNS timeout".into()));
                }
                break;
            }
            if entry.kind() == kind {
                timeout = false;
                if let Entry::TypedTimeout(_) = entry {
                    return Err(DnsError::Temporary("DNS timeout".into()));
                }
                found.push(entry.clone());
            } else if let (Entry::Cname(target), 0) = (entry, depth) {
                found.extend(self.lookup(target, kind, 1).unwrap_or_default());
            }
        }
        if found.is_empty() {
            Err(DnsError::NoRecords)
        } else {
            Ok(found)
        }
    }
}

impl Resolver for SuiteZone {
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        Ok(self
            .lookup(name, "TXT", 0)?
            .into_iter()
            .filter_map(|e| match e {
                Entry::Txt(strings) => Some(strings.concat()),
                _ => None,
            })
            .collect())
    }
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
        Ok(self
            .lookup(name, "A", 0)?
            .into_iter()
            .filter_map(|e| match e {
                Entry::A(ip) => Some(ip),
                _ => None,
            })
            .collect())
    }
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
        Ok(self
            .lookup(name, "AAAA", 0)?
            .into_iter()
            .filter_map(|e| match e {
                Entry::Aaaa(ip) => Some(ip),
                _ => None,
            })
            .collect())
    }
    fn mx(&self, name: &str) -> Result<Vec<MxRecord>, DnsError> {
        Ok(self
            .lookup(name, "MX", 0)?
            .into_iter()
            .filter_map(|e| match e {
                Entry::Mx(preference, exchange) => Some(MxRecord {
                    preference,
                    exchange,
                }),
                _ => None,
            })
            .collect())
    }
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        let name = match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
            }
            IpAddr::V6(v6) => {
                let mut nibbles: Vec<String> = v6
                    .octets()
                    .iter()
                    .flat_map(|b| [b >> 4, b & 0xf])
                    .map(|n| format!("{n:x}"))
                    .collect();
                nibbles.reverse();
                format!("{}.ip6.arpa", nibbles.join("."))
            }
        };
        Ok(self
            .lookup(&name, "PTR", 0)?
            .into_iter()
            .filter_map(|e| match e {
                Entry::Ptr(host) => Some(host),
                _ => None,
            })
            .collect())
    }
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Array(items) => items.iter().flat_map(strings).collect(),
        Yaml::String(s) => vec![s.clone()],
        Yaml::Integer(n) => vec![n.to_string()],
        Yaml::Real(r) => vec![r.clone()],
        Yaml::Boolean(b) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

fn text(value: &Yaml) -> String {
    strings(value).concat()
}

/// A zone from the suite's `zonedata`: an SPF (type 99) record also answers as TXT when the
/// name has no TXT record of its own (`TXT: NONE` says there is none), as the driver does.
fn zone(zonedata: &Yaml) -> SuiteZone {
    let mut zone = SuiteZone::default();
    let Yaml::Hash(names) = zonedata else {
        return zone;
    };
    for (name, records) in names {
        let name = text(name).to_ascii_lowercase();
        let mut entries = Vec::new();
        let mut generated = Vec::new();
        let mut has_txt = false;
        for record in records.as_vec().into_iter().flatten() {
            let Yaml::Hash(map) = record else {
                // `- TIMEOUT`
                entries.push(Entry::Timeout);
                continue;
            };
            for (kind, value) in map {
                let kind = text(kind);
                let words = strings(value);
                if words == ["TIMEOUT"] && kind == "SPF" {
                    continue; // type SPF is never asked
                }
                if words == ["TIMEOUT"] {
                    let kind = match kind.as_str() {
                        "A" => "A",
                        "AAAA" => "AAAA",
                        "MX" => "MX",
                        "PTR" => "PTR",
                        _ => "TXT",
                    };
                    entries.push(Entry::TypedTimeout(kind));
                    continue;
                }
                match kind.as_str() {
                    "TXT" => {
                        has_txt = true;
                        if words != ["NONE"] {
                            entries.push(Entry::Txt(words));
                        }
                    }
                    "SPF" => generated.push(Entry::Txt(words)),
                    "A" => entries.push(Entry::A(text(value).parse().expect("an IPv4 address"))),
                    "AAAA" => {
                        entries.push(Entry::Aaaa(text(value).parse().expect("an IPv6 address")))
                    }
                    "MX" => {
                        let preference = words[0].parse().expect("an MX preference");
                        entries.push(Entry::Mx(preference, words[1].to_ascii_lowercase()));
                    }
                    "PTR" => entries.push(Entry::Ptr(text(value).to_ascii_lowercase())),
                    "CNAME" => entries.push(Entry::Cname(text(value).to_ascii_lowercase())),
                    other => panic!("record type {other} in the suite"),
                }
            }
        }
        if !has_txt {
            entries.extend(generated);
        }
        zone.names.insert(name, entries);
    }
    zone
}

#[test]
fn the_public_spf_test_suite() {
    let path = std::env::var("MAILWIRE_TEST_SPF_SUITE").unwrap_or_else(|_| {
        panic!("MAILWIRE_TEST_SPF_SUITE is not set: run the tests with tests/run-all.sh, which fetches the RFC 7208 suite")
    });
    let source = std::fs::read_to_string(&path).expect("reading the RFC 7208 suite");
    let scenarios = YamlLoader::load_from_str(&source).expect("the suite is YAML");
    let known: BTreeMap<&str, &str> = KNOWN_DIFFERENCES.iter().copied().collect();
    let mut total = 0;
    let mut passed = 0;
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    let mut not_preferred = Vec::new();
    let mut explanations = 0;
    for scenario in &scenarios {
        let zone = zone(&scenario["zonedata"]);
        let Yaml::Hash(tests) = &scenario["tests"] else {
            continue;
        };
        for (id, case) in tests {
            let id = text(id);
            total += 1;
            let ip: IpAddr = text(&case["host"]).parse().expect("an IP address");
            let helo = text(&case["helo"]);
            let sender = text(&case["mailfrom"]);
            let outcome = check_mail_from(
                &zone,
                &SpfQuery {
                    ip,
                    helo: &helo,
                    sender: &sender,
                },
            );
            let accepted = strings(&case["result"]);
            let got = outcome.result.keyword();
            let ok = accepted.iter().any(|r| r == got);
            if ok {
                passed += 1;
                if accepted.first().is_some_and(|r| r != got) {
                    not_preferred.push(format!("{id} ({got}; {} preferred)", accepted[0]));
                }
            }
            if !case["explanation"].is_badvalue() {
                explanations += 1;
            }
            match (ok, known.get(id.as_str())) {
                (false, None) => unexpected.push(format!(
                    "{id}: got {got} ({}), the suite accepts {accepted:?}",
                    outcome.reason
                )),
                (true, Some(_)) => stale.push(id.clone()),
                _ => {}
            }
        }
    }
    eprintln!(
        "RFC 7208 suite: {passed} of {total} cases pass; {} known differences; {} pass with a \
         result the suite accepts but does not prefer: {}; {explanations} cases also name an \
         explanation, which is not compared (exp= is not fetched)",
        known.len(),
        not_preferred.len(),
        not_preferred.join(", ")
    );
    assert!(total >= 200, "only {total} cases read");
    assert!(
        unexpected.is_empty(),
        "{} cases differ:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "now passing, remove from KNOWN_DIFFERENCES: {stale:?}"
    );
}
