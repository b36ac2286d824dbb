//! Authentication failures counted across connections: [`LoginLimiter`].

use smtp_adapter::AuthThrottle;
use std::net::IpAddr;
use std::time::Instant;

/// Decides whether an AUTH attempt may be checked at all, from the failures
/// seen before (per user and per client address, across connections).
/// Time is an argument; an implementation keeps bounded memory.
///
/// Implemented by smtp-adapter's `AuthThrottle` (per address only) and by
/// `mail_accounts::AuthLimiter` (per user and per address).
pub trait LoginLimiter: Send + 'static {
    /// True when an attempt for `user` (if known yet) from `ip` may be
    /// checked now.
    fn allowed(&mut self, user: Option<&str>, ip: IpAddr, now: Instant) -> bool;
    /// An attempt failed.
    fn failed(&mut self, user: &str, ip: IpAddr, now: Instant);
    /// An attempt succeeded.
    fn succeeded(&mut self, user: &str, ip: IpAddr);
}

impl LoginLimiter for AuthThrottle {
    fn allowed(&mut self, _user: Option<&str>, ip: IpAddr, now: Instant) -> bool {
        !self.is_blocked(ip, now)
    }
    fn failed(&mut self, _user: &str, ip: IpAddr, now: Instant) {
        let _ = self.record_failure(ip, now);
    }
    fn succeeded(&mut self, _user: &str, _ip: IpAddr) {}
}
