//! Whole POP3 dialogues against the session, scripted, with a virtual clock.

mod support;

use pop3_proto::{CloseReason, Event, Pop3Config, Pop3Session, Response, UsageError};
use std::time::{Duration, Instant};
use support::{Harness, Seen};

#[test]
fn greeting() {
    let mut h = Harness::plaintext();
    assert_eq!(h.take(), "+OK pop.example.com POP3 server ready\r\n");
}

#[test]
fn transaction_known_answers() {
    let mut h = Harness::plaintext();
    h.take();
    h.login();
    let size0 = h.messages[0].1.len();
    let size1 = h.messages[1].1.len();
    let total = size0 + size1;
    let script: Vec<(&str, String)> = vec![
        ("STAT", format!("+OK 2 {total}\r\n")),
        (
            "LIST",
            format!("+OK 2 messages ({total} octets)\r\n1 {size0}\r\n2 {size1}\r\n.\r\n"),
        ),
        ("LIST 2", format!("+OK 2 {size1}\r\n")),
        ("LIST 3", "-ERR no such message\r\n".into()),
        ("LIST 0", "-ERR no such message\r\n".into()),
        (
            "UIDL",
            "+OK unique-id listing follows\r\n1 1700000000.M1P1.host\r\n2 1700000001.M2P1.host\r\n.\r\n"
                .into(),
        ),
        ("UIDL 1", "+OK 1 1700000000.M1P1.host\r\n".into()),
        (
            "TOP 1 0",
            "+OK top of message follows\r\nFrom: a@example.org\r\nSubject: one\r\n\r\n.\r\n".into(),
        ),
        (
            "TOP 1 2",
            "+OK top of message follows\r\nFrom: a@example.org\r\nSubject: one\r\n\r\nfirst\r\n..dot line\r\n.\r\n"
                .into(),
        ),
        (
            "RETR 1",
            format!("+OK {size0} octets\r\nFrom: a@example.org\r\nSubject: one\r\n\r\nfirst\r\n..dot line\r\nthird\r\n.\r\n"),
        ),
        ("DELE 1", "+OK message 1 deleted\r\n".into()),
        ("DELE 1", "-ERR no such message\r\n".into()),
        ("RETR 1", "-ERR no such message\r\n".into()),
        ("STAT", format!("+OK 1 {size1}\r\n")),
        (
            "LIST",
            format!("+OK 1 messages ({size1} octets)\r\n2 {size1}\r\n.\r\n"),
        ),
        ("RSET", format!("+OK maildrop has 2 messages ({total} octets)\r\n")),
        ("NOOP", "+OK\r\n".into()),
        ("USER bob", "-ERR command not valid in this state\r\n".into()),
        ("STLS", "-ERR command not valid in this state\r\n".into()),
        ("DELE 2", "+OK message 2 deleted\r\n".into()),
    ];
    for (line, want) in script {
        assert_eq!(h.cmd(line), want, "after {line}");
    }
    assert!(h.removed.is_empty(), "nothing is removed before QUIT");
    assert_eq!(
        h.cmd("QUIT"),
        "+OK pop.example.com POP3 server signing off (1 messages left)\r\n"
    );
    assert_eq!(h.removed, ["1700000001.M2P1.host"]);
    assert_eq!(h.closed_with(), Some(CloseReason::Quit));
    assert_eq!(h.seen.last(), Some(&Seen::Close));
    let update = h.events.iter().find_map(|e| match e {
        Event::Update { deletions } => Some(deletions.clone()),
        _ => None,
    });
    assert_eq!(update.unwrap()[0].index, 1);
}

#[test]
fn authorization_state_errors() {
    let mut h = Harness::plaintext();
    h.take();
    for (line, want) in [
        ("STAT", "-ERR command not valid in this state\r\n"),
        ("NOOP", "-ERR command not valid in this state\r\n"),
        ("PASS x", "-ERR USER first\r\n"),
        (
            "APOP a c4c9334bac560ecc979e58001b3e22fb",
            "-ERR APOP not available\r\n",
        ),
        ("XYZZY", "-ERR unknown command\r\n"),
        ("RETR", "-ERR missing argument\r\n"),
        ("AUTH CRAM-MD5", "-ERR unsupported SASL mechanism\r\n"),
        ("STLS", "-ERR STLS not available\r\n"),
        ("", "-ERR empty command\r\n"),
    ] {
        assert_eq!(h.cmd(line), want, "after {line:?}");
    }
}

#[test]
fn quit_in_authorization_deletes_nothing() {
    let mut h = Harness::plaintext();
    h.take();
    assert_eq!(
        h.cmd("QUIT"),
        "+OK pop.example.com POP3 server signing off\r\n"
    );
    assert!(!h.events.iter().any(|e| matches!(e, Event::Update { .. })));
    assert!(h.session.is_closed());
}

#[test]
fn dropped_connection_never_updates() {
    let mut h = Harness::plaintext();
    h.login();
    h.cmd("DELE 1");
    h.session.feed_eof(h.now);
    h.drain();
    assert_eq!(h.closed_with(), Some(CloseReason::PeerClosed));
    assert!(!h.events.iter().any(|e| matches!(e, Event::Update { .. })));
    assert!(h.removed.is_empty());
}

#[test]
fn failed_update_is_reported() {
    let mut h = Harness::plaintext();
    h.login();
    h.fail_update = true;
    h.cmd("DELE 1");
    assert_eq!(
        h.cmd("QUIT"),
        "-ERR [SYS/TEMP] some deleted messages not removed\r\n"
    );
    assert!(h.session.is_closed());
}

#[test]
fn plaintext_login_needs_tls() {
    let mut h = Harness::new(Pop3Config::new("pop.example.com").with_stls(true));
    h.take();
    let capa = h.cmd("CAPA");
    assert_eq!(
        capa,
        "+OK capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\nIMPLEMENTATION mailwire\r\n.\r\n"
    );
    assert_eq!(
        h.cmd("USER alice"),
        "-ERR [AUTH] plaintext authentication disallowed; use STLS first\r\n"
    );
    assert_eq!(
        h.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA=="),
        "-ERR [AUTH] plaintext authentication disallowed; use STLS first\r\n"
    );
    assert_eq!(h.cmd("AUTH"), "+OK SASL mechanisms follow\r\n.\r\n");
    assert_eq!(h.cmd("STLS"), "+OK begin TLS negotiation\r\n");
    assert!(h.session.is_tls());
    assert!(h.seen.contains(&Seen::StartTls));
    let capa = h.cmd("CAPA");
    assert!(capa.contains("\r\nUSER\r\nSASL PLAIN\r\n"), "{capa}");
    assert!(!capa.contains("STLS"));
    assert_eq!(h.cmd("STLS"), "-ERR TLS already active\r\n");
    h.login();
}

#[test]
fn plaintext_behind_stls_is_refused() {
    let mut h = Harness::new(Pop3Config::new("pop.example.com").with_stls(true));
    h.take();
    h.feed(b"STLS\r\nUSER injected\r\n");
    assert_eq!(
        h.take(),
        "+OK begin TLS negotiation\r\n-ERR plaintext after STLS\r\n"
    );
    assert_eq!(h.closed_with(), Some(CloseReason::StlsViolation));
    assert!(!h.seen.contains(&Seen::StartTls));
}

#[test]
fn plaintext_during_handshake_is_refused() {
    let mut h = Harness::new(Pop3Config::new("pop.example.com").with_stls(true));
    h.auto_tls = false;
    h.take();
    h.cmd("STLS");
    h.feed(b"USER late\r\n");
    assert_eq!(h.closed_with(), Some(CloseReason::StlsViolation));
}

#[test]
fn tls_forgets_user() {
    let mut h = Harness::new(
        Pop3Config::new("pop.example.com")
            .with_stls(true)
            .with_plaintext_auth(true),
    );
    h.take();
    h.cmd("USER alice");
    h.cmd("STLS");
    assert_eq!(h.cmd("PASS secret"), "-ERR USER first\r\n");
}

#[test]
fn sasl_plain_with_initial_response_and_continuation() {
    let mut h = Harness::plaintext();
    h.take();
    // "\0alice\0secret"
    let r = h.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==");
    assert!(r.starts_with("+OK alice's maildrop"), "{r}");
    assert_eq!(h.session.authenticated(), Some("alice"));

    let mut h = Harness::plaintext();
    h.take();
    assert_eq!(h.cmd("AUTH PLAIN"), "+ \r\n");
    let r = h.cmd("AGFsaWNlAHNlY3JldA==");
    assert!(r.starts_with("+OK alice's maildrop"), "{r}");

    let mut h = Harness::plaintext();
    h.take();
    assert_eq!(h.cmd("auth plain"), "+ \r\n");
    assert_eq!(h.cmd("*"), "-ERR authentication cancelled\r\n");
    assert_eq!(h.cmd("AUTH PLAIN"), "+ \r\n");
    assert_eq!(h.cmd("not base64!"), "-ERR invalid base64\r\n");
    assert_eq!(
        h.cmd("AUTH PLAIN bm8gbnVscw=="),
        "-ERR malformed SASL response\r\n"
    );
    assert_eq!(
        h.cmd("AUTH"),
        "+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n"
    );
}

#[test]
fn apop_with_the_rfc_example() {
    let t0 = Instant::now();
    let config = Pop3Config::new("pop.example.com");
    let mut session = Pop3Session::with_apop(config, t0, "<1896.697170952@dbc.mtview.ca.us>");
    let mut sent = Vec::new();
    let mut login = None;
    session.feed(t0, b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    while let Some(out) = session.poll_output() {
        match out {
            pop3_proto::Output::Transmit(b) => sent.extend(b),
            pop3_proto::Output::Event(Event::Login(c)) => login = Some(c),
            _ => {}
        }
    }
    assert!(String::from_utf8(sent).unwrap().starts_with(
        "+OK pop.example.com POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"
    ));
    let creds = login.unwrap();
    assert_eq!(creds.username(), "mrose");
    assert!(creds.verify_password("tanstaaf"));
    assert!(!format!("{creds:?}").contains("c4c9334b"));
}

#[test]
fn refused_logins_are_delayed_then_close() {
    let mut h = Harness::plaintext();
    h.take();
    let t0 = h.now;
    h.cmd("USER alice");
    // The refusal is held back; a command pipelined behind it waits.
    assert_eq!(h.cmd("PASS wrong"), "");
    assert_eq!(h.cmd("NOOP"), "");
    assert_eq!(h.session.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    h.advance(Duration::from_millis(1999));
    assert_eq!(h.take(), "");
    h.advance(Duration::from_millis(1));
    assert_eq!(
        h.take(),
        "-ERR [AUTH] invalid credentials\r\n-ERR command not valid in this state\r\n"
    );
    h.cmd("USER alice");
    h.cmd("PASS wrong");
    h.advance(Duration::from_secs(2));
    assert_eq!(h.take(), "-ERR [AUTH] invalid credentials\r\n");
    h.cmd("USER alice");
    h.cmd("PASS wrong");
    h.advance(Duration::from_secs(2));
    assert_eq!(h.take(), "-ERR [AUTH] invalid credentials\r\n");
    assert_eq!(h.closed_with(), Some(CloseReason::TooManyAuthFailures));
    assert_eq!(h.seen.last(), Some(&Seen::Close));
}

#[test]
fn in_use_is_refused_at_once_and_not_counted() {
    let mut h = Harness::plaintext();
    h.take();
    for _ in 0..5 {
        h.cmd("USER locked");
        assert_eq!(h.cmd("PASS x"), "-ERR [IN-USE] maildrop busy\r\n");
    }
    assert!(!h.session.is_closed());
}

#[test]
fn idle_timeout_closes_without_update() {
    let mut h = Harness::plaintext();
    h.login();
    h.cmd("DELE 1");
    h.take();
    // Answering the login re-armed the timer; settle it.
    h.advance(Duration::ZERO);
    h.advance(Duration::from_secs(599));
    assert_eq!(h.take(), "");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.take(), "-ERR autologout: idle for too long\r\n");
    assert_eq!(h.closed_with(), Some(CloseReason::Timeout));
    assert!(h.removed.is_empty());
}

#[test]
fn too_many_errors_close() {
    let mut h = Harness::new(Pop3Config::new("pop.example.com").with_max_errors(3));
    h.take();
    h.feed(b"BAD1\r\nBAD2\r\nBAD3\r\nBAD4\r\n");
    assert_eq!(
        h.take(),
        "-ERR unknown command\r\n-ERR unknown command\r\n-ERR unknown command\r\n-ERR too many errors\r\n"
    );
    assert_eq!(h.closed_with(), Some(CloseReason::TooManyErrors));
}

#[test]
fn long_lines_are_refused_and_framing_resumes() {
    let mut h = Harness::plaintext();
    h.take();
    let long = format!("USER {}", "a".repeat(300));
    assert_eq!(h.cmd(&long), "-ERR line too long\r\n");
    let huge = "x".repeat(20_000);
    assert_eq!(h.cmd(&huge), "-ERR line too long\r\n");
    assert_eq!(h.cmd("USER alice"), "+OK send PASS\r\n");
    assert_eq!(
        h.cmd("BARE\nNOOP"),
        "-ERR lines must end with CRLF\r\n-ERR command not valid in this state\r\n"
    );
}

#[test]
fn pipelined_commands_answer_in_order() {
    let mut h = Harness::plaintext();
    h.take();
    h.feed(b"USER alice\r\nPASS secret\r\nSTAT\r\nTOP 2 0\r\nUIDL 2\r\nQUIT\r\n");
    let all = h.take();
    let statuses: Vec<&str> = all
        .split("\r\n")
        .filter(|l| l.starts_with("+OK") || l.starts_with("-ERR"))
        .collect();
    assert_eq!(statuses.len(), 6, "{all}");
    assert!(statuses[5].contains("signing off (2 messages left)"));
}

#[test]
fn input_piling_up_while_busy_closes() {
    let mut h = Harness::plaintext();
    h.take();
    h.cmd("USER alice");
    h.cmd("PASS wrong"); // held for two seconds
    for _ in 0..100 {
        h.feed(&[b'N'; 1000]);
        h.feed(b"\r\n");
        if h.session.is_closed() {
            break;
        }
    }
    assert_eq!(h.closed_with(), Some(CloseReason::InputOverflow));
}

#[test]
fn large_message_streams_in_bounded_pieces() {
    let mut h = Harness::plaintext();
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    while body.len() < 20 << 20 {
        body.extend_from_slice(b".a line that starts with a dot and goes on for a while\r\n");
    }
    h.messages[0].1 = body.clone();
    h.chunk = 64 * 1024;
    h.login();
    h.sent.clear();
    h.fresh.clear();
    h.largest_transmit = 0;
    h.cmd("RETR 1");
    // Each chunk's stuffed bytes were polled before the next chunk: no
    // transmission is much larger than one chunk.
    assert!(h.largest_transmit < 2 * 64 * 1024, "{}", h.largest_transmit);
    let status_len = format!("+OK {} octets\r\n", body.len()).len();
    let payload = &h.sent[status_len..h.sent.len() - 3];
    assert_eq!(&h.sent[h.sent.len() - 3..], b".\r\n");
    let unstuffed: Vec<u8> = payload
        .split_inclusive(|&b| b == b'\n')
        .flat_map(|line| line.strip_prefix(b".").unwrap_or(line).to_vec())
        .collect();
    assert_eq!(unstuffed, body);
}

#[test]
fn top_stops_asking_for_bytes() {
    let mut h = Harness::plaintext();
    h.messages[0].1 = [b"Subject: x\r\n\r\n".to_vec(), b"line\r\n".repeat(10_000)].concat();
    h.chunk = 16;
    h.login();
    let r = h.cmd("TOP 1 1");
    assert_eq!(
        r,
        "+OK top of message follows\r\nSubject: x\r\n\r\nline\r\n.\r\n"
    );
}

#[test]
fn verbs_out_of_turn_are_usage_errors() {
    let t0 = Instant::now();
    let mut s = Pop3Session::new(Pop3Config::new("h"), t0);
    assert_eq!(s.accept_login(Vec::new()), Err(UsageError::NotPending));
    assert_eq!(s.reject_login(), Err(UsageError::NotPending));
    assert_eq!(s.message_chunk(b"x"), Err(UsageError::NotPending));
    assert_eq!(s.end_message(), Err(UsageError::NotPending));
    assert_eq!(
        s.fail_message(Response::err("x")),
        Err(UsageError::NotPending)
    );
    assert_eq!(s.accept_update(), Err(UsageError::NotPending));
    assert_eq!(s.reject_update(), Err(UsageError::NotPending));
}

#[test]
fn failing_a_message_before_and_after_the_first_chunk() {
    let t0 = Instant::now();
    let config = Pop3Config::new("h").with_plaintext_auth(true);
    let mut s = Pop3Session::new(config, t0);
    let mut out = Vec::new();
    let poll = |s: &mut Pop3Session, out: &mut Vec<u8>| {
        let mut events = Vec::new();
        while let Some(o) = s.poll_output() {
            match o {
                pop3_proto::Output::Transmit(b) => out.extend(b),
                pop3_proto::Output::Event(e) => events.push(e),
                _ => {}
            }
        }
        events
    };
    poll(&mut s, &mut out);
    s.feed(t0, b"USER a\r\nPASS b\r\n");
    poll(&mut s, &mut out);
    let uid = pop3_proto::Uid::new("u1").unwrap();
    s.accept_login(vec![pop3_proto::MessageInfo { size: 5, uid }])
        .unwrap();
    s.feed(t0, b"RETR 1\r\n");
    poll(&mut s, &mut out);
    out.clear();
    s.fail_message(Response::ok("message vanished")).unwrap();
    poll(&mut s, &mut out);
    assert_eq!(out, b"-ERR message vanished\r\n");
    s.feed(t0, b"RETR 1\r\n");
    poll(&mut s, &mut out);
    s.message_chunk(b"abc").unwrap();
    assert_eq!(
        s.fail_message(Response::err("late")),
        Err(UsageError::AlreadyStarted)
    );
    s.shutdown();
    let events = poll(&mut s, &mut out);
    assert!(events.contains(&Event::Closed(CloseReason::Shutdown)));
    assert!(!String::from_utf8_lossy(&out).ends_with(".\r\n"));
}
