//! RFC example dialogues played against each session alone: the server answers
//! the RFC's client lines with the RFC's reply codes, and the client, fed the
//! RFC's server lines, sends exactly the RFC's client lines.

// The tests drive the sessions, so they own the clock the core must not read.
#![allow(clippy::disallowed_methods)]

use smtp_proto::{
    ClientConfig, ClientEvent, ClientSession, EnhancedStatus, Envelope, Mailbox, Output, Recipient,
    Reply, ReplyCode, ReplyParser, ServerConfig, ServerEvent, ServerSession, TlsPolicy,
};
use std::time::Instant;

/// RFC 5321 Appendix D.1.
const D1: &str = include_str!("../../../tests/transcripts/rfc5321-d1.txt");

/// RFC 2920 §3.1 (pipelined); the client groups MAIL, RCPT and DATA.
const RFC2920: &str = include_str!("../../../tests/transcripts/rfc2920.txt");

/// RFC 2920 §3.1 as our client speaks it: QUIT waits for the reply to the end
/// of data instead of riding behind it (RFC 2920 allows either), so a failed
/// delivery can still be reported before the session ends.
const RFC2920_CLIENT: &str =
    include_str!("../../../tests/transcripts/rfc2920-quit-after-reply.txt");

/// Consecutive lines of one side, joined with CRLF: one write each.
fn rounds(text: &str) -> Vec<(char, Vec<u8>)> {
    let mut out: Vec<(char, Vec<u8>)> = Vec::new();
    for line in text.lines() {
        let Some((side, rest)) = line.split_once(':') else {
            continue;
        };
        let side = match side {
            "C" => 'C',
            "S" => 'S',
            _ => continue,
        };
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match out.last_mut() {
            Some((s, bytes)) if *s == side => {
                bytes.extend_from_slice(rest.as_bytes());
                bytes.extend_from_slice(b"\r\n");
            }
            _ => out.push((side, [rest.as_bytes(), b"\r\n"].concat())),
        }
    }
    out
}

fn codes(bytes: &[u8]) -> Vec<u16> {
    let mut parser = ReplyParser::new();
    let mut codes = Vec::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(reply) = parser.push_line(line).unwrap() {
            codes.push(reply.code().get());
        }
    }
    codes
}

/// The server session answers the transcript's client rounds with the
/// transcript's reply codes.
fn server_replays(text: &str) {
    let now = Instant::now();
    let mut server = ServerSession::new(ServerConfig::new("foo.com"), now);
    let mut sent = Vec::new();
    let mut expected = Vec::new();
    let drain = |server: &mut ServerSession, sent: &mut Vec<u8>| {
        while let Some(out) = server.poll_output() {
            match out {
                Output::Transmit(b) => sent.extend_from_slice(&b),
                Output::Event(ServerEvent::RcptTo { to, .. })
                    if to.to_string().contains("Green") =>
                {
                    let no = Reply::new(
                        ReplyCode::new(550).unwrap(),
                        EnhancedStatus::new(5, 1, 1),
                        ["No such user here"],
                    )
                    .unwrap();
                    server.reject(no).unwrap();
                }
                Output::Event(
                    ServerEvent::BodyChunk(_) | ServerEvent::Reset | ServerEvent::Closed(_),
                ) => {}
                Output::Event(_) => server.accept().unwrap(),
                Output::StartTls | Output::Close => {}
            }
        }
    };
    drain(&mut server, &mut sent);
    for (side, bytes) in rounds(text) {
        match side {
            'S' => expected.extend(codes(&bytes)),
            _ => {
                server.feed(now, &bytes);
                drain(&mut server, &mut sent);
            }
        }
    }
    assert_eq!(codes(&sent), expected, "{}", String::from_utf8_lossy(&sent));
    assert!(server.is_closed());
}

/// The client session, fed the transcript's server rounds, sends exactly the
/// transcript's client bytes.
fn client_replays(text: &str, helo: &str, envelope: Envelope, body: &[u8]) {
    let now = Instant::now();
    let config = ClientConfig::new(helo.parse().unwrap()).with_tls(TlsPolicy::None);
    let mut client = ClientSession::new(config, now);
    let mut sent = Vec::new();
    let mut expected = Vec::new();
    let mut envelope = Some(envelope);
    let mut delivered = false;
    for (side, bytes) in rounds(text) {
        match side {
            'C' => expected.extend_from_slice(&bytes),
            _ => client.feed(now, &bytes),
        }
        while let Some(out) = client.poll_output() {
            match out {
                Output::Transmit(b) => sent.extend_from_slice(&b),
                Output::Event(ClientEvent::Ready { .. }) => {
                    client.send(envelope.take().unwrap()).unwrap()
                }
                Output::Event(ClientEvent::SendBody) => {
                    client.send_body(body).unwrap();
                    client.end_body().unwrap();
                }
                Output::Event(ClientEvent::Delivered(report)) => {
                    delivered = true;
                    assert!(report.final_reply.is_some());
                    client.quit().unwrap();
                }
                Output::Event(e @ ClientEvent::Failed(_)) => panic!("{e:?}"),
                _ => {}
            }
        }
    }
    assert!(delivered);
    assert_eq!(
        String::from_utf8_lossy(&sent),
        String::from_utf8_lossy(&expected)
    );
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    let mut e = Envelope::new(Mailbox::parse(from).unwrap().into());
    for r in to {
        e = e.with_recipient(Recipient::new(Mailbox::parse(r).unwrap()));
    }
    e
}

#[test]
fn rfc5321_d1_server_side() {
    server_replays(D1);
}

#[test]
fn rfc5321_d1_client_side() {
    client_replays(
        D1,
        "bar.com",
        envelope(
            "Smith@bar.com",
            &["Jones@foo.com", "Green@foo.com", "Brown@foo.com"],
        ),
        b"Blah blah blah...\r\n..etc. etc. etc.\r\n",
    );
}

#[test]
fn rfc2920_pipelined_server_side() {
    server_replays(RFC2920);
}

#[test]
fn rfc2920_pipelined_client_side() {
    client_replays(
        RFC2920_CLIENT,
        "dbc.mtview.ca.us",
        envelope(
            "mrose@dbc.mtview.ca.us",
            &[
                "ned@innovation.example.com",
                "dan@innovation.example.com",
                "kvc@innovation.example.com",
            ],
        ),
        b"Subject: pipelining\r\n\r\n.a stuffed line\r\n",
    );
}
