//! Scenarios on a virtual clock: a simulated queue and server, driven by the
//! scheduler exactly as the delivery workers drive it.

use super::*;
use proptest::prelude::*;

const MINUTE: Duration = Duration::from_secs(60);

/// One recipient in the simulated queue.
#[derive(Debug, Clone)]
struct Item {
    destination: String,
    queued_at: Timestamp,
    due: Timestamp,
    failures: u32,
    attempts: u32,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    InFlight(Timestamp),
    Delivered(Timestamp),
    Failed(Timestamp),
}

/// A deterministic jitter source (xorshift), standing in for the worker's.
struct Seed(u64);

impl Seed {
    fn next(&mut self) -> Jitter {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Jitter(self.0)
    }
}

struct Sim {
    now: Timestamp,
    scheduler: Scheduler,
    retry: RetryPolicy,
    items: Vec<Item>,
    seed: Seed,
    attempt_time: Duration,
    max_seen_in_flight: HashMap<String, u32>,
}

impl Sim {
    fn new(policy: DestinationPolicy, retry: RetryPolicy) -> Sim {
        Sim {
            now: Timestamp::from_secs(1_800_000_000),
            scheduler: Scheduler::new(policy),
            retry,
            items: Vec::new(),
            seed: Seed(0x9E37_79B9_7F4A_7C15),
            attempt_time: Duration::from_secs(1),
            max_seen_in_flight: HashMap::new(),
        }
    }

    fn enqueue(&mut self, destination: &str, n: usize) {
        for _ in 0..n {
            self.items.push(Item {
                destination: destination.to_owned(),
                queued_at: self.now,
                due: self.now,
                failures: 0,
                attempts: 0,
                state: State::Waiting,
            });
        }
    }

    /// Runs until nothing is waiting or `limit` has passed; `server` answers
    /// each attempt with a reply code and text, given the destination, the
    /// time and the recipient's index.
    fn run(
        &mut self,
        limit: Duration,
        mut server: impl FnMut(&str, Timestamp, usize) -> (u16, &'static str),
    ) {
        let end = self.now + limit;
        while self.now < end {
            // Finish attempts whose time is up.
            for i in 0..self.items.len() {
                if let State::InFlight(done) = self.items[i].state {
                    if done <= self.now {
                        let dest = self.items[i].destination.clone();
                        let (code, text) = server(&dest, self.now, i);
                        let verdict = classify_reply(code, text);
                        let jitter = self.seed.next();
                        self.scheduler.finish(&dest, self.now, verdict, jitter);
                        let item = &mut self.items[i];
                        item.state = match verdict {
                            Verdict::Delivered => State::Delivered(self.now),
                            Verdict::Fail => State::Failed(self.now),
                            Verdict::Retry | Verdict::BackOffDestination => {
                                item.failures += 1;
                                match self.retry.next(
                                    item.failures,
                                    item.queued_at,
                                    self.now,
                                    self.seed.next(),
                                ) {
                                    Retry::At(t) => {
                                        item.due = t;
                                        State::Waiting
                                    }
                                    Retry::GiveUp => State::Failed(self.now),
                                }
                            }
                        };
                    }
                }
            }
            // Start what is due.
            for i in 0..self.items.len() {
                let item = &self.items[i];
                if item.state != State::Waiting || item.due > self.now {
                    continue;
                }
                let dest = item.destination.clone();
                match self.scheduler.admit(&dest, self.now) {
                    Admission::Go => {
                        let item = &mut self.items[i];
                        item.attempts += 1;
                        item.state = State::InFlight(self.now + self.attempt_time);
                        let in_flight = self.scheduler.in_flight(&dest);
                        let seen = self.max_seen_in_flight.entry(dest).or_default();
                        *seen = (*seen).max(in_flight);
                    }
                    // A deferral, not a failure, and no attempt counted.
                    Admission::Wait(t) => {
                        let item = &mut self.items[i];
                        match self.retry.postpone(item.queued_at, self.now, t) {
                            Retry::At(t) => item.due = t,
                            Retry::GiveUp => item.state = State::Failed(self.now),
                        }
                    }
                    Admission::Busy => {}
                }
            }
            if self
                .items
                .iter()
                .all(|i| matches!(i.state, State::Delivered(_) | State::Failed(_)))
            {
                return;
            }
            self.now = self.now + Duration::from_millis(250);
        }
    }

    fn count(&self, f: impl Fn(&Item) -> bool) -> usize {
        self.items.iter().filter(|i| f(i)).count()
    }
}

fn delivered(i: &Item) -> bool {
    matches!(i.state, State::Delivered(_))
}

fn failed(i: &Item) -> bool {
    matches!(i.state, State::Failed(_))
}

#[test]
fn greylisting_is_passed_on_the_second_attempt() {
    let mut sim = Sim::new(DestinationPolicy::default(), RetryPolicy::MX);
    sim.enqueue("grey.example", 20);
    let start = sim.now;
    // Greylisting: a recipient first seen less than 4 minutes ago gets 451.
    let mut first_seen: HashMap<usize, Timestamp> = HashMap::new();
    sim.run(Duration::from_secs(3600), |_, now, i| {
        let seen = *first_seen.entry(i).or_insert(now);
        if now.since(seen) < 4 * MINUTE {
            (451, "4.7.1 Greylisted, please try again later")
        } else {
            (250, "2.0.0 Ok")
        }
    });
    assert_eq!(sim.count(delivered), 20);
    assert!(sim.items.iter().all(|i| i.attempts == 2), "{:?}", sim.items);
    // The floor (5 min) keeps the retry after the greylisting window.
    assert!(sim.items.iter().all(|i| match i.state {
        State::Delivered(t) => t.since(start) >= 5 * MINUTE,
        _ => false,
    }));
}

#[test]
fn a_421_rests_the_destination_instead_of_hammering_it() {
    let mut sim = Sim::new(DestinationPolicy::default(), RetryPolicy::RELAY);
    sim.enqueue("busy.example", 200);
    sim.enqueue("calm.example", 50);
    let outage_end = sim.now + 20 * MINUTE;
    let mut attempts_during_outage = 0;
    sim.run(Duration::from_secs(6 * 3600), |dest, now, _| {
        if dest == "busy.example" && now < outage_end {
            attempts_during_outage += 1;
            (421, "4.7.0 Too many connections, try again later")
        } else {
            (250, "2.0.0 Ok")
        }
    });
    assert_eq!(sim.count(delivered), 250);
    assert_eq!(sim.count(failed), 0);
    // Only the attempts already in flight when the rest began, and one
    // batch after each rest, reached the busy server: far fewer than one
    // per message per retry (200 messages × several retries).
    assert!(
        attempts_during_outage <= 5 * 8,
        "{attempts_during_outage} attempts during the outage"
    );
    // The calm destination was not held up by the busy one.
    let calm_last = sim
        .items
        .iter()
        .filter(|i| i.destination == "calm.example")
        .filter_map(|i| match i.state {
            State::Delivered(t) => Some(t),
            _ => None,
        })
        .max();
    assert!(calm_last.is_some_and(|t| t.since(sim.items[0].queued_at) < MINUTE));
}

#[test]
fn a_daily_quota_defers_to_the_next_day_and_fails_nothing() {
    let mut policy = DestinationPolicy::default();
    policy.limits.daily_quota = Some((100, Duration::ZERO));
    let retry = RetryPolicy {
        max_age: Duration::from_secs(5 * 86_400),
        ..RetryPolicy::RELAY
    };
    let mut sim = Sim::new(policy, retry);
    sim.enqueue("smtp.provider.example", 250);
    let day = |t: Timestamp| t.0.div_euclid(86_400_000);
    sim.run(Duration::from_secs(4 * 86_400), |_, _, _| (250, "2.0.0 Ok"));
    assert_eq!(sim.count(delivered), 250);
    let mut per_day: HashMap<i64, usize> = HashMap::new();
    for i in &sim.items {
        if let State::Delivered(t) = i.state {
            *per_day.entry(day(t)).or_default() += 1;
        }
    }
    let mut counts: Vec<usize> = per_day.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![50, 100, 100]);
    // The quota deferred without counting attempts.
    assert!(sim.items.iter().all(|i| i.attempts == 1));
}

#[test]
fn per_recipient_outcomes_are_kept_apart() {
    let mut sim = Sim::new(DestinationPolicy::default(), RetryPolicy::RELAY);
    sim.enqueue("mixed.example", 9);
    sim.run(Duration::from_secs(3 * 3600), |_, now, i| match i % 3 {
        0 => (250, "2.0.0 Ok"),
        1 => (550, "5.1.1 No such user"),
        _ if now.since(Timestamp::from_secs(1_800_000_000)) < 10 * MINUTE => {
            (450, "4.2.1 Mailbox busy")
        }
        _ => (250, "2.0.0 Ok"),
    });
    assert_eq!(sim.count(delivered), 6);
    assert_eq!(sim.count(failed), 3);
    assert!(sim
        .items
        .iter()
        .enumerate()
        .all(|(n, i)| (n % 3 == 1) == failed(i)));
}

#[test]
fn a_dead_destination_gives_up_at_the_maximum_age_and_not_before() {
    let retry = RetryPolicy {
        max_age: Duration::from_secs(6 * 3600),
        ..RetryPolicy::RELAY
    };
    let mut sim = Sim::new(DestinationPolicy::default(), retry);
    sim.enqueue("dead.example", 10);
    let start = sim.now;
    sim.run(Duration::from_secs(12 * 3600), |_, _, _| {
        (451, "4.4.1 host not reachable")
    });
    assert_eq!(sim.count(failed), 10);
    for i in &sim.items {
        let State::Failed(t) = i.state else { panic!() };
        assert!(t.since(start) >= retry.max_age, "gave up early at {t}");
        assert!(
            t.since(start) < retry.max_age + MINUTE,
            "gave up late at {t}"
        );
    }
}

#[test]
fn idle_destinations_are_forgotten() {
    let mut s = Scheduler::new(DestinationPolicy::default());
    let t0 = Timestamp(0);
    for n in 0..100 {
        assert_eq!(s.admit(&format!("d{n}.example"), t0), Admission::Go);
        s.finish(&format!("d{n}.example"), t0, Verdict::Delivered, Jitter(0));
    }
    assert_eq!(s.admit("held.example", t0), Admission::Go);
    s.forget_idle(t0 + Duration::from_secs(3600), Duration::from_secs(600));
    assert_eq!(s.destinations(), 1);
    assert_eq!(s.in_flight("held.example"), 1);
}

proptest! {
    /// Whatever the server answers and however long attempts take, no
    /// destination ever has more attempts in flight than its policy allows,
    /// and every recipient ends delivered or failed within its maximum age.
    #[test]
    fn concurrency_is_bounded_and_everything_ends(
        max_attempts in 1u32..6,
        replies in proptest::collection::vec(prop_oneof![
            Just((250u16, "ok")), Just((451, "try later")), Just((421, "busy")), Just((550, "no")),
        ], 1..20),
        attempt_ms in 1u64..5_000,
        n in 1usize..40,
    ) {
        let policy = DestinationPolicy { max_attempts, ..DestinationPolicy::default() };
        let retry = RetryPolicy { max_age: Duration::from_secs(3 * 3600), ..RetryPolicy::RELAY };
        let mut sim = Sim::new(policy, retry);
        sim.attempt_time = Duration::from_millis(attempt_ms);
        sim.enqueue("a.example", n);
        sim.enqueue("b.example", n / 2);
        let mut k = 0;
        sim.run(Duration::from_secs(4 * 3600), |_, _, _| {
            k += 1;
            replies[k % replies.len()]
        });
        for seen in sim.max_seen_in_flight.values() {
            prop_assert!(*seen <= max_attempts);
        }
        prop_assert_eq!(sim.count(|i| delivered(i) || failed(i)), sim.items.len());
    }
}
