//! Addresses as the SMTP envelope carries them (RFC 5321 §4.1.2, RFC 6531
//! for UTF-8): stricter than a header's mailbox, and kept as the parts it
//! was checked as, so that nothing downstream splits the text again.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::address::Mailbox;
use crate::error::BuildError;

/// The longest local part on the wire (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL_PART: usize = 64;
/// The longest domain (RFC 5321 §4.5.3.1.2).
const MAX_DOMAIN: usize = 255;
/// The longest label of a domain (RFC 1035).
const MAX_LABEL: usize = 63;
/// The longest `local@domain`: a path of 256 octets with its brackets
/// (RFC 5321 §4.5.3.1.3).
const MAX_ADDRESS: usize = 254;

/// What comes after the `@` of an [`EnvelopeAddress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeDomain<'a> {
    /// A domain name: LDH labels, or UTF-8 labels (then SMTPUTF8 or an
    /// A-label form is needed to send it).
    Name(&'a str),
    /// `[192.0.2.1]`
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`
    Ipv6(Ipv6Addr),
    /// `[tag:content]`, a general address literal (RFC 5321 §4.1.3).
    General {
        /// The standardized tag (`Ldh-str`).
        tag: &'a str,
        /// What follows the colon (`1*dcontent`).
        content: &'a str,
    },
}

/// What kind of host an [`EnvelopeAddress`] names, as checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum HostKind {
    Name,
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// A general literal whose tag is this long.
    General(usize),
}

/// One address of the SMTP envelope (`MAIL FROM` or `RCPT TO`), checked to
/// RFC 5321's `Mailbox` grammar when the message is built, so that every
/// envelope a built message has can be sent. It keeps the parts as checked:
/// the local part's value ([`local_part`](Self::local_part), without the
/// quotes of a quoted local part) and the [`domain`](Self::domain).
///
/// ```
/// use mime_codec::{EnvelopeDomain, Mailbox};
/// let a = Mailbox::address_only("\"john doe\"@example.com")?.envelope_address()?;
/// assert_eq!(a.local_part(), "john doe");
/// assert!(a.is_quoted());
/// assert_eq!(a.domain(), EnvelopeDomain::Name("example.com"));
/// assert_eq!(a, "\"john doe\"@example.com");
/// assert!(Mailbox::address_only("a..b@example.com")?.envelope_address().is_err());
/// # Ok::<(), mime_codec::BuildError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EnvelopeAddress {
    /// `local@domain` as given.
    text: String,
    /// Where the `@` between the parts is.
    at: usize,
    quoted: bool,
    host: HostKind,
}

impl EnvelopeAddress {
    /// Checks `address` (`local@domain`, no angle brackets) to RFC 5321's
    /// grammar, UTF-8 allowed (RFC 6531).
    pub fn new(address: &str) -> Result<EnvelopeAddress, BuildError> {
        let bad = || BuildError::InvalidAddress(address.to_owned());
        if address.len() > MAX_ADDRESS {
            return Err(bad());
        }
        let (local, domain) = address.rsplit_once('@').ok_or_else(bad)?;
        let quoted = local.starts_with('"');
        let local_ok = if quoted {
            is_quoted_string(local)
        } else {
            is_dot_string(local)
        };
        let host = match domain.strip_prefix('[') {
            Some(rest) => rest.strip_suffix(']').and_then(address_literal),
            None => is_domain(domain).then_some(HostKind::Name),
        };
        let Some(host) = host else {
            return Err(bad());
        };
        if !local_ok || local.len() > MAX_LOCAL_PART {
            return Err(bad());
        }
        Ok(EnvelopeAddress {
            text: address.to_owned(),
            at: local.len(),
            quoted,
            host,
        })
    }

    /// `local@domain` as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The local part's value: a quoted local part without its quotes
    /// (it holds neither `"` nor `\`).
    pub fn local_part(&self) -> &str {
        let local = &self.text[..self.at];
        if self.quoted {
            local
                .strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or(local)
        } else {
            local
        }
    }

    /// The local part was given quoted (`"john doe"@example.com`).
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// The domain, or the address literal as checked.
    pub fn domain(&self) -> EnvelopeDomain<'_> {
        let domain = &self.text[self.at + 1..];
        match self.host {
            HostKind::Name => EnvelopeDomain::Name(domain),
            HostKind::Ipv4(ip) => EnvelopeDomain::Ipv4(ip),
            HostKind::Ipv6(ip) => EnvelopeDomain::Ipv6(ip),
            HostKind::General(tag) => {
                // `[tag:content]`: ASCII, so every index is a boundary.
                let inner = domain.get(1..domain.len() - 1).unwrap_or_default();
                EnvelopeDomain::General {
                    tag: inner.get(..tag).unwrap_or_default(),
                    content: inner.get(tag + 1..).unwrap_or_default(),
                }
            }
        }
    }

    /// Whether every character is ASCII (else the address needs SMTPUTF8,
    /// or an A-label form of its domain).
    pub fn is_ascii(&self) -> bool {
        self.text.is_ascii()
    }
}

impl Mailbox {
    /// This mailbox's address as the SMTP envelope carries it; an error
    /// when it is a header address that RFC 5321 does not allow (`a..b@x`,
    /// a domain label with `_`, a local part over 64 octets, ...).
    pub fn envelope_address(&self) -> Result<EnvelopeAddress, BuildError> {
        EnvelopeAddress::new(self.address())
    }
}

impl fmt::Debug for EnvelopeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for EnvelopeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for EnvelopeAddress {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl PartialEq<str> for EnvelopeAddress {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for EnvelopeAddress {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for EnvelopeAddress {
    fn eq(&self, other: &String) -> bool {
        self.text == *other
    }
}

/// `atext` of RFC 5322, and any non-ASCII character (RFC 6531).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// `Dot-string = Atom *("." Atom)`
fn is_dot_string(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

/// `Quoted-string` whose content is printable ASCII, spaces or non-ASCII
/// characters, without `"` or `\` (a header address never holds them);
/// not blank.
fn is_quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|l| l.strip_suffix('"')) else {
        return false;
    };
    !inner.trim().is_empty()
        && inner
            .chars()
            .all(|c| (c == ' ' || c.is_ascii_graphic() || !c.is_ascii()) && c != '"' && c != '\\')
        && !inner.chars().any(char::is_control)
}

/// `Domain = sub-domain *("." sub-domain)`: labels of letters, digits and
/// hyphens (not first or last), or UTF-8 labels (RFC 6531 `U-label`), each
/// at most 63 octets.
fn is_domain(s: &str) -> bool {
    s.len() <= MAX_DOMAIN
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
                && !label.chars().any(|c| c.is_control() || c.is_whitespace())
        })
}

/// `IPv4-address-literal / IPv6-address-literal / General-address-literal`
fn address_literal(s: &str) -> Option<HostKind> {
    let Some((tag, content)) = s.split_once(':') else {
        return s.parse().ok().map(HostKind::Ipv4);
    };
    if tag.eq_ignore_ascii_case("IPv6") {
        return content.parse().ok().map(HostKind::Ipv6);
    }
    let ok = !tag.is_empty()
        && !tag.ends_with('-')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !content.is_empty()
        && content.bytes().all(|b| matches!(b, 33..=90 | 94..=126));
    ok.then_some(HostKind::General(tag.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_are_kept_as_checked() {
        let a = EnvelopeAddress::new("用户@例子.测试").unwrap();
        assert_eq!(a.local_part(), "用户");
        assert_eq!(a.domain(), EnvelopeDomain::Name("例子.测试"));
        assert!(!a.is_ascii());
        let b = EnvelopeAddress::new("x@[IPv6:2001:db8::1]").unwrap();
        assert_eq!(
            b.domain(),
            EnvelopeDomain::Ipv6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        );
        let g = EnvelopeAddress::new("x@[x-400:c=us;a=;p=x]").unwrap();
        assert_eq!(
            g.domain(),
            EnvelopeDomain::General {
                tag: "x-400",
                content: "c=us;a=;p=x"
            }
        );
        let c = EnvelopeAddress::new("a.b+c@[192.0.2.1]").unwrap();
        assert_eq!(c.local_part(), "a.b+c");
        assert_eq!(
            c.domain(),
            EnvelopeDomain::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
        );
    }

    #[test]
    fn what_smtp_does_not_allow_is_refused() {
        for bad in [
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@exa_mple.com",
            "a@-example.com",
            "a@example-.com",
            "a@example..com",
            "a@example.com.",
            "a@[300.1.1.1]",
            "a@[IPv6:zz]",
            "a@[tag-:x]",
            "\"\"@example.com",
            "\"a\\b\"@example.com",
            "no-at-sign",
            "a@",
            "@example.com",
        ] {
            assert!(EnvelopeAddress::new(bad).is_err(), "{bad}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(EnvelopeAddress::new(&long_local).is_err());
        let long_label = format!("a@{}.com", "b".repeat(64));
        assert!(EnvelopeAddress::new(&long_label).is_err());
    }
}
