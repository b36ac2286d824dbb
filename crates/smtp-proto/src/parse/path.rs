//! Paths and mailboxes (RFC 5321 §4.1.2; RFC 6531 §3.3 for UTF-8).

use super::host::{domain, host};
use super::{fail, is_utf8_octet, mismatch, In, PResult};
use crate::types::{ForwardPath, Mailbox, ReversePath, MAX_LOCAL_PART, MAX_PATH};
use crate::ParseError;
use nom::bytes::{tag, tag_no_case};
use nom::Parser;

/// `atext` of RFC 5322, plus `UTF8-non-ascii` under RFC 6531.
fn is_atext(b: u8, utf8: bool) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || (utf8 && is_utf8_octet(b))
}

/// `Dot-string = Atom *("." Atom)`, checked over a whole token.
pub(crate) fn is_dot_string(s: &[u8], utf8: bool) -> bool {
    !s.is_empty()
        && s.split(|&b| b == b'.')
            .all(|atom| !atom.is_empty() && atom.iter().all(|&b| is_atext(b, utf8)))
}

/// `Dot-string = Atom *("." Atom)`
fn dot_string(i: In<'_>, utf8: bool) -> PResult<'_, &[u8]> {
    let mut end = 0;
    loop {
        let atom = i[end..].iter().take_while(|&&b| is_atext(b, utf8)).count();
        if !utf8 && i.get(end + atom).is_some_and(|&b| is_utf8_octet(b)) {
            return fail(ParseError::Utf8NotAllowed);
        }
        if atom == 0 {
            return if end == 0 {
                mismatch(i)
            } else {
                fail(ParseError::BadAddress)
            };
        }
        end += atom;
        if i.get(end) == Some(&b'.') {
            end += 1;
        } else {
            return Ok((&i[end..], &i[..end]));
        }
    }
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`
/// `QcontentSMTP = qtextSMTP / quoted-pairSMTP`
/// `qtextSMTP = %d32-33 / %d35-91 / %d93-126` (and UTF-8 under RFC 6531)
/// `quoted-pairSMTP = %d92 %d32-126`
fn quoted_string(i: In<'_>, utf8: bool) -> PResult<'_, &[u8]> {
    if i.first() != Some(&b'"') {
        return mismatch(i);
    }
    let mut pos = 1;
    loop {
        match i.get(pos) {
            Some(b'"') => return Ok((&i[pos + 1..], &i[..pos + 1])),
            Some(b'\\') => match i.get(pos + 1) {
                Some(32..=126) => pos += 2,
                _ => return fail(ParseError::BadAddress),
            },
            Some(&b) if (32..=126).contains(&b) || (utf8 && is_utf8_octet(b)) => pos += 1,
            Some(&b) if is_utf8_octet(b) => return fail(ParseError::Utf8NotAllowed),
            _ => return fail(ParseError::BadAddress),
        }
    }
}

/// `Local-part = Dot-string / Quoted-string`
fn local_part(i: In<'_>, utf8: bool) -> PResult<'_, &[u8]> {
    let (rest, local) = if i.first() == Some(&b'"') {
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
    Ok((rest, local))
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`
pub(crate) fn mailbox(i: In<'_>, utf8: bool) -> PResult<'_, Mailbox> {
    let (rest, local) = local_part(i, utf8)?;
    let (rest, _) = match tag::<_, _, super::NomError>("@").parse_complete(rest) {
        Ok(ok) => ok,
        Err(_) => return fail(ParseError::BadAddress),
    };
    let (rest, host) = host(rest, utf8)?;
    let Ok(local) = std::str::from_utf8(local) else {
        return fail(ParseError::BadAddress);
    };
    match Mailbox::from_validated(local.to_owned(), host) {
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
        let (r, _) = domain(r, utf8)?;
        match r.first() {
            Some(b',') => rest = &r[1..],
            Some(b':') => return Ok((&r[1..], ())),
            _ => return fail(ParseError::BadAddress),
        }
    }
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"`
fn path(i: In<'_>, utf8: bool) -> PResult<'_, Mailbox> {
    let (rest, _) = tag("<").parse_complete(i)?;
    let rest = if rest.first() == Some(&b'@') {
        source_route(rest, utf8)?.0
    } else {
        rest
    };
    let (rest, mailbox) = mailbox(rest, utf8)?;
    let Some(rest) = rest.strip_prefix(b">") else {
        return fail(ParseError::BadAddress);
    };
    if i.len() - rest.len() > MAX_PATH {
        return fail(ParseError::PathTooLong);
    }
    Ok((rest, mailbox))
}

/// A path, or with `unbracketed` leniency a bare mailbox.
fn path_or_bare(i: In<'_>, utf8: bool, unbracketed: bool) -> PResult<'_, Mailbox> {
    if i.first() == Some(&b'<') || !unbracketed {
        return path(i, utf8);
    }
    mailbox(i, utf8)
}

/// `Reverse-path = Path / "<>"`
pub(crate) fn reverse_path(i: In<'_>, utf8: bool, unbracketed: bool) -> PResult<'_, ReversePath> {
    if let Ok((rest, _)) = tag::<_, _, super::NomError>("<>").parse_complete(i) {
        return Ok((rest, ReversePath::Null));
    }
    match path_or_bare(i, utf8, unbracketed) {
        Ok((rest, m)) => Ok((rest, ReversePath::Mailbox(m))),
        Err(nom::Err::Error(_)) => fail(ParseError::BadAddress),
        Err(e) => Err(e),
    }
}

/// `( "<Postmaster@" Domain ">" ) / "<Postmaster>" / Forward-path`
pub(crate) fn forward_path(i: In<'_>, utf8: bool, unbracketed: bool) -> PResult<'_, ForwardPath> {
    if let Ok((rest, _)) = tag_no_case::<_, _, super::NomError>("<Postmaster>").parse_complete(i) {
        return Ok((rest, ForwardPath::Postmaster));
    }
    match path_or_bare(i, utf8, unbracketed) {
        Ok((rest, m)) => Ok((rest, ForwardPath::Mailbox(m))),
        Err(nom::Err::Error(_)) => fail(ParseError::BadAddress),
        Err(e) => Err(e),
    }
}
