//! SRS: mail an alias forwards to another domain leaves with an SRS0
//! envelope sender at our domain, a bounce to that address goes back to
//! the original sender through the spool, and forged or expired SRS
//! addresses are refused with 550 5.1.1.

mod support;

use mail_server::srs::Srs;
use mail_spool::Spool;
use support::*;

const SECRET: &str = "test-srs-secret";

fn srs_harness() -> Harness {
    start_with(
        Options::default(),
        &format!("[srs]\nsecret = \"{SECRET}\"\n"),
        |_| HeaderFilter,
    )
}

/// Every spooled message: its sender and its recipients.
fn spooled(h: &Harness) -> Vec<(String, Vec<String>)> {
    h.spool
        .list(None, 100)
        .unwrap()
        .into_iter()
        .map(|m| {
            let detail = h.spool.show(m.id).unwrap();
            let rcpts = detail.recipients.into_iter().map(|r| r.address).collect();
            (m.sender, rcpts)
        })
        .collect()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn forwarded_mail_leaves_with_an_srs_sender_and_its_bounce_comes_back_to_the_sender() {
    let h = srs_harness();
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let r = c.send(
        "Sender@Origin.test",
        &[&format!("fwd@{DOMAIN}")],
        "Subject: forwarded\n\nhello\n",
    );
    assert!(r.starts_with("250"), "{r}");
    // carol (local) has her copy; the remote target is queued.
    assert_eq!(
        h.store.messages(&format!("carol@{DOMAIN}"), "INBOX").len(),
        1
    );
    let queued = spooled(&h);
    assert_eq!(queued.len(), 1, "{queued:?}");
    let (sender, rcpts) = &queued[0];
    assert_eq!(rcpts, &vec!["far@elsewhere.test".to_owned()]);
    assert!(sender.starts_with("SRS0="), "{sender}");
    assert!(
        sender.ends_with(&format!("=Origin.test=Sender@{DOMAIN}")),
        "{sender}"
    );
    // The same secret's reading of it (the pure module) is the sender.
    let local = sender.rsplit_once('@').unwrap().0;
    let srs = Srs::new(SECRET.as_bytes().to_vec(), DOMAIN).unwrap();
    assert_eq!(srs.reverse(local, now()).unwrap(), "Sender@Origin.test");

    // far@elsewhere.test's server bounces it to the SRS address.
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO mx.elsewhere.test");
    let r = c.send(
        "",
        &[sender.as_str()],
        "Subject: Undelivered Mail Returned to Sender\n\nno such user\n",
    );
    assert!(r.starts_with("250"), "{r}");
    let queued = spooled(&h);
    assert_eq!(queued.len(), 2, "{queued:?}");
    let (bounce_sender, bounce_rcpts) = &queued[1];
    assert_eq!(bounce_sender, "", "a bounce keeps its null sender");
    assert_eq!(bounce_rcpts, &vec!["Sender@Origin.test".to_owned()]);
    // A case-folded copy of the address is taken back too.
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO mx.elsewhere.test");
    assert!(c.cmd("MAIL FROM:<>").starts_with("250"));
    let r = c.cmd(&format!("RCPT TO:<{}>", sender.to_ascii_lowercase()));
    assert!(r.starts_with("250"), "{r}");
}

#[test]
fn forged_altered_and_expired_srs_addresses_are_refused() {
    let h = srs_harness();
    let srs = Srs::new(SECRET.as_bytes().to_vec(), DOMAIN).unwrap();
    let genuine = srs.forward("someone@origin.test", now()).unwrap();
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO mx.elsewhere.test");
    assert!(c.cmd("MAIL FROM:<>").starts_with("250"));
    // Another original sender under the genuine hash.
    let altered = genuine.replace("=someone@", "=victim@");
    let r = c.cmd(&format!("RCPT TO:<{altered}>"));
    assert!(r.starts_with("550 5.1.1"), "{r}");
    // Another secret's address.
    let forged = Srs::new(b"not ours".to_vec(), DOMAIN)
        .unwrap()
        .forward("someone@origin.test", now())
        .unwrap();
    let r = c.cmd(&format!("RCPT TO:<{forged}>"));
    assert!(r.starts_with("550 5.1.1"), "{r}");
    // Made by our secret 30 days ago: expired (21 days).
    let old = srs
        .forward("someone@origin.test", now() - 30 * 86_400)
        .unwrap();
    let r = c.cmd(&format!("RCPT TO:<{old}>"));
    assert!(r.starts_with("550 5.1.1"), "{r}");
    assert!(r.contains("SRS"), "{r}");
    // The genuine one is taken.
    let r = c.cmd(&format!("RCPT TO:<{genuine}>"));
    assert!(r.starts_with("250"), "{r}");
}

#[test]
fn without_srs_forwarded_mail_keeps_its_sender_and_local_senders_are_never_rewritten() {
    let h = start(Options::default());
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let r = c.send(
        "x@origin.test",
        &[&format!("fwd@{DOMAIN}")],
        "Subject: a\n\nhi\n",
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(spooled(&h)[0].0, "x@origin.test");
    // With SRS, a sender in a local domain passes SPF as it is.
    let h = srs_harness();
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let r = c.send(
        &format!("bob@{DOMAIN}"),
        &[&format!("fwd@{DOMAIN}")],
        "Subject: b\n\nhi\n",
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(spooled(&h)[0].0, format!("bob@{DOMAIN}"));
}

/// A sender whose SRS form would not be a valid mailbox (a local part over
/// 64 octets) keeps its own address on the forwarded copy: an SRS0 sender
/// that long could never be sent by the spool's client (the copy would
/// fail at once, its bounce undeliverable) nor taken back by this server.
#[test]
fn a_sender_too_long_to_rewrite_is_forwarded_as_it_is() {
    let h = srs_harness();
    let long = format!("notifications-{}@lists.origin.test", "x".repeat(40));
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let r = c.send(&long, &[&format!("fwd@{DOMAIN}")], "Subject: long\n\nhi\n");
    assert!(r.starts_with("250"), "{r}");
    let queued = spooled(&h);
    assert_eq!(queued.len(), 1, "{queued:?}");
    let sender = &queued[0].0;
    assert!(
        smtp_proto::Mailbox::parse(sender).is_ok(),
        "the queued sender {sender:?} is no mailbox SMTP can send"
    );
    assert_eq!(sender, &long);
}

/// The four-character hash cannot be guessed one RCPT after another: after
/// ten forged SRS addresses from one client network, its SRS recipients
/// (even a genuine one, which its server brings back later) wait with 450
/// 4.7.1, in this connection and the next. Before, a client could try all
/// two million hashes on one connection until one relayed to its target.
#[test]
fn guessing_srs_hashes_is_cut_short() {
    let h = srs_harness();
    let srs = Srs::new(SECRET.as_bytes().to_vec(), DOMAIN).unwrap();
    let genuine = srs.forward("target@victim.test", now()).unwrap();
    let (local, _) = genuine.rsplit_once('@').unwrap();
    let hash = &local[5..9];
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO guesser.test");
    assert!(c.cmd("MAIL FROM:<>").starts_with("250"));
    let guesses = [
        "AAAA", "BBBB", "CCCC", "DDDD", "EEEE", "FFFF", "GGGG", "HHHH", "IIII", "JJJJ",
    ];
    for guess in guesses {
        assert!(!guess.eq_ignore_ascii_case(hash));
        let forged = genuine.replacen(hash, guess, 1);
        let r = c.cmd(&format!("RCPT TO:<{forged}>"));
        assert!(r.starts_with("550 5.1.1"), "{forged}: {r}");
    }
    let r = c.cmd(&format!("RCPT TO:<{genuine}>"));
    assert!(
        r.starts_with("450 4.7.1"),
        "a right guess after ten wrong ones: {r}"
    );
    // Not a per-connection count.
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO guesser.test");
    assert!(c.cmd("MAIL FROM:<>").starts_with("250"));
    let r = c.cmd(&format!("RCPT TO:<{genuine}>"));
    assert!(r.starts_with("450 4.7.1"), "{r}");
    // Local recipients are not held up.
    let r = c.cmd(&format!("RCPT TO:<carol@{DOMAIN}>"));
    assert!(r.starts_with("250"), "{r}");
    assert!(spooled(&h).is_empty());
}
