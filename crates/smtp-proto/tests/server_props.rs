//! ServerSession properties: any chunking of the client's bytes gives the same
//! replies and events; one reply per command, in order; no input panics.
// The tests drive the session, so they own the clock the core must not read.
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use smtp_proto::{Output, Reply, ReplyParser, ServerConfig, ServerEvent, ServerSession};
use std::time::{Duration, Instant};

/// Feeds `chunks`, accepting every decision; returns the bytes sent and the
/// events, with body chunks joined into one so chunking does not show.
fn run(config: &ServerConfig, chunks: &[&[u8]]) -> (Vec<u8>, Vec<ServerEvent>) {
    let t = Instant::now();
    let mut s = ServerSession::new(config.clone(), t);
    let mut sent = Vec::new();
    let mut events: Vec<ServerEvent> = Vec::new();
    let drain = |s: &mut ServerSession, sent: &mut Vec<u8>, events: &mut Vec<ServerEvent>| {
        while let Some(out) = s.poll_output() {
            match out {
                Output::Transmit(b) => sent.extend_from_slice(&b),
                Output::Event(ServerEvent::BodyChunk(c)) => match events.last_mut() {
                    Some(ServerEvent::BodyChunk(prev)) => prev.extend_from_slice(&c),
                    _ => events.push(ServerEvent::BodyChunk(c)),
                },
                Output::Event(e) => {
                    let decision = e.is_decision();
                    events.push(e);
                    if decision {
                        s.accept().unwrap();
                    }
                }
                Output::StartTls | Output::Close => {}
            }
        }
    };
    drain(&mut s, &mut sent, &mut events);
    for c in chunks {
        s.feed(t, c);
        drain(&mut s, &mut sent, &mut events);
    }
    (sent, events)
}

const DIALOGUE: &[u8] = b"EHLO client.example\r\nMAIL FROM:<a@example.org> SIZE=40\r\n\
RCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n";
const BODY: &[u8] =
    b"Subject: x\r\n\r\n..stuffed\r\nline\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<d@example.com>\r\n\
BDAT 7\r\n\r\n.\r\nx\r\nBDAT 0 LAST\r\nNOOP\r\nQUIT\r\n";

fn splits(len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=len, 0..12).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

fn chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts {
        out.push(bytes[start..c].to_vec());
        start = c;
    }
    out.push(bytes[start..].to_vec());
    out
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_replies_and_events(cuts in splits(BODY.len())) {
        // The group up to DATA goes in one piece (DATA ends a group); the rest
        // (content and the next commands) in any chunking.
        let config = ServerConfig::new("mx.example.com").with_reject_early_talkers(false);
        let whole = run(&config, &[DIALOGUE, BODY]);
        let pieces = chunked(BODY, &cuts);
        let mut all: Vec<&[u8]> = vec![DIALOGUE];
        all.extend(pieces.iter().map(Vec::as_slice));
        prop_assert_eq!(run(&config, &all), whole.clone());
        let text = String::from_utf8_lossy(&whole.0).into_owned();
        prop_assert!(text.ends_with("250 2.0.0 Message accepted\r\n250 2.0.0 OK\r\n221 2.0.0 mx.example.com closing connection\r\n"), "{}", text);
    }

    #[test]
    fn one_reply_per_command_in_order(lines in proptest::collection::vec(prop_oneof![
        Just("EHLO c.example"), Just("HELO c.example"), Just("MAIL FROM:<a@b.example>"),
        Just("MAIL FROM:<>"), Just("RCPT TO:<c@d.example>"), Just("RCPT TO:<Postmaster>"),
        Just("RSET"), Just("NOOP"), Just("VRFY x"), Just("EXPN y"), Just("HELP"),
        Just("MAIL FROM:<bad"), Just("RCPT TO:<x@y.example> NOTIFY=BOGUS"), Just("FOO"),
        Just(""), Just("EHLO"), Just("MAIL FROM:<a@b.example> SIZE=99999999999"),
    ], 0..40)) {
        let config = ServerConfig::new("mx.example.com").with_max_errors(1000);
        let t = Instant::now();
        let mut s = ServerSession::new(config, t);
        let mut sent = Vec::new();
        let mut replies = 0usize;
        for (n, line) in lines.iter().enumerate() {
            s.feed(t, format!("{line}\r\n").as_bytes());
            while let Some(out) = s.poll_output() {
                match out {
                    Output::Transmit(b) => sent.extend_from_slice(&b),
                    Output::Event(ServerEvent::Reset | ServerEvent::Closed(_)) => {}
                    Output::Event(_) => s.accept().unwrap(),
                    _ => {}
                }
            }
            // Every command got exactly one complete reply by now.
            let mut parser = ReplyParser::new();
            let mut count = 0;
            for l in sent.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                if parser.push_line(l).unwrap().is_some() {
                    count += 1;
                }
            }
            prop_assert!(parser.is_idle());
            prop_assert_eq!(count, n + 2, "after {:?}", line); // + greeting
            replies = count;
        }
        prop_assert_eq!(replies, if lines.is_empty() { 0 } else { lines.len() + 1 });
    }

    #[test]
    fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8)) {
        let config = ServerConfig::new("mx.example.com")
            .with_reject_early_talkers(false)
            .with_starttls(true);
        let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let (sent, _) = run(&config, &refs);
        // Whatever was sent is a sequence of well-formed replies.
        for l in sent.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            prop_assert!(Reply::parse(&[l, b"\r\n"].concat()).is_ok() || l.get(3) == Some(&b'-'));
        }
    }
}

/// Feeds `chunks` five virtual seconds apart, answering decisions with
/// `policy` and running every deadline that falls before the next chunk, as
/// an adapter's timer would; returns the bytes sent, the events (body chunks
/// joined) and the largest body chunk.
fn run_timed(
    config: &ServerConfig,
    chunks: &[&[u8]],
    policy: fn(&ServerEvent) -> Option<Reply>,
) -> (Vec<u8>, Vec<ServerEvent>, usize) {
    let t0 = Instant::now();
    let mut s = ServerSession::new(config.clone(), t0);
    let mut sent = Vec::new();
    let mut events: Vec<ServerEvent> = Vec::new();
    let mut largest = 0;
    let mut drain = |s: &mut ServerSession| {
        while let Some(out) = s.poll_output() {
            match out {
                Output::Transmit(b) => sent.extend_from_slice(&b),
                Output::Event(ServerEvent::BodyChunk(c)) => {
                    largest = largest.max(c.len());
                    match events.last_mut() {
                        Some(ServerEvent::BodyChunk(prev)) => prev.extend_from_slice(&c),
                        _ => events.push(ServerEvent::BodyChunk(c)),
                    }
                }
                Output::Event(e) => {
                    let answer = e.is_decision().then(|| policy(&e));
                    events.push(e);
                    match answer {
                        Some(None) => s.accept().unwrap(),
                        Some(Some(reply)) => s.reject(reply).unwrap(),
                        None => {}
                    }
                }
                Output::StartTls | Output::Close => {}
            }
        }
    };
    drain(&mut s);
    let mut now = t0;
    for c in chunks.iter().chain(std::iter::once(&&b""[..])) {
        s.feed(now, c);
        drain(&mut s);
        let next = now + Duration::from_secs(5);
        while let Some(deadline) = s.poll_timeout().filter(|&d| d <= next) {
            now = now.max(deadline);
            s.handle_timeout(now);
            drain(&mut s);
        }
        now = next;
    }
    (sent, events, largest)
}

fn reject_wrong_password(e: &ServerEvent) -> Option<Reply> {
    match e {
        ServerEvent::Auth(req) if !req.verify_password("secret") => Some(
            Reply::new(
                smtp_proto::ReplyCode::new(535).unwrap(),
                smtp_proto::EnhancedStatus::new(5, 7, 8),
                ["Authentication credentials invalid"],
            )
            .unwrap(),
        ),
        _ => None,
    }
}

/// Two wrong passwords, commands pipelined behind them, the right one.
const GUESSES: &[u8] = b"EHLO c.example\r\nAUTH PLAIN AHVzZXIAZ3Vlc3M=\r\nNOOP\r\n\
AUTH PLAIN AHVzZXIAZ3Vlc3M=\r\nRSET\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n";

/// A message over the size limit by DATA (dropped, then 552 at the dot), a
/// BDAT chunk over it (552 at once, its octets dropped), then a chunk
/// larger than `max_discard` (552 and close at once).
fn oversized() -> Vec<u8> {
    let mut m =
        b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n".to_vec();
    m.extend_from_slice(&b"0123456789abcdefghijklmnopqrstuvwxyz\r\n".repeat(7));
    m.extend_from_slice(b".\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 50\r\n");
    m.extend_from_slice(&[b'b'; 50]);
    m.extend_from_slice(b"BDAT 80 LAST\r\n");
    m.extend_from_slice(&[b'c'; 80]);
    m.extend_from_slice(
        b"RSET\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 5000\r\n",
    );
    m.extend_from_slice(&[b'd'; 400]);
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn held_auth_failures_do_not_depend_on_chunking(cuts in splits(GUESSES.len())) {
        let config = ServerConfig::new("mx.example.com")
            .with_reject_early_talkers(false)
            .with_auth(vec![smtp_proto::Mechanism::Plain])
            .with_plaintext_auth(true)
            .with_auth_failure_delay(Duration::from_secs(1))
            .with_command_timeout(Duration::from_secs(600));
        let whole = run_timed(&config, &[GUESSES], reject_wrong_password);
        let pieces = chunked(GUESSES, &cuts);
        let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(run_timed(&config, &refs, reject_wrong_password), whole.clone());
        let text = String::from_utf8_lossy(&whole.0).into_owned();
        prop_assert!(text.contains("535 5.7.8 Authentication credentials invalid\r\n250 2.0.0 OK\r\n535 5.7.8"), "{}", text);
        prop_assert!(text.ends_with("235 2.7.0 Authentication successful\r\n250 2.1.0 Sender OK\r\n221 2.0.0 mx.example.com closing connection\r\n"), "{}", text);
    }

    #[test]
    fn refused_content_does_not_depend_on_chunking(cuts in splits(oversized().len())) {
        let config = ServerConfig::new("mx.example.com")
            .with_reject_early_talkers(false)
            .with_max_message_size(Some(100))
            .with_max_discard(300);
        let input = oversized();
        // Content streams out before the session can know that it will be
        // too big, so how much of an aborted message was handed over
        // depends on the reads; MessageAborted tells the application to drop
        // it. Everything else must not depend on them.
        let settled = |(sent, events, _): (Vec<u8>, Vec<ServerEvent>, usize)| {
            let mut kept: Vec<ServerEvent> = Vec::new();
            for e in events {
                if matches!(e, ServerEvent::MessageAborted { .. })
                    && matches!(kept.last(), Some(ServerEvent::BodyChunk(_)))
                {
                    kept.pop();
                }
                kept.push(e);
            }
            (sent, kept)
        };
        let whole = settled(run_timed(&config, &[&input], |_| None));
        let pieces = chunked(&input, &cuts);
        let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(settled(run_timed(&config, &refs, |_| None)), whole.clone());
        let text = String::from_utf8_lossy(&whole.0).into_owned();
        let too_big = "552 5.3.4 Message size exceeds fixed maximum message size\r\n";
        prop_assert!(text.ends_with(&format!(
            "{too_big}250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.0.0 50 octets received\r\n\
             {too_big}250 2.0.0 OK\r\n250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n\
             {too_big}421 4.7.0 mx.example.com refused data too long to skip, closing\r\n"
        )), "{}", text);
    }

    #[test]
    fn body_chunks_stay_bounded_whatever_the_reads(
        cuts in proptest::collection::vec(0..400_000usize, 0..6),
        bdat in any::<bool>(),
    ) {
        let body: Vec<u8> = b"a line of text in a large message body\r\n".iter().copied().cycle().take(400_000).collect();
        let mut input = b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n".to_vec();
        if bdat {
            input.extend_from_slice(b"BDAT 400000 LAST\r\n");
            input.extend_from_slice(&body);
        } else {
            input.extend_from_slice(b"DATA\r\n");
            input.extend_from_slice(&body);
            input.extend_from_slice(b".\r\n");
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c + 100).collect();
        cuts.sort_unstable();
        let config = ServerConfig::new("mx.example.com").with_reject_early_talkers(false);
        let pieces = chunked(&input, &cuts);
        let refs: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
        let (sent, events, largest) = run_timed(&config, &refs, |_| None);
        prop_assert!(largest <= ServerSession::MAX_BODY_CHUNK);
        prop_assert!(events.contains(&ServerEvent::BodyChunk(body)));
        prop_assert!(String::from_utf8_lossy(&sent).ends_with("250 2.0.0 Message accepted\r\n"));
    }
}
