//! ESMTP parameters of MAIL and RCPT (RFC 5321 §4.1.2) and their known values.

use super::{class, fail, is_utf8_octet, is_word, mismatch, Cx, In, PResult};
use crate::types::{
    AuthParam, Body, EsmtpParam, MailParams, Notify, Orcpt, RcptParams, Ret, XtextValue,
};
use crate::xtext;
use crate::ParseError;

/// `esmtp-value = 1*(%d33-60 / %d62-126)`, plus UTF-8 under RFC 6531.
pub(crate) fn is_esmtp_value_char(b: u8, utf8: bool) -> bool {
    matches!(b, 33..=60 | 62..=126) || (utf8 && is_utf8_octet(b))
}

/// A parameter's keyword, value, and whether the value is plain xtext.
type Param<'a> = (&'a [u8], Option<&'a [u8]>, bool);

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]`
/// `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`
///
/// Also says whether the value is xtext with nothing encoded (all `xchar`:
/// no `+`, all ASCII), found by the same scan: the value is first spanned
/// over `xchar` octets, then over any `esmtp-value` octet.
#[inline(always)]
fn esmtp_param(i: In<'_>, utf8: bool) -> PResult<'_, Param<'_>> {
    let kw_len = class::span(i, class::LDH);
    if kw_len == 0 {
        return mismatch(i);
    }
    let (keyword, rest) = i.split_at(kw_len);
    if keyword[0] == b'-' {
        return fail(ParseError::BadParameter("esmtp-keyword"));
    }
    let Some(rest) = rest.strip_prefix(b"=") else {
        return Ok((rest, (keyword, None, true)));
    };
    let allowed = class::with_utf8(class::VALUE, utf8);
    let plain_len = class::span_xchar(rest);
    let value_len = plain_len + class::span(&rest[plain_len..], allowed);
    if value_len == 0 {
        return mismatch(rest);
    }
    let (value, rest) = rest.split_at(value_len);
    Ok((rest, (keyword, Some(value), value_len == plain_len)))
}

/// `*( SP esmtp-param )`, calling `each` for every parameter.
fn parameters<'a>(
    mut i: In<'a>,
    utf8: bool,
    mut each: impl FnMut(&'a [u8], Option<&'a [u8]>, bool) -> Result<(), ParseError>,
) -> PResult<'a, ()> {
    while let Some(rest) = i.strip_prefix(b" ") {
        let (rest, (keyword, value, plain)) = match esmtp_param(rest, utf8) {
            Ok(ok) => ok,
            Err(nom::Err::Error(_)) => return fail(ParseError::BadParameter("esmtp-param")),
            Err(e) => return Err(e),
        };
        if let Err(e) = each(keyword, value, plain) {
            return fail(e);
        }
        i = rest;
    }
    Ok((i, ()))
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::DuplicateParameter(name));
    }
    *slot = Some(value);
    Ok(())
}

fn flag_once(slot: &mut bool, value: Option<&[u8]>, name: &'static str) -> Result<(), ParseError> {
    if value.is_some() {
        return Err(ParseError::BadParameter(name));
    }
    if *slot {
        return Err(ParseError::DuplicateParameter(name));
    }
    *slot = true;
    Ok(())
}

fn unknown<'a>(
    cx: &Cx<'a>,
    keyword: &'a [u8],
    value: Option<&'a [u8]>,
) -> Result<EsmtpParam, ParseError> {
    let bad = ParseError::BadParameter("esmtp-param");
    let keyword = cx.str_of(keyword).ok_or(bad.clone())?;
    let value = match value {
        Some(v) => Some(cx.str_of(v).ok_or(bad)?),
        None => None,
    };
    EsmtpParam::from_parsed(keyword, value)
}

/// An xtext value decoded: copied at once when nothing in it is encoded
/// (`plain`, the usual case: `xchar` is `esmtp-value`, already checked, but
/// `+` and non-ASCII octets), else decoded octet by octet.
fn xtext_value<'a>(
    cx: &Cx<'a>,
    v: &'a [u8],
    plain: bool,
    param: &'static str,
) -> Result<String, ParseError> {
    if plain {
        return cx
            .str_of(v)
            .map(str::to_owned)
            .ok_or(ParseError::BadParameter(param));
    }
    xtext::decode_bytes(v, param)
}

/// `size-value = 1*20DIGIT` (RFC 1870)
fn size_value(v: Option<&[u8]>) -> Result<u64, ParseError> {
    let bad = ParseError::BadParameter("SIZE");
    let v = v.ok_or(bad.clone())?;
    if v.is_empty() || v.len() > 20 {
        return Err(bad);
    }
    // Up to 19 digits cannot overflow: no checked arithmetic.
    if v.len() <= 19 {
        let digits = v.iter().try_fold(0u64, |n, &d| {
            let d = d.wrapping_sub(b'0');
            (d <= 9).then_some(n * 10 + u64::from(d))
        });
        return digits.ok_or(bad);
    }
    v.iter()
        .try_fold(0u64, |n, &d| {
            let d = d.checked_sub(b'0').filter(|d| *d <= 9)?;
            n.checked_mul(10)?.checked_add(u64::from(d))
        })
        .ok_or(bad)
}

/// `Mail-parameters = esmtp-param *(SP esmtp-param)`, preceded by SP.
/// The parameters are set in `p`.
pub(crate) fn mail_parameters<'a>(i: In<'a>, cx: &Cx<'a>, p: &mut MailParams) -> PResult<'a, ()> {
    parameters(i, cx.utf8, |kw, v, plain| {
        if is_word(kw, b"SIZE") {
            set_once(&mut p.size, size_value(v)?, "SIZE")
        } else if is_word(kw, b"BODY") {
            let body = match v {
                Some(v) if is_word(v, b"7BIT") => Body::SevenBit,
                Some(v) if is_word(v, b"8BITMIME") => Body::EightBitMime,
                Some(v) if is_word(v, b"BINARYMIME") => Body::BinaryMime,
                _ => return Err(ParseError::BadParameter("BODY")),
            };
            set_once(&mut p.body, body, "BODY")
        } else if is_word(kw, b"SMTPUTF8") {
            flag_once(&mut p.smtputf8, v, "SMTPUTF8")
        } else if is_word(kw, b"REQUIRETLS") {
            flag_once(&mut p.requiretls, v, "REQUIRETLS")
        } else if is_word(kw, b"RET") {
            let ret = match v {
                Some(v) if is_word(v, b"FULL") => Ret::Full,
                Some(v) if is_word(v, b"HDRS") => Ret::Headers,
                _ => return Err(ParseError::BadParameter("RET")),
            };
            set_once(&mut p.ret, ret, "RET")
        } else if is_word(kw, b"ENVID") {
            let v = v.ok_or(ParseError::BadParameter("ENVID"))?;
            let envid = XtextValue::from_string(xtext_value(cx, v, plain, "ENVID")?)
                .map_err(|_| ParseError::BadParameter("ENVID"))?;
            set_once(&mut p.envid, envid, "ENVID")
        } else if is_word(kw, b"AUTH") {
            let auth = match v {
                Some(b"<>") => AuthParam::Unknown,
                Some(v) => AuthParam::Identity(
                    XtextValue::from_string(xtext_value(cx, v, plain, "AUTH")?)
                        .map_err(|_| ParseError::BadParameter("AUTH"))?,
                ),
                None => return Err(ParseError::BadParameter("AUTH")),
            };
            set_once(&mut p.auth, auth, "AUTH")
        } else {
            p.other.push(unknown(cx, kw, v)?);
            Ok(())
        }
    })
}

/// `Rcpt-parameters = esmtp-param *(SP esmtp-param)`, preceded by SP.
/// The parameters are set in `p`.
pub(crate) fn rcpt_parameters<'a>(i: In<'a>, cx: &Cx<'a>, p: &mut RcptParams) -> PResult<'a, ()> {
    parameters(i, cx.utf8, |kw, v, plain| {
        if is_word(kw, b"NOTIFY") {
            set_once(&mut p.notify, notify_value(v)?, "NOTIFY")
        } else if is_word(kw, b"ORCPT") {
            set_once(&mut p.orcpt, orcpt_value(cx, v, plain)?, "ORCPT")
        } else {
            p.other.push(unknown(cx, kw, v)?);
            Ok(())
        }
    })
}

/// `notify-esmtp-value = "NEVER" / 1#notify-list-element`
/// `notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"`
fn notify_value(v: Option<&[u8]>) -> Result<Notify, ParseError> {
    let bad = ParseError::BadParameter("NOTIFY");
    let v = v.ok_or(bad.clone())?;
    if is_word(v, b"NEVER") {
        return Ok(Notify::NEVER);
    }
    let (mut s, mut f, mut d) = (false, false, false);
    // Each element is matched where it starts, then a comma or the end must
    // follow: no separate search for the commas.
    let mut rest = v;
    loop {
        let starts = |word: &[u8; 7]| rest.get(..7).is_some_and(|w| is_word(w, word));
        let (slot, len) = if starts(b"SUCCESS") {
            (&mut s, 7)
        } else if starts(b"FAILURE") {
            (&mut f, 7)
        } else if rest.get(..5).is_some_and(|w| is_word(w, b"DELAY")) {
            (&mut d, 5)
        } else {
            return Err(bad);
        };
        if *slot {
            return Err(bad);
        }
        *slot = true;
        match rest.get(len) {
            None => break,
            Some(b',') => rest = &rest[len + 1..],
            Some(_) => return Err(bad),
        }
    }
    Notify::on(s, f, d).ok_or(bad)
}

/// `orcpt-parameter = "ORCPT=" original-recipient-address`
/// `original-recipient-address = addr-type ";" xtext`
///
/// `plain`: the whole value is xtext with nothing encoded, so the address
/// is too.
fn orcpt_value<'a>(cx: &Cx<'a>, v: Option<&'a [u8]>, plain: bool) -> Result<Orcpt, ParseError> {
    let bad = ParseError::BadParameter("ORCPT");
    let v = v.ok_or(bad.clone())?;
    let semi = v.iter().position(|&b| b == b';').ok_or(bad.clone())?;
    let addr_type = cx.str_of(&v[..semi]).ok_or(bad)?;
    let address = &v[semi + 1..];
    if plain {
        if let Some(address) = cx.str_of(address) {
            return Orcpt::from_parts(addr_type, address);
        }
    }
    Orcpt::from_parts(addr_type, &xtext::decode_bytes(address, "ORCPT")?)
}
