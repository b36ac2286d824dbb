use super::*;
use proptest::prelude::*;

fn config() -> GreylistConfig {
    GreylistConfig {
        enabled: true,
        delay_secs: 300,
        retry_window_secs: 3600,
        whitelist_secs: 86400,
        ..GreylistConfig::default()
    }
}

#[test]
fn first_attempt_defers_then_a_timely_retry_passes() {
    let c = config();
    let (d, e) = decide(&c, None, 1000);
    assert_eq!(
        d,
        Decision::Defer {
            retry_after: Duration::from_secs(300)
        }
    );
    let (d, e) = decide(&c, Some(e), 1100);
    assert_eq!(
        d,
        Decision::Defer {
            retry_after: Duration::from_secs(200)
        }
    );
    assert_eq!(
        e.first_seen, 1000,
        "an early retry does not restart the delay"
    );
    let (d, e) = decide(&c, Some(e), 1300);
    assert_eq!(d, Decision::Pass);
    assert!(e.passed);
    // Whitelisted: passes at once, refreshed each time.
    let (d, e) = decide(&c, Some(e), 1300 + 86000);
    assert_eq!(d, Decision::Pass);
    assert_eq!(e.last_seen, 1300 + 86000);
}

#[test]
fn a_late_retry_starts_over_and_whitelisting_expires() {
    let c = config();
    let (_, e) = decide(&c, None, 0);
    let (d, e2) = decide(&c, Some(e), 300 + 3600 + 1);
    assert!(matches!(d, Decision::Defer { .. }));
    assert_eq!(e2.first_seen, 3901);
    let (_, e) = decide(&c, None, 0);
    let (_, passed) = decide(&c, Some(e), 400);
    let (d, fresh) = decide(&c, Some(passed), 400 + 86400 + 1);
    assert!(matches!(d, Decision::Defer { .. }));
    assert!(!fresh.passed);
}

#[test]
fn clock_going_back_never_shortens_the_delay() {
    let c = config();
    let (_, e) = decide(&c, None, 10_000);
    let (d, _) = decide(&c, Some(e), 5_000);
    assert!(matches!(d, Decision::Defer { .. }));
}

#[test]
fn networks_are_masked() {
    assert_eq!(network([192, 0, 2, 77].into(), 24, 64), "192.0.2.0/24");
    assert_eq!(network([192, 0, 2, 77].into(), 0, 64), "0.0.0.0/0");
    assert_eq!(network([192, 0, 2, 77].into(), 40, 64), "192.0.2.77/32");
    let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
    assert_eq!(network(v6, 24, 64), "2001:db8:1:2::/64");
    let mapped: IpAddr = "::ffff:198.51.100.9".parse().unwrap();
    assert_eq!(network(mapped, 24, 64), "198.51.100.0/24");
    let c = config();
    let a = Triplet::new([192, 0, 2, 1].into(), "A@Example.com", "b@x", &c);
    let b = Triplet::new([192, 0, 2, 200].into(), "a@example.com", "B@X", &c);
    assert_eq!(a, b, "same /24, addresses compared without case");
}

#[test]
fn the_verdict_is_451_text_with_the_delay() {
    let d = Decision::Defer {
        retry_after: Duration::from_secs(120),
    };
    assert_eq!(
        d.verdict(),
        Some(Verdict::TempFail {
            text: "greylisted, please try again in 120 seconds".into()
        })
    );
    assert_eq!(Decision::Pass.verdict(), None);
}

#[test]
fn sqlite_store_survives_reopening_and_stays_bounded() {
    let dir = std::env::temp_dir().join(format!("mf-grey-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("greylist.sqlite");
    let _ = std::fs::remove_file(&path);
    let c = GreylistConfig {
        database: Some(path.clone()),
        max_entries: 5,
        ..config()
    };
    let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
    {
        let g = Greylist::new(c.clone()).unwrap();
        assert!(matches!(
            g.check([192, 0, 2, 1].into(), "a@x", "b@y", t0).unwrap(),
            Decision::Defer { .. }
        ));
    }
    {
        // A restart: the first attempt is remembered, so the retry passes.
        let g = Greylist::new(c.clone()).unwrap();
        assert_eq!(
            g.check(
                [192, 0, 2, 1].into(),
                "a@x",
                "b@y",
                t0 + Duration::from_secs(301)
            )
            .unwrap(),
            Decision::Pass
        );
        for i in 0..20u64 {
            g.check(
                [198, 51, 100, 1].into(),
                &format!("s{i}@x"),
                "r@y",
                t0 + Duration::from_secs(400 + i),
            )
            .unwrap();
        }
        assert_eq!(g.len().unwrap(), 5);
    }
    let g = Greylist::new(c).unwrap();
    assert_eq!(g.len().unwrap(), 5);
    // The most recent stayed.
    assert_eq!(
        g.check(
            [198, 51, 100, 1].into(),
            "s19@x",
            "r@y",
            t0 + Duration::from_secs(419 + 300)
        )
        .unwrap(),
        Decision::Pass
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    /// Whatever the attempts before, no attempt passes a new triplet before
    /// `delay` has passed since its first (deferred) attempt.
    #[test]
    fn never_passes_before_the_delay(
        delay in 1u64..10_000,
        window in 0u64..10_000,
        steps in proptest::collection::vec(0u64..3_000, 1..30),
    ) {
        let c = GreylistConfig { delay_secs: delay, retry_window_secs: window, ..config() };
        let mut now = 1_000_000u64;
        let (_, mut entry) = decide(&c, None, now);
        let mut started = now;
        for step in steps {
            now += step;
            let (d, e) = decide(&c, Some(entry), now);
            if d == Decision::Pass && !entry.passed {
                prop_assert!(now >= started + delay, "passed at {now}, started {started}");
                prop_assert!(now <= started + delay + window);
            }
            if let Decision::Defer { retry_after } = d {
                prop_assert!(retry_after.as_secs() >= 1);
                prop_assert!(retry_after.as_secs() <= delay);
            }
            if !e.passed && e.first_seen == now {
                started = now;
            }
            entry = e;
        }
    }

    /// A retry after the delay and within the window always passes, and
    /// then every attempt within the whitelist time passes too.
    #[test]
    fn a_correct_retry_always_passes(
        delay in 0u64..10_000,
        window in 0u64..10_000,
        offset in 0u64..10_000,
        early in proptest::collection::vec(0u64..10_000, 0..5),
    ) {
        let c = GreylistConfig { delay_secs: delay, retry_window_secs: window, ..config() };
        let t0 = 5_000_000u64;
        let (_, mut entry) = decide(&c, None, t0);
        for e in early {
            // Early retries (before the delay) change nothing that matters.
            let at = t0 + e % delay.max(1);
            if at < t0 + delay {
                entry = decide(&c, Some(entry), at).1;
            }
        }
        let retry = t0 + delay + offset % (window + 1);
        let (d, e) = decide(&c, Some(entry), retry);
        prop_assert_eq!(d, Decision::Pass);
        let (d, _) = decide(&c, Some(e), retry + c.whitelist_secs);
        prop_assert_eq!(d, Decision::Pass);
    }

    /// The memory store never holds more than its bound, and its two
    /// indexes agree.
    #[test]
    fn memory_is_bounded(
        max in 1usize..20,
        ops in proptest::collection::vec((0u8..50, 0u64..1_000), 0..200),
    ) {
        let c = GreylistConfig { max_entries: max, ..config() };
        let g = Greylist::with_store(c.clone(), Box::new(MemoryStore::new(max)));
        for (sender, at) in ops {
            g.check(
                [203, 0, 113, sender].into(),
                &format!("s{sender}@x"),
                "r@y",
                UNIX_EPOCH + Duration::from_secs(at),
            )
            .unwrap();
            prop_assert!(g.len().unwrap() <= max);
        }
        let mut store = MemoryStore::new(max);
        for i in 0..(max as u64 * 3) {
            let t = Triplet::new([10, 0, 0, 1].into(), &format!("{i}"), "r", &c);
            store.put(&t, Entry { first_seen: i, last_seen: i, passed: false }).unwrap();
            prop_assert_eq!(store.entries.len(), store.by_age.len());
            prop_assert!(store.entries.len() <= max);
        }
    }
}
