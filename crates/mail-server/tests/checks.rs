//! SPF, DKIM and DMARC on port 25: the results on top of what is stored,
//! and DMARC's policy applied.

mod support;

use mailwire_auth::MemoryResolver;
use support::*;

fn resolver() -> MemoryResolver {
    MemoryResolver::new()
        .txt("good.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.good.test", "v=DMARC1; p=reject")
        .txt("strict.test", "v=spf1 ip4:192.0.2.1 -all")
        .txt("_dmarc.strict.test", "v=DMARC1; p=reject")
        .txt("careful.test", "v=spf1 ip4:192.0.2.1 -all")
        .txt("_dmarc.careful.test", "v=DMARC1; p=quarantine")
}

#[test]
fn authentication_results_are_added_and_dmarc_is_applied() {
    let h = start(Options {
        checks: Some(resolver()),
        ..Options::default()
    });
    let alice = format!("alice@{DOMAIN}");
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let r = c.send(
        "s@good.test",
        &[&alice],
        &message("s@good.test", "good", ""),
    );
    assert!(r.starts_with("250"), "{r}");
    let inbox = h.store.messages(&alice, "INBOX");
    assert_eq!(inbox.len(), 1);
    let ar = inbox[0]
        .lines()
        .skip_while(|l| !l.starts_with("Authentication-Results:"))
        .take_while(|l| !l.starts_with("Received") && !l.starts_with("X-Test"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        ar.starts_with(&format!("Authentication-Results: mx.{DOMAIN}")),
        "{}",
        inbox[0]
    );
    assert!(ar.contains("spf=pass"), "{ar}");
    assert!(ar.contains("dmarc=pass"), "{ar}");
    // p=reject and failing: refused, nothing stored.
    let r = c.send(
        "s@strict.test",
        &[&alice],
        &message("s@strict.test", "forged", ""),
    );
    assert!(r.starts_with("550 5.7.26"), "{r}");
    // p=quarantine and failing: into Junk.
    let r = c.send(
        "s@careful.test",
        &[&alice],
        &message("s@careful.test", "doubtful", ""),
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(h.store.messages(&alice, "INBOX").len(), 1);
    let junk = h.store.messages(&alice, "Junk");
    assert_eq!(junk.len(), 1);
    assert!(junk[0].contains("dmarc=fail"), "{}", junk[0]);
}

#[test]
fn an_authenticated_client_is_not_checked_as_a_stranger() {
    let h = start(Options {
        checks: Some(resolver()),
        ..Options::default()
    });
    let port = h.smtp().port();
    // alice's own domain has no SPF; she sends to bob after AUTH.
    python(&format!(
        r#"
import smtplib, ssl
s = smtplib.SMTP("127.0.0.1", {port}, timeout=20)
s.starttls(context=ssl.create_default_context(cafile="{ca}"))
s.login("alice@{DOMAIN}", "alice-pw")
s.sendmail("alice@{DOMAIN}", ["bob@{DOMAIN}"], b"From: alice@{DOMAIN}\r\nSubject: hi\r\n\r\nx\r\n")
s.quit()
"#,
        ca = h.ca.display()
    ));
    let inbox = h.store.messages(&format!("bob@{DOMAIN}"), "INBOX");
    assert_eq!(inbox.len(), 1);
    assert!(
        !inbox[0].contains("Authentication-Results:"),
        "{}",
        inbox[0]
    );
    assert!(inbox[0].contains("(authenticated)"), "{}", inbox[0]);
}
