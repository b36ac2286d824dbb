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
const D1: &str = "
S: 220 foo.com Simple Mail Transfer Service Ready
C: EHLO bar.com
S: 250-foo.com greets bar.com
S: 250-8BITMIME
S: 250-SIZE
S: 250-DSN
S: 250 HELP
C: MAIL FROM:<Smith@bar.com>
S: 250 OK
C: RCPT TO:<Jones@foo.com>
S: 250 OK
C: RCPT TO:<Green@foo.com>
S: 550 No such user here
C: RCPT TO:<Brown@foo.com>
S: 250 OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
C: Blah blah blah...
C: ...etc. etc. etc.
C: .
S: 250 OK
C: QUIT
S: 221 foo.com Service closing transmission channel
";

/// RFC 2920 §3.1 (pipelined); the client groups MAIL, RCPT and DATA.
const RFC2920: &str = "
S: 220 innovation.example.com SMTP service ready
C: EHLO dbc.mtview.ca.us
S: 250-innovation.example.com
S: 250 PIPELINING
C: MAIL FROM:<mrose@dbc.mtview.ca.us>
C: RCPT TO:<ned@innovation.example.com>
C: RCPT TO:<dan@innovation.example.com>
C: RCPT TO:<kvc@innovation.example.com>
C: DATA
S: 250 sender <mrose@dbc.mtview.ca.us> OK
S: 250 recipient <ned@innovation.example.com> OK
S: 250 recipient <dan@innovation.example.com> OK
S: 250 recipient <kvc@innovation.example.com> OK
S: 354 enter mail, end with line containing only \".\"
C: Subject: pipelining
C:
C: ..a stuffed line
C: .
C: QUIT
S: 250 message sent
S: 221 goodbye
";

/// RFC 2920 §3.1 as our client speaks it: QUIT waits for the reply to the end
/// of data instead of riding behind it (RFC 2920 allows either), so a failed
/// delivery can still be reported before the session ends.
const RFC2920_CLIENT: &str = "
S: 220 innovation.example.com SMTP service ready
C: EHLO dbc.mtview.ca.us
S: 250-innovation.example.com
S: 250 PIPELINING
C: MAIL FROM:<mrose@dbc.mtview.ca.us>
C: RCPT TO:<ned@innovation.example.com>
C: RCPT TO:<dan@innovation.example.com>
C: RCPT TO:<kvc@innovation.example.com>
C: DATA
S: 250 sender <mrose@dbc.mtview.ca.us> OK
S: 250 recipient <ned@innovation.example.com> OK
S: 250 recipient <dan@innovation.example.com> OK
S: 250 recipient <kvc@innovation.example.com> OK
S: 354 enter mail, end with line containing only \".\"
C: Subject: pipelining
C:
C: ..a stuffed line
C: .
S: 250 message sent
C: QUIT
S: 221 goodbye
";

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
