//! Scripted dialogues: a `ClientSession` against server bytes written by
//! hand, with a virtual clock.
// The tests drive the session, so they own the clock the core must not read.
#![allow(clippy::disallowed_methods)]

use smtp_proto::sasl::{encode_base64, ClientCredentials};
use smtp_proto::session::{
    AuthFailure, ClientConfig, ClientError, ClientEvent, ClientSession, Envelope, Output, Phase,
    Recipient, RecipientStatus, TlsInfo, TlsPolicy,
};
use smtp_proto::{Body, Host, Mailbox, Mechanism, Notify, Orcpt, Ret, Secret};
use std::time::{Duration, Instant};

type Out = Output<ClientEvent>;

fn config() -> ClientConfig {
    ClientConfig::new(Host::parse("client.example").unwrap()).with_tls(TlsPolicy::None)
}

fn password() -> ClientCredentials {
    ClientCredentials::Password {
        username: "user".into(),
        password: Secret::new("s3cret".into()),
    }
}

fn mailbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap()
}

fn envelope(to: &[&str]) -> Envelope {
    to.iter()
        .fold(Envelope::new(mailbox("a@example.com").into()), |e, r| {
            e.with_recipient(Recipient::new(mailbox(r)))
        })
}

fn drain(s: &mut ClientSession) -> Vec<Out> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn sent(outs: &[Out]) -> String {
    outs.iter()
        .filter_map(|o| match o {
            Output::Transmit(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

fn events(outs: &[Out]) -> Vec<ClientEvent> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn one(outs: &[Out]) -> ClientEvent {
    match events(outs).as_slice() {
        [event] => event.clone(),
        other => panic!("not one event: {other:?}"),
    }
}

fn failure(outs: &[Out]) -> ClientError {
    assert_eq!(outs.last(), Some(&Output::Close), "{outs:?}");
    match events(outs).last() {
        Some(ClientEvent::Failed(e)) => e.clone(),
        other => panic!("no failure: {other:?}"),
    }
}

/// A session past the greeting and EHLO, outputs drained.
fn ready(config: ClientConfig, ehlo: &str, t0: Instant) -> ClientSession {
    let mut s = ClientSession::new(config, t0);
    s.feed(t0, b"220 mx.example ESMTP\r\n");
    assert_eq!(sent(&drain(&mut s)), "EHLO client.example\r\n");
    s.feed(t0, ehlo.as_bytes());
    let outs = drain(&mut s);
    assert!(
        matches!(events(&outs).as_slice(), [ClientEvent::Ready { .. }]),
        "{outs:?}"
    );
    s
}

const PIPE: &str = "250-mx.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10000\r\n";

#[test]
fn greeting_ehlo_quit() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config(), t0);
    assert!(drain(&mut s).is_empty());
    s.feed(t0, b"220 mx.example ESMTP\r\n");
    assert_eq!(
        drain(&mut s),
        [Output::Transmit(b"EHLO client.example\r\n".to_vec())]
    );
    s.feed(t0, b"250-mx.example hi\r\n250 PIPELINING\r\n");
    let outs = drain(&mut s);
    let ClientEvent::Ready {
        capabilities,
        tls,
        authenticated,
    } = one(&outs)
    else {
        panic!("{outs:?}")
    };
    assert!(capabilities.pipelining());
    assert_eq!((tls, authenticated), (None, None));
    assert!(s.is_ready() && !s.is_tls());
    s.quit().unwrap();
    assert_eq!(sent(&drain(&mut s)), "QUIT\r\n");
    assert!(s.quit().is_err());
    s.feed(t0, b"221 bye\r\n");
    assert_eq!(
        drain(&mut s),
        [Output::Event(ClientEvent::Closed), Output::Close]
    );
}

#[test]
fn ehlo_502_falls_back_to_helo() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config(), t0);
    s.feed(t0, b"220 mx.example\r\n502 5.5.2 what\r\n");
    assert_eq!(
        sent(&drain(&mut s)),
        "EHLO client.example\r\nHELO client.example\r\n"
    );
    s.feed(t0, b"250 mx.example\r\n");
    let outs = drain(&mut s);
    let ClientEvent::Ready { capabilities, .. } = one(&outs) else {
        panic!("{outs:?}")
    };
    assert_eq!(capabilities.server_name(), "mx.example");
    assert!(capabilities.extensions().is_empty());
}

#[test]
fn ehlo_and_helo_refused_keeps_both_replies() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config(), t0);
    s.feed(t0, b"220 mx.example\r\n500 no\r\n501 neither\r\n");
    let outs = drain(&mut s);
    let ClientError::Rejected {
        phase,
        reply,
        ehlo_reply,
    } = failure(&outs)
    else {
        panic!("{outs:?}")
    };
    assert_eq!(phase, Phase::Helo);
    assert_eq!(reply.code().get(), 501);
    assert_eq!(ehlo_reply.unwrap().code().get(), 500);
}

#[test]
fn ehlo_421_is_not_a_reason_for_helo() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config(), t0);
    s.feed(t0, b"220 mx.example\r\n421 4.3.2 shutting down\r\n");
    let outs = drain(&mut s);
    assert_eq!(sent(&outs), "EHLO client.example\r\n");
    assert!(matches!(
        failure(&outs),
        ClientError::ServiceClosing {
            phase: Phase::Ehlo,
            ..
        }
    ));
}

#[test]
fn greeting_421_and_554() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config(), t0);
    s.feed(t0, b"421 mx.example busy\r\n");
    let outs = drain(&mut s);
    let err = failure(&outs);
    assert!(err.to_string().contains("closed the channel"), "{err}");
    assert!(matches!(
        err,
        ClientError::ServiceClosing {
            phase: Phase::Greeting,
            ..
        }
    ));
    let mut s = ClientSession::new(config(), t0);
    s.feed(t0, b"554 go away\r\n");
    assert!(matches!(
        failure(&drain(&mut s)),
        ClientError::Rejected {
            phase: Phase::Greeting,
            ..
        }
    ));
}

#[test]
fn service_closing_after_mail() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.send(envelope(&["b@example.org"])).unwrap();
    drain(&mut s);
    s.feed(t0, b"421 4.7.0 too many errors\r\n");
    let outs = drain(&mut s);
    assert!(matches!(
        failure(&outs),
        ClientError::ServiceClosing {
            phase: Phase::Mail,
            ..
        }
    ));
    assert!(s.send(envelope(&["b@example.org"])).is_err());
}

#[test]
fn starttls_required_but_not_offered() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config().with_tls(TlsPolicy::Required), t0);
    s.feed(
        t0,
        b"220 mx.example\r\n250-mx.example\r\n250 PIPELINING\r\n",
    );
    let outs = drain(&mut s);
    // RFC 5321 §4.1.1.10: QUIT before closing, after an error too.
    assert_eq!(sent(&outs), "EHLO client.example\r\nQUIT\r\n");
    assert_eq!(failure(&outs), ClientError::StartTlsUnavailable);
}

#[test]
fn every_error_with_the_server_still_listening_ends_with_quit() {
    let t0 = Instant::now();
    // A refused greeting, a refused EHLO and HELO, a failed login, a
    // timeout: QUIT, then the failure, then Close.
    let cases: [(&[u8], ClientConfig); 4] = [
        (b"554 5.3.2 go away\r\n", config()),
        (b"220 mx\r\n550 no\r\n", config()),
        (
            b"220 mx\r\n250-mx\r\n250 AUTH PLAIN\r\n535 5.7.8 no\r\n",
            config()
                .with_credentials(password())
                .with_plaintext_auth(true),
        ),
        (b"220 mx\r\n250 mx\r\nxx garbage\r\n", config()),
    ];
    for (wire, config) in cases {
        let mut s = ClientSession::new(config, t0);
        s.feed(t0, wire);
        let outs = drain(&mut s);
        assert!(sent(&outs).ends_with("QUIT\r\n"), "{outs:?}");
        let _ = failure(&outs);
    }
    let mut s = ClientSession::new(config(), t0);
    s.feed(t0, b"220 mx\r\n");
    drain(&mut s);
    s.handle_timeout(t0 + std::time::Duration::from_secs(3600));
    let outs = drain(&mut s);
    assert_eq!(sent(&outs), "QUIT\r\n");
    assert!(matches!(failure(&outs), ClientError::Timeout { .. }));
    // A server that is gone gets nothing.
    let mut s = ClientSession::new(config(), t0);
    s.feed(t0, b"220 mx\r\n");
    drain(&mut s);
    s.feed_eof(t0);
    assert_eq!(sent(&drain(&mut s)), "");
}

#[test]
fn opportunistic_without_starttls_goes_on() {
    let t0 = Instant::now();
    ready(
        config().with_tls(TlsPolicy::Opportunistic),
        "250 mx.example\r\n",
        t0,
    );
}

#[test]
fn starttls_then_ehlo_again() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config().with_tls(TlsPolicy::Required), t0);
    s.feed(t0, b"220 mx.example\r\n");
    drain(&mut s);
    s.feed(t0, b"250-mx.example\r\n250-STARTTLS\r\n250 SIZE 100\r\n");
    assert_eq!(sent(&drain(&mut s)), "STARTTLS\r\n");
    assert!(s.capabilities().unwrap().starttls());
    s.feed(t0, b"220 2.0.0 ready\r\n");
    assert_eq!(drain(&mut s), [Output::StartTls]);
    assert_eq!(
        s.poll_timeout(),
        Some(t0 + Duration::from_secs(120)),
        "the handshake has the STARTTLS timeout"
    );
    s.tls_established(t0, TlsInfo::new("TLSv1.3", "TLS_AES_128_GCM_SHA256"));
    assert!(s.is_tls());
    assert!(s.capabilities().is_none(), "forgotten after STARTTLS");
    assert_eq!(sent(&drain(&mut s)), "EHLO client.example\r\n");
    s.feed(t0, b"250-mx.example\r\n250 SIZE 200\r\n");
    let outs = drain(&mut s);
    let ClientEvent::Ready {
        capabilities, tls, ..
    } = one(&outs)
    else {
        panic!("{outs:?}")
    };
    assert_eq!(capabilities.max_size(), Some(200));
    assert_eq!(tls.as_ref().unwrap().protocol, "TLSv1.3");
}

#[test]
fn plaintext_after_starttls_reply_is_refused() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config().with_tls(TlsPolicy::Required), t0);
    s.feed(t0, b"220 mx.example\r\n250-mx.example\r\n250 STARTTLS\r\n");
    drain(&mut s);
    s.feed(t0, b"220 ready\r\n250-injected\r\n250 AUTH PLAIN\r\n");
    let outs = drain(&mut s);
    assert!(!outs.contains(&Output::StartTls), "{outs:?}");
    assert_eq!(failure(&outs), ClientError::PlaintextAfterStartTls);

    // The same bytes in a later read, before the handshake.
    let mut s = ClientSession::new(config().with_tls(TlsPolicy::Required), t0);
    s.feed(t0, b"220 mx.example\r\n250-mx.example\r\n250 STARTTLS\r\n");
    drain(&mut s);
    s.feed(t0, b"220 ready\r\n");
    assert_eq!(drain(&mut s), [Output::StartTls]);
    s.feed(t0, b"250 injected\r\n");
    assert_eq!(failure(&drain(&mut s)), ClientError::PlaintextAfterStartTls);
}

/// Implicit TLS, with credentials: past the EHLO.
fn auth_session(creds: ClientCredentials, ehlo: &str, t0: Instant) -> (ClientSession, Vec<Out>) {
    let mut s = ClientSession::new(
        config()
            .with_tls(TlsPolicy::Implicit)
            .with_credentials(creds),
        t0,
    );
    s.tls_established(t0, TlsInfo::new("TLSv1.3", "x"));
    assert!(s.is_tls());
    s.feed(t0, b"220 mx.example\r\n");
    drain(&mut s);
    s.feed(t0, ehlo.as_bytes());
    let outs = drain(&mut s);
    (s, outs)
}

fn authenticated(outs: &[Out]) -> Option<Mechanism> {
    match events(outs).as_slice() {
        [ClientEvent::Ready { authenticated, .. }] => authenticated.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn auth_plain_with_initial_response() {
    let t0 = Instant::now();
    let (mut s, outs) = auth_session(password(), "250-mx\r\n250 AUTH LOGIN PLAIN\r\n", t0);
    assert_eq!(sent(&outs), "AUTH PLAIN AHVzZXIAczNjcmV0\r\n");
    assert!(!format!("{s:?}").contains("s3cret"));
    s.feed(t0, b"235 2.7.0 ok\r\n");
    assert_eq!(authenticated(&drain(&mut s)), Some(Mechanism::Plain));
}

#[test]
fn auth_login() {
    let t0 = Instant::now();
    let (mut s, outs) = auth_session(password(), "250-mx\r\n250 AUTH LOGIN\r\n", t0);
    assert_eq!(sent(&outs), "AUTH LOGIN\r\n");
    s.feed(t0, b"334 VXNlcm5hbWU6\r\n");
    assert_eq!(sent(&drain(&mut s)), "dXNlcg==\r\n");
    s.feed(t0, b"334 UGFzc3dvcmQ6\r\n");
    assert_eq!(sent(&drain(&mut s)), "czNjcmV0\r\n");
    s.feed(t0, b"235 ok\r\n");
    assert_eq!(authenticated(&drain(&mut s)), Some(Mechanism::Login));
}

#[test]
fn auth_cram_md5_rfc2195_example() {
    let t0 = Instant::now();
    let creds = ClientCredentials::Password {
        username: "tim".into(),
        password: Secret::new("tanstaaftanstaaf".into()),
    };
    let (mut s, outs) = auth_session(creds, "250-mx\r\n250 AUTH PLAIN CRAM-MD5\r\n", t0);
    assert_eq!(sent(&outs), "AUTH CRAM-MD5\r\n");
    s.feed(
        t0,
        b"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
    );
    assert_eq!(
        sent(&drain(&mut s)),
        "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"
    );
    s.feed(t0, b"235 ok\r\n");
    assert_eq!(authenticated(&drain(&mut s)), Some(Mechanism::CramMd5));
}

fn oauth(token: &str) -> ClientCredentials {
    ClientCredentials::OAuth2 {
        username: "u@example.com".into(),
        token: Secret::new(token.into()),
    }
}

#[test]
fn auth_xoauth2_and_its_error_details() {
    let t0 = Instant::now();
    let (mut s, outs) = auth_session(oauth("tok"), "250-mx\r\n250 AUTH PLAIN XOAUTH2\r\n", t0);
    let ir = encode_base64(b"user=u@example.com\x01auth=Bearer tok\x01\x01");
    assert_eq!(sent(&outs), format!("AUTH XOAUTH2 {ir}\r\n"));
    s.feed(t0, b"235 ok\r\n");
    assert_eq!(authenticated(&drain(&mut s)), Some(Mechanism::XOAuth2));

    let (mut s, _) = auth_session(oauth("tok"), "250-mx\r\n250 AUTH XOAUTH2\r\n", t0);
    let json = encode_base64(br#"{"status":"400"}"#);
    s.feed(t0, format!("334 {json}\r\n").as_bytes());
    assert_eq!(sent(&drain(&mut s)), "\r\n");
    s.feed(t0, b"535 5.7.8 Username and Password not accepted\r\n");
    let ClientError::AuthFailed { kind, details, .. } = failure(&drain(&mut s)) else {
        panic!()
    };
    assert_eq!(kind, AuthFailure::InvalidCredentials);
    assert_eq!(details.as_deref(), Some(r#"{"status":"400"}"#));
}

#[test]
fn long_initial_response_waits_for_334() {
    let t0 = Instant::now();
    let token = "t".repeat(600);
    let (mut s, outs) = auth_session(oauth(&token), "250-mx\r\n250 AUTH XOAUTH2\r\n", t0);
    assert_eq!(sent(&outs), "AUTH XOAUTH2\r\n");
    s.feed(t0, b"334 \r\n");
    let ir = encode_base64(format!("user=u@example.com\x01auth=Bearer {token}\x01\x01").as_bytes());
    assert_eq!(sent(&drain(&mut s)), format!("{ir}\r\n"));
}

#[test]
fn a_stripped_starttls_sends_no_credentials_of_any_mechanism() {
    let t0 = Instant::now();
    for (mechanisms, creds) in [
        ("CRAM-MD5", password()),
        ("PLAIN LOGIN", password()),
        ("XOAUTH2", oauth("tok")),
    ] {
        // The attacker removed STARTTLS from the EHLO reply.
        let ehlo = format!("220 mx\r\n250-mx\r\n250 AUTH {mechanisms}\r\n");
        let config = config()
            .with_tls(TlsPolicy::Opportunistic)
            .with_credentials(creds.clone());
        let mut s = ClientSession::new(config.clone(), t0);
        s.feed(t0, ehlo.as_bytes());
        let outs = drain(&mut s);
        assert_eq!(failure(&outs), ClientError::StartTlsMissingForAuth);
        assert!(!sent(&outs).contains("AUTH"), "{mechanisms}");
        // A refused STARTTLS is the same.
        let mut s = ClientSession::new(config.clone(), t0);
        s.feed(
            t0,
            format!("220 mx\r\n250-mx\r\n250-STARTTLS\r\n250 AUTH {mechanisms}\r\n").as_bytes(),
        );
        assert!(sent(&drain(&mut s)).ends_with("STARTTLS\r\n"));
        s.feed(t0, b"454 4.7.0 TLS not available\r\n");
        let outs = drain(&mut s);
        assert_eq!(failure(&outs), ClientError::StartTlsMissingForAuth);
        assert!(!sent(&outs).contains("AUTH"), "{mechanisms}");
        // Allowed explicitly, CRAM-MD5 goes ahead.
        if mechanisms == "CRAM-MD5" {
            let mut s = ClientSession::new(config.with_plaintext_auth(true), t0);
            s.feed(t0, ehlo.as_bytes());
            assert!(sent(&drain(&mut s)).ends_with("AUTH CRAM-MD5\r\n"));
        }
    }
}

#[test]
fn auth_over_plaintext_needs_permission() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config().with_credentials(password()), t0);
    s.feed(t0, b"220 mx\r\n250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    let outs = drain(&mut s);
    assert_eq!(failure(&outs), ClientError::AuthNeedsTls);
    assert!(!sent(&outs).contains("AUTH"));

    let mut s = ClientSession::new(
        config()
            .with_credentials(password())
            .with_plaintext_auth(true),
        t0,
    );
    s.feed(t0, b"220 mx\r\n250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
    assert!(sent(&drain(&mut s)).ends_with("AUTH PLAIN AHVzZXIAczNjcmV0\r\n"));

    let mut s = ClientSession::new(config().with_credentials(password()), t0);
    s.feed(t0, b"220 mx\r\n250-mx\r\n250 PIPELINING\r\n");
    assert_eq!(
        failure(&drain(&mut s)),
        ClientError::AuthUnavailable { offered: vec![] }
    );
}

#[test]
fn auth_failures_are_told_apart() {
    let t0 = Instant::now();
    for (code, kind) in [
        (535, AuthFailure::InvalidCredentials),
        (534, AuthFailure::MechanismTooWeak),
        (538, AuthFailure::EncryptionRequired),
        (454, AuthFailure::Temporary),
    ] {
        let (mut s, _) = auth_session(password(), "250-mx\r\n250 AUTH PLAIN\r\n", t0);
        s.feed(t0, format!("{code} no\r\n").as_bytes());
        let outs = drain(&mut s);
        let err = failure(&outs);
        let ClientError::AuthFailed {
            kind: got,
            mechanism,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((*got, mechanism), (kind, &Mechanism::Plain));
        assert!(err.to_string().contains(kind.explanation()));
        assert!(!format!("{outs:?}").contains("AHVzZXIAczNjcmV0"));
    }
}

#[test]
fn pipelined_transaction_with_one_recipient_refused() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.send(envelope(&[
        "b@example.org",
        "c@example.org",
        "d@example.org",
    ]))
    .unwrap();
    let outs = drain(&mut s);
    assert_eq!(
        outs,
        [Output::Transmit(
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n\
              RCPT TO:<d@example.org>\r\nDATA\r\n"
                .to_vec()
        )]
    );
    s.feed(
        t0,
        b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n250 2.1.5 ok\r\n354 go\r\n",
    );
    assert_eq!(drain(&mut s), [Output::Event(ClientEvent::SendBody)]);
    s.send_body(b"Subject: t\n\n.hidden\n").unwrap();
    s.end_body().unwrap();
    assert_eq!(sent(&drain(&mut s)), "Subject: t\r\n\r\n..hidden\r\n.\r\n");
    s.feed(t0, b"250 2.0.0 Ok: queued as 4F2A1C\r\n");
    let outs = drain(&mut s);
    let ClientEvent::Delivered(report) = one(&outs) else {
        panic!("{outs:?}")
    };
    assert_eq!(report.queue_id.as_deref(), Some("4F2A1C"));
    assert_eq!(report.mail_reply.as_ref().unwrap().code().get(), 250);
    let codes: Vec<_> = report
        .recipients
        .iter()
        .map(|(p, st)| match st {
            RecipientStatus::Accepted(r) => (p.to_string(), true, r.code().get()),
            RecipientStatus::Rejected(r) => (p.to_string(), false, r.code().get()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("<b@example.org>".to_string(), true, 250),
            ("<c@example.org>".to_string(), false, 550),
            ("<d@example.org>".to_string(), true, 250)
        ]
    );
    assert_eq!(report.accepted().count(), 2);
}

#[test]
fn every_recipient_refused_but_data_accepted_sends_empty_body() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.send(envelope(&["b@example.org", "c@example.org"]))
        .unwrap();
    drain(&mut s);
    s.feed(t0, b"250 ok\r\n550 no\r\n550 no\r\n354 go\r\n");
    let outs = drain(&mut s);
    assert_eq!(outs, [Output::Transmit(b".\r\n".to_vec())]);
    assert!(s.send_body(b"x").is_err());
    s.feed(t0, b"554 5.5.1 no valid recipients\r\n");
    let outs = drain(&mut s);
    let ClientEvent::TransactionFailed(report) = one(&outs) else {
        panic!("{outs:?}")
    };
    assert_eq!(report.final_reply.as_ref().unwrap().code().get(), 554);
    assert_eq!(report.queue_id, None);
    assert_eq!(sent(&outs), "RSET\r\n");
}

#[test]
fn without_pipelining_one_command_at_a_time() {
    let t0 = Instant::now();
    let mut s = ready(config(), "250-mx\r\n250 8BITMIME\r\n", t0);
    s.send(envelope(&["b@example.org", "c@example.org"]))
        .unwrap();
    assert_eq!(sent(&drain(&mut s)), "MAIL FROM:<a@example.com>\r\n");
    s.feed(t0, b"250 ok\r\n");
    assert_eq!(sent(&drain(&mut s)), "RCPT TO:<b@example.org>\r\n");
    s.feed(t0, b"250 ok\r\n");
    assert_eq!(sent(&drain(&mut s)), "RCPT TO:<c@example.org>\r\n");
    s.feed(t0, b"450 later\r\n");
    assert_eq!(sent(&drain(&mut s)), "DATA\r\n");
    s.feed(t0, b"354 go\r\n");
    assert_eq!(drain(&mut s), [Output::Event(ClientEvent::SendBody)]);
    s.send_body(b"hi").unwrap();
    s.end_body().unwrap();
    assert_eq!(sent(&drain(&mut s)), "hi\r\n.\r\n");
    s.quit().unwrap();
    assert!(drain(&mut s).is_empty(), "QUIT waits for the final reply");
    s.feed(t0, b"250 OK id=1rXyz-000abc-12\r\n");
    let outs = drain(&mut s);
    let ClientEvent::Delivered(report) = one(&outs) else {
        panic!("{outs:?}")
    };
    assert_eq!(report.queue_id.as_deref(), Some("1rXyz-000abc-12"));
    assert_eq!(sent(&outs), "QUIT\r\n");
}

#[test]
fn bdat_with_chunking() {
    let t0 = Instant::now();
    let mut s = ready(
        config(),
        "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n",
        t0,
    );
    s.send(envelope(&["b@example.org"])).unwrap();
    assert_eq!(
        sent(&drain(&mut s)),
        "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
    );
    s.feed(t0, b"250 ok\r\n250 ok\r\n");
    assert_eq!(drain(&mut s), [Output::Event(ClientEvent::SendBody)]);
    s.send_body(b"a\nb\r").unwrap();
    s.send_body(b"\nc\r").unwrap();
    s.end_body().unwrap();
    // Each chunk waits for the next, so the last one carries LAST: one
    // reply fewer than a separate `BDAT 0 LAST`.
    assert_eq!(
        sent(&drain(&mut s)),
        "BDAT 5\r\na\r\nb\rBDAT 4 LAST\r\n\nc\r\n"
    );
    s.feed(
        t0,
        b"250 ok\r\n250 2.0.0 OK  1700000000 a1-20020a17 - gsmtp\r\n",
    );
    let outs = drain(&mut s);
    let ClientEvent::Delivered(report) = one(&outs) else {
        panic!("{outs:?}")
    };
    assert_eq!(report.queue_id.as_deref(), Some("a1-20020a17"));
}

#[test]
fn size_above_the_server_limit_is_refused_before_sending() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    assert_eq!(
        s.send(envelope(&["b@example.org"]).with_size(20_000)),
        Err(ClientError::MessageTooBig {
            size: 20_000,
            limit: 10_000
        })
    );
    assert!(drain(&mut s).is_empty());
    s.send(envelope(&["b@example.org"]).with_size(500)).unwrap();
    assert!(sent(&drain(&mut s)).starts_with("MAIL FROM:<a@example.com> SIZE=500\r\n"));
}

#[test]
fn missing_extensions_are_errors_not_downgrades() {
    let t0 = Instant::now();
    let mut s = ready(config(), "250-mx\r\n250 PIPELINING\r\n", t0);
    let utf8 = Envelope::new(mailbox("a@example.com").into()).with_recipient(Recipient::new(
        Mailbox::parse_utf8("用户@example.org").unwrap(),
    ));
    assert_eq!(
        s.send(utf8.clone()),
        Err(ClientError::ExtensionMissing("SMTPUTF8"))
    );
    assert_eq!(
        s.send(envelope(&["b@example.org"]).with_body(Body::EightBitMime)),
        Err(ClientError::ExtensionMissing("8BITMIME"))
    );
    assert_eq!(
        s.send(envelope(&["b@example.org"]).with_body(Body::BinaryMime)),
        Err(ClientError::ExtensionMissing("BINARYMIME"))
    );
    assert_eq!(
        s.send(envelope(&["b@example.org"]).with_dsn_ret(Ret::Full)),
        Err(ClientError::ExtensionMissing("DSN"))
    );
    assert!(drain(&mut s).is_empty());

    let mut s = ready(config(), "250-mx\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n", t0);
    s.send(utf8.with_body(Body::EightBitMime)).unwrap();
    assert_eq!(
        sent(&drain(&mut s)),
        "MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8\r\n"
    );
}

#[test]
fn dsn_parameters() {
    let t0 = Instant::now();
    let mut s = ready(config(), "250-mx\r\n250-PIPELINING\r\n250 DSN\r\n", t0);
    let env = Envelope::new(mailbox("a@example.com").into())
        .with_recipient(
            Recipient::new(mailbox("b@example.org"))
                .with_notify(Notify::on(true, true, false).unwrap())
                .with_orcpt(Orcpt::new("rfc822", "b@example.org").unwrap()),
        )
        .with_dsn_ret(Ret::Headers)
        .with_dsn_envid("QQ314159");
    s.send(env).unwrap();
    assert_eq!(
        sent(&drain(&mut s)),
        "MAIL FROM:<a@example.com> RET=HDRS ENVID=QQ314159\r\n\
         RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org\r\nDATA\r\n"
    );
}

#[test]
fn next_transaction_rides_with_the_end_of_data() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.send(envelope(&["b@example.org"])).unwrap();
    drain(&mut s);
    s.feed(t0, b"250 ok\r\n250 ok\r\n354 go\r\n");
    drain(&mut s);
    s.send_body(b"one\r\n").unwrap();
    s.end_body().unwrap();
    s.send(envelope(&["c@example.org"])).unwrap();
    assert_eq!(
        drain(&mut s),
        [Output::Transmit(
            b"one\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
                .to_vec()
        )]
    );
    s.feed(t0, b"250 queued as A1\r\n250 ok\r\n250 ok\r\n354 go\r\n");
    let outs = drain(&mut s);
    assert!(matches!(
        events(&outs).as_slice(),
        [ClientEvent::Delivered(_), ClientEvent::SendBody]
    ));
    s.end_body().unwrap();
    assert_eq!(sent(&drain(&mut s)), ".\r\n");
    s.feed(t0, b"250 queued as B2\r\n");
    let outs = drain(&mut s);
    let ClientEvent::Delivered(report) = one(&outs) else {
        panic!("{outs:?}")
    };
    assert_eq!(report.queue_id.as_deref(), Some("B2"));
}

#[test]
fn rset_after_a_failed_transaction_then_the_next_one() {
    let t0 = Instant::now();
    let mut s = ready(config(), "250 mx\r\n", t0);
    s.send(envelope(&["b@example.org"])).unwrap();
    assert_eq!(sent(&drain(&mut s)), "MAIL FROM:<a@example.com>\r\n");
    s.send(envelope(&["c@example.org"])).unwrap();
    assert!(drain(&mut s).is_empty(), "queued behind the first");
    s.feed(t0, b"550 5.7.1 sender refused\r\n");
    let outs = drain(&mut s);
    let ClientEvent::TransactionFailed(report) = one(&outs) else {
        panic!("{outs:?}")
    };
    assert_eq!(report.mail_reply.as_ref().unwrap().code().get(), 550);
    assert_eq!(report.recipients[0].1, RecipientStatus::NotTried);
    assert_eq!(sent(&outs), "RSET\r\n");
    s.feed(t0, b"250 ok\r\n");
    assert_eq!(sent(&drain(&mut s)), "MAIL FROM:<a@example.com>\r\n");
}

#[test]
fn greeting_timeout() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config(), t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(300)));
    s.handle_timeout(t0 + Duration::from_secs(299));
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(t0 + Duration::from_secs(300));
    assert_eq!(
        failure(&drain(&mut s)),
        ClientError::Timeout {
            phase: Phase::Greeting
        }
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn end_of_data_timeout() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.send(envelope(&["b@example.org"])).unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(300)));
    let t1 = t0 + Duration::from_secs(10);
    s.feed(t1, b"250 ok\r\n250 ok\r\n354 go\r\n");
    drain(&mut s);
    assert_eq!(s.poll_timeout(), None, "the body is the application's turn");
    s.end_body().unwrap();
    assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(600)));
    s.handle_timeout(t1 + Duration::from_secs(600));
    assert_eq!(
        failure(&drain(&mut s)),
        ClientError::Timeout {
            phase: Phase::EndOfData
        }
    );
}

#[test]
fn eof_mid_transaction() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.send(envelope(&["b@example.org"])).unwrap();
    drain(&mut s);
    s.feed(t0, b"250 ok\r\n");
    s.feed_eof(t0);
    assert_eq!(
        failure(&drain(&mut s)),
        ClientError::ConnectionClosed { phase: Phase::Rcpt }
    );
}

#[test]
fn eof_after_quit_is_a_clean_close() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.quit().unwrap();
    drain(&mut s);
    s.feed_eof(t0);
    assert_eq!(
        drain(&mut s),
        [Output::Event(ClientEvent::Closed), Output::Close]
    );
}

#[test]
fn smtp_sink_style_ehlo() {
    let t0 = Instant::now();
    let mut s = ready(
        config(),
        "250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 \r\n",
        t0,
    );
    let caps = s.capabilities().unwrap();
    assert!(caps.pipelining() && !caps.size_advertised() && !caps.starttls());
    assert!(!caps.smtputf8() && !caps.chunking());
    s.send(envelope(&["b@example.org"]).with_size(123)).unwrap();
    assert_eq!(
        sent(&drain(&mut s)),
        "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    );
}

#[test]
fn unsolicited_and_malformed_replies_end_the_session() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.feed(t0, b"250 surprise\r\n");
    assert!(matches!(
        failure(&drain(&mut s)),
        ClientError::Unsolicited(_)
    ));

    let mut s = ready(config(), PIPE, t0);
    s.feed(t0, b"421 4.4.2 idle too long\r\n");
    assert!(matches!(
        failure(&drain(&mut s)),
        ClientError::ServiceClosing {
            phase: Phase::Idle,
            ..
        }
    ));

    let mut s = ClientSession::new(config(), t0);
    s.feed(t0, b"22O hello\r\n");
    assert!(matches!(
        failure(&drain(&mut s)),
        ClientError::BadReply {
            phase: Phase::Greeting,
            ..
        }
    ));
}

#[test]
fn verbs_in_the_wrong_state_are_usage_errors() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(config(), t0);
    assert!(matches!(
        s.send(envelope(&["b@example.org"])),
        Err(ClientError::Usage(_))
    ));
    assert!(matches!(s.send_body(b"x"), Err(ClientError::Usage(_))));
    assert!(matches!(s.end_body(), Err(ClientError::Usage(_))));
    let mut s = ready(config(), PIPE, t0);
    assert!(matches!(s.send(envelope(&[])), Err(ClientError::Usage(_))));
}

#[test]
fn chunking_without_pipelining_streams_with_data_unless_binary() {
    let t0 = Instant::now();
    let ehlo = "250-mx\r\n250-CHUNKING\r\n250 BINARYMIME\r\n";
    let mut s = ready(config(), ehlo, t0);
    s.send(envelope(&["b@example.org"])).unwrap();
    s.feed(t0, b"250 ok\r\n250 ok\r\n");
    assert_eq!(
        sent(&drain(&mut s)),
        "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
    );

    let mut s = ready(config(), ehlo, t0);
    s.send(envelope(&["b@example.org"]).with_body(Body::BinaryMime))
        .unwrap();
    s.feed(t0, b"250 ok\r\n250 ok\r\n");
    let outs = drain(&mut s);
    assert_eq!(
        sent(&outs),
        "MAIL FROM:<a@example.com> BODY=BINARYMIME\r\nRCPT TO:<b@example.org>\r\n"
    );
    assert_eq!(events(&outs), [ClientEvent::SendBody]);
    s.send_body(b"a\n").unwrap();
    s.send_body(b"\0b").unwrap();
    assert!(drain(&mut s).is_empty(), "held until the end");
    s.end_body().unwrap();
    assert_eq!(sent(&drain(&mut s)), "BDAT 4 LAST\r\na\n\0b");
}

#[test]
fn pipelined_mail_refusal_waits_for_every_reply_then_rsets() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.send(envelope(&["b@example.org"])).unwrap();
    drain(&mut s);
    s.feed(t0, b"550 5.7.1 sender refused\r\n503 5.5.1 need MAIL\r\n");
    assert!(drain(&mut s).is_empty(), "DATA's reply is still to come");
    s.send(envelope(&["c@example.org"])).unwrap();
    assert!(drain(&mut s).is_empty(), "queued behind the failing one");
    s.feed(t0, b"503 5.5.1 need RCPT\r\n");
    let outs = drain(&mut s);
    let ClientEvent::TransactionFailed(report) = &events(&outs)[0] else {
        panic!("{outs:?}")
    };
    assert_eq!(report.final_reply.as_ref().unwrap().code().get(), 503);
    assert!(matches!(
        report.recipients[0].1,
        RecipientStatus::Rejected(_)
    ));
    assert_eq!(
        sent(&outs),
        "RSET\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
    );
}

#[test]
fn data_refused_is_a_failed_transaction() {
    let t0 = Instant::now();
    let mut s = ready(config(), PIPE, t0);
    s.send(envelope(&["b@example.org"])).unwrap();
    drain(&mut s);
    s.feed(t0, b"250 ok\r\n250 ok\r\n554 5.3.0 no\r\n");
    let outs = drain(&mut s);
    let ClientEvent::TransactionFailed(report) = one(&outs) else {
        panic!("{outs:?}")
    };
    assert_eq!(report.final_reply.unwrap().code().get(), 554);
    assert_eq!(sent(&outs), "RSET\r\n");
    s.feed(t0, b"250 ok\r\n");
    assert!(s.is_ready());
}

#[test]
fn starttls_then_auth() {
    let t0 = Instant::now();
    let mut s = ClientSession::new(
        config()
            .with_tls(TlsPolicy::Required)
            .with_credentials(password()),
        t0,
    );
    s.feed(
        t0,
        b"220 mx\r\n250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n",
    );
    assert_eq!(sent(&drain(&mut s)), "EHLO client.example\r\nSTARTTLS\r\n");
    s.feed(t0, b"220 go\r\n");
    drain(&mut s);
    s.tls_established(t0, TlsInfo::new("TLSv1.3", "x"));
    s.feed(t0, b"250-mx\r\n250 AUTH PLAIN\r\n");
    assert_eq!(
        sent(&drain(&mut s)),
        "EHLO client.example\r\nAUTH PLAIN AHVzZXIAczNjcmV0\r\n"
    );
    s.feed(t0, b"235 ok\r\n");
    assert_eq!(authenticated(&drain(&mut s)), Some(Mechanism::Plain));
}
