//! Every failure in plain words, with advice: what went wrong, in which
//! phase, and what to do, naming the options of whoever reads it (the
//! builder's methods for a program, the flags for the command line).

use crate::provider::{Provider, Security};
use smtp_blocking::TlsFailure;
use smtp_proto::{AuthFailure, ClientError, Phase, Reply};

/// What failed, by phase: a program picks its exit code or its retry
/// policy from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A bad setting or address: nothing was sent.
    Usage,
    /// The server could not be reached or the session could not start.
    Connect,
    /// TLS failed: certificate, handshake, STARTTLS missing.
    Tls,
    /// The login failed.
    Auth,
    /// The server refused the message.
    Rejected,
    /// Anything else (a body that could not be read, a lost connection).
    Other,
}

/// Why sending failed. `Display` says what happened; [`Error::explain`]
/// adds the advice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An address that cannot go in an SMTP envelope.
    #[error("bad address {address:?}: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// Why.
        reason: String,
    },
    /// A setting that cannot work (an unreadable certificate file, a bad
    /// EHLO name, a closed session).
    #[error("{0}")]
    Settings(String),
    /// The OAuth2 token provider failed.
    #[error("no OAuth2 access token: {0}")]
    Token(String),
    /// The port speaks TLS from its first byte, and the mode was not
    /// [`Security::Tls`].
    #[error(
        "wrong security mode for this port: {address} sent no greeting in plaintext because it \
         speaks TLS from the first byte (implicit TLS, usually port 465)"
    )]
    ImplicitTlsPort {
        /// `host:port`.
        address: String,
    },
    /// What the adapter reported: connection, TLS, session, refusal.
    #[error("{0}")]
    Transport(Box<smtp_blocking::Error>),
    /// The message could not be DKIM-signed (no From field, a temporary
    /// file that could not be written): nothing was sent.
    #[cfg(feature = "dkim")]
    #[error(transparent)]
    Dkim(#[from] crate::dkim::DkimError),
}

impl From<smtp_blocking::Error> for Error {
    fn from(error: smtp_blocking::Error) -> Error {
        Error::Transport(Box::new(error))
    }
}

/// How the reader names the options the advice points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    /// Trusting a certificate file.
    pub ca_file: &'static str,
    /// Giving credentials.
    pub user: &'static str,
    /// Choosing implicit TLS.
    pub tls: &'static str,
    /// Choosing STARTTLS.
    pub starttls: &'static str,
    /// Allowing a login over plaintext.
    pub allow_plaintext_auth: &'static str,
    /// Looking at what a server sends (`None`: no such tool to name).
    pub probe: Option<&'static str>,
}

impl Words {
    /// The builder's names, for programs.
    pub const RUST: Words = Words {
        ca_file: "`MailerBuilder::ca_file`",
        user: "credentials (`MailerBuilder::credentials`)",
        tls: "`Security::Tls`",
        starttls: "`Security::StartTls`",
        allow_plaintext_auth: "`MailerBuilder::allow_plaintext_auth`",
        probe: None,
    };
}

/// Where the failure happened and what was given, for the advice.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Context {
    /// The server's host name (or address).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The mode spoken.
    pub security: Security,
    /// The provider, by preset or recognised from the host name.
    pub provider: Option<Provider>,
    /// A certificate file was given to trust.
    pub ca_given: bool,
    /// Credentials were given.
    pub user_given: bool,
}

impl Context {
    /// `host:port` (IPv6 in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl Error {
    /// The phase that failed.
    pub fn kind(&self) -> ErrorKind {
        use smtp_blocking::Error as E;
        match self {
            Error::Address { .. } | Error::Settings(_) => ErrorKind::Usage,
            Error::Token(_) => ErrorKind::Auth,
            #[cfg(feature = "dkim")]
            Error::Dkim(crate::dkim::DkimError::Sign(_)) => ErrorKind::Usage,
            #[cfg(feature = "dkim")]
            Error::Dkim(_) => ErrorKind::Other,
            Error::ImplicitTlsPort { .. } => ErrorKind::Connect,
            Error::Transport(error) => match error.as_ref() {
                E::Resolve { .. } | E::Connect { .. } | E::NoGreeting { .. } => ErrorKind::Connect,
                E::Tls { kind, .. } if *kind == TlsFailure::NotTls => ErrorKind::Tls,
                E::Tls { .. } => ErrorKind::Tls,
                E::TlsConfig { .. } | E::TlsNotConfigured { .. } => ErrorKind::Usage,
                E::Rejected { .. } => ErrorKind::Rejected,
                E::Session { error, .. } => session_kind(error),
                _ => ErrorKind::Other,
            },
        }
    }

    /// The failure in words with its advice, naming options with `words`.
    pub fn explain(&self, context: &Context, words: &Words) -> String {
        match self {
            Error::ImplicitTlsPort { .. } => format!("{self}; use {}", words.tls),
            Error::Transport(error) => explain_transport(error, context, words),
            _ => self.to_string(),
        }
    }
}

fn session_kind(error: &ClientError) -> ErrorKind {
    match error {
        ClientError::AuthFailed { .. } | ClientError::AuthUnavailable { .. } => ErrorKind::Auth,
        ClientError::AuthNeedsTls
        | ClientError::StartTlsMissingForAuth
        | ClientError::StartTlsUnavailable
        | ClientError::StartTlsRefused(_)
        | ClientError::PlaintextAfterStartTls => ErrorKind::Tls,
        ClientError::Rejected { phase, .. }
        | ClientError::Timeout { phase }
        | ClientError::ConnectionClosed { phase }
        | ClientError::ServiceClosing { phase, .. }
            if matches!(
                phase,
                Phase::Greeting | Phase::Ehlo | Phase::Helo | Phase::StartTls
            ) =>
        {
            ErrorKind::Connect
        }
        ClientError::MessageTooBig { .. }
        | ClientError::ExtensionMissing(_)
        | ClientError::Rejected { .. } => ErrorKind::Rejected,
        _ => ErrorKind::Other,
    }
}

fn explain_transport(error: &smtp_blocking::Error, cx: &Context, words: &Words) -> String {
    use smtp_blocking::Error as E;
    let at = cx.address();
    match error {
        E::Resolve { .. } => {
            format!("{error}: check the server name, and that this machine can resolve names")
        }
        E::Connect { source, .. } => {
            let advice = match source.kind() {
                std::io::ErrorKind::ConnectionRefused => format!(
                    "nothing listens on port {} there: check the port (465 for implicit TLS, 587 \
                     for STARTTLS)",
                    cx.port
                ),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => format!(
                    "no answer at all: a firewall, your network or your ISP/cloud provider \
                     probably blocks port {} (port 25 often is); try 587 or 465",
                    cx.port
                ),
                _ => "check the address and your network".to_owned(),
            };
            format!("{error}: {advice}")
        }
        E::NoGreeting { .. } => format!(
            "wrong security mode for this port? {error} (port {} was tried with {})",
            cx.port,
            cx.security.name()
        ),
        E::Tls { kind, .. } if *kind == TlsFailure::NotTls => format!(
            "wrong security mode for this port: {at} answered in plaintext where a TLS handshake \
             should start, so it expects STARTTLS; use {} (implicit TLS is usually port 465)",
            words.starttls
        ),
        E::Tls { kind, .. } => format!("{error}: {}", tls_advice(*kind, cx, words)),
        E::Session { error: e, .. } => explain_session(e, error, cx, words),
        E::Rejected { report, .. } => match report.mail_reply.as_ref() {
            Some(reply) if reply.code().get() == 530 => {
                let advice = if reply.text().to_ascii_uppercase().contains("STARTTLS") {
                    format!(
                        "it wants TLS first: use {} or {}",
                        words.starttls, words.tls
                    )
                } else if cx.user_given {
                    "it wants a login first, and the one given did not satisfy it".to_owned()
                } else {
                    format!("it wants a login first: give {}", words.user)
                };
                format!("{error}: {advice}")
            }
            _ => error.to_string(),
        },
        _ => error.to_string(),
    }
}

fn explain_session(
    e: &ClientError,
    error: &smtp_blocking::Error,
    cx: &Context,
    words: &Words,
) -> String {
    let at = cx.address();
    match e {
        ClientError::AuthFailed { reply, kind, .. } => {
            let why = match (kind, cx.provider) {
                (AuthFailure::InvalidCredentials | AuthFailure::MechanismTooWeak, Some(p)) => {
                    p.settings().password_hint.to_owned()
                }
                _ => kind.explanation().to_owned(),
            };
            let said = reply.text();
            let said = said.trim();
            let said = if said.is_empty() {
                String::new()
            } else {
                format!(", saying \"{said}\"")
            };
            format!(
                "the server at {at} rejected the login ({}{said}): {why}",
                reply_code(reply)
            )
        }
        ClientError::AuthUnavailable { .. } => format!("{at}: {e}"),
        ClientError::AuthNeedsTls | ClientError::StartTlsMissingForAuth => format!(
            "{at}: {e}; use {} (587) or {} (465) to insist on encryption, or {} if this network \
             is trusted",
            words.starttls, words.tls, words.allow_plaintext_auth
        ),
        ClientError::StartTlsUnavailable
        | ClientError::StartTlsRefused(_)
        | ClientError::PlaintextAfterStartTls => format!(
            "{at}: {e} (use {} for port 465, or no encryption only for a local sink)",
            words.tls
        ),
        _ => error.to_string(),
    }
}

/// What to do about a failed handshake, never the option already given.
fn tls_advice(kind: TlsFailure, cx: &Context, words: &Words) -> String {
    let host = &cx.host;
    let look = match words.probe {
        Some(probe) => format!(
            "; see what it sends with `{probe} {} --security {}`",
            cx.address(),
            match cx.security {
                Security::Tls => "tls",
                _ => "starttls",
            }
        ),
        None => String::new(),
    };
    match kind {
        TlsFailure::Untrusted if cx.ca_given => format!(
            "the file given with {} holds neither the certificate the server presents nor the \
             CA that issued it (an intermediate CA missing from the server's chain, or the wrong \
             file){look}",
            words.ca_file
        ),
        TlsFailure::Untrusted => format!(
            "if this is a private server, give its CA certificate (or its own self-signed \
             certificate) with {}{look}",
            words.ca_file
        ),
        TlsFailure::NameMismatch => format!(
            "connect by a name the certificate carries instead of {host}, or have the server's \
             certificate reissued for {host}"
        ),
        TlsFailure::Expired => "check this machine's date and time; if they are right, the \
             server's administrator must renew the certificate"
            .to_owned(),
        TlsFailure::Certificate => {
            format!("the server's administrator must fix its certificate{look}")
        }
        TlsFailure::Incompatible => "the server speaks only old TLS (1.0/1.1) or old ciphers, \
             which are refused here; ask for the server to be upgraded"
            .to_owned(),
        TlsFailure::Refused => format!("the server's log says why{look}"),
        TlsFailure::Interrupted => format!(
            "a firewall or filter may cut TLS on port {}, or the server is overloaded; try again, \
             or try the other mode (465 implicit TLS, 587 STARTTLS)",
            cx.port
        ),
        _ => format!("the handshake failed{look}"),
    }
}

/// `535 5.7.8`: a reply's code and enhanced status.
pub fn reply_code(reply: &Reply) -> String {
    match reply.enhanced() {
        Some(status) => format!("{} {status}", reply.code().get()),
        None => reply.code().get().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::{EnhancedStatus, Mechanism, ReplyCode};

    #[test]
    fn a_refused_login_at_qq_asks_for_the_authorization_code_and_quotes_the_server() {
        let reply = Reply::new(
            ReplyCode::AUTH_INVALID,
            EnhancedStatus::new(5, 7, 8),
            ["Error: authentication failed"],
        )
        .unwrap();
        let error = Error::from(smtp_blocking::Error::Session {
            peer: "127.0.0.1:465".parse().unwrap(),
            error: Box::new(ClientError::AuthFailed {
                mechanism: Mechanism::Login,
                reply,
                kind: AuthFailure::InvalidCredentials,
                details: None,
            }),
        });
        let cx = Context {
            host: "smtp.qq.com".into(),
            port: 465,
            security: Security::Tls,
            provider: Some(Provider::Qq),
            ca_given: false,
            user_given: true,
        };
        assert_eq!(error.kind(), ErrorKind::Auth);
        let text = error.explain(&cx, &Words::RUST);
        assert!(
            text.starts_with(
                "the server at smtp.qq.com:465 rejected the login (535 5.7.8, saying \"Error: \
                 authentication failed\"): QQ Mail needs an authorization code (授权码)"
            ),
            "{text}"
        );
    }
}
