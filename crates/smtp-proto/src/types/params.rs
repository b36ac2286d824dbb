//! MAIL and RCPT parameters (RFC 5321 §4.1.2 `Mail-parameters`, `Rcpt-parameters`)
//! and the extensions that define them: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030),
//! SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461), AUTH (RFC 4954),
//! REQUIRETLS (RFC 8689).

use super::SmallStr;
use crate::parse;
use crate::xtext;
use crate::ParseError;

/// `BODY=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `7BIT`
    SevenBit,
    /// `8BITMIME` (RFC 6152)
    EightBitMime,
    /// `BINARYMIME` (RFC 3030; needs BDAT)
    BinaryMime,
}

impl Body {
    /// The keyword as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Body::SevenBit => "7BIT",
            Body::EightBitMime => "8BITMIME",
            Body::BinaryMime => "BINARYMIME",
        }
    }
}

/// `RET=` values (RFC 3461 §4.3): how much of the message a DSN returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `FULL`: the whole message.
    Full,
    /// `HDRS`: only the headers.
    Headers,
}

/// `NOTIFY=` (RFC 3461 §4.1): `NEVER`, or any non-empty set of
/// `SUCCESS`, `FAILURE`, `DELAY`.
///
/// ```
/// use smtp_proto::Notify;
/// let n = Notify::on(true, true, false).unwrap();
/// assert!(n.success() && n.failure() && !n.delay());
/// assert!(Notify::on(false, false, false).is_none());
/// assert!(Notify::NEVER.is_never());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Notify(u8);

impl Notify {
    const SUCCESS: u8 = 1;
    const FAILURE: u8 = 2;
    const DELAY: u8 = 4;

    /// `NOTIFY=NEVER`
    pub const NEVER: Notify = Notify(0);

    /// A set of conditions; `None` when all are false (use [`Notify::NEVER`]).
    pub fn on(success: bool, failure: bool, delay: bool) -> Option<Notify> {
        let bits = (u8::from(success) * Self::SUCCESS)
            | (u8::from(failure) * Self::FAILURE)
            | (u8::from(delay) * Self::DELAY);
        (bits != 0).then_some(Notify(bits))
    }

    /// True for `NEVER`.
    pub fn is_never(self) -> bool {
        self.0 == 0
    }
    /// Notify on success.
    pub fn success(self) -> bool {
        self.0 & Self::SUCCESS != 0
    }
    /// Notify on failure.
    pub fn failure(self) -> bool {
        self.0 & Self::FAILURE != 0
    }
    /// Notify on delay.
    pub fn delay(self) -> bool {
        self.0 & Self::DELAY != 0
    }

    fn write_to(self, out: &mut Vec<u8>) {
        if self.is_never() {
            out.extend_from_slice(b"NEVER");
            return;
        }
        let mut first = true;
        for (on, name) in [
            (self.success(), &b"SUCCESS"[..]),
            (self.failure(), b"FAILURE"),
            (self.delay(), b"DELAY"),
        ] {
            if on {
                if !first {
                    out.push(b',');
                }
                out.extend_from_slice(name);
                first = false;
            }
        }
    }
}

/// `ORCPT=addr-type;xtext` (RFC 3461 §4.2): the original recipient.
#[derive(Clone)]
pub struct Orcpt {
    /// The address type, then the decoded address: inline when short, else
    /// one allocation.
    text: SmallStr<31>,
    /// Where the address starts in `text`.
    split: usize,
}

impl PartialEq for Orcpt {
    fn eq(&self, other: &Orcpt) -> bool {
        self.split == other.split && self.text.as_str() == other.text.as_str()
    }
}

impl Eq for Orcpt {}

impl std::hash::Hash for Orcpt {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.as_str().hash(state);
        self.split.hash(state);
    }
}

impl std::fmt::Debug for Orcpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orcpt")
            .field("addr_type", &self.addr_type())
            .field("address", &self.address())
            .finish()
    }
}

impl Orcpt {
    /// An original recipient; `addr_type` is an atom such as `rfc822`, `address`
    /// is the decoded value (it is xtext-encoded when sent).
    pub fn new(addr_type: &str, address: &str) -> Result<Self, ParseError> {
        Orcpt::from_parts(addr_type, address)
    }

    #[inline]
    pub(crate) fn from_parts(addr_type: &str, address: &str) -> Result<Self, ParseError> {
        let valid_type = !addr_type.is_empty()
            && parse::class::span(addr_type.as_bytes(), parse::class::LDH) == addr_type.len();
        if !valid_type || address.is_empty() {
            return Err(ParseError::BadParameter("ORCPT"));
        }
        let text = SmallStr::concat(addr_type, address);
        Ok(Orcpt {
            text,
            split: addr_type.len(),
        })
    }
    /// The address type, for example `rfc822`.
    pub fn addr_type(&self) -> &str {
        self.text.as_str().get(..self.split).unwrap_or_default()
    }
    /// The decoded original address.
    pub fn address(&self) -> &str {
        self.text.as_str().get(self.split..).unwrap_or_default()
    }
}

/// `AUTH=` on MAIL (RFC 4954 §5): who submitted the message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthParam {
    /// `AUTH=<>`: the submitter is not known or not trusted.
    Unknown,
    /// The decoded identity (xtext-encoded when sent).
    Identity(XtextValue),
}

/// The decoded value of an xtext parameter (RFC 3461 §4): an `ENVID=` or an
/// `AUTH=` identity. Any text but the empty one (`ENVID=` and `AUTH=` need a
/// value); it is xtext-encoded when sent.
///
/// ```
/// use smtp_proto::XtextValue;
/// assert_eq!(XtextValue::new("a+b c").unwrap(), "a+b c");
/// assert!(XtextValue::new("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XtextValue(String);

impl XtextValue {
    /// Any non-empty text.
    pub fn new(value: &str) -> Result<XtextValue, ParseError> {
        XtextValue::from_string(value.to_owned())
    }

    pub(crate) fn from_string(value: String) -> Result<XtextValue, ParseError> {
        if value.is_empty() {
            return Err(ParseError::BadParameter("xtext"));
        }
        Ok(XtextValue(value))
    }

    /// The decoded text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for XtextValue {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for XtextValue {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for XtextValue {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Display for XtextValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keywords that MAIL or RCPT interpret: an [`EsmtpParam`] built by hand
/// cannot use them (it would read back as the interpreted parameter).
const INTERPRETED: [&str; 9] = [
    "SIZE",
    "BODY",
    "SMTPUTF8",
    "REQUIRETLS",
    "RET",
    "ENVID",
    "AUTH",
    "NOTIFY",
    "ORCPT",
];

/// An ESMTP parameter that this crate does not interpret, kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EsmtpParam {
    keyword: String,
    value: Option<String>,
}

impl EsmtpParam {
    /// `esmtp-keyword ["=" esmtp-value]`; the value may hold UTF-8 (RFC 6531).
    /// A keyword that MAIL or RCPT interprets (`SIZE`, `NOTIFY`, ...) is
    /// refused: set the field of [`MailParams`] or [`RcptParams`] instead.
    pub fn new(keyword: &str, value: Option<&str>) -> Result<Self, ParseError> {
        if INTERPRETED.iter().any(|k| k.eq_ignore_ascii_case(keyword)) {
            return Err(ParseError::BadParameter("esmtp-param"));
        }
        EsmtpParam::from_parsed(keyword, value)
    }

    /// [`EsmtpParam::new`] for the parser, which keeps a keyword one verb
    /// interprets when it comes with the other (`NOTIFY` on MAIL).
    pub(crate) fn from_parsed(keyword: &str, value: Option<&str>) -> Result<Self, ParseError> {
        let kw_ok = keyword
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric)
            && keyword
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let value_ok = value.is_none_or(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| parse::params::is_esmtp_value_char(b, true))
        });
        if !kw_ok || !value_ok {
            return Err(ParseError::BadParameter("esmtp-param"));
        }
        Ok(EsmtpParam {
            keyword: keyword.to_owned(),
            value: value.map(str::to_owned),
        })
    }
    /// The keyword as sent.
    pub fn keyword(&self) -> &str {
        &self.keyword
    }
    /// The value as sent.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.keyword.as_bytes());
        if let Some(v) = &self.value {
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
        }
    }
}

/// The parameters of `MAIL FROM:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailParams {
    /// `SIZE=` the message size in octets (RFC 1870).
    pub size: Option<u64>,
    /// `BODY=` (RFC 6152 / RFC 3030).
    pub body: Option<Body>,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<Ret>,
    /// `ENVID=` decoded (RFC 3461); xtext-encoded when sent.
    pub envid: Option<XtextValue>,
    /// `AUTH=` (RFC 4954).
    pub auth: Option<AuthParam>,
    /// Every other parameter, as sent.
    pub other: Vec<EsmtpParam>,
}

impl MailParams {
    /// Writes ` KEY=VALUE` for each parameter present (each preceded by a space).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(size) = self.size {
            out.extend_from_slice(b" SIZE=");
            super::write_decimal(size, out);
        }
        if let Some(body) = self.body {
            out.extend_from_slice(b" BODY=");
            out.extend_from_slice(body.as_str().as_bytes());
        }
        if self.smtputf8 {
            out.extend_from_slice(b" SMTPUTF8");
        }
        if self.requiretls {
            out.extend_from_slice(b" REQUIRETLS");
        }
        if let Some(ret) = self.ret {
            out.extend_from_slice(match ret {
                Ret::Full => b" RET=FULL",
                Ret::Headers => b" RET=HDRS",
            });
        }
        if let Some(envid) = &self.envid {
            out.extend_from_slice(b" ENVID=");
            out.extend_from_slice(xtext::encode(envid).as_bytes());
        }
        match &self.auth {
            Some(AuthParam::Unknown) => out.extend_from_slice(b" AUTH=<>"),
            // `<>` alone means unknown, so an identity spelled that way has its
            // first octet hex-encoded (xtext allows `+XX` for any octet).
            Some(AuthParam::Identity(id)) if id.as_str() == "<>" => {
                out.extend_from_slice(b" AUTH=+3C>")
            }
            Some(AuthParam::Identity(id)) => {
                out.extend_from_slice(b" AUTH=");
                out.extend_from_slice(xtext::encode(id).as_bytes());
            }
            None => {}
        }
        for p in &self.other {
            out.push(b' ');
            p.write_to(out);
        }
    }
}

/// The parameters of `RCPT TO:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RcptParams {
    /// `NOTIFY=` (RFC 3461).
    pub notify: Option<Notify>,
    /// `ORCPT=` (RFC 3461).
    pub orcpt: Option<Orcpt>,
    /// Every other parameter, as sent.
    pub other: Vec<EsmtpParam>,
}

impl RcptParams {
    /// Writes ` KEY=VALUE` for each parameter present (each preceded by a space).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(notify) = self.notify {
            out.extend_from_slice(b" NOTIFY=");
            notify.write_to(out);
        }
        if let Some(orcpt) = &self.orcpt {
            out.extend_from_slice(b" ORCPT=");
            out.extend_from_slice(orcpt.addr_type().as_bytes());
            out.push(b';');
            out.extend_from_slice(xtext::encode(orcpt.address()).as_bytes());
        }
        for p in &self.other {
            out.push(b' ');
            p.write_to(out);
        }
    }
}
