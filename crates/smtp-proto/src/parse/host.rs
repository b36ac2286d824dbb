//! Domains and address literals (RFC 5321 §4.1.2, §4.1.3; RFC 6531 §3.3).

use super::{class, fail, is_utf8_octet, mismatch, Cx, In, PResult};
use crate::types::{AddressLiteral, Domain, Host};
use crate::ParseError;
use nom::bytes::{tag, take_while};
use nom::Parser;
use std::net::{Ipv4Addr, Ipv6Addr};

const MAX_DOMAIN: usize = 255;
const MAX_LABEL: usize = 63;

fn is_ldh(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// `Domain = sub-domain *("." sub-domain)`
/// `sub-domain = Let-dig [Ldh-str]` / `U-label` (RFC 6531, when `utf8`)
///
/// The domain's octets, found and checked in one pass (label lengths and
/// hyphens included), and whether any is `%x80-FF`.
#[inline]
pub(crate) fn domain_span(i: In<'_>, utf8: bool) -> PResult<'_, (&[u8], bool)> {
    let allowed = if utf8 {
        class::LDH | class::HIGH
    } else {
        class::LDH
    };
    let mut label_start = 0;
    // The classes seen, for `%x80-FF`.
    let mut seen = 0;
    // The first bad label's error; a domain too long overrides it.
    let mut bad: Option<ParseError> = None;
    let label_check = |label: &[u8], bad: &mut Option<ParseError>| {
        if bad.is_some() {
            return;
        }
        if label.len() > MAX_LABEL {
            *bad = Some(ParseError::DomainTooLong);
        } else if label.first().is_none_or(|&b| b == b'-') || label.last() == Some(&b'-') {
            *bad = Some(ParseError::BadAddress);
        }
    };
    let mut end = i.len();
    for (k, &b) in i.iter().enumerate() {
        let c = class::of(b);
        if c & allowed != 0 {
            seen |= c;
        } else if b == b'.' {
            label_check(&i[label_start.min(k)..k], &mut bad);
            label_start = k + 1;
        } else {
            end = k;
            break;
        }
    }
    let high = seen & class::HIGH != 0;
    if !utf8 && i.get(end).is_some_and(|&b| is_utf8_octet(b)) {
        return fail(ParseError::Utf8NotAllowed);
    }
    if end == 0 {
        return mismatch(i);
    }
    if end > MAX_DOMAIN {
        return fail(ParseError::DomainTooLong);
    }
    label_check(&i[label_start.min(end)..end], &mut bad);
    if let Some(e) = bad {
        return fail(e);
    }
    if high && std::str::from_utf8(&i[..end]).is_err() {
        return fail(ParseError::BadAddress);
    }
    Ok((&i[end..], (&i[..end], high)))
}

/// [`domain_span`] as a [`Domain`].
pub(crate) fn domain<'a>(i: In<'a>, cx: &Cx<'a>) -> PResult<'a, Domain> {
    let (rest, (raw, _)) = domain_span(i, cx.utf8)?;
    match cx.str_of(raw) {
        Some(s) => Ok((rest, Domain::from_validated(s.to_owned()))),
        None => fail(ParseError::BadAddress),
    }
}

/// `dcontent = %d33-90 / %d94-126`
fn is_dcontent(b: u8) -> bool {
    matches!(b, 33..=90 | 94..=126)
}

/// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
///  General-address-literal ) "]"`
pub(crate) fn address_literal(i: In<'_>) -> PResult<'_, AddressLiteral> {
    let (rest, (_, inner, _)) = (tag("["), take_while(is_dcontent), tag("]")).parse_complete(i)?;
    match literal_body(inner) {
        Some(lit) => Ok((rest, lit)),
        None => fail(ParseError::BadAddress),
    }
}

fn literal_body(inner: &[u8]) -> Option<AddressLiteral> {
    // Only the tagged forms hold a colon; a tag (`Ldh-str`) may start with a digit.
    let Some(colon) = inner.iter().position(|&b| b == b':') else {
        return ipv4_dotnum(inner).map(AddressLiteral::V4);
    };
    let (tag, content) = (&inner[..colon], &inner[colon + 1..]);
    if tag.is_empty() || content.is_empty() || !tag.iter().all(|&b| is_ldh(b)) {
        return None;
    }
    let tag = std::str::from_utf8(tag).ok()?;
    let content = std::str::from_utf8(content).ok()?;
    if tag.eq_ignore_ascii_case("IPv6") {
        return content.parse::<Ipv6Addr>().ok().map(AddressLiteral::V6);
    }
    if tag.ends_with('-') {
        return None;
    }
    Some(AddressLiteral::General {
        tag: tag.to_owned(),
        content: content.to_owned(),
    })
}

/// `IPv4-address-literal = Snum 3("." Snum)`, `Snum = 1*3DIGIT` (0-255)
fn ipv4_dotnum(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = part.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
        *octet = u8::try_from(n).ok()?;
    }
    match parts.next() {
        None => Some(Ipv4Addr::from(octets)),
        Some(_) => None,
    }
}

/// `Domain / address-literal`, as EHLO and mailboxes use it.
pub(crate) fn host<'a>(i: In<'a>, cx: &Cx<'a>) -> PResult<'a, Host> {
    match i.first() {
        Some(b'[') => address_literal(i).map(|(r, l)| (r, Host::Literal(l))),
        Some(_) => domain(i, cx).map(|(r, d)| (r, Host::Domain(d))),
        None => mismatch(i),
    }
}
