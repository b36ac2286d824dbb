//! Port 25: who may receive, who may relay, what is stored where.

mod support;

use support::*;

#[test]
fn an_unknown_user_is_refused_at_rcpt_with_550_5_1_1() {
    let h = start(Options::default());
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    c.cmd("MAIL FROM:<someone@remote.test>");
    let r = c.cmd(&format!("RCPT TO:<nobody@{DOMAIN}>"));
    assert!(r.starts_with("550 5.1.1"), "{r}");
    let r = c.cmd(&format!("RCPT TO:<alice@{DOMAIN}>"));
    assert!(r.starts_with("250"), "{r}");
    // swaks sees the same.
    let t = swaks(&[
        "--server",
        &h.smtp().to_string(),
        "--to",
        &format!("nobody@{DOMAIN}"),
        "--from",
        "x@remote.test",
    ]);
    assert!(t.contains("<** 550 5.1.1"), "{t}");
}

#[test]
fn a_full_mailbox_is_refused_at_rcpt_with_452() {
    let h = start(Options::default());
    // carol's quota is 200 bytes.
    h.store.put(&format!("carol@{DOMAIN}"), &"x".repeat(200));
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    c.cmd("MAIL FROM:<someone@remote.test>");
    let r = c.cmd(&format!("RCPT TO:<carol@{DOMAIN}>"));
    assert!(r.starts_with("452 4.2.2"), "{r}");
    // A message that would not fit is refused at the end too, and nothing
    // is stored.
    let h = start(Options::default());
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let body = format!("Subject: big\n\n{}\n", "y".repeat(300));
    let r = c.send("someone@remote.test", &[&format!("carol@{DOMAIN}")], &body);
    assert!(r.starts_with("452 4.2.2"), "{r}");
    assert!(h
        .store
        .messages(&format!("carol@{DOMAIN}"), "INBOX")
        .is_empty());
}

#[test]
fn the_server_is_no_open_relay_for_swaks() {
    let h = start(Options::default());
    let server = h.smtp().to_string();
    let t = swaks(&[
        "--server",
        &server,
        "--to",
        "victim@elsewhere.test",
        "--from",
        "spammer@remote.test",
    ]);
    assert!(t.contains("<** 554 5.7.1"), "{t}");
    assert!(t.contains("Relay access denied"), "{t}");
    // Claiming to be local does not help.
    let t = swaks(&[
        "--server",
        &server,
        "--to",
        "victim@elsewhere.test",
        "--from",
        &format!("alice@{DOMAIN}"),
    ]);
    assert!(t.contains("<** 554 5.7.1"), "{t}");
    assert_eq!(h.spooled(), 0);
    // Authenticated (after STARTTLS), relaying is allowed and queued.
    let t = swaks(&[
        "--server",
        &server,
        "-tls",
        "-a",
        "PLAIN",
        "-au",
        &format!("alice@{DOMAIN}"),
        "-ap",
        "alice-pw",
        "--to",
        "friend@elsewhere.test",
        "--from",
        &format!("alice@{DOMAIN}"),
    ]);
    assert!(t.contains("<~  250 2.0.0 Ok: queued as"), "{t}");
    assert_eq!(h.spooled(), 1);
}

#[test]
fn the_server_is_no_open_relay_for_smtplib() {
    let h = start(Options::default());
    let port = h.smtp().port();
    let out = python(&format!(
        r#"
import smtplib, ssl
s = smtplib.SMTP("127.0.0.1", {port}, timeout=20)
s.ehlo("client.test")
code, msg = s.mail("spammer@remote.test")
code, msg = s.rcpt("victim@elsewhere.test")
print("anon", code, msg.decode())
s.rset()
ctx = ssl.create_default_context(cafile="{ca}")
s.starttls(context=ctx)
s.ehlo("client.test")
s.login("alice@{DOMAIN}", "alice-pw")
r = s.sendmail("alice@{DOMAIN}", ["friend@elsewhere.test"], b"Subject: hi\r\n\r\nrelayed\r\n")
print("auth", r)
s.quit()
"#,
        ca = h.ca.display()
    ));
    assert!(out.contains("anon 554 5.7.1 Relay access denied"), "{out}");
    assert!(out.contains("auth {}"), "{out}");
    assert_eq!(h.spooled(), 1);
}

#[test]
fn each_local_recipient_gets_the_message_once() {
    let h = start(Options::default());
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    // team is alice and bob; alice+news is alice; bob is named twice.
    let to = [
        format!("team@{DOMAIN}"),
        format!("alice+news@{DOMAIN}"),
        format!("bob@{DOMAIN}"),
        format!("BOB@{DOMAIN}"),
    ];
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let r = c.send("someone@remote.test", &to, "Subject: once\n\nhello\n");
    assert!(r.starts_with("250 2.0.0 Ok: queued as"), "{r}");
    assert_eq!(
        h.store.messages(&format!("alice@{DOMAIN}"), "INBOX").len(),
        1
    );
    // BOB@ is not bob@ (local parts are exact): refused, so bob gets one.
    assert_eq!(h.store.messages(&format!("bob@{DOMAIN}"), "INBOX").len(), 1);
    // Nothing for remote recipients on port 25 without AUTH.
    assert_eq!(h.spooled(), 0);
    let stored = &h.store.messages(&format!("alice@{DOMAIN}"), "INBOX")[0];
    assert!(
        stored.starts_with("Received: from client.test ([127.0.0.1])"),
        "{stored}"
    );
    assert!(stored.contains("X-Test-Filter: seen"), "{stored}");
    assert!(stored.ends_with("hello\r\n"), "{stored:?}");
}

#[test]
fn a_catch_all_takes_unknown_addresses_of_its_domain() {
    let h = start(Options::default());
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let r = c.send(
        "someone@remote.test",
        &["whoever@catchall.test"],
        "Subject: c\n\nx\n",
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(h.store.messages(&format!("bob@{DOMAIN}"), "INBOX").len(), 1);
}

#[test]
fn filters_reject_quarantine_and_tempfail() {
    let h = start(Options::default());
    let alice = format!("alice@{DOMAIN}");
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let r = c.send(
        "s@remote.test",
        &[&alice],
        &message("s@remote.test", "r", "X-Test-Verdict: reject\n"),
    );
    assert!(
        r.starts_with("550 5.7.1 Rejected by the test filter"),
        "{r}"
    );
    let r = c.send(
        "s@remote.test",
        &[&alice],
        &message("s@remote.test", "t", "X-Test-Verdict: tempfail\n"),
    );
    assert!(r.starts_with("451 4.7.1"), "{r}");
    assert!(h.store.messages(&alice, "INBOX").is_empty());
    assert!(h.store.messages(&alice, "Junk").is_empty());
    let r = c.send(
        "s@remote.test",
        &[&alice],
        &message("s@remote.test", "q", "X-Test-Verdict: quarantine\n"),
    );
    assert!(r.starts_with("250"), "{r}");
    let junk = h.store.messages(&alice, "Junk");
    assert_eq!(junk.len(), 1);
    assert!(
        junk[0].contains("X-Mailwire-Quarantine: the test filter says so"),
        "{}",
        junk[0]
    );
    assert!(junk[0].contains("X-Spam-Flag: YES"));
    assert!(h.store.messages(&alice, "INBOX").is_empty());
    // Nothing left behind by the refused ones.
    let tmp = std::fs::read_dir(h.store.root.join(".tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0);
}

#[test]
fn an_alias_forwarding_elsewhere_stores_locally_and_queues_the_rest() {
    let h = start(Options::default());
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    // fwd@ is carol and far@elsewhere.test; no AUTH needed for an alias.
    let r = c.send(
        "someone@remote.test",
        &[&format!("fwd@{DOMAIN}")],
        "Subject: f\n\nx\n",
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(
        h.store.messages(&format!("carol@{DOMAIN}"), "INBOX").len(),
        1
    );
    assert_eq!(h.spooled(), 1);
}

#[test]
fn the_example_configuration_in_the_docs_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/mailwire.toml");
    let config = mail_server::ServerConfig::load(&path).unwrap();
    assert_eq!(config.hostname, "mx.example.com");
    assert_eq!(config.directory.domains, ["example.com"]);
    assert_eq!(
        config.listeners.submissions,
        Some("0.0.0.0:465".parse().unwrap())
    );
    // Relative paths are the file's directory's.
    assert!(
        config.mailboxes.ends_with("docs/examples/mailboxes"),
        "{:?}",
        config.mailboxes
    );
    assert_eq!(config.dkim.len(), 1);
    assert!(config.delivery.enabled);
}

/// A message that fits one recipient's mailbox but not another's (the
/// other filled up after its RCPT was accepted): after DATA there is no
/// reply that could say so, so it is stored for both, the full mailbox
/// going over its quota; its next RCPT then gets 452. Nobody's copy is lost.
#[test]
fn a_mailbox_that_fills_during_the_transaction_still_gets_its_copy() {
    let h = start(Options::default());
    // carol's quota is 200 bytes: 150 used leaves room at RCPT time.
    h.store.put(&format!("carol@{DOMAIN}"), &"x".repeat(150));
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let body = format!("Subject: shared\n\n{}\n", "y".repeat(300));
    let r = c.send(
        "someone@remote.test",
        &[&format!("carol@{DOMAIN}"), &format!("alice@{DOMAIN}")],
        &body,
    );
    assert!(r.starts_with("250"), "{r}");
    for user in ["carol", "alice"] {
        let stored = h.store.messages(&format!("{user}@{DOMAIN}"), "INBOX");
        assert!(
            stored.iter().any(|m| m.contains("Subject: shared")),
            "{user} lost the message: {stored:?}"
        );
    }
    // Now over quota: the next RCPT for carol is refused.
    c.cmd("MAIL FROM:<someone@remote.test>");
    let r = c.cmd(&format!("RCPT TO:<carol@{DOMAIN}>"));
    assert!(r.starts_with("452 4.2.2"), "{r}");
}

/// `[limits] max_sessions = 1`: a second client is not refused; it waits
/// in the listen queue and is greeted once the first session ends.
#[test]
fn clients_over_max_sessions_wait_for_their_greeting_and_are_then_served() {
    use std::io::{BufRead, BufReader};
    let h = start(Options {
        max_sessions: Some(1),
        ..Options::default()
    });
    let mut first = Raw::connect(h.smtp());
    first.cmd("EHLO client.test");
    let second = std::net::TcpStream::connect(h.smtp()).unwrap();
    second
        .set_read_timeout(Some(std::time::Duration::from_millis(700)))
        .unwrap();
    let mut reader = BufReader::new(second);
    let mut line = String::new();
    // Nothing yet: neither a greeting nor a 421.
    assert!(reader.read_line(&mut line).is_err(), "{line:?}");
    let r = first.send(
        "someone@remote.test",
        &[&format!("alice@{DOMAIN}")],
        &message("someone@remote.test", "first", ""),
    );
    assert!(r.starts_with("250"), "{r}");
    first.cmd("QUIT");
    reader
        .get_ref()
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("220"), "{line}");
}
