//! The header hash both signer and verifier compute (RFC 6376 §3.7).

use sha2::{Digest, Sha256};

use super::canon::{canonicalize_header, Canonicalization};
use crate::header::HeaderField;

/// Hashes the fields named in `signed` (each name takes the last not yet used instance, so a
/// name listed more often than present hashes nothing: oversigning), then the signature field
/// itself with its `b=` value removed and no final CRLF.
pub(crate) fn header_hash(
    canon: Canonicalization,
    headers: &[HeaderField],
    signed: &[String],
    signature_field_without_b: &[u8],
) -> [u8; 32] {
    let mut used = vec![false; headers.len()];
    let mut hasher = Sha256::new();
    let mut buf = Vec::with_capacity(256);
    for name in signed {
        let found = headers
            .iter()
            .enumerate()
            .rev()
            .find(|(i, h)| !used[*i] && h.is(name.trim()));
        if let Some((i, field)) = found {
            used[i] = true;
            buf.clear();
            canonicalize_header(canon, field.raw(), &mut buf);
            hasher.update(&buf);
        }
    }
    buf.clear();
    canonicalize_header(canon, signature_field_without_b, &mut buf);
    hasher.update(buf.strip_suffix(b"\r\n").unwrap_or(&buf));
    hasher.finalize().into()
}
