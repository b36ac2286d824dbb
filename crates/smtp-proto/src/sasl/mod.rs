//! SASL for SMTP AUTH (RFC 4954): PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 for
//! clients; PLAIN, LOGIN and CRAM-MD5 for servers, with the credential check
//! left to the embedder. The sessions do the SMTP framing (`334`, base64,
//! `*`); these types only compute the messages. Secrets are wrapped in
//! [`Secret`](crate::Secret) so `Debug` never shows them.
//!
//! ```
//! use smtp_proto::sasl::{AuthRequest, ClientCredentials, SaslClient, SaslServer, ServerStep};
//! use smtp_proto::{Mechanism, Secret};
//!
//! let creds = ClientCredentials::Password {
//!     username: "tim".into(),
//!     password: Secret::new("tanstaaftanstaaf".into()),
//! };
//! let mut client = SaslClient::new(Mechanism::CramMd5, &creds).unwrap();
//! let mut server = SaslServer::new(Mechanism::CramMd5, Some("<1896.697170952@postoffice.example>")).unwrap();
//! let ServerStep::Challenge(challenge) = server.start(None) else { panic!() };
//! let response = client.respond(&challenge).unwrap();
//! let ServerStep::Done(request) = server.step(response.expose()) else { panic!() };
//! assert_eq!(request.username(), "tim");
//! assert!(request.verify_password("tanstaaftanstaaf"));
//! assert!(!request.verify_password("guess"));
//! ```

mod client;
mod server;

pub use client::{choose_mechanism, exposes_secret, ClientCredentials, SaslClient};
pub use server::{AuthRequest, SaslServer, ServerStep};

use crate::types::Mechanism;
use base64::Engine as _;

/// Why a SASL exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The mechanism is not supported for these credentials or on this side.
    #[error("SASL mechanism {} is not supported here", .0.as_str())]
    UnsupportedMechanism(Mechanism),
    /// A challenge or response is not valid base64.
    #[error("invalid base64 in a SASL message")]
    BadBase64,
    /// A message does not have the mechanism's format.
    #[error("malformed SASL message")]
    MalformedMessage,
    /// The server sent a challenge after the exchange should have ended.
    #[error("unexpected SASL challenge")]
    UnexpectedChallenge,
    /// The client cancelled the exchange with `*`.
    #[error("authentication cancelled")]
    Cancelled,
    /// The server's XOAUTH2 error details (a JSON object from the provider).
    #[error("XOAUTH2 refused: {details}")]
    XOAuth2Error {
        /// The decoded JSON text.
        details: String,
    },
}

/// Encodes bytes as base64 (standard alphabet, with padding).
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes base64 (standard alphabet, padding required, no whitespace).
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| SaslError::BadBase64)
}

/// Compares secrets in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-MD5 of `challenge` keyed with `password`, as lowercase hex (RFC 2195).
pub(crate) fn cram_md5_digest(password: &[u8], challenge: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<md5::Md5>::new_from_slice(password) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => return String::new(),
    };
    mac.update(challenge);
    let digest = mac.finalize().into_bytes();
    digest.iter().fold(String::with_capacity(32), |mut hex, b| {
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

#[cfg(test)]
mod tests;
