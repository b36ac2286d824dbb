//! The embedded SQLite spool: the shared contract, and what only a file
//! on this machine can show (damage, a full disk, reopening).

mod common;

use common::{contract, message, TempDir};
use mail_spool::spool::{SqliteOptions, SqliteSpool};
use mail_spool::{Spool, SpoolError, Timestamp};
use std::time::Duration;

#[test]
fn the_sqlite_spool_keeps_the_contract() {
    let dir = TempDir::new("contract");
    let spool = SqliteSpool::open(&dir.0, SqliteOptions::default()).unwrap();
    contract(&spool);
}

#[test]
fn what_was_acknowledged_is_there_after_reopening() {
    let dir = TempDir::new("reopen");
    let id = {
        let spool = SqliteSpool::open(&dir.0, SqliteOptions::default()).unwrap();
        spool
            .enqueue(&message(1, &["a@b.example"]), Timestamp(1))
            .unwrap()
            .id
    };
    let spool = SqliteSpool::open(&dir.0, SqliteOptions::default()).unwrap();
    assert_eq!(spool.show(id).unwrap().recipients[0].address, "a@b.example");
}

#[test]
fn a_file_that_is_not_a_spool_is_a_clear_error() {
    let dir = TempDir::new("corrupt");
    std::fs::write(dir.0.join("spool.db"), vec![0x5Au8; 64 * 1024]).unwrap();
    let err = SqliteSpool::open(&dir.0, SqliteOptions::default()).unwrap_err();
    assert!(matches!(err, SpoolError::Corrupt(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("damaged or is not a mailwire spool"),
        "{err}"
    );
}

#[test]
fn a_damaged_recipient_row_is_reported_not_panicked_on() {
    let dir = TempDir::new("bad-row");
    let spool = SqliteSpool::open(&dir.0, SqliteOptions::default()).unwrap();
    let id = spool
        .enqueue(&message(1, &["a@b.example"]), Timestamp(1))
        .unwrap()
        .id;
    let raw = rusqlite::Connection::open(dir.0.join("spool.db")).unwrap();
    raw.execute("UPDATE recipients SET state = 77", []).unwrap();
    let err = spool.show(id).unwrap_err();
    assert!(matches!(err, SpoolError::Corrupt(_)), "{err:?}");
    raw.execute("UPDATE recipients SET state = 0, failures = 'many'", [])
        .unwrap();
    let err = spool
        .claim("w", Timestamp(2), Duration::from_secs(1), 10)
        .unwrap_err();
    assert!(matches!(err, SpoolError::Corrupt(_)), "{err:?}");
}

#[test]
fn a_full_spool_refuses_new_mail_and_keeps_the_old() {
    let dir = TempDir::new("full");
    let options = SqliteOptions {
        max_pages: Some(64),
        ..SqliteOptions::default()
    };
    let spool = SqliteSpool::open(&dir.0, options).unwrap();
    let mut kept = Vec::new();
    let mut big = message(0, &["a@b.example"]);
    big.body = vec![b'x'; 16 * 1024];
    let err = loop {
        match spool.enqueue(&big, Timestamp(1)) {
            Ok(e) => kept.push(e.id),
            Err(e) => break e,
        }
        assert!(kept.len() < 100, "the size limit never applied");
    };
    assert!(matches!(err, SpoolError::Full(_)), "{err:?}");
    assert!(err.is_transient());
    assert!(!kept.is_empty());
    for id in &kept {
        assert_eq!(spool.body(*id).unwrap().len(), 16 * 1024);
    }
    // Room made, mail is accepted again.
    spool.delete(kept[0]).unwrap();
    spool
        .enqueue(&message(1, &["a@b.example"]), Timestamp(2))
        .unwrap();
}

#[test]
fn concurrent_enqueues_share_commits_and_each_gets_its_own_id() {
    let dir = TempDir::new("group");
    let spool = std::sync::Arc::new(SqliteSpool::open(&dir.0, SqliteOptions::default()).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let spool = std::sync::Arc::clone(&spool);
            std::thread::spawn(move || {
                (0..50)
                    .map(|n| {
                        spool
                            .enqueue(&message(t * 100 + n, &["a@b.example"]), Timestamp(1))
                            .unwrap()
                            .id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 400);
    for id in ids {
        let body = spool.body(id).unwrap();
        let detail = spool.show(id).unwrap();
        assert!(String::from_utf8_lossy(&body)
            .contains(&detail.summary.sender[3..detail.summary.sender.find('@').unwrap()]));
    }
}

#[test]
fn processes_opening_one_new_spool_at_once_all_succeed() {
    let dir = TempDir::new("open-race");
    let path = dir.0.clone();
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let path = path.clone();
            std::thread::spawn(move || {
                let spool = SqliteSpool::open(&path, SqliteOptions::default()).unwrap();
                spool
                    .enqueue(&message(n, &["a@b.example"]), Timestamp(1))
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let spool = SqliteSpool::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(spool.stats().unwrap().messages, 8);
}

#[test]
fn a_long_delay_warns_the_sender_once() {
    let dir = TempDir::new("delay-warning");
    let path = dir.0.clone();
    common::delay_warning_scenario(move || {
        std::sync::Arc::new(SqliteSpool::open(&path, SqliteOptions::default()).unwrap())
    });
}

/// Dedup keys are unique through a partial index (messages without a key
/// cost no index entry) in a new spool, and through the `UNIQUE` column of
/// a spool made before it, which opens unchanged and keeps deduplicating.
#[test]
fn dedup_keys_are_unique_in_new_and_older_spools() {
    let keyed = |n: usize| {
        let mut m = message(n, &["x@b.example"]);
        m.dedup_key = Some("campaign/x@b.example".into());
        m
    };
    let indexes = |dir: &std::path::Path| -> Vec<String> {
        let raw = rusqlite::Connection::open(dir.join("spool.db")).unwrap();
        let mut stmt = raw
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };

    let new = TempDir::new("dedup-new");
    let spool = SqliteSpool::open(&new.0, SqliteOptions::default()).unwrap();
    let first = spool.enqueue(&keyed(1), Timestamp(1)).unwrap();
    let again = spool.enqueue(&keyed(2), Timestamp(2)).unwrap();
    assert!(!first.duplicate && again.duplicate && again.id == first.id);
    spool
        .enqueue(&message(3, &["y@b.example"]), Timestamp(3))
        .unwrap();
    assert_eq!(indexes(&new.0), ["messages_dedup"]);

    let old = TempDir::new("dedup-old");
    std::fs::create_dir_all(&old.0).unwrap();
    {
        let raw = rusqlite::Connection::open(old.0.join("spool.db")).unwrap();
        raw.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('format', 'mailwire-spool-1');
             CREATE TABLE messages (id INTEGER PRIMARY KEY, sender TEXT NOT NULL,
                 queued_at INTEGER NOT NULL, size INTEGER NOT NULL, dedup_key TEXT UNIQUE);
             CREATE TABLE bodies (message_id INTEGER PRIMARY KEY REFERENCES messages(id)
                 ON DELETE CASCADE, body BLOB NOT NULL);
             CREATE TABLE recipients (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL
                 REFERENCES messages(id) ON DELETE CASCADE, address TEXT NOT NULL,
                 domain TEXT NOT NULL, state INTEGER NOT NULL, due INTEGER,
                 failures INTEGER NOT NULL DEFAULT 0, lease INTEGER NOT NULL DEFAULT 0,
                 owner TEXT, last_reply TEXT, remote_id TEXT, updated INTEGER NOT NULL);
             INSERT INTO messages VALUES (7, 'old@a.example', 1, 8, 'campaign/x@b.example');
             INSERT INTO bodies VALUES (7, X'6F6C6420626F6479');
             INSERT INTO recipients (message_id, address, domain, state, due, updated)
                 VALUES (7, 'x@b.example', 'b.example', 0, 1, 1);",
        )
        .unwrap();
    }
    let spool = SqliteSpool::open(&old.0, SqliteOptions::default()).unwrap();
    assert_eq!(
        spool.body(mail_spool::spool::MessageId(7)).unwrap(),
        b"old body"
    );
    let dup = spool.enqueue(&keyed(4), Timestamp(4)).unwrap();
    assert!(dup.duplicate, "the old message's key still counts");
    assert_eq!(dup.id, mail_spool::spool::MessageId(7));
    let other = spool
        .enqueue(&message(5, &["y@b.example"]), Timestamp(5))
        .unwrap();
    assert!(!other.duplicate);
    assert_eq!(
        indexes(&old.0),
        ["sqlite_autoindex_messages_1"],
        "no second index"
    );
}

/// A writer holding the spool (another process, say) makes an enqueue
/// wait, not fail, while the busy timeout lasts, and fail as unavailable
/// (nothing queued) when it lasts longer.
#[test]
fn an_enqueue_waits_for_another_writer_up_to_the_busy_timeout() {
    let dir = TempDir::new("busy");
    let patient = SqliteSpool::open(&dir.0, SqliteOptions::default()).unwrap();
    let hasty = SqliteSpool::open(
        &dir.0,
        SqliteOptions {
            busy_timeout: Duration::from_millis(100),
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let holder = rusqlite::Connection::open(dir.0.join("spool.db")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = hasty
        .enqueue(&message(1, &["a@b.example"]), Timestamp(1))
        .unwrap_err();
    assert!(matches!(err, SpoolError::Unavailable(_)), "{err:?}");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        holder.execute_batch("COMMIT").unwrap();
    });
    let id = patient
        .enqueue(&message(2, &["a@b.example"]), Timestamp(2))
        .unwrap()
        .id;
    release.join().unwrap();
    assert_eq!(
        patient.stats().unwrap().messages,
        1,
        "only the second was queued"
    );
    assert_eq!(hasty.show(id).unwrap().recipients.len(), 1);
}
