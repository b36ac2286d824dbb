//! The DNS questions mail authentication asks, as a trait the caller answers.
//!
//! The crate does no I/O of its own: SPF, DKIM and DMARC ask a [`Resolver`], which a real
//! DNS client (the workspace's `mail-dns`, or anything else) implements. [`MemoryResolver`]
//! answers from a table, for tests and for embedders that already hold the records.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a DNS question got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN).
    #[error("the name does not exist (NXDOMAIN)")]
    NxDomain,
    /// The name exists but has no record of the type asked for.
    #[error("the name has no record of that type")]
    NoRecords,
    /// A failure that may go away: timeout, SERVFAIL, network error.
    #[error("temporary DNS failure: {0}")]
    Temporary(String),
}

impl DnsError {
    /// NXDOMAIN and empty answers count as "void lookups" in SPF (RFC 7208 §4.6.4).
    pub fn is_void(&self) -> bool {
        matches!(self, DnsError::NxDomain | DnsError::NoRecords)
    }
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxRecord {
    /// Lower is preferred.
    pub preference: u16,
    /// The mail exchanger's host name, without a trailing dot.
    pub exchange: String,
}

/// The lookups SPF, DKIM and DMARC need. Names are given without a trailing dot.
///
/// Implementations should cache with the records' TTLs and turn timeouts into
/// [`DnsError::Temporary`], so a slow server gives `temperror` and never a hang.
pub trait Resolver {
    /// TXT records at `name`, each record's strings joined (RFC 6376 §3.6.2.2, RFC 7208 §3.3).
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError>;
    /// A records at `name`.
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError>;
    /// AAAA records at `name`.
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError>;
    /// MX records at `name`.
    fn mx(&self, name: &str) -> Result<Vec<MxRecord>, DnsError>;
    /// PTR records for `ip`. The default answers "no records", so SPF's deprecated `ptr`
    /// mechanism never matches on a resolver that cannot do reverse lookups.
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        let _ = ip;
        Err(DnsError::NoRecords)
    }
}

impl<R: Resolver + ?Sized> Resolver for &R {
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        (**self).txt(name)
    }
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
        (**self).a(name)
    }
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
        (**self).aaaa(name)
    }
    fn mx(&self, name: &str) -> Result<Vec<MxRecord>, DnsError> {
        (**self).mx(name)
    }
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        (**self).ptr(ip)
    }
}

/// A resolver that answers from a table held in memory. Names are compared without case.
/// A name present with any record type answers [`DnsError::NoRecords`] for the other types;
/// an absent name answers [`DnsError::NxDomain`]; a name marked with
/// [`MemoryResolver::fail`] answers [`DnsError::Temporary`].
#[derive(Debug, Default, Clone)]
pub struct MemoryResolver {
    txt: HashMap<String, Vec<String>>,
    a: HashMap<String, Vec<Ipv4Addr>>,
    aaaa: HashMap<String, Vec<Ipv6Addr>>,
    mx: HashMap<String, Vec<MxRecord>>,
    ptr: HashMap<IpAddr, Vec<String>>,
    failing: Vec<String>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl MemoryResolver {
    /// An empty table: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a TXT record.
    pub fn txt(mut self, name: &str, value: &str) -> Self {
        self.txt
            .entry(key(name))
            .or_default()
            .push(value.to_owned());
        self
    }
    /// Adds an A or AAAA record.
    pub fn ip(mut self, name: &str, ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => self.a.entry(key(name)).or_default().push(v4),
            IpAddr::V6(v6) => self.aaaa.entry(key(name)).or_default().push(v6),
        }
        self
    }
    /// Adds an MX record.
    pub fn mx(mut self, name: &str, preference: u16, exchange: &str) -> Self {
        self.mx.entry(key(name)).or_default().push(MxRecord {
            preference,
            exchange: key(exchange),
        });
        self
    }
    /// Adds a PTR record.
    pub fn ptr(mut self, ip: IpAddr, name: &str) -> Self {
        self.ptr.entry(ip).or_default().push(key(name));
        self
    }
    /// Makes every lookup of `name` fail temporarily.
    pub fn fail(mut self, name: &str) -> Self {
        self.failing.push(key(name));
        self
    }

    fn exists(&self, k: &str) -> bool {
        self.txt.contains_key(k)
            || self.a.contains_key(k)
            || self.aaaa.contains_key(k)
            || self.mx.contains_key(k)
    }

    fn answer<T: Clone>(
        &self,
        map: &HashMap<String, Vec<T>>,
        name: &str,
    ) -> Result<Vec<T>, DnsError> {
        let k = key(name);
        if self.failing.contains(&k) {
            return Err(DnsError::Temporary(format!("{k}: server failure")));
        }
        match map.get(&k) {
            Some(records) if !records.is_empty() => Ok(records.clone()),
            _ if self.exists(&k) => Err(DnsError::NoRecords),
            _ => Err(DnsError::NxDomain),
        }
    }
}

impl Resolver for MemoryResolver {
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        self.answer(&self.txt, name)
    }
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
        self.answer(&self.a, name)
    }
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
        self.answer(&self.aaaa, name)
    }
    fn mx(&self, name: &str) -> Result<Vec<MxRecord>, DnsError> {
        self.answer(&self.mx, name)
    }
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        match self.ptr.get(&ip) {
            Some(names) => Ok(names.clone()),
            None => Err(DnsError::NxDomain),
        }
    }
}
