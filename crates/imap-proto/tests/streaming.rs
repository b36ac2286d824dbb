//! Streaming through the session: an APPEND's message goes to the store
//! as it arrives whatever the input's cuts, and a FETCH answer is the same
//! octets whatever its step size.

use imap_proto::{Event, ImapConfig, ImapSession, Mailstore, MemoryStore, Output};
use proptest::prelude::*;
use std::time::Instant;

/// Feeds `chunks` one by one (draining between them as a driver does) and
/// returns everything the session sent.
fn run(config: ImapConfig, store: &mut MemoryStore, chunks: &[&[u8]]) -> Vec<u8> {
    let now = Instant::now();
    let mut s = ImapSession::new(config, now);
    let mut sent = Vec::new();
    let drain = |s: &mut ImapSession, store: &mut MemoryStore, sent: &mut Vec<u8>| loop {
        let mut any = false;
        while let Some(out) = s.poll_output() {
            any = true;
            match out {
                Output::Transmit(b) => sent.extend_from_slice(&b),
                Output::Event(Event::Login(_)) => {
                    s.accept_login().unwrap();
                    s.feed(now, b"", store);
                }
                _ => {}
            }
        }
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now, store);
        } else if !any {
            break;
        }
    };
    drain(&mut s, store, &mut sent);
    for c in chunks {
        s.feed(now, c, store);
        drain(&mut s, store, &mut sent);
    }
    sent
}

fn plain() -> ImapConfig {
    ImapConfig::new("t").with_plaintext_auth(true)
}

fn cut<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    for n in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at((*n).min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

fn append_input(msg: &[u8], sync: bool, folder: &str) -> Vec<u8> {
    let plus = if sync { "" } else { "+" };
    let mut input = format!(
        "a LOGIN alice secret\r\nb SELECT INBOX\r\nc APPEND {folder} (\\Seen) {{{}{plus}}}\r\n",
        msg.len()
    )
    .into_bytes();
    input.extend_from_slice(msg);
    input.extend_from_slice(b"\r\nd NOOP\r\n");
    input
}

proptest! {
    #[test]
    fn append_is_the_same_whatever_the_cuts(
        msg in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'{'), Just(b'}'), Just(b'a'), any::<u8>()], 1..300),
        sync in any::<bool>(),
        cuts in proptest::collection::vec(1usize..40, 1..10),
    ) {
        let input = append_input(&msg, sync, "INBOX");
        let mut whole_store = MemoryStore::default();
        let whole = run(plain(), &mut whole_store, &[&input]);
        let text = String::from_utf8_lossy(&whole).into_owned();
        prop_assert!(text.contains("c OK [APPENDUID 1 1] APPEND completed\r\n"), "{}", text);
        prop_assert!(text.ends_with("d OK NOOP completed\r\n"), "{}", text);
        prop_assert_eq!(sync, text.contains("+ Ready for literal data"));
        prop_assert_eq!(whole_store.read("INBOX", 1).unwrap(), msg.clone());
        let mut cut_store = MemoryStore::default();
        let parts = run(plain(), &mut cut_store, &cut(&input, &cuts));
        prop_assert_eq!(String::from_utf8_lossy(&parts), text);
        prop_assert_eq!(cut_store.read("INBOX", 1).unwrap(), msg);
    }

    #[test]
    fn fetch_is_the_same_whatever_the_step(
        sizes in proptest::collection::vec(0usize..5000, 1..5),
        batch in 1usize..3000,
    ) {
        let mut store = MemoryStore::default();
        for (i, n) in sizes.iter().enumerate() {
            let mut m = format!("Subject: m{i}\r\n\r\n").into_bytes();
            m.extend((0..*n).map(|k| b"abc\r\nxyz"[k % 8]));
            store.deliver("INBOX", &m);
        }
        let input = b"a LOGIN alice secret\r\nb EXAMINE INBOX\r\nc FETCH 1:* (BODY[] BODY[TEXT]<2.700> RFC822.HEADER)\r\n";
        let big = run(plain(), &mut store.clone(), &[input]);
        let small = run(plain().with_fetch_batch(batch), &mut store, &[input]);
        prop_assert_eq!(String::from_utf8_lossy(&small), String::from_utf8_lossy(&big));
    }
}

#[test]
fn an_append_to_a_missing_folder_is_refused_before_its_data() {
    // Synchronizing: NO before the continuation; the client sends nothing
    // more for it, and the next command is read as a command.
    let mut store = MemoryStore::default();
    let out = run(
        plain(),
        &mut store,
        &[
            b"a LOGIN alice secret\r\nc APPEND Nope {20}\r\n",
            b"d NOOP\r\n",
        ],
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("c NO [TRYCREATE] no such mailbox\r\nd OK"),
        "{text}"
    );
    assert!(!text.contains("+ Ready"), "{text}");
    // Non-synchronizing: the data comes anyway and is skipped, never read
    // as commands, then the NO.
    let mut store = MemoryStore::default();
    let input = append_input(b"e LOGOUT\r\n\r\nxx", false, "Nope");
    let out = run(plain(), &mut store, &[&input]);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("c NO [TRYCREATE] no such mailbox\r\nd OK NOOP"),
        "{text}"
    );
    assert!(!text.contains("BYE"), "{text}");
    assert!(store.read("INBOX", 1).is_err());
}
