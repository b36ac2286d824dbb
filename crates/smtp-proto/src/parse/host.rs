//! Domains and address literals (RFC 5321 §4.1.2, §4.1.3; RFC 6531 §3.3).

use super::{class, fail, is_utf8_octet, mismatch, Cx, In, PResult};
use crate::types::{AddressLiteral, Domain, GeneralLiteral, Host};
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
/// hyphens included), and whether any is `%x80-FF`. Each label is one tight
/// table scan; its length and hyphens are checked at its end.
#[inline]
pub(crate) fn domain_span(i: In<'_>, utf8: bool) -> PResult<'_, (&[u8], bool)> {
    let allowed = class::with_utf8(class::LDH, utf8);
    // The first bad label's error; a domain too long overrides it.
    let mut bad: Option<ParseError> = None;
    let mut end = 0;
    loop {
        let label = &i[end..];
        let len = class::span(label, allowed);
        if bad.is_none() {
            bad = label_error(&label[..len]);
        }
        end += len;
        match i.get(end) {
            Some(b'.') => end += 1,
            _ => break,
        }
    }
    if !utf8 && i.get(end).is_some_and(|&b| is_utf8_octet(b)) {
        return fail(ParseError::Utf8NotAllowed);
    }
    if end == 0 {
        return mismatch(i);
    }
    if end > MAX_DOMAIN {
        return fail(ParseError::DomainTooLong);
    }
    if let Some(e) = bad {
        return fail(e);
    }
    let domain = &i[..end];
    let high = utf8 && !domain.is_ascii();
    if high && std::str::from_utf8(domain).is_err() {
        return fail(ParseError::BadAddress);
    }
    Ok((&i[end..], (domain, high)))
}

/// What is wrong with one label, if anything: longer than 63 octets, empty,
/// or a hyphen first or last.
#[inline(always)]
fn label_error(label: &[u8]) -> Option<ParseError> {
    match (label.first(), label.last()) {
        _ if label.len() > MAX_LABEL => Some(ParseError::DomainTooLong),
        (Some(&first), Some(&last)) if first != b'-' && last != b'-' => None,
        _ => Some(ParseError::BadAddress),
    }
}

/// [`domain_span`] as a [`Domain`].
pub(crate) fn domain<'a>(i: In<'a>, cx: &Cx<'a>) -> PResult<'a, Domain> {
    let (rest, (raw, _)) = domain_span(i, cx.utf8)?;
    match cx.str_of(raw) {
        Some(s) => Ok((rest, Domain::from_validated(s))),
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
    if tag.eq_ignore_ascii_case(b"IPv6") {
        let content = std::str::from_utf8(content).ok()?;
        return content.parse::<Ipv6Addr>().ok().map(AddressLiteral::V6);
    }
    general_literal(tag, content).map(AddressLiteral::General)
}

/// `General-address-literal = Standardized-tag ":" 1*dcontent`, where the
/// tag is an `Ldh-str` (no hyphen last) and not `IPv6`.
pub(crate) fn general_literal(tag: &[u8], content: &[u8]) -> Option<GeneralLiteral> {
    let tag_ok = !tag.is_empty()
        && tag.iter().all(|&b| is_ldh(b))
        && tag.last() != Some(&b'-')
        && !tag.eq_ignore_ascii_case(b"IPv6");
    if !tag_ok || content.is_empty() || !content.iter().all(|&b| is_dcontent(b)) {
        return None;
    }
    let tag = std::str::from_utf8(tag).ok()?;
    let content = std::str::from_utf8(content).ok()?;
    Some(GeneralLiteral::from_checked(tag, content))
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
