//! Mailboxes and address lists (RFC 5322 section 3.4), with the obsolete forms of section 4.4.

use std::fmt;
use std::str::FromStr;

use crate::error::{check_value, BuildError};

/// A mailbox: an optional display name and an address `local@domain`.
///
/// Built with [`Mailbox::new`] or parsed with [`str::parse`]; both reject CR, LF and NUL, so a
/// mailbox can always be written into a header safely.
///
/// ```
/// use mime_codec::Mailbox;
/// let m: Mailbox = "张三 <zhang@example.com>".parse()?;
/// assert_eq!(m.name(), Some("张三"));
/// assert_eq!(m.address(), "zhang@example.com");
/// # Ok::<(), mime_codec::BuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    name: Option<String>,
    address: String,
}

impl Mailbox {
    /// A mailbox with a display name; an empty name is the same as none.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Result<Self, BuildError> {
        let name = name.into();
        check_value("display name", &name)?;
        let mut m = Self::address_only(address)?;
        let name = name.trim();
        m.name = (!name.is_empty()).then(|| name.to_owned());
        Ok(m)
    }

    /// A mailbox without a display name.
    pub fn address_only(address: impl Into<String>) -> Result<Self, BuildError> {
        let address = address.into();
        check_value("address", &address)?;
        validate_address(&address)?;
        Ok(Mailbox {
            name: None,
            address,
        })
    }

    /// The display name, decoded.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The address, `local@domain`, as used in the SMTP envelope.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The part after the last `@`.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// Whether the address holds non-ASCII characters (so SMTPUTF8 is needed to send it).
    pub fn needs_smtputf8(&self) -> bool {
        !self.address.is_ascii()
    }
}

impl FromStr for Mailbox {
    type Err = BuildError;

    /// Parses one mailbox such as `Name <a@b>`, `"Last, First" <a@b>` or `a@b`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_value("address", s)?;
        let list = parse_address_list(s);
        match list.as_slice() {
            // Re-validated: a decoded display name could hold a line break.
            [Address::Mailbox(m)] => Mailbox::new(m.name().unwrap_or(""), m.address()),
            _ => Err(BuildError::InvalidAddress(s.to_owned())),
        }
    }
}

impl fmt::Display for Mailbox {
    /// Writes `"Name" <address>` or `address` (unencoded; for humans, not for headers).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{} <{}>", quote_if_needed(n), self.address),
            None => f.write_str(&self.address),
        }
    }
}

fn quote_if_needed(n: &str) -> String {
    if n.split(' ')
        .all(|w| !w.is_empty() && w.bytes().all(is_atext))
    {
        n.to_owned()
    } else {
        let mut s = String::with_capacity(n.len() + 2);
        s.push('"');
        for c in n.chars() {
            if c == '"' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

/// Checks the `local@domain` shape: a dot-atom or simple quoted local part, and a domain that is
/// a dot-atom or a `[literal]`; no whitespace, controls, or stray specials that would change how
/// the address reads back.
fn validate_address(a: &str) -> Result<(), BuildError> {
    let bad = || BuildError::InvalidAddress(a.to_owned());
    // RFC 5321 section 4.5.3.1.3: a path is at most 256 octets; this also keeps header lines short.
    if a.len() > 254 {
        return Err(bad());
    }
    let (local, domain) = a.rsplit_once('@').ok_or_else(bad)?;
    let plain = |s: &str| {
        !s.is_empty()
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "()<>[]:;@\\,\"".contains(c))
    };
    let local_ok = match local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        // A quoted local part may hold spaces (RFC 5321 `Quoted-string`); the builder writes the
        // address as one word, so they never become a fold.
        Some(inner) => {
            !inner.is_empty()
                && !inner.trim().is_empty()
                && !inner.chars().any(|c| {
                    (c.is_whitespace() && c != ' ') || c.is_control() || c == '"' || c == '\\'
                })
        }
        None => plain(local),
    };
    let domain_ok = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(inner) => plain(inner),
        None => plain(domain) && !domain.starts_with('.') && !domain.ends_with('.'),
    };
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// An entry of an address list: a mailbox or a named group of mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A single mailbox.
    Mailbox(Mailbox),
    /// `Name: a@b, c@d;` (RFC 5322 section 3.4); the list may be empty.
    Group {
        /// The group's display name, decoded.
        name: String,
        /// The group's members.
        members: Vec<Mailbox>,
    },
}

impl Address {
    /// Every mailbox this entry names: itself, or the group's members.
    pub fn mailboxes(&self) -> &[Mailbox] {
        match self {
            Address::Mailbox(m) => std::slice::from_ref(m),
            Address::Group { members, .. } => members,
        }
    }
}

/// RFC 5322 `atext`; non-ASCII bytes are accepted as RFC 6532 allows.
pub(crate) fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    /// An atom, possibly with dots (obsolete phrases and dot-atoms alike).
    Atom(&'a str),
    Quoted(String),
    DomainLiteral(&'a str),
    Comment(String),
    Special(u8),
}

/// Splits an address list into tokens; whitespace is dropped, but whether a token followed
/// whitespace is kept so phrases can be re-joined.
fn tokenize(s: &str) -> Vec<(Token<'_>, bool)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                space = true;
                i += 1;
                continue;
            }
            b'"' => {
                let mut v = String::new();
                i += 1;
                let mut seg = i;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        v.push_str(&s[seg..i]);
                        let n = s[i + 1..].chars().next().map_or(1, char::len_utf8);
                        v.push_str(&s[i + 1..i + 1 + n]);
                        i += 1 + n;
                        seg = i;
                        continue;
                    }
                    if b[i] == b'\r' || b[i] == b'\n' {
                        // Folding inside a quoted string: drop the line break, keep the space.
                        v.push_str(&s[seg..i]);
                        i += 1;
                        seg = i;
                        continue;
                    }
                    i += 1;
                }
                v.push_str(&s[seg..i.min(b.len())]);
                i += 1;
                out.push((Token::Quoted(v), space));
            }
            b'(' => {
                let mut depth = 0usize;
                let mut v = String::new();
                let mut seg = i + 1;
                while i < b.len() {
                    match b[i] {
                        b'(' => {
                            if depth > 0 {
                                // keep nested parentheses as text
                            }
                            depth += 1;
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                v.push_str(&s[seg..i]);
                                i += 1;
                                break;
                            }
                        }
                        b'\\' if i + 1 < b.len() => {
                            v.push_str(&s[seg..i]);
                            let n = s[i + 1..].chars().next().map_or(1, char::len_utf8);
                            v.push_str(&s[i + 1..i + 1 + n]);
                            i += 1 + n;
                            seg = i;
                            continue;
                        }
                        _ => {}
                    }
                    i += 1;
                    if i >= b.len() {
                        v.push_str(&s[seg.min(b.len())..]);
                    }
                }
                out.push((Token::Comment(v.trim().to_owned()), space));
            }
            b'[' => {
                let start = i;
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push((Token::DomainLiteral(&s[start..i]), space));
            }
            b'<' | b'>' | b',' | b':' | b';' | b'@' | b'\\' | b')' | b']' => {
                out.push((Token::Special(c), space));
                i += 1;
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(
                        b[i],
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b'"'
                            | b'('
                            | b')'
                            | b'<'
                            | b'>'
                            | b','
                            | b':'
                            | b';'
                            | b'@'
                            | b'['
                            | b']'
                            | b'\\'
                    )
                {
                    i += 1;
                }
                out.push((Token::Atom(&s[start..i]), space));
            }
        }
        space = false;
    }
    out
}

/// Joins phrase words with single spaces and decodes RFC 2047 words in them.
fn phrase_text(words: &[(Token<'_>, bool)]) -> String {
    let mut raw = String::new();
    for (i, (t, space)) in words.iter().enumerate() {
        let piece: &str = match t {
            Token::Atom(a) => a,
            Token::Quoted(q) => q,
            Token::Special(b'@') => "@",
            Token::Special(b'.') => ".",
            Token::DomainLiteral(d) => d,
            _ => continue,
        };
        if i > 0 && *space && !raw.is_empty() {
            raw.push(' ');
        }
        // Quoted strings may carry encoded words too (common, though not allowed by RFC 2047).
        raw.push_str(piece);
    }
    crate::rfc2047::decode(&raw).trim().to_owned()
}

/// Builds an address from addr-spec tokens, re-quoting a quoted local part.
fn addr_spec_text(tokens: &[(Token<'_>, bool)]) -> String {
    let mut s = String::new();
    for (t, _) in tokens {
        match t {
            Token::Atom(a) => s.push_str(a),
            Token::Quoted(q) => {
                s.push('"');
                for c in q.chars() {
                    if c == '"' || c == '\\' {
                        s.push('\\');
                    }
                    s.push(c);
                }
                s.push('"');
            }
            Token::DomainLiteral(d) => s.push_str(d),
            Token::Special(b'@') => s.push('@'),
            _ => {}
        }
    }
    s
}

/// Parses an address list: mailboxes with or without display names, groups, comments (skipped:
/// `a@b.example (Ann)` has no display name, as RFC 5322 and Python's `email` read it), quoted
/// strings, RFC 2047 display names, obsolete source routes and empty list members. Entries that
/// hold no address are skipped. Never fails.
///
/// A missing comma between addresses is repaired: `a@x.example b@y.example` gives two
/// mailboxes, and `Name Surname name@b.example` gives one named `Name Surname`. Every mailbox
/// returned is one that [`Mailbox::address_only`] accepts; what is not an address is dropped.
///
/// ```
/// use mime_codec::{parse_address_list, Address};
/// let list = parse_address_list(r#""Doe, John" <john@example.com>, team: a@example.com, b@example.com;, =?UTF-8?B?5byg5LiJ?= <z@example.com>"#);
/// assert_eq!(list.len(), 3);
/// assert_eq!(list[0].mailboxes()[0].name(), Some("Doe, John"));
/// assert!(matches!(&list[1], Address::Group { name, members } if name == "team" && members.len() == 2));
/// assert_eq!(list[2].mailboxes()[0].name(), Some("张三"));
///
/// let list = parse_address_list("tim@a.example concierge@a.example");
/// assert_eq!(list.len(), 2);
/// ```
pub fn parse_address_list(s: &str) -> Vec<Address> {
    parse_address_list_checked(s).0
}

/// [`parse_address_list`], also saying whether the list needed repair (a missing comma, or
/// something dropped because it is not an address).
pub(crate) fn parse_address_list_checked(s: &str) -> (Vec<Address>, bool) {
    let tokens = tokenize(s);
    let mut out = Vec::new();
    let mut repaired = false;
    let mut group: Option<(String, Vec<Mailbox>)> = None;
    let mut i = 0;
    while i < tokens.len() {
        // Collect one entry (or a group start) up to ',', ';' or ':' outside angle brackets.
        let start = i;
        while i < tokens.len() {
            match tokens[i].0 {
                Token::Special(b',') | Token::Special(b';') => break,
                Token::Special(b':') if group.is_none() => break,
                Token::Special(b'<') => {
                    while i < tokens.len() && tokens[i].0 != Token::Special(b'>') {
                        i += 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        let end = i.min(tokens.len());
        let sep = tokens.get(i).map(|t| t.0.clone());
        i += 1;
        if sep == Some(Token::Special(b':')) {
            let name = phrase_text(&tokens[start..end]);
            group = Some((name, Vec::new()));
            continue;
        }
        let (mailboxes, fixed) = entry_mailboxes(&tokens[start..end]);
        repaired |= fixed;
        match &mut group {
            Some((_, members)) => members.extend(mailboxes),
            None => out.extend(mailboxes.into_iter().map(Address::Mailbox)),
        }
        if sep == Some(Token::Special(b';')) {
            if let Some((name, members)) = group.take() {
                out.push(Address::Group { name, members });
            }
        }
    }
    if let Some((name, members)) = group.take() {
        // A group missing its closing ';' is still a group.
        out.push(Address::Group { name, members });
    }
    (out, repaired)
}

fn is_word(t: &Token<'_>) -> bool {
    matches!(t, Token::Atom(_) | Token::Quoted(_))
}

/// The mailboxes of one list entry: normally one, `phrase <addr>` or a bare `addr` with an
/// optional comment; more when commas were left out between them. Returns whether the entry
/// needed repair.
fn entry_mailboxes(seg: &[(Token<'_>, bool)]) -> (Vec<Mailbox>, bool) {
    let mut out = Vec::new();
    let mut found = 0usize;
    let mut dropped = false;
    let mut extra = false;
    // Where the words of the next mailbox's display name start.
    let mut phrase_start = 0;
    let mut i = 0;
    let mut push = |name: String, address: String, out: &mut Vec<Mailbox>| {
        found += 1;
        match make_mailbox(name, address) {
            Some(m) => out.push(m),
            None => dropped = true,
        }
    };
    while i < seg.len() {
        match seg[i].0 {
            Token::Special(b'<') => {
                let close = seg[i..]
                    .iter()
                    .position(|t| t.0 == Token::Special(b'>'))
                    .map_or(seg.len(), |p| i + p);
                let mut inner = &seg[i + 1..close];
                // Obsolete source route: `<@a.example,@b.example:user@c.example>`.
                if let Some(pos) = inner.iter().position(|t| t.0 == Token::Special(b':')) {
                    inner = &inner[pos + 1..];
                }
                let name = phrase_text(&seg[phrase_start..i]);
                let after = (close + 1).min(seg.len());
                if !inner.is_empty() {
                    let (l, r) = match inner.iter().position(|t| t.0 == Token::Special(b'@')) {
                        Some(at) => addr_spec_bounds(inner, 0, at),
                        None => (0, inner.len()),
                    };
                    // Words in the brackets beyond the address (`<a b@c>`) are not part of it.
                    let stray = inner[..l].iter().chain(&inner[r..]).any(|t| is_word(&t.0));
                    extra |= stray;
                    push(name, addr_spec_text(&inner[l..r]), &mut out);
                }
                i = after;
                phrase_start = i;
            }
            Token::Special(b'@') => {
                // A bare addr-spec: the word before the '@' (and words glued to it without
                // whitespace, as in `"john".doe`), and the domain after it; comments between
                // are skipped.
                let (l, r) = addr_spec_bounds(seg, phrase_start, i);
                // A comment after a bare address (`a@b (Name)`) is not a display name (RFC
                // 5322 gives comments no meaning; Python's `email` reads none either).
                let name = phrase_text(&seg[phrase_start..l]);
                push(name, addr_spec_text(&seg[l..r]), &mut out);
                i = r;
                phrase_start = i;
            }
            _ => i += 1,
        }
    }
    // Words left with no address after them: a local name (`root`) or junk, not a mailbox.
    let leftover = seg[phrase_start..]
        .iter()
        .any(|t| matches!(t.0, Token::Atom(_) | Token::Quoted(_) | Token::Special(_)));
    (out, dropped || extra || found > 1 || leftover)
}

/// The bounds `l..r` of the addr-spec around the `@` at `at` in `seg`, not reaching before
/// `from`: the word before the `@` (with words glued to it without whitespace, as in
/// `"john".doe`) and the domain after it, comments between them included.
fn addr_spec_bounds(seg: &[(Token<'_>, bool)], from: usize, at: usize) -> (usize, usize) {
    let mut l = at;
    while l > from && matches!(seg[l - 1].0, Token::Comment(_)) {
        l -= 1;
    }
    if l > from && is_word(&seg[l - 1].0) {
        l -= 1;
        while l > from && !seg[l].1 && is_word(&seg[l - 1].0) {
            l -= 1;
        }
    }
    let mut r = at + 1;
    while r < seg.len() && matches!(seg[r].0, Token::Comment(_)) {
        r += 1;
    }
    if r < seg.len() && matches!(seg[r].0, Token::Atom(_) | Token::DomainLiteral(_)) {
        r += 1;
    }
    (l, r)
}

/// A mailbox from parsed pieces, or `None` when the address is not one [`Mailbox::address_only`]
/// accepts (so a parsed mailbox can always be written back).
fn make_mailbox(name: String, address: String) -> Option<Mailbox> {
    validate_address(&address).ok()?;
    if address.contains(['\r', '\n', '\0']) {
        return None;
    }
    // A decoded display name could hold a line break or NUL; it would then not be writable.
    let name = name.replace(['\r', '\n', '\0'], " ");
    let name = name.trim();
    Some(Mailbox {
        name: (!name.is_empty()).then(|| name.to_owned()),
        address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(list: &[Address]) -> Vec<(Option<&str>, &str)> {
        list.iter()
            .flat_map(|a| a.mailboxes())
            .map(|m| (m.name(), m.address()))
            .collect()
    }

    #[test]
    fn common_forms() {
        let l = parse_address_list("a@example.com, B <b@example.com>,\"C, D\" <c@example.com>");
        assert_eq!(
            mb(&l),
            [
                (None, "a@example.com"),
                (Some("B"), "b@example.com"),
                (Some("C, D"), "c@example.com")
            ]
        );
    }

    #[test]
    fn comments_and_obsolete_forms() {
        let l = parse_address_list("john@example.com (John Smith), Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>");
        assert_eq!(
            mb(&l),
            [
                (None, "john@example.com"),
                (Some("Pete"), "pete@silly.test")
            ]
        );
        let l = parse_address_list("<@route.example,@other.example:user@example.com>");
        assert_eq!(mb(&l), [(None, "user@example.com")]);
        let l = parse_address_list("John Q. Public <jqp@example.com>, , ,");
        assert_eq!(mb(&l), [(Some("John Q. Public"), "jqp@example.com")]);
        let l = parse_address_list("\"quoted local\"@example.com");
        assert_eq!(mb(&l), [(None, "\"quoted local\"@example.com")]);
    }

    #[test]
    fn groups() {
        let l = parse_address_list("undisclosed-recipients:;");
        assert_eq!(
            l,
            [Address::Group {
                name: "undisclosed-recipients".into(),
                members: vec![]
            }]
        );
        let l = parse_address_list(
            "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>; x@y.test",
        );
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].mailboxes().len(), 3);
        assert_eq!(mb(&l[1..]), [(None, "x@y.test")]);
        let l = parse_address_list("open: a@b.test");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].mailboxes().len(), 1);
    }

    #[test]
    fn encoded_and_utf8_names() {
        let l = parse_address_list("=?GB2312?B?1tDOxA==?= <a@example.com>, 李四 <li@example.com>, \"=?utf-8?Q?J=C3=B6rg?=\" <j@example.com>");
        assert_eq!(
            mb(&l),
            [
                (Some("中文"), "a@example.com"),
                (Some("李四"), "li@example.com"),
                (Some("Jörg"), "j@example.com")
            ]
        );
    }

    #[test]
    fn missing_commas_are_repaired() {
        let (l, repaired) = parse_address_list_checked("tim@a.example concierge@a.example");
        assert_eq!(
            mb(&l),
            [(None, "tim@a.example"), (None, "concierge@a.example")]
        );
        assert!(repaired);
        let (l, repaired) = parse_address_list_checked("Name Surname name@b.example");
        assert_eq!(mb(&l), [(Some("Name Surname"), "name@b.example")]);
        assert!(!repaired);
        let l =
            parse_address_list("A <a@x.example> B <b@y.example>, c@z.example (Cee) d@z.example");
        assert_eq!(
            mb(&l),
            [
                (Some("A"), "a@x.example"),
                (Some("B"), "b@y.example"),
                (None, "c@z.example"),
                (None, "d@z.example")
            ]
        );
        let l = parse_address_list("a@x.example Name <b@y.example>");
        assert_eq!(
            mb(&l),
            [(None, "a@x.example"), (Some("Name"), "b@y.example")]
        );
        // Nothing that is not an address comes back.
        for junk in [
            "a@b@c.example",
            "root",
            "x <a b@c.example>",
            "@x.example",
            "a@",
        ] {
            let (l, repaired) = parse_address_list_checked(junk);
            for m in l.iter().flat_map(Address::mailboxes) {
                assert!(Mailbox::address_only(m.address()).is_ok(), "{junk}: {m:?}");
            }
            assert!(repaired, "{junk}");
        }
        assert!(parse_address_list("<>").is_empty());
    }

    #[test]
    fn mailbox_validation() {
        assert!(Mailbox::new("n", "a@b.example").is_ok());
        for bad in [
            "",
            "a",
            "@b",
            "a@",
            "a b@c",
            "a@b\r\n",
            "<a@b>",
            "a@.b",
            "a@b[",
            "a(b@c",
            "\"a\"b\"@c",
            "\" \"@c",
            "\"a\tb\"@c",
        ] {
            assert!(Mailbox::address_only(bad).is_err(), "{bad:?}");
        }
        assert!(Mailbox::new("x\r\nBcc: y@z", "a@b").is_err());
        assert!(Mailbox::address_only("\"quoted local\"@example.com").is_ok());
        assert!("Bob <bob@example.com>, Al <al@example.com>"
            .parse::<Mailbox>()
            .is_err());
        let m: Mailbox = "Bob <bob@example.com>".parse().unwrap();
        assert_eq!(m.to_string(), "Bob <bob@example.com>");
    }
}
