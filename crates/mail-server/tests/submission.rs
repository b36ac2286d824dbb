//! Submission (587 STARTTLS, 465 implicit TLS): TLS and AUTH required, the
//! sender must be the user's, accepted mail lands in the spool signed.

mod support;

use mail_spool::Spool;
use mailwire_auth::dkim::{DkimResult, DkimVerifier, SigningKey};
use mailwire_auth::MemoryResolver;
use support::*;

#[test]
fn submission_requires_tls_then_auth() {
    let h = start(Options {
        submission: true,
        ..Options::default()
    });
    let mut c = Raw::connect(h.submission());
    let ehlo = c.cmd("EHLO client.test");
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    // No password in the clear: AUTH is not offered before TLS.
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    let r = c.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wdw==");
    assert!(r.starts_with('5'), "{r}");
    let r = c.cmd(&format!("MAIL FROM:<alice@{DOMAIN}>"));
    assert!(r.starts_with("530"), "{r}");
    // After STARTTLS but without AUTH, MAIL is still refused (smtplib).
    let port = h.submission().port();
    let out = python(&format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context(cafile="{ca}")
s = smtplib.SMTP("127.0.0.1", {port}, timeout=20)
s.starttls(context=ctx)
s.ehlo("client.test")
print("auth offered", s.has_extn("auth"), s.esmtp_features.get("auth"))
code, msg = s.mail("alice@{DOMAIN}")
print("mail", code, msg.decode())
s.rset()
try:
    s.login("alice@{DOMAIN}", "wrong")
except smtplib.SMTPAuthenticationError as e:
    print("bad password", e.smtp_code)
s.quit()
"#,
        ca = h.ca.display()
    ));
    assert!(
        out.contains("auth offered True") && out.contains("PLAIN LOGIN"),
        "{out}"
    );
    assert!(out.contains("mail 530"), "{out}");
    assert!(out.contains("bad password 535"), "{out}");
    assert_eq!(h.spooled(), 0);
}

#[test]
fn a_sender_the_user_does_not_own_is_refused_with_553() {
    let h = start(Options {
        submission: true,
        ..Options::default()
    });
    let t = swaks(&[
        "--server",
        &h.submission().to_string(),
        "-tls",
        "-a",
        "LOGIN",
        "-au",
        &format!("alice@{DOMAIN}"),
        "-ap",
        "alice-pw",
        "--from",
        &format!("bob@{DOMAIN}"),
        "--to",
        "x@elsewhere.test",
    ]);
    assert!(t.contains("<~* 553 5.7.1"), "{t}");
    // An alias of hers is hers (sales@ → alice@), on port 465 too.
    let t = swaks(&[
        "--server",
        &h.submissions().to_string(),
        "--tlsc",
        "-a",
        "PLAIN",
        "-au",
        &format!("alice@{DOMAIN}"),
        "-ap",
        "alice-pw",
        "--from",
        &format!("sales@{DOMAIN}"),
        "--to",
        "x@elsewhere.test",
    ]);
    assert!(t.contains("250 2.0.0 Ok: queued as"), "{t}");
    assert_eq!(h.spooled(), 1);
}

#[test]
fn submitted_mail_is_spooled_signed_and_delivered_locally() {
    let key = SigningKey::ed25519_from_seed(&[7; 32]);
    let h = start(Options {
        submission: true,
        dkim_pem: Some(key.to_pem().unwrap()),
        ..Options::default()
    });
    let port = h.submissions().port();
    let out = python(&format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context(cafile="{ca}")
s = smtplib.SMTP_SSL("127.0.0.1", {port}, timeout=20, context=ctx)
s.login("alice@{DOMAIN}", "alice-pw")
for i in range(3):
    msg = "From: Alice <alice@{DOMAIN}>\r\nTo: a@remote.test\r\nSubject: n%d\r\n\r\nbody %d\r\n" % (i, i)
    print(s.sendmail("alice@{DOMAIN}", ["a@remote.test", "bob@{DOMAIN}"], msg))
s.quit()
"#,
        ca = h.ca.display()
    ));
    assert_eq!(out.matches("{}").count(), 3, "{out}");
    // Three messages in the spool, each for the remote recipient only.
    assert_eq!(h.spooled(), 3);
    let listed = h.spool.list(None, 10).unwrap();
    let detail = h.spool.show(listed[0].id).unwrap();
    let rcpts: Vec<_> = detail
        .recipients
        .iter()
        .map(|r| r.address.clone())
        .collect();
    assert_eq!(rcpts, ["a@remote.test"]);
    // The local recipient has them already.
    assert_eq!(h.store.messages(&format!("bob@{DOMAIN}"), "INBOX").len(), 3);
    // Each spooled body carries a signature that verifies with the
    // published key.
    let resolver = MemoryResolver::new().txt(
        &format!("sel._domainkey.{DOMAIN}"),
        &key.dns_record().unwrap(),
    );
    for m in &listed {
        let body = h.spool.body(m.id).unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("DKIM-Signature:"), "{text}");
        let mut verifier = DkimVerifier::new();
        verifier.feed(&body).unwrap();
        let outcomes = verifier
            .finish()
            .check(&resolver, 1_800_000_000 - 1_000_000);
        assert!(
            outcomes.iter().any(|o| o.result == DkimResult::Pass),
            "{outcomes:?}\n{text}"
        );
    }
}
