//! The one error type of every adapter.

use crate::TlsFailure;
use smtp_proto::{ClientError, DeliveryReport, Phase, RecipientStatus, Reply};
use std::io;
use std::net::SocketAddr;

/// What went wrong, in words a person understands.
///
/// Protocol outcomes come from the core ([`ClientError`]); this type adds the
/// socket, the address and what the adapter was doing. Every adapter
/// (blocking, async-std, smol) returns this same type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address did not resolve to anything to connect to.
    #[error("could not resolve {addr}: {source}")]
    Resolve {
        /// The address as given.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// No connection could be opened.
    #[error("could not connect to {addr}: {}", describe_io(.source))]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The listening socket could not be opened.
    #[error("could not listen on {addr}: {}", describe_io(.source))]
    Bind {
        /// The address as given.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// A socket operation failed on an open connection.
    #[error("{action} {peer} failed: {}", describe_io(.source))]
    Io {
        /// What the adapter was doing, as in "reading from".
        action: &'static str,
        /// The other end.
        peer: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The session ended, or refused a message before sending it (SIZE,
    /// a missing extension, misuse), as the core decided.
    #[error("{}", describe_session(.peer, .error))]
    Session {
        /// The server.
        peer: SocketAddr,
        /// What the core reported, with the step it was in.
        error: Box<ClientError>,
    },
    /// The server refused the message (MAIL, every RCPT, DATA or the final
    /// reply). The connection stays usable.
    #[error("{peer} refused the message: {}", describe_refusal(.report))]
    Rejected {
        /// The server.
        peer: SocketAddr,
        /// Every reply of the transaction.
        report: Box<DeliveryReport>,
    },
    /// The message body could not be read; the connection was closed, since
    /// SMTP has no way to abandon a body half sent.
    #[error("could not read the message body: {0}")]
    Body(io::Error),
    /// The session needs TLS but no TLS settings were given (a client made
    /// with `Client::connect` under a policy other than `None`, or a server
    /// without a certificate).
    #[error(
        "{peer}: TLS was asked for, but no TLS settings were given (use Client::connect_tls, or TlsPolicy::None)"
    )]
    TlsNotConfigured {
        /// The other end.
        peer: SocketAddr,
    },
    /// The TLS handshake failed: an untrusted, expired or mismatched
    /// certificate, a peer that does not speak TLS, a timeout.
    #[error("TLS with {peer} failed: {reason}")]
    Tls {
        /// The other end.
        peer: SocketAddr,
        /// What kind of failure, for a program choosing what to suggest.
        kind: TlsFailure,
        /// Why, in words.
        reason: String,
    },
    /// The TLS settings could not be built (a missing or malformed
    /// certificate or key file, a bad server name).
    #[error("TLS configuration: {what}: {reason}")]
    TlsConfig {
        /// What was being done.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// The server sent no SMTP greeting in time, or sent bytes that are not
    /// one: often a client using STARTTLS (or no TLS) against an
    /// implicit-TLS port.
    #[error(
        "the server {peer} did not send an SMTP greeting ({}): is this an implicit-TLS port (465)? try the `tls` security mode",
        describe_no_greeting(.error)
    )]
    NoGreeting {
        /// The server.
        peer: SocketAddr,
        /// What the core reported (a timeout or a malformed reply, in the
        /// greeting phase).
        error: Box<ClientError>,
    },
    /// The client was used after its connection ended.
    #[error("the connection to {peer} is closed")]
    Closed {
        /// The server.
        peer: SocketAddr,
    },
}

impl Error {
    /// The core's error, when the session reported one.
    pub fn client_error(&self) -> Option<&ClientError> {
        match self {
            Error::Session { error, .. } | Error::NoGreeting { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The session's own error, for the connection to `peer`.
    pub fn session(peer: SocketAddr, error: ClientError) -> Error {
        Error::Session {
            peer,
            error: Box::new(error),
        }
    }

    /// The connection ended before the client session was ready.
    pub fn closed_during_setup(peer: SocketAddr) -> Error {
        let phase = Phase::Greeting;
        Error::session(peer, ClientError::ConnectionClosed { phase })
    }

    /// Silence or bytes that are not a reply where the greeting should be
    /// become [`Error::NoGreeting`]: a plaintext client on an implicit-TLS
    /// port, most likely. Other errors pass unchanged.
    pub fn or_no_greeting(self, implicit: bool) -> Error {
        match &self {
            Error::Session { peer, error: e } if !implicit => match **e {
                ClientError::Timeout {
                    phase: Phase::Greeting,
                }
                | ClientError::BadReply {
                    phase: Phase::Greeting,
                    ..
                } => Error::NoGreeting {
                    peer: *peer,
                    error: e.clone(),
                },
                _ => self,
            },
            _ => self,
        }
    }
}

/// `io::Error`'s own text carries an OS code ("Connection refused (os error
/// 111)"); a lower-case kind reads better in a sentence.
fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".into(),
        io::ErrorKind::AddrInUse => "address already in use".into(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        _ => e.to_string(),
    }
}

fn describe_no_greeting(error: &ClientError) -> &'static str {
    match error {
        ClientError::Timeout { .. } => "nothing arrived in time",
        _ => "what arrived is not an SMTP reply",
    }
}

fn describe_session(peer: &SocketAddr, error: &ClientError) -> String {
    match error {
        ClientError::ConnectionClosed { phase } => {
            format!("the server {peer} closed the connection during {phase}")
        }
        ClientError::Timeout { phase } => {
            format!("the server {peer} did not answer in time (waiting for {phase})")
        }
        other => format!("{peer}: {}", one_line(&other.to_string())),
    }
}

fn describe_refusal(report: &DeliveryReport) -> String {
    let shown = |r: &Reply| one_line(&r.to_string());
    if let Some(reply) = report.mail_reply.as_ref().filter(|r| !r.is_positive()) {
        return format!("MAIL FROM refused: {}", shown(reply));
    }
    if let Some(reply) = &report.final_reply {
        return shown(reply);
    }
    let refused: Vec<String> = report
        .recipients
        .iter()
        .filter_map(|(path, status)| match status {
            RecipientStatus::Rejected(reply) => Some(format!("{path}: {}", shown(reply))),
            _ => None,
        })
        .collect();
    if refused.is_empty() {
        "no reason given".into()
    } else {
        format!("every recipient was refused ({})", refused.join("; "))
    }
}

/// A reply prints as it goes on the wire, CRLF and all; in a message meant
/// for a person its lines are joined on one.
fn one_line(text: &str) -> String {
    text.trim_end().replace("\r\n", " / ")
}
