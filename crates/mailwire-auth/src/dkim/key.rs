//! DKIM keys: the key record published in DNS (RFC 6376 §3.6.1) and the signing keys.

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::traits::PublicKeyParts;

use crate::tag_list::{parse_tag_list, strip_fws, TagListError};

/// The key types DKIM knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// `k=rsa`
    Rsa,
    /// `k=ed25519` (RFC 8463)
    Ed25519,
}

/// Why a key record or key file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The record is not a tag list.
    #[error("the key record is not a tag list: {0}")]
    Syntax(#[from] TagListError),
    /// `v=` is present and not `DKIM1`, or not first.
    #[error("the key record's v= must be DKIM1 and come first")]
    Version,
    /// `k=` names a key type we do not know.
    #[error("unknown key type k={0}")]
    UnknownKeyType(String),
    /// `p=` is missing.
    #[error("the key record has no p= tag")]
    MissingKey,
    /// `p=` is empty: the key was revoked.
    #[error("the key was revoked (empty p=)")]
    Revoked,
    /// `p=` is not base64 or not a key of the stated type.
    #[error("p= does not hold a valid {0} public key")]
    BadKey(&'static str),
    /// `h=` lists no hash algorithm we can use (sha256).
    #[error("the key record's h= does not allow sha256")]
    HashNotAllowed,
    /// `s=` does not include email.
    #[error("the key record's s= does not allow email")]
    ServiceNotAllowed,
    /// An RSA key shorter than 1024 bits (RFC 8301 §3.2).
    #[error("the RSA key has {0} bits; at least 1024 are required")]
    WeakKey(usize),
    /// A private key file we cannot read.
    #[error("not a PEM private key (PKCS#8 or PKCS#1 RSA, or PKCS#8 Ed25519)")]
    BadPrivateKey,
}

/// A public key taken from DNS.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// An RSA key.
    Rsa(rsa::RsaPublicKey),
    /// An Ed25519 key.
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKey::Rsa(_) => KeyType::Rsa,
            PublicKey::Ed25519(_) => KeyType::Ed25519,
        }
    }
    /// The key's size in bits (256 for Ed25519).
    pub fn bits(&self) -> usize {
        match self {
            PublicKey::Rsa(k) => k.size() * 8,
            PublicKey::Ed25519(_) => 256,
        }
    }
}

/// A parsed DKIM key record.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// The public key.
    pub key: PublicKey,
    /// `t=y`: the domain is testing DKIM.
    pub testing: bool,
    /// `t=s`: the `i=` domain must equal `d=` exactly.
    pub strict_identity: bool,
    /// The `n=` notes, if any.
    pub notes: Option<String>,
}

impl KeyRecord {
    /// Reads a key record: `v=DKIM1; k=rsa; p=MIIB...`.
    pub fn parse(record: &str) -> Result<Self, KeyError> {
        let tags = parse_tag_list(record)?;
        let mut key_type = KeyType::Rsa;
        let mut key_b64 = None;
        let mut testing = false;
        let mut strict_identity = false;
        let mut notes = None;
        for (i, (name, value)) in tags.iter().enumerate() {
            match *name {
                "v" if i != 0 || *value != "DKIM1" => return Err(KeyError::Version),
                "k" => {
                    key_type = match value.to_ascii_lowercase().as_str() {
                        "rsa" => KeyType::Rsa,
                        "ed25519" => KeyType::Ed25519,
                        _ => return Err(KeyError::UnknownKeyType((*value).to_owned())),
                    }
                }
                "p" => key_b64 = Some(strip_fws(value)),
                "h" if !strip_fws(value)
                    .split(':')
                    .any(|h| h.eq_ignore_ascii_case("sha256")) =>
                {
                    return Err(KeyError::HashNotAllowed)
                }
                "s" if !strip_fws(value)
                    .split(':')
                    .any(|s| s == "*" || s.eq_ignore_ascii_case("email")) =>
                {
                    return Err(KeyError::ServiceNotAllowed)
                }
                "t" => {
                    for flag in strip_fws(value).split(':') {
                        testing |= flag == "y";
                        strict_identity |= flag == "s";
                    }
                }
                "n" => notes = Some((*value).to_owned()),
                _ => {}
            }
        }
        let key_b64 = key_b64.ok_or(KeyError::MissingKey)?;
        if key_b64.is_empty() {
            return Err(KeyError::Revoked);
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(key_b64.as_bytes())
            .map_err(|_| KeyError::BadKey(key_type_name(key_type)))?;
        let key = decode_public_key(key_type, &der)?;
        if let PublicKey::Rsa(ref k) = key {
            let bits = k.size() * 8;
            if bits < 1024 {
                return Err(KeyError::WeakKey(bits));
            }
        }
        Ok(KeyRecord {
            key,
            testing,
            strict_identity,
            notes,
        })
    }
}

fn key_type_name(k: KeyType) -> &'static str {
    match k {
        KeyType::Rsa => "RSA",
        KeyType::Ed25519 => "Ed25519",
    }
}

fn decode_public_key(key_type: KeyType, der: &[u8]) -> Result<PublicKey, KeyError> {
    match key_type {
        // RFC 6376 publishes SubjectPublicKeyInfo; some publish the bare PKCS#1 RSAPublicKey.
        KeyType::Rsa => rsa::pkcs8::DecodePublicKey::from_public_key_der(der)
            .or_else(|_| rsa::RsaPublicKey::from_pkcs1_der(der))
            .map(PublicKey::Rsa)
            .map_err(|_| KeyError::BadKey("RSA")),
        // RFC 8463 publishes the raw 32 bytes.
        KeyType::Ed25519 => {
            let raw: Result<[u8; 32], _> = der.try_into();
            match raw {
                Ok(raw) => ed25519_dalek::VerifyingKey::from_bytes(&raw),
                Err(_) => ed25519_dalek::VerifyingKey::from_public_key_der(der)
                    .map_err(|_| ed25519_dalek::SignatureError::new()),
            }
            .map(PublicKey::Ed25519)
            .map_err(|_| KeyError::BadKey("Ed25519"))
        }
    }
}

/// An RSA private key. Keys of 2048 bits and more sign through ring (constant-time, with
/// blinding); smaller ones, which ring refuses, through RustCrypto's `rsa`.
#[derive(Clone)]
pub struct RsaSigningKey {
    key: rsa::RsaPrivateKey,
    ring: Option<std::sync::Arc<ring::rsa::KeyPair>>,
}

impl std::fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaSigningKey({} bits, redacted)", self.bits())
    }
}

impl RsaSigningKey {
    fn new(key: rsa::RsaPrivateKey) -> Self {
        let ring = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&key)
            .ok()
            .and_then(|der| ring::rsa::KeyPair::from_pkcs8(der.as_bytes()).ok())
            .map(std::sync::Arc::new);
        RsaSigningKey { key, ring }
    }

    /// The key's size in bits.
    pub fn bits(&self) -> usize {
        self.key.size() * 8
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data` (the signature is deterministic; ring's
    /// blinding randomness changes nothing in it).
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        if let Some(pair) = &self.ring {
            let mut signature = vec![0; pair.public().modulus_len()];
            let rng = ring::rand::SystemRandom::new();
            if pair
                .sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &rng,
                    data,
                    &mut signature,
                )
                .is_ok()
            {
                return Ok(signature);
            }
        }
        let digest: [u8; 32] =
            sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), data))
                .into();
        self.key
            .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
            .map_err(|e| e.to_string())
    }
}

/// RSASSA-PKCS1-v1_5 SHA-256 verification of `signature` over `data`, through ring (keys of
/// 1024 to 8192 bits, as RFC 8301 allows).
pub(crate) fn rsa_verify(key: &rsa::RsaPublicKey, data: &[u8], signature: &[u8]) -> bool {
    let Ok(der) = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(key) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        der.as_bytes(),
    )
    .verify(data, signature)
    .is_ok()
}

/// A private key that signs DKIM signatures.
#[derive(Clone)]
pub enum SigningKey {
    /// RSA, signing rsa-sha256.
    Rsa(Box<RsaSigningKey>),
    /// Ed25519, signing ed25519-sha256.
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKey::Rsa(k) => write!(f, "SigningKey::Rsa({} bits, redacted)", k.bits()),
            SigningKey::Ed25519(_) => f.write_str("SigningKey::Ed25519(redacted)"),
        }
    }
}

impl SigningKey {
    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or Ed25519) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`), as `openssl genpkey` / `opendkim-genkey` write them.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs1_pem(pem) {
            return Ok(SigningKey::Rsa(Box::new(RsaSigningKey::new(k))));
        }
        if let Ok(k) = <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(pem) {
            return Ok(SigningKey::Rsa(Box::new(RsaSigningKey::new(k))));
        }
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(|k| SigningKey::Ed25519(Box::new(k)))
            .map_err(|_| KeyError::BadPrivateKey)
    }

    /// Writes the key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        let pem = match self {
            SigningKey::Rsa(k) => {
                rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(&k.key, rsa::pkcs8::LineEnding::LF)
            }
            // PKCS#8 version 1 (RFC 8410 §7), without the optional public key: OpenSSL 3.0
            // (and so OpenDKIM) cannot read the version 2 form.
            SigningKey::Ed25519(k) => return Ok(ed25519_pkcs8_v1_pem(&k.to_bytes())),
        };
        pem.map(|p| p.to_string())
            .map_err(|_| KeyError::BadPrivateKey)
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            SigningKey::Rsa(_) => KeyType::Rsa,
            SigningKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The TXT record that publishes this key's public half: `v=DKIM1; k=...; p=...`.
    pub fn dns_record(&self) -> Result<String, KeyError> {
        let (k, p) = match self {
            SigningKey::Rsa(key) => {
                let der = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key.key.to_public_key())
                    .map_err(|_| KeyError::BadPrivateKey)?;
                (
                    "rsa",
                    base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
                )
            }
            SigningKey::Ed25519(key) => (
                "ed25519",
                base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes()),
            ),
        };
        Ok(format!("v=DKIM1; k={k}; p={p}"))
    }

    /// The public key that verifies this key's signatures.
    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::Rsa(k) => PublicKey::Rsa(k.key.to_public_key()),
            SigningKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// Ed25519 key from its 32-byte seed.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Self {
        SigningKey::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(seed)))
    }

    /// A new key from `rng` (the caller brings the randomness). RSA keys have `rsa_bits` bits.
    pub fn generate<R>(key_type: KeyType, rsa_bits: usize, rng: &mut R) -> Result<Self, KeyError>
    where
        R: rsa::rand_core::CryptoRngCore,
    {
        match key_type {
            KeyType::Rsa => rsa::RsaPrivateKey::new(rng, rsa_bits)
                .map(|k| SigningKey::Rsa(Box::new(RsaSigningKey::new(k))))
                .map_err(|_| KeyError::WeakKey(rsa_bits)),
            KeyType::Ed25519 => Ok(SigningKey::Ed25519(Box::new(
                ed25519_dalek::SigningKey::generate(rng),
            ))),
        }
    }
}

/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }`.
fn ed25519_pkcs8_v1_pem(seed: &[u8; 32]) -> String {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let der = [&PREFIX[..], &seed[..]].concat();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc8463_key_record() {
        let r =
            KeyRecord::parse("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
                .unwrap();
        assert_eq!(r.key.key_type(), KeyType::Ed25519);
        assert_eq!(r.key.bits(), 256);
    }

    #[test]
    fn ed25519_pem_round_trips() {
        let key = SigningKey::ed25519_from_seed(&[9; 32]);
        let pem = key.to_pem().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAkJ"),
            "{pem}"
        );
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(again.dns_record().unwrap(), key.dns_record().unwrap());
    }

    #[test]
    fn rejects_bad_records() {
        assert_eq!(
            KeyRecord::parse("v=DKIM1; p=").unwrap_err(),
            KeyError::Revoked
        );
        assert_eq!(KeyRecord::parse("k=rsa").unwrap_err(), KeyError::MissingKey);
        assert_eq!(
            KeyRecord::parse("k=rsa; v=DKIM1; p=AA").unwrap_err(),
            KeyError::Version
        );
        assert_eq!(
            KeyRecord::parse("k=dsa; p=AA").unwrap_err(),
            KeyError::UnknownKeyType("dsa".into())
        );
        assert_eq!(
            KeyRecord::parse("k=rsa; p=AAAA").unwrap_err(),
            KeyError::BadKey("RSA")
        );
        assert_eq!(
            KeyRecord::parse("k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
                .unwrap_err(),
            KeyError::HashNotAllowed
        );
    }
}
