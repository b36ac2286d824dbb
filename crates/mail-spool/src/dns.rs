//! Direct delivery's DNS questions answered by the project's resolver
//! (mail-dns over hickory-resolver), whose server is configurable.

use crate::route::{Lookup, MxResolver};
use mail_dns::{DnsError, Resolver};
use std::net::IpAddr;

fn answer<T>(result: Result<T, DnsError>) -> Lookup<T> {
    match result {
        Ok(found) => Lookup::Found(found),
        Err(DnsError::NoRecords { .. }) => Lookup::NoRecords,
        Err(DnsError::NoSuchName { .. } | DnsError::InvalidName { .. }) => Lookup::NoDomain,
        Err(e) => Lookup::Temporary(e.to_string()),
    }
}

impl MxResolver for Resolver {
    fn mx(&self, domain: &str) -> Lookup<Vec<(u16, String)>> {
        answer(Resolver::mx(self, domain).wait().map(|records| {
            records
                .into_iter()
                // mail-dns gives a null MX as the empty exchange.
                .map(|mx| {
                    (
                        mx.preference,
                        if mx.is_null() {
                            ".".into()
                        } else {
                            mx.exchange
                        },
                    )
                })
                .collect()
        }))
    }

    fn addresses(&self, host: &str) -> Lookup<Vec<IpAddr>> {
        answer(self.ips(host).wait())
    }
}
