//! What a slow or hostile client can hold of a ServerSession, on a virtual
//! clock: a command line or a body trickled a byte at a time, a session kept
//! alive with NOOPs, guessed passwords, and oversized DATA or BDAT. Each
//! scenario also shows the switch that turns its bound off, so it is seen
//! failing without the rule.
// The tests drive the session, so they own the clock the core must not read.
#![allow(clippy::disallowed_methods)]

mod server_harness;
use server_harness::*;

use smtp_proto::{
    CloseReason, Mechanism, MinimumRate, Output, ServerConfig, ServerEvent, ServerSession, TlsInfo,
};
use std::time::{Duration, Instant};

const TIMED_OUT_LINE: &str = "421 4.4.2 mx.example.com command not completed in time, closing\r\n";

fn ehlo(h: &mut Harness) {
    h.feed(b"EHLO c.example\r\n");
    h.run_until(0.0);
}

/// Feeds `bytes` one octet per `every` seconds from `start`, running the
/// timers in between as an adapter would; stops when the session closes.
fn trickle(h: &mut Harness, start: f64, every: f64, bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        let at = start + every * i as f64;
        out += &h.run_until(at);
        if h.closed {
            return out;
        }
        out += &h.feed_at(at, &[*b]);
        out += &h.run_until(at);
    }
    out
}

#[test]
fn a_command_line_trickled_a_byte_a_second_is_closed_after_command_timeout() {
    let mut h = Harness::new(config());
    ehlo(&mut h);
    let line = [b'x'; 700];
    // The first byte at t=1: the whole line is due at t=61, although every
    // byte restarts the 300 s idle timer.
    let out = trickle(&mut h, 1.0, 1.0, &line);
    assert!(out.ends_with(TIMED_OUT_LINE), "{out}");
    assert_eq!(h.closed_reason(), Some(CloseReason::CommandTimeout));
    assert!(h.closed);
    assert_eq!(h.now, h.t0 + Duration::from_secs(61));

    // Without the rule the idle timer alone never fires: 700 s later the
    // connection is still held (the line was cut at 512 octets and is
    // still being dropped).
    let mut h = Harness::new(config().without_command_timeout());
    ehlo(&mut h);
    let out = trickle(&mut h, 1.0, 1.0, &line);
    assert!(!h.closed, "{out}");
    assert!(out.starts_with("500 5.5.2 Line too long"), "{out}");
}

#[test]
fn a_slow_but_complete_line_passes_and_the_next_line_starts_its_own_clock() {
    let mut h = Harness::new(config().with_command_timeout(Duration::from_secs(60)));
    ehlo(&mut h);
    // NOOP CR LF over 50 s, then another over 50 s: each within its minute.
    let out = trickle(&mut h, 1.0, 10.0, b"NOOP\r\nNOOP\r\n");
    assert_eq!(out, "250 2.0.0 OK\r\n250 2.0.0 OK\r\n");
    assert!(!h.closed);
    // A line pipelined behind a complete one starts when it arrived.
    h.feed_at(200.0, b"RSET\r\nNO");
    assert_eq!(h.next_deadline(), Some(260.0));
    assert_eq!(h.run_until(259.0), "");
    assert_eq!(h.run_until(260.0), TIMED_OUT_LINE);
}

#[test]
fn a_line_being_dropped_for_its_length_is_still_timed() {
    let mut h = Harness::new(config());
    ehlo(&mut h);
    // Over the 512-octet cap at once: reported, then dropped as it comes.
    let out = h.feed_at(1.0, &[b'x'; 600]);
    assert!(out.starts_with("500 5.5.2 Line too long"), "{out}");
    assert_eq!(h.s.buffered_input(), 0);
    let out = trickle(&mut h, 2.0, 1.0, &[b'x'; 100]);
    assert_eq!(out, TIMED_OUT_LINE);
    assert_eq!(h.now, h.t0 + Duration::from_secs(61));
}

#[test]
fn a_sasl_response_line_is_timed_too() {
    let mut h = Harness::new(
        config()
            .with_auth(vec![Mechanism::Login])
            .with_plaintext_auth(true),
    );
    ehlo(&mut h);
    assert_eq!(h.feed_at(1.0, b"AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    let out = trickle(
        &mut h,
        2.0,
        1.0,
        b"dXNlcg==dXNlcg==dXNlcg==dXNlcg==dXNlcg==dXNlcg==dXNlcg==dXNlcg==",
    );
    assert_eq!(out, TIMED_OUT_LINE);
    assert_eq!(h.closed_reason(), Some(CloseReason::CommandTimeout));
}

#[test]
fn a_session_kept_alive_with_noops_ends_at_its_lifetime() {
    let lifetime = Duration::from_secs(600);
    let mut h = Harness::new(config().with_session_lifetime(lifetime));
    ehlo(&mut h);
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    let mut out = String::new();
    for i in 1..40 {
        out += &h.run_until(f64::from(i) * 100.0);
        if h.closed {
            break;
        }
        out += &h.feed_at(f64::from(i) * 100.0, b"NOOP\r\n");
    }
    assert!(
        out.ends_with("421 4.4.2 mx.example.com connection time limit exceeded, closing\r\n"),
        "{out}"
    );
    assert_eq!(h.closed_reason(), Some(CloseReason::LifetimeExceeded));
    assert_eq!(h.now, h.t0 + lifetime);
    // The unfinished transaction is dropped.
    assert!(h.events.contains(&ServerEvent::Reset));

    let mut h = Harness::new(config().without_session_lifetime());
    ehlo(&mut h);
    for i in 1..40 {
        h.run_until(f64::from(i) * 100.0);
        h.feed_at(f64::from(i) * 100.0, b"NOOP\r\n");
    }
    assert!(!h.closed);
}

fn data_ready(config: ServerConfig) -> Harness {
    let mut h = Harness::new(config);
    ehlo(&mut h);
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    assert_eq!(
        h.feed(b"DATA\r\n"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    h.run_until(0.0);
    h
}

#[test]
fn a_body_trickled_a_byte_a_second_is_closed_at_the_rate_floor() {
    let body = [b'y'; 500];
    let mut h = data_ready(config());
    let out = trickle(&mut h, 1.0, 1.0, &body);
    assert_eq!(
        out,
        "421 4.4.2 mx.example.com message data arriving too slowly, closing\r\n"
    );
    assert_eq!(h.closed_reason(), Some(CloseReason::BodyTooSlow));
    // The first window (1024 octets per 60 s) began with the 354.
    assert_eq!(h.now, h.t0 + Duration::from_secs(60));
    assert!(h.events.contains(&ServerEvent::Reset));

    // Without the floor the idle timer alone lets it go on for ever.
    let mut h = data_ready(config().without_min_body_rate());
    trickle(&mut h, 1.0, 1.0, &body);
    assert!(!h.closed);
}

#[test]
fn a_slow_honest_body_passes_the_floor_window_by_window() {
    // 2000 octets a minute for five minutes, in 100-octet lines.
    let rate = MinimumRate::new(1000, Duration::from_secs(60));
    let mut h = data_ready(config().with_min_body_rate(rate));
    let line = [&[b'z'; 98][..], b"\r\n"].concat();
    for i in 0..100 {
        let at = 3.0 * f64::from(i);
        h.run_until(at);
        h.feed_at(at, &line);
    }
    h.run_until(300.0);
    assert_eq!(h.feed_at(300.0, b".\r\n"), "250 2.0.0 Message accepted\r\n");
    assert_eq!(h.bodies().len(), 10_000);
    // Between messages the floor does not apply.
    assert_eq!(h.next_deadline(), Some(300.0));
    h.run_until(300.0);
    assert_eq!(h.next_deadline(), Some(600.0));
}

#[test]
fn tiny_bdat_chunks_do_not_restart_the_rate_window() {
    let mut h = Harness::new(config());
    ehlo(&mut h);
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    let mut out = String::new();
    for i in 0..10 {
        let at = 20.0 * f64::from(i);
        out += &h.run_until(at);
        if h.closed {
            break;
        }
        out += &h.feed_at(at, b"BDAT 1\r\nx");
    }
    assert!(
        out.ends_with("421 4.4.2 mx.example.com message data arriving too slowly, closing\r\n"),
        "{out}"
    );
    assert_eq!(h.now, h.t0 + Duration::from_secs(60));
}

fn auth_harness(config: ServerConfig) -> Harness {
    let mut h = Harness::new(
        config
            .with_auth(vec![Mechanism::Plain, Mechanism::Login])
            .with_plaintext_auth(true),
    );
    h.policy = Box::new(|e| match e {
        ServerEvent::Auth(req) if !req.verify_password("secret") => {
            Some(reply(535, (5, 7, 8), "Authentication credentials invalid"))
        }
        _ => None,
    });
    ehlo(&mut h);
    h
}

/// `\0user\0guess` and `\0user\0secret`.
const WRONG: &[u8] = b"AUTH PLAIN AHVzZXIAZ3Vlc3M=\r\n";
const RIGHT: &[u8] = b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n";
const BAD_PASSWORD: &str = "535 5.7.8 Authentication credentials invalid\r\n";

fn auth_failures(h: &Harness) -> Vec<usize> {
    h.events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::AuthFailed { failures } => Some(*failures),
            _ => None,
        })
        .collect()
}

#[test]
fn failed_auth_is_delayed_growing_and_closes_after_three() {
    let mut h = auth_harness(config());
    // The application answered 535: the reply is held 2 s from the answer
    // (learned at the immediate wake-up poll_timeout asks for).
    assert_eq!(h.feed_at(10.0, WRONG), "");
    assert_eq!(h.next_deadline(), Some(10.0));
    assert_eq!(h.tick_at(10.5), "");
    assert_eq!(h.next_deadline(), Some(12.5));
    assert_eq!(h.tick_at(12.4), "");
    assert_eq!(h.tick_at(12.5), BAD_PASSWORD);
    assert_eq!(h.s.auth_failures(), 1);
    // Then 4 s.
    assert_eq!(h.feed_at(20.0, WRONG), "");
    assert_eq!(h.run_until(23.9), "");
    assert_eq!(h.run_until(24.0), BAD_PASSWORD);
    // The third failure: 8 s, then the 535 and 421 4.7.0.
    assert_eq!(h.feed_at(30.0, WRONG), "");
    assert_eq!(h.run_until(37.9), "");
    assert_eq!(
        h.run_until(38.0),
        "535 5.7.8 Authentication credentials invalid\r\n\
         421 4.7.0 mx.example.com too many failed authentication attempts, closing\r\n"
    );
    assert_eq!(h.closed_reason(), Some(CloseReason::TooManyAuthFailures));
    assert!(h.closed);
    assert_eq!(auth_failures(&h), vec![1, 2, 3]);
    assert_eq!(h.s.auth_failures(), 3);
}

#[test]
fn input_during_the_delay_is_buffered_not_read_and_bounded() {
    let mut h = auth_harness(config());
    assert_eq!(h.feed_at(1.0, WRONG), "");
    h.tick_at(1.0);
    // A pipelined guess waits behind the held reply.
    assert_eq!(h.feed_at(1.5, RIGHT), "");
    let asked = |h: &Harness| {
        h.events
            .iter()
            .filter(|e| matches!(e, ServerEvent::Auth(_)))
            .count()
    };
    assert_eq!(asked(&h), 1);
    assert_eq!(h.s.buffered_input(), RIGHT.len());
    assert_eq!(
        h.run_until(3.0),
        "535 5.7.8 Authentication credentials invalid\r\n235 2.7.0 Authentication successful\r\n"
    );
    assert_eq!(asked(&h), 2);

    // More than max_pending_input while held: closed.
    let mut h = auth_harness(config());
    h.feed_at(1.0, WRONG);
    h.tick_at(1.0);
    let flood = b"NOOP\r\n".repeat(50_000);
    let out = h.feed_at(1.5, &flood);
    assert!(out.ends_with("too much pipelined input\r\n"), "{out}");
    assert_eq!(h.closed_reason(), Some(CloseReason::InputOverflow));
}

#[test]
fn cancelled_and_malformed_exchanges_are_failures_too() {
    let mut h = auth_harness(config().with_auth_failure_delay(Duration::from_secs(1)));
    assert_eq!(h.feed_at(1.0, b"AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(h.feed_at(1.0, b"*\r\n"), "");
    assert_eq!(h.run_until(2.0), "501 5.0.0 Authentication cancelled\r\n");
    assert_eq!(h.feed_at(3.0, b"AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(h.feed_at(3.0, b"not base64!\r\n"), "");
    assert_eq!(h.run_until(5.0), "501 5.5.2 Invalid base64 data\r\n");
    assert_eq!(h.feed_at(6.0, b"AUTH PLAIN\r\n"), "334\r\n");
    // Decodes, but is not "authzid NUL user NUL password".
    assert_eq!(h.feed_at(6.0, b"eHl6\r\n"), "");
    assert_eq!(
        h.run_until(10.0),
        "501 5.5.2 Malformed authentication data\r\n\
         421 4.7.0 mx.example.com too many failed authentication attempts, closing\r\n"
    );
    assert_eq!(auth_failures(&h), vec![1, 2, 3]);
}

#[test]
fn auth_failure_limits_are_configurable_and_count_as_errors() {
    // A temporary refusal (the credential store is down) is no guess.
    let mut h = auth_harness(config());
    h.policy = Box::new(|e| match e {
        ServerEvent::Auth(_) => Some(reply(454, (4, 7, 0), "Try again later")),
        _ => None,
    });
    for _ in 0..5 {
        assert_eq!(h.feed(WRONG), "454 4.7.0 Try again later\r\n");
    }
    assert_eq!(h.s.auth_failures(), 0);

    // Five allowed, no delay.
    let mut h = auth_harness(
        config()
            .with_max_auth_failures(5)
            .with_auth_failure_delay(Duration::ZERO),
    );
    for _ in 0..4 {
        assert_eq!(h.feed(WRONG), BAD_PASSWORD);
    }
    assert!(!h.closed);
    assert!(h
        .feed(WRONG)
        .ends_with("too many failed authentication attempts, closing\r\n"));

    // Each failure is an error: with max_errors 2, one bad command and
    // one failed AUTH close the session.
    let mut h = auth_harness(
        config()
            .with_max_errors(2)
            .without_max_auth_failures()
            .with_auth_failure_delay(Duration::ZERO),
    );
    h.feed(b"FOO\r\n");
    let out = h.feed(WRONG);
    assert_eq!(
        out,
        "535 5.7.8 Authentication credentials invalid\r\n\
         421 4.7.0 mx.example.com too many errors, closing\r\n"
    );
    assert_eq!(h.s.errors(), 2);

    // Without a limit the delay still doubles, up to a minute.
    let mut h = auth_harness(config().without_max_auth_failures().with_max_errors(100));
    let mut t = 0.0;
    for expected in [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0] {
        h.feed_at(t, WRONG);
        h.tick_at(t);
        assert_eq!(h.next_deadline(), Some(t + expected));
        t += expected;
        assert_eq!(h.run_until(t), BAD_PASSWORD);
    }
    assert!(!h.closed);
}

#[test]
fn bdat_beyond_the_size_limit_is_refused_at_once_without_reading_it() {
    let limit = 10 << 20;
    let mut h = Harness::new(config().with_max_message_size(Some(limit)));
    ehlo(&mut h);
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    let out = h.feed(b"BDAT 999999999999 LAST\r\nSubject: x\r\n");
    assert_eq!(
        out,
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n\
         421 4.7.0 mx.example.com refused data too long to skip, closing\r\n"
    );
    assert_eq!(h.closed_reason(), Some(CloseReason::DiscardLimit));
    assert!(h.bodies().is_empty());
    assert_eq!(h.s.buffered_input(), 0);

    // Without MAIL, the same chunk gets 503 and the same end.
    let mut h = Harness::new(config());
    ehlo(&mut h);
    assert!(h
        .feed(b"BDAT 999999999999 LAST\r\n")
        .starts_with("503 5.5.1 Need MAIL command\r\n421 4.7.0"));

    // A refused chunk within max_discard: the 552 comes before its octets
    // (the client need not send them to learn), which are then dropped.
    let mut h = Harness::new(
        config()
            .with_max_message_size(Some(1000))
            .with_max_discard(8000),
    );
    ehlo(&mut h);
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    h.feed(b"RCPT TO:<c@d.example>\r\n");
    assert_eq!(
        h.feed(b"BDAT 5000 LAST\r\n"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(h.feed(&[b'q'; 5000]), "");
    assert_eq!(h.feed(b"RSET\r\n"), "250 2.0.0 OK\r\n");
    assert!(h.bodies().is_empty());
}

#[test]
fn data_beyond_the_size_limit_is_dropped_only_up_to_max_discard() {
    let config = || {
        config()
            .with_max_message_size(Some(1000))
            .with_max_discard(10_000)
    };
    let line = [&[b'a'; 98][..], b"\r\n"].concat();
    // 5000 octets: over the limit, within the discard: a clean 552 at the dot.
    let mut h = data_ready(config());
    assert_eq!(h.feed(&line.repeat(50)), "");
    assert_eq!(
        h.feed(b".\r\n"),
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert!(!h.closed);
    assert!(h.bodies().len() <= 1000);
    // 20 000 octets and counting: refused and closed as soon as the
    // discard is spent, without waiting for the dot.
    let mut h = data_ready(config());
    let out = h.feed(&line.repeat(200));
    assert_eq!(
        out,
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n\
         421 4.7.0 mx.example.com refused data too long to skip, closing\r\n"
    );
    assert_eq!(h.closed_reason(), Some(CloseReason::DiscardLimit));
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, ServerEvent::MessageAborted { .. })));
}

/// Drives a session through 100 MB of body fed in 64 KiB reads, holding no
/// event: returns the octets delivered, the largest event, and the most
/// the session held between reads.
fn stream(bdat: bool) -> (u64, usize, usize) {
    let t = Instant::now();
    let mut s = ServerSession::new(config(), t);
    let (mut delivered, mut largest, mut held) = (0u64, 0usize, 0usize);
    let mut ended = false;
    let mut drain = |s: &mut ServerSession| {
        while let Some(out) = s.poll_output() {
            match out {
                Output::Event(ServerEvent::BodyChunk(c)) => {
                    delivered += c.len() as u64;
                    largest = largest.max(c.len());
                }
                Output::Event(e) if e.is_decision() => {
                    ended |= matches!(e, ServerEvent::MessageEnd { .. });
                    s.accept().unwrap();
                }
                _ => {}
            }
        }
    };
    let total: usize = 100 << 20;
    let mut head =
        b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n".to_vec();
    head.extend_from_slice(
        if bdat {
            format!("BDAT {total} LAST\r\n").into_bytes()
        } else {
            b"DATA\r\n".to_vec()
        }
        .as_slice(),
    );
    for line in head.split_inclusive(|&b| b == b'\n') {
        s.feed(t, line);
        drain(&mut s);
    }
    let line = [&[b'm'; 78][..], b"\r\n"].concat();
    let read: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
    let mut sent = 0;
    while sent < total {
        let n = read.len().min(total - sent);
        s.feed(t, &read[..n]);
        sent += n;
        held = held.max(s.buffered_input());
        drain(&mut s);
    }
    if !bdat {
        s.feed(t, b"\r\n.\r\n");
    }
    drain(&mut s);
    assert!(ended);
    (delivered, largest, held)
}

#[test]
fn a_100_mb_body_streams_through_in_bounded_pieces() {
    for bdat in [false, true] {
        let (delivered, largest, held) = stream(bdat);
        let expected = (100 << 20) + if bdat { 0 } else { 2 };
        assert_eq!(delivered, expected, "bdat {bdat}");
        assert!(largest <= ServerSession::MAX_BODY_CHUNK, "bdat {bdat}");
        assert_eq!(held, 0, "bdat {bdat}");
    }
    // One huge read is handed over in pieces too.
    let mut h = data_ready(config());
    let line = [&[b'm'; 78][..], b"\r\n"].concat();
    h.feed(&line.repeat(20_000));
    let sizes: Vec<usize> = h
        .events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::BodyChunk(c) => Some(c.len()),
            _ => None,
        })
        .collect();
    assert!(sizes.len() >= 25, "{}", sizes.len());
    assert!(sizes.iter().all(|&n| n <= ServerSession::MAX_BODY_CHUNK));
}

#[test]
fn protocol_name_for_the_received_header() {
    let tls = || TlsInfo::new("TLSv1.3", "TLS13_AES_128_GCM_SHA256");
    let mut h = auth_harness(config().with_starttls(true));
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(h.s.protocol_name(), "ESMTP");
    h.feed(b"RSET\r\n");
    h.feed(b"MAIL FROM:<a@b.example> SMTPUTF8\r\n");
    assert!(h.s.is_smtputf8());
    assert_eq!(h.s.protocol_name(), "UTF8SMTP");
    h.feed(b"RSET\r\n");
    h.feed(RIGHT);
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(h.s.protocol_name(), "ESMTPA");
    h.feed(b"RSET\r\n");
    h.feed(b"MAIL FROM:<a@b.example> SMTPUTF8\r\n");
    assert_eq!(h.s.protocol_name(), "UTF8SMTPA");

    let mut h = auth_harness(config().with_starttls(true));
    assert!(h.s.capabilities().starttls());
    assert_eq!(h.feed(b"STARTTLS\r\n"), "220 2.0.0 Ready to start TLS\r\n");
    h.s.tls_established(h.now, tls());
    h.drain();
    assert!(!h.s.capabilities().starttls());
    h.feed(b"EHLO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(h.s.protocol_name(), "ESMTPS");
    h.feed(b"RSET\r\n");
    h.feed(b"MAIL FROM:<a@b.example> SMTPUTF8\r\n");
    assert_eq!(h.s.protocol_name(), "UTF8SMTPS");
    h.feed(b"RSET\r\n");
    assert!(h
        .s
        .capabilities()
        .auth_mechanisms()
        .contains(&Mechanism::Plain));
    h.feed(RIGHT);
    assert!(h.s.capabilities().auth_mechanisms().is_empty());
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(h.s.protocol_name(), "ESMTPSA");
    h.feed(b"RSET\r\n");
    h.feed(b"MAIL FROM:<a@b.example> SMTPUTF8\r\n");
    assert_eq!(h.s.protocol_name(), "UTF8SMTPSA");
    assert_eq!(h.s.mail_params().map(|p| p.smtputf8), Some(true));

    let mut h = Harness::new(config());
    h.feed(b"HELO c.example\r\n");
    h.feed(b"MAIL FROM:<a@b.example>\r\n");
    assert_eq!(h.s.protocol_name(), "SMTP");
}

#[test]
fn a_reply_held_for_a_failed_auth_is_never_lost_to_rearm_or_input() {
    // The answer came; input arrives before the adapter's wake-up: the
    // delay runs from that input.
    let mut h = auth_harness(config());
    assert_eq!(h.feed_at(5.0, WRONG), "");
    assert_eq!(h.feed_at(6.0, b"NOOP\r\n"), "");
    assert_eq!(h.next_deadline(), Some(8.0));
    assert_eq!(h.run_until(8.0), format!("{BAD_PASSWORD}250 2.0.0 OK\r\n"));
}
