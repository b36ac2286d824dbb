//! The SPF record (RFC 7208 §4.5, §5, §6, §7): terms, mechanisms and macro strings.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Why an SPF record is malformed (SPF result `permerror`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpfSyntaxError {
    /// The record does not start with `v=spf1`.
    #[error("the record does not start with v=spf1")]
    Version,
    /// A term is neither a known mechanism nor a modifier.
    #[error("unknown term {0:?}")]
    UnknownTerm(String),
    /// A mechanism's argument is missing or malformed.
    #[error("bad argument in {0:?}")]
    BadArgument(String),
    /// A macro string is malformed.
    #[error("bad macro in {0:?}")]
    BadMacro(String),
    /// `redirect=` or `exp=` appears twice.
    #[error("modifier {0}= appears twice")]
    DuplicateModifier(String),
    /// Far more terms than a record could usefully hold.
    #[error("more than {0} terms")]
    TooManyTerms(usize),
}

/// What a matching mechanism makes the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `+` (the default)
    Pass,
    /// `-`
    Fail,
    /// `~`
    SoftFail,
    /// `?`
    Neutral,
}

/// One piece of a macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroToken {
    /// Literal text.
    Literal(String),
    /// `%{...}`: letter, URL-escape (uppercase letter), keep-rightmost count, reverse, delimiters.
    Macro {
        /// The macro letter, lowercase.
        letter: char,
        /// Uppercase letter: URL-escape the expansion.
        escape: bool,
        /// Keep only this many rightmost parts.
        keep: Option<u32>,
        /// Reverse the parts.
        reverse: bool,
        /// Split on these characters (default ".").
        delimiters: String,
    },
}

/// A macro string (`domain-spec` and modifier values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString(pub Vec<MacroToken>);

impl MacroString {
    /// `macro-string = *( macro-expand / macro-literal )`.
    pub fn parse(input: &str) -> Result<Self, SpfSyntaxError> {
        let bad = || SpfSyntaxError::BadMacro(input.to_owned());
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = input.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                if !('\x21'..='\x7e').contains(&c) {
                    return Err(bad());
                }
                literal.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => literal.push('%'),
                Some('_') => literal.push(' '),
                Some('-') => literal.push_str("%20"),
                Some('{') => {
                    let mut body = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => body.push(ch),
                            None => return Err(bad()),
                        }
                    }
                    if !literal.is_empty() {
                        tokens.push(MacroToken::Literal(std::mem::take(&mut literal)));
                    }
                    tokens.push(parse_macro_body(&body).ok_or_else(bad)?);
                }
                _ => return Err(bad()),
            }
        }
        if !literal.is_empty() {
            tokens.push(MacroToken::Literal(literal));
        }
        Ok(MacroString(tokens))
    }
}

fn parse_macro_body(body: &str) -> Option<MacroToken> {
    let mut chars = body.chars();
    let letter = chars.next()?;
    if !"slodiphcrtvSLODIPHCRTV".contains(letter) {
        return None;
    }
    let rest: String = chars.collect();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let rest = &rest[digits.len()..];
    let keep = if digits.is_empty() {
        None
    } else {
        let n: u32 = digits.parse().ok()?;
        if n == 0 {
            return None;
        }
        Some(n.min(128))
    };
    let (reverse, delimiters) = match rest.strip_prefix(['r', 'R']) {
        Some(d) => (true, d),
        None => (false, rest),
    };
    if !delimiters.chars().all(|c| ".-+,/_=".contains(c)) {
        return None;
    }
    Some(MacroToken::Macro {
        letter: letter.to_ascii_lowercase(),
        escape: letter.is_ascii_uppercase(),
        keep,
        reverse,
        delimiters: if delimiters.is_empty() {
            ".".into()
        } else {
            delimiters.into()
        },
    })
}

/// An SPF mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`
    All,
    /// `include:domain`
    Include(MacroString),
    /// `a[:domain][/v4][//v6]`
    A {
        domain: Option<MacroString>,
        v4: u8,
        v6: u8,
    },
    /// `mx[:domain][/v4][//v6]`
    Mx {
        domain: Option<MacroString>,
        v4: u8,
        v6: u8,
    },
    /// `ptr[:domain]` (deprecated)
    Ptr(Option<MacroString>),
    /// `ip4:addr[/len]`
    Ip4(Ipv4Addr, u8),
    /// `ip6:addr[/len]`
    Ip6(Ipv6Addr, u8),
    /// `exists:domain`
    Exists(MacroString),
}

impl Mechanism {
    /// Whether evaluating it costs a DNS lookup against the limit of 10 (RFC 7208 §4.6.4).
    pub fn counts_as_lookup(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

/// A parsed SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfRecord {
    /// The directives, in order.
    pub directives: Vec<(Qualifier, Mechanism)>,
    /// `redirect=`
    pub redirect: Option<MacroString>,
    /// `exp=`
    pub explanation: Option<MacroString>,
}

/// Terms held per record at most; the lookup limit makes more than this useless.
pub const MAX_TERMS: usize = 100;

/// Whether a TXT string is an SPF record at all (`v=spf1` then a space or the end).
pub fn is_spf_record(txt: &str) -> bool {
    let b = txt.as_bytes();
    b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && (b.len() == 6 || b[6] == b' ')
}

fn cidr(s: &str, max: u8) -> Option<u8> {
    if s.is_empty()
        || s.len() > 3
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse::<u8>().ok().filter(|n| *n <= max)
}

/// Splits `domain[/v4][//v6]`. A domain-spec may itself hold `/` (and `:`), so only a
/// final `/digits` (and `//digits`) is a prefix length: `a:foo:bar/baz.example.com` names
/// the domain `foo:bar/baz.example.com`.
fn dual_cidr(arg: &str) -> Option<(&str, u8, u8)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut rest = arg;
    let mut v6 = 128;
    if let Some((r, len)) = rest.rsplit_once("//") {
        if digits(len) {
            v6 = cidr(len, 128)?;
            rest = r;
        }
    }
    let mut v4 = 32;
    if let Some((r, len)) = rest.rsplit_once('/') {
        if digits(len) {
            v4 = cidr(len, 32)?;
            rest = r;
        }
    }
    Some((rest, v4, v6))
}

/// `domain-spec = macro-string domain-end` (RFC 7208 §7.1), where `domain-end = ( "."
/// toplabel ["."] ) / macro-expand`; the macro letters `c`, `r` and `t` belong to explanation
/// text only (§7.2).
fn domain_spec(term: &str, s: &str) -> Result<MacroString, SpfSyntaxError> {
    let bad = || SpfSyntaxError::BadArgument(term.to_owned());
    if s.is_empty() {
        return Err(bad());
    }
    let spec = MacroString::parse(s)?;
    for token in &spec.0 {
        if let MacroToken::Macro { letter, .. } = token {
            if matches!(letter, 'c' | 'r' | 't') {
                return Err(SpfSyntaxError::BadMacro(s.to_owned()));
            }
        }
    }
    match spec.0.last() {
        Some(MacroToken::Macro { .. }) => Ok(spec),
        Some(MacroToken::Literal(tail)) if ends_with_toplabel(tail) => Ok(spec),
        _ => Err(bad()),
    }
}

/// Whether `tail` ends with `"." toplabel ["."]`, where `toplabel = ( *alphanum ALPHA
/// *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`: letters, digits and inner
/// hyphens, not all digits (a numeric top label would read as an IP address).
fn ends_with_toplabel(tail: &str) -> bool {
    let tail = tail.strip_suffix('.').unwrap_or(tail);
    let Some((_, top)) = tail.rsplit_once('.') else {
        return false;
    };
    let b = top.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && (b.contains(&b'-') || b.iter().any(u8::is_ascii_alphabetic))
}

impl SpfRecord {
    /// Reads a record: `v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all`.
    pub fn parse(record: &str) -> Result<Self, SpfSyntaxError> {
        if !is_spf_record(record) {
            return Err(SpfSyntaxError::Version);
        }
        let mut out = SpfRecord {
            directives: Vec::new(),
            redirect: None,
            explanation: None,
        };
        for (n, term) in record[6..].split(' ').filter(|t| !t.is_empty()).enumerate() {
            if n >= MAX_TERMS {
                return Err(SpfSyntaxError::TooManyTerms(MAX_TERMS));
            }
            out.parse_term(term)?;
        }
        Ok(out)
    }

    fn parse_term(&mut self, term: &str) -> Result<(), SpfSyntaxError> {
        let bad = || SpfSyntaxError::BadArgument(term.to_owned());
        // A modifier is `name=value` where name has no ':' or '/' before '='.
        let name_end = term.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)));
        if let Some(i) = name_end {
            if term.as_bytes()[i] == b'=' && term.as_bytes()[0].is_ascii_alphabetic() {
                let (name, value) = (&term[..i], &term[i + 1..]);
                let known = matches!(name.to_ascii_lowercase().as_str(), "redirect" | "exp");
                // Unknown modifiers hold any macro-string; redirect= and exp= a domain-spec.
                let value = if known {
                    domain_spec(term, value)?
                } else {
                    MacroString::parse(value)?
                };
                let slot = match name.to_ascii_lowercase().as_str() {
                    "redirect" => &mut self.redirect,
                    "exp" => &mut self.explanation,
                    _ => return Ok(()),
                };
                if slot.is_some() {
                    return Err(SpfSyntaxError::DuplicateModifier(name.to_ascii_lowercase()));
                }
                *slot = Some(value);
                return Ok(());
            }
        }
        let (qualifier, rest) = match term.as_bytes()[0] {
            b'+' => (Qualifier::Pass, &term[1..]),
            b'-' => (Qualifier::Fail, &term[1..]),
            b'~' => (Qualifier::SoftFail, &term[1..]),
            b'?' => (Qualifier::Neutral, &term[1..]),
            _ => (Qualifier::Pass, term),
        };
        let split = rest.find([':', '/']).unwrap_or(rest.len());
        let (name, arg) = (&rest[..split], &rest[split..]);
        let mechanism = match name.to_ascii_lowercase().as_str() {
            "all" if arg.is_empty() => Mechanism::All,
            "include" => {
                Mechanism::Include(domain_spec(term, arg.strip_prefix(':').ok_or_else(bad)?)?)
            }
            "exists" => {
                Mechanism::Exists(domain_spec(term, arg.strip_prefix(':').ok_or_else(bad)?)?)
            }
            "a" | "mx" => {
                let (domain, v4, v6) = dual_cidr(arg).ok_or_else(bad)?;
                let domain = match domain.strip_prefix(':') {
                    Some(d) => Some(domain_spec(term, d)?),
                    None if domain.is_empty() => None,
                    None => return Err(bad()),
                };
                if name.eq_ignore_ascii_case("a") {
                    Mechanism::A { domain, v4, v6 }
                } else {
                    Mechanism::Mx { domain, v4, v6 }
                }
            }
            "ptr" => Mechanism::Ptr(match arg.strip_prefix(':') {
                Some(d) => Some(domain_spec(term, d)?),
                None if arg.is_empty() => None,
                None => return Err(bad()),
            }),
            "ip4" => {
                let arg = arg.strip_prefix(':').ok_or_else(bad)?;
                let (addr, len) = match arg.split_once('/') {
                    Some((a, l)) => (a, cidr(l, 32).ok_or_else(bad)?),
                    None => (arg, 32),
                };
                Mechanism::Ip4(addr.parse().map_err(|_| bad())?, len)
            }
            "ip6" => {
                let arg = arg.strip_prefix(':').ok_or_else(bad)?;
                let (addr, len) = match arg.split_once('/') {
                    Some((a, l)) => (a, cidr(l, 128).ok_or_else(bad)?),
                    None => (arg, 128),
                };
                Mechanism::Ip6(addr.parse().map_err(|_| bad())?, len)
            }
            _ => return Err(SpfSyntaxError::UnknownTerm(term.to_owned())),
        };
        self.directives.push((qualifier, mechanism));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc7208_appendix_a_records() {
        let r = SpfRecord::parse("v=spf1 +mx a:colo.example.com/28 -all").unwrap();
        assert_eq!(r.directives.len(), 3);
        assert!(matches!(
            r.directives[1].1,
            Mechanism::A {
                v4: 28,
                v6: 128,
                ..
            }
        ));
        assert_eq!(r.directives[2], (Qualifier::Fail, Mechanism::All));
        let r =
            SpfRecord::parse("v=spf1 ip6:2001:db8::/32 ip4:192.0.2.0/24 redirect=_spf.example.com")
                .unwrap();
        assert_eq!(
            r.directives[0].1,
            Mechanism::Ip6("2001:db8::".parse().unwrap(), 32)
        );
        assert!(r.redirect.is_some());
        let r = SpfRecord::parse("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all").unwrap();
        assert!(matches!(&r.directives[0].1, Mechanism::Exists(m) if m.0.len() == 5));
        let r = SpfRecord::parse("v=spf1 mx//64 a:x.example/24//64 foo=bar ~all").unwrap();
        assert!(matches!(
            r.directives[0].1,
            Mechanism::Mx {
                domain: None,
                v4: 32,
                v6: 64
            }
        ));
    }

    #[test]
    fn rejects_malformed_records() {
        assert_eq!(
            SpfRecord::parse("v=spf10 -all"),
            Err(SpfSyntaxError::Version)
        );
        for bad in [
            "v=spf1 ip4:300.0.0.1",
            "v=spf1 ip4:1.2.3.4/33",
            "v=spf1 include",
            "v=spf1 a:",
            "v=spf1 foo",
            "v=spf1 -all:x",
            "v=spf1 redirect=a redirect=b",
            "v=spf1 exists:%{x}",
            "v=spf1 exists:%{d0}",
            "v=spf1 exists:%",
            // RFC 7208 §7.1: a domain-spec ends with a top label that is not all digits.
            "v=spf1 a:foo-bar -all",
            "v=spf1 a:111.222.33.44",
            "v=spf1 mx:example.-com",
            "v=spf1 exists:mail.example.com/24",
            "v=spf1 redirect=-all",
            "v=spf1 -all exp=-all",
            // c, r and t are for explanation text only.
            "v=spf1 -all exp=%{r}.example.com",
            "v=spf1 exists:%{t}.example.com",
        ] {
            assert!(SpfRecord::parse(bad).is_err(), "{bad}");
        }
        let r = SpfRecord::parse("v=spf1 a:foo:bar/baz.example.com/24 mx:%{d} a:x.123-4.").unwrap();
        assert_eq!(
            r.directives[0].1,
            Mechanism::A {
                domain: Some(MacroString(vec![MacroToken::Literal(
                    "foo:bar/baz.example.com".into()
                )])),
                v4: 24,
                v6: 128
            }
        );
        assert!(
            SpfRecord::parse("v=spf1 foo=%{r}bar -all").is_ok(),
            "unknown modifiers are free"
        );
        assert!(is_spf_record("V=SPF1"));
        assert!(!is_spf_record("v=spf1x"));
    }
}
