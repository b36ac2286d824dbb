//! SPF against RFC 7208 Appendix A (the example.com zone and its records), the macro
//! examples of §7.4, and the limits of §4.6.4 as the public SPF test suite exercises them.

use std::net::IpAddr;

use mailwire_auth::spf::{check_mail_from, SpfQuery, SpfResult};
use mailwire_auth::MemoryResolver;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// RFC 7208 Appendix A's zone, with `record` as example.com's SPF record.
fn appendix_a(record: &str) -> MemoryResolver {
    let mut dns = MemoryResolver::new()
        .txt("example.com", record)
        .ip("example.com", ip("192.0.2.10"))
        .ip("example.com", ip("192.0.2.11"))
        .ip("amy.example.com", ip("192.0.2.65"))
        .ip("bob.example.com", ip("192.0.2.66"))
        .ip("mail-a.example.com", ip("192.0.2.129"))
        .ip("mail-b.example.com", ip("192.0.2.130"))
        .ip("www.example.com", ip("192.0.2.10"))
        .ip("www.example.com", ip("192.0.2.11"))
        .ip("mail-c.example.org", ip("192.0.2.140"))
        .mx("example.com", 10, "mail-a.example.com")
        .mx("example.com", 20, "mail-b.example.com")
        .mx("example.org", 10, "mail-c.example.org");
    for (addr, name) in [
        ("192.0.2.10", "example.com"),
        ("192.0.2.11", "example.com"),
        ("192.0.2.65", "amy.example.com"),
        ("192.0.2.66", "bob.example.com"),
        ("192.0.2.129", "mail-a.example.com"),
        ("192.0.2.130", "mail-b.example.com"),
        ("192.0.2.140", "mail-c.example.org"),
    ] {
        dns = dns.ptr(ip(addr), name);
    }
    dns
}

fn check(dns: &MemoryResolver, client: &str, sender: &str) -> SpfResult {
    check_mail_from(
        dns,
        &SpfQuery {
            ip: ip(client),
            helo: "mx.example.net",
            sender,
        },
    )
    .result
}

#[test]
fn rfc7208_appendix_a1_simple_examples() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        // record, clients that pass, clients that fail
        ("v=spf1 +all", &["192.0.2.10", "198.51.100.1"], &[]),
        (
            "v=spf1 a -all",
            &["192.0.2.10", "192.0.2.11"],
            &["192.0.2.65", "192.0.2.129"],
        ),
        (
            "v=spf1 a:example.org -all",
            &[],
            &["192.0.2.10", "192.0.2.140"],
        ),
        (
            "v=spf1 mx -all",
            &["192.0.2.129", "192.0.2.130"],
            &["192.0.2.10", "192.0.2.140"],
        ),
        (
            "v=spf1 mx:example.org -all",
            &["192.0.2.140"],
            &["192.0.2.129"],
        ),
        (
            "v=spf1 mx mx:example.org -all",
            &["192.0.2.129", "192.0.2.130", "192.0.2.140"],
            &["192.0.2.10"],
        ),
        (
            "v=spf1 mx/30 mx:example.org/30 -all",
            &["192.0.2.131", "192.0.2.143"],
            &["192.0.2.127", "192.0.2.144"],
        ),
        (
            "v=spf1 ptr -all",
            &["192.0.2.10", "192.0.2.65", "192.0.2.130"],
            &["192.0.2.140"],
        ),
        (
            "v=spf1 ip4:192.0.2.128/28 -all",
            &["192.0.2.128", "192.0.2.143"],
            &["192.0.2.127", "192.0.2.144"],
        ),
    ];
    for (record, pass, fail) in cases {
        let dns = appendix_a(record);
        for client in *pass {
            assert_eq!(
                check(&dns, client, "joe@example.com"),
                SpfResult::Pass,
                "{record} {client}"
            );
        }
        for client in *fail {
            assert_eq!(
                check(&dns, client, "joe@example.com"),
                SpfResult::Fail,
                "{record} {client}"
            );
        }
    }
}

#[test]
fn rfc7208_appendix_a2_multiple_domains_and_redirect() {
    let dns = appendix_a("v=spf1 mx -all")
        .txt(
            "example.org",
            "v=spf1 include:example.com include:example.net -all",
        )
        .txt("example.net", "v=spf1 ip4:198.51.100.0/24 ~all")
        .txt("la.example.org", "v=spf1 redirect=example.org");
    assert_eq!(check(&dns, "192.0.2.129", "a@example.org"), SpfResult::Pass);
    assert_eq!(
        check(&dns, "198.51.100.7", "a@example.org"),
        SpfResult::Pass
    );
    assert_eq!(check(&dns, "203.0.113.1", "a@example.org"), SpfResult::Fail);
    assert_eq!(
        check(&dns, "198.51.100.7", "a@la.example.org"),
        SpfResult::Pass
    );
    assert_eq!(
        check(&dns, "203.0.113.1", "a@la.example.org"),
        SpfResult::Fail
    );
}

#[test]
fn rfc7208_section_7_4_macro_examples() {
    // Each expansion is checked with an exists: mechanism whose name only resolves if the
    // expansion is exactly right.
    let cases = [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}.x", "strong-bad.x"),
        ("%{l-}.x", "strong.bad.x"),
        ("%{lr-}.x", "bad.strong.x"),
        ("%{l1r-}.x", "strong.x"),
        (
            "%{ir}.%{v}._spf.%{d2}",
            "3.2.0.192.in-addr._spf.example.com",
        ),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        (
            "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
            "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
        ),
        (
            "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
            "3.2.0.192.in-addr.strong.lp._spf.example.com",
        ),
        (
            "%{d2}.trusted-domains.example.net",
            "example.com.trusted-domains.example.net",
        ),
    ];
    for (macro_, expanded) in cases {
        let dns = MemoryResolver::new()
            .txt("email.example.com", &format!("v=spf1 exists:{macro_} -all"))
            .ip(expanded, ip("127.0.0.2"));
        assert_eq!(
            check(&dns, "192.0.2.3", "strong-bad@email.example.com"),
            SpfResult::Pass,
            "{macro_}"
        );
    }
    let v6 = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com";
    let dns = MemoryResolver::new()
        .txt(
            "email.example.com",
            "v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all",
        )
        .ip(v6, ip("127.0.0.2"));
    assert_eq!(
        check(&dns, "2001:db8::cb01", "strong-bad@email.example.com"),
        SpfResult::Pass
    );
}

#[test]
fn lookup_limits_void_limits_and_errors() {
    // Eleven chained includes: the eleventh DNS-querying term is a permerror.
    let mut dns = MemoryResolver::new();
    for i in 0..11 {
        dns = dns.txt(
            &format!("d{i}.example"),
            &format!("v=spf1 include:d{}.example -all", i + 1),
        );
    }
    dns = dns.txt("d11.example", "v=spf1 +all");
    assert_eq!(
        check(&dns, "192.0.2.1", "a@d0.example"),
        SpfResult::PermError
    );
    // Ten are fine.
    assert_eq!(check(&dns, "192.0.2.1", "a@d1.example"), SpfResult::Pass);
    // Three lookups that find nothing: the third exceeds the void limit of two.
    let dns = MemoryResolver::new().txt(
        "v.example",
        "v=spf1 a:n1.v.example a:n2.v.example a:n3.v.example +all",
    );
    assert_eq!(
        check(&dns, "192.0.2.1", "a@v.example"),
        SpfResult::PermError
    );
    let dns = MemoryResolver::new().txt("v.example", "v=spf1 a:n1.v.example a:n2.v.example +all");
    assert_eq!(check(&dns, "192.0.2.1", "a@v.example"), SpfResult::Pass);
    // Two SPF records, a broken record, a redirect to nowhere, an include of nothing.
    let dns = MemoryResolver::new()
        .txt("two.example", "v=spf1 -all")
        .txt("two.example", "v=spf1 +all")
        .txt("bad.example", "v=spf1 ip4:1.2.3.4/40 -all")
        .txt("redir.example", "v=spf1 redirect=nothing.example")
        .txt("inc.example", "v=spf1 include:nothing.example -all")
        .txt("other.example", "some unrelated text")
        .txt("tmp.example", "v=spf1 a:fails.example -all")
        .fail("down.example")
        .fail("fails.example");
    for (sender, want) in [
        ("two.example", SpfResult::PermError),
        ("bad.example", SpfResult::PermError),
        ("redir.example", SpfResult::PermError),
        ("inc.example", SpfResult::PermError),
        ("other.example", SpfResult::None),
        ("nowhere.example", SpfResult::None),
        ("down.example", SpfResult::TempError),
        ("tmp.example", SpfResult::TempError),
    ] {
        assert_eq!(
            check(&dns, "192.0.2.1", &format!("x@{sender}")),
            want,
            "{sender}"
        );
    }
    // The null reverse-path checks postmaster@HELO; IPv4-mapped IPv6 is IPv4; softfail, neutral.
    let dns = MemoryResolver::new()
        .txt("mx.example.net", "v=spf1 ip4:192.0.2.0/24 ?all")
        .txt("soft.example", "v=spf1 ~all");
    assert_eq!(check(&dns, "192.0.2.9", ""), SpfResult::Pass);
    assert_eq!(check(&dns, "::ffff:192.0.2.9", ""), SpfResult::Pass);
    assert_eq!(check(&dns, "198.51.100.9", ""), SpfResult::Neutral);
    assert_eq!(
        check(&dns, "198.51.100.9", "a@soft.example"),
        SpfResult::SoftFail
    );
}
