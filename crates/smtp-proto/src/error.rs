//! The one error type of the wire grammar, and the reply a server sends for each error.

use crate::types::{EnhancedStatus, Reply, ReplyCode};
use crate::{DataViolation, Verb};

/// Why a command, reply, path or parameter could not be parsed or built.
///
/// Every variant maps to the reply an SMTP server should send for it
/// ([`ParseError::reply`]), so a server never has to invent one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A command or reply line exceeded the configured limit.
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The limit in octets, CRLF included.
        limit: usize,
    },
    /// The verb is not an SMTP command this crate knows.
    #[error("unrecognized command")]
    UnknownCommand,
    /// The arguments of a known command do not follow its grammar.
    #[error("syntax error in the arguments of {0}")]
    Syntax(Verb),
    /// A path, mailbox or domain is malformed.
    #[error("bad address syntax")]
    BadAddress,
    /// A local part exceeds 64 octets (RFC 5321 §4.5.3.1.1).
    #[error("local part longer than 64 octets")]
    LocalPartTooLong,
    /// A domain exceeds 255 octets or a label 63 (RFC 5321 §4.5.3.1.2).
    #[error("domain longer than 255 octets or label longer than 63")]
    DomainTooLong,
    /// A path exceeds 256 octets (RFC 5321 §4.5.3.1.3).
    #[error("path longer than 256 octets")]
    PathTooLong,
    /// A non-ASCII address where SMTPUTF8 is not in force (RFC 6531).
    #[error("non-ASCII address without SMTPUTF8")]
    Utf8NotAllowed,
    /// A known ESMTP parameter has a malformed value.
    #[error("bad value for the {0} parameter")]
    BadParameter(&'static str),
    /// A known ESMTP parameter appears twice.
    #[error("the {0} parameter is given twice")]
    DuplicateParameter(&'static str),
    /// A reply line is not `code[-| ]text` with a valid code.
    #[error("malformed reply line")]
    BadReply,
    /// The lines of a multi-line reply carry different codes.
    #[error("multi-line reply with differing codes")]
    ReplyCodeMismatch,
    /// A multi-line reply has more lines than the configured limit.
    #[error("reply longer than {limit} lines")]
    TooManyReplyLines {
        /// The limit in lines.
        limit: usize,
    },
    /// Reply text holds a character that cannot be sent (CR, LF or a control).
    #[error("reply text holds a forbidden character")]
    BadReplyText,
    /// An EHLO reply does not describe capabilities.
    #[error("malformed EHLO reply")]
    BadEhloReply,
}

impl ParseError {
    /// The reply a server should send when a client's command fails this way.
    ///
    /// ```
    /// use smtp_proto::ParseError;
    /// let reply = ParseError::BadAddress.reply();
    /// assert_eq!(reply.to_string(), "501 5.1.3 Bad address syntax\r\n");
    /// ```
    pub fn reply(&self) -> Reply {
        let (code, status, text): (u16, (u8, u16, u16), &str) = match self {
            ParseError::LineTooLong { .. } => (500, (5, 5, 2), "Line too long"),
            ParseError::UnknownCommand => (500, (5, 5, 1), "Command unrecognized"),
            ParseError::Syntax(verb) => {
                return Reply::new_unchecked(
                    ReplyCode::SYNTAX_ERROR_PARAMETERS,
                    Some(EnhancedStatus::new_unchecked(5, 5, 4)),
                    vec![format!("Syntax error in {} arguments", verb.as_str())],
                )
            }
            ParseError::BadAddress => (501, (5, 1, 3), "Bad address syntax"),
            ParseError::LocalPartTooLong => (501, (5, 1, 3), "Local part too long"),
            ParseError::DomainTooLong => (501, (5, 1, 3), "Domain too long"),
            ParseError::PathTooLong => (501, (5, 1, 3), "Path too long"),
            ParseError::Utf8NotAllowed => (553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8"),
            ParseError::BadParameter(_) | ParseError::DuplicateParameter(_) => {
                (501, (5, 5, 4), "Invalid command parameter")
            }
            ParseError::BadReply
            | ParseError::ReplyCodeMismatch
            | ParseError::TooManyReplyLines { .. }
            | ParseError::BadReplyText
            | ParseError::BadEhloReply => (500, (5, 5, 2), "Syntax error"),
        };
        Reply::new_unchecked(
            ReplyCode::new_unchecked(code),
            Some(EnhancedStatus::new_unchecked(status.0, status.1, status.2)),
            vec![text.to_owned()],
        )
    }
}

impl DataViolation {
    /// The reply a server sends after the end of data of a refused message.
    ///
    /// ```
    /// use smtp_proto::DataViolation;
    /// assert_eq!(DataViolation::BareLf.reply().code().get(), 554);
    /// ```
    pub fn reply(&self) -> Reply {
        let text = match self {
            DataViolation::BareLf => {
                "Message refused: bare LF in data; lines must end with CRLF".to_owned()
            }
            DataViolation::BareCr => {
                "Message refused: bare CR in data; lines must end with CRLF".to_owned()
            }
            DataViolation::LineTooLong { limit } => {
                format!("Message refused: a text line is longer than {limit} octets")
            }
        };
        Reply::new_unchecked(
            ReplyCode::TRANSACTION_FAILED,
            Some(EnhancedStatus::new_unchecked(5, 6, 0)),
            vec![text],
        )
    }
}
