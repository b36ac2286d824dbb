//! EHLO capabilities (RFC 5321 §4.1.1.1 and the extensions' RFCs).

use super::reply::{Reply, ReplyCode};
use crate::parse::{class, is_word};
use crate::ParseError;

/// A SASL mechanism name (RFC 4422 `sasl-mech = 1*20(ALPHA/DIGIT/"-"/"_")`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616)
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login)
    Login,
    /// `CRAM-MD5` (RFC 2195)
    CramMd5,
    /// `XOAUTH2` (Google and Microsoft OAuth 2.0)
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628)
    OAuthBearer,
    /// `SCRAM-SHA-1` (RFC 5802)
    ScramSha1,
    /// `SCRAM-SHA-256` (RFC 7677)
    ScramSha256,
    /// Any other mechanism (upper case; never one of the names above).
    Other(MechanismName),
}

/// The name of a SASL mechanism that [`Mechanism`] has no variant for:
/// 1 to 20 of `A-Z 0-9 - _`, upper case, and none of the names that have a
/// variant, so that it is sent and read back as the same [`Mechanism`].
///
/// ```
/// use smtp_proto::{Mechanism, MechanismName};
/// let ntlm = MechanismName::new("ntlm").unwrap();
/// assert_eq!(ntlm.as_str(), "NTLM");
/// assert_eq!(Mechanism::parse("NTLM").unwrap(), Mechanism::Other(ntlm));
/// assert!(MechanismName::new("PLAIN").is_err()); // that is Mechanism::Plain
/// assert!(MechanismName::new("BAD NAME").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MechanismName(String);

impl MechanismName {
    /// Checks and upper-cases a mechanism name.
    pub fn new(name: &str) -> Result<MechanismName, ParseError> {
        match Mechanism::parse(name)? {
            Mechanism::Other(name) => Ok(name),
            _ => Err(ParseError::BadParameter("SASL mechanism")),
        }
    }

    /// The name, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for MechanismName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MechanismName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Mechanism {
    /// Parses a mechanism name, case-insensitively.
    ///
    /// ```
    /// use smtp_proto::Mechanism;
    /// assert_eq!(Mechanism::parse("cram-md5").unwrap(), Mechanism::CramMd5);
    /// assert!(Mechanism::parse("BAD NAME").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<Mechanism, ParseError> {
        Mechanism::from_name(name.as_bytes()).ok_or(ParseError::BadParameter("SASL mechanism"))
    }

    /// A mechanism from its name's octets, `None` when that is not
    /// `sasl-mech = 1*20(ALPHA / DIGIT / "-" / "_")`. Known names are
    /// matched by length, then with one word compare (safe once the octets
    /// are checked); only others are upper-cased into a new string.
    pub(crate) fn from_name(name: &[u8]) -> Option<Mechanism> {
        let valid =
            (1..=20).contains(&name.len()) && class::span(name, class::SASL_MECH) == name.len();
        if !valid {
            return None;
        }
        let found = match name.len() {
            5 if is_word(name, b"PLAIN") => Some(Mechanism::Plain),
            5 if is_word(name, b"LOGIN") => Some(Mechanism::Login),
            7 if is_word(name, b"XOAUTH2") => Some(Mechanism::XOAuth2),
            8 if is_word(name, b"CRAM-MD5") => Some(Mechanism::CramMd5),
            11 if is_word(name, b"OAUTHBEARER") => Some(Mechanism::OAuthBearer),
            11 if is_word(name, b"SCRAM-SHA-1") => Some(Mechanism::ScramSha1),
            13 if is_word(name, b"SCRAM-SHA-256") => Some(Mechanism::ScramSha256),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
        String::from_utf8(name.to_ascii_uppercase())
            .ok()
            .map(|n| Mechanism::Other(MechanismName(n)))
    }

    /// The name as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::Other(s) => s.as_str(),
        }
    }
}

/// One line of an EHLO reply after the first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Extension {
    /// `SIZE [n]` (RFC 1870); `None` or `Some(0)` means no fixed limit.
    Size(Option<u64>),
    /// `PIPELINING` (RFC 2920)
    Pipelining,
    /// `8BITMIME` (RFC 6152)
    EightBitMime,
    /// `SMTPUTF8` (RFC 6531)
    SmtpUtf8,
    /// `CHUNKING` (RFC 3030)
    Chunking,
    /// `BINARYMIME` (RFC 3030)
    BinaryMime,
    /// `STARTTLS` (RFC 3207)
    StartTls,
    /// `AUTH mech ...` (RFC 4954)
    Auth(Vec<Mechanism>),
    /// `AUTH=mech ...`, the pre-standard form some servers still send.
    AuthLegacy(Vec<Mechanism>),
    /// `DSN` (RFC 3461)
    Dsn,
    /// `ENHANCEDSTATUSCODES` (RFC 2034)
    EnhancedStatusCodes,
    /// `REQUIRETLS` (RFC 8689)
    RequireTls,
    /// Any other keyword with its parameters, kept as sent.
    Other {
        /// `ehlo-keyword`
        keyword: String,
        /// `ehlo-param`s
        params: Vec<String>,
    },
}

impl Extension {
    /// One `ehlo-line`: `ehlo-keyword *( SP ehlo-param )`,
    /// `ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`,
    /// `ehlo-param = 1*(%d33-126)`. `None` when the line breaks the grammar.
    fn parse(line: &str) -> Option<Extension> {
        let bytes = line.as_bytes();
        if bytes.len() >= 5 && bytes[..5].eq_ignore_ascii_case(b"AUTH=") {
            return mechanisms(&line[5..]).map(Extension::AuthLegacy);
        }
        let (keyword, params) = match bytes.iter().position(|&b| b == b' ') {
            Some(sp) => (&line[..sp], Some(&line[sp + 1..])),
            None => (line, None),
        };
        let valid_keyword = keyword
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric)
            && keyword
                .bytes()
                .all(|b| crate::parse::class::of(b) & crate::parse::class::LDH != 0);
        // Parameters: single spaces between non-empty runs of %d33-126,
        // checked in one pass.
        let valid_params = params.is_none_or(|p| {
            let mut after_space = true;
            for &b in p.as_bytes() {
                match b {
                    b' ' if !after_space => after_space = true,
                    33..=126 => after_space = false,
                    _ => return false,
                }
            }
            !after_space
        });
        if !valid_keyword || !valid_params {
            return None;
        }
        let simple = |ext| params.is_none().then_some(ext);
        let known = match known_keyword(keyword) {
            "SIZE" => match params {
                None => Some(Extension::Size(None)),
                Some(n) if n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()) => {
                    n.parse().ok().map(|n| Extension::Size(Some(n)))
                }
                Some(_) => None,
            },
            "PIPELINING" => simple(Extension::Pipelining),
            "8BITMIME" => simple(Extension::EightBitMime),
            "SMTPUTF8" => simple(Extension::SmtpUtf8),
            "CHUNKING" => simple(Extension::Chunking),
            "BINARYMIME" => simple(Extension::BinaryMime),
            "STARTTLS" => simple(Extension::StartTls),
            "DSN" => simple(Extension::Dsn),
            "ENHANCEDSTATUSCODES" => simple(Extension::EnhancedStatusCodes),
            "REQUIRETLS" => simple(Extension::RequireTls),
            // Each param is non-empty and holds no space, as `mechanisms` expects.
            "AUTH" => match params {
                None => Some(Extension::Auth(Vec::new())),
                Some(p) => mechanisms(p).map(Extension::Auth),
            },
            _ => None,
        };
        Some(known.unwrap_or_else(|| Extension::Other {
            keyword: keyword.to_owned(),
            params: params.map_or_else(Vec::new, |p| {
                super::split_byte(p, b' ').map(str::to_owned).collect()
            }),
        }))
    }

    fn to_line(&self) -> String {
        let with_mechs = |prefix: &str, mechs: &[Mechanism]| {
            let mut s = prefix.to_owned();
            for (n, m) in mechs.iter().enumerate() {
                if n > 0 {
                    s.push(' ');
                }
                s.push_str(m.as_str());
            }
            s
        };
        match self {
            Extension::Size(None) => "SIZE".into(),
            Extension::Size(Some(n)) => format!("SIZE {n}"),
            Extension::Pipelining => "PIPELINING".into(),
            Extension::EightBitMime => "8BITMIME".into(),
            Extension::SmtpUtf8 => "SMTPUTF8".into(),
            Extension::Chunking => "CHUNKING".into(),
            Extension::BinaryMime => "BINARYMIME".into(),
            Extension::StartTls => "STARTTLS".into(),
            Extension::Auth(m) if m.is_empty() => "AUTH".into(),
            Extension::Auth(m) => with_mechs("AUTH ", m),
            Extension::AuthLegacy(m) => with_mechs("AUTH=", m),
            Extension::Dsn => "DSN".into(),
            Extension::EnhancedStatusCodes => "ENHANCEDSTATUSCODES".into(),
            Extension::RequireTls => "REQUIRETLS".into(),
            Extension::Other { keyword, params } => {
                let mut s = keyword.clone();
                for p in params {
                    s.push(' ');
                    s.push_str(p);
                }
                s
            }
        }
    }
}

/// The upper-case spelling of a keyword this crate interprets, found by
/// length and without allocating; `""` for any other keyword.
fn known_keyword(keyword: &str) -> &'static str {
    let candidates: &[&'static str] = match keyword.len() {
        3 => &["DSN"],
        4 => &["SIZE", "AUTH"],
        8 => &["8BITMIME", "SMTPUTF8", "CHUNKING", "STARTTLS"],
        10 => &["PIPELINING", "BINARYMIME", "REQUIRETLS"],
        19 => &["ENHANCEDSTATUSCODES"],
        _ => &[],
    };
    candidates
        .iter()
        .find(|k| k.eq_ignore_ascii_case(keyword))
        .copied()
        .unwrap_or("")
}

/// A server name such as `2.0.0` would read back as the enhanced status of the
/// 250 reply that carries it, so it is refused.
fn reads_as_status(name: &str) -> bool {
    crate::parse::reply::enhanced_prefix(name.as_bytes())
        .is_some_and(|(status, rest)| status.class() == 2 && rest.is_empty())
}

fn mechanisms(list: &str) -> Option<Vec<Mechanism>> {
    let mut all = Vec::with_capacity(4);
    for m in super::split_byte(list, b' ').filter(|m| !m.is_empty()) {
        all.push(Mechanism::parse(m).ok()?);
    }
    Some(all)
}

/// What a server offers, read from its EHLO reply (or built by a server to
/// send one).
///
/// ```
/// use smtp_proto::{Capabilities, Mechanism, Reply};
/// let reply = Reply::parse(
///     b"250-smtp.example.com at your service\r\n250-SIZE 35882577\r\n\
///       250-AUTH LOGIN PLAIN XOAUTH2\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n",
/// ).unwrap();
/// let caps = Capabilities::from_ehlo_reply(&reply).unwrap();
/// assert_eq!(caps.server_name(), "smtp.example.com");
/// assert_eq!(caps.max_size(), Some(35882577));
/// assert!(caps.pipelining() && caps.smtputf8() && !caps.starttls());
/// assert!(caps.auth_mechanisms().contains(&Mechanism::XOAuth2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    server_name: String,
    greeting: Option<String>,
    extensions: Vec<Extension>,
}

impl Capabilities {
    /// Capabilities to advertise, for a server named `server_name`.
    pub fn new(server_name: &str) -> Result<Capabilities, ParseError> {
        if server_name.is_empty()
            || !server_name
                .bytes()
                .all(|b| (33..=126).contains(&b) || b >= 0x80)
        {
            return Err(ParseError::BadEhloReply);
        }
        if reads_as_status(server_name) {
            return Err(ParseError::BadEhloReply);
        }
        Ok(Capabilities {
            server_name: server_name.to_owned(),
            greeting: None,
            extensions: Vec::new(),
        })
    }

    pub(crate) fn from_parts(
        server_name: String,
        greeting: Option<String>,
        extensions: Vec<Extension>,
    ) -> Capabilities {
        Capabilities {
            server_name,
            greeting,
            extensions,
        }
    }

    /// Adds the greeting text after the server name on the first line.
    pub fn with_greeting(mut self, greeting: &str) -> Result<Capabilities, ParseError> {
        if greeting.is_empty() || greeting.bytes().any(|b| b < 32 && b != b'\t' || b == 127) {
            return Err(ParseError::BadEhloReply);
        }
        self.greeting = Some(greeting.to_owned());
        Ok(self)
    }

    /// Adds an extension. An `Other` keyword or parameter that breaks the
    /// `ehlo-line` grammar is an error.
    pub fn with(mut self, ext: Extension) -> Result<Capabilities, ParseError> {
        if Extension::parse(&ext.to_line()).as_ref() != Some(&ext) {
            return Err(ParseError::BadEhloReply);
        }
        self.extensions.push(ext);
        Ok(self)
    }

    /// Reads a positive EHLO reply: `ehlo-ok-rsp` (RFC 5321 §4.1.1.1). Lines
    /// that break the `ehlo-line` grammar (such as the empty last line some
    /// servers send) are skipped.
    pub fn from_ehlo_reply(reply: &Reply) -> Result<Capabilities, ParseError> {
        if reply.code() != ReplyCode::OK {
            return Err(ParseError::BadEhloReply);
        }
        let mut lines = reply.text_lines();
        let first = lines.next().ok_or(ParseError::BadEhloReply)?;
        let (name, greeting) = match first.split_once(' ') {
            Some((name, greeting)) => (name, Some(greeting)),
            None => (first, None),
        };
        if reads_as_status(name) {
            return Err(ParseError::BadEhloReply);
        }
        Ok(Capabilities {
            server_name: name.to_owned(),
            greeting: greeting.filter(|g| !g.is_empty()).map(str::to_owned),
            extensions: {
                let mut all = Vec::with_capacity(reply.line_count() - 1);
                all.extend(lines.filter_map(Extension::parse));
                all
            },
        })
    }

    /// The 250 reply that advertises these capabilities.
    pub fn to_reply(&self) -> Reply {
        let mut lines = Vec::with_capacity(self.extensions.len() + 1);
        lines.push(match &self.greeting {
            Some(g) => format!("{} {g}", self.server_name),
            None => self.server_name.clone(),
        });
        lines.extend(self.extensions.iter().map(Extension::to_line));
        Reply::new_unchecked(ReplyCode::OK, None, lines)
    }

    /// The name on the first line (the server's domain or address literal).
    pub fn server_name(&self) -> &str {
        &self.server_name
    }
    /// The text after the name on the first line.
    pub fn greeting(&self) -> Option<&str> {
        self.greeting.as_deref()
    }
    /// Every extension, in the order the server sent them.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    fn has(&self, ext: &Extension) -> bool {
        self.extensions.contains(ext)
    }

    /// SIZE was advertised (with or without a limit).
    pub fn size_advertised(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| matches!(e, Extension::Size(_)))
    }
    /// The fixed message size limit, if the server declared one (`SIZE 0` or a
    /// bare `SIZE` means no fixed limit).
    pub fn max_size(&self) -> Option<u64> {
        self.extensions.iter().find_map(|e| match e {
            Extension::Size(Some(n)) if *n > 0 => Some(*n),
            _ => None,
        })
    }
    /// PIPELINING
    pub fn pipelining(&self) -> bool {
        self.has(&Extension::Pipelining)
    }
    /// 8BITMIME
    pub fn eight_bit_mime(&self) -> bool {
        self.has(&Extension::EightBitMime)
    }
    /// SMTPUTF8
    pub fn smtputf8(&self) -> bool {
        self.has(&Extension::SmtpUtf8)
    }
    /// CHUNKING
    pub fn chunking(&self) -> bool {
        self.has(&Extension::Chunking)
    }
    /// BINARYMIME
    pub fn binary_mime(&self) -> bool {
        self.has(&Extension::BinaryMime)
    }
    /// STARTTLS
    pub fn starttls(&self) -> bool {
        self.has(&Extension::StartTls)
    }
    /// DSN
    pub fn dsn(&self) -> bool {
        self.has(&Extension::Dsn)
    }
    /// ENHANCEDSTATUSCODES
    pub fn enhanced_status_codes(&self) -> bool {
        self.has(&Extension::EnhancedStatusCodes)
    }
    /// REQUIRETLS
    pub fn requiretls(&self) -> bool {
        self.has(&Extension::RequireTls)
    }
    /// Every SASL mechanism offered, from both AUTH forms, without duplicates.
    pub fn auth_mechanisms(&self) -> Vec<Mechanism> {
        let mut all: Vec<Mechanism> = Vec::new();
        for e in &self.extensions {
            if let Extension::Auth(m) | Extension::AuthLegacy(m) = e {
                for mech in m {
                    if !all.contains(mech) {
                        all.push(mech.clone());
                    }
                }
            }
        }
        all
    }
}
