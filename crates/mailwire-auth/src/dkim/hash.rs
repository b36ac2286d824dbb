//! The header hash both signer and verifier compute (RFC 6376 §3.7).

use super::canon::{canonicalize_header, Canonicalization};
use crate::header::HeaderField;

/// The canonical fields named in `signed` (each name takes the last not yet used instance, so
/// a name listed more often than present adds nothing: oversigning), then the signature field
/// itself with its `b=` value removed and no final CRLF: the data RSA signs (RFC 6376 §3.7).
pub(crate) fn header_data(
    canon: Canonicalization,
    headers: &[HeaderField],
    signed: &[String],
    signature_field_without_b: &[u8],
) -> Vec<u8> {
    let mut used = vec![false; headers.len()];
    let mut data: Vec<u8> = Vec::with_capacity(1024);
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
            data.extend_from_slice(&buf);
        }
    }
    buf.clear();
    canonicalize_header(canon, signature_field_without_b, &mut buf);
    data.extend_from_slice(buf.strip_suffix(b"\r\n").unwrap_or(&buf));
    data
}
