//! Mailboxes and the reverse and forward paths of MAIL and RCPT (RFC 5321 §4.1.2).

use super::host::{Domain, Host};
use crate::parse;
use crate::ParseError;
use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// Longest local part, in octets (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest path including its angle brackets, in octets (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// `Mailbox = Local-part "@" ( Domain / address-literal )`.
///
/// The local part is kept in its wire form (a dot-string, or a quoted string
/// with its quotes), so it serializes exactly as it was received.
///
/// ```
/// use smtp_proto::Mailbox;
/// let m = Mailbox::parse("john.doe@example.com").unwrap();
/// assert_eq!(m.local_part(), "john.doe");
/// assert_eq!(m.domain().to_string(), "example.com");
///
/// // A local part that is not a dot-string gets quoted.
/// let q = Mailbox::new("john doe", "example.com".parse().unwrap()).unwrap();
/// assert_eq!(q.to_string(), "\"john doe\"@example.com");
/// assert_eq!(q.local_part_value(), "john doe");
/// ```
#[derive(Clone)]
pub struct Mailbox {
    /// `local@domain` as sent (an address literal in its canonical form).
    /// The `@` between the two is found again when needed ([`Mailbox::at`]),
    /// which keeps a mailbox at 32 octets.
    addr: Box<str>,
    /// [`Mailbox::domain`], read from `addr` on first use (or kept from
    /// construction).
    host: OnceLock<Box<Host>>,
}

impl PartialEq for Mailbox {
    fn eq(&self, other: &Mailbox) -> bool {
        self.addr == other.addr
    }
}

impl Eq for Mailbox {}

impl Hash for Mailbox {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.addr.hash(state);
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("local", &self.local_part())
            .field("domain", &self.domain_str())
            .finish()
    }
}

impl Mailbox {
    /// Builds a mailbox from a local part's *value* (quoted on the wire when it
    /// is not a dot-string) and a host. UTF-8 is allowed; whether it may be sent
    /// is decided by SMTPUTF8 ([`Mailbox::is_ascii`]).
    pub fn new(local_part: &str, domain: Host) -> Result<Self, ParseError> {
        if parse::path::is_dot_string(local_part.as_bytes(), true) {
            return Mailbox::from_parts(local_part, domain);
        }
        let mut quoted = String::with_capacity(local_part.len() + 2);
        quoted.push('"');
        for c in local_part.chars() {
            match c {
                '"' | '\\' => {
                    quoted.push('\\');
                    quoted.push(c);
                }
                ' '..='~' => quoted.push(c),
                c if !c.is_ascii() && !c.is_control() => quoted.push(c),
                _ => return Err(ParseError::BadAddress),
            }
        }
        quoted.push('"');
        Mailbox::from_parts(&quoted, domain)
    }

    /// Parses `local@domain` (no angle brackets), ASCII only.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let cx = parse::Cx::text(false, s);
        parse::run(
            |i| parse::path::mailbox(i, &cx),
            s.as_bytes(),
            ParseError::BadAddress,
        )
    }

    /// Parses `local@domain`, allowing UTF-8 (RFC 6531).
    pub fn parse_utf8(s: &str) -> Result<Self, ParseError> {
        let cx = parse::Cx::text(true, s);
        parse::run(
            |i| parse::path::mailbox(i, &cx),
            s.as_bytes(),
            ParseError::BadAddress,
        )
    }

    /// From a local part in wire form and a host, both valid.
    pub(crate) fn from_parts(local: &str, host: Host) -> Result<Self, ParseError> {
        let mut addr = String::with_capacity(local.len() + 1 + host.wire_len());
        addr.push_str(local);
        addr.push('@');
        match &host {
            Host::Domain(d) => addr.push_str(d.as_str()),
            Host::Literal(l) => {
                use std::fmt::Write;
                let _ = write!(addr, "{l}");
            }
        }
        Mailbox::checked(&addr, local.len(), OnceLock::from(Box::new(host)))
    }

    /// From `local@domain` as sent, both parts valid, the `@` at `at`: one
    /// allocation, the host read from the text when asked for.
    #[inline]
    pub(crate) fn from_validated_text(addr: &str, at: usize) -> Result<Self, ParseError> {
        Mailbox::checked(addr, at, OnceLock::new())
    }

    #[inline]
    fn checked(addr: &str, at: usize, host: OnceLock<Box<Host>>) -> Result<Self, ParseError> {
        if at > MAX_LOCAL_PART {
            return Err(ParseError::LocalPartTooLong);
        }
        if addr.len() + 2 > MAX_PATH {
            return Err(ParseError::PathTooLong);
        }
        Ok(Mailbox {
            addr: Box::from(addr),
            host,
        })
    }

    /// Where the `@` between local part and domain is. A domain holds no
    /// `@`, so it is the last one; an address literal may (`dcontent`
    /// allows it) but holds no `[`, so it starts after the last `[`.
    fn at(&self) -> usize {
        let end = if self.addr.ends_with(']') {
            self.addr.rfind('[').unwrap_or(self.addr.len())
        } else {
            self.addr.len()
        };
        self.addr[..end].rfind('@').unwrap_or(0)
    }

    /// The local part as sent on the wire (quotes and escapes included).
    pub fn local_part(&self) -> &str {
        &self.addr[..self.at()]
    }

    /// The local part's value: quotes removed and escapes resolved.
    pub fn local_part_value(&self) -> Cow<'_, str> {
        let local = self.local_part();
        let Some(inner) = local.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
            return Cow::Borrowed(local);
        };
        let mut value = String::with_capacity(inner.len());
        let mut escaped = false;
        for c in inner.chars() {
            if c == '\\' && !escaped {
                escaped = true;
            } else {
                value.push(c);
                escaped = false;
            }
        }
        Cow::Owned(value)
    }

    /// The part after `@`.
    pub fn domain(&self) -> &Host {
        self.host.get_or_init(|| {
            let text = self.domain_str();
            let literal = text
                .starts_with('[')
                .then(|| {
                    parse::run(
                        parse::host::address_literal,
                        text.as_bytes(),
                        ParseError::BadAddress,
                    )
                    .ok()
                })
                .flatten();
            Box::new(match literal {
                Some(l) => Host::Literal(l),
                None => Host::Domain(Domain::from_validated(text)),
            })
        })
    }

    /// The part after `@` as text (an address literal with its brackets).
    pub fn domain_str(&self) -> &str {
        &self.addr[self.at() + 1..]
    }

    /// The whole address, `local@domain`, as sent.
    pub fn as_str(&self) -> &str {
        &self.addr
    }

    /// True when the mailbox can be sent without SMTPUTF8.
    pub fn is_ascii(&self) -> bool {
        self.addr.is_ascii()
    }

    pub(crate) fn write_path(&self, out: &mut Vec<u8>) {
        out.reserve(self.addr.len() + 2);
        out.push(b'<');
        out.extend_from_slice(self.addr.as_bytes());
        out.push(b'>');
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr)
    }
}

impl std::str::FromStr for Mailbox {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Mailbox::parse_utf8(s)
    }
}

impl std::str::FromStr for Host {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let cx = parse::Cx::text(true, s);
        parse::run(
            |i| parse::host::host(i, &cx),
            s.as_bytes(),
            ParseError::BadAddress,
        )
    }
}

/// The argument of `MAIL FROM:`: `Reverse-path = Path / "<>"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`, the null sender of bounces and notifications.
    Null,
    /// A sender mailbox.
    Mailbox(Mailbox),
}

impl ReversePath {
    /// The mailbox, unless this is the null path.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }

    /// Writes `<>` or `<mailbox>`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            ReversePath::Null => out.extend_from_slice(b"<>"),
            ReversePath::Mailbox(m) => m.write_path(out),
        }
    }
}

impl From<Mailbox> for ReversePath {
    fn from(m: Mailbox) -> Self {
        ReversePath::Mailbox(m)
    }
}

/// The argument of `RCPT TO:`: `"<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` with no domain: the server's own postmaster.
    Postmaster,
    /// A recipient mailbox (including `<Postmaster@domain>`).
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// The mailbox, unless this is the bare `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(m) => Some(m),
        }
    }

    /// Writes `<Postmaster>` or `<mailbox>`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            ForwardPath::Postmaster => out.extend_from_slice(b"<Postmaster>"),
            ForwardPath::Mailbox(m) => m.write_path(out),
        }
    }
}

impl From<Mailbox> for ForwardPath {
    fn from(m: Mailbox) -> Self {
        ForwardPath::Mailbox(m)
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}
