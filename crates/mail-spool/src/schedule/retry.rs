//! When to try again, and whether to try at all: exponential backoff with
//! full jitter inside a maximum age (RFC 5321 §4.5.4.1), and the reading of
//! a reply or a failed connection as deliver / retry / fail.

use crate::time::{millis, Timestamp};
use std::time::Duration;

/// A random value chosen by the caller, so that the schedule itself stays a
/// deterministic function of its inputs. `Jitter(0)` means "no wait beyond
/// the floor", `Jitter(u64::MAX)` "the whole ceiling".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jitter(pub u64);

impl Jitter {
    /// `ceiling × self / 2⁶⁴`, in milliseconds.
    fn scale(self, ceiling_ms: i64) -> i64 {
        let ceiling = u128::try_from(ceiling_ms.max(0)).unwrap_or(0);
        i64::try_from((ceiling * u128::from(self.0)) >> 64).unwrap_or(i64::MAX)
    }
}

/// How a route retries a recipient that was deferred.
///
/// The n-th retry waits a uniformly jittered time in `[0, min(cap, base ×
/// 2ⁿ⁻¹)]` ("full jitter"), but never less than `floor`, so thousands of
/// messages deferred together by one outage do not come back together. A
/// recipient still undelivered `max_age` after it was queued fails; the
/// last attempt is made at that deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The ceiling of the first retry's wait; doubled for each one after.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
    /// The least wait (greylisting servers want a few minutes).
    pub floor: Duration,
    /// How long a recipient may stay in the queue before it fails.
    pub max_age: Duration,
}

/// What the retry policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again at this time.
    At(Timestamp),
    /// The maximum age has passed: fail the recipient (and bounce).
    GiveUp,
}

impl RetryPolicy {
    /// Direct delivery to MX hosts: RFC 5321 asks for at least 4–5 days
    /// before giving up; Postfix's minimal backoff (5 min) as the floor,
    /// a ceiling that doubles from 10 minutes to 4 hours.
    pub const MX: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(10 * 60),
        cap: Duration::from_secs(4 * 3600),
        floor: Duration::from_secs(5 * 60),
        max_age: Duration::from_secs(5 * 86_400),
    };

    /// A relay (a provider or a company smarthost): it answers fast or is
    /// down, and an application wants to hear within a day.
    pub const RELAY: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(60),
        cap: Duration::from_secs(30 * 60),
        floor: Duration::from_secs(30),
        max_age: Duration::from_secs(86_400),
    };

    /// The wait before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32, jitter: Jitter) -> Duration {
        let base = millis(self.base).max(1);
        let cap = millis(self.cap).max(base);
        let shift = retry.saturating_sub(1).min(40);
        let ceiling = base.saturating_mul(1_i64 << shift).min(cap);
        let wait = jitter.scale(ceiling).max(millis(self.floor));
        Duration::from_millis(u64::try_from(wait).unwrap_or(0))
    }

    /// When to try a recipient again after its `failures`-th failed attempt
    /// at `now`, or to give up because it was queued at `queued_at` and is
    /// older than the maximum age.
    pub fn next(
        &self,
        failures: u32,
        queued_at: Timestamp,
        now: Timestamp,
        jitter: Jitter,
    ) -> Retry {
        let deadline = queued_at + self.max_age;
        if now >= deadline {
            return Retry::GiveUp;
        }
        Retry::At((now + self.delay(failures, jitter)).min(deadline))
    }
}

impl RetryPolicy {
    /// A recipient that could not even be attempted at `now` (its
    /// destination rests, or a rate limit or quota ran out) waits until
    /// `until`, without counting a failure; but not past its maximum age.
    pub fn postpone(&self, queued_at: Timestamp, now: Timestamp, until: Timestamp) -> Retry {
        let deadline = queued_at + self.max_age;
        if now >= deadline {
            return Retry::GiveUp;
        }
        Retry::At(until.min(deadline))
    }
}

/// What became of one recipient in one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted (2yz at the end of data).
    Delivered,
    /// Try this recipient again later (4yz, a timeout, a dropped
    /// connection).
    Retry,
    /// Try again later, and give the whole destination a rest first (421,
    /// "too many connections", a refused connection).
    BackOffDestination,
    /// Refused for good (5yz): fail and bounce.
    Fail,
}

/// Reads an SMTP reply: 2yz delivers, 5yz fails, 4yz retries, and 421 or a
/// 4yz that speaks of too many connections or of rate makes the whole
/// destination wait.
///
/// ```
/// use mail_spool::schedule::{classify_reply, Verdict};
/// assert_eq!(classify_reply(250, "2.0.0 Ok: queued as 4BC1"), Verdict::Delivered);
/// assert_eq!(classify_reply(451, "4.7.1 Greylisted, try again later"), Verdict::Retry);
/// assert_eq!(classify_reply(421, "4.7.0 Too many connections"), Verdict::BackOffDestination);
/// assert_eq!(classify_reply(550, "5.1.1 No such user"), Verdict::Fail);
/// ```
pub fn classify_reply(code: u16, text: &str) -> Verdict {
    match code / 100 {
        2 | 3 => Verdict::Delivered,
        5 => Verdict::Fail,
        _ if code == 421 || speaks_of_overload(text) => Verdict::BackOffDestination,
        _ => Verdict::Retry,
    }
}

/// Words servers use when they want fewer connections or messages from us
/// (Postfix, Exim, Gmail "4.7.28 ... rate", Outlook "4.7.500 server busy").
fn speaks_of_overload(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "too many connections",
        "too many concurrent",
        "too many sessions",
        "connection limit",
        "rate limit",
        "rate-limit",
        "ratelimit",
        "unusual rate",
        "server busy",
        "try again later, closing connection",
    ]
    .iter()
    .any(|phrase| lower.contains(phrase))
}

/// Why an attempt ended without a reply to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionFailure {
    /// The connection could not be opened (refused, unreachable, no address).
    Connect,
    /// A reply did not come in time.
    Timeout,
    /// The connection dropped mid-way.
    Dropped,
    /// TLS failed, or the destination's policy wanted verified TLS and did
    /// not get it.
    Tls,
}

/// Every connection-level failure retries (RFC 5321 §4.5.4.1); one that
/// never reached the server also rests the destination, so a dead host is
/// not hammered by every queued message.
pub fn classify_failure(failure: ConnectionFailure) -> Verdict {
    match failure {
        ConnectionFailure::Connect | ConnectionFailure::Tls => Verdict::BackOffDestination,
        ConnectionFailure::Timeout | ConnectionFailure::Dropped => Verdict::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const P: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(60),
        cap: Duration::from_secs(3600),
        floor: Duration::from_secs(10),
        max_age: Duration::from_secs(86_400),
    };

    #[test]
    fn the_ceiling_doubles_then_stops_at_the_cap() {
        let full = Jitter(u64::MAX);
        let secs = |n| P.delay(n, full).as_secs();
        assert_eq!(secs(1), 59); // just under 60 s: the jitter is < 1
        assert_eq!(secs(2), 119);
        assert_eq!(secs(3), 239);
        assert_eq!(secs(7), 3599);
        assert_eq!(secs(1000), 3599);
        assert_eq!(P.delay(5, Jitter(0)), Duration::from_secs(10));
    }

    #[test]
    fn the_last_attempt_is_at_the_deadline_and_then_it_gives_up() {
        let queued = Timestamp::from_secs(1_000_000);
        let near = queued + Duration::from_secs(86_400 - 5);
        assert_eq!(
            P.next(9, queued, near, Jitter(u64::MAX)),
            Retry::At(queued + P.max_age)
        );
        assert_eq!(
            P.next(10, queued, queued + P.max_age, Jitter(7)),
            Retry::GiveUp
        );
    }

    #[test]
    fn replies_and_failures_are_read_as_the_rfc_says() {
        assert_eq!(classify_reply(250, "ok"), Verdict::Delivered);
        assert_eq!(classify_reply(450, "4.2.0 mailbox busy"), Verdict::Retry);
        assert_eq!(
            classify_reply(452, "4.5.3 Too many recipients"),
            Verdict::Retry
        );
        assert_eq!(classify_reply(421, "closing"), Verdict::BackOffDestination);
        assert_eq!(
            classify_reply(
                451,
                "4.7.28 Our system has detected an unusual rate of mail"
            ),
            Verdict::BackOffDestination
        );
        assert_eq!(classify_reply(554, "5.7.1 rejected"), Verdict::Fail);
        assert_eq!(
            classify_failure(ConnectionFailure::Connect),
            Verdict::BackOffDestination
        );
        assert_eq!(classify_failure(ConnectionFailure::Dropped), Verdict::Retry);
        assert_eq!(classify_failure(ConnectionFailure::Timeout), Verdict::Retry);
    }

    proptest! {
        #[test]
        fn a_delay_stays_between_the_floor_and_the_cap(retry in 0u32..200, jitter: u64) {
            let d = P.delay(retry, Jitter(jitter));
            prop_assert!(d >= P.floor);
            prop_assert!(d <= P.cap);
        }

        #[test]
        fn more_jitter_never_waits_less(retry in 1u32..50, a: u64, b: u64) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(P.delay(retry, Jitter(lo)) <= P.delay(retry, Jitter(hi)));
        }

        #[test]
        fn a_retry_is_never_after_the_deadline_nor_before_now(
            failures in 0u32..100, age in 0i64..200_000_000, jitter: u64,
        ) {
            let queued = Timestamp(1_700_000_000_000);
            let now = Timestamp(queued.0 + age);
            match P.next(failures, queued, now, Jitter(jitter)) {
                Retry::At(t) => {
                    prop_assert!(t > now);
                    prop_assert!(t <= queued + P.max_age);
                }
                Retry::GiveUp => prop_assert!(now >= queued + P.max_age),
            }
        }

        #[test]
        fn every_reply_code_has_one_reading(code in 200u16..600, text in ".{0,40}") {
            let v = classify_reply(code, &text);
            match code / 100 {
                2 | 3 => prop_assert_eq!(v, Verdict::Delivered),
                5 => prop_assert_eq!(v, Verdict::Fail),
                _ => prop_assert!(matches!(v, Verdict::Retry | Verdict::BackOffDestination)),
            }
        }
    }
}
