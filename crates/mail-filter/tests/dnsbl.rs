//! DNSBL lookups against a real DNS server (dnsmasq, with each test's own
//! records; tests/setup/25-dnsmasq.sh installs it).

mod common;

use common::{info, TempDir};
use mail_dns::testing::{Dnsmasq, Records};
use mail_dns::{DnsConfig, Resolver};
use mail_filter::dnsbl::{Dnsbl, DnsblConfig};
use mail_filter::{Filter, Verdict};
use std::net::{IpAddr, Ipv6Addr, UdpSocket};
use std::time::{Duration, Instant};

fn config(zones: &[&str]) -> DnsblConfig {
    DnsblConfig {
        enabled: true,
        zones: zones.iter().map(|z| z.to_string()).collect(),
    }
}

#[test]
fn a_listed_client_is_rejected_with_the_zones_reason() {
    let v6: Ipv6Addr = "2001:db8::25".parse().unwrap();
    let v6_name = mail_filter::dnsbl::query_name(v6.into(), "bl.test");
    let dns = Dnsmasq::start(
        Records::new()
            .a("2.2.0.192.bl.test", [127, 0, 0, 2].into())
            .txt(
                "2.2.0.192.bl.test",
                "listed for testing, see https://bl.test/q?192.0.2.2",
            )
            .a("3.2.0.192.bl.test", [127, 0, 0, 4].into())
            .a("4.2.0.192.bl.test", [127, 255, 255, 254].into())
            .a("5.2.0.192.other.test", [127, 0, 0, 10].into())
            .a(&v6_name, [127, 0, 0, 3].into()),
    )
    .unwrap();
    let dnsbl = Dnsbl::new(
        &config(&["bl.test", "other.test."]),
        dns.resolver().unwrap(),
    )
    .unwrap();

    let listing = dnsbl.check([192, 0, 2, 2].into()).unwrap();
    assert_eq!(listing.zone, "bl.test");
    assert_eq!(listing.codes, vec![std::net::Ipv4Addr::new(127, 0, 0, 2)]);
    assert_eq!(
        listing.verdict(),
        Verdict::Reject {
            code: 554,
            status: (5, 7, 1),
            text: "client 192.0.2.2 is listed in bl.test: listed for testing, see https://bl.test/q?192.0.2.2".into()
        }
    );
    // Listed without a TXT reason.
    let listing = dnsbl.check([192, 0, 2, 3].into()).unwrap();
    assert_eq!(listing.reason, None);
    assert_eq!(
        listing.verdict(),
        Verdict::reject("client 192.0.2.3 is listed in bl.test")
    );
    // An answer outside 127.0.0.0/24 (a refused query) is not a listing.
    assert_eq!(dnsbl.check([192, 0, 2, 4].into()), None);
    // The second zone is asked too.
    assert_eq!(
        dnsbl.check([192, 0, 2, 5].into()).unwrap().zone,
        "other.test"
    );
    // Not listed anywhere (NXDOMAIN).
    assert_eq!(dnsbl.check([192, 0, 2, 6].into()), None);
    // IPv6 by nibbles, and the Filter form at the end of DATA.
    assert!(dnsbl.check(IpAddr::V6(v6)).is_some());
    let dir = TempDir::new("dnsbl");
    let path = dir.message("m.eml", b"Subject: x\r\n\r\nx\r\n");
    let mut message_info = info(17);
    message_info.client_ip = [192, 0, 2, 2].into();
    assert_eq!(
        Filter::check(&dnsbl, &message_info, &path).unwrap().name(),
        "reject"
    );
    message_info.client_ip = [192, 0, 2, 9].into();
    assert_eq!(
        Filter::check(&dnsbl, &message_info, &path).unwrap(),
        Verdict::accept()
    );
}

#[test]
fn a_dns_failure_counts_as_not_listed() {
    // A UDP port that never answers: every lookup times out.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = Resolver::new(
        DnsConfig::server(silent.local_addr().unwrap()).with_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    let dnsbl = Dnsbl::new(&config(&["bl.test"]), resolver).unwrap();
    let started = Instant::now();
    assert_eq!(dnsbl.check([192, 0, 2, 2].into()), None);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn bad_zones_are_refused() {
    let resolver = Resolver::new(DnsConfig::server("127.0.0.1:9".parse().unwrap())).unwrap();
    assert!(Dnsbl::new(&config(&["bad zone"]), resolver.clone()).is_err());
    assert!(Dnsbl::new(&config(&[""]), resolver).is_err());
}
