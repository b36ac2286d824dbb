//! MTA-STS (RFC 8461): the `_mta-sts` TXT record and the policy file a domain serves at
//! `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, parsed; and whether an MX host matches
//! the policy's `mx:` patterns. Fetching the file is the caller's (the `mailwire` doctor does
//! it over rustls); this module does no I/O.
//!
//! ```
//! use mailwire_auth::mta_sts::{Mode, StsPolicy};
//!
//! let policy = StsPolicy::parse("version: STSv1\nmode: enforce\nmx: mail.example.com\n\
//!                                mx: *.example.net\nmax_age: 604800\n")?;
//! assert_eq!(policy.mode, Mode::Enforce);
//! assert!(policy.matches_mx("mail.example.com"));
//! assert!(policy.matches_mx("mx1.example.net"));
//! assert!(!policy.matches_mx("a.b.example.net")); // a wildcard stands for one label
//! # Ok::<(), mailwire_auth::mta_sts::PolicyError>(())
//! ```

use std::fmt;

/// The largest `max_age` RFC 8461 §3.2 allows: about one year, in seconds.
pub const MAX_AGE_LIMIT: u32 = 31_557_600;

/// The most bytes a policy file may have: senders stop reading after 64 KiB (RFC 8461 §3.3
/// leaves the limit to them; 64 KiB is what its authors and common senders use).
pub const MAX_POLICY_SIZE: usize = 64 * 1024;

/// What a sender does when no MX host matches, or TLS to it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Deliver only to matching hosts over TLS with a valid certificate.
    Enforce,
    /// Deliver anyway, and report failures (TLS-RPT).
    Testing,
    /// No policy: senders forget any cached one.
    None,
}

impl Mode {
    /// The keyword in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// One `mx:` pattern: a host name, or `*.` and a domain standing for any host one label
/// below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MxPattern {
    /// `*.` was given.
    pub wildcard: bool,
    /// The host name or, with the wildcard, the domain under it (lowercase).
    pub domain: String,
}

impl MxPattern {
    /// Parses `["*."] Domain` (RFC 8461 §3.2, `sts-policy-mx-value`).
    pub fn parse(text: &str) -> Option<MxPattern> {
        let (wildcard, domain) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        is_domain(domain).then(|| MxPattern {
            wildcard,
            domain: domain.to_ascii_lowercase(),
        })
    }

    /// Whether the MX host `host` matches (RFC 8461 §4.1): the same name, or for `*.domain`
    /// exactly one more label in front. Case and a final dot do not matter.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if !self.wildcard {
            return host == self.domain;
        }
        match host.split_once('.') {
            Some((label, rest)) => !label.is_empty() && rest == self.domain,
            None => false,
        }
    }
}

impl fmt::Display for MxPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.domain)
    }
}

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsPolicy {
    /// `mode:`
    pub mode: Mode,
    /// `mx:`, in the order given.
    pub mx: Vec<MxPattern>,
    /// `max_age:`, seconds a sender may cache the policy.
    pub max_age: u32,
}

/// Why a policy file is unusable (senders then act as if there were no policy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// More than [`MAX_POLICY_SIZE`] bytes.
    #[error("the policy is longer than {MAX_POLICY_SIZE} bytes")]
    TooLong,
    /// A line that is not `name: value`.
    #[error("line {0} is not `name: value`")]
    NotAField(usize),
    /// A field name outside the grammar (letters, digits, `_`, `-`, `.`; at most 32).
    #[error("line {0}: the field name is not valid")]
    BadName(usize),
    /// A field's value holds control characters or is empty.
    #[error("line {0}: the value is empty or holds control characters")]
    BadValue(usize),
    /// No `version:` field.
    #[error("there is no `version: STSv1` line")]
    MissingVersion,
    /// `version:` is not `STSv1`.
    #[error("version is {0:?}, not STSv1")]
    BadVersion(String),
    /// No `mode:` field.
    #[error("there is no `mode:` line")]
    MissingMode,
    /// `mode:` is not one of the three (the names are case-sensitive).
    #[error("mode is {0:?}, not enforce, testing or none")]
    BadMode(String),
    /// No `max_age:` field.
    #[error("there is no `max_age:` line")]
    MissingMaxAge,
    /// `max_age:` is not 1 to 10 digits within [`MAX_AGE_LIMIT`].
    #[error("max_age is {0:?}, not a number of seconds from 0 to {MAX_AGE_LIMIT}")]
    BadMaxAge(String),
    /// An `mx:` value that is not a host name or `*.domain`.
    #[error("mx {0:?} is not a host name or a *.domain pattern")]
    BadMx(String),
    /// Mode enforce or testing without any `mx:` line.
    #[error("there is no `mx:` line naming the MX hosts")]
    NoMx,
}

impl StsPolicy {
    /// Parses a policy file (RFC 8461 §3.2): `name: value` lines ended by LF or CRLF. Field
    /// names and the values of `version` and `mode` are case-sensitive; the first
    /// `version`, `mode` and `max_age` count and `mx` may repeat; unknown fields are
    /// ignored, as the RFC requires. Empty lines are skipped (the grammar has none, but
    /// senders in use skip them too).
    pub fn parse(text: &str) -> Result<StsPolicy, PolicyError> {
        if text.len() > MAX_POLICY_SIZE {
            return Err(PolicyError::TooLong);
        }
        let mut version = None;
        let mut mode = None;
        let mut max_age = None;
        let mut mx = Vec::new();
        for (index, line) in text.split('\n').enumerate() {
            let number = index + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let (name, value) = line.split_once(':').ok_or(PolicyError::NotAField(number))?;
            if !is_field_name(name) {
                return Err(PolicyError::BadName(number));
            }
            // field-delim = ":" *WSP, and trailing *WSP after the value.
            let value = value.trim_matches(|c| c == ' ' || c == '\t');
            if value.is_empty() || value.chars().any(char::is_control) {
                return Err(PolicyError::BadValue(number));
            }
            match name {
                "version" => {
                    version.get_or_insert(value);
                }
                "mode" => {
                    mode.get_or_insert(value);
                }
                "max_age" => {
                    max_age.get_or_insert(value);
                }
                "mx" => mx.push(
                    MxPattern::parse(value).ok_or_else(|| PolicyError::BadMx(value.to_owned()))?,
                ),
                _ => {}
            }
        }
        match version {
            None => return Err(PolicyError::MissingVersion),
            Some("STSv1") => {}
            Some(other) => return Err(PolicyError::BadVersion(other.to_owned())),
        }
        let mode = match mode {
            None => return Err(PolicyError::MissingMode),
            Some("enforce") => Mode::Enforce,
            Some("testing") => Mode::Testing,
            Some("none") => Mode::None,
            Some(other) => return Err(PolicyError::BadMode(other.to_owned())),
        };
        let max_age = match max_age {
            None => return Err(PolicyError::MissingMaxAge),
            Some(v) => parse_max_age(v).ok_or_else(|| PolicyError::BadMaxAge(v.to_owned()))?,
        };
        if mx.is_empty() && mode != Mode::None {
            return Err(PolicyError::NoMx);
        }
        Ok(StsPolicy { mode, mx, max_age })
    }

    /// Whether the MX host `host` matches one of the `mx:` patterns.
    pub fn matches_mx(&self, host: &str) -> bool {
        self.mx.iter().any(|p| p.matches(host))
    }
}

/// The policy file as a domain serves it (CRLF line ends); [`StsPolicy::parse`] reads it
/// back to the same policy.
impl fmt::Display for StsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "version: STSv1\r\nmode: {}\r\n", self.mode.as_str())?;
        for pattern in &self.mx {
            write!(f, "mx: {pattern}\r\n")?;
        }
        write!(f, "max_age: {}\r\n", self.max_age)
    }
}

fn parse_max_age(v: &str) -> Option<u32> {
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>()
        .ok()
        .filter(|n| *n <= u64::from(MAX_AGE_LIMIT))
        .and_then(|n| u32::try_from(n).ok())
}

/// `sts-policy-ext-name = (sts-policy-alphanum) *31(sts-policy-alphanum / "_" / "-" / ".")`,
/// which the known names also satisfy.
fn is_field_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    matches!(bytes.first(), Some(b) if b.is_ascii_alphanumeric())
        && bytes.len() <= 32
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// RFC 5321 `Domain`: labels of letters, digits and inner hyphens, at most 63 octets each
/// and 253 in all; at least two labels (an MX host is never a bare label).
fn is_domain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').count() >= 2
        && text.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b.first() != Some(&b'-')
                && b.last() != Some(&b'-')
        })
}

/// The `_mta-sts.DOMAIN` TXT record (RFC 8461 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsRecord {
    /// `id=`: changes whenever the policy file changes, so senders fetch it again.
    pub id: String,
}

/// Why an `_mta-sts` TXT record is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Does not start with `v=STSv1`.
    #[error("the record does not start with v=STSv1")]
    Version,
    /// A field that is not `name=value` within the grammar.
    #[error("the field {0:?} is not `name=value`")]
    Field(String),
    /// No `id=`.
    #[error("the record has no id=")]
    MissingId,
    /// `id=` is not 1 to 32 letters and digits.
    #[error("id={0:?} is not 1 to 32 letters and digits")]
    BadId(String),
}

impl StsRecord {
    /// Whether a TXT record is meant as an MTA-STS record (starts with `v=STSv1`): senders
    /// discard the others before counting.
    pub fn is_sts(txt: &str) -> bool {
        txt.starts_with("v=STSv1")
    }

    /// Parses `v=STSv1; id=...` with optional extension fields.
    pub fn parse(txt: &str) -> Result<StsRecord, RecordError> {
        let mut fields = txt.split(';').map(|f| f.trim_matches([' ', '\t']));
        if fields.next() != Some("v=STSv1") {
            return Err(RecordError::Version);
        }
        let mut id = None;
        for (i, field) in fields.enumerate() {
            // A final `;` (with blanks after it) is allowed.
            if field.is_empty() && txt.split(';').count() == i + 2 {
                break;
            }
            let (name, value) = field
                .split_once('=')
                .filter(|(n, v)| is_field_name(n) && !v.is_empty() && is_ext_value(v))
                .ok_or_else(|| RecordError::Field(field.to_owned()))?;
            if name == "id" && id.is_none() {
                if value.len() > 32 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(RecordError::BadId(value.to_owned()));
                }
                id = Some(value.to_owned());
            }
        }
        id.map(|id| StsRecord { id }).ok_or(RecordError::MissingId)
    }
}

/// `sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)`: visible ASCII but `;` and `=`.
fn is_ext_value(v: &str) -> bool {
    v.bytes()
        .all(|b| matches!(b, 0x21..=0x3A | 0x3C | 0x3E..=0x7E))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_parses() {
        // RFC 8461 §3.2's example.
        let text = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n\
                    mx: backupmx.example.com\nmax_age: 604800\n";
        let policy = StsPolicy::parse(text).unwrap();
        assert_eq!(policy.mode, Mode::Enforce);
        assert_eq!(policy.max_age, 604_800);
        assert_eq!(policy.mx.len(), 3);
        assert!(policy.matches_mx("mail.example.com"));
        assert!(policy.matches_mx("MAIL.Example.COM."));
        assert!(policy.matches_mx("mx9.example.net"));
        assert!(!policy.matches_mx("example.net"));
        assert!(!policy.matches_mx("a.mx9.example.net"));
        assert!(!policy.matches_mx("mail.example.org"));
        assert_eq!(StsPolicy::parse(&policy.to_string()), Ok(policy));
    }

    #[test]
    fn crlf_blanks_unknown_fields_and_repeats() {
        let text = "version: STSv1\r\nmode:\ttesting  \r\n\r\nmx: a.example\r\nfoo-bar.1: x y\r\n\
                    max_age: 0\r\nmode: enforce\r\nmax_age: 5";
        let policy = StsPolicy::parse(text).unwrap();
        assert_eq!(policy.mode, Mode::Testing, "the first mode counts");
        assert_eq!(policy.max_age, 0);
        let none = StsPolicy::parse("version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
        assert!(none.mx.is_empty());
    }

    #[test]
    fn each_error_in_words() {
        let base = |lines: &str| StsPolicy::parse(lines);
        assert_eq!(
            base("mode: enforce\nmx: a.example\nmax_age: 1"),
            Err(PolicyError::MissingVersion)
        );
        assert_eq!(
            base("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1"),
            Err(PolicyError::BadVersion("STSv2".into()))
        );
        assert_eq!(
            base("version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1"),
            Err(PolicyError::BadMode("Enforce".into()))
        );
        assert_eq!(
            base("version: STSv1\nMode: enforce\nmx: a.example\nmax_age: 1"),
            Err(PolicyError::MissingMode),
            "names are case-sensitive: `Mode` is an unknown field"
        );
        assert_eq!(
            base("version: STSv1\nmode: enforce\nmx: a.example"),
            Err(PolicyError::MissingMaxAge)
        );
        assert_eq!(
            base("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601"),
            Err(PolicyError::BadMaxAge("31557601".into()))
        );
        assert_eq!(
            base("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1"),
            Err(PolicyError::BadMaxAge("-1".into()))
        );
        assert_eq!(
            base("version: STSv1\nmode: enforce\nmax_age: 10"),
            Err(PolicyError::NoMx)
        );
        for bad in [
            "*.*.example",
            "mail.example.",
            "a..example",
            "-a.example",
            "*",
            "*.com.",
            "localhost",
            "mail_1.example",
        ] {
            assert_eq!(
                base(&format!(
                    "version: STSv1\nmode: enforce\nmx: {bad}\nmax_age: 10"
                )),
                Err(PolicyError::BadMx(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(base("version STSv1"), Err(PolicyError::NotAField(1)));
        assert_eq!(base("version: STSv1\n_x: y"), Err(PolicyError::BadName(2)));
        assert_eq!(
            base("version: STSv1\nmode: \x07"),
            Err(PolicyError::BadValue(2))
        );
        assert_eq!(base("version: STSv1\nmode:"), Err(PolicyError::BadValue(2)));
        let long = format!(
            "version: STSv1\n{}",
            "x: y\n".repeat(MAX_POLICY_SIZE / 5 + 1)
        );
        assert_eq!(base(&long), Err(PolicyError::TooLong));
    }

    #[test]
    fn the_txt_record() {
        assert_eq!(
            StsRecord::parse("v=STSv1; id=20160831085700Z;"),
            Ok(StsRecord {
                id: "20160831085700Z".into()
            })
        );
        assert_eq!(
            StsRecord::parse("v=STSv1;id=abc ; ext=1"),
            Ok(StsRecord { id: "abc".into() })
        );
        assert_eq!(StsRecord::parse("v=STSv1"), Err(RecordError::MissingId));
        assert_eq!(StsRecord::parse("v=STSv1; "), Err(RecordError::MissingId));
        assert_eq!(StsRecord::parse("id=1; v=STSv1"), Err(RecordError::Version));
        assert_eq!(
            StsRecord::parse("v=STSv1; id=2026-12-06"),
            Err(RecordError::BadId("2026-12-06".into()))
        );
        assert_eq!(
            StsRecord::parse("v=STSv1; id=1;; x=2"),
            Err(RecordError::Field(String::new()))
        );
        assert!(StsRecord::is_sts("v=STSv1; id=1") && !StsRecord::is_sts("v=spf1 -all"));
    }
}
