//! The pure scheduler: what to attempt next and when, as a deterministic
//! function of the time, the queue's state, the limits and the replies.
//! No clock, no randomness (jitter comes in as a value), no I/O.
//!
//! - [`RetryPolicy`] and [`Retry`]: when a deferred recipient comes back,
//!   and when it has been queued too long.
//! - [`classify_reply`] and [`classify_failure`]: a reply or a failed
//!   connection read as a [`Verdict`].
//! - [`TokenBucket`], [`DailyQuota`], [`RateLimits`], [`Pacer`]: pacing.
//! - [`Scheduler`]: per destination, how many attempts run at once, its
//!   pacing, and the rest it takes after a 421.
//!
//! Driving it: before an attempt to a destination, [`Scheduler::admit`];
//! when the attempt ends, [`Scheduler::finish`] with what the destination
//! said; for each recipient left undelivered, [`RetryPolicy::next`].
//!
//! ```
//! use mail_spool::schedule::{Admission, DestinationPolicy, Jitter, Scheduler, Verdict};
//! use mail_spool::Timestamp;
//! use std::time::Duration;
//!
//! let mut policy = DestinationPolicy::default();
//! policy.max_attempts = 1;
//! let mut scheduler = Scheduler::new(policy);
//! let t0 = Timestamp::from_secs(1_800_000_000);
//! assert_eq!(scheduler.admit("example.org", t0), Admission::Go);
//! assert_eq!(scheduler.admit("example.org", t0), Admission::Busy);
//! // The server said 421: the destination rests.
//! scheduler.finish("example.org", t0, Verdict::BackOffDestination, Jitter(u64::MAX / 2));
//! let Admission::Wait(until) = scheduler.admit("example.org", t0) else { panic!() };
//! assert!(until > t0 + Duration::from_secs(29));
//! assert_eq!(scheduler.admit("example.org", until), Admission::Go);
//! ```

mod limits;
mod retry;

pub use limits::{DailyQuota, Pacer, RateLimits, TokenBucket};
pub use retry::{
    classify_failure, classify_reply, ConnectionFailure, Jitter, Retry, RetryPolicy, Verdict,
};

use crate::time::Timestamp;
use std::collections::HashMap;
use std::time::Duration;

/// How the scheduler treats one destination (a relay, or a recipient
/// domain's MX hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Attempts in flight at once (each holds one connection).
    pub max_attempts: u32,
    /// Messages per time and daily quota.
    pub limits: RateLimits,
    /// The rest after a 421 or a refused connection: its floor, base and
    /// cap (the maximum age is not used).
    pub rest: RetryPolicy,
}

impl Default for DestinationPolicy {
    /// Five attempts at once (Postfix's default destination concurrency is
    /// 20 for its whole transport; big providers throttle above a handful),
    /// no rate limit, a rest of 30 s doubling to 30 minutes.
    fn default() -> Self {
        DestinationPolicy {
            max_attempts: 5,
            limits: RateLimits::default(),
            rest: RetryPolicy {
                base: Duration::from_secs(60),
                cap: Duration::from_secs(30 * 60),
                floor: Duration::from_secs(30),
                max_age: Duration::MAX,
            },
        }
    }
}

/// The answer to "may I attempt this destination now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes: one attempt is now counted in flight; call
    /// [`Scheduler::finish`] when it ends.
    Go,
    /// Not before this time (the destination rests, or a rate limit or
    /// quota ran out). Defer the messages to then; this is not a failure.
    Wait(Timestamp),
    /// As many attempts as allowed are in flight: ask again when one ends.
    Busy,
}

#[derive(Debug, Clone)]
struct Destination {
    pacer: Pacer,
    in_flight: u32,
    resting_until: Timestamp,
    rests: u32,
    last_used: Timestamp,
}

/// Per-destination concurrency, pacing and rest, for every destination
/// seen. See the [module docs](self) for the driving order.
#[derive(Debug, Clone)]
pub struct Scheduler {
    default_policy: DestinationPolicy,
    policies: HashMap<String, DestinationPolicy>,
    destinations: HashMap<String, Destination>,
}

impl Scheduler {
    /// A scheduler applying `default_policy` to every destination without
    /// a policy of its own.
    pub fn new(default_policy: DestinationPolicy) -> Scheduler {
        Scheduler {
            default_policy,
            policies: HashMap::new(),
            destinations: HashMap::new(),
        }
    }

    /// Gives `destination` its own policy (a provider's published limits).
    pub fn set_policy(&mut self, destination: &str, policy: DestinationPolicy) {
        self.policies.insert(destination.to_owned(), policy);
        self.destinations.remove(destination);
    }

    /// The policy that applies to `destination`.
    pub fn policy(&self, destination: &str) -> &DestinationPolicy {
        self.policies
            .get(destination)
            .unwrap_or(&self.default_policy)
    }

    fn entry(&mut self, destination: &str, now: Timestamp) -> &mut Destination {
        let limits = self
            .policies
            .get(destination)
            .unwrap_or(&self.default_policy)
            .limits;
        self.destinations
            .entry(destination.to_owned())
            .or_insert_with(|| Destination {
                pacer: Pacer::new(&limits, now),
                in_flight: 0,
                resting_until: Timestamp::EPOCH,
                rests: 0,
                last_used: now,
            })
    }

    /// Asks to start one attempt (one message, with all its recipients at
    /// this destination) at `now`.
    pub fn admit(&mut self, destination: &str, now: Timestamp) -> Admission {
        let max = self.policy(destination).max_attempts.max(1);
        let d = self.entry(destination, now);
        d.last_used = now;
        if d.resting_until > now {
            return Admission::Wait(d.resting_until);
        }
        if d.in_flight >= max || !d.pacer.may_connect() {
            return Admission::Busy;
        }
        if let Err(at) = d.pacer.take_message(now) {
            return Admission::Wait(at);
        }
        d.in_flight += 1;
        d.pacer.connection_opened();
        Admission::Go
    }

    /// Ends an attempt that [`admit`](Self::admit) let go. `verdict` is what
    /// the destination as a whole said: [`Verdict::BackOffDestination`]
    /// makes it rest (longer each time in a row), anything that reached the
    /// server ends the rest streak.
    pub fn finish(&mut self, destination: &str, now: Timestamp, verdict: Verdict, jitter: Jitter) {
        let rest = self.policy(destination).rest;
        let d = self.entry(destination, now);
        d.in_flight = d.in_flight.saturating_sub(1);
        d.pacer.connection_closed();
        d.last_used = now;
        match verdict {
            Verdict::BackOffDestination => {
                d.rests = d.rests.saturating_add(1);
                d.resting_until = d.resting_until.max(now + rest.delay(d.rests, jitter));
            }
            Verdict::Delivered | Verdict::Fail | Verdict::Retry => d.rests = 0,
        }
    }

    /// Takes back an [`admit`](Self::admit) that said go, for an attempt
    /// that did not start after all (a limit shared with other workers ran
    /// out): it leaves the attempt count and the rest streak as they were.
    /// The message taken from this scheduler's own buckets stays taken.
    pub fn cancel(&mut self, destination: &str) {
        if let Some(d) = self.destinations.get_mut(destination) {
            d.in_flight = d.in_flight.saturating_sub(1);
            d.pacer.connection_closed();
        }
    }

    /// Until when `destination` rests, if it does at `now`.
    pub fn resting_until(&self, destination: &str, now: Timestamp) -> Option<Timestamp> {
        self.destinations
            .get(destination)
            .map(|d| d.resting_until)
            .filter(|t| *t > now)
    }

    /// Attempts in flight to `destination`.
    pub fn in_flight(&self, destination: &str) -> u32 {
        self.destinations
            .get(destination)
            .map_or(0, |d| d.in_flight)
    }

    /// Forgets destinations idle for `idle` with nothing in flight and no
    /// rest pending, so memory stays bounded by the active destinations.
    /// A forgotten destination starts again with full buckets.
    pub fn forget_idle(&mut self, now: Timestamp, idle: Duration) {
        self.destinations.retain(|_, d| {
            d.in_flight > 0 || d.resting_until > now || now.since(d.last_used) < idle
        });
    }

    /// Destinations remembered.
    pub fn destinations(&self) -> usize {
        self.destinations.len()
    }
}

#[cfg(test)]
mod tests;
