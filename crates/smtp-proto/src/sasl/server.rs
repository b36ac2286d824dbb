//! The server half of SASL exchanges: PLAIN, LOGIN, CRAM-MD5.

use super::{constant_time_eq, cram_md5_digest, SaslError};
use crate::types::Mechanism;
use crate::Secret;

/// What the server session does next.
#[derive(Debug)]
pub enum ServerStep {
    /// Send `334 base64(challenge)` and wait for the client's response.
    Challenge(Vec<u8>),
    /// The exchange is complete: the embedder checks the credentials.
    Done(AuthRequest),
    /// The client's message was malformed.
    Failed(SaslError),
}

/// Credentials for the embedder to check. `Debug` redacts the secrets.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AuthRequest {
    /// PLAIN (RFC 4616).
    Plain {
        /// The authorization identity, when it differs from the username.
        authzid: Option<String>,
        /// The authentication identity.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// LOGIN.
    Login {
        /// The username.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// CRAM-MD5 (RFC 2195).
    CramMd5 {
        /// The username.
        username: String,
        /// The challenge the server sent.
        challenge: String,
        /// The client's digest, lowercase hex as sent.
        digest: Secret<String>,
    },
}

impl AuthRequest {
    /// The user who wants to authenticate.
    pub fn username(&self) -> &str {
        match self {
            AuthRequest::Plain { username, .. }
            | AuthRequest::Login { username, .. }
            | AuthRequest::CramMd5 { username, .. } => username,
        }
    }

    /// The mechanism used.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            AuthRequest::Plain { .. } => Mechanism::Plain,
            AuthRequest::Login { .. } => Mechanism::Login,
            AuthRequest::CramMd5 { .. } => Mechanism::CramMd5,
        }
    }

    /// True if `password` is this user's password: a constant-time comparison
    /// for PLAIN and LOGIN, the recomputed HMAC-MD5 for CRAM-MD5. A PLAIN
    /// authorization identity other than the username is refused (false):
    /// acting for another user is a policy this check cannot grant.
    pub fn verify_password(&self, password: &str) -> bool {
        match self {
            AuthRequest::Plain {
                authzid, username, ..
            } if authzid.as_deref().is_some_and(|a| a != username) => false,
            AuthRequest::Plain { password: p, .. } | AuthRequest::Login { password: p, .. } => {
                constant_time_eq(p.expose().as_bytes(), password.as_bytes())
            }
            AuthRequest::CramMd5 {
                challenge, digest, ..
            } => {
                let expected = cram_md5_digest(password.as_bytes(), challenge.as_bytes());
                constant_time_eq(expected.as_bytes(), digest.expose().as_bytes())
            }
        }
    }
}

#[derive(Debug)]
enum State {
    Start,
    PlainWaiting,
    LoginUser,
    LoginPassword(String),
    CramWaiting,
    Done,
}

/// The server side of one SASL exchange.
#[derive(Debug)]
pub struct SaslServer {
    mechanism: Mechanism,
    cram_challenge: Option<String>,
    state: State,
}

fn text(bytes: &[u8]) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::MalformedMessage)
}

impl SaslServer {
    /// PLAIN, LOGIN, or CRAM-MD5 with the caller's unique challenge (the core
    /// has no random source and no clock to make one).
    pub fn new(
        mechanism: Mechanism,
        cram_challenge: Option<&str>,
    ) -> Result<SaslServer, SaslError> {
        match (&mechanism, cram_challenge) {
            (Mechanism::Plain | Mechanism::Login, _) | (Mechanism::CramMd5, Some(_)) => {}
            _ => return Err(SaslError::UnsupportedMechanism(mechanism)),
        }
        Ok(SaslServer {
            mechanism,
            cram_challenge: cram_challenge.map(str::to_owned),
            state: State::Start,
        })
    }

    /// Starts with the decoded initial response, if AUTH carried one
    /// (`Some(&[])` for `=`).
    pub fn start(&mut self, initial_response: Option<&[u8]>) -> ServerStep {
        if !matches!(self.state, State::Start) {
            return ServerStep::Failed(SaslError::UnexpectedChallenge);
        }
        match (&self.mechanism, initial_response) {
            (Mechanism::Plain, Some(ir)) => self.plain(ir),
            (Mechanism::Plain, None) => {
                self.state = State::PlainWaiting;
                ServerStep::Challenge(Vec::new())
            }
            (Mechanism::Login, Some(ir)) if !ir.is_empty() => {
                // RFC 4954 allows LOGIN's user name as an initial response.
                match text(ir) {
                    Ok(user) => {
                        self.state = State::LoginPassword(user);
                        ServerStep::Challenge(b"Password:".to_vec())
                    }
                    Err(e) => self.fail(e),
                }
            }
            (Mechanism::Login, _) => {
                self.state = State::LoginUser;
                ServerStep::Challenge(b"Username:".to_vec())
            }
            (Mechanism::CramMd5, None) => {
                self.state = State::CramWaiting;
                let challenge = self.cram_challenge.clone().unwrap_or_default();
                ServerStep::Challenge(challenge.into_bytes())
            }
            _ => self.fail(SaslError::MalformedMessage),
        }
    }

    /// Feeds the next decoded client response.
    pub fn step(&mut self, response: &[u8]) -> ServerStep {
        match std::mem::replace(&mut self.state, State::Done) {
            State::PlainWaiting => self.plain(response),
            State::LoginUser => match text(response) {
                Ok(user) => {
                    self.state = State::LoginPassword(user);
                    ServerStep::Challenge(b"Password:".to_vec())
                }
                Err(e) => self.fail(e),
            },
            State::LoginPassword(username) => match text(response) {
                Ok(password) => ServerStep::Done(AuthRequest::Login {
                    username,
                    password: Secret::new(password),
                }),
                Err(e) => self.fail(e),
            },
            State::CramWaiting => self.cram(response),
            State::Start | State::Done => self.fail(SaslError::UnexpectedChallenge),
        }
    }

    fn fail(&mut self, e: SaslError) -> ServerStep {
        self.state = State::Done;
        ServerStep::Failed(e)
    }

    /// `message = [authzid] UTF8NUL authcid UTF8NUL passwd` (RFC 4616)
    fn plain(&mut self, message: &[u8]) -> ServerStep {
        self.state = State::Done;
        let mut parts = message.split(|&b| b == 0);
        let (Some(authzid), Some(user), Some(pass), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.fail(SaslError::MalformedMessage);
        };
        match (text(authzid), text(user), text(pass)) {
            (Ok(authzid), Ok(username), Ok(password)) if !username.is_empty() => {
                ServerStep::Done(AuthRequest::Plain {
                    authzid: (!authzid.is_empty()).then_some(authzid),
                    username,
                    password: Secret::new(password),
                })
            }
            _ => self.fail(SaslError::MalformedMessage),
        }
    }

    /// `username SP digest` with a 32-digit lowercase hex digest (RFC 2195)
    fn cram(&mut self, response: &[u8]) -> ServerStep {
        let mut halves = response.rsplitn(2, |&b| b == b' ');
        let (Some(digest), Some(user)) = (halves.next(), halves.next()) else {
            return self.fail(SaslError::MalformedMessage);
        };
        let hex_ok = digest.len() == 32
            && digest
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        match (text(user), hex_ok) {
            (Ok(username), true) if !username.is_empty() => {
                ServerStep::Done(AuthRequest::CramMd5 {
                    username,
                    challenge: self.cram_challenge.clone().unwrap_or_default(),
                    digest: Secret::new(String::from_utf8_lossy(digest).into_owned()),
                })
            }
            _ => self.fail(SaslError::MalformedMessage),
        }
    }
}
