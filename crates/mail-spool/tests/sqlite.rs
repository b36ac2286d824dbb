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
