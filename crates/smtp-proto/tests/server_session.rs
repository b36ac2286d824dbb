//! ServerSession scenarios: exact replies for whole dialogues, every
//! bad-sequence and malformed command, limits, STARTTLS, AUTH, BDAT,
//! smuggling and timeouts, driven with a virtual clock.
// The tests drive the session, so they own the clock the core must not read.
#![allow(clippy::disallowed_methods)]

use smtp_proto::sasl::AuthRequest;
use smtp_proto::{
    CloseReason, Mechanism, Output, Reply, ServerConfig, ServerEvent, ServerSession, TlsInfo,
};
use std::time::{Duration, Instant};

mod server_harness;
use server_harness::*;

#[test]
fn a_whole_transaction_with_exact_replies() {
    let mut h = Harness::new(config());
    assert_eq!(h.greeting(), "220 mx.example.com ESMTP mailwire\r\n");
    assert_eq!(
        h.feed(b"EHLO client.example.org\r\n"),
        "250-mx.example.com\r\n250-SIZE\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
         250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n"
    );
    assert_eq!(
        h.feed(b"MAIL FROM:<a@example.org> SIZE=100\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(
        h.feed(b"RCPT TO:<b@example.com>\r\n"),
        "250 2.1.5 Recipient OK\r\n"
    );
    assert_eq!(
        h.feed(b"DATA\r\n"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    assert_eq!(h.feed(b"Subject: t\r\n\r\n..dot\r\n"), "");
    assert_eq!(h.feed(b".\r\n"), "250 2.0.0 Message accepted\r\n");
    assert_eq!(h.bodies(), b"Subject: t\r\n\r\n.dot\r\n");
    assert!(h.events.contains(&ServerEvent::MessageEnd { size: 20 }));
    assert_eq!(
        h.feed(b"QUIT\r\n"),
        "221 2.0.0 mx.example.com closing connection\r\n"
    );
    assert!(h.closed);
    assert_eq!(h.closed_reason(), Some(CloseReason::Quit));
    // Nothing is read after close.
    assert_eq!(h.feed(b"NOOP\r\n"), "");
}

#[test]
fn pipelined_group_is_answered_in_order_in_one_write() {
    let mut h = Harness::new(config());
    h.feed(b"EHLO c.example\r\n");
    h.policy = Box::new(|e| match e {
        ServerEvent::RcptTo { to, .. } if to.to_string().contains("nobody") => {
            Some(reply(550, (5, 1, 1), "No such user"))
        }
        _ => None,
    });
    h.s.feed(
        h.now,
        b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\n",
    );
    let mut writes = Vec::new();
    // Drive by hand to see the write boundaries.
    while let Some(out) = h.s.poll_output() {
        match out {
            Output::Transmit(b) => writes.push(String::from_utf8(b).unwrap()),
            Output::Event(ServerEvent::RcptTo { to, .. }) if to.to_string().contains("nobody") => {
                h.s.reject(reply(550, (5, 1, 1), "No such user")).unwrap()
            }
            Output::Event(_) => h.s.accept().unwrap(),
            _ => {}
        }
    }
    assert_eq!(
        writes.concat(),
        "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n550 5.1.1 No such user\r\n\
         354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    assert_eq!(h.s.recipients().len(), 1);
}

#[test]
fn every_bad_sequence_gets_503() {
    let mut h = Harness::new(config());
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 Send HELO/EHLO first\r\n"
    );
    h.feed(b"EHLO c.example\r\n");
    assert_eq!(
        h.feed(b"RCPT TO:<a@b.example>\r\n"),
        "503 5.5.1 Need MAIL command\r\n"
    );
    assert_eq!(h.feed(b"DATA\r\n"), "503 5.5.1 Need MAIL command\r\n");
    assert_eq!(h.feed(b"BDAT 3\r\nabc"), "503 5.5.1 Need MAIL command\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 Nested MAIL command\r\n"
    );
    assert_eq!(h.feed(b"DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
    assert_eq!(
        h.feed(b"AUTH PLAIN\r\n"),
        "503 5.5.1 AUTH not allowed during a transaction\r\n"
    );
    assert_eq!(h.feed(b"RSET\r\n"), "250 2.0.0 OK\r\n");
    assert!(h.events.contains(&ServerEvent::Reset));
    assert_eq!(
        h.feed(b"STARTTLS\r\n"),
        "502 5.5.1 STARTTLS not available\r\n"
    );
}

#[test]
fn syntax_errors_and_other_commands() {
    let mut h = Harness::new(config());
    assert_eq!(h.feed(b"XYZZY\r\n"), "500 5.5.1 Command unrecognized\r\n");
    assert_eq!(
        h.feed(b"EHLO\r\n"),
        "501 5.5.4 Syntax error in EHLO arguments\r\n"
    );
    h.feed(b"EHLO c.example\r\n");
    assert_eq!(
        h.feed(b"MAIL FROM:<a@@b>\r\n"),
        "501 5.1.3 Bad address syntax\r\n"
    );
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example> FOO=1\r\n"),
        "555 5.5.4 Parameter FOO is not supported\r\n"
    );
    assert_eq!(
        h.feed(b"VRFY someone\r\n"),
        "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
    );
    assert_eq!(h.feed(b"EXPN list\r\n"), "502 5.5.1 EXPN not supported\r\n");
    assert!(h.feed(b"HELP\r\n").starts_with("214 2.0.0 Commands:"));
    assert_eq!(h.feed(b"NOOP\r\n"), "250 2.0.0 OK\r\n");
    let long = format!("NOOP {}\r\n", "x".repeat(600));
    assert_eq!(h.feed(long.as_bytes()), "500 5.5.2 Line too long\r\n");
    assert_eq!(
        h.feed(b"NOOP\n"),
        "500 5.5.2 Syntax error: lines must end with CRLF\r\n"
    );
    // The session is still in step after all that.
    assert_eq!(h.feed(b"NOOP\r\n"), "250 2.0.0 OK\r\n");
}

#[test]
fn too_many_errors_end_the_session() {
    let mut h = Harness::new(config().with_max_errors(3));
    h.feed(b"BAD1\r\n");
    h.feed(b"BAD2\r\n");
    assert_eq!(
        h.feed(b"BAD3\r\n"),
        "500 5.5.1 Command unrecognized\r\n421 4.7.0 mx.example.com too many errors, closing\r\n"
    );
    assert!(h.closed);
    assert_eq!(h.closed_reason(), Some(CloseReason::TooManyErrors));
}

#[test]
fn recipient_and_size_limits() {
    let mut h = Harness::new(
        config()
            .with_max_recipients(2)
            .with_max_message_size(Some(10)),
    );
    h.feed(b"EHLO c.example\r\n");
    assert!(h.greeting().contains("250-SIZE 10\r\n"));
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example> SIZE=11\r\n"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    h.feed(b"MAIL FROM:<a@b.example> SIZE=10\r\n");
    h.feed(b"RCPT TO:<r1@b.example>\r\n");
    h.feed(b"RCPT TO:<r2@b.example>\r\n");
    assert_eq!(
        h.feed(b"RCPT TO:<r3@b.example>\r\n"),
        "452 4.5.3 Too many recipients\r\n"
    );
    h.feed(b"DATA\r\n");
    // The SIZE parameter lied: the bytes themselves are counted.
    assert_eq!(
        h.feed(b"0123456789\r\nmore\r\n.\r\n"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, ServerEvent::MessageAborted { .. })));
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, ServerEvent::MessageEnd { .. })));
    // The transaction is over; a new one can start.
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example>\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );
}

#[test]
fn early_talkers_and_forbidden_pipelining() {
    // Talking before the delayed greeting.
    let mut h = Harness::new(config().with_greeting_delay(Some(Duration::from_secs(2))));
    assert_eq!(h.greeting(), "");
    assert_eq!(h.s.poll_timeout(), Some(h.t0 + Duration::from_secs(2)));
    assert_eq!(
        h.feed(b"EHLO spam.example\r\n"),
        "554 5.5.0 Synchronization error: commands sent before their replies\r\n"
    );
    assert_eq!(h.closed_reason(), Some(CloseReason::SynchronizationError));

    // A patient client gets the greeting when the delay is over.
    let mut h = Harness::new(config().with_greeting_delay(Some(Duration::from_secs(2))));
    h.now = h.t0 + Duration::from_secs(2);
    h.s.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.greeting(), "220 mx.example.com ESMTP mailwire\r\n");

    // Pipelining after HELO (no PIPELINING negotiated).
    let mut h = Harness::new(config());
    h.feed(b"HELO c.example\r\n");
    assert!(h
        .feed(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n")
        .starts_with("554 5.5.0"));
    assert!(h.closed);

    // Content sent behind DATA before the 354.
    let mut h = Harness::new(config());
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    let out = h.feed(b"RCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n");
    assert!(
        out.ends_with("554 5.5.0 Synchronization error: commands sent before their replies\r\n")
    );

    // The check can be turned off.
    let mut h = Harness::new(config().with_reject_early_talkers(false));
    let out = h.feed(b"HELO c.example\r\nMAIL FROM:<a@b.example>\r\n");
    assert_eq!(out, "250 mx.example.com\r\n250 2.1.0 Sender OK\r\n");
}

#[test]
fn ehlo_must_end_a_pipelined_group() {
    let mut h = Harness::new(config());
    let out = h.feed(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n");
    assert!(out.starts_with("554 5.5.0"), "{out}");
}

#[test]
fn starttls_flow_and_plaintext_injection() {
    let tls = || TlsInfo::new("TLSv1.3", "TLS13_AES_128_GCM_SHA256");
    let mut h = Harness::new(config().with_starttls(true).with_require_tls(true));
    let ehlo = h.feed(b"EHLO c.example\r\n");
    assert!(ehlo.contains("250-STARTTLS\r\n") || ehlo.contains("250 STARTTLS\r\n"));
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example>\r\n"),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
    assert_eq!(h.feed(b"STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
    assert_eq!(h.start_tls, 1);
    h.s.tls_established(h.now, tls());
    h.drain();
    assert!(h.s.is_tls());
    // RFC 3207: the session starts over.
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 Send HELO/EHLO first\r\n"
    );
    let ehlo = h.feed(b"EHLO c.example\r\n");
    assert!(!ehlo.contains("STARTTLS"));
    assert_eq!(h.feed(b"STARTTLS\r\n"), "503 5.5.1 TLS already active\r\n");
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example>\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );

    // Plaintext pipelined behind STARTTLS: reply and close, never use it.
    let mut h = Harness::new(config().with_starttls(true));
    h.feed(b"EHLO c.example\r\n");
    let out = h.feed(b"STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n");
    assert_eq!(
        out,
        "554 5.5.0 Synchronization error: data sent behind STARTTLS\r\n"
    );
    assert_eq!(h.start_tls, 0);
    assert_eq!(h.closed_reason(), Some(CloseReason::StartTlsViolation));

    // Bytes during the handshake, before tls_established.
    let mut h = Harness::new(config().with_starttls(true));
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"STARTTLS\r\n");
    assert!(h
        .feed(b"MAIL FROM:<evil@example.com>\r\n")
        .starts_with("554 5.5.0"));
    assert_eq!(h.closed_reason(), Some(CloseReason::StartTlsViolation));
}

fn auth_config() -> ServerConfig {
    config().with_auth(vec![Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5])
}

fn check_password(e: &ServerEvent) -> Option<Reply> {
    match e {
        ServerEvent::Auth(req) if !req.verify_password("secret") => {
            Some(reply(535, (5, 7, 8), "Authentication credentials invalid"))
        }
        _ => None,
    }
}

#[test]
fn auth_plain_login_and_cram_md5() {
    // Over plaintext, password mechanisms are neither offered nor allowed.
    let mut h = Harness::new(auth_config());
    let ehlo = h.feed(b"EHLO c.example\r\n");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    assert_eq!(
        h.feed(b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"),
        "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    );

    let mut h = Harness::new(auth_config().with_plaintext_auth(true));
    h.policy = Box::new(check_password);
    assert_eq!(
        h.feed(b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"),
        "503 5.5.1 Send EHLO first\r\n"
    );
    let ehlo = h.feed(b"EHLO c.example\r\n");
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN\r\n"),
        "no CRAM-MD5 without a nonce: {ehlo}"
    );
    // PLAIN with an initial response ("\0user\0secret").
    assert_eq!(
        h.feed(b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(h.s.authenticated(), Some("user"));
    assert!(matches!(
        h.events
            .iter()
            .rev()
            .find(|e| matches!(e, ServerEvent::Auth(_))),
        Some(ServerEvent::Auth(AuthRequest::Plain { .. }))
    ));
    assert_eq!(
        h.feed(b"AUTH LOGIN\r\n"),
        "503 5.5.1 Already authenticated\r\n"
    );

    // LOGIN, with a wrong password. (Failures without delay or limit here;
    // server_bounds.rs holds what they cost.)
    let mut h = Harness::new(
        auth_config()
            .with_plaintext_auth(true)
            .with_auth_failure_delay(Duration::ZERO)
            .without_max_auth_failures(),
    );
    h.policy = Box::new(check_password);
    h.feed(b"EHLO c.example\r\n");
    assert_eq!(h.feed(b"AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(h.feed(b"dXNlcg==\r\n"), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        h.feed(b"d3Jvbmc=\r\n"),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(h.s.authenticated(), None);
    // Cancelled and malformed exchanges.
    h.feed(b"AUTH LOGIN\r\n");
    assert_eq!(h.feed(b"*\r\n"), "501 5.0.0 Authentication cancelled\r\n");
    h.feed(b"AUTH LOGIN\r\n");
    assert_eq!(
        h.feed(b"not base64!\r\n"),
        "501 5.5.2 Invalid base64 data\r\n"
    );
    assert_eq!(
        h.feed(b"AUTH GSSAPI\r\n"),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );

    // CRAM-MD5 with the caller's nonce (RFC 2195 example values).
    let mut h = Harness::with(auth_config(), |c, now| {
        ServerSession::new(c, now).with_cram_md5_nonce("1896.697170952")
    });
    h.policy = Box::new(|e| match e {
        ServerEvent::Auth(req) if !req.verify_password("tanstaaftanstaaf") => {
            Some(reply(535, (5, 7, 8), "bad"))
        }
        _ => None,
    });
    let ehlo = h.feed(b"EHLO c.example\r\n");
    assert!(ehlo.contains("AUTH CRAM-MD5\r\n"), "{ehlo}");
    let challenge = h.feed(b"AUTH CRAM-MD5\r\n");
    assert!(challenge.starts_with("334 "), "{challenge}");
    let decoded = smtp_proto::sasl::decode_base64(challenge[4..].trim_end().as_bytes()).unwrap();
    assert_eq!(decoded, b"<1896.697170952@mx.example.com>");
    // The digest for this challenge, computed by the client half.
    let creds = smtp_proto::sasl::ClientCredentials::Password {
        username: "tim".into(),
        password: smtp_proto::Secret::new("tanstaaftanstaaf".into()),
    };
    let mut client = smtp_proto::sasl::SaslClient::new(Mechanism::CramMd5, &creds).unwrap();
    let answer = client.respond(&decoded).unwrap();
    let line = format!("{}\r\n", smtp_proto::sasl::encode_base64(answer.expose()));
    assert_eq!(
        h.feed(line.as_bytes()),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(h.s.authenticated(), Some("tim"));
}

#[test]
fn require_auth_before_mail() {
    let mut h = Harness::new(
        auth_config()
            .with_plaintext_auth(true)
            .with_require_auth(true),
    );
    h.feed(b"EHLO c.example\r\n");
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example>\r\n"),
        "530 5.7.0 Authentication required\r\n"
    );
    h.feed(b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
    assert_eq!(
        h.feed(b"MAIL FROM:<a@b.example>\r\n"),
        "250 2.1.0 Sender OK\r\n"
    );
}

#[test]
fn bdat_chunks_are_exact_and_counted() {
    let mut h = Harness::new(config());
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    assert_eq!(
        h.feed(b"BDAT 5\r\n\r\n.\r\n"),
        "250 2.0.0 5 octets received\r\n"
    );
    assert_eq!(
        h.feed(b"BDAT 4 LAST\r\n\0\x01\x02\n"),
        "250 2.0.0 Message accepted\r\n"
    );
    assert_eq!(h.bodies(), b"\r\n.\r\n\0\x01\x02\n");
    assert!(h.events.contains(&ServerEvent::MessageEnd { size: 9 }));
    // DATA is refused for BINARYMIME, and BDAT after a failure until RSET.
    h.feed(b"MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    assert_eq!(h.feed(b"DATA\r\n"), "503 5.5.1 BINARYMIME needs BDAT\r\n");
}

#[test]
fn bdat_size_limit_and_failure_until_rset() {
    let mut h = Harness::new(config().with_max_message_size(Some(4)));
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    assert_eq!(
        h.feed(b"BDAT 6\r\nabcdef"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(
        h.feed(b"BDAT 1 LAST\r\nx"),
        "503 5.5.1 An earlier BDAT failed; send RSET\r\n"
    );
    assert_eq!(h.feed(b"RSET\r\n"), "250 2.0.0 OK\r\n");
}

#[test]
fn smuggled_message_is_refused_and_never_read_as_commands() {
    let mut h = Harness::new(config());
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    h.feed(b"DATA\r\n");
    let out = h.feed(
        b"Subject: one\r\n\r\nbody\n.\nMAIL FROM:<admin@b.example>\r\nRCPT TO:<victim@d.example>\r\n\
          DATA\r\nSubject: injected\r\n\r\n.\r\n",
    );
    assert_eq!(
        out,
        "554 5.6.0 Message refused: bare LF in data; lines must end with CRLF\r\n"
    );
    assert!(!h.events.iter().any(
        |e| matches!(e, ServerEvent::MailFrom { from, .. } if from.to_string().contains("admin"))
    ));
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, ServerEvent::MessageEnd { .. })));
}

#[test]
fn timeouts_and_pauses() {
    let mut h = Harness::new(config().with_idle_timeout(Duration::from_secs(60)));
    assert_eq!(h.s.poll_timeout(), Some(h.t0 + Duration::from_secs(60)));
    h.now = h.t0 + Duration::from_secs(30);
    h.feed(b"EHLO c.example\r\n");
    // The EHLO was answered: wake at once to restart the idle timer.
    assert_eq!(h.s.poll_timeout(), Some(h.now));
    h.s.handle_timeout(h.now);
    assert_eq!(h.s.poll_timeout(), Some(h.now + Duration::from_secs(60)));
    // While the application decides, the client is not timed out.
    h.policy = Box::new(|_| None);
    h.s.feed(h.now, b"MAIL FROM:<a@b.example>\r\n");
    assert!(matches!(
        h.s.poll_output(),
        Some(Output::Event(ServerEvent::MailFrom { .. }))
    ));
    assert!(h.s.is_paused());
    assert_eq!(h.s.poll_timeout(), None);
    h.s.accept().unwrap();
    h.drain();
    // Verbs take no clock: the session asks to be woken at once...
    assert_eq!(h.s.poll_timeout(), Some(h.now));
    let answered = h.now + Duration::from_secs(5);
    h.s.handle_timeout(answered);
    h.drain();
    assert!(!h.closed);
    // ...so the client's idle time starts when the answer went out.
    assert_eq!(h.s.poll_timeout(), Some(answered + Duration::from_secs(60)));
    h.s.handle_timeout(answered + Duration::from_secs(59));
    h.drain();
    assert!(!h.closed);
    h.s.handle_timeout(answered + Duration::from_secs(60));
    h.drain();
    assert!(h
        .greeting()
        .ends_with("421 4.4.2 mx.example.com idle timeout exceeded, closing\r\n"));
    assert_eq!(h.closed_reason(), Some(CloseReason::Timeout));
    assert!(h.events.contains(&ServerEvent::Reset));
}

#[test]
fn application_answers() {
    let mut h = Harness::new(config());
    h.policy = Box::new(|e| match e {
        ServerEvent::MessageEnd { .. } => Some(reply(250, (2, 0, 0), "Ok: queued as 4F2A1C")),
        ServerEvent::RcptTo { .. } => Some(reply(450, (4, 2, 1), "Mailbox busy, try later")),
        _ => None,
    });
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(
        h.feed(b"RCPT TO:<c@d.example>\r\n"),
        "450 4.2.1 Mailbox busy, try later\r\n"
    );
    assert_eq!(h.feed(b"DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
    h.policy = Box::new(|e| match e {
        ServerEvent::MessageEnd { .. } => Some(reply(250, (2, 0, 0), "Ok: queued as 4F2A1C")),
        _ => None,
    });
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    h.feed(b"DATA\r\n");
    assert_eq!(h.feed(b"x\r\n.\r\n"), "250 2.0.0 Ok: queued as 4F2A1C\r\n");
    // Misuse is a typed error, not a panic.
    assert_eq!(h.s.accept(), Err(smtp_proto::UsageError::NoDecisionPending));
}

#[test]
fn answers_are_checked() {
    let t = Instant::now();
    let mut s = ServerSession::new(config(), t);
    s.feed(t, b"HELO c.example\r\n");
    while let Some(out) = s.poll_output() {
        if let Output::Event(ServerEvent::Helo { .. }) = out {
            break;
        }
    }
    assert_eq!(
        s.reject(reply(250, (2, 0, 0), "ok")),
        Err(smtp_proto::UsageError::NotNegative)
    );
    assert_eq!(
        s.accept_with(reply(550, (5, 0, 0), "no")),
        Err(smtp_proto::UsageError::NotPositive)
    );
    assert!(s.accept().is_ok());
}

#[test]
fn eof_and_shutdown() {
    let mut h = Harness::new(config());
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    h.s.feed_eof(h.now);
    h.drain();
    assert!(h.events.contains(&ServerEvent::Reset));
    assert_eq!(h.closed_reason(), Some(CloseReason::PeerClosed));
    assert!(h.closed);

    let mut h = Harness::new(config());
    h.s.shutdown();
    h.drain();
    assert!(h
        .greeting()
        .ends_with("421 4.3.2 mx.example.com service shutting down\r\n"));
    assert_eq!(h.closed_reason(), Some(CloseReason::Shutdown));
}

#[test]
fn smtputf8_needs_the_mail_parameter() {
    let mut h = Harness::new(config());
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(
        h.feed("RCPT TO:<用户@例子.广告>\r\n".as_bytes()),
        "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n"
    );
    h.feed(b"RSET\r\n");
    h.feed(b"MAIL FROM:<a@b.example> SMTPUTF8\r\n");
    assert_eq!(
        h.feed("RCPT TO:<用户@例子.广告>\r\n".as_bytes()),
        "250 2.1.5 Recipient OK\r\n"
    );
}

#[test]
fn bdat_payload_is_not_early_talking() {
    // Without PIPELINING a client still sends a chunk's octets right behind
    // its BDAT command (RFC 3030), in the same write.
    let mut h = Harness::new(config().with_pipelining(false));
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    assert_eq!(
        h.feed(b"BDAT 3 LAST\r\nabc"),
        "250 2.0.0 Message accepted\r\n"
    );
    assert_eq!(h.bodies(), b"abc");
    assert!(!h.closed);
}

#[test]
fn an_oversized_bdat_chunk_split_across_reads_is_answered_552() {
    // The chunk goes over the limit in its first read and ends in a later
    // one: the 552 must come when it ends, whatever the split.
    let mut message = b"BDAT 5000\r\n".to_vec();
    message.extend(std::iter::repeat_n(b'x', 5000));
    message.extend_from_slice(b"BDAT 0 LAST\r\n");
    for split in [1, 11, 500, 1011, 4096, 5010, 5011, 5012] {
        let mut h = Harness::new(config().with_max_message_size(Some(1000)));
        h.feed(b"EHLO c.example\r\n");
        h.feed(b"MAIL FROM:<a@b.example>\r\n");
        h.feed(b"RCPT TO:<c@d.example>\r\n");
        let mut answer = h.feed(&message[..split]);
        answer += &h.feed(&message[split..]);
        assert_eq!(
            answer,
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n\
             503 5.5.1 An earlier BDAT failed; send RSET\r\n",
            "split at {split}"
        );
        assert!(h.bodies().len() <= 1000, "split at {split}");
    }
}

#[test]
fn a_pipelined_binary_bdat_chunk_behind_pending_decisions_arrives_whole() {
    // MAIL, RCPT and a 2000-octet chunk without a single LF in one read:
    // the chunk waits behind the MAIL and RCPT decisions and must reach the
    // message whole (no line cap may cut it).
    let mut h = Harness::new(config());
    h.feed(b"EHLO c.example\r\n");
    let mut input = b"MAIL FROM:<a@b.example> BODY=BINARYMIME\r\nRCPT TO:<c@d.example>\r\n\
                      BDAT 2000 LAST\r\n"
        .to_vec();
    let body: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8 | 0x80).collect();
    input.extend_from_slice(&body);
    let answer = h.feed(&input);
    assert_eq!(
        answer,
        "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.0.0 Message accepted\r\n"
    );
    assert_eq!(h.bodies(), body);
}

#[test]
fn a_refused_connection_gets_the_refusal_instead_of_the_greeting_then_closes() {
    let now = Instant::now();
    let refusal = Reply::new(
        smtp_proto::ReplyCode::new(554).unwrap(),
        smtp_proto::EnhancedStatus::new(5, 7, 1),
        ["listed at dnsbl.test"],
    )
    .unwrap();
    let mut session = ServerSession::refused(config(), now, &refusal);
    let mut sent = Vec::new();
    let mut events = Vec::new();
    let mut closed = false;
    while let Some(out) = session.poll_output() {
        match out {
            Output::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Output::Event(e) => events.push(e),
            Output::Close => closed = true,
            Output::StartTls => panic!("no TLS"),
        }
    }
    assert_eq!(
        String::from_utf8(sent).unwrap(),
        "554 5.7.1 listed at dnsbl.test\r\n"
    );
    assert!(closed);
    assert_eq!(events, vec![ServerEvent::Closed(CloseReason::Refused)]);
    assert_eq!(session.poll_timeout(), None);
    // Nothing the client says is read.
    session.feed(now, b"EHLO c.example\r\n");
    assert!(session.poll_output().is_none());
    // A positive reply cannot let a refused client in.
    let ok = Reply::new(smtp_proto::ReplyCode::new(250).unwrap(), None, ["ok"]).unwrap();
    let mut session = ServerSession::refused(config(), now, &ok);
    match session.poll_output() {
        Some(Output::Transmit(bytes)) => assert!(bytes.starts_with(b"554 5.3.2"), "{bytes:?}"),
        other => panic!("{other:?}"),
    }
}
