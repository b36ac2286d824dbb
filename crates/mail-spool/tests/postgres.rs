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

/// Workers on separate connections (as on separate machines) racing for
/// one destination's shared rate limit and daily quota: together they take
/// exactly what the limits allow, never one each.
#[test]
fn rate_limits_and_quotas_are_shared_by_every_worker() {
    use mail_spool::schedule::RateLimits;
    let url = database("pacing");
    let limits = RateLimits {
        per_minute: Some(10),
        daily_quota: Some((14, Duration::ZERO)),
        ..RateLimits::default()
    };
    let now = Timestamp(1_800_000_000_000);
    let race = |now: Timestamp| {
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let spool = PostgresSpool::connect(&url).unwrap();
                std::thread::spawn(move || {
                    (0..5)
                        .filter(|_| {
                            spool
                                .take_shared("mx.pacing.example", &limits, now)
                                .unwrap()
                                .is_ok()
                        })
                        .count()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .sum::<usize>()
    };
    // 30 asks at one instant: the minute's bucket holds 10.
    assert_eq!(race(now), 10);
    // A minute later the bucket is full again, but the day's quota of 14
    // has only 4 left.
    assert_eq!(race(Timestamp(now.0 + 60_000)), 4);
    // The refusal names the next quota day (midnight UTC here).
    let spool = PostgresSpool::connect(&url).unwrap();
    let next_day = Timestamp((now.0 / 86_400_000 + 1) * 86_400_000);
    assert_eq!(
        spool
            .take_shared("mx.pacing.example", &limits, Timestamp(now.0 + 120_000))
            .unwrap(),
        Err(next_day)
    );
    // Another destination has its own state; changed limits start afresh.
    assert!(spool
        .take_shared("other.example", &limits, now)
        .unwrap()
        .is_ok());
    let wider = RateLimits {
        per_minute: Some(100),
        ..RateLimits::default()
    };
    assert!(spool
        .take_shared("mx.pacing.example", &wider, Timestamp(now.0 + 120_000))
        .unwrap()
        .is_ok());
}

/// Two delivery engines (two `mailwire deliver` processes) over one
/// PostgreSQL queue with a limit of 6 messages a minute to the destination:
/// between them they send 6 (7 if a token refills during the run), not 6
/// each, and the rest wait as deferred, not failed.
#[test]
fn two_engines_share_one_destination_limit() {
    use mail_spool::engine::{Attempt, Engine, EngineConfig, Transport, TransportWorker};
    use mail_spool::schedule::{RateLimits, RetryPolicy, Verdict};
    use mail_spool::spool::RecipientState;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(Arc<AtomicUsize>);
    struct CountingWorker(Arc<AtomicUsize>);
    impl Transport for Counting {
        type Worker = CountingWorker;
        fn destination(&self, _domain: &str) -> String {
            "relay".into()
        }
        fn retry_policy(&self) -> RetryPolicy {
            RetryPolicy::RELAY
        }
        fn worker(&self) -> CountingWorker {
            CountingWorker(Arc::clone(&self.0))
        }
    }
    impl TransportWorker for CountingWorker {
        fn attempt(&mut self, _: &str, _: &str, recipients: &[String], _: &[u8]) -> Attempt {
            self.0.fetch_add(1, Ordering::SeqCst);
            Attempt::all(recipients.len(), Verdict::Delivered, "250 ok")
        }
        fn close_idle(&mut self) {}
    }

    let url = database("engines");
    let first = Arc::new(PostgresSpool::connect(&url).unwrap());
    let messages: Vec<_> = (0..20)
        .map(|n| message(n, &["r@limited.example"]))
        .collect();
    first.enqueue_batch(&messages, Timestamp::now()).unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let run = |owner: &str| {
        let spool: Arc<dyn Spool> = Arc::new(PostgresSpool::connect(&url).unwrap());
        let mut config = EngineConfig::new(owner);
        config.workers = 2;
        config.exit_when_idle = true;
        config.idle_poll = Duration::from_millis(50);
        config.destinations.limits = RateLimits {
            per_minute: Some(6),
            ..RateLimits::default()
        };
        let transport = Arc::new(Counting(Arc::clone(&sent)));
        Engine::new(spool, config).run(transport).unwrap();
    };
    // The first worker sends what the minute allows and defers the rest.
    run("worker-a");
    assert_eq!(sent.load(Ordering::SeqCst), 6);
    // The deferred recipients are made due again (as `mailwire queue
    // retry` does) and a second worker, with a scheduler of its own, runs:
    // the shared bucket is still empty, so it sends nothing more (one at
    // most if a token refilled meanwhile). A worker pacing alone would
    // send another 6.
    first.retry(None, Timestamp::now()).unwrap();
    run("worker-b");
    let sent = sent.load(Ordering::SeqCst);
    assert!(
        (6..=7).contains(&sent),
        "sent {sent}, the shared limit is 6 a minute"
    );
    let stats = first.stats().unwrap();
    let state = |s: RecipientState| {
        stats.recipients[RecipientState::ALL.iter().position(|x| *x == s).unwrap()]
    };
    assert_eq!(state(RecipientState::Delivered), sent as u64);
    assert_eq!(state(RecipientState::Deferred), 20 - sent as u64);
    assert_eq!(state(RecipientState::Failed), 0);
}

#[test]
fn a_long_delay_warns_the_sender_once() {
    let url = database("delay");
    common::delay_warning_scenario(move || Arc::new(PostgresSpool::connect(&url).unwrap()));
}
