//! The PostgreSQL spool against the real server `tests/run-all.sh` starts
//! (tests/setup/50-postgres.sh exports MAILWIRE_TEST_POSTGRES_URL): the
//! shared contract, two workers racing for one queue, and a connection
//! that goes away.

mod common;

use common::{contract, message};
use mail_spool::spool::PostgresSpool;
use mail_spool::{Spool, SpoolError, Timestamp};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

fn server_url() -> String {
    std::env::var("MAILWIRE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("MAILWIRE_TEST_POSTGRES_URL is not set: run the tests with tests/run-all.sh, which starts PostgreSQL")
    })
}

/// A fresh database for one test, so tests do not see each other's rows.
fn database(name: &str) -> String {
    let url = server_url();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)
        .expect("connecting to the test PostgreSQL");
    let db = format!("spool_{name}_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

#[test]
fn the_postgres_spool_keeps_the_contract() {
    let spool = PostgresSpool::connect(&database("contract")).unwrap();
    contract(&spool);
}

#[test]
fn two_workers_never_hold_the_same_recipient() {
    let url = database("race");
    let a = Arc::new(PostgresSpool::connect(&url).unwrap());
    let b = Arc::new(PostgresSpool::connect(&url).unwrap());
    let messages: Vec<_> = (0..400).map(|n| message(n, &["r@race.example"])).collect();
    a.enqueue_batch(&messages, Timestamp(1)).unwrap();
    let take = |spool: Arc<PostgresSpool>, owner: &'static str| {
        std::thread::spawn(move || {
            let mut mine = Vec::new();
            loop {
                let claimed = spool
                    .claim(owner, Timestamp(2), Duration::from_secs(60), 7)
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(
                    claimed
                        .iter()
                        .flat_map(|c| c.recipients.iter().map(|r| r.id)),
                );
            }
        })
    };
    let (ta, tb) = (take(a.clone(), "a"), take(b.clone(), "b"));
    let (ra, rb) = (ta.join().unwrap(), tb.join().unwrap());
    let sa: HashSet<_> = ra.iter().collect();
    let sb: HashSet<_> = rb.iter().collect();
    assert_eq!(ra.len() + rb.len(), 400, "every recipient claimed once");
    assert!(
        sa.is_disjoint(&sb),
        "a recipient was claimed by both workers"
    );
    assert!(
        !ra.is_empty() && !rb.is_empty(),
        "both workers got work ({} / {})",
        ra.len(),
        rb.len()
    );
}

#[test]
fn a_connection_that_goes_away_is_a_clear_error_and_loses_nothing() {
    let url = database("gone");
    let spool = PostgresSpool::connect(&url).unwrap();
    let kept = spool
        .enqueue(&message(1, &["a@gone.example"]), Timestamp(1))
        .unwrap();
    // Another session ends every other connection to this database (what a
    // server restart or a failover does to a worker).
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", &[])
        .unwrap();
    let err = spool
        .enqueue(&message(2, &["b@gone.example"]), Timestamp(2))
        .unwrap_err();
    assert!(matches!(err, SpoolError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
    // The next call connects again; the acknowledged message is there.
    let again = spool
        .enqueue(&message(3, &["c@gone.example"]), Timestamp(3))
        .unwrap();
    assert_eq!(
        spool.show(kept.id).unwrap().recipients[0].address,
        "a@gone.example"
    );
    assert_eq!(
        spool.show(again.id).unwrap().recipients[0].address,
        "c@gone.example"
    );
    assert_eq!(
        spool.stats().unwrap().messages,
        2,
        "the failed enqueue left nothing half queued"
    );
}

#[test]
fn an_enqueue_wakes_a_listening_worker() {
    let url = database("notify");
    let spool = Arc::new(PostgresSpool::connect(&url).unwrap());
    // Connect the listener first (the first wait sets it up).
    spool.wait_for_work(Duration::from_millis(10));
    let producer = {
        let url = url.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            PostgresSpool::connect(&url)
                .unwrap()
                .enqueue(&message(1, &["a@n.example"]), Timestamp(1))
                .unwrap();
        })
    };
    let started = std::time::Instant::now();
    spool.wait_for_work(Duration::from_secs(20));
    let waited = started.elapsed();
    producer.join().unwrap();
    assert!(
        waited < Duration::from_secs(10),
        "the NOTIFY did not wake the worker ({waited:?})"
    );
}
