//! The resolver against a real DNS server (dnsmasq) with known records.

use mail_dns::testing::{Dnsmasq, Records};
use mail_dns::{DnsError, Mx};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn server() -> Dnsmasq {
    Dnsmasq::start(
        Records::new()
            .mx("example.test", "mx2.example.test", 20)
            .mx("example.test", "MX1.example.test", 10)
            .a("mx1.example.test", Ipv4Addr::new(127, 0, 0, 2))
            .aaaa("mx1.example.test", Ipv6Addr::LOCALHOST)
            .a("mx2.example.test", Ipv4Addr::new(127, 0, 0, 3))
            .null_mx("nomail.test")
            .txt("example.test", "v=spf1 ip4:127.0.0.0/8 -all")
            .txt("example.test", "other \"quoted\" text, with a comma")
            .txt("long.example.test", &"k".repeat(600))
            .ptr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), "mx1.example.test")
            .cname("alias.example.test", "mx2.example.test"),
    )
    .expect("dnsmasq")
}

#[test]
fn mx_records_come_most_preferred_first_in_lower_case() {
    let dns = server();
    let resolver = dns.resolver().unwrap();
    let mx = resolver.mx("example.test").wait().unwrap();
    assert_eq!(
        mx,
        vec![
            Mx {
                preference: 10,
                exchange: "mx1.example.test".into()
            },
            Mx {
                preference: 20,
                exchange: "mx2.example.test".into()
            },
        ]
    );
    // A trailing dot means the same name.
    assert_eq!(resolver.mx("example.test.").wait().unwrap(), mx);
}

#[test]
fn null_mx_nxdomain_and_nodata_are_told_apart() {
    let dns = server();
    let resolver = dns.resolver().unwrap();
    let null = resolver.mx("nomail.test").wait().unwrap();
    assert!(null.len() == 1 && null[0].is_null(), "{null:?}");

    let err = resolver.mx("missing.test").wait().unwrap_err();
    assert!(matches!(err, DnsError::NoSuchName { .. }), "{err}");
    assert!(err.is_negative() && !err.is_temporary());

    // mx2 exists (an A record) but has no MX: NODATA, the implicit-MX case.
    let err = resolver.mx("mx2.example.test").wait().unwrap_err();
    assert!(
        matches!(err, DnsError::NoRecords { kind: "MX", .. }),
        "{err}"
    );
}

#[test]
fn addresses_of_both_families() {
    let dns = server();
    let resolver = dns.resolver().unwrap();
    let ips = resolver.ips("mx1.example.test").wait().unwrap();
    assert_eq!(
        ips,
        vec![
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        ]
    );
    assert_eq!(
        resolver.ipv6("mx2.example.test").wait().unwrap_err(),
        DnsError::NoRecords {
            name: "mx2.example.test".into(),
            kind: "AAAA"
        }
    );
    // A CNAME is followed.
    assert_eq!(
        resolver.ipv4("alias.example.test").wait().unwrap(),
        vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))]
    );
}

#[test]
fn txt_records_are_joined_and_kept_apart() {
    let dns = server();
    let resolver = dns.resolver().unwrap();
    let mut txt = resolver.txt("example.test").wait().unwrap();
    txt.sort();
    assert_eq!(
        txt,
        vec![
            "other \"quoted\" text, with a comma",
            "v=spf1 ip4:127.0.0.0/8 -all"
        ]
    );
    // 600 octets travel as three strings of one record and are joined.
    assert_eq!(
        resolver.txt("long.example.test").wait().unwrap(),
        vec!["k".repeat(600)]
    );
}

#[test]
fn reverse_lookup() {
    let dns = server();
    let resolver = dns.resolver().unwrap();
    let names = resolver
        .ptr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
        .wait()
        .unwrap();
    assert_eq!(names, vec!["mx1.example.test"]);
}

#[test]
fn lookups_are_awaited_on_another_runtime() {
    let dns = server();
    let resolver = dns.resolver().unwrap();
    // smol's executor, not tokio: the lookup's future does not care.
    let mx = smol::block_on(async { resolver.mx("example.test").await }).unwrap();
    assert_eq!(mx[0].exchange, "mx1.example.test");
}

#[test]
fn answers_are_cached_for_their_ttl() {
    let dns = Dnsmasq::start(
        Records::new()
            .ttl(300)
            .a("cached.test", Ipv4Addr::new(127, 0, 0, 9)),
    )
    .unwrap();
    let resolver = dns.resolver().unwrap();
    assert_eq!(resolver.ipv4("cached.test").wait().unwrap().len(), 1);
    drop(dns); // The server is gone; the cached answer is still good.
    assert_eq!(
        resolver.ipv4("cached.test").wait().unwrap(),
        vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9))]
    );
}

#[test]
fn a_server_that_went_away_is_a_temporary_failure_not_a_hang() {
    let dns = Dnsmasq::start(Records::new()).unwrap();
    let resolver = dns.resolver().unwrap();
    drop(dns);
    let started = std::time::Instant::now();
    let err = resolver.mx("example.test").wait().unwrap_err();
    assert!(err.is_temporary(), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
}
