//! DKIM (RFC 6376) with rsa-sha256 and ed25519-sha256 (RFC 8463).
//!
//! Signing and verifying both stream the body: only the header section is held, so a
//! 100 MB message costs no more memory than a small one.

pub mod canon;
mod hash;
mod key;
mod sign;
mod signature;
mod verify;

pub use canon::Canonicalization;
pub use key::{KeyError, KeyRecord, KeyType, PublicKey, RsaSigningKey, SigningKey};
pub use sign::{
    signer_from_pem, DkimSigner, SignError, SignOrKeyError, SigningStream, DEFAULT_SIGNED_HEADERS,
};
pub use signature::{Algorithm, DkimSignature, SignatureError};
pub use verify::{DkimOutcome, DkimResult, DkimVerifier, PendingDkim, VerifyConfig};

pub(crate) use hash::header_data;
pub(crate) use key::rsa_verify;
pub(crate) use signature::without_b_value;
