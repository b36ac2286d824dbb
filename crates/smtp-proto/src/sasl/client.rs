//! The client half of SASL exchanges.

use super::{cram_md5_digest, SaslError};
use crate::types::Mechanism;
use crate::Secret;

/// What the client authenticates with.
#[derive(Debug, Clone)]
pub enum ClientCredentials {
    /// Username and password: PLAIN, LOGIN, CRAM-MD5.
    Password {
        /// The user name.
        username: String,
        /// The password (an app password or authorization code for most providers).
        password: Secret<String>,
    },
    /// An OAuth 2.0 bearer token: XOAUTH2 (Gmail, Outlook).
    OAuth2 {
        /// The account's address.
        username: String,
        /// The access token.
        token: Secret<String>,
    },
}

/// The strongest mechanism both sides support: XOAUTH2 for OAuth 2.0
/// credentials; CRAM-MD5, then PLAIN, then LOGIN for passwords.
///
/// ```
/// use smtp_proto::sasl::{choose_mechanism, ClientCredentials};
/// use smtp_proto::{Mechanism, Secret};
/// let creds = ClientCredentials::Password { username: "u".into(), password: Secret::new("p".into()) };
/// let offered = [Mechanism::Login, Mechanism::Plain, Mechanism::XOAuth2];
/// assert_eq!(choose_mechanism(&offered, &creds), Some(Mechanism::Plain));
/// ```
pub fn choose_mechanism(
    offered: &[Mechanism],
    credentials: &ClientCredentials,
) -> Option<Mechanism> {
    let preference: &[Mechanism] = match credentials {
        ClientCredentials::OAuth2 { .. } => &[Mechanism::XOAuth2],
        ClientCredentials::Password { .. } => {
            &[Mechanism::CramMd5, Mechanism::Plain, Mechanism::Login]
        }
    };
    preference.iter().find(|m| offered.contains(m)).cloned()
}

/// True for mechanisms that send the password (PLAIN, LOGIN) or a bearer
/// token (XOAUTH2, OAUTHBEARER) readably: they need TLS.
pub fn exposes_secret(mechanism: &Mechanism) -> bool {
    matches!(
        mechanism,
        Mechanism::Plain | Mechanism::Login | Mechanism::XOAuth2 | Mechanism::OAuthBearer
    )
}

#[derive(Debug)]
enum Step {
    Start,
    LoginPassword,
    /// The initial response was sent; XOAUTH2 may still get an error challenge.
    Sent,
    Done,
}

/// The client side of one SASL exchange.
#[derive(Debug)]
pub struct SaslClient {
    mechanism: Mechanism,
    credentials: ClientCredentials,
    step: Step,
    error_details: Option<String>,
}

impl SaslClient {
    /// Starts an exchange; the mechanism must suit the credentials.
    pub fn new(
        mechanism: Mechanism,
        credentials: &ClientCredentials,
    ) -> Result<SaslClient, SaslError> {
        let ok = matches!(
            (&mechanism, credentials),
            (
                Mechanism::Plain | Mechanism::Login | Mechanism::CramMd5,
                ClientCredentials::Password { .. }
            ) | (Mechanism::XOAuth2, ClientCredentials::OAuth2 { .. })
        );
        if !ok {
            return Err(SaslError::UnsupportedMechanism(mechanism));
        }
        Ok(SaslClient {
            mechanism,
            credentials: credentials.clone(),
            step: Step::Start,
            error_details: None,
        })
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> &Mechanism {
        &self.mechanism
    }

    fn first_message(&self) -> Option<Vec<u8>> {
        match (&self.mechanism, &self.credentials) {
            (Mechanism::Plain, ClientCredentials::Password { username, password }) => {
                let mut m = Vec::with_capacity(username.len() + password.expose().len() + 2);
                m.push(0);
                m.extend_from_slice(username.as_bytes());
                m.push(0);
                m.extend_from_slice(password.expose().as_bytes());
                Some(m)
            }
            (Mechanism::XOAuth2, ClientCredentials::OAuth2 { username, token }) => Some(
                format!("user={username}\x01auth=Bearer {}\x01\x01", token.expose()).into_bytes(),
            ),
            _ => None,
        }
    }

    /// The initial response (raw bytes; the session base64-encodes them) for
    /// PLAIN (`\0user\0password`) and XOAUTH2; `None` for LOGIN and CRAM-MD5.
    pub fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        if !matches!(self.step, Step::Start) {
            return None;
        }
        let first = self.first_message()?;
        self.step = Step::Sent;
        Some(Secret::new(first))
    }

    /// Answers a decoded `334` challenge.
    ///
    /// LOGIN answers the user name, then the password; CRAM-MD5 answers
    /// `user hex-digest`; PLAIN answers an empty challenge with the initial
    /// response; a challenge after an XOAUTH2 initial response is the
    /// provider's JSON error: it is kept ([`take_error_details`](Self::take_error_details))
    /// and answered with an empty response, as the providers ask.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Secret<Vec<u8>>, SaslError> {
        let (username, secret) = match &self.credentials {
            ClientCredentials::Password { username, password } => (username, password),
            ClientCredentials::OAuth2 { username, token } => (username, token),
        };
        match (&self.mechanism, &self.step) {
            (Mechanism::Plain | Mechanism::XOAuth2, Step::Start) => {
                self.step = Step::Sent;
                self.first_message()
                    .map(Secret::new)
                    .ok_or(SaslError::MalformedMessage)
            }
            (Mechanism::XOAuth2, Step::Sent) => {
                self.step = Step::Done;
                self.error_details = Some(String::from_utf8_lossy(challenge).into_owned());
                Ok(Secret::new(Vec::new()))
            }
            (Mechanism::Login, Step::Start) => {
                self.step = Step::LoginPassword;
                Ok(Secret::new(username.clone().into_bytes()))
            }
            (Mechanism::Login, Step::LoginPassword) => {
                self.step = Step::Done;
                Ok(Secret::new(secret.expose().clone().into_bytes()))
            }
            (Mechanism::CramMd5, Step::Start) => {
                self.step = Step::Done;
                let digest = cram_md5_digest(secret.expose().as_bytes(), challenge);
                Ok(Secret::new(format!("{username} {digest}").into_bytes()))
            }
            _ => Err(SaslError::UnexpectedChallenge),
        }
    }

    /// The provider's XOAUTH2 error details, once.
    pub fn take_error_details(&mut self) -> Option<String> {
        self.error_details.take()
    }
}
