//! What can end a client session, and the step it was in.

use crate::sasl::SaslError;
use crate::types::{Mechanism, Reply, ReplyCode};
use crate::ParseError;
use std::fmt;

/// The step a client session was in: which reply it waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// The 220 greeting.
    Greeting,
    /// The reply to EHLO.
    Ehlo,
    /// The reply to HELO.
    Helo,
    /// The reply to STARTTLS, or the handshake.
    StartTls,
    /// An AUTH exchange.
    Auth,
    /// The reply to MAIL.
    Mail,
    /// The reply to RCPT.
    Rcpt,
    /// The reply to DATA.
    Data,
    /// Sending the body (or the reply to a BDAT chunk).
    Body,
    /// The reply to the end of data.
    EndOfData,
    /// The reply to RSET.
    Rset,
    /// The reply to QUIT.
    Quit,
    /// Between transactions: no reply expected.
    Idle,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Greeting => "the greeting",
            Phase::Ehlo => "EHLO",
            Phase::Helo => "HELO",
            Phase::StartTls => "STARTTLS",
            Phase::Auth => "AUTH",
            Phase::Mail => "MAIL",
            Phase::Rcpt => "RCPT",
            Phase::Data => "DATA",
            Phase::Body => "the message body",
            Phase::EndOfData => "the end of data",
            Phase::Rset => "RSET",
            Phase::Quit => "QUIT",
            Phase::Idle => "an idle session",
        })
    }
}

/// Why AUTH failed, from the reply code (RFC 4954 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// 535: the user name or password (or token) is wrong.
    InvalidCredentials,
    /// 534: the mechanism is too weak, or the provider wants a web login or
    /// an app password.
    MechanismTooWeak,
    /// 538: the server wants an encrypted connection for this mechanism.
    EncryptionRequired,
    /// 454: a temporary failure on the server; retry later.
    Temporary,
    /// Any other refusal.
    Other,
}

impl AuthFailure {
    /// Classifies an AUTH refusal by its code.
    pub fn from_code(code: ReplyCode) -> AuthFailure {
        match code.get() {
            535 => AuthFailure::InvalidCredentials,
            534 => AuthFailure::MechanismTooWeak,
            538 => AuthFailure::EncryptionRequired,
            454 => AuthFailure::Temporary,
            _ => AuthFailure::Other,
        }
    }

    /// What the failure means and what to do, in plain words.
    pub fn explanation(self) -> &'static str {
        match self {
            AuthFailure::InvalidCredentials => {
                "the server rejected the user name or password (many providers want an app \
                 password or authorization code here, not the account password)"
            }
            AuthFailure::MechanismTooWeak => {
                "the server finds this mechanism too weak or wants a web login first (enable \
                 SMTP access or create an app password in the account settings)"
            }
            AuthFailure::EncryptionRequired => {
                "the server requires an encrypted connection for this mechanism (use STARTTLS or \
                 implicit TLS)"
            }
            AuthFailure::Temporary => {
                "the server failed temporarily while checking the credentials; retry later"
            }
            AuthFailure::Other => "the server refused authentication",
        }
    }
}

/// Why a client session or transaction could not go on.
///
/// No variant holds a password, token or SASL response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server sent 421: it is closing the channel.
    #[error("the server closed the channel (421) during {phase}: {reply}")]
    ServiceClosing {
        /// The step the session was in.
        phase: Phase,
        /// The 421 reply.
        reply: Reply,
    },
    /// The server refused a step the session cannot do without.
    #[error("the server refused {phase}: {reply}")]
    Rejected {
        /// The step refused.
        phase: Phase,
        /// The refusal.
        reply: Reply,
        /// When HELO was refused too, the EHLO refusal that came first.
        ehlo_reply: Option<Reply>,
    },
    /// TLS is required and the server does not offer STARTTLS.
    #[error("TLS is required but the server does not offer STARTTLS")]
    StartTlsUnavailable,
    /// TLS is required and the server refused STARTTLS.
    #[error("the server refused STARTTLS: {0}")]
    StartTlsRefused(Reply),
    /// Bytes arrived after the 220 to STARTTLS and before the handshake: an
    /// injection attempt (CVE-2021-22947 class). They were not used.
    #[error("plaintext arrived after the reply to STARTTLS, before the TLS handshake")]
    PlaintextAfterStartTls,
    /// Credentials were given but no mechanism is usable with them.
    #[error("no usable AUTH mechanism (offered: {})", mechanism_list(.offered))]
    AuthUnavailable {
        /// What the server offered.
        offered: Vec<Mechanism>,
    },
    /// The chosen mechanism would show the secret over plaintext, and the
    /// configuration does not allow that.
    #[error("refusing to send credentials over an unencrypted connection")]
    AuthNeedsTls,
    /// STARTTLS was wanted ([`TlsPolicy::Opportunistic`](super::TlsPolicy))
    /// but the connection stayed unencrypted: the server did not offer it,
    /// refused it, or someone on the path removed it from the EHLO reply.
    /// No credentials are sent then, whatever the mechanism (a CRAM-MD5
    /// answer can be cracked offline), unless plaintext AUTH is allowed.
    #[error(
        "refusing to log in: STARTTLS was wanted but the connection stayed unencrypted (the \
         server did not offer it, refused it, or someone on the path removed it)"
    )]
    StartTlsMissingForAuth,
    /// The server refused the credentials.
    #[error("{} authentication failed: {reply} ({})", .mechanism.as_str(), .kind.explanation())]
    AuthFailed {
        /// The mechanism tried.
        mechanism: Mechanism,
        /// The refusal.
        reply: Reply,
        /// What the code means.
        kind: AuthFailure,
        /// The provider's error details (XOAUTH2 JSON), when sent.
        details: Option<String>,
    },
    /// The SASL exchange went wrong.
    #[error("SASL: {0}")]
    Sasl(SaslError),
    /// The message needs an extension the server does not offer.
    #[error("the message needs the {0} extension, which the server does not offer")]
    ExtensionMissing(&'static str),
    /// The message is larger than the server's SIZE.
    #[error("the message ({size} octets) exceeds the server's limit of {limit} octets")]
    MessageTooBig {
        /// The message size.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// No reply came in time.
    #[error("timed out waiting for {phase}")]
    Timeout {
        /// The step.
        phase: Phase,
    },
    /// The connection closed.
    #[error("the connection closed during {phase}")]
    ConnectionClosed {
        /// The step.
        phase: Phase,
    },
    /// A reply line could not be read.
    #[error("malformed reply during {phase}: {error}")]
    BadReply {
        /// The step.
        phase: Phase,
        /// What was wrong.
        error: ParseError,
    },
    /// A reply arrived when none was expected.
    #[error("unexpected reply from the server: {0}")]
    Unsolicited(Reply),
    /// A verb was called when the session cannot take it.
    #[error("API misuse: {0}")]
    Usage(&'static str),
}

fn mechanism_list(offered: &[Mechanism]) -> String {
    if offered.is_empty() {
        return "none".into();
    }
    offered
        .iter()
        .map(Mechanism::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}
