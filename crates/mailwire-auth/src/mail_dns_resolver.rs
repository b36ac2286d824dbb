//! [`Resolver`] for the workspace's DNS client, `mail_dns::Resolver`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::resolver::{DnsError, MxRecord, Resolver};

fn convert(e: mail_dns::DnsError) -> DnsError {
    if e.is_negative() {
        match e {
            mail_dns::DnsError::NoSuchName { .. } => DnsError::NxDomain,
            _ => DnsError::NoRecords,
        }
    } else if e.is_temporary() {
        DnsError::Temporary(e.to_string())
    } else {
        // A name that is not a valid domain name cannot exist.
        DnsError::NxDomain
    }
}

impl Resolver for mail_dns::Resolver {
    fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        mail_dns::Resolver::txt(self, name).wait().map_err(convert)
    }
    fn a(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
        let ips = self.ipv4(name).wait().map_err(convert)?;
        Ok(ips
            .into_iter()
            .filter_map(|ip| {
                if let IpAddr::V4(v4) = ip {
                    Some(v4)
                } else {
                    None
                }
            })
            .collect())
    }
    fn aaaa(&self, name: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
        let ips = self.ipv6(name).wait().map_err(convert)?;
        Ok(ips
            .into_iter()
            .filter_map(|ip| {
                if let IpAddr::V6(v6) = ip {
                    Some(v6)
                } else {
                    None
                }
            })
            .collect())
    }
    fn mx(&self, name: &str) -> Result<Vec<MxRecord>, DnsError> {
        let records = mail_dns::Resolver::mx(self, name).wait().map_err(convert)?;
        Ok(records
            .into_iter()
            .filter(|m| !m.is_null())
            .map(|m| MxRecord {
                preference: m.preference,
                exchange: m.exchange,
            })
            .collect())
    }
    fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        mail_dns::Resolver::ptr(self, ip).wait().map_err(convert)
    }
}
