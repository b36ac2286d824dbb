//! POP3 commands: the validated [`Command`] type, its nom grammar and its
//! exact serializer.
//!
//! The grammar is RFC 1939 §3 with RFC 2449 §3's general form:
//!
//! ```text
//! command = keyword *(SP param) CRLF   ; keyword: 3 or 4 letters, any case
//! param   = 1*40VCHAR                   ; message numbers here are 1*10DIGIT
//! ```
//!
//! `USER` and `PASS` take the rest of the line (RFC 1939 allows spaces in a
//! password). Lines arrive already framed (CRLF removed); framing and its
//! length cap are the session's business.

use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::combinator::{all_consuming, opt, rest};
use nom::sequence::preceded;
use nom::Parser;
use smtp_proto::Secret;
use std::fmt;

/// Why a command line was refused. Each maps to a `-ERR` the session sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The line is empty.
    #[error("empty command line")]
    Empty,
    /// The keyword is not a POP3 command this server knows.
    #[error("unknown command")]
    UnknownCommand,
    /// A required argument is missing.
    #[error("missing argument")]
    MissingArgument,
    /// Arguments follow a command that takes none, or too many follow.
    #[error("unexpected argument")]
    UnexpectedArgument,
    /// A message number or line count is not a decimal number that fits.
    #[error("invalid number")]
    BadNumber,
    /// An argument holds a forbidden octet, is not UTF-8, or is too long.
    #[error("invalid argument")]
    BadArgument,
}

/// Longest text argument (user name, password, SASL response) in octets.
pub const MAX_ARGUMENT: usize = 8192;

/// A text argument: 1 to [`MAX_ARGUMENT`] octets of UTF-8 with no CR, LF or
/// NUL, so serializing it can never inject a second command.
///
/// ```
/// use pop3_proto::Argument;
/// assert!(Argument::new("alice").is_ok());
/// assert!(Argument::new("a\r\nDELE 1").is_err());
/// assert!(Argument::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Argument(String);

impl Argument {
    /// Validates a text argument.
    pub fn new(text: impl Into<String>) -> Result<Argument, ParseError> {
        let text = text.into();
        if text.is_empty()
            || text.len() > MAX_ARGUMENT
            || text.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
        {
            return Err(ParseError::BadArgument);
        }
        Ok(Argument(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Argument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `USER name` (RFC 1939 §7).
    User(Argument),
    /// `PASS password`; `Debug` never shows the password.
    Pass(Secret<Argument>),
    /// `APOP name digest` (RFC 1939 §7); the digest is 32 hex digits.
    Apop {
        /// The mailbox name (no spaces).
        name: Argument,
        /// MD5 of timestamp and secret, lowercase hex as sent.
        digest: Secret<Argument>,
    },
    /// `AUTH [mechanism [initial-response]]` (RFC 5034). Without a
    /// mechanism, the client asks for the list of mechanisms.
    Auth {
        /// The SASL mechanism name, upper-cased.
        mechanism: Option<Argument>,
        /// The base64 initial response (`=` for an empty one).
        initial: Option<Secret<Argument>>,
    },
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP msg n`: the headers and the first `n` body lines.
    Top {
        /// The message number.
        message: u32,
        /// Body lines to send.
        lines: u32,
    },
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
    /// `CAPA` (RFC 2449).
    Capa,
    /// `STLS` (RFC 2595).
    Stls,
}

type In<'a> = &'a [u8];
type Res<'a, O> = nom::IResult<In<'a>, O, nom::error::Error<In<'a>>>;

fn is_vchar(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// `1*10DIGIT`, fitting a `u32`.
fn number(i: In<'_>) -> Res<'_, &[u8]> {
    take_while_m_n(1, 10, |b: u8| b.is_ascii_digit()).parse(i)
}

fn to_u32(digits: &[u8]) -> Result<u32, ParseError> {
    digits.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(d - b'0')))
            .ok_or(ParseError::BadNumber)
    })
}

fn text(bytes: &[u8]) -> Result<Argument, ParseError> {
    let s = std::str::from_utf8(bytes).map_err(|_| ParseError::BadArgument)?;
    Argument::new(s)
}

/// Runs a parser for a command's arguments (after the keyword) over the
/// whole rest of the line.
fn args<'a, O, P>(parser: P, i: In<'a>) -> Result<O, ParseError>
where
    P: Parser<In<'a>, Output = O, Error = nom::error::Error<In<'a>>>,
{
    all_consuming(parser)
        .parse(i)
        .map(|(_, o)| o)
        .map_err(|_| classify(i))
}

/// Names what is wrong with arguments that did not parse.
fn classify(i: In<'_>) -> ParseError {
    if i.is_empty() {
        ParseError::MissingArgument
    } else if i.first() != Some(&b' ') {
        ParseError::UnknownCommand
    } else {
        ParseError::BadNumber
    }
}

/// `SP msg`
fn one_number(i: In<'_>) -> Result<u32, ParseError> {
    if i.is_empty() {
        return Err(ParseError::MissingArgument);
    }
    match args(preceded(tag(&b" "[..]), number), i) {
        Ok(digits) => to_u32(digits),
        Err(_) if i.iter().skip(1).any(|&b| b == b' ') => Err(ParseError::UnexpectedArgument),
        Err(e) => Err(e),
    }
}

/// `[SP msg]`
fn optional_number(i: In<'_>) -> Result<Option<u32>, ParseError> {
    if i.is_empty() {
        return Ok(None);
    }
    one_number(i).map(Some)
}

fn no_args(i: In<'_>) -> Result<(), ParseError> {
    if i.is_empty() {
        Ok(())
    } else if i.first() == Some(&b' ') {
        Err(ParseError::UnexpectedArgument)
    } else {
        Err(ParseError::UnknownCommand)
    }
}

/// `SP rest-of-line`, at least one octet.
fn rest_of_line(i: In<'_>) -> Result<Argument, ParseError> {
    if i.is_empty() || i == b" " {
        return Err(ParseError::MissingArgument);
    }
    let body = args(preceded(tag(&b" "[..]), rest), i)?;
    text(body)
}

/// `SP name SP digest` with `digest = 32HEXDIG`.
fn apop(i: In<'_>) -> Result<Command, ParseError> {
    if i.iter().filter(|&&b| b == b' ').count() < 2 {
        return Err(ParseError::MissingArgument);
    }
    let (name, digest) = args(
        (
            preceded(tag(&b" "[..]), take_while1(is_vchar)),
            preceded(
                tag(&b" "[..]),
                take_while_m_n(32, 32, |b: u8| b.is_ascii_hexdigit()),
            ),
        ),
        i,
    )
    .map_err(|e| match e {
        ParseError::BadNumber => ParseError::BadArgument,
        other => other,
    })?;
    Ok(Command::Apop {
        name: text(name)?,
        digest: Secret::new(text(digest)?),
    })
}

/// `[SP mechanism [SP initial-response]]`
fn auth(i: In<'_>) -> Result<Command, ParseError> {
    if i.is_empty() {
        return Ok(Command::Auth {
            mechanism: None,
            initial: None,
        });
    }
    let (mechanism, initial) = args(
        (
            preceded(tag(&b" "[..]), take_while_m_n(1, 20, is_vchar)),
            opt(preceded(tag(&b" "[..]), take_while1(is_vchar))),
        ),
        i,
    )
    .map_err(|e| match e {
        ParseError::BadNumber => ParseError::BadArgument,
        other => other,
    })?;
    let mechanism = text(&mechanism.to_ascii_uppercase())?;
    Ok(Command::Auth {
        mechanism: Some(mechanism),
        initial: initial.map(text).transpose()?.map(Secret::new),
    })
}

impl Command {
    /// Parses one command line, without its CRLF.
    ///
    /// ```
    /// use pop3_proto::{Command, ParseError};
    /// assert_eq!(Command::parse(b"LIST"), Ok(Command::List(None)));
    /// assert_eq!(Command::parse(b"RETR x"), Err(ParseError::BadNumber));
    /// assert_eq!(Command::parse(b"XYZZY"), Err(ParseError::UnknownCommand));
    /// ```
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        if line.is_empty() {
            return Err(ParseError::Empty);
        }
        let keyword_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let (keyword, rest) = line.split_at(keyword_len);
        if !(3..=4).contains(&keyword.len()) || !keyword.iter().all(u8::is_ascii_alphabetic) {
            return Err(ParseError::UnknownCommand);
        }
        let mut upper = [0u8; 4];
        for (slot, b) in upper.iter_mut().zip(keyword) {
            *slot = b.to_ascii_uppercase();
        }
        let keyword = upper.get(..keyword.len()).unwrap_or_default();
        match keyword {
            b"USER" => rest_of_line(rest).map(Command::User),
            b"PASS" => rest_of_line(rest).map(|p| Command::Pass(Secret::new(p))),
            b"APOP" => apop(rest),
            b"AUTH" => auth(rest),
            b"STAT" => no_args(rest).map(|()| Command::Stat),
            b"LIST" => optional_number(rest).map(Command::List),
            b"RETR" => one_number(rest).map(Command::Retr),
            b"DELE" => one_number(rest).map(Command::Dele),
            b"NOOP" => no_args(rest).map(|()| Command::Noop),
            b"RSET" => no_args(rest).map(|()| Command::Rset),
            b"QUIT" => no_args(rest).map(|()| Command::Quit),
            b"TOP" => top(rest),
            b"UIDL" => optional_number(rest).map(Command::Uidl),
            b"CAPA" => no_args(rest).map(|()| Command::Capa),
            b"STLS" => no_args(rest).map(|()| Command::Stls),
            _ => Err(ParseError::UnknownCommand),
        }
    }

    /// The command's keyword, upper-case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
        }
    }

    /// Appends the command line, CRLF included, to `out`. Cannot fail: every
    /// argument was validated when it was built.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.keyword().as_bytes());
        let mut arg = |a: &[u8]| {
            out.push(b' ');
            out.extend_from_slice(a);
        };
        match self {
            Command::User(name) => arg(name.as_str().as_bytes()),
            Command::Pass(password) => arg(password.expose().as_str().as_bytes()),
            Command::Apop { name, digest } => {
                arg(name.as_str().as_bytes());
                arg(digest.expose().as_str().as_bytes());
            }
            Command::Auth { mechanism, initial } => {
                if let Some(m) = mechanism {
                    arg(m.as_str().as_bytes());
                }
                if let Some(i) = initial {
                    arg(i.expose().as_str().as_bytes());
                }
            }
            Command::List(Some(n)) | Command::Uidl(Some(n)) => arg(n.to_string().as_bytes()),
            Command::Retr(n) | Command::Dele(n) => arg(n.to_string().as_bytes()),
            Command::Top { message, lines } => {
                arg(message.to_string().as_bytes());
                arg(lines.to_string().as_bytes());
            }
            Command::Stat
            | Command::List(None)
            | Command::Uidl(None)
            | Command::Noop
            | Command::Rset
            | Command::Quit
            | Command::Capa
            | Command::Stls => {}
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The command line, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

/// `SP msg SP n`
fn top(i: In<'_>) -> Result<Command, ParseError> {
    if i.is_empty() {
        return Err(ParseError::MissingArgument);
    }
    let parsed = args(
        (
            preceded(tag(&b" "[..]), number),
            opt(preceded(tag(&b" "[..]), number)),
        ),
        i,
    );
    match parsed {
        Ok((message, Some(lines))) => Ok(Command::Top {
            message: to_u32(message)?,
            lines: to_u32(lines)?,
        }),
        Ok((_, None)) => Err(ParseError::MissingArgument),
        Err(_) if i.iter().filter(|&&b| b == b' ').count() > 2 => {
            Err(ParseError::UnexpectedArgument)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(s: &str) -> Argument {
        Argument::new(s).unwrap()
    }

    /// Known answers: the line, what it parses to, and its canonical form.
    #[test]
    fn known_answers() {
        let cases: Vec<(&[u8], Command, &[u8])> = vec![
            (
                b"USER alice",
                Command::User(arg("alice")),
                b"USER alice\r\n",
            ),
            (b"user a b", Command::User(arg("a b")), b"USER a b\r\n"),
            (
                b"PASS se cret",
                Command::Pass(Secret::new(arg("se cret"))),
                b"PASS se cret\r\n",
            ),
            (
                b"APOP mrose c4c9334bac560ecc979e58001b3e22fb",
                Command::Apop {
                    name: arg("mrose"),
                    digest: Secret::new(arg("c4c9334bac560ecc979e58001b3e22fb")),
                },
                b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
            ),
            (
                b"AUTH",
                Command::Auth {
                    mechanism: None,
                    initial: None,
                },
                b"AUTH\r\n",
            ),
            (
                b"auth plain",
                Command::Auth {
                    mechanism: Some(arg("PLAIN")),
                    initial: None,
                },
                b"AUTH PLAIN\r\n",
            ),
            (
                b"AUTH PLAIN AGFsaWNlAHB3",
                Command::Auth {
                    mechanism: Some(arg("PLAIN")),
                    initial: Some(Secret::new(arg("AGFsaWNlAHB3"))),
                },
                b"AUTH PLAIN AGFsaWNlAHB3\r\n",
            ),
            (b"STAT", Command::Stat, b"STAT\r\n"),
            (b"stat", Command::Stat, b"STAT\r\n"),
            (b"LIST", Command::List(None), b"LIST\r\n"),
            (b"LIST 2", Command::List(Some(2)), b"LIST 2\r\n"),
            (b"RETR 1", Command::Retr(1), b"RETR 1\r\n"),
            (b"RETR 007", Command::Retr(7), b"RETR 7\r\n"),
            (
                b"DELE 4294967295",
                Command::Dele(u32::MAX),
                b"DELE 4294967295\r\n",
            ),
            (b"NOOP", Command::Noop, b"NOOP\r\n"),
            (b"RSET", Command::Rset, b"RSET\r\n"),
            (b"QuIt", Command::Quit, b"QUIT\r\n"),
            (
                b"TOP 1 0",
                Command::Top {
                    message: 1,
                    lines: 0,
                },
                b"TOP 1 0\r\n",
            ),
            (b"UIDL", Command::Uidl(None), b"UIDL\r\n"),
            (b"UIDL 3", Command::Uidl(Some(3)), b"UIDL 3\r\n"),
            (b"CAPA", Command::Capa, b"CAPA\r\n"),
            (b"STLS", Command::Stls, b"STLS\r\n"),
        ];
        for (line, want, canonical) in cases {
            let got = Command::parse(line);
            assert_eq!(got.as_ref(), Ok(&want), "{}", String::from_utf8_lossy(line));
            assert_eq!(want.to_bytes(), canonical);
        }
    }

    #[test]
    fn known_errors() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"", ParseError::Empty),
            (b"XYZZY", ParseError::UnknownCommand),
            (b"NO", ParseError::UnknownCommand),
            (b"RETR", ParseError::MissingArgument),
            (b"RETR ", ParseError::BadNumber),
            (b"RETR x", ParseError::BadNumber),
            (b"RETR -1", ParseError::BadNumber),
            (b"RETR 4294967296", ParseError::BadNumber),
            (b"RETR 12345678901", ParseError::BadNumber),
            (b"RETR 1 2", ParseError::UnexpectedArgument),
            (b"DELE", ParseError::MissingArgument),
            (b"STAT 1", ParseError::UnexpectedArgument),
            (b"STATS", ParseError::UnknownCommand),
            (b"NOOPX", ParseError::UnknownCommand),
            (b"QUIT now", ParseError::UnexpectedArgument),
            (b"TOP 1", ParseError::MissingArgument),
            (b"TOP", ParseError::MissingArgument),
            (b"TOP 1 x", ParseError::BadNumber),
            (b"TOP 1 2 3", ParseError::UnexpectedArgument),
            (b"USER", ParseError::MissingArgument),
            (b"USER ", ParseError::MissingArgument),
            (b"USER a\0b", ParseError::BadArgument),
            (b"USER \xff", ParseError::BadArgument),
            (b"PASS", ParseError::MissingArgument),
            (b"APOP mrose", ParseError::MissingArgument),
            (b"APOP mrose xyz", ParseError::BadArgument),
            (b"LIST 1 2", ParseError::UnexpectedArgument),
            (b"RE\xc3\xa9T 1", ParseError::UnknownCommand),
        ];
        for (line, want) in cases {
            assert_eq!(
                Command::parse(line),
                Err(*want),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn password_never_in_debug() {
        let cmd = Command::parse(b"PASS hunter2").unwrap();
        assert!(!format!("{cmd:?}").contains("hunter2"));
        let cmd = Command::parse(b"AUTH PLAIN AGFsaWNlAGh1bnRlcjI=").unwrap();
        assert!(!format!("{cmd:?}").contains("AGFsaWNlAGh1bnRlcjI="));
    }
}
