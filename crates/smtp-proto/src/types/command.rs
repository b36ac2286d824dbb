//! SMTP commands (RFC 5321 §4.1.1, RFC 3030 BDAT, RFC 3207 STARTTLS, RFC 4954 AUTH).

use super::capabilities::Mechanism;
use super::host::Host;
use super::params::{MailParams, RcptParams};
use super::path::{ForwardPath, ReversePath};
use super::SmallStr;
use crate::parse;
use crate::{ParseError, Secret};
use std::fmt;

/// The verb of a command, for errors and sequencing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verb {
    /// EHLO
    Ehlo,
    /// HELO
    Helo,
    /// MAIL
    Mail,
    /// RCPT
    Rcpt,
    /// DATA
    Data,
    /// BDAT
    Bdat,
    /// RSET
    Rset,
    /// VRFY
    Vrfy,
    /// EXPN
    Expn,
    /// HELP
    Help,
    /// NOOP
    Noop,
    /// QUIT
    Quit,
    /// STARTTLS
    StartTls,
    /// AUTH
    Auth,
}

impl Verb {
    /// The verb as sent, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Ehlo => "EHLO",
            Verb::Helo => "HELO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH",
        }
    }

    /// All verbs, in RFC order.
    pub const ALL: [Verb; 14] = [
        Verb::Ehlo,
        Verb::Helo,
        Verb::Mail,
        Verb::Rcpt,
        Verb::Data,
        Verb::Bdat,
        Verb::Rset,
        Verb::Vrfy,
        Verb::Expn,
        Verb::Help,
        Verb::Noop,
        Verb::Quit,
        Verb::StartTls,
        Verb::Auth,
    ];
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The argument of VRFY, EXPN, HELP or NOOP: printable text (UTF-8 allowed)
/// without CR, LF or other control characters, not empty, and not starting or
/// ending with a space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextArg(String);

impl TextArg {
    /// Checks and wraps the argument.
    pub fn new(text: &str) -> Result<TextArg, ParseError> {
        let ok = !text.is_empty()
            && !text.starts_with(' ')
            && !text.ends_with(' ')
            && text.bytes().all(|b| (32..=126).contains(&b) || b >= 0x80);
        if ok {
            Ok(TextArg(text.to_owned()))
        } else {
            Err(ParseError::BadParameter("argument"))
        }
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An AUTH initial response or SASL response: base64 text, or `=` for an
/// empty response (RFC 4954 §4). Redacted in `Debug`: it often holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslResponse(Secret<SmallStr<SASL_INLINE>>);

/// SASL responses up to this many octets are kept inline, without an
/// allocation (a PLAIN initial response with a short name and password).
const SASL_INLINE: usize = 63;

impl SaslResponse {
    /// Wraps base64 text (`A-Z a-z 0-9 + / =`), or `=` alone for empty.
    pub fn new(base64: &str) -> Result<SaslResponse, ParseError> {
        let ok = !base64.is_empty()
            && base64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if ok {
            Ok(SaslResponse(Secret::new(SmallStr::new(base64))))
        } else {
            Err(ParseError::BadParameter("SASL response"))
        }
    }
    /// Base64 text the parser already checked.
    #[inline]
    pub(crate) fn from_validated(base64: &str) -> SaslResponse {
        SaslResponse(Secret::new(SmallStr::new(base64)))
    }
    /// The empty response, `=`.
    pub fn empty() -> SaslResponse {
        SaslResponse(Secret::new(SmallStr::new("=")))
    }
    /// True for `=`.
    pub fn is_empty(&self) -> bool {
        self.0.expose().as_str() == "="
    }
    /// The base64 text as sent (`=` for empty). Reveals the secret.
    pub fn expose_base64(&self) -> &str {
        self.0.expose().as_str()
    }
}

/// An SMTP command.
///
/// ```
/// use smtp_proto::{Command, ReversePath};
/// let cmd = Command::parse(b"MAIL FROM:<alice@example.com> SIZE=1024 BODY=8BITMIME").unwrap();
/// let Command::Mail { from, params } = &cmd else { panic!() };
/// assert_eq!(from.to_string(), "<alice@example.com>");
/// assert_eq!(params.size, Some(1024));
/// assert_eq!(cmd.to_bytes(), b"MAIL FROM:<alice@example.com> SIZE=1024 BODY=8BITMIME\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `EHLO domain-or-literal`
    Ehlo(Host),
    /// `HELO domain` (an address literal is accepted too, as clients send one)
    Helo(Host),
    /// `MAIL FROM:<reverse-path> [params]`
    Mail {
        /// The reverse path.
        from: ReversePath,
        /// The parameters.
        params: MailParams,
    },
    /// `RCPT TO:<forward-path> [params]`
    Rcpt {
        /// The forward path.
        to: ForwardPath,
        /// The parameters.
        params: RcptParams,
    },
    /// `DATA`
    Data,
    /// `BDAT size [LAST]` (RFC 3030)
    Bdat {
        /// Octets in the chunk that follows.
        size: u64,
        /// This is the last chunk.
        last: bool,
    },
    /// `RSET`
    Rset,
    /// `VRFY string`
    Vrfy(TextArg),
    /// `EXPN string`
    Expn(TextArg),
    /// `HELP [string]`
    Help(Option<TextArg>),
    /// `NOOP [string]`
    Noop(Option<TextArg>),
    /// `QUIT`
    Quit,
    /// `STARTTLS` (RFC 3207)
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954)
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The initial response, if sent with the command.
        initial_response: Option<SaslResponse>,
    },
}

/// Switches for the command parser. The default is strict RFC 5321; each
/// leniency is one documented switch, for clients seen in the wild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Accept UTF-8 in addresses and parameter values (RFC 6531). A server
    /// sets this when it advertises SMTPUTF8; a MAIL command with a non-ASCII
    /// reverse path must then also carry the SMTPUTF8 parameter.
    pub smtputf8: bool,
    /// Accept spaces between `FROM:`/`TO:` and the path (`MAIL FROM: <a@b>`),
    /// which many clients send.
    pub allow_space_after_colon: bool,
    /// Accept a path without angle brackets (`MAIL FROM:a@b`).
    pub allow_unbracketed_path: bool,
    /// Ignore spaces and tabs at the end of a command line.
    pub allow_trailing_whitespace: bool,
}

impl ParseOptions {
    /// Strict RFC 5321 grammar (the default).
    pub fn strict() -> ParseOptions {
        ParseOptions::default()
    }

    /// Every leniency on; SMTPUTF8 unchanged (off).
    pub fn lenient() -> ParseOptions {
        ParseOptions {
            smtputf8: false,
            allow_space_after_colon: true,
            allow_unbracketed_path: true,
            allow_trailing_whitespace: true,
        }
    }

    /// The same options with SMTPUTF8 set as given.
    pub fn with_smtputf8(mut self, on: bool) -> ParseOptions {
        self.smtputf8 = on;
        self
    }
}

impl Command {
    /// Parses one command line (without its CRLF) with strict options.
    #[inline]
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        parse::command::command(line, &ParseOptions::strict())
    }

    /// Parses one command line (without its CRLF) with the given options.
    #[inline]
    pub fn parse_with(line: &[u8], options: &ParseOptions) -> Result<Command, ParseError> {
        parse::command::command(line, options)
    }

    /// The command's verb.
    pub fn verb(&self) -> Verb {
        match self {
            Command::Ehlo(_) => Verb::Ehlo,
            Command::Helo(_) => Verb::Helo,
            Command::Mail { .. } => Verb::Mail,
            Command::Rcpt { .. } => Verb::Rcpt,
            Command::Data => Verb::Data,
            Command::Bdat { .. } => Verb::Bdat,
            Command::Rset => Verb::Rset,
            Command::Vrfy(_) => Verb::Vrfy,
            Command::Expn(_) => Verb::Expn,
            Command::Help(_) => Verb::Help,
            Command::Noop(_) => Verb::Noop,
            Command::Quit => Verb::Quit,
            Command::StartTls => Verb::StartTls,
            Command::Auth { .. } => Verb::Auth,
        }
    }

    /// Appends the command line, CRLF included.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let host = |out: &mut Vec<u8>, h: &Host| match h {
            Host::Domain(d) => out.extend_from_slice(d.as_str().as_bytes()),
            Host::Literal(l) => out.extend_from_slice(l.to_string().as_bytes()),
        };
        let arg = |out: &mut Vec<u8>, a: &Option<TextArg>| {
            if let Some(a) = a {
                out.push(b' ');
                out.extend_from_slice(a.0.as_bytes());
            }
        };
        match self {
            Command::Ehlo(h) => {
                out.extend_from_slice(b"EHLO ");
                host(out, h);
            }
            Command::Helo(h) => {
                out.extend_from_slice(b"HELO ");
                host(out, h);
            }
            Command::Mail { from, params } => {
                out.extend_from_slice(b"MAIL FROM:");
                from.write_to(out);
                params.write_to(out);
            }
            Command::Rcpt { to, params } => {
                out.extend_from_slice(b"RCPT TO:");
                to.write_to(out);
                params.write_to(out);
            }
            Command::Data => out.extend_from_slice(b"DATA"),
            Command::Bdat { size, last } => {
                out.extend_from_slice(b"BDAT ");
                super::write_decimal(*size, out);
                if *last {
                    out.extend_from_slice(b" LAST");
                }
            }
            Command::Rset => out.extend_from_slice(b"RSET"),
            Command::Vrfy(a) => {
                out.extend_from_slice(b"VRFY ");
                out.extend_from_slice(a.0.as_bytes());
            }
            Command::Expn(a) => {
                out.extend_from_slice(b"EXPN ");
                out.extend_from_slice(a.0.as_bytes());
            }
            Command::Help(a) => {
                out.extend_from_slice(b"HELP");
                arg(out, a);
            }
            Command::Noop(a) => {
                out.extend_from_slice(b"NOOP");
                arg(out, a);
            }
            Command::Quit => out.extend_from_slice(b"QUIT"),
            Command::StartTls => out.extend_from_slice(b"STARTTLS"),
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                out.extend_from_slice(b"AUTH ");
                out.extend_from_slice(mechanism.as_str().as_bytes());
                if let Some(r) = initial_response {
                    out.push(b' ');
                    out.extend_from_slice(r.expose_base64().as_bytes());
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The command line as bytes, CRLF included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_to(&mut out);
        out
    }

    pub(crate) fn text_arg(bytes: &[u8]) -> Option<TextArg> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| TextArg::new(s).ok())
    }
}
