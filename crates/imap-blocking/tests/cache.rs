//! The summary cache: the same FETCH and SEARCH answers with and without
//! it (against the in-memory store, which has none), rebuilt when deleted,
//! cut or damaged, and not trusted for a message expunged, delivered from
//! outside, or renumbered under another file. Driven through the sans-IO session directly.

use imap_blocking::cache::{FolderCache, CACHE_FILE};
use imap_blocking::MaildirStore;
use imap_proto::{Event, ImapConfig, ImapSession, Mailstore, MemoryStore, Output};
use maildrop::MaildirFolders;
use proptest::prelude::*;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

const WHEN: i64 = 1_700_000_000;

/// Logs in, selects INBOX, sends `commands`; returns what came back for
/// them (the login and SELECT answers left out).
fn ask(store: &mut dyn Mailstore, commands: &str) -> String {
    let now = Instant::now();
    let config = ImapConfig::new("t").with_plaintext_auth(true);
    let mut s = ImapSession::new(config, now);
    let mut sent = Vec::new();
    let mut input = b"l LOGIN alice secret\r\ns EXAMINE INBOX\r\n".to_vec();
    input.extend_from_slice(commands.as_bytes());
    s.feed(now, &input, store);
    loop {
        let mut progressed = false;
        while let Some(out) = s.poll_output() {
            progressed = true;
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
        } else if !progressed {
            break;
        }
    }
    let text = String::from_utf8_lossy(&sent).into_owned();
    let start = text.find("] EXAMINE completed\r\n").unwrap() + 21;
    text[start..].to_owned()
}

const COMMANDS: &str = "f1 FETCH 1:* (RFC822.SIZE ENVELOPE BODY BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT TO)] BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)])\r\n\
f2 FETCH 1:* (BODY.PEEK[] BODY.PEEK[TEXT] BODY.PEEK[HEADER] BODY.PEEK[1] BODY.PEEK[]<3.40> BODY.PEEK[TEXT]<2.5> RFC822.HEADER)\r\n\
s1 SEARCH FROM ann\r\ns2 SEARCH SUBJECT \"caf\"\r\ns3 SEARCH TO bob CC carl\r\ns4 SEARCH HEADER X-Tag blue\r\n\
s5 SENTSINCE 2-Jan-2024\r\ns6 SEARCH SENTON 1-Jan-2024\r\ns7 SEARCH BODY needle\r\ns8 SEARCH TEXT needle\r\n\
s9 SEARCH LARGER 300 NOT SMALLER 100\r\ns10 SEARCH OR FROM example.net SUBJECT second\r\n";

fn maildir(dir: &Path, messages: &[Vec<u8>]) -> PathBuf {
    let root = dir.join("mail");
    let _ = fs::remove_dir_all(&root);
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    for (i, m) in messages.iter().enumerate() {
        let path = root.join(format!("cur/{}.M{i}P1.test:2,S", WHEN + i as i64));
        fs::write(&path, m).unwrap();
        set_mtime(&path, WHEN);
    }
    root
}

fn set_mtime(path: &Path, when: i64) {
    let t = UNIX_EPOCH + std::time::Duration::from_secs(when as u64);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))
        .unwrap();
}

fn memory(messages: &[Vec<u8>]) -> MemoryStore {
    let mut store = MemoryStore::default();
    store.now_seconds = WHEN;
    for m in messages {
        store.deliver("INBOX", m);
    }
    store
}

fn maildir_store(root: &Path) -> MaildirStore {
    MaildirStore::new(MaildirFolders::open(root).unwrap())
}

fn cached(root: &Path) -> usize {
    FolderCache::open(root, &HashSet::new()).unwrap().len()
}

fn samples() -> Vec<Vec<u8>> {
    vec![
        b"From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nCc: Carl <carl@example.net>\r\nSubject: =?utf-8?q?caf=C3=A9?= first\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nX-Tag: blue\r\n\r\nHello, a needle here.\r\n".to_vec(),
        b"From: Dan <dan@example.net>\r\nSubject: second\r\nDate: Wed, 3 Jan 2024 10:00:00 +0000\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\npre\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst part\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n".to_vec(),
        b"Subject: no blank line and no body".to_vec(),
    ]
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imap-cache-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn answers_match_the_uncached_store_cold_warm_and_rebuilt() {
    let dir = temp("same");
    let messages = samples();
    let root = maildir(&dir, &messages);
    let want = ask(&mut memory(&messages), COMMANDS);
    assert!(want.contains("* SEARCH 1\r\ns1 OK"), "{want}");
    let cold = ask(&mut maildir_store(&root), COMMANDS);
    assert_eq!(cold, want, "cold cache");
    assert_eq!(cached(&root), messages.len());
    let warm = ask(&mut maildir_store(&root), COMMANDS);
    assert_eq!(warm, want, "warm cache");

    // Deleted: rebuilt.
    fs::remove_file(root.join(CACHE_FILE)).unwrap();
    assert_eq!(
        ask(&mut maildir_store(&root), COMMANDS),
        want,
        "deleted cache"
    );
    assert_eq!(cached(&root), messages.len());

    // Cut in the middle of its last record: the rest kept, that one redone.
    let file = root.join(CACHE_FILE);
    let len = fs::metadata(&file).unwrap().len();
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    assert_eq!(cached(&root), messages.len() - 1);
    assert!(
        fs::metadata(&file).unwrap().len() < len - 7,
        "the torn tail is cut off"
    );
    assert_eq!(
        ask(&mut maildir_store(&root), COMMANDS),
        want,
        "truncated cache"
    );
    assert_eq!(cached(&root), messages.len());

    // Bytes flipped inside the first record: nothing after it is trusted.
    let mut bytes = fs::read(&file).unwrap();
    bytes[40] ^= 0xFF;
    bytes[41] ^= 0x01;
    fs::write(&file, &bytes).unwrap();
    assert_eq!(cached(&root), 0);
    assert_eq!(
        ask(&mut maildir_store(&root), COMMANDS),
        want,
        "damaged cache"
    );
    assert_eq!(cached(&root), messages.len());

    // Not a cache file at all.
    fs::write(&file, b"garbage that is not a cache").unwrap();
    assert_eq!(
        ask(&mut maildir_store(&root), COMMANDS),
        want,
        "garbage cache"
    );
    assert_eq!(cached(&root), messages.len());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn header_answers_come_from_the_cache_and_a_renumbered_folder_invalidates_it() {
    let dir = temp("hit");
    let messages = samples();
    let root = maildir(&dir, &messages);
    let mut store = maildir_store(&root);
    assert!(ask(&mut store, "a SEARCH SUBJECT first\r\n").contains("* SEARCH 1\r\n"));
    // The file's bytes change behind the cache's back, keeping its size,
    // name and modification time: header keys still answer from the cache
    // (the file is not read), BODY reads the file.
    let path = root.join(format!("cur/{WHEN}.M0P1.test:2,S"));
    let changed = String::from_utf8(messages[0].clone())
        .unwrap()
        .replace("first", "FIRST")
        .replace("needle", "NEEDLE");
    let other = changed
        .replace("FIRST", "xxxxx")
        .replace("NEEDLE", "nothin");
    fs::write(&path, &other).unwrap();
    set_mtime(&path, WHEN);
    let mut fresh = maildir_store(&root);
    assert!(ask(&mut fresh, "a SEARCH SUBJECT first\r\n").contains("* SEARCH 1\r\n"));
    assert!(ask(&mut fresh, "a SEARCH BODY needle\r\n").contains("* SEARCH\r\n"));

    // A message delivered by another process appears and is answered.
    fs::write(
        root.join("new/1800000000.M9P9.other"),
        b"From: Zed <zed@example.org>\r\nSubject: from outside\r\n\r\nx\r\n",
    )
    .unwrap();
    let got = ask(&mut maildir_store(&root), "a SEARCH SUBJECT outside\r\n");
    assert!(got.contains("* SEARCH 4\r\n"), "{got}");

    // Renumbered from scratch (the UID list lost): UID 1 is now another
    // message, and its old record must not answer for it.
    fs::remove_dir_all(root.join("cur")).unwrap();
    fs::remove_dir_all(root.join("new")).unwrap();
    fs::create_dir_all(root.join("cur")).unwrap();
    fs::create_dir_all(root.join("new")).unwrap();
    let _ = fs::remove_file(root.join(".mailwire-uidlist"));
    let path = root.join("cur/1900000000.M1P1.again:2,");
    fs::write(
        &path,
        b"From: Ann <ann@example.com>\r\nSubject: renumbered\r\n\r\nbody\r\n",
    )
    .unwrap();
    let got = ask(&mut maildir_store(&root), "a FETCH 1 ENVELOPE\r\n");
    assert!(got.contains("\"renumbered\""), "{got}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn expunged_messages_leave_no_answers_behind() {
    let dir = temp("expunge");
    let messages = samples();
    let root = maildir(&dir, &messages);
    let mut store = maildir_store(&root);
    assert!(ask(&mut store, "a SEARCH FROM ann\r\n").contains("* SEARCH 1\r\n"));
    store.expunge("INBOX", &[1]).unwrap();
    let got = ask(&mut store, "a SEARCH FROM ann\r\nb FETCH 1 ENVELOPE\r\n");
    assert!(got.contains("* SEARCH\r\n"), "{got}");
    assert!(got.contains("\"second\""), "{got}");
    fs::remove_dir_all(&dir).unwrap();
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    let text = "[a-zA-Z0-9 .,@<>\"=?-]{0,30}";
    (
        text,
        text,
        prop_oneof![
            Just("ann@example.com"),
            Just("Bob <bob@example.org>"),
            Just("x")
        ],
        proptest::option::of(1u32..28),
        proptest::collection::vec("[a-z needl]{0,50}", 0..6),
        any::<bool>(),
    )
        .prop_map(|(subject, extra, from, day, lines, multipart)| {
            let mut m = format!("From: {from}\r\nSubject: {subject}\r\n");
            if let Some(d) = day {
                m.push_str(&format!("Date: {d} Jan 2024 10:00:00 +0000\r\n"));
            }
            m.push_str(&format!("X-Tag: {extra}\r\n\t{subject}\r\n"));
            let body = lines.join("\r\n");
            if multipart {
                m.push_str("Content-Type: multipart/alternative; boundary=zz\r\n\r\n--zz\r\n\r\n");
                m.push_str(&body);
                m.push_str("\r\n--zz\r\nContent-Type: text/html\r\n\r\n<p>");
                m.push_str(&extra);
                m.push_str("</p>\r\n--zz--\r\n");
            } else {
                m.push_str("\r\n");
                m.push_str(&body);
            }
            m.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn cached_answers_equal_uncached_ones(messages in proptest::collection::vec(message(), 1..5)) {
        let dir = temp("prop");
        let root = maildir(&dir, &messages);
        let want = ask(&mut memory(&messages), COMMANDS);
        prop_assert_eq!(&ask(&mut maildir_store(&root), COMMANDS), &want);
        prop_assert_eq!(&ask(&mut maildir_store(&root), COMMANDS), &want);
        fs::remove_dir_all(&dir).unwrap();
    }
}
