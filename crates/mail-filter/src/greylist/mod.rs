//! Greylisting: a message from an unknown (client network, sender,
//! recipient) triplet is deferred with `451 4.7.1`; a real MTA retries after
//! the delay and is let through, and the triplet is then remembered
//! (auto-whitelisted) until it has not been seen for a while.
//!
//! The decision, [`decide`], is a pure function of the stored entry, the
//! configuration and the time; [`Greylist`] applies it over a store: a
//! bounded in-memory one ([`MemoryStore`]) or a durable SQLite file
//! ([`SqliteStore`]) so a restart remembers who already retried.
//!
//! ```
//! use mail_filter::greylist::{Decision, Greylist, GreylistConfig};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let greylist = Greylist::new(GreylistConfig { enabled: true, ..GreylistConfig::default() })?;
//! let ip = [192, 0, 2, 7].into();
//! let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! assert!(matches!(greylist.check(ip, "a@example.com", "b@example.org", t0)?, Decision::Defer { .. }));
//! let later = t0 + Duration::from_secs(301);
//! assert_eq!(greylist.check(ip, "a@example.com", "b@example.org", later)?, Decision::Pass);
//! # Ok::<(), mail_filter::greylist::GreylistError>(())
//! ```

mod sqlite;

pub use sqlite::SqliteStore;

use crate::Verdict;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The server's `[greylist]` table. Off by default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GreylistConfig {
    /// Whether the server greylists at all (default false).
    pub enabled: bool,
    /// How long a new triplet is deferred, in seconds (default 300).
    pub delay_secs: u64,
    /// How long after the delay a retry is still taken, in seconds (default
    /// 4 hours); a later one starts over.
    pub retry_window_secs: u64,
    /// How long a triplet that passed stays known without being seen, in
    /// seconds (default 36 days).
    pub whitelist_secs: u64,
    /// The most triplets remembered; the least recently seen go first
    /// (default 100000).
    pub max_entries: usize,
    /// The IPv4 prefix that makes a client network (default 24).
    pub ipv4_prefix: u8,
    /// The IPv6 prefix that makes a client network (default 64).
    pub ipv6_prefix: u8,
    /// The SQLite file that keeps the triplets across restarts; in memory
    /// only when absent.
    pub database: Option<PathBuf>,
}

impl Default for GreylistConfig {
    fn default() -> Self {
        GreylistConfig {
            enabled: false,
            delay_secs: 300,
            retry_window_secs: 4 * 3600,
            whitelist_secs: 36 * 24 * 3600,
            max_entries: 100_000,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
            database: None,
        }
    }
}

/// Why the greylist could not decide (its store failed). The server
/// chooses: most let the message through rather than defer forever.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GreylistError {
    /// The SQLite store failed.
    #[error("greylist store: {0}")]
    Store(#[from] rusqlite::Error),
    /// The store's lock was poisoned by a panic elsewhere.
    #[error("greylist store: poisoned lock")]
    Poisoned,
}

/// The longest sender or recipient kept in a triplet (longer ones are cut).
const MAX_ADDRESS: usize = 320;

/// (client network, sender, recipient), normalised: the network is the
/// client address masked to the configured prefix, addresses are lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Triplet {
    /// `192.0.2.0/24`, `2001:db8::/64`.
    pub network: String,
    /// The reverse path (empty for `<>`).
    pub sender: String,
    /// One recipient.
    pub recipient: String,
}

impl Triplet {
    /// The triplet of a client, a sender and a recipient under `config`'s
    /// prefixes.
    pub fn new(ip: IpAddr, sender: &str, recipient: &str, config: &GreylistConfig) -> Triplet {
        Triplet {
            network: network(ip, config.ipv4_prefix, config.ipv6_prefix),
            sender: bounded_lower(sender),
            recipient: bounded_lower(recipient),
        }
    }
}

fn bounded_lower(address: &str) -> String {
    let mut out = address.trim().to_lowercase();
    if out.len() > MAX_ADDRESS {
        let mut end = MAX_ADDRESS;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

/// `ip` masked to its family's prefix, as `ADDRESS/PREFIX`.
pub fn network(ip: IpAddr, ipv4_prefix: u8, ipv6_prefix: u8) -> String {
    // An IPv4 client seen over IPv6 (::ffff:a.b.c.d) is an IPv4 client.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let prefix = ipv4_prefix.min(32);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            let net = std::net::Ipv4Addr::from(u32::from(v4) & mask);
            format!("{net}/{prefix}")
        }
        IpAddr::V6(v6) => {
            let prefix = ipv6_prefix.min(128);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
            format!("{net}/{prefix}")
        }
    }
}

/// What is remembered of a triplet. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// When its current greylisting started (the first deferred attempt).
    pub first_seen: u64,
    /// When it was last seen.
    pub last_seen: u64,
    /// Whether it retried in time (and is now let through).
    pub passed: bool,
}

/// The greylist's answer for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let it through.
    Pass,
    /// Defer it (`451 4.7.1`); a retry after `retry_after` will pass.
    Defer {
        /// How long until a retry passes.
        retry_after: Duration,
    },
}

impl Decision {
    /// The temporary failure to answer, if deferred.
    pub fn verdict(&self) -> Option<Verdict> {
        match self {
            Decision::Pass => None,
            Decision::Defer { retry_after } => Some(Verdict::tempfail(format!(
                "greylisted, please try again in {} seconds",
                retry_after.as_secs().max(1)
            ))),
        }
    }
}

/// The pure decision: given what is stored for a triplet (if anything) and
/// the time `now` (seconds since the epoch), what to answer and what to
/// store.
///
/// - unknown, or known but expired (a pending triplet whose retry window has
///   closed, a passed one unseen for `whitelist_secs`): defer for the whole
///   delay and start over;
/// - pending and the delay has not passed: defer for what is left of it;
/// - pending, the delay passed and the window is open: pass, and remember;
/// - passed and not expired: pass, and refresh.
///
/// A clock that goes back never shortens the delay.
pub fn decide(config: &GreylistConfig, entry: Option<Entry>, now: u64) -> (Decision, Entry) {
    let fresh = Entry {
        first_seen: now,
        last_seen: now,
        passed: false,
    };
    let defer_all = Decision::Defer {
        retry_after: Duration::from_secs(config.delay_secs),
    };
    let Some(entry) = entry else {
        return (defer_all, fresh);
    };
    if entry.passed {
        if now.saturating_sub(entry.last_seen) <= config.whitelist_secs && now >= entry.first_seen {
            return (
                Decision::Pass,
                Entry {
                    last_seen: now.max(entry.last_seen),
                    ..entry
                },
            );
        }
        return (defer_all, fresh);
    }
    if now < entry.first_seen {
        // The clock went back: keep the earlier start, wait the whole delay
        // from the later one.
        return (
            defer_all,
            Entry {
                first_seen: entry.first_seen,
                last_seen: entry.last_seen.max(now),
                passed: false,
            },
        );
    }
    let waited = now - entry.first_seen;
    if waited < config.delay_secs {
        return (
            Decision::Defer {
                retry_after: Duration::from_secs(config.delay_secs - waited),
            },
            Entry {
                last_seen: now.max(entry.last_seen),
                ..entry
            },
        );
    }
    if waited <= config.delay_secs.saturating_add(config.retry_window_secs) {
        return (
            Decision::Pass,
            Entry {
                first_seen: entry.first_seen,
                last_seen: now,
                passed: true,
            },
        );
    }
    (defer_all, fresh)
}

/// Where triplets are kept.
pub trait GreylistStore: Send {
    /// The entry of `triplet`, if any.
    fn get(&mut self, triplet: &Triplet) -> Result<Option<Entry>, GreylistError>;
    /// Stores `entry` for `triplet`, dropping the least recently seen
    /// triplets beyond the store's bound.
    fn put(&mut self, triplet: &Triplet, entry: Entry) -> Result<(), GreylistError>;
    /// How many triplets are kept.
    fn count(&mut self) -> Result<usize, GreylistError>;
}

/// Triplets in memory, at most `max_entries` of them.
#[derive(Debug)]
pub struct MemoryStore {
    entries: HashMap<Triplet, Entry>,
    by_age: BTreeSet<(u64, Triplet)>,
    max_entries: usize,
}

impl MemoryStore {
    /// A store that keeps at most `max_entries` (at least 1).
    pub fn new(max_entries: usize) -> MemoryStore {
        MemoryStore {
            entries: HashMap::new(),
            by_age: BTreeSet::new(),
            max_entries: max_entries.max(1),
        }
    }
}

impl GreylistStore for MemoryStore {
    fn get(&mut self, triplet: &Triplet) -> Result<Option<Entry>, GreylistError> {
        Ok(self.entries.get(triplet).copied())
    }

    fn put(&mut self, triplet: &Triplet, entry: Entry) -> Result<(), GreylistError> {
        if let Some(old) = self.entries.insert(triplet.clone(), entry) {
            self.by_age.remove(&(old.last_seen, triplet.clone()));
        }
        self.by_age.insert((entry.last_seen, triplet.clone()));
        while self.entries.len() > self.max_entries {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        Ok(())
    }

    fn count(&mut self) -> Result<usize, GreylistError> {
        Ok(self.entries.len())
    }
}

/// The greylist: [`decide`] over a store, safe to share between threads.
pub struct Greylist {
    config: GreylistConfig,
    store: Mutex<Box<dyn GreylistStore>>,
}

impl std::fmt::Debug for Greylist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Greylist")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Greylist {
    /// A greylist with the store `config` names: its SQLite `database`, or
    /// memory.
    pub fn new(config: GreylistConfig) -> Result<Greylist, GreylistError> {
        let store: Box<dyn GreylistStore> = match &config.database {
            Some(path) => Box::new(SqliteStore::open(path, config.max_entries)?),
            None => Box::new(MemoryStore::new(config.max_entries)),
        };
        Ok(Greylist::with_store(config, store))
    }

    /// A greylist over `store`.
    pub fn with_store(config: GreylistConfig, store: Box<dyn GreylistStore>) -> Greylist {
        Greylist {
            config,
            store: Mutex::new(store),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GreylistConfig {
        &self.config
    }

    /// Decides for one recipient at `now`, and remembers.
    pub fn check(
        &self,
        ip: IpAddr,
        sender: &str,
        recipient: &str,
        now: SystemTime,
    ) -> Result<Decision, GreylistError> {
        let triplet = Triplet::new(ip, sender, recipient, &self.config);
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut store = self.store.lock().map_err(|_| GreylistError::Poisoned)?;
        let stored = store.get(&triplet)?;
        let (decision, entry) = decide(&self.config, stored, now);
        store.put(&triplet, entry)?;
        Ok(decision)
    }

    /// How many triplets are remembered.
    pub fn len(&self) -> Result<usize, GreylistError> {
        self.store
            .lock()
            .map_err(|_| GreylistError::Poisoned)?
            .count()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> Result<bool, GreylistError> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
mod tests;
