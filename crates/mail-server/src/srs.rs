//! The Sender Rewriting Scheme (SRS) for mail an alias forwards to another
//! domain: the envelope sender becomes an address at one of our domains
//! that only we can have made, so the next hop's SPF check sees our
//! domain, and a bounce to it comes back here to be sent on to the
//! original sender.
//!
//! The format is the one libsrs2 and postsrsd write and read:
//! `SRS0=HHHH=TT=orig-domain=orig-local@our-domain`, where `TT` is the day
//! (days since the Unix epoch, modulo 1024) in two base32 characters and
//! `HHHH` the first four characters of the base64 HMAC-SHA1, keyed with
//! the secret, of `TT`, `orig-domain` and `orig-local` in lower case. An
//! address is taken back only with the right hash (compared without
//! regard to case, as mail systems may fold it) and a day stamp at most
//! `max_age_days` old.
//!
//! Pure: the time is an argument (seconds since the Unix epoch).
//!
//! ```
//! use mail_server::srs::Srs;
//! let srs = Srs::new(b"a long random secret".to_vec(), "forward.example").unwrap();
//! let now = 1_750_000_000;
//! let rewritten = srs.forward("alice@origin.example", now).unwrap();
//! assert!(rewritten.starts_with("SRS0="));
//! assert!(rewritten.ends_with("=origin.example=alice@forward.example"));
//! let local = rewritten.split('@').next().unwrap();
//! assert_eq!(srs.reverse(local, now + 86_400).unwrap(), "alice@origin.example");
//! ```

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::fmt;

/// How long a rewritten address is taken back, in days (libsrs2's and
/// postsrsd's default).
pub const DEFAULT_MAX_AGE_DAYS: u64 = 21;

/// The characters of the hash kept (libsrs2's and postsrsd's default).
const HASH_LENGTH: usize = 4;

/// Day stamps count days modulo this (two base32 characters).
const STAMP_SLOTS: u64 = 1024;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const SECONDS_PER_DAY: u64 = 86_400;

/// Why an address is not taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrsError {
    /// The local part does not start with `SRS0` and a separator.
    #[error("not an SRS0 address")]
    NotSrs,
    /// `SRS0`, but its fields are missing or empty.
    #[error("malformed SRS0 address")]
    Malformed,
    /// The day stamp is not two base32 characters.
    #[error("the SRS day stamp is invalid")]
    BadStamp,
    /// The hash is not the one our secret makes: forged or altered.
    #[error("the SRS hash does not match")]
    BadHash,
    /// Older than the maximum age.
    #[error("the SRS address has expired")]
    Expired,
    /// No secret was given.
    #[error("the SRS secret is empty")]
    NoSecret,
}

/// The rewriting of one server: its secret, its domain, how long a
/// rewritten address is taken back. `Debug` does not show the secret.
#[derive(Clone)]
pub struct Srs {
    secret: Vec<u8>,
    domain: String,
    max_age_days: u64,
}

impl fmt::Debug for Srs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Srs")
            .field("secret", &"<redacted>")
            .field("domain", &self.domain)
            .field("max_age_days", &self.max_age_days)
            .finish()
    }
}

impl Srs {
    /// Rewrites to addresses at `domain` with `secret` (which must not be
    /// empty), taking them back for [`DEFAULT_MAX_AGE_DAYS`].
    pub fn new(secret: Vec<u8>, domain: &str) -> Result<Srs, SrsError> {
        if secret.is_empty() {
            return Err(SrsError::NoSecret);
        }
        Ok(Srs {
            secret,
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
            max_age_days: DEFAULT_MAX_AGE_DAYS,
        })
    }

    /// Takes rewritten addresses back for `days` days (at most 1023: the
    /// stamp counts days modulo 1024).
    pub fn with_max_age_days(mut self, days: u64) -> Srs {
        self.max_age_days = days.min(STAMP_SLOTS - 1);
        self
    }

    /// The domain rewritten addresses are at.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The envelope sender for `sender` (`local@domain`) forwarded at
    /// `now` (seconds since the Unix epoch). `None` when there is nothing
    /// to rewrite or it cannot be: no `@`, an empty part, a local part
    /// that is not a plain dot-string (a quoted one), an address literal
    /// (`[192.0.2.1]` cannot stand in a local part), or a rewritten address
    /// that would not be a valid SMTP mailbox (a local part over 64 octets
    /// or a path over 256, RFC 5321 §4.5.3.1: no server, this one included,
    /// would take it, nor a bounce to it, back).
    pub fn forward(&self, sender: &str, now: u64) -> Option<String> {
        let (user, host) = sender.rsplit_once('@')?;
        if user.is_empty() || host.is_empty() || !user.bytes().all(is_dot_string_byte) {
            return None;
        }
        if !host.bytes().all(is_domain_byte) {
            return None;
        }
        let stamp = encode_stamp(now / SECONDS_PER_DAY);
        let hash = self.hash(&stamp, host, user);
        let rewritten = format!("SRS0={hash}={stamp}={host}={user}@{}", self.domain);
        smtp_proto::Mailbox::parse(&rewritten).ok()?;
        Some(rewritten)
    }

    /// The original sender of the SRS0 `local` part of an address at one
    /// of our domains, checked at `now` (seconds since the Unix epoch).
    pub fn reverse(&self, local: &str, now: u64) -> Result<String, SrsError> {
        let (then, original) = self.checked(local)?;
        let today = (now / SECONDS_PER_DAY) % STAMP_SLOTS;
        let age = (today + STAMP_SLOTS - then) % STAMP_SLOTS;
        if age > self.max_age_days {
            return Err(SrsError::Expired);
        }
        Ok(original)
    }

    /// The original sender of an SRS0 `local` part whose hash is ours,
    /// whatever its age: for a recipient [`reverse`](Self::reverse)
    /// already took (at RCPT TO), which must not be lost when its last day
    /// ends before the message's content starts.
    pub fn original(&self, local: &str) -> Result<String, SrsError> {
        self.checked(local).map(|(_, original)| original)
    }

    /// The day stamp and the original sender of a genuine SRS0 local part.
    fn checked(&self, local: &str) -> Result<(u64, String), SrsError> {
        let rest = strip_srs0(local).ok_or(SrsError::NotSrs)?;
        let mut fields = rest.splitn(4, '=');
        let (Some(hash), Some(stamp), Some(host), Some(user)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(SrsError::Malformed);
        };
        if hash.is_empty() || host.is_empty() || user.is_empty() {
            return Err(SrsError::Malformed);
        }
        let then = decode_stamp(stamp).ok_or(SrsError::BadStamp)?;
        let expected = self.hash(stamp, host, user);
        if !same_ignoring_case(hash.as_bytes(), expected.as_bytes()) {
            return Err(SrsError::BadHash);
        }
        Ok((then, format!("{user}@{host}")))
    }

    /// The first [`HASH_LENGTH`] base64 characters of the HMAC-SHA1 of the
    /// fields in lower case (as libsrs2 does).
    fn hash(&self, stamp: &str, host: &str, user: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&self.secret) else {
            // HMAC takes a key of any length; unreachable.
            return String::new();
        };
        for field in [stamp, host, user] {
            mac.update(field.to_ascii_lowercase().as_bytes());
        }
        let digest = mac.finalize().into_bytes();
        let mut text = base64::engine::general_purpose::STANDARD.encode(digest);
        text.truncate(HASH_LENGTH);
        text
    }
}

/// True when `local` starts like an SRS0 address (`SRS0` and a
/// separator, any case): what the server must check, not deliver.
pub fn is_srs0(local: &str) -> bool {
    strip_srs0(local).is_some()
}

/// What follows `SRS0` and its separator (`=`, `+` or `-`, as libsrs2
/// accepts).
fn strip_srs0(local: &str) -> Option<&str> {
    let bytes = local.as_bytes();
    let tagged = bytes.len() >= 5
        && bytes[..4].eq_ignore_ascii_case(b"SRS0")
        && matches!(bytes[4], b'=' | b'+' | b'-');
    // Byte 4 is ASCII: 5 is a character boundary.
    tagged.then(|| local.get(5..)).flatten()
}

fn encode_stamp(day: u64) -> String {
    let day = day % STAMP_SLOTS;
    let high = BASE32[((day >> 5) & 31) as usize];
    let low = BASE32[(day & 31) as usize];
    String::from_utf8_lossy(&[high, low]).into_owned()
}

fn decode_stamp(stamp: &str) -> Option<u64> {
    let bytes = stamp.as_bytes();
    if bytes.len() != 2 {
        return None;
    }
    let mut day = 0u64;
    for b in bytes {
        let upper = b.to_ascii_uppercase();
        let value = BASE32.iter().position(|c| *c == upper)?;
        day = (day << 5) | value as u64;
    }
    Some(day)
}

/// Equal without regard to ASCII case, looking at every byte (no early
/// exit on the first difference).
fn same_ignoring_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| {
        diff | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

/// RFC 5321 `atext` and dots: a local part that needs no quoting.
fn is_dot_string_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b)
}

/// A domain name's characters (an address literal's brackets and colons
/// cannot stand in the local part the domain goes into).
fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn srs() -> Srs {
        Srs::new(b"test secret".to_vec(), "fwd.example").unwrap()
    }

    const NOW: u64 = 1_765_000_000;

    fn local(address: &str) -> &str {
        address.rsplit_once('@').unwrap().0
    }

    #[test]
    fn the_stamp_is_the_day_modulo_1024_in_base32() {
        assert_eq!(encode_stamp(0), "AA");
        assert_eq!(encode_stamp(33), "BB");
        assert_eq!(encode_stamp(1023), "77");
        assert_eq!(encode_stamp(1024), "AA");
        assert_eq!(decode_stamp("bb"), Some(33));
        assert_eq!(decode_stamp("B1"), None);
        assert_eq!(decode_stamp("B"), None);
    }

    #[test]
    fn a_known_answer() {
        // Computed independently with Python's hmac, hashlib and base64.
        assert_eq!(
            srs().forward("alice@origin.example", NOW).unwrap(),
            "SRS0=O6Jy=6M=origin.example=alice@fwd.example"
        );
        // The hash ignores case; the address keeps it.
        assert_eq!(
            srs().forward("Alice@Origin.example", NOW).unwrap(),
            "SRS0=O6Jy=6M=Origin.example=Alice@fwd.example"
        );
    }

    #[test]
    fn forged_altered_and_expired_addresses_are_refused() {
        let s = srs();
        let good = s.forward("alice@origin.example", NOW).unwrap();
        let good_local = local(&good);
        assert_eq!(s.reverse(good_local, NOW).unwrap(), "alice@origin.example");
        // Another original sender under the same hash.
        let altered = good_local.replace("=alice", "=mallory");
        assert_eq!(s.reverse(&altered, NOW), Err(SrsError::BadHash));
        // Another secret.
        let other = Srs::new(b"other".to_vec(), "fwd.example").unwrap();
        assert_eq!(other.reverse(good_local, NOW), Err(SrsError::BadHash));
        // Expired: 22 days later; 21 days is still fine.
        assert!(s.reverse(good_local, NOW + 21 * 86_400).is_ok());
        assert_eq!(
            s.reverse(good_local, NOW + 22 * 86_400),
            Err(SrsError::Expired)
        );
        // A stamp from the future (beyond the clock's skew) is as old as
        // its distance around the cycle: expired.
        assert_eq!(
            s.reverse(good_local, NOW - 2 * 86_400),
            Err(SrsError::Expired)
        );
        assert_eq!(s.reverse("alice", NOW), Err(SrsError::NotSrs));
        assert_eq!(s.reverse("SRS0=abcd=AA", NOW), Err(SrsError::Malformed));
        assert_eq!(
            s.reverse("SRS0=abcd=A!=x.example=u", NOW),
            Err(SrsError::BadStamp)
        );
        assert_eq!(Srs::new(Vec::new(), "x").unwrap_err(), SrsError::NoSecret);
    }

    #[test]
    fn a_recipient_taken_back_keeps_its_original_past_its_last_day() {
        let s = srs();
        let good = s.forward("alice@origin.example", NOW).unwrap();
        // RCPT TO on its last day; the message ends on the next.
        let last_day = NOW + 21 * 86_400;
        assert!(s.reverse(local(&good), last_day).is_ok());
        assert_eq!(
            s.reverse(local(&good), last_day + 86_400),
            Err(SrsError::Expired)
        );
        assert_eq!(s.original(local(&good)).unwrap(), "alice@origin.example");
        // The hash is still checked.
        let altered = local(&good).replace("=alice", "=mallory");
        assert_eq!(s.original(&altered), Err(SrsError::BadHash));
    }

    #[test]
    fn the_secret_is_never_shown() {
        let shown = format!("{:?}", srs());
        assert!(!shown.contains("test secret"), "{shown}");
    }

    #[test]
    fn senders_that_cannot_be_rewritten_are_left_alone() {
        let s = srs();
        assert_eq!(s.forward("", NOW), None);
        assert_eq!(s.forward("nobody", NOW), None);
        assert_eq!(s.forward("\"a b\"@x.example", NOW), None);
        assert_eq!(s.forward("a@", NOW), None);
        // An address literal has no place in a local part.
        assert_eq!(s.forward("user@[192.0.2.1]", NOW), None);
        assert_eq!(s.forward("user@[IPv6:2001:db8::1]", NOW), None);
    }

    #[test]
    fn a_rewritten_address_too_long_for_smtp_is_not_made() {
        let s = srs();
        // 50 octets of user and host: the local part is 64, the most
        // RFC 5321 allows, and every server takes it.
        let user = "u".repeat(20);
        let host = format!("{}.example", "h".repeat(22));
        let fits = s.forward(&format!("{user}@{host}"), NOW).unwrap();
        assert_eq!(local(&fits).len(), 64);
        assert!(smtp_proto::Mailbox::parse(&fits).is_ok(), "{fits}");
        assert_eq!(
            s.reverse(local(&fits), NOW).unwrap(),
            format!("{user}@{host}")
        );
        // One more octet: a local part of 65, which the spool's client
        // could never send (the forwarded copy would be lost) nor this
        // server take back as a bounce's recipient.
        assert_eq!(s.forward(&format!("{user}x@{host}"), NOW), None);
        let long = format!("notifications.list-{}@mail.example", "x".repeat(40));
        assert_eq!(s.forward(&long, NOW), None);
    }

    fn user() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[A-Za-z0-9_=+-]{1,8}){0,2}"
    }

    fn host() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9]{1,12}(\\.[a-zA-Z0-9-]{1,10}){0,3}"
    }

    proptest! {
        /// Whatever the sender and the day, forward then reverse within
        /// the maximum age gives the sender back, in any case.
        #[test]
        fn round_trip(user in user(), host in host(), now in 0u64..4_000_000_000, later in 0u64..=21, lower in any::<bool>()) {
            let s = srs();
            let sender = format!("{user}@{host}");
            // Too long to rewrite into a valid mailbox: left alone.
            prop_assume!(user.len() + host.len() <= 50);
            let rewritten = s.forward(&sender, now).unwrap();
            prop_assert!(rewritten.ends_with("@fwd.example"));
            let mut local = local(&rewritten).to_owned();
            if lower {
                local = local.to_ascii_lowercase();
            }
            let back = s.reverse(&local, now + later * 86_400).unwrap();
            if lower {
                prop_assert_eq!(back, sender.to_ascii_lowercase());
            } else {
                prop_assert_eq!(back, sender);
            }
        }

        /// Past the maximum age (and before the day counter comes round
        /// again), the address is refused.
        #[test]
        fn expiry(user in user(), host in host(), now in 0u64..4_000_000_000, later in 22u64..1000) {
            prop_assume!(user.len() + host.len() <= 50);
            let s = srs();
            let rewritten = s.forward(&format!("{user}@{host}"), now).unwrap();
            prop_assert_eq!(s.reverse(local(&rewritten), now + later * 86_400), Err(SrsError::Expired));
        }

        /// Any change to one character of the hash, the host or the user
        /// (other than its case) is refused.
        #[test]
        fn tampering(user in user(), host in host(), now in 0u64..4_000_000_000, at in any::<prop::sample::Index>()) {
            prop_assume!(user.len() + host.len() <= 50);
            let s = srs();
            let rewritten = s.forward(&format!("{user}@{host}"), now).unwrap();
            let local = local(&rewritten);
            let mut bytes = local.as_bytes().to_vec();
            // Past "SRS0=": the hash, stamp, host and user.
            let i = 5 + at.index(bytes.len() - 5);
            let was = bytes[i];
            if was == b'=' {
                return Ok(());
            }
            bytes[i] = if was.is_ascii_digit() { b'x' } else { b'7' };
            let tampered = String::from_utf8(bytes).unwrap();
            match s.reverse(&tampered, now) {
                Err(_) => {}
                // A changed stamp may still be young enough, but then the
                // hash no longer matches: only reaching here with a stamp
                // edit would be a failure.
                Ok(back) => prop_assert!(false, "{tampered} accepted as {back}"),
            }
        }

        /// Whatever is rewritten is a mailbox SMTP can carry (the spool's
        /// client sends it, this server takes a bounce to it back); what is
        /// not is left alone only when it could not be.
        #[test]
        fn every_rewritten_address_is_a_valid_mailbox(user in user(), host in host(), now in any::<u64>()) {
            let sender = format!("{user}@{host}");
            match srs().forward(&sender, now) {
                Some(rewritten) => {
                    prop_assert!(smtp_proto::Mailbox::parse(&rewritten).is_ok(), "{}", rewritten);
                }
                None => prop_assert!(user.len() + host.len() > 50, "{} left alone", sender),
            }
        }

        /// No input panics, and whatever is taken back is `user@host`.
        #[test]
        fn reverse_never_panics(local in "\\PC{0,80}", now in any::<u64>()) {
            if let Ok(back) = srs().reverse(&local, now) {
                prop_assert!(back.contains('@'));
            }
        }
    }
}
