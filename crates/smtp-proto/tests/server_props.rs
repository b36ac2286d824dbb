//! ServerSession properties: any chunking of the client's bytes gives the same
//! replies and events; one reply per command, in order; no input panics.
// The tests drive the session, so they own the clock the core must not read.
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use smtp_proto::{Output, Reply, ReplyParser, ServerConfig, ServerEvent, ServerSession};
use std::time::Instant;

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
