//! Who may connect: the count of connections served, in all and per client
//! address, against the adapter's [`Limits`]. Plain bookkeeping; each
//! server keeps one behind its own lock.

use crate::server::Limits;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};

/// The connections being served, in all and per client address. An IPv6
/// client is counted by its /64, the block one host usually holds.
#[derive(Debug, Default)]
pub struct Admission {
    active: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// `max_connections` are being served.
    Full,
    /// `max_connections_per_ip` are being served for this client.
    TooManyFromPeer,
}

impl Admission {
    /// Counts a new connection from `ip`, unless a limit is reached.
    pub fn try_enter(&mut self, ip: IpAddr, limits: &Limits) -> Result<(), Refusal> {
        if self.active >= limits.max_connections {
            return Err(Refusal::Full);
        }
        let key = client_key(ip);
        let from_peer = self.per_ip.get(&key).copied().unwrap_or(0);
        if from_peer >= limits.max_connections_per_ip {
            return Err(Refusal::TooManyFromPeer);
        }
        self.active += 1;
        self.per_ip.insert(key, from_peer + 1);
        Ok(())
    }

    /// A connection from `ip` ended.
    pub fn leave(&mut self, ip: IpAddr) {
        self.active = self.active.saturating_sub(1);
        let key = client_key(ip);
        if let Some(n) = self.per_ip.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&key);
            }
        }
    }

    /// Connections being served.
    pub fn active(&self) -> usize {
        self.active
    }
}

/// An [`Admission`] behind a lock, shared by a server's accept loop and its
/// connections (threads or tasks; the lock is never held across a wait
/// other than a condition variable's).
#[derive(Debug, Default)]
pub struct SharedAdmission(Mutex<Admission>);

impl SharedAdmission {
    /// The counts, locked. A thread that panicked holding the lock left
    /// plain counters, which are still right.
    pub fn lock(&self) -> MutexGuard<'_, Admission> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a new connection from `peer`, unless a limit is reached.
    pub fn try_enter(&self, peer: SocketAddr, limits: &Limits) -> bool {
        self.lock().try_enter(peer.ip(), limits).is_ok()
    }

    /// A connection from `peer` ended; returns the connections left.
    pub fn leave(&self, peer: SocketAddr) -> usize {
        let mut admission = self.lock();
        admission.leave(peer.ip());
        admission.active()
    }

    /// Connections being served.
    pub fn active(&self) -> usize {
        self.lock().active()
    }
}

/// The address a client is counted by: IPv4 whole, IPv6 by its /64 (an
/// IPv4-mapped IPv6 address as the IPv4 address it is).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(s.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(all: usize, per_ip: usize) -> Limits {
        Limits {
            max_connections: all,
            max_connections_per_ip: per_ip,
            ..Limits::default()
        }
    }

    #[test]
    fn one_address_cannot_take_every_slot() {
        let limits = limits(10, 2);
        let mut admission = Admission::default();
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        assert_eq!(admission.try_enter(a, &limits), Ok(()));
        assert_eq!(admission.try_enter(a, &limits), Ok(()));
        assert_eq!(
            admission.try_enter(a, &limits),
            Err(Refusal::TooManyFromPeer)
        );
        assert_eq!(admission.try_enter(b, &limits), Ok(()));
        admission.leave(a);
        assert_eq!(admission.try_enter(a, &limits), Ok(()));
        assert_eq!(admission.active(), 3);
    }

    #[test]
    fn the_total_limit_holds_across_addresses() {
        let limits = limits(2, 2);
        let mut admission = Admission::default();
        for last in 1..=2u8 {
            assert_eq!(
                admission.try_enter([192, 0, 2, last].into(), &limits),
                Ok(())
            );
        }
        assert_eq!(
            admission.try_enter([192, 0, 2, 3].into(), &limits),
            Err(Refusal::Full)
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let limits = limits(10, 1);
        let mut admission = Admission::default();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(admission.try_enter(one, &limits), Ok(()));
        assert_eq!(
            admission.try_enter(same_64, &limits),
            Err(Refusal::TooManyFromPeer)
        );
        assert_eq!(admission.try_enter(other_64, &limits), Ok(()));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(mapped), IpAddr::from([192, 0, 2, 1]));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any order of arrivals and departures keeps the counts true and
        /// within both limits.
        #[test]
        fn counts_stay_true_and_within_the_limits(
            steps in proptest::collection::vec((any::<bool>(), 0u8..6), 0..200),
            all in 1usize..8,
            per_ip in 1usize..4,
        ) {
            let limits = Limits {
                max_connections: all,
                max_connections_per_ip: per_ip,
                ..Limits::default()
            };
            let mut admission = Admission::default();
            let mut open: Vec<IpAddr> = Vec::new();
            for (enter, last) in steps {
                let ip = IpAddr::from([192, 0, 2, last]);
                if enter {
                    if admission.try_enter(ip, &limits).is_ok() {
                        open.push(ip);
                    }
                } else if let Some(i) = open.iter().position(|&o| o == ip) {
                    open.swap_remove(i);
                    admission.leave(ip);
                }
                prop_assert_eq!(admission.active(), open.len());
                prop_assert!(open.len() <= all);
                prop_assert!(open.iter().all(|a| open.iter().filter(|b| *b == a).count() <= per_ip));
            }
        }
    }
}
