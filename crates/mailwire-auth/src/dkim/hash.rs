//! The header hash both signer and verifier compute (RFC 6376 §3.7).

use std::collections::HashMap;

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
    // Each name's fields, in message order; taking from the back gives the bottom-most
    // unused one in constant time, so a hostile h= list costs linear time.
    let mut by_name: HashMap<Vec<u8>, Vec<&HeaderField>> = HashMap::new();
    for field in headers {
        by_name
            .entry(field.name().to_ascii_lowercase())
            .or_default()
            .push(field);
    }
    let mut data: Vec<u8> = Vec::with_capacity(1024);
    let mut buf = Vec::with_capacity(256);
    for name in signed {
        let key = name.trim().to_ascii_lowercase().into_bytes();
        if let Some(field) = by_name.get_mut(&key).and_then(Vec::pop) {
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
