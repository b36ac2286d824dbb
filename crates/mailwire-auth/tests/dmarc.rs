//! DMARC against RFC 7489's examples: discovery (From domain, then organizational domain),
//! alignment (relaxed and strict), policy and subdomain policy, pct sampling; and the
//! Authentication-Results field that reports it all.

use std::net::IpAddr;

use mailwire_auth::auth_results::AuthResults;
use mailwire_auth::dkim::{DkimOutcome, DkimResult};
use mailwire_auth::dmarc::{evaluate, DmarcResult, Policy};
use mailwire_auth::spf::{SpfOutcome, SpfResult};
use mailwire_auth::MemoryResolver;

fn spf(result: SpfResult, domain: &str) -> SpfOutcome {
    SpfOutcome {
        result,
        domain: domain.into(),
        lookups: 1,
        reason: "test".into(),
    }
}

fn dkim(result: DkimResult, domain: &str) -> DkimOutcome {
    DkimOutcome {
        result,
        domain: Some(domain.into()),
        selector: Some("s".into()),
        identity: Some(format!("@{domain}")),
        algorithm: None,
        signature_prefix: "abcdEFGH".into(),
        testing: false,
    }
}

fn dns() -> MemoryResolver {
    MemoryResolver::new()
        .txt(
            "_dmarc.example.com",
            "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:d@example.com",
        )
        .txt(
            "_dmarc.strict.example",
            "v=DMARC1; p=quarantine; adkim=s; aspf=s",
        )
        .txt("_dmarc.two.example", "v=DMARC1; p=none")
        .txt("_dmarc.two.example", "v=DMARC1; p=reject")
        .txt("_dmarc.bad.example", "v=DMARC1; p=maybe")
        .fail("_dmarc.down.example")
}

#[test]
fn alignment_relaxed_and_strict() {
    let dns = dns();
    // Relaxed: a subdomain's SPF or DKIM aligns with the organizational domain.
    let o = evaluate(
        &dns,
        "example.com",
        &spf(SpfResult::Pass, "bounce.example.com"),
        &[],
        0,
    );
    assert_eq!(
        (o.result, o.spf_aligned, o.disposition),
        (DmarcResult::Pass, true, Policy::None)
    );
    let o = evaluate(
        &dns,
        "example.com",
        &spf(SpfResult::Fail, "example.com"),
        &[dkim(DkimResult::Pass, "mail.example.com")],
        0,
    );
    assert_eq!((o.result, o.dkim_aligned), (DmarcResult::Pass, true));
    // A pass for another domain does not align.
    let o = evaluate(
        &dns,
        "example.com",
        &spf(SpfResult::Pass, "example.org"),
        &[dkim(DkimResult::Pass, "example.org")],
        0,
    );
    assert_eq!(
        (o.result, o.disposition),
        (DmarcResult::Fail, Policy::Reject)
    );
    // Strict: only the exact domain aligns.
    let o = evaluate(
        &dns,
        "strict.example",
        &spf(SpfResult::Pass, "a.strict.example"),
        &[dkim(DkimResult::Pass, "a.strict.example")],
        0,
    );
    assert_eq!(
        (o.result, o.disposition),
        (DmarcResult::Fail, Policy::Quarantine)
    );
    let o = evaluate(
        &dns,
        "strict.example",
        &spf(SpfResult::Pass, "strict.example"),
        &[],
        0,
    );
    assert_eq!(o.result, DmarcResult::Pass);
}

#[test]
fn subdomain_policy_pct_and_errors() {
    let dns = dns();
    let failing = spf(SpfResult::Fail, "example.org");
    // A From subdomain without its own record takes sp= from the organizational domain.
    let o = evaluate(&dns, "news.example.com", &failing, &[], 0);
    assert_eq!(
        (o.requested, o.disposition),
        (Some(Policy::Quarantine), Policy::Quarantine)
    );
    // pct=50: a message sampled outside the 50 % gets the next weaker policy.
    assert_eq!(
        evaluate(&dns, "example.com", &failing, &[], 49).disposition,
        Policy::Reject
    );
    assert_eq!(
        evaluate(&dns, "example.com", &failing, &[], 50).disposition,
        Policy::Quarantine
    );
    assert_eq!(
        evaluate(&dns, "none.example", &failing, &[], 0).result,
        DmarcResult::None
    );
    assert_eq!(
        evaluate(&dns, "two.example", &failing, &[], 0).result,
        DmarcResult::PermError
    );
    assert_eq!(
        evaluate(&dns, "bad.example", &failing, &[], 0).result,
        DmarcResult::PermError
    );
    assert_eq!(
        evaluate(&dns, "down.example", &failing, &[], 0).result,
        DmarcResult::TempError
    );
}

#[test]
fn authentication_results_field() {
    let dns = dns();
    let spf_outcome = mailwire_auth::spf::check_mail_from(
        &MemoryResolver::new().txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all"),
        &mailwire_auth::spf::SpfQuery {
            ip: "192.0.2.5".parse::<IpAddr>().unwrap(),
            helo: "mx.example.com",
            sender: "a@example.com",
        },
    );
    let dkim_outcomes = vec![dkim(
        DkimResult::Fail("body hash did not verify".into()),
        "example.com",
    )];
    let dmarc = evaluate(&dns, "example.com", &spf_outcome, &dkim_outcomes, 0);
    let results = AuthResults {
        spf: Some(spf_outcome),
        dkim: dkim_outcomes,
        dkim_checked: true,
        dmarc: Some(dmarc),
        arc: Some(mailwire_auth::arc::ArcResult::None),
    };
    let field = results.to_header("mx.example.net");
    assert_eq!(
        field,
        "Authentication-Results: mx.example.net;\r\n\
         \tspf=pass (example.com matched ip4:192.0.2.0/24) smtp.mailfrom=example.com;\r\n\
         \tdkim=fail (body hash did not verify) header.d=example.com header.s=s header.b=abcdEFGH;\r\n\
         \tarc=none;\r\n\
         \tdmarc=pass (p=reject dis=none) header.from=example.com\r\n"
    );
    let none = AuthResults {
        dkim_checked: true,
        ..AuthResults::default()
    }
    .to_header("mx\r\nInjected: x");
    assert_eq!(
        none,
        "Authentication-Results: mxInjected: x;\r\n\tdkim=none\r\n"
    );
}
