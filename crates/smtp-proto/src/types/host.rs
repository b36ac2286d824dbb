//! Domains and address literals (RFC 5321 §4.1.2, §4.1.3; RFC 6531 U-labels).

use super::SmallStr;
use crate::parse;
use crate::ParseError;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A domain name: dot-separated LDH labels (RFC 5321 `Domain`), or with U-labels
/// when built with [`Domain::new_utf8`] (RFC 6531). At most 255 octets, labels at
/// most 63. No trailing dot.
///
/// ```
/// use smtp_proto::Domain;
/// assert_eq!(Domain::new("mail.example.com").unwrap().as_str(), "mail.example.com");
/// assert!(Domain::new("-bad.example").is_err());
/// assert!(Domain::new("例え.jp").is_err());
/// assert!(Domain::new_utf8("例え.jp").is_ok());
/// ```
#[derive(Clone)]
pub struct Domain(SmallStr<23>);

impl PartialEq for Domain {
    fn eq(&self, other: &Domain) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Domain {}

impl PartialOrd for Domain {
    fn partial_cmp(&self, other: &Domain) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Domain {
    fn cmp(&self, other: &Domain) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for Domain {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Domain").field(&self.as_str()).finish()
    }
}

impl Domain {
    /// An ASCII domain.
    pub fn new(domain: &str) -> Result<Self, ParseError> {
        let cx = parse::Cx::text(false, domain);
        parse::run(
            |i| parse::host::domain(i, &cx),
            domain.as_bytes(),
            ParseError::BadAddress,
        )
    }

    /// A domain that may hold UTF-8 labels (only valid where SMTPUTF8 is in force).
    pub fn new_utf8(domain: &str) -> Result<Self, ParseError> {
        let cx = parse::Cx::text(true, domain);
        parse::run(
            |i| parse::host::domain(i, &cx),
            domain.as_bytes(),
            ParseError::BadAddress,
        )
    }

    #[inline]
    pub(crate) fn from_validated(s: &str) -> Self {
        Domain(SmallStr::new(s))
    }

    /// The domain as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// True when every label is ASCII.
    pub fn is_ascii(&self) -> bool {
        self.as_str().is_ascii()
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An address literal in brackets (RFC 5321 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// `[192.0.2.1]`
    V4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`
    V6(Ipv6Addr),
    /// `[tag:content]`, a general address literal kept as sent.
    General(GeneralLiteral),
}

/// A general address literal, `[tag:content]` (RFC 5321 §4.1.3), checked
/// so that it always reads back: the tag a non-empty LDH string that does
/// not end with a hyphen and is not `IPv6`, the content non-empty
/// `dcontent` octets (printable ASCII but `[`, `\` and `]`).
///
/// ```
/// use smtp_proto::{AddressLiteral, GeneralLiteral};
///
/// let lit = GeneralLiteral::new("x-tag", "some.content").unwrap();
/// assert_eq!(AddressLiteral::General(lit.clone()).to_string(), "[x-tag:some.content]");
/// assert_eq!(AddressLiteral::parse("[x-tag:some.content]"), Ok(AddressLiteral::General(lit)));
/// assert!(GeneralLiteral::new("", "x").is_err());
/// assert!(GeneralLiteral::new("tag", "a]b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GeneralLiteral {
    tag: String,
    content: String,
}

impl GeneralLiteral {
    /// Checks and builds `[tag:content]`.
    pub fn new(tag: &str, content: &str) -> Result<GeneralLiteral, ParseError> {
        parse::host::general_literal(tag.as_bytes(), content.as_bytes())
            .ok_or(ParseError::BadAddress)
    }

    /// For the parser, which checked both parts.
    pub(crate) fn from_checked(tag: &str, content: &str) -> GeneralLiteral {
        GeneralLiteral {
            tag: tag.to_owned(),
            content: content.to_owned(),
        }
    }

    /// The standardized tag (an LDH string).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The content after the colon.
    pub fn content(&self) -> &str {
        &self.content
    }
}

impl AddressLiteral {
    /// Parses the bracketed form, for example `[192.0.2.1]`.
    pub fn parse(literal: &str) -> Result<Self, ParseError> {
        parse::run(
            parse::host::address_literal,
            literal.as_bytes(),
            ParseError::BadAddress,
        )
    }
}

impl fmt::Display for AddressLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressLiteral::V4(ip) => write!(f, "[{ip}]"),
            AddressLiteral::V6(ip) => write!(f, "[IPv6:{ip}]"),
            AddressLiteral::General(lit) => write!(f, "[{}:{}]", lit.tag, lit.content),
        }
    }
}

/// The argument of EHLO/HELO and the part of a mailbox after `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name.
    Domain(Domain),
    /// An address literal.
    Literal(AddressLiteral),
}

impl Host {
    /// Parses a domain or a bracketed address literal (ASCII only).
    pub fn parse(host: &str) -> Result<Self, ParseError> {
        let cx = parse::Cx::text(false, host);
        parse::run(
            |i| parse::host::host(i, &cx),
            host.as_bytes(),
            ParseError::BadAddress,
        )
    }

    /// True unless the host is a domain with UTF-8 labels.
    pub fn is_ascii(&self) -> bool {
        match self {
            Host::Domain(d) => d.is_ascii(),
            Host::Literal(_) => true,
        }
    }

    /// Octets this host takes on the wire.
    pub(crate) fn wire_len(&self) -> usize {
        match self {
            Host::Domain(d) => d.as_str().len(),
            Host::Literal(l) => l.to_string().len(),
        }
    }
}

impl From<Domain> for Host {
    fn from(d: Domain) -> Self {
        Host::Domain(d)
    }
}

impl From<AddressLiteral> for Host {
    fn from(l: AddressLiteral) -> Self {
        Host::Literal(l)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => d.fmt(f),
            Host::Literal(l) => l.fmt(f),
        }
    }
}
