//! Replies (RFC 5321 §4.2) with RFC 3463 enhanced status codes.

use crate::parse;
use crate::ParseError;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU8;
use std::sync::OnceLock;

/// A reply code: `%x32-35 %x30-35 %x30-39` (RFC 5321 §4.2).
///
/// ```
/// use smtp_proto::{ReplyCode, Category};
/// let code = ReplyCode::new(451).unwrap();
/// assert_eq!(code.category(), Category::TransientNegative);
/// assert!(ReplyCode::new(199).is_none() && ReplyCode::new(260).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

/// What the first digit of a reply code says (RFC 5321 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// 2yz: the action completed.
    PositiveCompletion,
    /// 3yz: send more (354 after DATA, 334 during AUTH).
    PositiveIntermediate,
    /// 4yz: failed for now; retrying later may work.
    TransientNegative,
    /// 5yz: failed; do not retry unchanged.
    PermanentNegative,
}

impl ReplyCode {
    /// 220 Service ready.
    pub const SERVICE_READY: ReplyCode = ReplyCode(220);
    /// 221 Closing the transmission channel.
    pub const CLOSING: ReplyCode = ReplyCode(221);
    /// 235 Authentication succeeded.
    pub const AUTH_SUCCEEDED: ReplyCode = ReplyCode(235);
    /// 250 Requested action completed.
    pub const OK: ReplyCode = ReplyCode(250);
    /// 251 User not local; will forward.
    pub const USER_NOT_LOCAL: ReplyCode = ReplyCode(251);
    /// 252 Cannot verify the user, but will accept the message.
    pub const CANNOT_VERIFY: ReplyCode = ReplyCode(252);
    /// 334 Server challenge (AUTH).
    pub const AUTH_CHALLENGE: ReplyCode = ReplyCode(334);
    /// 354 Start mail input.
    pub const START_MAIL_INPUT: ReplyCode = ReplyCode(354);
    /// 421 Service not available, closing the channel.
    pub const SERVICE_NOT_AVAILABLE: ReplyCode = ReplyCode(421);
    /// 450 Mailbox unavailable (busy).
    pub const MAILBOX_BUSY: ReplyCode = ReplyCode(450);
    /// 451 Local error in processing.
    pub const LOCAL_ERROR: ReplyCode = ReplyCode(451);
    /// 452 Insufficient storage, or too many recipients.
    pub const INSUFFICIENT_STORAGE: ReplyCode = ReplyCode(452);
    /// 454 TLS or temporary authentication failure.
    pub const TEMPORARY_AUTH_FAILURE: ReplyCode = ReplyCode(454);
    /// 500 Syntax error, command unrecognized or line too long.
    pub const SYNTAX_ERROR: ReplyCode = ReplyCode(500);
    /// 501 Syntax error in parameters or arguments.
    pub const SYNTAX_ERROR_PARAMETERS: ReplyCode = ReplyCode(501);
    /// 502 Command not implemented.
    pub const NOT_IMPLEMENTED: ReplyCode = ReplyCode(502);
    /// 503 Bad sequence of commands.
    pub const BAD_SEQUENCE: ReplyCode = ReplyCode(503);
    /// 504 Command parameter not implemented.
    pub const PARAMETER_NOT_IMPLEMENTED: ReplyCode = ReplyCode(504);
    /// 530 Authentication or STARTTLS required.
    pub const AUTH_REQUIRED: ReplyCode = ReplyCode(530);
    /// 534 Authentication mechanism is too weak.
    pub const AUTH_TOO_WEAK: ReplyCode = ReplyCode(534);
    /// 535 Authentication credentials invalid.
    pub const AUTH_INVALID: ReplyCode = ReplyCode(535);
    /// 538 Encryption required for the requested authentication mechanism.
    pub const ENCRYPTION_REQUIRED: ReplyCode = ReplyCode(538);
    /// 550 Mailbox unavailable (not found, no access, policy).
    pub const MAILBOX_UNAVAILABLE: ReplyCode = ReplyCode(550);
    /// 552 Exceeded storage allocation (message too big).
    pub const EXCEEDED_STORAGE: ReplyCode = ReplyCode(552);
    /// 553 Mailbox name not allowed.
    pub const MAILBOX_NAME_NOT_ALLOWED: ReplyCode = ReplyCode(553);
    /// 554 Transaction failed (or, in the greeting, no SMTP service here).
    pub const TRANSACTION_FAILED: ReplyCode = ReplyCode(554);
    /// 555 MAIL FROM/RCPT TO parameters not recognized or not implemented.
    pub const PARAMETERS_NOT_RECOGNIZED: ReplyCode = ReplyCode(555);

    /// A code in `200..=559` whose second digit is 0 to 5.
    pub const fn new(code: u16) -> Option<ReplyCode> {
        let (a, b) = (code / 100, code / 10 % 10);
        if a >= 2 && a <= 5 && b <= 5 {
            Some(ReplyCode(code))
        } else {
            None
        }
    }

    pub(crate) const fn new_unchecked(code: u16) -> ReplyCode {
        ReplyCode(code)
    }

    /// The numeric value.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The first digit's meaning.
    pub fn category(self) -> Category {
        match self.0 / 100 {
            2 => Category::PositiveCompletion,
            3 => Category::PositiveIntermediate,
            4 => Category::TransientNegative,
            _ => Category::PermanentNegative,
        }
    }

    /// 2yz or 3yz.
    pub fn is_positive(self) -> bool {
        self.0 < 400
    }

    /// 4yz: worth retrying later.
    pub fn is_transient(self) -> bool {
        self.0 / 100 == 4
    }

    /// 5yz: do not retry unchanged.
    pub fn is_permanent(self) -> bool {
        self.0 / 100 == 5
    }

    pub(crate) fn write_to(self, out: &mut Vec<u8>) {
        let digits = [
            b'0' + (self.0 / 100 % 10) as u8,
            b'0' + (self.0 / 10 % 10) as u8,
            b'0' + (self.0 % 10) as u8,
        ];
        out.extend_from_slice(&digits);
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What an enhanced status code is about: its middle number (RFC 3463 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusSubject {
    /// X.0.X Other or undefined.
    Other,
    /// X.1.X Addressing (the address is wrong or unknown).
    Addressing,
    /// X.2.X Mailbox (full, disabled, not accepting).
    Mailbox,
    /// X.3.X Mail system (the destination system).
    MailSystem,
    /// X.4.X Network and routing.
    Network,
    /// X.5.X Mail delivery protocol.
    Protocol,
    /// X.6.X Message content or media.
    Content,
    /// X.7.X Security or policy.
    Security,
    /// A subject RFC 3463 does not define.
    Unknown(u16),
}

/// An RFC 3463 enhanced status code `class.subject.detail`, such as `5.1.1`.
///
/// ```
/// use smtp_proto::{EnhancedStatus, StatusSubject};
/// let s = EnhancedStatus::new(5, 7, 8).unwrap();
/// assert_eq!(s.to_string(), "5.7.8");
/// assert_eq!(s.subject_kind(), StatusSubject::Security);
/// assert!(EnhancedStatus::new(3, 0, 0).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    class: StatusClass,
    subject: u16,
    detail: u16,
}

/// The class digit, as a type with three values so that
/// `Option<EnhancedStatus>` needs no room of its own for `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
enum StatusClass {
    Success = 2,
    Transient = 4,
    Permanent = 5,
}

impl StatusClass {
    const fn new(class: u8) -> Option<StatusClass> {
        match class {
            2 => Some(StatusClass::Success),
            4 => Some(StatusClass::Transient),
            5 => Some(StatusClass::Permanent),
            _ => None,
        }
    }
}

impl EnhancedStatus {
    /// `class = "2" / "4" / "5"`, `subject = 1*3digit`, `detail = 1*3digit`.
    pub fn new(class: u8, subject: u16, detail: u16) -> Option<EnhancedStatus> {
        let class = StatusClass::new(class)?;
        (subject <= 999 && detail <= 999).then_some(EnhancedStatus {
            class,
            subject,
            detail,
        })
    }

    pub(crate) const fn new_unchecked(class: u8, subject: u16, detail: u16) -> EnhancedStatus {
        let class = match StatusClass::new(class) {
            Some(class) => class,
            None => StatusClass::Permanent,
        };
        EnhancedStatus {
            class,
            subject,
            detail,
        }
    }

    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub fn class(self) -> u8 {
        self.class as u8
    }
    /// The subject number.
    pub fn subject(self) -> u16 {
        self.subject
    }
    /// The detail number.
    pub fn detail(self) -> u16 {
        self.detail
    }

    /// The subject's meaning.
    pub fn subject_kind(self) -> StatusSubject {
        match self.subject {
            0 => StatusSubject::Other,
            1 => StatusSubject::Addressing,
            2 => StatusSubject::Mailbox,
            3 => StatusSubject::MailSystem,
            4 => StatusSubject::Network,
            5 => StatusSubject::Protocol,
            6 => StatusSubject::Content,
            7 => StatusSubject::Security,
            n => StatusSubject::Unknown(n),
        }
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class(), self.subject, self.detail)
    }
}

/// A complete reply: a code, an optional enhanced status, and one or more text
/// lines (without the code or status prefix) that cannot hold CR, LF or other
/// control characters but HT.
///
/// The text is kept once, its lines joined by LF (which no line can hold), so
/// a parsed reply costs one allocation however many lines it has.
/// [`Reply::text_lines`] walks the lines without allocating; [`Reply::lines`]
/// gives them as a slice, built on first use.
///
/// ```
/// use smtp_proto::{Reply, ReplyCode, EnhancedStatus};
/// let r = Reply::parse(b"250-mx.example.com\r\n250 2.0.0 OK\r\n").unwrap();
/// assert_eq!(r.code(), ReplyCode::OK);
/// assert_eq!(r.lines(), ["mx.example.com", "2.0.0 OK"]);
/// assert!(r.text_lines().eq(["mx.example.com", "2.0.0 OK"]));
///
/// let r = Reply::new(ReplyCode::new(550).unwrap(), EnhancedStatus::new(5, 1, 1), ["No such user"]).unwrap();
/// assert_eq!(r.to_string(), "550 5.1.1 No such user\r\n");
/// ```
#[derive(Clone)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedStatus>,
    /// Every text line, joined by LF.
    text: Text,
    /// [`Reply::lines`], built on first use. Boxed so that it takes one
    /// pointer, not three, while unused (which keeps `Reply` at 56 octets).
    #[allow(clippy::box_collection)]
    lines: OnceLock<Box<Vec<String>>>,
}

/// Reply text up to this many octets is kept inline, without an allocation:
/// most replies (`250 2.1.0 Ok`, `354 End data with <CR><LF>.<CR><LF>`,
/// `221 Bye`) are short. The number keeps a [`Reply`] at 56 octets (40 when
/// it held a `Vec` of lines), so that an error carrying two replies stays
/// under clippy's large-error limit of 128.
const INLINE: usize = 31;

/// A reply's text: inline when short, else on the heap. Always UTF-8: the
/// inline form is only ever filled from a `&str` or from ASCII.
#[derive(Clone)]
enum Text {
    /// `len_plus_one` is never zero, which leaves room for the tag.
    Inline {
        len_plus_one: NonZeroU8,
        buf: [u8; INLINE],
    },
    Heap(String),
}

impl Text {
    /// The first `len` octets of `window` inline (`len <= INLINE`): one
    /// fixed-size copy when `window` is long enough, the octets after `len`
    /// then zeroed.
    #[inline(always)]
    fn inline(window: &[u8], len: usize) -> Text {
        let mut buf = [0; INLINE];
        match window.get(..INLINE) {
            Some(whole) => {
                buf.copy_from_slice(whole);
                for (n, b) in buf.iter_mut().enumerate() {
                    *b = if n < len { *b } else { 0 };
                }
            }
            None => buf[..len].copy_from_slice(&window[..len]),
        }
        let len_plus_one = u8::try_from(len + 1)
            .ok()
            .and_then(NonZeroU8::new)
            .unwrap_or(NonZeroU8::MIN);
        Text::Inline { len_plus_one, buf }
    }

    fn from_str(s: &str) -> Text {
        if s.len() <= INLINE {
            Text::inline(s.as_bytes(), s.len())
        } else {
            Text::Heap(s.to_owned())
        }
    }

    fn from_string(s: String) -> Text {
        if s.len() <= INLINE {
            Text::inline(s.as_bytes(), s.len())
        } else {
            Text::Heap(s)
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Inline { len_plus_one, buf } => &buf[..usize::from(len_plus_one.get() - 1)],
            Text::Heap(s) => s.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Filled from UTF-8, so this never fails (and is quick: ASCII is
            // checked a word at a time).
            Text::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or(""),
            Text::Heap(s) => s,
        }
    }
}

impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        self.code == other.code
            && self.enhanced == other.enhanced
            && self.text.as_bytes() == other.text.as_bytes()
    }
}

impl Eq for Reply {}

impl Hash for Reply {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code.hash(state);
        self.enhanced.hash(state);
        self.text.as_bytes().hash(state);
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Lines<'a>(&'a str);
        impl fmt::Debug for Lines<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.split('\n')).finish()
            }
        }
        f.debug_struct("Reply")
            .field("code", &self.code)
            .field("enhanced", &self.enhanced)
            .field("lines", &Lines(self.text.as_str()))
            .finish()
    }
}

impl Reply {
    /// Builds a reply, checking the text lines. With no lines, the reply has one
    /// empty line. An enhanced status must agree with the code's class, and
    /// without one the first line must not start with what reads as one.
    pub fn new<I, S>(
        code: ReplyCode,
        enhanced: Option<EnhancedStatus>,
        lines: I,
    ) -> Result<Reply, ParseError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut text = String::new();
        for (n, line) in lines.into_iter().enumerate() {
            let line: String = line.into();
            if !parse::reply::is_text(line.as_bytes()) {
                return Err(ParseError::BadReplyText);
            }
            if n > 0 {
                text.push('\n');
            }
            text.push_str(&line);
        }
        let first = text.split('\n').next().unwrap_or("");
        match enhanced {
            Some(e) if u16::from(e.class()) != code.0 / 100 => {
                return Err(ParseError::BadReplyText)
            }
            None if parse::reply::enhanced_prefix(first.as_bytes())
                .is_some_and(|(e, _)| u16::from(e.class()) == code.0 / 100) =>
            {
                return Err(ParseError::BadReplyText)
            }
            _ => {}
        }
        Ok(Reply::from_text(code, enhanced, text))
    }

    /// A reply with only its code and one empty text line: always valid,
    /// for a fallback where building the full reply failed.
    ///
    /// ```
    /// use smtp_proto::{Reply, ReplyCode};
    /// assert_eq!(Reply::bare(ReplyCode::OK).to_bytes(), b"250\r\n");
    /// ```
    pub fn bare(code: ReplyCode) -> Reply {
        Reply::from_text(code, None, String::new())
    }

    /// A reply from lines already known to be valid.
    pub(crate) fn new_unchecked(
        code: ReplyCode,
        enhanced: Option<EnhancedStatus>,
        lines: Vec<String>,
    ) -> Reply {
        Reply::from_text(code, enhanced, lines.join("\n"))
    }

    /// A reply from its lines joined by LF, already known to be valid.
    pub(crate) fn from_text(
        code: ReplyCode,
        enhanced: Option<EnhancedStatus>,
        text: String,
    ) -> Reply {
        Reply {
            code,
            enhanced,
            text: Text::from_string(text),
            lines: OnceLock::new(),
        }
    }

    /// A reply from ASCII text (the first `len` octets of `window`) short
    /// enough to be kept inline; `None` when it is longer.
    #[inline(always)]
    pub(crate) fn from_ascii_text(
        code: ReplyCode,
        enhanced: Option<EnhancedStatus>,
        window: &[u8],
        len: usize,
    ) -> Option<Reply> {
        if len > INLINE {
            return None;
        }
        Some(Reply {
            code,
            enhanced,
            text: Text::inline(window, len),
            lines: OnceLock::new(),
        })
    }

    /// [`Reply::from_text`] from a borrowed text, copied inline when short.
    pub(crate) fn from_text_str(
        code: ReplyCode,
        enhanced: Option<EnhancedStatus>,
        text: &str,
    ) -> Reply {
        Reply {
            code,
            enhanced,
            text: Text::from_str(text),
            lines: OnceLock::new(),
        }
    }

    /// Parses one complete reply, every line ending in CRLF.
    pub fn parse(bytes: &[u8]) -> Result<Reply, ParseError> {
        parse::reply::reply_exact(bytes, ReplyParser::DEFAULT_MAX_LINES)
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }
    /// The enhanced status code, when the server sent one.
    pub fn enhanced(&self) -> Option<EnhancedStatus> {
        self.enhanced
    }
    /// The text lines, without code or enhanced status. The slice is built
    /// on the first call; [`Reply::text_lines`] does not allocate.
    pub fn lines(&self) -> &[String] {
        self.lines
            .get_or_init(|| Box::new(self.text.as_str().split('\n').map(str::to_owned).collect()))
    }
    /// The text lines, without code or enhanced status, in order.
    pub fn text_lines(&self) -> impl DoubleEndedIterator<Item = &str> + Clone + '_ {
        super::split_byte(self.text.as_str(), b'\n')
    }
    /// How many lines the reply has (at least one).
    pub fn line_count(&self) -> usize {
        1 + self.text.as_bytes().iter().filter(|&&b| b == b'\n').count()
    }
    /// The text lines joined with a space, for messages to people.
    pub fn text(&self) -> String {
        self.text.as_str().replace('\n', " ")
    }
    /// The code's category.
    pub fn category(&self) -> Category {
        self.code.category()
    }
    /// 2yz or 3yz.
    pub fn is_positive(&self) -> bool {
        self.code.is_positive()
    }
    /// 4yz.
    pub fn is_transient(&self) -> bool {
        self.code.is_transient()
    }
    /// 5yz.
    pub fn is_permanent(&self) -> bool {
        self.code.is_permanent()
    }
    /// What the enhanced status is about, when there is one.
    pub fn subject(&self) -> Option<StatusSubject> {
        self.enhanced.map(EnhancedStatus::subject_kind)
    }

    /// Appends the wire form: every line with the code, `-` on all but the
    /// last, the enhanced status repeated on each, CRLF after each.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let text = self.text.as_str();
        out.reserve(text.len() + 16);
        let mut lines = text.split('\n').peekable();
        while let Some(line) = lines.next() {
            self.code.write_to(out);
            let sep = if lines.peek().is_none() { b' ' } else { b'-' };
            match self.enhanced {
                Some(e) => {
                    out.push(sep);
                    super::write_decimal(u64::from(e.class()), out);
                    out.push(b'.');
                    super::write_decimal(u64::from(e.subject), out);
                    out.push(b'.');
                    super::write_decimal(u64::from(e.detail), out);
                    if !line.is_empty() {
                        out.push(b' ');
                    }
                }
                None if !line.is_empty() || sep == b'-' => out.push(sep),
                None => {}
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The wire form as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.text.as_bytes().len());
        self.write_to(&mut out);
        out
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

#[cfg(test)]
mod size_tests {
    /// A `Reply` stays at 56 octets at most, so that errors carrying two
    /// replies stay under clippy's large-error limit.
    #[test]
    fn reply_stays_small() {
        assert!(std::mem::size_of::<super::Reply>() <= 56);
    }
}

/// Assembles multi-line replies line by line (lines without their CRLF, as
/// [`crate::framing::LineBuffer`] yields them). Bounded in lines.
///
/// ```
/// use smtp_proto::ReplyParser;
/// let mut p = ReplyParser::new();
/// assert!(p.push_line(b"250-first").unwrap().is_none());
/// let reply = p.push_line(b"250 last").unwrap().unwrap();
/// assert_eq!(reply.lines(), ["first", "last"]);
/// ```
#[derive(Debug, Clone)]
pub struct ReplyParser {
    pending: Option<parse::reply::Partial>,
    max_lines: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        ReplyParser::new()
    }
}

impl ReplyParser {
    /// Default limit on lines in one reply.
    pub const DEFAULT_MAX_LINES: usize = 256;

    /// A parser with the default line limit.
    pub fn new() -> ReplyParser {
        ReplyParser::with_max_lines(Self::DEFAULT_MAX_LINES)
    }

    /// A parser that refuses replies longer than `max_lines`.
    pub fn with_max_lines(max_lines: usize) -> ReplyParser {
        ReplyParser {
            pending: None,
            max_lines: max_lines.max(1),
        }
    }

    /// True between replies.
    pub fn is_idle(&self) -> bool {
        self.pending.is_none()
    }

    /// Takes one line; returns the reply once its last line arrived. After an
    /// error the partial reply is dropped and the parser is idle again.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, ParseError> {
        let more = match &mut self.pending {
            None => match parse::reply::first_line(line) {
                Ok((code, enhanced, text, ascii, false)) => {
                    return Ok(Some(parse::reply::single(
                        code,
                        enhanced,
                        text,
                        text.len(),
                        ascii,
                    )))
                }
                Ok((code, enhanced, text, _, true)) => {
                    let partial = parse::reply::Partial::start(code, enhanced, text, 256);
                    self.pending = Some(partial);
                    Ok(true)
                }
                Err(e) => Err(e),
            },
            Some(partial) => partial.next_line(line, self.max_lines),
        };
        match more {
            Ok(true) => Ok(None),
            Ok(false) => Ok(self.pending.take().map(parse::reply::Partial::finish)),
            Err(e) => {
                self.pending = None;
                Err(e)
            }
        }
    }
}
