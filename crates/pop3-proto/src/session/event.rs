//! What the POP3 session tells its application, and what the application
//! tells it about the maildrop.

use md5::{Digest, Md5};
use smtp_proto::{Secret, TlsInfo};
use std::fmt;

/// Something the application must know or decide. Events marked *decision*
/// pause the session until the application answers with the verbs named.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// *Decision*: check these credentials (for example with
    /// [`Credentials::verify_password`]) and lock the maildrop. Answer with
    /// [`accept_login`](super::Pop3Session::accept_login) and the listing, or
    /// [`reject_login`](super::Pop3Session::reject_login).
    Login(Credentials),
    /// *Decision*: RETR or TOP of a message that exists and is not deleted.
    /// Feed its bytes with [`message_chunk`](super::Pop3Session::message_chunk)
    /// and end with [`end_message`](super::Pop3Session::end_message), or
    /// refuse before the first chunk with
    /// [`fail_message`](super::Pop3Session::fail_message).
    Retrieve {
        /// Index into the listing given at login (message number − 1).
        index: usize,
        /// The message's unique id.
        uid: Uid,
        /// `Some(n)` for TOP: the headers and `n` body lines are sent, and
        /// [`wants_more`](super::Pop3Session::wants_more) turns false once
        /// they are out, so the rest need not be read.
        top_lines: Option<u64>,
    },
    /// *Decision*: QUIT in the TRANSACTION state. Remove these messages
    /// (possibly none) and release the maildrop, then answer with
    /// [`accept_update`](super::Pop3Session::accept_update) or
    /// [`reject_update`](super::Pop3Session::reject_update).
    Update {
        /// The messages marked with DELE, in message-number order.
        deletions: Vec<Deletion>,
    },
    /// TLS is in force; the session is back in the AUTHORIZATION state.
    TlsStarted(TlsInfo),
    /// The session is over; `Output::Close` follows. Unless the reason is
    /// [`CloseReason::Quit`] after an update, no message may be deleted:
    /// the application releases the maildrop untouched.
    Closed(CloseReason),
}

impl Event {
    /// The session waits for the application's answer to this event.
    pub fn is_decision(&self) -> bool {
        matches!(
            self,
            Event::Login(_) | Event::Retrieve { .. } | Event::Update { .. }
        )
    }
}

/// A message marked for deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Index into the listing given at login (message number − 1).
    pub index: usize,
    /// The message's unique id.
    pub uid: Uid,
}

/// Why the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent QUIT.
    Quit,
    /// The client closed the connection.
    PeerClosed,
    /// No command for `idle_timeout`.
    Timeout,
    /// Too many `-ERR` replies.
    TooManyErrors,
    /// Too many refused logins.
    TooManyAuthFailures,
    /// Plaintext arrived behind STLS or during the handshake.
    StlsViolation,
    /// Input piled up past `max_pending_input` while the session waited.
    InputOverflow,
    /// The application ended the session (shutdown, or a failure in the
    /// middle of a message).
    Shutdown,
}

/// Credentials to check. `Debug` never shows a password or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// USER then PASS.
    UserPass {
        /// The user name.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// APOP (RFC 1939 §7): MD5 of the greeting's timestamp and the secret.
    Apop {
        /// The user name.
        username: String,
        /// The timestamp the greeting carried.
        timestamp: String,
        /// The client's digest, hex as sent.
        digest: Secret<String>,
    },
    /// SASL PLAIN (RFC 4616).
    Plain {
        /// The authorization identity, when given and different.
        authzid: Option<String>,
        /// The authentication identity.
        username: String,
        /// The password.
        password: Secret<String>,
    },
}

impl Credentials {
    /// The user who wants in.
    pub fn username(&self) -> &str {
        match self {
            Credentials::UserPass { username, .. }
            | Credentials::Apop { username, .. }
            | Credentials::Plain { username, .. } => username,
        }
    }

    /// The password, for USER/PASS and PLAIN (not APOP). For checking it
    /// against a stored hash; never log it.
    pub fn password(&self) -> Option<&Secret<String>> {
        match self {
            Credentials::UserPass { password, .. } | Credentials::Plain { password, .. } => {
                Some(password)
            }
            Credentials::Apop { .. } => None,
        }
    }

    /// True if `password` is this user's password, compared in constant
    /// time; for APOP the digest is recomputed. A PLAIN authorization
    /// identity other than the user is refused.
    pub fn verify_password(&self, password: &str) -> bool {
        match self {
            Credentials::Plain {
                authzid: Some(a),
                username,
                ..
            } if a != username => false,
            Credentials::UserPass { password: p, .. } | Credentials::Plain { password: p, .. } => {
                constant_time_eq(p.expose().as_bytes(), password.as_bytes())
            }
            Credentials::Apop {
                timestamp, digest, ..
            } => {
                let mut md5 = Md5::new();
                md5.update(timestamp.as_bytes());
                md5.update(password.as_bytes());
                let expected: String = md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
                constant_time_eq(
                    expected.as_bytes(),
                    digest.expose().to_ascii_lowercase().as_bytes(),
                )
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A message's unique id for UIDL: 1 to 70 octets in `0x21..=0x7E`
/// (RFC 1939 §7), so it can be sent as is.
///
/// ```
/// use pop3_proto::Uid;
/// assert!(Uid::new("1700000000.M1P2.host").is_ok());
/// assert!(Uid::new("has space").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(String);

/// The text given is not a valid unique id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a UIDL id must be 1 to 70 characters in 0x21..=0x7E")]
pub struct InvalidUid;

impl Uid {
    /// Validates a unique id.
    pub fn new(text: &str) -> Result<Uid, InvalidUid> {
        if text.is_empty() || text.len() > 70 || !text.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(InvalidUid);
        }
        Ok(Uid(text.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One message of the maildrop, as the application lists it at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// Its size in octets, as stored (RFC 1939 counts CRLF as two).
    pub size: u64,
    /// Its unique id.
    pub uid: Uid,
}

/// A verb called when the session was not waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// No decision of this kind is pending.
    #[error("no such decision is pending")]
    NotPending,
    /// `fail_message` after bytes of the message were already sent.
    #[error("the message is already being sent")]
    AlreadyStarted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apop_digest_from_rfc_1939() {
        let creds = Credentials::Apop {
            username: "mrose".into(),
            timestamp: "<1896.697170952@dbc.mtview.ca.us>".into(),
            digest: Secret::new("c4c9334bac560ecc979e58001b3e22fb".into()),
        };
        assert!(creds.verify_password("tanstaaf"));
        assert!(!creds.verify_password("tanstaafl"));
        assert!(creds.password().is_none());
    }

    #[test]
    fn plain_with_another_authzid_is_refused() {
        let creds = Credentials::Plain {
            authzid: Some("root".into()),
            username: "alice".into(),
            password: Secret::new("pw".into()),
        };
        assert!(!creds.verify_password("pw"));
        assert!(!format!("{creds:?}").contains("pw\""));
    }

    #[test]
    fn uid_bounds() {
        assert!(Uid::new(&"x".repeat(70)).is_ok());
        assert!(Uid::new(&"x".repeat(71)).is_err());
        assert!(Uid::new("").is_err());
        assert!(Uid::new("a\u{7f}").is_err());
    }
}
