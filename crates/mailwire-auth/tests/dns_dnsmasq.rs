//! SPF, DKIM and DMARC resolved through a real DNS server (dnsmasq on a loopback port, with
//! this test's records) by the workspace's DNS client. Needs dnsmasq: run through
//! `tests/run-all.sh` (tests/setup/25-dnsmasq.sh).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use mail_dns::testing::{Dnsmasq, Records};
use mailwire_auth::dkim::{DkimResult, DkimSigner, DkimVerifier, SigningKey};
use mailwire_auth::dmarc::{evaluate, DmarcResult};
use mailwire_auth::spf::{check_mail_from, SpfQuery, SpfResult};

const RSA_PEM: &str = include_str!("data/rsa1024.pem");

fn dnsmasq(records: Records) -> Dnsmasq {
    Dnsmasq::start(records).unwrap_or_else(|e| {
        panic!("dnsmasq could not start ({e}); run through tests/run-all.sh, which installs dnsmasq-base")
    })
}

#[test]
fn a_signed_message_passes_spf_dkim_and_dmarc_over_real_dns() {
    let rsa = SigningKey::from_pem(RSA_PEM).unwrap();
    let ed = SigningKey::ed25519_from_seed(&[8; 32]);
    let server = dnsmasq(
        Records::new()
            .txt("example.com", "v=spf1 mx ip4:192.0.2.0/24 -all")
            .mx("example.com", "mx.example.com", 10)
            .a("mx.example.com", "198.51.100.25".parse().unwrap())
            .txt("rsa._domainkey.example.com", &rsa.dns_record().unwrap())
            .txt("ed._domainkey.example.com", &ed.dns_record().unwrap())
            .txt(
                "_dmarc.example.com",
                "v=DMARC1; p=reject; rua=mailto:dmarc@example.com",
            ),
    );
    let dns = server.resolver().unwrap();
    let message = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nHello\r\n";
    let signers = [
        DkimSigner::new(rsa, "example.com", "rsa").unwrap(),
        DkimSigner::new(ed, "example.com", "ed").unwrap(),
    ];
    let fields: String = signers
        .iter()
        .map(|s| s.sign(message, 100).unwrap())
        .collect();
    let mut verifier = DkimVerifier::new();
    verifier.feed(fields.as_bytes()).unwrap();
    verifier.feed(message).unwrap();
    let dkim = verifier.finish().check(&dns, 200);
    assert_eq!(
        dkim.iter().map(|o| o.result.clone()).collect::<Vec<_>>(),
        vec![DkimResult::Pass, DkimResult::Pass]
    );

    let query = |ip: &str| SpfQuery {
        ip: ip.parse::<IpAddr>().unwrap(),
        helo: "client.example.net",
        sender: "a@example.com",
    };
    let spf_mx = check_mail_from(&dns, &query("198.51.100.25"));
    assert_eq!(
        (spf_mx.result, spf_mx.lookups),
        (SpfResult::Pass, 1),
        "{spf_mx:?}"
    );
    assert_eq!(
        check_mail_from(&dns, &query("192.0.2.200")).result,
        SpfResult::Pass
    );
    let spf_fail = check_mail_from(&dns, &query("203.0.113.9"));
    assert_eq!(spf_fail.result, SpfResult::Fail);

    assert_eq!(
        evaluate(&dns, "example.com", &spf_fail, &dkim, 0).result,
        DmarcResult::Pass
    );
    let failed = evaluate(&dns, "example.com", &spf_fail, &[], 0);
    assert_eq!(failed.result, DmarcResult::Fail);
    assert_eq!(failed.disposition, mailwire_auth::dmarc::Policy::Reject);
    assert_eq!(
        evaluate(&dns, "example.org", &spf_fail, &[], 0).result,
        DmarcResult::None
    );
}

#[test]
fn a_dead_server_gives_temperror_not_a_hang() {
    // A UDP port that nothing answers on.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = mail_dns::Resolver::new(
        mail_dns::DnsConfig::server(silent.local_addr().unwrap())
            .with_timeout(Duration::from_millis(500)),
    )
    .unwrap();
    let started = Instant::now();
    let spf = check_mail_from(
        &dns,
        &SpfQuery {
            ip: "192.0.2.1".parse().unwrap(),
            helo: "h.example",
            sender: "a@example.com",
        },
    );
    assert_eq!(spf.result, SpfResult::TempError, "{spf:?}");
    let signer =
        DkimSigner::new(SigningKey::ed25519_from_seed(&[1; 32]), "example.com", "s").unwrap();
    let message = b"From: a@example.com\r\n\r\nx\r\n";
    let mut v = DkimVerifier::new();
    v.feed(signer.sign(message, 1).unwrap().as_bytes()).unwrap();
    v.feed(message).unwrap();
    assert_eq!(v.finish().check(&dns, 1)[0].result.keyword(), "temperror");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}
