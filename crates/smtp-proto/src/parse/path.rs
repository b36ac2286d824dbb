//! Paths and mailboxes (RFC 5321 §4.1.2; RFC 6531 §3.3 for UTF-8).

use super::host::{address_literal, domain_span};
use super::{class, fail, is_utf8_octet, mismatch, Cx, In, PResult};
use crate::types::{ForwardPath, Host, Mailbox, ReversePath, MAX_LOCAL_PART, MAX_PATH};
use crate::ParseError;
use nom::bytes::tag;
use nom::Parser;

/// `atext` of RFC 5322, plus `UTF8-non-ascii` under RFC 6531.
fn is_atext(b: u8, utf8: bool) -> bool {
    let allowed = class::with_utf8(class::ATEXT, utf8);
    class::of(b) & allowed != 0
}

/// `Dot-string = Atom *("." Atom)`, checked over a whole token.
pub(crate) fn is_dot_string(s: &[u8], utf8: bool) -> bool {
    !s.is_empty()
        && s.split(|&b| b == b'.')
            .all(|atom| !atom.is_empty() && atom.iter().all(|&b| is_atext(b, utf8)))
}

/// `Dot-string = Atom *("." Atom)`, in one pass: the string and whether it
/// holds a `%x80-FF` octet.
#[inline]
fn dot_string(i: In<'_>, utf8: bool) -> PResult<'_, (&[u8], bool)> {
    let allowed = class::with_utf8(class::ATEXT, utf8);
    let mut end = 0;
    // Each atom is one tight table scan; a dot continues the string only
    // after a non-empty atom.
    let last = loop {
        let len = class::span(&i[end..], allowed);
        end += len;
        match i.get(end) {
            Some(b'.') if len > 0 => end += 1,
            _ => break len,
        }
    };
    if !utf8 && i.get(end).is_some_and(|&b| is_utf8_octet(b)) {
        return fail(ParseError::Utf8NotAllowed);
    }
    if end == 0 {
        return mismatch(i);
    }
    // An empty atom: after a dot, or a dot after a dot.
    if last == 0 {
        return fail(ParseError::BadAddress);
    }
    let s = &i[..end];
    Ok((&i[end..], (s, utf8 && !s.is_ascii())))
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`
/// `QcontentSMTP = qtextSMTP / quoted-pairSMTP`
/// `qtextSMTP = %d32-33 / %d35-91 / %d93-126` (and UTF-8 under RFC 6531)
/// `quoted-pairSMTP = %d92 %d32-126`
fn quoted_string(i: In<'_>, utf8: bool) -> PResult<'_, (&[u8], bool)> {
    if i.first() != Some(&b'"') {
        return mismatch(i);
    }
    let mut pos = 1;
    let mut high = false;
    loop {
        match i.get(pos) {
            Some(b'"') => return Ok((&i[pos + 1..], (&i[..pos + 1], high))),
            Some(b'\\') => match i.get(pos + 1) {
                Some(32..=126) => pos += 2,
                _ => return fail(ParseError::BadAddress),
            },
            Some(&b) if (32..=126).contains(&b) => pos += 1,
            Some(&b) if utf8 && is_utf8_octet(b) => {
                high = true;
                pos += 1;
            }
            Some(&b) if is_utf8_octet(b) => return fail(ParseError::Utf8NotAllowed),
            _ => return fail(ParseError::BadAddress),
        }
    }
}

/// `Local-part = Dot-string / Quoted-string`
#[inline]
fn local_part(i: In<'_>, utf8: bool) -> PResult<'_, (&[u8], bool)> {
    let (rest, (local, high)) = if i.first() == Some(&b'"') {
        quoted_string(i, utf8)?
    } else {
        dot_string(i, utf8)?
    };
    if !utf8 && rest.first().is_some_and(|&b| is_utf8_octet(b)) {
        return fail(ParseError::Utf8NotAllowed);
    }
    if local.len() > MAX_LOCAL_PART {
        return fail(ParseError::LocalPartTooLong);
    }
    Ok((rest, (local, high)))
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`
///
/// Built as one string: the local part, `@`, and the domain as sent (an
/// address literal in its canonical form).
pub(crate) fn mailbox<'a>(i: In<'a>, cx: &Cx<'a>) -> PResult<'a, Mailbox> {
    let (rest, (local, _)) = local_part(i, cx.utf8)?;
    let Some(rest) = rest.strip_prefix(b"@") else {
        return fail(ParseError::BadAddress);
    };
    if rest.first() == Some(&b'[') {
        let (rest, literal) = address_literal(rest)?;
        let Some(local) = cx.str_of(local) else {
            return fail(ParseError::BadAddress);
        };
        return match Mailbox::from_parts(local, Host::Literal(literal)) {
            Ok(m) => Ok((rest, m)),
            Err(e) => fail(e),
        };
    }
    let (rest, (domain, _)) = domain_span(rest, cx.utf8)?;
    // Local part, `@` and domain lie side by side in the input: one copy.
    let whole = &i[..local.len() + 1 + domain.len()];
    let Some(whole) = cx.str_of(whole) else {
        return fail(ParseError::BadAddress);
    };
    match Mailbox::from_validated_text(whole, local.len()) {
        Ok(m) => Ok((rest, m)),
        Err(e) => fail(e),
    }
}

/// `A-d-l = At-domain *( "," At-domain )`, `At-domain = "@" Domain`
/// (a source route: accepted and ignored, RFC 5321 §4.1.2 and Appendix C).
fn source_route(i: In<'_>, utf8: bool) -> PResult<'_, ()> {
    let mut rest = i;
    loop {
        let (r, _) = tag("@").parse_complete(rest)?;
        let (r, _) = domain_span(r, utf8)?;
        match r.first() {
            Some(b',') => rest = &r[1..],
            Some(b':') => return Ok((&r[1..], ())),
            _ => return fail(ParseError::BadAddress),
        }
    }
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"`
fn path<'a>(i: In<'a>, cx: &Cx<'a>) -> PResult<'a, Mailbox> {
    let Some(rest) = i.strip_prefix(b"<") else {
        return mismatch(i);
    };
    let rest = if rest.first() == Some(&b'@') {
        source_route(rest, cx.utf8)?.0
    } else {
        rest
    };
    let (rest, mailbox) = mailbox(rest, cx)?;
    let Some(rest) = rest.strip_prefix(b">") else {
        return fail(ParseError::BadAddress);
    };
    if i.len() - rest.len() > MAX_PATH {
        return fail(ParseError::PathTooLong);
    }
    Ok((rest, mailbox))
}

/// A path, or with `unbracketed` leniency a bare mailbox.
#[inline]
fn path_or_bare<'a>(i: In<'a>, cx: &Cx<'a>, unbracketed: bool) -> PResult<'a, Mailbox> {
    if i.first() == Some(&b'<') || !unbracketed {
        return path(i, cx);
    }
    mailbox(i, cx)
}

/// `Reverse-path = Path / "<>"`
#[inline]
pub(crate) fn reverse_path<'a>(
    i: In<'a>,
    cx: &Cx<'a>,
    unbracketed: bool,
) -> PResult<'a, ReversePath> {
    if let Some(rest) = i.strip_prefix(b"<>") {
        return Ok((rest, ReversePath::Null));
    }
    match path_or_bare(i, cx, unbracketed) {
        Ok((rest, m)) => Ok((rest, ReversePath::Mailbox(m))),
        Err(nom::Err::Error(_)) => fail(ParseError::BadAddress),
        Err(e) => Err(e),
    }
}

/// `( "<Postmaster@" Domain ">" ) / "<Postmaster>" / Forward-path`
#[inline]
pub(crate) fn forward_path<'a>(
    i: In<'a>,
    cx: &Cx<'a>,
    unbracketed: bool,
) -> PResult<'a, ForwardPath> {
    const POSTMASTER: &[u8] = b"<Postmaster>";
    // Most paths are not `<Postmaster>`: the octet after `<` tells.
    if i.get(1).is_some_and(|&b| b | 0x20 == b'p') {
        if let Some((head, rest)) = i.split_at_checked(POSTMASTER.len()) {
            if head.eq_ignore_ascii_case(POSTMASTER) {
                return Ok((rest, ForwardPath::Postmaster));
            }
        }
    }
    match path_or_bare(i, cx, unbracketed) {
        Ok((rest, m)) => Ok((rest, ForwardPath::Mailbox(m))),
        Err(nom::Err::Error(_)) => fail(ParseError::BadAddress),
        Err(e) => Err(e),
    }
}
