//! Greylisting at RCPT TO with the real greylist (mail-filter's, SQLite):
//! each recipient's triplet is deferred with a 4yz reply before any content
//! is sent, passes once the delay is over, and authenticated clients are
//! never greylisted.

mod support;

use mail_server::Filters;
use support::*;

const GREYLIST: &str = "[greylist]\nenabled = true\ndelay_secs = 1\nretry_window_secs = 600\n";

fn greylisted() -> Harness<Filters> {
    start_with(Options::default(), GREYLIST, |config| {
        Filters::from_config(config, None).unwrap()
    })
}

#[test]
fn a_new_triplet_is_deferred_at_rcpt_and_no_data_is_taken() {
    let h = greylisted();
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    assert!(c.cmd("MAIL FROM:<x@remote.test>").starts_with("250"));
    let r = c.cmd(&format!("RCPT TO:<alice@{DOMAIN}>"));
    assert!(r.starts_with("451 4.7.1"), "{r}");
    assert!(r.contains("greylisted"), "{r}");
    // Unknown users are refused as always (and not remembered).
    let r = c.cmd(&format!("RCPT TO:<nobody@{DOMAIN}>"));
    assert!(r.starts_with("550 5.1.1"), "{r}");
    // No recipient was accepted: the content is never asked for.
    let r = c.cmd("DATA");
    assert!(r.starts_with("554 5.5.1"), "{r}");
    assert!(c.cmd("QUIT").starts_with("221"));
    assert!(h
        .store
        .messages(&format!("alice@{DOMAIN}"), "INBOX")
        .is_empty());
}

#[test]
fn after_the_delay_the_same_triplet_passes_and_another_recipient_is_deferred_on_its_own() {
    let h = greylisted();
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    assert!(c.cmd("MAIL FROM:<x@remote.test>").starts_with("250"));
    let r = c.cmd(&format!("RCPT TO:<alice@{DOMAIN}>"));
    assert!(r.starts_with("451 4.7.1"), "{r}");
    c.cmd("QUIT");
    // Whole seconds: past a one-second delay for sure.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    // A client we did not write retries, to alice and (new) bob.
    let port = h.smtp().port();
    let out = python(&format!(
        r#"
import smtplib
s = smtplib.SMTP("127.0.0.1", {port}, timeout=20)
s.ehlo("client.test")
refused = s.sendmail("x@remote.test", ["alice@{DOMAIN}", "bob@{DOMAIN}"],
    "From: x@remote.test\r\nSubject: retried\r\n\r\nhello\r\n")
for rcpt, (code, msg) in refused.items():
    print("refused", rcpt, code, msg.decode())
s.quit()
print("done")
"#
    ));
    assert!(out.contains("done"), "{out}");
    assert!(
        out.contains(&format!("refused bob@{DOMAIN} 451 4.7.1 greylisted")),
        "{out}"
    );
    assert!(!out.contains("refused alice"), "{out}");
    let alice = h.store.messages(&format!("alice@{DOMAIN}"), "INBOX");
    assert_eq!(alice.len(), 1, "{alice:?}");
    assert!(alice[0].contains("Subject: retried"), "{}", alice[0]);
    assert!(h
        .store
        .messages(&format!("bob@{DOMAIN}"), "INBOX")
        .is_empty());
    // Another sender to alice is a new triplet: deferred again.
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    assert!(c.cmd("MAIL FROM:<y@remote.test>").starts_with("250"));
    let r = c.cmd(&format!("RCPT TO:<alice@{DOMAIN}>"));
    assert!(r.starts_with("451 4.7.1"), "{r}");
}

#[test]
fn an_authenticated_client_is_not_greylisted() {
    let h = greylisted();
    let port = h.smtp().port();
    let out = python(&format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context(cafile="{ca}")
s = smtplib.SMTP("127.0.0.1", {port}, timeout=20)
s.starttls(context=ctx)
s.login("alice@{DOMAIN}", "alice-pw")
refused = s.sendmail("alice@{DOMAIN}", ["bob@{DOMAIN}"],
    "From: alice@{DOMAIN}\r\nSubject: straight\r\n\r\nhello\r\n")
print("refused", refused)
s.quit()
"#,
        ca = h.ca.display()
    ));
    assert!(out.contains("refused {}"), "{out}");
    let bob = h.store.messages(&format!("bob@{DOMAIN}"), "INBOX");
    assert_eq!(bob.len(), 1, "{bob:?}");
}
