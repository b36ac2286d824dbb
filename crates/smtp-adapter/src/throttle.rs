//! AUTH failures counted per client address across connections, so that
//! a password guesser who reconnects after each refusal is refused, and its
//! log lines are rate-limited. (Each session delays its own failed AUTH
//! replies and closes after a few: see `ServerConfig::auth_failure_delay`.)
//! Deterministic: time is an argument.

use crate::admission::client_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed AUTH attempts per client address (IPv6 by its /64) within a
/// sliding window.
#[derive(Debug)]
pub struct AuthThrottle {
    max_failures: u32,
    window: Duration,
    log_interval: Duration,
    max_tracked: usize,
    clients: HashMap<IpAddr, Record>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    last_logged: Option<Instant>,
    unlogged: u32,
}

impl Default for AuthThrottle {
    /// 5 failures per address, refused until 15 minutes pass without one;
    /// one log line per address a minute; 10,000 addresses remembered.
    fn default() -> Self {
        AuthThrottle {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            log_interval: Duration::from_secs(60),
            max_tracked: 10_000,
            clients: HashMap::new(),
        }
    }
}

impl AuthThrottle {
    /// Allows `max_failures` failures per address; an address stays
    /// refused until `window` passed since its last failure.
    pub fn new(max_failures: u32, window: Duration) -> AuthThrottle {
        AuthThrottle {
            max_failures,
            window,
            ..AuthThrottle::default()
        }
    }

    /// True while `ip` has used up its failures: refuse its AUTH without
    /// looking at the credentials.
    pub fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.live(ip, now)
            .is_some_and(|record| record.failures >= self.max_failures)
    }

    /// Counts a failed attempt from `ip` at `now`. Returns `Some(n)` when a
    /// log line is due (at most one per address and minute): it stands for
    /// the `n` failures not logged since the last one, this one included.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) -> Option<u32> {
        let key = client_key(ip);
        let fresh = Record {
            failures: 0,
            last_failure: now,
            last_logged: None,
            unlogged: 0,
        };
        let mut record = self.live(ip, now).unwrap_or(fresh);
        if !self.clients.contains_key(&key) && self.clients.len() >= self.max_tracked {
            self.forget_oldest(now);
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        record.unlogged = record.unlogged.saturating_add(1);
        let log_due = record
            .last_logged
            .is_none_or(|at| now.saturating_duration_since(at) >= self.log_interval);
        let log = log_due.then(|| {
            record.last_logged = Some(now);
            std::mem::take(&mut record.unlogged)
        });
        self.clients.insert(key, record);
        log
    }

    /// Addresses remembered now.
    pub fn tracked(&self) -> usize {
        self.clients.len()
    }

    fn live(&self, ip: IpAddr, now: Instant) -> Option<Record> {
        self.clients
            .get(&client_key(ip))
            .filter(|r| now.saturating_duration_since(r.last_failure) < self.window)
            .copied()
    }

    /// Makes room: expired records go; if too few had expired, the tenth
    /// whose last failure is oldest (a batch, so that a flood of new
    /// addresses costs one scan per tenth of the table, not per address).
    fn forget_oldest(&mut self, now: Instant) {
        let window = self.window;
        self.clients
            .retain(|_, r| now.saturating_duration_since(r.last_failure) < window);
        if self.clients.len() < self.max_tracked {
            return;
        }
        let mut times: Vec<Instant> = self.clients.values().map(|r| r.last_failure).collect();
        let nth = times.len() / 10;
        let (_, cutoff, _) = times.select_nth_unstable(nth);
        let cutoff = *cutoff;
        self.clients.retain(|_, r| r.last_failure > cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 4] = [192, 0, 2, 1];
    const B: [u8; 4] = [192, 0, 2, 2];

    #[test]
    fn failures_block_the_address_across_connections() {
        let t0 = Instant::now();
        let mut throttle = AuthThrottle::new(3, Duration::from_secs(600));
        for i in 0..3 {
            assert!(!throttle.is_blocked(A.into(), t0 + Duration::from_secs(i)));
            throttle.record_failure(A.into(), t0 + Duration::from_secs(i));
        }
        assert!(throttle.is_blocked(A.into(), t0 + Duration::from_secs(5)));
        assert!(!throttle.is_blocked(B.into(), t0 + Duration::from_secs(5)));
        // The window runs from the last failure.
        assert!(throttle.is_blocked(A.into(), t0 + Duration::from_secs(601)));
        assert!(!throttle.is_blocked(A.into(), t0 + Duration::from_secs(603)));
    }

    #[test]
    fn log_lines_are_rate_limited_and_count_what_they_stand_for() {
        let t0 = Instant::now();
        let mut throttle = AuthThrottle::new(1000, Duration::from_secs(600));
        let logs: Vec<Option<u32>> = (0..100)
            .map(|i| throttle.record_failure(A.into(), t0 + Duration::from_millis(i * 100)))
            .collect();
        assert_eq!(logs.iter().flatten().count(), 1, "{logs:?}");
        assert_eq!(logs[0], Some(1));
        let later = throttle.record_failure(A.into(), t0 + Duration::from_secs(61));
        assert_eq!(later, Some(100));
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let t0 = Instant::now();
        let mut throttle = AuthThrottle::default();
        for i in 0..30_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            throttle.record_failure(ip, t0);
        }
        assert!(throttle.tracked() <= 10_000, "{}", throttle.tracked());
    }
}
