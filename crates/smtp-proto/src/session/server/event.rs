//! What a server session tells its application.

use crate::sasl::AuthRequest;
use crate::session::TlsInfo;
use crate::types::{ForwardPath, Host, MailParams, RcptParams, Reply, ReversePath};

/// Something the application must know or decide. Events marked *decision*
/// pause the session until the application answers with
/// [`ServerSession::accept`](super::ServerSession::accept),
/// [`ServerSession::accept_with`](super::ServerSession::accept_with) or
/// [`ServerSession::reject`](super::ServerSession::reject).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// *Decision*: the client introduced itself (EHLO when `extended`).
    Helo {
        /// The name or address literal it gave.
        host: Host,
        /// EHLO rather than HELO.
        extended: bool,
    },
    /// *Decision*: a transaction starts.
    MailFrom {
        /// The reverse path.
        from: ReversePath,
        /// Its parameters.
        params: MailParams,
    },
    /// *Decision*: a recipient.
    RcptTo {
        /// The forward path.
        to: ForwardPath,
        /// Its parameters.
        params: RcptParams,
    },
    /// *Decision*: DATA with at least one accepted recipient; accepting sends 354.
    DataStart,
    /// Message content: un-stuffed (DATA) or exact (BDAT), in order, as it
    /// arrives (never held until the end of the message), each at most
    /// [`ServerSession::MAX_BODY_CHUNK`](super::ServerSession::MAX_BODY_CHUNK)
    /// octets: stream them to storage.
    BodyChunk(Vec<u8>),
    /// *Decision*: the whole message arrived; answer with the final reply
    /// (typically 250 with a queue id, after storing it).
    MessageEnd {
        /// Octets of content delivered in `BodyChunk`s.
        size: u64,
    },
    /// *Decision*: SASL credentials to check (for example with
    /// [`AuthRequest::verify_password`]); accepting sends 235, rejecting
    /// typically 535 5.7.8.
    Auth(AuthRequest),
    /// The message being received was refused by the session itself (too
    /// big, bare CR/LF, a failed BDAT); its chunks so far must be dropped.
    MessageAborted {
        /// The reply sent to the client.
        reply: Reply,
    },
    /// The transaction was discarded (RSET, a new EHLO, STARTTLS).
    Reset,
    /// An AUTH attempt failed: the application answered its decision with a
    /// 5yz reply, or the client cancelled or garbled the exchange. The reply
    /// is held back for the configured delay. For logging and for
    /// throttling the client's address across connections.
    AuthFailed {
        /// Failures on this session so far, this one included.
        failures: usize,
    },
    /// TLS is in force; the session starts over (RFC 3207).
    TlsStarted(TlsInfo),
    /// The session is over; `Output::Close` follows.
    Closed(CloseReason),
}

impl ServerEvent {
    /// True for the events the session waits on: answer each with
    /// `accept`, `accept_with` or `reject` before it goes on.
    pub fn is_decision(&self) -> bool {
        matches!(
            self,
            ServerEvent::Helo { .. }
                | ServerEvent::MailFrom { .. }
                | ServerEvent::RcptTo { .. }
                | ServerEvent::DataStart
                | ServerEvent::MessageEnd { .. }
                | ServerEvent::Auth(_)
        )
    }
}

/// Why a server session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent QUIT.
    Quit,
    /// The client closed the connection.
    PeerClosed,
    /// The client was idle past the timeout (421 4.4.2 sent).
    Timeout,
    /// A command line was not complete within `command_timeout` of its
    /// first byte (421 4.4.2 sent).
    CommandTimeout,
    /// A message body arrived slower than `min_body_rate` (421 4.4.2 sent).
    BodyTooSlow,
    /// The session lasted `session_lifetime` (421 4.4.2 sent).
    LifetimeExceeded,
    /// `max_auth_failures` failed AUTH attempts (421 4.7.0 sent).
    TooManyAuthFailures,
    /// Refused content (a BDAT chunk, or DATA past the size limit or the
    /// line-ending rules) was longer than `max_discard`: the refusal, then
    /// 421 4.7.0, were sent without waiting for the rest.
    DiscardLimit,
    /// Too many errors (421 sent).
    TooManyErrors,
    /// Pipelined or early input where it is not allowed (554 5.5.0 sent).
    SynchronizationError,
    /// Plaintext after STARTTLS, or input during the TLS handshake.
    StartTlsViolation,
    /// More unprocessed input than `max_pending_input` while the
    /// application decided.
    InputOverflow,
    /// The application called `shutdown` (421 sent).
    Shutdown,
    /// The application refused the connection in the greeting.
    Refused,
}

/// A verb called when it makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// No decision is waiting for an answer.
    #[error("no decision is pending")]
    NoDecisionPending,
    /// `reject` needs a 4yz or 5yz reply.
    #[error("a rejection needs a 4yz or 5yz reply")]
    NotNegative,
    /// `accept_with` needs a 2yz reply (3yz for DataStart).
    #[error("an acceptance needs a positive reply")]
    NotPositive,
}
