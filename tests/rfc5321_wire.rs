//! RFC example dialogues replayed through the public wire grammar: every line
//! parses, serializes back to the same bytes, and the client stream reads the
//! same at every split point.

use mailwire_tests::{read_client_stream, stream, transcript, Seen, Side};
use smtp_proto::{Capabilities, Command, Reply, ReplyCode, ReplyParser};

/// RFC 5321 Appendix D.1, a typical SMTP transaction scenario.
const RFC5321_D1: &str = include_str!("transcripts/rfc5321-d1.txt");

/// RFC 5321 Appendix D.4, verifying and sending.
const RFC5321_D4: &str = include_str!("transcripts/rfc5321-d4.txt");

/// RFC 2920 §3.1, a pipelined transaction (client lines sent in groups).
const RFC2920: &str = include_str!("transcripts/rfc2920.txt");

/// RFC 4954 §8 with STARTTLS first, and AUTH PLAIN with an initial response
/// (the greeting written as a single line, where the RFC text has a stray `-`).
const RFC4954: &str = include_str!("transcripts/rfc4954.txt");

/// Every server line group parses as replies that serialize back exactly;
/// returns the replies.
fn server_replies(text: &str) -> Vec<Reply> {
    let lines = transcript(text);
    let mut parser = ReplyParser::new();
    let mut replies = Vec::new();
    let mut wire = Vec::new();
    for (side, line) in &lines {
        if *side != Side::Server {
            continue;
        }
        wire.extend_from_slice(line.as_bytes());
        wire.extend_from_slice(b"\r\n");
        if let Some(reply) = parser.push_line(line.as_bytes()).unwrap() {
            assert_eq!(reply.to_bytes(), wire, "{line}");
            wire.clear();
            replies.push(reply);
        }
    }
    assert!(parser.is_idle(), "unfinished reply");
    replies
}

/// The client stream read whole, in 1-byte chunks, and split at every point
/// gives the same result; returns it.
fn client_view(text: &str) -> Vec<Seen> {
    let client = stream(&transcript(text), Side::Client);
    let whole = read_client_stream([client.as_slice()]);
    assert_eq!(read_client_stream(client.chunks(1)), whole);
    for split in 1..client.len() {
        let (a, b) = client.split_at(split);
        assert_eq!(read_client_stream([a, b]), whole, "split at {split}");
    }
    for seen in &whole {
        if let Seen::Command(c) = seen {
            // Commands re-serialize to a line that parses to the same value.
            let again = Command::parse(c.to_bytes().strip_suffix(b"\r\n").unwrap()).unwrap();
            assert_eq!(&again, c);
        }
    }
    whole
}

fn commands(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| match s {
            Seen::Command(c) => String::from_utf8(c.to_bytes())
                .unwrap()
                .trim_end()
                .to_owned(),
            Seen::Error(e) => format!("error: {e}"),
            Seen::Content(c) => format!("content: {}", String::from_utf8_lossy(c)),
        })
        .collect()
}

#[test]
fn rfc5321_d1_typical_transaction() {
    let replies = server_replies(RFC5321_D1);
    let codes: Vec<u16> = replies.iter().map(|r| r.code().get()).collect();
    assert_eq!(codes, [220, 250, 250, 250, 550, 250, 354, 250, 221]);
    assert!(replies[4].is_permanent());
    let caps = Capabilities::from_ehlo_reply(&replies[1]).unwrap();
    assert_eq!(caps.server_name(), "foo.com");
    assert!(caps.eight_bit_mime() && caps.dsn() && caps.size_advertised());

    assert_eq!(
        commands(&client_view(RFC5321_D1)),
        [
            "EHLO bar.com",
            "MAIL FROM:<Smith@bar.com>",
            "RCPT TO:<Jones@foo.com>",
            "RCPT TO:<Green@foo.com>",
            "RCPT TO:<Brown@foo.com>",
            "DATA",
            "content: Blah blah blah...\r\n..etc. etc. etc.\r\n",
            "QUIT",
        ]
    );
}

#[test]
fn rfc5321_d4_verify() {
    let replies = server_replies(RFC5321_D4);
    assert_eq!(replies[2].lines(), ["Mark Crispin <Admin.MRC@foo.com>"]);
    let seen = commands(&client_view(RFC5321_D4));
    assert_eq!(seen[1], "VRFY Crispin");
}

#[test]
fn rfc2920_pipelined_group() {
    let replies = server_replies(RFC2920);
    assert_eq!(replies.len(), 9);
    let caps = Capabilities::from_ehlo_reply(&replies[1]).unwrap();
    assert!(caps.pipelining());
    assert_eq!(
        commands(&client_view(RFC2920)),
        [
            "EHLO dbc.mtview.ca.us",
            "MAIL FROM:<mrose@dbc.mtview.ca.us>",
            "RCPT TO:<ned@innovation.example.com>",
            "RCPT TO:<dan@innovation.example.com>",
            "RCPT TO:<kvc@innovation.example.com>",
            "DATA",
            "content: Subject: pipelining\r\n\r\n.a stuffed line\r\n",
            "QUIT",
        ]
    );
}

#[test]
fn rfc4954_starttls_and_auth() {
    let replies = server_replies(RFC4954);
    assert_eq!(replies[0].lines(), ["smtp.example.com ESMTP Server"]);
    assert_eq!(replies[2].code(), ReplyCode::SERVICE_READY);
    let ok = replies.last().unwrap();
    assert_eq!(ok.enhanced().map(|e| e.to_string()), Some("2.7.0".into()));
    let seen = client_view(RFC4954);
    assert_eq!(commands(&seen)[1], "STARTTLS");
    // The AUTH line survives the round trip, but never shows in Debug output.
    assert!(commands(&seen)[3].starts_with("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ="));
    assert!(!format!("{seen:?}").contains("dGVzdAB0ZXN0ADEyMzQ="));
}

#[test]
fn rfc3030_bdat_chunks_are_counted_not_stuffed() {
    let mut client = Vec::new();
    client.extend_from_slice(b"EHLO Example.ORG\r\nMAIL FROM:<Sam@Random.com> BODY=BINARYMIME\r\n");
    client.extend_from_slice(b"RCPT TO:<Susan@Random.com>\r\n");
    let first: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    client.extend_from_slice(format!("BDAT {}\r\n", first.len()).as_bytes());
    client.extend_from_slice(&first);
    let last = b"\r\n.\r\nnot a command\r\n.";
    client.extend_from_slice(format!("BDAT {} LAST\r\n", last.len()).as_bytes());
    client.extend_from_slice(last);
    client.extend_from_slice(b"QUIT\r\n");
    let whole = read_client_stream([client.as_slice()]);
    for size in [1, 7, 64, 999] {
        assert_eq!(
            read_client_stream(client.chunks(size)),
            whole,
            "chunks of {size}"
        );
    }
    assert_eq!(whole.len(), 8);
    assert_eq!(whole[4], Seen::Content(first));
    assert_eq!(whole[6], Seen::Content(last.to_vec()));
    assert_eq!(whole[7], Seen::Command(Command::Quit));
}
