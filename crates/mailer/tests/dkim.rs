//! Mail sent through a `Mailer` with DKIM signers arrives signed: a server
//! on loopback captures the DATA bytes and mailwire-auth's verifier checks
//! every signature against the keys in an in-memory DNS.

use mailer::dkim::DkimSigner;
use mailer::Mailer;
use mailer::Security;
use mailwire_auth::dkim::{DkimResult, DkimVerifier, SigningKey};
use mailwire_auth::MemoryResolver;
use mime_codec::{Mailbox, MessageBuilder};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

/// A server for one connection that returns the message it was given
/// (dot-unstuffed, CRLF line ends).
fn capture() -> (SocketAddr, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        writer.write_all(b"220 capture ESMTP\r\n").unwrap();
        let mut data = Vec::new();
        let mut in_data = false;
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                break;
            }
            if in_data {
                if line == b".\r\n" {
                    in_data = false;
                    writer.write_all(b"250 2.0.0 queued\r\n").unwrap();
                } else if line.starts_with(b"..") {
                    data.extend_from_slice(&line[1..]);
                } else {
                    data.extend_from_slice(&line);
                }
                continue;
            }
            let verb = String::from_utf8_lossy(&line).to_ascii_uppercase();
            let answer: &[u8] = if verb.starts_with("EHLO") {
                b"250-capture\r\n250 8BITMIME\r\n"
            } else if verb.starts_with("DATA") {
                in_data = true;
                b"354 go\r\n"
            } else if verb.starts_with("QUIT") {
                writer.write_all(b"221 bye\r\n").unwrap();
                break;
            } else {
                b"250 ok\r\n"
            };
            writer.write_all(answer).unwrap();
        }
        data
    });
    (addr, thread)
}

#[test]
fn a_message_sent_through_the_mailer_arrives_with_signatures_that_verify() {
    let ed = SigningKey::ed25519_from_seed(&[1; 32]);
    let other = SigningKey::ed25519_from_seed(&[2; 32]);
    let dns = MemoryResolver::new()
        .txt("one._domainkey.example.com", &ed.dns_record().unwrap())
        .txt("two._domainkey.example.com", &other.dns_record().unwrap());
    let (addr, server) = capture();
    let mailer = Mailer::server("127.0.0.1", addr.port(), Security::None)
        .dkim(DkimSigner::new(ed, "example.com", "one").unwrap())
        .dkim(DkimSigner::new(other, "example.com", "two").unwrap())
        .build()
        .unwrap();
    // A body of many lines, some starting with a dot, large enough to take
    // several reads through the temporary file.
    let body: String = (0..20_000)
        .map(|i| format!(".line {i} of the body\n"))
        .collect();
    let message = MessageBuilder::new()
        .from(Mailbox::address_only("me@example.com").unwrap())
        .to(Mailbox::address_only("you@example.net").unwrap())
        .subject("signed on the way")
        .text_body(&body)
        .build()
        .unwrap();
    let report = mailer.send(message).unwrap();
    assert_eq!(report.recipients.len(), 1);
    let received = server.join().unwrap();
    assert!(received.len() > 400_000, "{}", received.len());
    assert!(received.starts_with(b"DKIM-Signature:"));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut verifier = DkimVerifier::new();
    verifier.feed(&received).unwrap();
    let outcomes = verifier.finish().check(&dns, now);
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    for outcome in &outcomes {
        assert_eq!(outcome.result, DkimResult::Pass, "{outcome:?}");
    }
    let selectors: Vec<_> = outcomes.iter().map(|o| o.selector.clone()).collect();
    assert_eq!(
        selectors,
        [Some("one".to_owned()), Some("two".to_owned())],
        "{outcomes:?}"
    );

    // One byte changed in transit and the signatures fail.
    let mut tampered = received.clone();
    let at = tampered.len() - 10;
    tampered[at] ^= 1;
    let mut verifier = DkimVerifier::new();
    verifier.feed(&tampered).unwrap();
    for outcome in verifier.finish().check(&dns, now) {
        assert!(matches!(outcome.result, DkimResult::Fail(_)), "{outcome:?}");
    }
}

/// `send_async` signs too (the `smol` feature).
#[cfg(feature = "smol")]
#[test]
fn send_async_signs_as_send_does() {
    let key = SigningKey::ed25519_from_seed(&[5; 32]);
    let dns = MemoryResolver::new().txt("a._domainkey.example.org", &key.dns_record().unwrap());
    let (addr, server) = capture();
    let mailer = Mailer::server("127.0.0.1", addr.port(), Security::None)
        .dkim(DkimSigner::new(key, "example.org", "a").unwrap())
        .build()
        .unwrap();
    let message = MessageBuilder::new()
        .from(Mailbox::address_only("me@example.org").unwrap())
        .to(Mailbox::address_only("you@example.net").unwrap())
        .subject("async")
        .text_body("signed on smol")
        .build()
        .unwrap();
    smol::block_on(mailer.send_async(message)).unwrap();
    let received = server.join().unwrap();
    let mut verifier = DkimVerifier::new();
    verifier.feed(&received).unwrap();
    let outcomes = verifier.finish().check(&dns, 1_900_000_000);
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].result, DkimResult::Pass, "{outcomes:?}");
}
