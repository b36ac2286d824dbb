//! Names on disk: a user's directory from their address, and Maildir
//! unique names.
//!
//! A user's directory is `<domain>/<local-part>` under the store's root,
//! each component escaped so that no address can name a path outside the
//! root or the same directory as another address: bytes outside
//! `A-Za-z0-9-_+=` and non-leading `.` are written `%XX` (so `%` itself is
//! `%25`), which is reversible and therefore injective; `/`, a leading `.`
//! (and so `.` and `..`), NUL and every control byte are escaped. The domain
//! is compared case-insensitively (lowercased first); the local part is kept
//! as written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The longest escaped component (a file name is at most 255 octets).
const MAX_COMPONENT: usize = 255;

/// Escapes one path component; `None` if empty or too long once escaped.
pub(crate) fn escape_component(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    for (i, b) in raw.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'+' | b'=')
            || (b == b'.' && i > 0);
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    (out.len() <= MAX_COMPONENT).then_some(out)
}

/// `(domain, local part)` directory names for `user@domain`; `None` when
/// the address has no `@`, an empty side, or a side too long for a file
/// name.
pub(crate) fn user_components(user: &str) -> Option<(String, String)> {
    let (local, domain) = user.rsplit_once('@')?;
    let domain = domain.to_ascii_lowercase();
    Some((escape_component(&domain)?, escape_component(local)?))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The host part of a unique name: the machine's name with `/` and `:`
/// written `\057` and `\072` (the Maildir specification) and anything else
/// outside printable ASCII dropped, cut so names stay short enough to be
/// POP3 UIDL ids (70 octets).
pub(crate) fn host_part() -> String {
    let raw = gethostname::gethostname();
    let raw = raw.to_string_lossy();
    let mut host = String::new();
    for c in raw.chars() {
        match c {
            '/' => host.push_str("\\057"),
            ':' => host.push_str("\\072"),
            ',' => host.push_str("\\054"),
            c if c.is_ascii_graphic() => host.push(c),
            _ => {}
        }
    }
    if host.is_empty() {
        host.push_str("localhost");
    }
    host
}

/// A new Maildir unique name, `SECS.MUSECSPpidQn.host,S=size`: unique per
/// host, process and delivery (the counter), with Dovecot's `,S=` size so
/// readers need not stat the file. The host is cut so the whole name stays
/// within 70 octets (a POP3 UIDL id).
pub(crate) fn unique_name(host: &str, size: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let head = format!(
        "{}.M{:06}P{}Q{n}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    );
    let tail = format!(",S={size}");
    let room = 70usize.saturating_sub(head.len() + tail.len() + 1);
    let mut cut = host.len().min(room);
    while !host.is_char_boundary(cut) {
        cut -= 1;
    }
    // A cut host must not end inside a `\057` escape.
    let host = &host[..cut];
    let host = match host.rfind('\\') {
        Some(i) if host.len() - i < 4 => &host[..i],
        _ => host,
    };
    let host = if host.is_empty() { "h" } else { host };
    format!("{head}.{host}{tail}")
}

/// The size a unique name records in `,S=`, if any.
pub(crate) fn size_from_name(file_name: &str) -> Option<u64> {
    let unique = crate::unique_name(file_name);
    let rest = &unique[unique.find(",S=")? + 3..];
    let digits = rest.split(',').next().unwrap_or(rest);
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_components_are_escaped() {
        assert_eq!(escape_component(".."), Some("%2E.".into()));
        assert_eq!(escape_component("."), Some("%2E".into()));
        assert_eq!(escape_component("a/b"), Some("a%2Fb".into()));
        assert_eq!(escape_component("100%"), Some("100%25".into()));
        assert_eq!(escape_component("a\0b"), Some("a%00b".into()));
        assert_eq!(escape_component("ünï"), Some("%C3%BCn%C3%AF".into()));
        assert_eq!(escape_component(""), None);
        assert_eq!(escape_component(&"a".repeat(256)), None);
        assert_eq!(
            user_components("Bob.Smith@Example.COM"),
            Some(("example.com".into(), "Bob.Smith".into()))
        );
        assert_eq!(user_components("no-at-sign"), None);
        assert_eq!(user_components("@example.com"), None);
        assert_eq!(user_components("a@"), None);
        // The last @ splits: the local part may hold a quoted @.
        assert_eq!(
            user_components("\"a@b\"@x.org"),
            Some(("x.org".into(), "%22a%40b%22".into()))
        );
    }

    #[test]
    fn unique_names_are_uidl_ids_with_sizes() {
        let long = "h".repeat(300);
        for host in ["mail.example.org", long.as_str(), "a\\057b\\072c"] {
            let name = unique_name(host, 123_456_789);
            assert!(name.len() <= 70, "{name}");
            assert!(name.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            assert_eq!(size_from_name(&name), Some(123_456_789));
            assert_eq!(size_from_name(&format!("{name}:2,S")), Some(123_456_789));
        }
        assert_ne!(unique_name("h", 1), unique_name("h", 1));
        assert_eq!(size_from_name("1.M1.host"), None);
        assert_eq!(size_from_name("1.M1.host,S=12,W=14:2,"), Some(12));
    }

    proptest! {
        /// Escaping is injective and never yields a path separator, a
        /// leading dot, or a control byte.
        #[test]
        fn escaping_is_safe_and_injective(a in any::<String>(), b in any::<String>()) {
            if let (Some(ea), Some(eb)) = (escape_component(&a), escape_component(&b)) {
                prop_assert_eq!(ea == eb, a == b);
                prop_assert!(!ea.contains('/') && !ea.starts_with('.'));
                prop_assert!(ea.bytes().all(|c| c.is_ascii_graphic()));
            }
        }
    }
}
