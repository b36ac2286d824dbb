//! Whole dialogues against the in-memory store with a virtual clock.

use imap_proto::{Event, ImapConfig, ImapSession, MemoryStore, Output};
use proptest::prelude::*;
use std::time::{Duration, Instant};

struct Run {
    session: ImapSession,
    store: MemoryStore,
    now: Instant,
    sent: Vec<u8>,
    closed: bool,
}

impl Run {
    fn new(config: ImapConfig) -> Run {
        let now = Instant::now();
        let mut store = MemoryStore::default();
        store.deliver("INBOX", b"From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nSubject: first\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nHello one\r\n");
        store.deliver(
            "INBOX",
            b"From: Carl <carl@example.net>\r\nSubject: second\r\n\r\nHello two, longer body\r\n",
        );
        let session = ImapSession::new(config, now);
        let mut run = Run {
            session,
            store,
            now,
            sent: Vec::new(),
            closed: false,
        };
        run.drain();
        run
    }

    fn drain(&mut self) {
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Transmit(b) => self.sent.extend_from_slice(&b),
                Output::Event(Event::Login(c)) => {
                    if c.password.expose() == "secret" {
                        self.session.accept_login().unwrap();
                    } else if c.password.expose() == "limited" {
                        self.session.reject_login_unavailable().unwrap();
                    } else {
                        self.session.reject_login().unwrap();
                    }
                    self.session.feed(self.now, b"", &mut self.store);
                }
                Output::Close => self.closed = true,
                _ => {}
            }
        }
        // A large FETCH goes on once its last part was taken, as a driver
        // does: a time already past means "call handle_timeout now".
        if !self.closed && self.session.poll_timeout().is_some_and(|t| t <= self.now) {
            self.session.handle_timeout(self.now, &mut self.store);
            self.drain();
        }
    }

    fn send(&mut self, bytes: &[u8]) -> String {
        self.sent.clear();
        self.session.feed(self.now, bytes, &mut self.store);
        self.drain();
        String::from_utf8_lossy(&self.sent).into_owned()
    }

    fn advance(&mut self, by: Duration) -> String {
        self.sent.clear();
        self.now += by;
        if self.session.poll_timeout().is_some_and(|t| t <= self.now) {
            self.session.handle_timeout(self.now, &mut self.store);
        }
        self.drain();
        String::from_utf8_lossy(&self.sent).into_owned()
    }
}

fn plain() -> ImapConfig {
    ImapConfig::new("imap.test").with_plaintext_auth(true)
}

#[test]
fn a_limited_login_is_refused_at_once_as_unavailable_and_the_session_goes_on() {
    let mut r = Run::new(plain());
    // No delay, no count: the caller's limiter refused it.
    assert_eq!(
        r.send(b"a LOGIN alice limited\r\nb NOOP\r\n"),
        "a NO [UNAVAILABLE] Too many failed logins, try again later\r\nb OK NOOP completed\r\n"
    );
    assert!(r
        .send(b"c LOGIN alice secret\r\n")
        .starts_with("c OK [CAPABILITY IMAP4rev1"));
}

#[test]
fn login_select_fetch_store_expunge() {
    let mut r = Run::new(plain());
    assert!(r
        .send(b"a LOGIN alice secret\r\n")
        .starts_with("a OK [CAPABILITY IMAP4rev1"));
    let sel = r.send(b"b SELECT INBOX\r\n");
    assert!(sel.contains("* 2 EXISTS\r\n* 2 RECENT\r\n"), "{sel}");
    assert!(sel.contains("* OK [UIDVALIDITY 1]") && sel.contains("* OK [UIDNEXT 3]"));
    assert!(sel.ends_with("b OK [READ-WRITE] SELECT completed\r\n"));
    let f = r.send(
        b"c FETCH 1 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY[TEXT]<0.5>)\r\n",
    );
    assert_eq!(
        f,
        "* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1 RFC822.SIZE 117 BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: first\r\n\r\n BODY[TEXT]<0> {5}\r\nHello)\r\nc OK FETCH completed\r\n"
    );
    let s = r.send(b"d UID STORE 2 +FLAGS (\\Deleted \\Flagged)\r\n");
    assert_eq!(
        s,
        "* 2 FETCH (FLAGS (\\Flagged \\Deleted \\Recent) UID 2)\r\nd OK STORE completed\r\n"
    );
    assert_eq!(
        r.send(b"e SEARCH FLAGGED\r\n"),
        "* SEARCH 2\r\ne OK SEARCH completed\r\n"
    );
    assert_eq!(
        r.send(b"e2 UID SEARCH FROM carl NOT SEEN\r\n"),
        "* SEARCH 2\r\ne2 OK SEARCH completed\r\n"
    );
    assert_eq!(
        r.send(b"e3 SEARCH OR SUBJECT first LARGER 1000\r\n"),
        "* SEARCH 1\r\ne3 OK SEARCH completed\r\n"
    );
    assert_eq!(
        r.send(b"f EXPUNGE\r\n"),
        "* 2 EXPUNGE\r\nf OK EXPUNGE completed\r\n"
    );
    assert!(r.send(b"g LOGOUT\r\n").starts_with("* BYE"));
    assert!(r.closed);
}

#[test]
fn literals_append_and_idle() {
    let mut r = Run::new(plain());
    r.send(b"a LOGIN {5}\r\n");
    assert_eq!(
        String::from_utf8_lossy(&r.sent),
        "+ Ready for literal data\r\n"
    );
    assert!(r.send(b"alice secret\r\n").starts_with("a OK"));
    r.send(b"b SELECT INBOX\r\n");
    // LITERAL+: no continuation request.
    let msg = b"Subject: new\r\n\r\nbody\r\n";
    let out = r.send(format!("c APPEND INBOX (\\Seen) {{{}+}}\r\n", msg.len()).as_bytes());
    assert_eq!(out, "");
    let out = r.send(&[msg.as_slice(), b"\r\n"].concat());
    assert_eq!(
        out,
        "* 3 EXISTS\r\n* 3 RECENT\r\nc OK [APPENDUID 1 3] APPEND completed\r\n"
    );
    assert_eq!(r.send(b"d IDLE\r\n"), "+ idling\r\n");
    r.store.deliver("INBOX", b"Subject: pushed\r\n\r\nx\r\n");
    assert_eq!(r.advance(Duration::from_secs(1)), "");
    assert_eq!(
        r.advance(Duration::from_secs(1)),
        "* 4 EXISTS\r\n* 4 RECENT\r\n"
    );
    assert_eq!(r.send(b"DONE\r\n"), "d OK IDLE terminated\r\n");
}

#[test]
fn bounds_refuse_and_close() {
    // Plaintext login refused without TLS by default.
    let mut r = Run::new(ImapConfig::new("imap.test"));
    assert!(r.send(b"a CAPABILITY\r\n").contains("LOGINDISABLED"));
    assert!(r
        .send(b"b LOGIN alice secret\r\n")
        .starts_with("b NO [PRIVACYREQUIRED]"));
    // Oversized synchronizing literal refused before the data.
    let mut r = Run::new(plain().with_max_literal(100));
    assert_eq!(
        r.send(b"a LOGIN {1000}\r\n"),
        "a NO [TOOBIG] literal too large\r\n"
    );
    assert_eq!(r.send(b"b NOOP\r\n"), "b OK NOOP completed\r\n");
    assert!(
        r.send(b"c SELECT INBOX\r\n").starts_with("c BAD"),
        "not logged in"
    );
    // A line over the cap ends the session.
    let mut r = Run::new(plain().with_max_line(100));
    assert!(r.send(&[b'x'; 200]).contains("* BYE line too long"));
    assert!(r.closed);
    // Three wrong passwords, each answered after the delay, then BYE.
    let mut r = Run::new(plain());
    for i in 0..3 {
        assert_eq!(r.send(format!("t{i} LOGIN alice wrong\r\n").as_bytes()), "");
        let out = r.advance(Duration::from_secs(2));
        assert!(
            out.starts_with(&format!("t{i} NO [AUTHENTICATIONFAILED]")),
            "{out}"
        );
    }
    assert!(r.closed);
    // Input piling up behind a delayed refusal is bounded.
    let mut r = Run::new(plain());
    assert_eq!(r.send(b"a LOGIN alice wrong\r\n"), "");
    assert_eq!(r.send(&vec![b'x'; 60_000]), "");
    assert!(r
        .send(&vec![b'x'; 10_000])
        .contains("* BYE too much input while busy"));
    assert!(r.closed);
    // Errors before BYE.
    let mut r = Run::new(plain());
    let mut all = String::new();
    for _ in 0..10 {
        all.push_str(&r.send(b"x BOGUS\r\n"));
    }
    assert!(all.ends_with("* BYE too many errors\r\n"), "{all}");
    // Autologout after 30 minutes.
    let mut r = Run::new(plain());
    assert_eq!(r.advance(Duration::from_secs(29 * 60)), "");
    assert!(r
        .advance(Duration::from_secs(61))
        .contains("* BYE autologout"));
}

#[test]
fn folders_copy_move_status() {
    let mut r = Run::new(plain());
    r.send(b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert!(r.send(b"b CREATE Archive\r\n").starts_with("b OK"));
    let list = r.send(b"c LIST \"\" *\r\n");
    assert_eq!(list, "* LIST (\\HasNoChildren) \".\" \"Archive\"\r\n* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\nc OK LIST completed\r\n");
    r.send(b"d SELECT INBOX\r\n");
    assert_eq!(
        r.send(b"e COPY 1 Archive\r\n"),
        "e OK [COPYUID 2 1 1] COPY completed\r\n"
    );
    assert_eq!(
        r.send(b"f UID MOVE 2 Archive\r\n"),
        "* OK [COPYUID 2 2 2] moved\r\n* 2 EXPUNGE\r\nf OK MOVE completed\r\n"
    );
    assert_eq!(
        r.send(b"g STATUS Archive (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)\r\n"),
        "* STATUS \"Archive\" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 2 UNSEEN 2)\r\ng OK STATUS completed\r\n"
    );
    assert!(r.send(b"h RENAME Archive Old\r\n").starts_with("h OK"));
    assert!(r.send(b"i DELETE Old\r\n").starts_with("i OK"));
    assert!(r
        .send(b"j SELECT Old\r\n")
        .starts_with("j NO [NONEXISTENT]"));
}

#[test]
fn a_large_fetch_is_answered_in_bounded_steps() {
    let now = Instant::now();
    let mut store = MemoryStore::default();
    let body = vec![b'x'; 10_000];
    for _ in 0..50 {
        store.deliver("INBOX", &body);
    }
    let config = plain().with_fetch_batch(16 * 1024);
    let mut s = ImapSession::new(config, now);
    s.feed(now, b"a LOGIN alice secret\r\n", &mut store);
    while let Some(out) = s.poll_output() {
        if let Output::Event(Event::Login(_)) = out {
            s.accept_login().unwrap();
        }
    }
    s.feed(
        now,
        b"b SELECT INBOX\r\nc FETCH 1:* BODY[]\r\nd NOOP\r\n",
        &mut store,
    );
    let mut all = Vec::new();
    let mut steps = 0;
    loop {
        let mut step = 0;
        while let Some(out) = s.poll_output() {
            if let Output::Transmit(b) = out {
                step += b.len();
                all.extend_from_slice(&b);
            }
        }
        assert!(step < 16 * 1024 + 11_000, "{step} octets in one step");
        match s.poll_timeout() {
            Some(t) if t <= now => {
                steps += 1;
                assert!(
                    steps < 1000,
                    "no progress: {:?}",
                    String::from_utf8_lossy(&all[all.len().saturating_sub(300)..])
                );
                s.handle_timeout(now, &mut store);
            }
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches(" FETCH (").count(), 50);
    assert!(
        text.ends_with("c OK FETCH completed\r\nd OK NOOP completed\r\n"),
        "{}",
        &text[text.len() - 80..]
    );
    assert!(steps >= 20, "{steps} steps");
}

fn transcript(chunks: &[&[u8]]) -> String {
    let mut r = Run::new(plain());
    let mut all = String::new();
    for c in chunks {
        all.push_str(&r.send(c));
    }
    all
}

const SCRIPT: &[u8] = b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE BODY[])\r\nd APPEND INBOX {5+}\r\nhello\r\ne UID SEARCH ALL\r\nf STORE 1 FLAGS (\\Answered)\r\ng LOGOUT\r\n";

proptest! {
    #[test]
    fn chunking_does_not_change_the_dialogue(cuts in proptest::collection::vec(0usize..SCRIPT.len(), 0..12)) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.dedup();
        let mut chunks = Vec::new();
        let mut last = 0;
        for c in cuts {
            chunks.push(&SCRIPT[last..c]);
            last = c;
        }
        chunks.push(&SCRIPT[last..]);
        prop_assert_eq!(transcript(&chunks), transcript(&[SCRIPT]));
    }

    #[test]
    fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut r = Run::new(plain());
        r.send(b"a LOGIN alice secret\r\nb SELECT INBOX\r\n");
        r.send(&input);
    }
}

/// Every response the session writes parses with imap-codec's response
/// decoder (a grammar we did not write), FETCH data with literals,
/// ENVELOPE and BODYSTRUCTURE included.
#[test]
fn every_response_parses_with_imap_codec() {
    use imap_codec::decode::Decoder;
    use imap_codec::{GreetingCodec, ResponseCodec};
    let mut r = Run::new(plain());
    let greeting = String::from_utf8_lossy(&r.sent).into_owned();
    assert!(
        GreetingCodec::new().decode(greeting.as_bytes()).is_ok(),
        "{greeting}"
    );
    r.store.deliver(
        "INBOX",
        b"From: \"Q \\\" uote\" <q@example.com>, Group: a@b.c, d@e.f;\r\nSubject: =?utf-8?b?5L2g5aW9?=\r\nContent-Type: multipart/alternative; boundary=\"=_x\"\r\n\r\n--=_x\r\nContent-Type: text/plain\r\n\r\nplain\r\n--=_x\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Disposition: inline; filename=\"x y.html\"\r\n\r\n<p>\xe4\xbd\xa0</p>\r\n--=_x--\r\n",
    );
    let mut all = Vec::new();
    for cmd in [
        &b"a LOGIN alice secret\r\n"[..],
        b"b SELECT INBOX\r\n",
        b"c FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY)\r\n",
        b"d FETCH 3 (BODY.PEEK[1.MIME] BODY[2]<2.3> RFC822.HEADER RFC822.TEXT)\r\n",
        b"e UID FETCH 1:* FULL\r\n",
        b"f LIST \"\" %\r\n",
        b"g STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n",
        b"h SEARCH TEXT plain\r\n",
        b"i STORE 1:2 +FLAGS (\\Seen)\r\n",
        b"j bogus\r\n",
        b"k IDLE\r\n",
        b"DONE\r\n",
        b"l LOGOUT\r\n",
    ] {
        r.send(cmd);
        // The raw bytes: literals may hold 8-bit text cut anywhere.
        all.extend_from_slice(&r.sent);
    }
    let mut rest: &[u8] = &all;
    let mut count = 0;
    while !rest.is_empty() {
        match ResponseCodec::new().decode(rest) {
            Ok((remaining, _)) => rest = remaining,
            Err(e) => panic!("{e:?} at: {:?}", String::from_utf8_lossy(rest)),
        }
        count += 1;
    }
    assert!(count > 30, "{count}");
}
