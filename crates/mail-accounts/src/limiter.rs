//! AUTH failures counted per user and per client address (IPv6 by its
//! /64) across connections. Pure: time is an argument.
//!
//! Each key (a user, a client network) allows `N` failures; a key that
//! reached them is refused, without the password being checked, until
//! `window` has passed since its last failure. So no window of that length
//! ever holds more than `N` failures of one key, whatever the order in
//! which connections check, fail and succeed: [`AuthLimiter::allowed`]
//! with a user reserves a slot on both keys for the attempt it lets
//! through, and [`AuthLimiter::failed`] or [`AuthLimiter::succeeded`]
//! releases it, so attempts running at once cannot overshoot together.
//! (An attempt must end within `window` for that to hold; a reservation
//! that is never released lapses once `window` passes without another.)
//!
//! A success does not reset the counts: neither a guesser holding one
//! valid account nor the real user's login buys more guesses.
//!
//! Memory is bounded: at most `max_tracked` users and as many networks are
//! remembered; past that, those whose failures lapsed go first, then the
//! tenth least recently active.

use crate::address::canonical_address;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The longest user name kept as a key; longer ones are cut (so two long
/// names sharing their first 320 bytes share a count: the safe side).
const MAX_USER_KEY: usize = 320;

/// The figures an [`AuthLimiter`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Failures one user may have before its AUTH is refused.
    pub failures_per_user: u32,
    /// Failures one client address (IPv6: one /64) may have.
    pub failures_per_ip: u32,
    /// How long a key stays refused after its last failure.
    pub window: Duration,
    /// How many users, and how many client networks, are remembered.
    pub max_tracked: usize,
    /// At most one log line per client network in this time.
    pub log_interval: Duration,
}

impl Default for AuthLimits {
    /// 10 failures per user, 5 per client network, refused until 15
    /// minutes pass without a failure; 10,000 of each remembered; one log
    /// line per network a minute.
    fn default() -> AuthLimits {
        AuthLimits {
            failures_per_user: 10,
            failures_per_ip: 5,
            window: Duration::from_secs(15 * 60),
            max_tracked: 10_000,
            log_interval: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Option<Instant>,
    /// Attempts let through and not yet ended.
    pending: u32,
    last_reserved: Option<Instant>,
    last_logged: Option<Instant>,
    unlogged: u32,
}

impl Record {
    const EMPTY: Record = Record {
        failures: 0,
        last_failure: None,
        pending: 0,
        last_reserved: None,
        last_logged: None,
        unlogged: 0,
    };

    /// Forgets failures and reservations older than `window`.
    fn lapse(&mut self, now: Instant, window: Duration) {
        let old =
            |at: Option<Instant>| at.is_none_or(|at| now.saturating_duration_since(at) >= window);
        if old(self.last_failure) {
            self.failures = 0;
        }
        if old(self.last_reserved) {
            self.pending = 0;
        }
    }

    fn used(&self, now: Instant, window: Duration) -> u32 {
        let mut live = *self;
        live.lapse(now, window);
        live.failures.saturating_add(live.pending)
    }

    fn idle(&self, now: Instant, window: Duration) -> bool {
        self.used(now, window) == 0
    }

    fn last_active(&self) -> Option<Instant> {
        self.last_failure.max(self.last_reserved)
    }
}

/// One table of keys with a bound on its size.
#[derive(Debug)]
struct Table<K> {
    records: HashMap<K, Record>,
}

impl<K: std::hash::Hash + Eq + Clone> Table<K> {
    fn new() -> Table<K> {
        Table {
            records: HashMap::new(),
        }
    }

    fn used(&self, key: &K, now: Instant, window: Duration) -> u32 {
        self.records.get(key).map_or(0, |r| r.used(now, window))
    }

    /// The record of `key`, lapsed to `now`, made room for if new.
    fn entry(&mut self, key: &K, now: Instant, limits: &AuthLimits) -> &mut Record {
        if !self.records.contains_key(key) && self.records.len() >= limits.max_tracked {
            self.make_room(now, limits);
        }
        let record = self.records.entry(key.clone()).or_insert(Record::EMPTY);
        record.lapse(now, limits.window);
        record
    }

    /// Idle keys go; if too few were, the tenth least recently active (a
    /// batch, so a flood of new keys costs one scan per tenth of the table).
    fn make_room(&mut self, now: Instant, limits: &AuthLimits) {
        let window = limits.window;
        self.records.retain(|_, r| !r.idle(now, window));
        if self.records.len() < limits.max_tracked.max(1) {
            return;
        }
        let mut times: Vec<Option<Instant>> =
            self.records.values().map(Record::last_active).collect();
        let nth = times.len() / 10;
        let (_, cutoff, _) = times.select_nth_unstable(nth);
        let cutoff = *cutoff;
        self.records.retain(|_, r| r.last_active() > cutoff);
    }
}

/// The key of a client address: an IPv4 address, or an IPv6 /64 (one
/// customer's network); an IPv4-mapped IPv6 address counts as IPv4.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// The key of a user name as a client typed it: compared as the directory
/// compares addresses, and case-blind on the local part too (so that
/// `Bob@` and `bob@` share one count: the safe side); cut to 320 bytes.
fn user_key(user: &str) -> String {
    let mut key = canonical_address(user)
        .unwrap_or_else(|| user.to_owned())
        .to_lowercase();
    if key.len() > MAX_USER_KEY {
        let mut end = MAX_USER_KEY;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// AUTH failures per user and per client network, across connections.
///
/// Call [`allowed`](Self::allowed) with the user name before checking a
/// password (refuse without checking when it says no), then
/// [`failed`](Self::failed) or [`succeeded`](Self::succeeded).
///
/// ```
/// use mail_accounts::{AuthLimiter, AuthLimits};
/// use std::time::{Duration, Instant};
/// let limits = AuthLimits { failures_per_user: 2, ..AuthLimits::default() };
/// let mut limiter = AuthLimiter::new(limits);
/// let (t0, ip) = (Instant::now(), "192.0.2.7".parse().unwrap());
/// for _ in 0..2 {
///     assert!(limiter.allowed(Some("ana@example.org"), ip, t0));
///     limiter.failed("ana@example.org", ip, t0);
/// }
/// assert!(!limiter.allowed(Some("ana@example.org"), ip, t0));
/// assert!(limiter.allowed(Some("ana@example.org"), ip, t0 + Duration::from_secs(15 * 60)));
/// ```
#[derive(Debug)]
pub struct AuthLimiter {
    limits: AuthLimits,
    users: Table<String>,
    networks: Table<IpAddr>,
}

impl Default for AuthLimiter {
    fn default() -> AuthLimiter {
        AuthLimiter::new(AuthLimits::default())
    }
}

impl AuthLimiter {
    /// A limiter enforcing `limits`.
    pub fn new(limits: AuthLimits) -> AuthLimiter {
        AuthLimiter {
            limits,
            users: Table::new(),
            networks: Table::new(),
        }
    }

    /// The figures it enforces.
    pub fn limits(&self) -> &AuthLimits {
        &self.limits
    }

    /// True when an attempt from `ip` (for `user`, when known yet) may go
    /// on to the password check. With a user, a `true` reserves the
    /// attempt's slot on both keys until [`failed`](Self::failed) or
    /// [`succeeded`](Self::succeeded); without one (an early check before
    /// the name is known) nothing is reserved.
    pub fn allowed(&mut self, user: Option<&str>, ip: IpAddr, now: Instant) -> bool {
        let (window, net) = (self.limits.window, ip_key(ip));
        if self.networks.used(&net, now, window) >= self.limits.failures_per_ip {
            return false;
        }
        let Some(user) = user else {
            return true;
        };
        let user = user_key(user);
        if self.users.used(&user, now, window) >= self.limits.failures_per_user {
            return false;
        }
        for record in [
            self.networks.entry(&net, now, &self.limits),
            self.users.entry(&user, now, &self.limits),
        ] {
            record.pending = record.pending.saturating_add(1);
            record.last_reserved = Some(now);
        }
        true
    }

    /// Counts a failed attempt of `user` from `ip` at `now`, ending the
    /// attempt [`allowed`](Self::allowed) reserved.
    pub fn failed(&mut self, user: &str, ip: IpAddr, now: Instant) {
        let _ = self.record_failure(Some(user), ip, now);
    }

    /// Counts a failed attempt that named no user (a cancelled or garbled
    /// exchange) against `ip`.
    pub fn failed_without_user(&mut self, ip: IpAddr, now: Instant) {
        let _ = self.record_failure(None, ip, now);
    }

    /// [`failed`](Self::failed), telling when a log line is due: `Some(n)`
    /// at most once per client network and `log_interval`, standing for the
    /// `n` failures from it not logged since the last line, this one
    /// included.
    pub fn record_failure(&mut self, user: Option<&str>, ip: IpAddr, now: Instant) -> Option<u32> {
        let limits = self.limits;
        // A failure with a user ends an attempt `allowed` reserved; one
        // without ended none.
        let reserved = user.is_some();
        if let Some(user) = user {
            fail(
                self.users.entry(&user_key(user), now, &limits),
                now,
                reserved,
            );
        }
        let record = self.networks.entry(&ip_key(ip), now, &limits);
        fail(record, now, reserved);
        record.unlogged = record.unlogged.saturating_add(1);
        let due = record
            .last_logged
            .is_none_or(|at| now.saturating_duration_since(at) >= limits.log_interval);
        due.then(|| {
            record.last_logged = Some(now);
            std::mem::take(&mut record.unlogged)
        })
    }

    /// Ends an attempt that succeeded: releases its reservation. The
    /// failures counted so far stay (see the module docs).
    pub fn succeeded(&mut self, user: &str, ip: IpAddr) {
        let release = |record: Option<&mut Record>| {
            if let Some(record) = record {
                record.pending = record.pending.saturating_sub(1);
            }
        };
        release(self.users.records.get_mut(&user_key(user)));
        release(self.networks.records.get_mut(&ip_key(ip)));
    }

    /// How many users and client networks are remembered now.
    pub fn tracked(&self) -> (usize, usize) {
        (self.users.records.len(), self.networks.records.len())
    }
}

fn fail(record: &mut Record, now: Instant, reserved: bool) {
    if reserved {
        record.pending = record.pending.saturating_sub(1);
    }
    record.failures = record.failures.saturating_add(1);
    record.last_failure = Some(now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WINDOW: Duration = Duration::from_secs(600);

    fn limiter(per_user: u32, per_ip: u32) -> AuthLimiter {
        AuthLimiter::new(AuthLimits {
            failures_per_user: per_user,
            failures_per_ip: per_ip,
            window: WINDOW,
            ..AuthLimits::default()
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_user_is_refused_from_every_address_after_its_failures() {
        let t0 = Instant::now();
        let mut limiter = limiter(3, 100);
        for i in 0..3u8 {
            let from = IpAddr::from([192, 0, 2, i]);
            assert!(limiter.allowed(Some("ana@example.org"), from, t0));
            limiter.failed("ana@example.org", from, t0);
        }
        // Another spelling of the same account shares the count.
        for name in ["ana@example.org", "ANA@Example.ORG", "ana@EXAMPLE.org."] {
            assert!(
                !limiter.allowed(Some(name), ip("198.51.100.1"), t0),
                "{name}"
            );
        }
        assert!(limiter.allowed(Some("bo@example.org"), ip("198.51.100.1"), t0));
        // Refused until the window passed since the last failure.
        assert!(!limiter.allowed(
            Some("ana@example.org"),
            ip("198.51.100.1"),
            t0 + WINDOW - Duration::from_secs(1)
        ));
        assert!(limiter.allowed(Some("ana@example.org"), ip("198.51.100.1"), t0 + WINDOW));
    }

    #[test]
    fn an_address_is_refused_for_every_user_and_ipv6_counts_by_64() {
        let t0 = Instant::now();
        let mut limiter = limiter(100, 2);
        limiter.failed("a@x.example", ip("2001:db8:1:2::1"), t0);
        limiter.failed("b@x.example", ip("2001:db8:1:2:ffff::9"), t0);
        assert!(!limiter.allowed(None, ip("2001:db8:1:2::77"), t0));
        assert!(!limiter.allowed(Some("c@x.example"), ip("2001:db8:1:2::77"), t0));
        assert!(limiter.allowed(None, ip("2001:db8:1:3::1"), t0));
        // IPv4 and its mapped IPv6 form are one client.
        limiter.failed_without_user(ip("192.0.2.9"), t0);
        limiter.failed_without_user(ip("::ffff:192.0.2.9"), t0);
        assert!(!limiter.allowed(None, ip("192.0.2.9"), t0));
    }

    #[test]
    fn attempts_running_at_once_cannot_overshoot_together() {
        let t0 = Instant::now();
        let mut limiter = limiter(2, 100);
        let from = ip("192.0.2.1");
        // Three connections check before any has failed: only two pass.
        assert!(limiter.allowed(Some("ana@x.example"), from, t0));
        assert!(limiter.allowed(Some("ana@x.example"), from, t0));
        assert!(!limiter.allowed(Some("ana@x.example"), from, t0));
        // One succeeds: its slot is free again; the failure still counts.
        limiter.succeeded("ana@x.example", from);
        limiter.failed("ana@x.example", from, t0);
        assert!(limiter.allowed(Some("ana@x.example"), from, t0));
        limiter.failed("ana@x.example", from, t0);
        assert!(!limiter.allowed(Some("ana@x.example"), from, t0));
        // A success does not wipe the failures.
        limiter.succeeded("ana@x.example", from);
        assert!(!limiter.allowed(Some("ana@x.example"), from, t0));
    }

    #[test]
    fn a_reservation_never_released_lapses() {
        let t0 = Instant::now();
        let mut limiter = limiter(1, 100);
        assert!(limiter.allowed(Some("ana@x.example"), ip("192.0.2.1"), t0));
        assert!(!limiter.allowed(Some("ana@x.example"), ip("192.0.2.1"), t0));
        assert!(limiter.allowed(Some("ana@x.example"), ip("192.0.2.1"), t0 + WINDOW));
    }

    #[test]
    fn log_lines_are_rate_limited_and_count_what_they_stand_for() {
        let t0 = Instant::now();
        let mut limiter = limiter(1000, 1000);
        let from = ip("192.0.2.1");
        let logs: Vec<Option<u32>> = (0..100)
            .map(|i| {
                limiter.record_failure(
                    Some("a@x.example"),
                    from,
                    t0 + Duration::from_millis(i * 100),
                )
            })
            .collect();
        assert_eq!(logs.iter().flatten().count(), 1, "{logs:?}");
        assert_eq!(logs[0], Some(1));
        assert_eq!(
            limiter.record_failure(None, from, t0 + Duration::from_secs(61)),
            Some(100)
        );
    }

    #[test]
    fn memory_stays_bounded_under_many_users_and_addresses() {
        let t0 = Instant::now();
        let mut limiter = AuthLimiter::new(AuthLimits {
            max_tracked: 1000,
            ..AuthLimits::default()
        });
        // A hostile client with a very long name, then a flood of names.
        limiter.failed(&"x".repeat(100_000), ip("192.0.2.1"), t0);
        for i in 0..30_000u32 {
            let name = format!("user{i}@example.org");
            let from = IpAddr::from(i.to_be_bytes());
            let _ = limiter.allowed(Some(&name), from, t0);
            limiter.failed(&name, from, t0);
        }
        let (users, networks) = limiter.tracked();
        assert!(users <= 1000 && networks <= 1000, "{users} {networks}");
        assert!(limiter
            .users
            .records
            .keys()
            .all(|k| k.len() <= MAX_USER_KEY));
    }

    /// What a client does next, in the property below.
    #[derive(Debug, Clone)]
    enum Step {
        /// A connection checks `allowed` for user `u` from address `a`.
        Begin { u: usize, a: usize },
        /// The `i`-th running attempt ends, failing or not.
        End { i: usize, fail: bool },
        /// A failure with no user (garbled exchange) from address `a`.
        Garbled { a: usize },
        /// Time passes.
        Wait { secs: u64 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..3usize, 0..5usize).prop_map(|(u, a)| Step::Begin { u, a }),
            4 => (any::<usize>(), any::<bool>()).prop_map(|(i, fail)| Step::End { i, fail }),
            1 => (0..5usize).prop_map(|a| Step::Garbled { a }),
            2 => (0..300u64).prop_map(|secs| Step::Wait { secs }),
        ]
    }

    const USERS: [&str; 3] = ["ana@example.org", "ANA@Example.org", "bo@example.org"];
    const ADDRS: [&str; 5] = [
        "192.0.2.1",
        "192.0.2.2",
        "2001:db8::1",
        "2001:db8::2",
        "2001:db8:0:1::1",
    ];

    /// No `n + 1` times within less than `window` of each other.
    fn within_limit(times: &[Instant], n: u32) -> bool {
        let n = n as usize;
        times
            .windows(n + 1)
            .all(|w| w[n].saturating_duration_since(w[0]) >= WINDOW)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn never_more_than_n_failures_per_window_per_user_and_per_address(
            steps in proptest::collection::vec(step(), 1..300),
            per_user in 1u32..4,
            per_ip in 1u32..6,
        ) {
            let mut limiter = limiter(per_user, per_ip);
            let mut now = Instant::now();
            let mut running: Vec<(usize, usize, Instant)> = Vec::new();
            let mut user_failures: HashMap<String, Vec<Instant>> = HashMap::new();
            let mut ip_failures: HashMap<IpAddr, Vec<Instant>> = HashMap::new();
            // Failures that were let through by `allowed` (garbled ones
            // never were and are kept apart for the address count).
            let fail = |limiter: &mut AuthLimiter,
                        user_failures: &mut HashMap<String, Vec<Instant>>,
                        ip_failures: &mut HashMap<IpAddr, Vec<Instant>>,
                        (u, a): (usize, usize),
                        now: Instant| {
                limiter.failed(USERS[u], ip(ADDRS[a]), now);
                user_failures.entry(user_key(USERS[u])).or_default().push(now);
                ip_failures.entry(ip_key(ip(ADDRS[a]))).or_default().push(now);
            };
            for step in steps {
                match step {
                    Step::Begin { u, a } => {
                        if limiter.allowed(Some(USERS[u]), ip(ADDRS[a]), now) {
                            running.push((u, a, now));
                        }
                    }
                    Step::End { i, fail: failed } if !running.is_empty() => {
                        let (u, a, _) = running.remove(i % running.len());
                        if failed {
                            fail(&mut limiter, &mut user_failures, &mut ip_failures, (u, a), now);
                        } else {
                            limiter.succeeded(USERS[u], ip(ADDRS[a]));
                        }
                    }
                    Step::End { .. } => {}
                    Step::Garbled { a } => {
                        // Refused outright when the address is used up.
                        if limiter.allowed(None, ip(ADDRS[a]), now) {
                            limiter.failed_without_user(ip(ADDRS[a]), now);
                            ip_failures.entry(ip_key(ip(ADDRS[a]))).or_default().push(now);
                        }
                    }
                    Step::Wait { secs } => {
                        now += Duration::from_secs(secs);
                        // Every attempt ends within the window (half of it).
                        while let Some(pos) = running.iter().position(|r| now.saturating_duration_since(r.2) >= WINDOW / 2) {
                            let (u, a, _) = running.remove(pos);
                            fail(&mut limiter, &mut user_failures, &mut ip_failures, (u, a), now);
                        }
                    }
                }
            }
            for times in user_failures.values() {
                prop_assert!(within_limit(times, per_user), "{:?}", times);
            }
            for times in ip_failures.values() {
                prop_assert!(within_limit(times, per_ip), "{:?}", times);
            }
        }
    }
}
