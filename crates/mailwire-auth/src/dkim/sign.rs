//! DKIM signing (RFC 6376 §5, RFC 8463), streaming the body.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::canon::{BodyCanonicalizer, Canonicalization};
use super::hash::header_data;
use super::key::{KeyError, SigningKey};
use super::signature::{is_domain, without_b_value, Algorithm};
use crate::header::{HeaderField, HeaderTooLarge, MessageSplitter, DEFAULT_MAX_HEADER_BYTES};

/// The fields signed by default when present (RFC 6376 §5.4.1), From always and once more
/// than present, so that no From can be added later without breaking the signature.
pub const DEFAULT_SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Sender",
];

/// Why a message could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The domain or selector is not a domain name.
    #[error("{0:?} is not a valid domain name or selector")]
    BadName(String),
    /// The message has no From field (RFC 6376 §5.4 requires signing it).
    #[error("the message has no From field")]
    NoFrom,
    /// The header section is too large.
    #[error(transparent)]
    HeaderTooLarge(#[from] HeaderTooLarge),
    /// The key failed to sign.
    #[error("the key could not sign: {0}")]
    Key(String),
}

/// One signature to add: the key, the signing domain (`d=`) and selector (`s=`), and choices.
#[derive(Debug, Clone)]
pub struct DkimSigner {
    key: SigningKey,
    domain: String,
    selector: String,
    headers: Option<Vec<String>>,
    header_canon: Canonicalization,
    body_canon: Canonicalization,
    expire_after: Option<u64>,
    identity: Option<String>,
}

impl DkimSigner {
    /// A signer for `d=domain; s=selector` with relaxed/relaxed canonicalization, the default
    /// header list, and no expiry.
    pub fn new(key: SigningKey, domain: &str, selector: &str) -> Result<Self, SignError> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if !is_domain(&domain) {
            return Err(SignError::BadName(domain));
        }
        if !is_domain(selector) {
            return Err(SignError::BadName(selector.to_owned()));
        }
        Ok(DkimSigner {
            key,
            domain,
            selector: selector.to_owned(),
            headers: None,
            header_canon: Canonicalization::Relaxed,
            body_canon: Canonicalization::Relaxed,
            expire_after: None,
            identity: None,
        })
    }
    /// Header and body canonicalization (`c=`).
    pub fn canonicalization(mut self, header: Canonicalization, body: Canonicalization) -> Self {
        self.header_canon = header;
        self.body_canon = body;
        self
    }
    /// Signs exactly these fields (`h=`), in this order, instead of the default list.
    pub fn headers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.headers = Some(names.into_iter().map(Into::into).collect());
        self
    }
    /// Adds `x=`: the signature expires this many seconds after signing.
    pub fn expire_after(mut self, seconds: u64) -> Self {
        self.expire_after = Some(seconds);
        self
    }
    /// Adds `i=`, the agent or user identifier (must be within the domain).
    pub fn identity(mut self, identity: &str) -> Self {
        self.identity = Some(identity.to_owned());
        self
    }
    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.key {
            SigningKey::Rsa(_) => Algorithm::RsaSha256,
            SigningKey::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }
    /// The signing domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// The selector.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Signs a whole message held in memory; returns the DKIM-Signature field (with CRLF) to
    /// put in front of it. `now` is seconds since the Unix epoch (`t=`).
    pub fn sign(&self, message: &[u8], now: u64) -> Result<String, SignError> {
        let mut stream = SigningStream::new(std::slice::from_ref(self));
        stream.feed(message)?;
        Ok(stream.finish(now)?.concat())
    }

    fn header_names(&self, headers: &[HeaderField]) -> Vec<String> {
        if let Some(names) = &self.headers {
            return names.clone();
        }
        let mut names = Vec::new();
        for name in DEFAULT_SIGNED_HEADERS {
            let count = headers.iter().filter(|h| h.is(name)).count();
            let count = if *name == "From" { count + 1 } else { count };
            names.extend(std::iter::repeat_n(name.to_ascii_lowercase(), count));
        }
        names
    }

    fn signature_field(
        &self,
        headers: &[HeaderField],
        body_hash: &[u8],
        now: u64,
    ) -> Result<String, SignError> {
        if !headers.iter().any(|h| h.is("from")) {
            return Err(SignError::NoFrom);
        }
        let b64 = &base64::engine::general_purpose::STANDARD;
        let names = self.header_names(headers);
        let mut field = format!(
            "DKIM-Signature: v=1; a={}; c={}/{}; d={}; s={};\r\n\tt={};",
            self.algorithm().as_str(),
            self.header_canon.as_str(),
            self.body_canon.as_str(),
            self.domain,
            self.selector,
            now
        );
        if let Some(after) = self.expire_after {
            field.push_str(&format!(" x={};", now.saturating_add(after)));
        }
        if let Some(i) = &self.identity {
            field.push_str(&format!(" i={i};"));
        }
        field.push_str("\r\n\th=");
        let mut line = 3;
        for (n, name) in names.iter().enumerate() {
            if n > 0 {
                if line + name.len() > 70 {
                    field.push_str("\r\n\t");
                    line = 1;
                }
                field.push(':');
                line += 1;
            }
            field.push_str(name);
            line += name.len();
        }
        field.push_str(&format!(";\r\n\tbh={};\r\n\tb=", b64.encode(body_hash)));
        let data = header_data(
            self.header_canon,
            headers,
            &names,
            &without_b_value(field.as_bytes()),
        );
        let signature = match &self.key {
            SigningKey::Rsa(key) => key.sign(&data).map_err(SignError::Key)?,
            SigningKey::Ed25519(key) => {
                let data_hash: [u8; 32] = Sha256::digest(&data).into();
                ed25519_dalek::Signer::sign(key.as_ref(), &data_hash)
                    .to_bytes()
                    .to_vec()
            }
        };
        let encoded = b64.encode(signature);
        for (n, piece) in encoded.as_bytes().chunks(72).enumerate() {
            if n > 0 {
                field.push_str("\r\n\t ");
            }
            field.push_str(&String::from_utf8_lossy(piece));
        }
        field.push_str("\r\n");
        Ok(field)
    }
}

/// Signs a message given in chunks with one or more signers (for example RSA and Ed25519):
/// only the header section is held; the body is hashed as it passes.
///
/// ```
/// use mailwire_auth::dkim::{DkimSigner, SigningKey, SigningStream};
/// let key = SigningKey::ed25519_from_seed(&[7; 32]);
/// let signers = [DkimSigner::new(key, "example.com", "s1")?];
/// let mut stream = SigningStream::new(&signers);
/// stream.feed(b"From: a@example.com\r\nSubject: hi\r\n\r\n")?;
/// stream.feed(b"Hello.\r\n")?;
/// let fields = stream.finish(1_700_000_000)?;
/// assert!(fields[0].starts_with("DKIM-Signature: v=1; a=ed25519-sha256;"));
/// # Ok::<(), mailwire_auth::dkim::SignError>(())
/// ```
#[derive(Debug)]
pub struct SigningStream<'a> {
    signers: &'a [DkimSigner],
    splitter: MessageSplitter,
    simple: Option<BodyCanonicalizer<Sha256>>,
    relaxed: Option<BodyCanonicalizer<Sha256>>,
}

impl<'a> SigningStream<'a> {
    /// Starts a message.
    pub fn new(signers: &'a [DkimSigner]) -> Self {
        let wants = |c| signers.iter().any(|s| s.body_canon == c);
        SigningStream {
            signers,
            splitter: MessageSplitter::new(DEFAULT_MAX_HEADER_BYTES),
            simple: wants(Canonicalization::Simple)
                .then(|| BodyCanonicalizer::new(Canonicalization::Simple, Sha256::new())),
            relaxed: wants(Canonicalization::Relaxed)
                .then(|| BodyCanonicalizer::new(Canonicalization::Relaxed, Sha256::new())),
        }
    }

    /// Takes the next chunk of the message.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), SignError> {
        let (simple, relaxed) = (&mut self.simple, &mut self.relaxed);
        self.splitter.feed(chunk, &mut |_, body| {
            if let Some(c) = simple.as_mut() {
                c.feed(body);
            }
            if let Some(c) = relaxed.as_mut() {
                c.feed(body);
            }
        })?;
        Ok(())
    }

    /// Ends the message; returns one DKIM-Signature field (with CRLF) per signer, in order, to
    /// be put in front of the message. `now` is seconds since the Unix epoch.
    pub fn finish(mut self, now: u64) -> Result<Vec<String>, SignError> {
        let headers = self.splitter.finish();
        let simple: Option<[u8; 32]> = self.simple.take().map(|c| c.finish().finalize().into());
        let relaxed: Option<[u8; 32]> = self.relaxed.take().map(|c| c.finish().finalize().into());
        self.signers
            .iter()
            .map(|s| {
                let bh = match s.body_canon {
                    Canonicalization::Simple => simple,
                    Canonicalization::Relaxed => relaxed,
                }
                .unwrap_or_default();
                s.signature_field(&headers, &bh, now)
            })
            .collect()
    }
}

/// Reads a PEM key file's text into a signer; a convenience for tools.
pub fn signer_from_pem(
    pem: &str,
    domain: &str,
    selector: &str,
) -> Result<DkimSigner, SignOrKeyError> {
    let key = SigningKey::from_pem(pem)?;
    Ok(DkimSigner::new(key, domain, selector)?)
}

/// Either kind of failure when building a signer from a key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignOrKeyError {
    /// The key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The names.
    #[error(transparent)]
    Sign(#[from] SignError),
}
