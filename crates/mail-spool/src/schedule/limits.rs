//! Pacing: token buckets for messages per second, minute, hour and day, a
//! daily quota that resets at a fixed hour, and a bound on concurrent
//! connections. A limit that is reached says when to come back; it never
//! fails a message.

use crate::time::{millis, Timestamp};
use std::time::Duration;

/// A token bucket: `capacity` tokens refilled evenly over `window`, so
/// bursts up to `capacity` pass and the long-run rate is `capacity` per
/// `window`.
///
/// Kept in integer "token-milliseconds" (a token is `window` in
/// milliseconds), so refilling and taking are exact and the state can be
/// stored in a database row and read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    capacity: u32,
    window_ms: i64,
    /// Tokens × window_ms.
    level: i64,
    updated: Timestamp,
}

impl TokenBucket {
    /// A full bucket of `capacity` tokens per `window` (at least one token,
    /// at least one millisecond).
    pub fn new(capacity: u32, window: Duration, now: Timestamp) -> TokenBucket {
        let capacity = capacity.max(1);
        let window_ms = millis(window).max(1);
        TokenBucket {
            capacity,
            window_ms,
            level: i64::from(capacity).saturating_mul(window_ms),
            updated: now,
        }
    }

    /// A bucket restored from stored state (`tokens_fixed` as returned by
    /// [`level`](Self::level)), clamped to what a bucket can hold.
    pub fn restore(capacity: u32, window: Duration, level: i64, updated: Timestamp) -> TokenBucket {
        let mut bucket = TokenBucket::new(capacity, window, updated);
        bucket.level = level.clamp(0, bucket.full());
        bucket
    }

    /// The stored level, in tokens × window milliseconds.
    pub fn level(&self) -> i64 {
        self.level
    }

    /// When the level was last brought up to date.
    pub fn updated(&self) -> Timestamp {
        self.updated
    }

    fn full(&self) -> i64 {
        i64::from(self.capacity).saturating_mul(self.window_ms)
    }

    fn refill(&mut self, now: Timestamp) {
        if now > self.updated {
            let elapsed = now.0.saturating_sub(self.updated.0);
            let added = elapsed.saturating_mul(i64::from(self.capacity));
            self.level = self.level.saturating_add(added).min(self.full());
            self.updated = now;
        }
    }

    /// When `n` tokens will be there (now, if they are).
    pub fn ready_at(&mut self, n: u32, now: Timestamp) -> Timestamp {
        self.refill(now);
        let need = i64::from(n).saturating_mul(self.window_ms);
        if self.level >= need {
            return now;
        }
        let capacity = i64::from(self.capacity);
        let missing = need.saturating_sub(self.level);
        // The level is as of `updated`, which may be later than `now` when
        // another worker's clock ran ahead.
        let from = now.max(self.updated);
        Timestamp(from.0.saturating_add((missing + capacity - 1) / capacity))
    }

    /// Takes `n` tokens, or says when they will be there. More than the
    /// capacity can never be taken at once: ask for at most `capacity`.
    pub fn take(&mut self, n: u32, now: Timestamp) -> Result<(), Timestamp> {
        let ready = self.ready_at(n, now);
        if ready > now {
            return Err(ready);
        }
        self.level -= i64::from(n).saturating_mul(self.window_ms);
        Ok(())
    }

    /// How many tokens a single take may ask for.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
}

/// A quota of messages per day that resets at `reset_offset` past midnight
/// UTC (Chinese providers reset at midnight Beijing time: 16:00 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyQuota {
    limit: u32,
    reset_offset_ms: i64,
    used: u32,
    day: i64,
}

const DAY_MS: i64 = 86_400_000;

impl DailyQuota {
    /// A quota of `limit` messages per day, the day starting `reset_offset`
    /// after midnight UTC.
    pub fn new(limit: u32, reset_offset: Duration) -> DailyQuota {
        DailyQuota {
            limit,
            reset_offset_ms: millis(reset_offset).rem_euclid(DAY_MS),
            used: 0,
            day: i64::MIN,
        }
    }

    /// A quota restored from stored state.
    pub fn restore(limit: u32, reset_offset: Duration, used: u32, day: i64) -> DailyQuota {
        DailyQuota {
            used,
            day,
            ..DailyQuota::new(limit, reset_offset)
        }
    }

    fn day_of(&self, now: Timestamp) -> i64 {
        (now.0 - self.reset_offset_ms).div_euclid(DAY_MS)
    }

    /// The quota day `now` falls in, and how much of it is used.
    pub fn state(&self) -> (i64, u32) {
        (self.day, self.used)
    }

    /// Counts `n` messages, or says when the next quota day starts.
    pub fn take(&mut self, n: u32, now: Timestamp) -> Result<(), Timestamp> {
        let day = self.day_of(now);
        if day != self.day {
            self.day = day;
            self.used = 0;
        }
        if self.used.saturating_add(n) > self.limit {
            return Err(Timestamp((day + 1) * DAY_MS + self.reset_offset_ms));
        }
        self.used += n;
        Ok(())
    }
}

/// The limits of one route or destination. `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimits {
    /// Messages per second.
    pub per_second: Option<u32>,
    /// Messages per minute.
    pub per_minute: Option<u32>,
    /// Messages per hour.
    pub per_hour: Option<u32>,
    /// Messages per rolling day (a bucket that refills over 24 hours).
    pub per_day: Option<u32>,
    /// Messages per calendar day, and when that day starts after midnight
    /// UTC: what providers call a daily sending limit.
    pub daily_quota: Option<(u32, Duration)>,
    /// Connections open at once.
    pub connections: Option<u32>,
}

/// The running state of a [`RateLimits`]: its buckets and quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacer {
    buckets: Vec<TokenBucket>,
    quota: Option<DailyQuota>,
    max_connections: Option<u32>,
    open: u32,
}

impl Pacer {
    /// Full buckets for `limits` at `now`.
    pub fn new(limits: &RateLimits, now: Timestamp) -> Pacer {
        let windows = [
            (limits.per_second, 1),
            (limits.per_minute, 60),
            (limits.per_hour, 3600),
            (limits.per_day, 86_400),
        ];
        Pacer {
            buckets: windows
                .iter()
                .filter_map(|(n, secs)| {
                    n.map(|n| TokenBucket::new(n, Duration::from_secs(*secs), now))
                })
                .collect(),
            quota: limits
                .daily_quota
                .map(|(n, offset)| DailyQuota::new(n, offset)),
            max_connections: limits.connections,
            open: 0,
        }
    }

    /// Connections counted as open.
    pub fn open_connections(&self) -> u32 {
        self.open
    }

    /// Whether another connection may open now.
    pub fn may_connect(&self) -> bool {
        self.max_connections.is_none_or(|max| self.open < max)
    }

    /// Counts a connection as open (see [`may_connect`](Self::may_connect)).
    pub fn connection_opened(&mut self) {
        self.open = self.open.saturating_add(1);
    }

    /// Counts a connection as closed.
    pub fn connection_closed(&mut self) {
        self.open = self.open.saturating_sub(1);
    }

    /// Takes one message from every bucket and the quota, all or nothing;
    /// when one is empty nothing is taken and the answer is when to come
    /// back (the latest of the times the empty ones name).
    pub fn take_message(&mut self, now: Timestamp) -> Result<(), Timestamp> {
        let mut ready = now;
        for bucket in &mut self.buckets {
            ready = ready.max(bucket.ready_at(1, now));
        }
        if let Some(quota) = &self.quota {
            let mut probe = *quota;
            if let Err(at) = probe.take(1, now) {
                ready = ready.max(at);
            }
        }
        if ready > now {
            return Err(ready);
        }
        for bucket in &mut self.buckets {
            let _ = bucket.take(1, now);
        }
        if let Some(quota) = &mut self.quota {
            let _ = quota.take(1, now);
        }
        Ok(())
    }
}

impl RateLimits {
    /// Whether any message rate or quota is set (the connection bound
    /// aside).
    pub fn paces_messages(&self) -> bool {
        self.per_second.is_some()
            || self.per_minute.is_some()
            || self.per_hour.is_some()
            || self.per_day.is_some()
            || self.daily_quota.is_some()
    }

    /// These limits without the message rates and quota: what a worker
    /// keeps to itself when the rates are shared through the spool.
    pub fn connections_only(&self) -> RateLimits {
        RateLimits {
            connections: self.connections,
            ..RateLimits::default()
        }
    }

    /// A short text naming these limits, stored next to shared pacing
    /// state: state written under other limits is not reused.
    pub fn fingerprint(&self) -> String {
        let n = |v: Option<u32>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let quota = self
            .daily_quota
            .map_or_else(|| "-".to_owned(), |(n, at)| format!("{n}@{}", millis(at)));
        format!(
            "s{} m{} h{} d{} q{}",
            n(self.per_second),
            n(self.per_minute),
            n(self.per_hour),
            n(self.per_day),
            quota
        )
    }
}

impl Pacer {
    /// The message-pacing state (buckets and quota, not the connection
    /// count) as one line of text, to be stored where several workers
    /// share it; [`Pacer::restore`] reads it back.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for b in &self.buckets {
            out.push_str(&format!("b{}:{};", b.level(), b.updated().0));
        }
        if let Some(q) = &self.quota {
            let (day, used) = q.state();
            out.push_str(&format!("q{day}:{used};"));
        }
        out
    }

    /// A pacer for `limits` whose buckets and quota continue from
    /// `state` (made by [`encode`](Self::encode) under the same limits).
    /// State that does not parse or does not fit `limits` gives full
    /// buckets, as [`Pacer::new`] does: pacing restarts, nothing fails.
    pub fn restore(limits: &RateLimits, state: &str, now: Timestamp) -> Pacer {
        let fresh = Pacer::new(limits, now);
        let mut buckets = Vec::new();
        let mut quota = None;
        for part in state.split(';').filter(|p| !p.is_empty()) {
            let Some((kind, rest)) = part.split_at_checked(1) else {
                return fresh;
            };
            let Some((a, b)) = rest.split_once(':') else {
                return fresh;
            };
            let (Ok(a), Ok(b)) = (a.parse::<i64>(), b.parse::<i64>()) else {
                return fresh;
            };
            match kind {
                "b" => buckets.push((a, Timestamp(b))),
                "q" => match u32::try_from(b) {
                    Ok(used) => quota = Some((a, used)),
                    Err(_) => return fresh,
                },
                _ => return fresh,
            }
        }
        if buckets.len() != fresh.buckets.len() || quota.is_some() != fresh.quota.is_some() {
            return fresh;
        }
        Pacer {
            buckets: fresh
                .buckets
                .iter()
                .zip(buckets)
                .map(|(b, (level, updated))| {
                    TokenBucket::restore(
                        b.capacity(),
                        Duration::from_millis(u64::try_from(b.window_ms).unwrap_or(1)),
                        level,
                        updated,
                    )
                })
                .collect(),
            quota: fresh.quota.map(|q| {
                let (day, used) = quota.unwrap_or((i64::MIN, 0));
                DailyQuota::restore(
                    q.limit,
                    Duration::from_millis(u64::try_from(q.reset_offset_ms).unwrap_or(0)),
                    used,
                    day,
                )
            }),
            max_connections: fresh.max_connections,
            open: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shared_limits() -> RateLimits {
        RateLimits {
            per_second: Some(3),
            per_minute: Some(10),
            daily_quota: Some((25, Duration::from_secs(16 * 3600))),
            ..RateLimits::default()
        }
    }

    #[test]
    fn pacing_state_that_does_not_fit_restarts_full() {
        let limits = shared_limits();
        let now = Timestamp::from_secs(1_800_000_000);
        for state in [
            "",
            "garbage",
            "b1:2;",
            "b1:2;b3:4;b5:6;q7:8;",
            "x1:2;b1:1;q1:1;",
            "b1:2;b3:4;q1:-1;",
        ] {
            assert_eq!(
                Pacer::restore(&limits, state, now),
                Pacer::new(&limits, now),
                "{state:?}"
            );
        }
    }

    #[test]
    fn fingerprints_tell_limits_apart() {
        let a = shared_limits();
        let mut b = a;
        b.per_minute = Some(11);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), shared_limits().fingerprint());
        assert!(a.paces_messages());
        assert!(!a.connections_only().paces_messages());
    }

    proptest! {
        /// Pacing that is stored after every take and read back before the
        /// next (as workers sharing a spool do) admits exactly what one
        /// pacer kept in memory admits.
        #[test]
        fn stored_pacing_paces_like_a_pacer_in_memory(steps in proptest::collection::vec(0i64..30_000, 1..200)) {
            let limits = shared_limits();
            let mut now = Timestamp::from_secs(1_800_000_000);
            let mut memory = Pacer::new(&limits, now);
            let mut stored = Pacer::new(&limits, now).encode();
            for step in steps {
                now = Timestamp(now.0 + step);
                let mut shared = Pacer::restore(&limits, &stored, now);
                prop_assert_eq!(shared.take_message(now), memory.take_message(now));
                stored = shared.encode();
            }
        }
    }

    #[test]
    fn a_bucket_passes_a_burst_then_the_rate() {
        let t0 = Timestamp(1_000_000);
        let mut b = TokenBucket::new(3, Duration::from_secs(1), t0);
        assert!(b.take(1, t0).is_ok());
        assert!(b.take(1, t0).is_ok());
        assert!(b.take(1, t0).is_ok());
        let next = b.take(1, t0).unwrap_err();
        assert_eq!(next, Timestamp(t0.0 + 334)); // one token per 333.3 ms
        assert!(b.take(1, next).is_ok());
    }

    #[test]
    fn a_quota_defers_to_the_next_day_at_its_reset_hour() {
        // Resets at 16:00 UTC (midnight in Beijing).
        let mut q = DailyQuota::new(2, Duration::from_secs(16 * 3600));
        let morning = Timestamp::from_secs(1_796_532_321); // 2026-12-06T04:45:21Z
        assert!(q.take(1, morning).is_ok());
        assert!(q.take(1, morning).is_ok());
        let next = q.take(1, morning).unwrap_err();
        assert_eq!(next.to_string(), "2026-12-06T16:00:00Z");
        assert!(q.take(1, next).is_ok());
    }

    #[test]
    fn a_pacer_takes_all_or_nothing() {
        let t0 = Timestamp(0);
        let limits = RateLimits {
            per_second: Some(10),
            per_minute: Some(2),
            ..RateLimits::default()
        };
        let mut p = Pacer::new(&limits, t0);
        assert!(p.take_message(t0).is_ok());
        assert!(p.take_message(t0).is_ok());
        let back = p.take_message(t0).unwrap_err();
        assert_eq!(back, Timestamp(30_000));
        // The per-second bucket kept its tokens while the minute one was empty.
        assert_eq!(p.buckets[0].level(), 8 * 1000);
    }

    proptest! {
        /// However the takes are spread in time, a bucket never lets more
        /// through than its burst plus its rate times the time elapsed.
        #[test]
        fn a_bucket_never_exceeds_burst_plus_rate(
            capacity in 1u32..50, window_ms in 1u64..10_000,
            steps in proptest::collection::vec(0i64..2_000, 1..300),
        ) {
            let t0 = Timestamp(0);
            let mut b = TokenBucket::new(capacity, Duration::from_millis(window_ms), t0);
            let mut now = t0;
            let mut taken = 0i64;
            for step in steps {
                now = Timestamp(now.0 + step);
                match b.take(1, now) {
                    Ok(()) => taken += 1,
                    Err(at) => prop_assert!(at > now),
                }
                let allowed = i64::from(capacity) + now.0 * i64::from(capacity) / window_ms as i64;
                prop_assert!(taken <= allowed, "{taken} > {allowed}");
            }
        }

        /// When a bucket names a time, a take at that time succeeds.
        #[test]
        fn the_named_time_is_honest(capacity in 1u32..20, window_ms in 1u64..100_000, early in 0u32..40) {
            let t0 = Timestamp(5);
            let mut b = TokenBucket::new(capacity, Duration::from_millis(window_ms), t0);
            for _ in 0..(capacity + early) {
                if let Err(at) = b.take(1, t0) {
                    let mut later = b;
                    prop_assert!(later.take(1, at).is_ok());
                    prop_assert!(b.take(1, Timestamp(at.0 - 1)).is_err());
                }
            }
        }

        #[test]
        fn a_quota_counts_each_day_apart(limit in 0u32..20, takes in proptest::collection::vec(0i64..200_000_000, 1..100)) {
            let mut q = DailyQuota::new(limit, Duration::ZERO);
            let mut sorted = takes;
            sorted.sort_unstable();
            let mut per_day = std::collections::HashMap::<i64, u32>::new();
            for t in sorted {
                if q.take(1, Timestamp(t)).is_ok() {
                    *per_day.entry(t / DAY_MS).or_default() += 1;
                }
            }
            prop_assert!(per_day.values().all(|n| *n <= limit));
        }
    }
}
