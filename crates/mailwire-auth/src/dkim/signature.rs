//! The DKIM-Signature header field (RFC 6376 §3.5).

use base64::Engine as _;

use super::canon::Canonicalization;
use crate::tag_list::{parse_tag_list, strip_fws, TagListError};

/// A signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `rsa-sha256`
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463)
    Ed25519Sha256,
}

impl Algorithm {
    /// The name used in the `a=` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }
}

/// Why a DKIM-Signature field could not be read (a `permerror` for that signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The value is not a tag list.
    #[error("not a tag list: {0}")]
    Syntax(#[from] TagListError),
    /// The value holds bytes that are not UTF-8.
    #[error("the signature is not UTF-8")]
    NotUtf8,
    /// A required tag is missing.
    #[error("required tag {0}= is missing")]
    Missing(&'static str),
    /// `v=` is not 1.
    #[error("unsupported version v={0}")]
    Version(String),
    /// `a=rsa-sha1` (RFC 8301 forbids it) or an algorithm we do not know.
    #[error("unsupported algorithm a={0}")]
    Algorithm(String),
    /// `c=` names an unknown canonicalization.
    #[error("unknown canonicalization c={0}")]
    Canonicalization(String),
    /// `q=` does not include dns/txt.
    #[error("unsupported query method q={0}")]
    QueryMethod(String),
    /// A base64 tag (`b=` or `bh=`) is not base64.
    #[error("tag {0}= is not base64")]
    Base64(&'static str),
    /// `h=` does not include From.
    #[error("h= does not sign the From field")]
    FromNotSigned,
    /// `i=` is not in the `d=` domain.
    #[error("i= is not within d=")]
    IdentityDomain,
    /// A number (`l=`, `t=`, `x=`) is malformed.
    #[error("tag {0}= is not a number")]
    Number(&'static str),
    /// `x=` is earlier than `t=`.
    #[error("x= is earlier than t=")]
    ExpiresBeforeSigned,
    /// `d=` or `s=` is not a domain name.
    #[error("tag {0}= is not a domain name")]
    Domain(&'static str),
}

/// A parsed DKIM-Signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimSignature {
    /// `a=`
    pub algorithm: Algorithm,
    /// `b=`, decoded.
    pub signature: Vec<u8>,
    /// `bh=`, decoded.
    pub body_hash: Vec<u8>,
    /// `c=` header canonicalization.
    pub header_canon: Canonicalization,
    /// `c=` body canonicalization.
    pub body_canon: Canonicalization,
    /// `d=`, lowercase.
    pub domain: String,
    /// `s=`
    pub selector: String,
    /// `h=`, names as written.
    pub signed_headers: Vec<String>,
    /// `i=` (defaults to `@d`).
    pub identity: String,
    /// `l=`, if present.
    pub body_length: Option<u64>,
    /// `t=` in seconds since the epoch.
    pub timestamp: Option<u64>,
    /// `x=` in seconds since the epoch.
    pub expiration: Option<u64>,
}

fn number(tag: &'static str, value: &str) -> Result<u64, SignatureError> {
    let digits = strip_fws(value);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Number(tag));
    }
    digits.parse().map_err(|_| SignatureError::Number(tag))
}

fn base64(tag: &'static str, value: &str) -> Result<Vec<u8>, SignatureError> {
    base64::engine::general_purpose::STANDARD
        .decode(strip_fws(value))
        .map_err(|_| SignatureError::Base64(tag))
}

pub(crate) fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b >= 0x80)
        })
}

impl DkimSignature {
    /// Reads the value of a DKIM-Signature field (everything after the colon).
    pub fn parse(value: &[u8]) -> Result<Self, SignatureError> {
        let value = std::str::from_utf8(value).map_err(|_| SignatureError::NotUtf8)?;
        let tags = parse_tag_list(value)?;
        let get = |name: &str| tags.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let need = |name: &'static str| get(name).ok_or(SignatureError::Missing(name));

        let version = need("v")?;
        if version != "1" {
            return Err(SignatureError::Version(version.to_owned()));
        }
        let algorithm = match need("a")?.to_ascii_lowercase().as_str() {
            "rsa-sha256" => Algorithm::RsaSha256,
            "ed25519-sha256" => Algorithm::Ed25519Sha256,
            other => return Err(SignatureError::Algorithm(other.to_owned())),
        };
        let signature = base64("b", need("b")?)?;
        let body_hash = base64("bh", need("bh")?)?;
        let (header_canon, body_canon) = match get("c") {
            None => (Canonicalization::Simple, Canonicalization::Simple),
            Some(c) => {
                let bad = || SignatureError::Canonicalization(c.to_owned());
                let (h, b) = c.split_once('/').unwrap_or((c, "simple"));
                (
                    Canonicalization::parse(h).ok_or_else(bad)?,
                    Canonicalization::parse(b).ok_or_else(bad)?,
                )
            }
        };
        let domain = need("d")?.to_ascii_lowercase();
        if !is_domain(&domain) {
            return Err(SignatureError::Domain("d"));
        }
        let selector = need("s")?.to_owned();
        if !is_domain(&selector) {
            return Err(SignatureError::Domain("s"));
        }
        let signed_headers: Vec<String> = strip_fws(need("h")?)
            .split(':')
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
        if !signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("from"))
        {
            return Err(SignatureError::FromNotSigned);
        }
        let identity = match get("i") {
            Some(i) => {
                let i = strip_fws(i);
                let id_domain = i.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
                match id_domain {
                    Some(d) if d == domain || d.ends_with(&format!(".{domain}")) => i,
                    _ => return Err(SignatureError::IdentityDomain),
                }
            }
            None => format!("@{domain}"),
        };
        if let Some(q) = get("q") {
            if !strip_fws(q)
                .split(':')
                .any(|m| m.eq_ignore_ascii_case("dns/txt"))
            {
                return Err(SignatureError::QueryMethod(q.to_owned()));
            }
        }
        let body_length = get("l").map(|l| number("l", l)).transpose()?;
        let timestamp = get("t").map(|t| number("t", t)).transpose()?;
        let expiration = get("x").map(|x| number("x", x)).transpose()?;
        if let (Some(t), Some(x)) = (timestamp, expiration) {
            if x < t {
                return Err(SignatureError::ExpiresBeforeSigned);
            }
        }
        Ok(DkimSignature {
            algorithm,
            signature,
            body_hash,
            header_canon,
            body_canon,
            domain,
            selector,
            signed_headers,
            identity,
            body_length,
            timestamp,
            expiration,
        })
    }

    /// The DNS name of the key record: `selector._domainkey.domain`.
    pub fn key_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

/// The field with the value of its `b=` tag removed, as hashed by signer and verifier
/// (RFC 6376 §3.5, the "b=" paragraph). Everything else, folding included, stays.
pub(crate) fn without_b_value(raw: &[u8]) -> Vec<u8> {
    let colon = raw.iter().position(|&b| b == b':').map_or(0, |i| i + 1);
    let mut out = raw[..colon].to_vec();
    let mut rest = &raw[colon..];
    loop {
        let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
        let spec = &rest[..end];
        let is_b = spec.iter().position(|&b| b == b'=').is_some_and(|eq| {
            spec[..eq]
                .iter()
                .filter(|b| !b.is_ascii_whitespace())
                .eq(b"b".iter())
        });
        if is_b {
            let eq = spec.iter().position(|&b| b == b'=').map_or(0, |i| i + 1);
            out.extend_from_slice(&spec[..eq]);
            // A field ends in CRLF, which the b= value does not include.
            if end == rest.len() && spec.ends_with(b"\r\n") {
                out.extend_from_slice(b"\r\n");
            }
        } else {
            out.extend_from_slice(spec);
        }
        if end == rest.len() {
            break;
        }
        out.push(b';');
        rest = &rest[end + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_the_b_value() {
        assert_eq!(
            without_b_value(b"DKIM-Signature: v=1; bh=abc; b=de\r\n f; d=x\r\n"),
            b"DKIM-Signature: v=1; bh=abc; b=; d=x\r\n"
        );
        assert_eq!(
            without_b_value(b"DKIM-Signature: v=1; b = de\r\n f\r\n"),
            b"DKIM-Signature: v=1; b =\r\n"
        );
    }

    #[test]
    fn rejects_bad_signatures() {
        let ok = "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=AAAA; b=AAAA";
        assert!(DkimSignature::parse(ok.as_bytes()).is_ok());
        let cases = [
            (
                ok.replace("v=1", "v=2"),
                SignatureError::Version("2".into()),
            ),
            (
                ok.replace("rsa-sha256", "rsa-sha1"),
                SignatureError::Algorithm("rsa-sha1".into()),
            ),
            (
                ok.replace("h=from:to", "h=to"),
                SignatureError::FromNotSigned,
            ),
            (ok.replace("bh=AAAA", "bh=!!"), SignatureError::Base64("bh")),
            (
                format!("{ok}; i=a@other.com"),
                SignatureError::IdentityDomain,
            ),
            (
                format!("{ok}; t=10; x=5"),
                SignatureError::ExpiresBeforeSigned,
            ),
            (format!("{ok}; l=x"), SignatureError::Number("l")),
            (ok.replace("s=sel;", ""), SignatureError::Missing("s")),
        ];
        for (input, err) in cases {
            assert_eq!(DkimSignature::parse(input.as_bytes()), Err(err), "{input}");
        }
        let s = DkimSignature::parse(format!("{ok}; i=a@mail.example.com; c=relaxed").as_bytes())
            .unwrap();
        assert_eq!(s.body_canon, Canonicalization::Simple);
        assert_eq!(s.header_canon, Canonicalization::Relaxed);
        assert_eq!(s.key_name(), "sel._domainkey.example.com");
    }
}
