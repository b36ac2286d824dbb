//! FETCH data from a message's bytes: ENVELOPE and BODYSTRUCTURE from
//! mime-codec's parse, and the byte ranges that BODY[section] names.

use crate::wire;
use imap_codec::imap_types::fetch::{Part as PartPath, Section};
use mime_codec::{Address, Body, Message, Part};

/// Where `inner` starts within `outer`, if it is a slice of it.
fn offset(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

/// The raw header block of a part, blank line included, as a range of `input`.
fn header_range(input: &[u8], part: &Part<'_>) -> Option<(usize, usize)> {
    let body = offset(input, part.raw_body())?;
    let start = match part.headers().first() {
        Some(h) => offset(input, h.name().as_bytes())?,
        None => body,
    };
    (start <= body).then_some((start, body))
}

/// The nested message header of a `message/rfc822` part, or of the message.
fn message_header<'a>(input: &'a [u8], msg: &Message<'_>) -> &'a [u8] {
    let root = msg.root();
    match header_range(input, root) {
        Some((s, e)) => &input[s..e],
        None => &[],
    }
}

/// The part a section path names (RFC 3501 §6.4.5).
fn part_at<'m, 'a>(msg: &'m Message<'a>, path: &[u32]) -> Option<&'m Part<'a>> {
    let mut cur = msg.root();
    for &n in path {
        let i = (n as usize).checked_sub(1)?;
        if matches!(cur.body(), Body::Multipart { .. }) {
            cur = cur.parts().get(i)?;
        } else if let Some(m) = cur.message() {
            let r = m.root();
            if matches!(r.body(), Body::Multipart { .. }) {
                cur = r.parts().get(i)?;
            } else if i == 0 {
                cur = r;
            } else {
                return None;
            }
        } else if i != 0 {
            return None;
        }
    }
    Some(cur)
}

fn path_of(part: &Option<PartPath>) -> Vec<u32> {
    part.as_ref()
        .map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
        .unwrap_or_default()
}

/// The header block that HEADER / HEADER.FIELDS / TEXT of a path refer to:
/// the message's for no path, the nested message's for a message/rfc822 part.
fn header_and_text<'a>(
    input: &'a [u8],
    msg: &Message<'a>,
    path: &[u32],
) -> Option<(&'a [u8], &'a [u8])> {
    if path.is_empty() {
        return Some((message_header(input, msg), msg.root().raw_body()));
    }
    let part = part_at(msg, path)?;
    let nested = part.message()?;
    Some((message_header(input, nested), nested.root().raw_body()))
}

/// Header fields of a block whose names are (or with `not`, are not) in
/// `names`, then the blank line.
pub(crate) fn filter_fields(block: &[u8], names: &[Vec<u8>], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            let name = line.split(|&b| b == b':').next().unwrap_or(&[]);
            let name = name.trim_ascii();
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name));
            keep = listed != not;
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The bytes a BODY[section] asks for; `None` names no part (sent as empty).
pub(crate) fn section_bytes(input: &[u8], section: &Option<Section<'_>>) -> Option<Vec<u8>> {
    let msg = Message::parse(input);
    let Some(section) = section else {
        return Some(input.to_vec());
    };
    match section {
        Section::Part(p) => {
            let path = path_of(&Some(p.clone()));
            let part = part_at(&msg, &path)?;
            if path.len() == 1
                && !matches!(msg.root().body(), Body::Multipart { .. })
                && msg.root().message().is_none()
            {
                return Some(msg.root().raw_body().to_vec());
            }
            Some(part.raw_body().to_vec())
        }
        Section::Header(p) => Some(header_and_text(input, &msg, &path_of(p))?.0.to_vec()),
        Section::Text(p) => Some(header_and_text(input, &msg, &path_of(p))?.1.to_vec()),
        Section::HeaderFields(p, names) | Section::HeaderFieldsNot(p, names) => {
            let (block, _) = header_and_text(input, &msg, &path_of(p))?;
            let names: Vec<Vec<u8>> = names.as_ref().iter().map(|n| n.as_ref().to_vec()).collect();
            Some(filter_fields(
                block,
                &names,
                matches!(section, Section::HeaderFieldsNot(..)),
            ))
        }
        Section::Mime(p) => {
            let part = part_at(&msg, &path_of(&Some(p.clone())))?;
            let (s, e) = header_range(input, part)?;
            Some(input[s..e].to_vec())
        }
    }
}

/// Where in the message file a section inside a MIME part is (`start`,
/// `len`), from the summary's part ranges: the same octets
/// [`section_bytes`] takes from the parsed message. `HEADER.FIELDS` of a
/// part gives the header block it filters. `None`: the section names no
/// part (answered empty), or it is not inside a part.
pub(crate) fn section_range(
    section: &Option<Section<'_>>,
    st: &crate::summary::Structure,
) -> Option<(u64, u64)> {
    use crate::summary::PartKind;
    let range = |a: u64, b: u64| Some((a, b.saturating_sub(a)));
    let nested = |p: &Option<PartPath>| -> Option<usize> {
        let i = st.part_at(&path_of(p))?;
        if st.parts.get(i)?.kind != PartKind::Message {
            return None;
        }
        st.children(i).next()
    };
    match section.as_ref()? {
        Section::Part(p) => {
            let path = path_of(&Some(p.clone()));
            let i = st.part_at(&path)?;
            let root = st.parts.first()?;
            let part = if path.len() == 1 && root.kind == PartKind::Leaf {
                root
            } else {
                st.parts.get(i)?
            };
            range(part.body_start, part.body_end)
        }
        Section::Mime(p) => {
            let part = st.parts.get(st.part_at(&path_of(&Some(p.clone())))?)?;
            range(part.fields_start, part.body_start)
        }
        Section::Header(Some(p))
        | Section::HeaderFields(Some(p), _)
        | Section::HeaderFieldsNot(Some(p), _) => {
            let r = st.parts.get(nested(&Some(p.clone()))?)?;
            range(r.fields_start, r.body_start)
        }
        Section::Text(Some(p)) => {
            let r = st.parts.get(nested(&Some(p.clone()))?)?;
            range(r.body_start, r.body_end)
        }
        _ => None,
    }
}

/// The section as it is echoed in the response, `BODY[` and `]` excluded.
pub(crate) fn section_label(section: &Option<Section<'_>>) -> String {
    fn path(p: &Option<PartPath>) -> String {
        path_of(p)
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }
    fn join(p: &Option<PartPath>, what: &str) -> String {
        let p = path(p);
        if p.is_empty() {
            what.to_owned()
        } else {
            format!("{p}.{what}")
        }
    }
    fn names(list: &[imap_codec::imap_types::core::AString<'_>]) -> String {
        let names: Vec<String> = list
            .iter()
            .map(|n| {
                let mut out = Vec::new();
                let raw = n.as_ref();
                if !raw.is_empty()
                    && raw
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
                {
                    out.extend_from_slice(raw);
                } else {
                    wire::string(&mut out, raw);
                }
                String::from_utf8_lossy(&out).into_owned()
            })
            .collect();
        names.join(" ")
    }
    match section {
        None => String::new(),
        Some(Section::Part(p)) => path(&Some(p.clone())),
        Some(Section::Header(p)) => join(p, "HEADER"),
        Some(Section::Text(p)) => join(p, "TEXT"),
        Some(Section::Mime(p)) => join(&Some(p.clone()), "MIME"),
        Some(Section::HeaderFields(p, n)) => {
            join(p, &format!("HEADER.FIELDS ({})", names(n.as_ref())))
        }
        Some(Section::HeaderFieldsNot(p, n)) => {
            join(p, &format!("HEADER.FIELDS.NOT ({})", names(n.as_ref())))
        }
    }
}

/// The value of the last field of this name (the one Dovecot reports),
/// unfolded and trimmed, as text.
fn raw_field(headers: &[mime_codec::Header<'_>], name: &str) -> Option<String> {
    headers
        .iter()
        .rev()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.unfolded().into_owned())
}

/// The value of the last field of this name as the octets received, line
/// breaks removed and trimmed: 8-bit text goes out as it came.
fn raw_bytes(headers: &[mime_codec::Header<'_>], name: &str) -> Option<Vec<u8>> {
    headers
        .iter()
        .rev()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| {
            let v: Vec<u8> = h
                .raw_value()
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect();
            v.trim_ascii().to_vec()
        })
}

fn encode_word(s: &str) -> String {
    if s.is_ascii() {
        return s.to_owned();
    }
    use std::fmt::Write;
    let mut b64 = String::new();
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in s.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                let c = T[((n >> (18 - 6 * i)) & 63) as usize];
                let _ = b64.write_char(char::from(c));
            } else {
                b64.push('=');
            }
        }
    }
    format!("=?utf-8?b?{b64}?=")
}

fn address_list(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for entry in list {
        match entry {
            Address::Mailbox(m) => mailbox(out, m),
            Address::Group { name, members } => {
                out.extend_from_slice(b"(NIL NIL ");
                wire::string(out, encode_word(name).as_bytes());
                out.extend_from_slice(b" NIL)");
                for m in members {
                    mailbox(out, m);
                }
                out.extend_from_slice(b"(NIL NIL NIL NIL)");
            }
        }
    }
    out.push(b')');
}

fn mailbox(out: &mut Vec<u8>, m: &mime_codec::Mailbox) {
    out.push(b'(');
    wire::nstring(out, m.name().map(encode_word).as_deref().map(str::as_bytes));
    out.extend_from_slice(b" NIL ");
    let addr = m.address();
    let (local, domain) = match addr.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (addr, None),
    };
    wire::string(out, local.as_bytes());
    out.push(b' ');
    wire::nstring(out, domain.map(str::as_bytes));
    out.push(b')');
}

fn addresses(headers: &[mime_codec::Header<'_>], name: &str) -> Vec<Address> {
    raw_field(headers, name)
        .map(|v| mime_codec::parse_address_list(&v))
        .unwrap_or_default()
}

/// ENVELOPE (RFC 3501 §7.4.2) of a message's header.
pub(crate) fn envelope(out: &mut Vec<u8>, msg: &Message<'_>) {
    let h = msg.headers();
    out.push(b'(');
    let field = |out: &mut Vec<u8>, name: &str| {
        wire::nstring(out, raw_bytes(h, name).as_deref());
    };
    field(out, "Date");
    out.push(b' ');
    field(out, "Subject");
    let from = addresses(h, "From");
    for (name, fallback) in [
        ("From", None),
        ("Sender", Some(&from)),
        ("Reply-To", Some(&from)),
        ("To", None),
        ("Cc", None),
        ("Bcc", None),
    ] {
        out.push(b' ');
        let mut list = addresses(h, name);
        if list.is_empty() {
            if let Some(f) = fallback {
                list = f.clone();
            }
        }
        address_list(out, &list);
    }
    out.push(b' ');
    field(out, "In-Reply-To");
    out.push(b' ');
    field(out, "Message-ID");
    out.push(b')');
}

fn params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        wire::string(out, k.as_bytes());
        out.push(b' ');
        wire::string(out, encode_word(v).as_bytes());
    }
    out.push(b')');
}

/// Text lines of a body: its line breaks, as Dovecot counts them (the
/// break before a boundary belongs to the boundary).
#[cfg(test)]
fn lines(body: &[u8]) -> usize {
    body.iter().filter(|&&b| b == b'\n').count()
}

/// BODY (`extended` false) or BODYSTRUCTURE (`extended` true), RFC 3501 §7.4.2,
/// from the parsed message: the oracle that [`body_structure_scanned`] is
/// tested against.
#[cfg(test)]
pub(crate) fn body_structure(out: &mut Vec<u8>, part: &Part<'_>, extended: bool, depth: usize) {
    let ct = part.content_type();
    out.push(b'(');
    if depth < 32 && matches!(part.body(), Body::Multipart { .. }) && !part.parts().is_empty() {
        for child in part.parts() {
            body_structure(out, child, extended, depth + 1);
        }
        out.push(b' ');
        wire::string(out, ct.subtype.as_bytes());
        if extended {
            out.push(b' ');
            params(out, &ct.params);
            out.push(b' ');
            disposition(out, part);
            out.extend_from_slice(b" NIL NIL");
        }
        out.push(b')');
        return;
    }
    let unparsable =
        !part.content_type_declared() && raw_field(part.headers(), "Content-Type").is_some();
    if unparsable {
        // A Content-Type that does not parse: Dovecot answers empty
        // strings rather than guess.
        out.extend_from_slice(b"\"\" \"\" NIL");
    } else {
        wire::string(out, ct.media_type.as_bytes());
        out.push(b' ');
        wire::string(out, ct.subtype.as_bytes());
        out.push(b' ');
        if ct.media_type == "text" && ct.param("charset").is_none() {
            // RFC 2045 §5.2's default, spelled out as Dovecot does.
            let mut with_charset = vec![("charset".to_owned(), "us-ascii".to_owned())];
            with_charset.extend(ct.params.iter().cloned());
            params(out, &with_charset);
        } else {
            params(out, &ct.params);
        }
    }
    out.push(b' ');
    wire::nstring(out, raw_bytes(part.headers(), "Content-ID").as_deref());
    out.push(b' ');
    wire::nstring(
        out,
        raw_bytes(part.headers(), "Content-Description").as_deref(),
    );
    out.push(b' ');
    let encoding =
        raw_bytes(part.headers(), "Content-Transfer-Encoding").unwrap_or_else(|| b"7bit".to_vec());
    wire::string(out, &encoding);
    let body = part.raw_body();
    out.extend_from_slice(format!(" {}", body.len()).as_bytes());
    if let (Some(nested), true) = (part.message(), depth < 32) {
        out.push(b' ');
        envelope(out, nested);
        out.push(b' ');
        body_structure(out, nested.root(), extended, depth + 1);
        out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
    } else if ct.media_type == "text" && !unparsable {
        out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
    }
    if extended {
        out.extend_from_slice(b" ");
        wire::nstring(out, raw_bytes(part.headers(), "Content-MD5").as_deref());
        out.push(b' ');
        disposition(out, part);
        out.extend_from_slice(b" NIL NIL");
    }
    out.push(b')');
}

/// BODY (`extended` false) or BODYSTRUCTURE (`extended` true) of part `i`
/// of a streamed scan ([`mime_codec::structure`]): the same answer as
/// [`body_structure`] gives from the parsed message, from the part's kept
/// header block, ranges and line count.
pub(crate) fn body_structure_scanned(
    out: &mut Vec<u8>,
    scan: &mime_codec::structure::Structure,
    i: usize,
    extended: bool,
    depth: usize,
) {
    use mime_codec::structure::PartKind;
    let Some(part) = scan.parts().get(i) else {
        out.extend_from_slice(b"NIL");
        return;
    };
    let head = Message::parse(&part.header);
    let headers = head.headers();
    let ct = &part.content_type;
    out.push(b'(');
    let children = scan.children(i);
    if depth < 32 && part.kind == PartKind::Multipart && !children.is_empty() {
        for &c in children {
            body_structure_scanned(out, scan, c, extended, depth + 1);
        }
        out.push(b' ');
        wire::string(out, ct.subtype.as_bytes());
        if extended {
            out.push(b' ');
            params(out, &ct.params);
            out.push(b' ');
            disposition_of(out, part.disposition.as_ref());
            out.extend_from_slice(b" NIL NIL");
        }
        out.push(b')');
        return;
    }
    let unparsable = !part.content_type_declared && raw_field(headers, "Content-Type").is_some();
    if unparsable {
        out.extend_from_slice(b"\"\" \"\" NIL");
    } else {
        wire::string(out, ct.media_type.as_bytes());
        out.push(b' ');
        wire::string(out, ct.subtype.as_bytes());
        out.push(b' ');
        if ct.media_type == "text" && ct.param("charset").is_none() {
            let mut with_charset = vec![("charset".to_owned(), "us-ascii".to_owned())];
            with_charset.extend(ct.params.iter().cloned());
            params(out, &with_charset);
        } else {
            params(out, &ct.params);
        }
    }
    out.push(b' ');
    wire::nstring(out, raw_bytes(headers, "Content-ID").as_deref());
    out.push(b' ');
    wire::nstring(out, raw_bytes(headers, "Content-Description").as_deref());
    out.push(b' ');
    let encoding =
        raw_bytes(headers, "Content-Transfer-Encoding").unwrap_or_else(|| b"7bit".to_vec());
    wire::string(out, &encoding);
    let size = part.body_end.saturating_sub(part.body_start);
    out.extend_from_slice(format!(" {size}").as_bytes());
    let nested = children
        .first()
        .copied()
        .filter(|_| part.kind == PartKind::Message);
    if let (Some(root), true) = (nested, depth < 32) {
        out.push(b' ');
        let nested_head = scan
            .parts()
            .get(root)
            .map(|r| r.header.as_slice())
            .unwrap_or_default();
        envelope(out, &Message::parse(nested_head));
        out.push(b' ');
        body_structure_scanned(out, scan, root, extended, depth + 1);
        out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
    } else if ct.media_type == "text" && !unparsable {
        out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
    }
    if extended {
        out.extend_from_slice(b" ");
        wire::nstring(out, raw_bytes(headers, "Content-MD5").as_deref());
        out.push(b' ');
        disposition_of(out, part.disposition.as_ref());
        out.extend_from_slice(b" NIL NIL");
    }
    out.push(b')');
}

fn disposition_of(out: &mut Vec<u8>, d: Option<&mime_codec::ContentDisposition>) {
    match d {
        Some(d) => {
            out.push(b'(');
            wire::string(out, d.kind.as_bytes());
            out.push(b' ');
            params(out, &d.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

#[cfg(test)]
fn disposition(out: &mut Vec<u8>, part: &Part<'_>) {
    match part.disposition() {
        Some(d) => {
            out.push(b'(');
            wire::string(out, d.kind.as_bytes());
            out.push(b' ');
            params(out, &d.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

/// INTERNALDATE as `"dd-Mon-yyyy hh:mm:ss +0000"`.
pub(crate) fn internal_date(seconds: i64) -> String {
    match chrono::DateTime::from_timestamp(seconds, 0) {
        Some(t) => t.format("%d-%b-%Y %H:%M:%S +0000").to_string(),
        None => "01-Jan-1970 00:00:00 +0000".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::imap_types::core::Vec1;
    use std::num::NonZeroU32;

    const MULTI: &[u8] = b"From: Ann <ann@example.com>\r\nTo: bob@example.org, Team: c@x.y;\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\npre\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\nworld\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n";

    fn part(ns: &[u32]) -> PartPath {
        let v: Vec<NonZeroU32> = ns.iter().map(|&n| NonZeroU32::new(n).unwrap()).collect();
        PartPath(Vec1::try_from(v).unwrap())
    }

    #[test]
    fn sections_pick_the_right_bytes() {
        let text = section_bytes(MULTI, &Some(Section::Part(part(&[1])))).unwrap();
        assert_eq!(text, b"hello\r\nworld");
        let mime = section_bytes(MULTI, &Some(Section::Mime(part(&[1])))).unwrap();
        assert_eq!(mime, b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
        let inner = section_bytes(MULTI, &Some(Section::Header(Some(part(&[2]))))).unwrap();
        assert_eq!(inner, b"Subject: inner\r\n\r\n");
        let inner_text = section_bytes(MULTI, &Some(Section::Text(Some(part(&[2]))))).unwrap();
        assert_eq!(inner_text, b"inner body");
        let head = section_bytes(MULTI, &Some(Section::Header(None))).unwrap();
        assert!(head.starts_with(b"From: Ann") && head.ends_with(b"\"b\"\r\n\r\n"));
        assert!(section_bytes(MULTI, &Some(Section::Part(part(&[3])))).is_none());
    }

    #[test]
    fn envelope_keeps_raw_subject_and_groups() {
        let mut out = Vec::new();
        envelope(&mut out, &Message::parse(MULTI));
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"=?utf-8?q?caf=C3=A9?=\" ((\"Ann\" NIL \"ann\" \"example.com\")) ((\"Ann\" NIL \"ann\" \"example.com\")) ((\"Ann\" NIL \"ann\" \"example.com\")) ((NIL NIL \"bob\" \"example.org\")(NIL NIL \"Team\" NIL)(NIL NIL \"c\" \"x.y\")(NIL NIL NIL NIL)) NIL NIL NIL \"<m1@example.com>\")"
        );
    }

    #[test]
    fn body_structure_of_a_multipart() {
        let mut out = Vec::new();
        body_structure(&mut out, Message::parse(MULTI).root(), false, 0);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 12 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 28 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0) 2) \"mixed\")"
        );
    }

    #[test]
    fn header_fields_filter() {
        let names = vec![b"subject".to_vec(), b"TO".to_vec()];
        let got = filter_fields(
            b"To: a\r\n b\r\nFrom: c\r\nSubject: d\r\n\r\n",
            &names,
            false,
        );
        assert_eq!(got, b"To: a\r\n b\r\nSubject: d\r\n\r\n");
        let got = filter_fields(b"To: a\r\nFrom: c\r\n\r\n", &names, true);
        assert_eq!(got, b"From: c\r\n\r\n");
    }

    /// Every section that names something inside a part, for paths up to
    /// three deep and parts up to 4.
    fn part_sections() -> Vec<Section<'static>> {
        use imap_codec::imap_types::core::AString;
        let mut paths: Vec<Vec<u32>> = Vec::new();
        for a in 1..=4 {
            paths.push(vec![a]);
            for b in 1..=4 {
                paths.push(vec![a, b]);
                for c in 1..=2 {
                    paths.push(vec![a, b, c]);
                }
            }
        }
        let names: Vec1<AString<'static>> =
            Vec1::try_from(vec![AString::try_from("subject").unwrap()]).unwrap();
        let mut out = Vec::new();
        for p in paths {
            out.push(Section::Part(part(&p)));
            out.push(Section::Mime(part(&p)));
            out.push(Section::Header(Some(part(&p))));
            out.push(Section::Text(Some(part(&p))));
            out.push(Section::HeaderFields(Some(part(&p)), names.clone()));
        }
        out
    }

    /// The streamed path (scan, part ranges) gives what the whole-message
    /// path gives: BODY, BODYSTRUCTURE and every section inside a part.
    fn streamed_agrees(msg: &[u8]) -> Result<(), String> {
        let parsed = Message::parse(msg);
        let mut cuts = mime_codec::structure::StructureScanner::default();
        for c in msg.chunks(13) {
            cuts.feed(c);
        }
        let scan = cuts.finish();
        for extended in [false, true] {
            let mut want = Vec::new();
            body_structure(&mut want, parsed.root(), extended, 0);
            let mut got = Vec::new();
            body_structure_scanned(&mut got, &scan, 0, extended, 0);
            if got != want {
                return Err(format!(
                    "structure differs:\n got {}\nwant {}",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want)
                ));
            }
        }
        let st = crate::summary::Structure::of_scan(&scan);
        for section in part_sections() {
            let section = Some(section);
            let want = section_bytes(msg, &section).unwrap_or_default();
            let got = match section_range(&section, &st) {
                Some((start, len)) => {
                    let block = &msg[start as usize..(start + len) as usize];
                    match &section {
                        Some(Section::HeaderFields(_, names)) => {
                            let names: Vec<Vec<u8>> =
                                names.as_ref().iter().map(|n| n.as_ref().to_vec()).collect();
                            filter_fields(block, &names, false)
                        }
                        _ => block.to_vec(),
                    }
                }
                None => Vec::new(),
            };
            if got != want {
                return Err(format!(
                    "{} differs: got {:?} want {:?}",
                    section_label(&section),
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want)
                ));
            }
        }
        Ok(())
    }

    #[test]
    fn streamed_structure_and_sections_match_the_parse_on_the_corpus() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mime-codec/tests/corpus");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let msg = std::fs::read(&path).unwrap();
            if let Err(e) = streamed_agrees(&msg) {
                panic!("{}: {e}", path.display());
            }
            n += 1;
        }
        assert!(n >= 40);
        streamed_agrees(MULTI).unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn streamed_structure_and_sections_match_the_parse(
            body in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(&b"\r\n"[..]),
                proptest::strategy::Just(&b"\n"[..]),
                proptest::strategy::Just(&b"--b"[..]),
                proptest::strategy::Just(&b"--c"[..]),
                proptest::strategy::Just(&b"--"[..]),
                proptest::strategy::Just(&b"Content-Type: message/rfc822\r\n"[..]),
                proptest::strategy::Just(&b"Content-Type: multipart/mixed; boundary=c\r\n"[..]),
                proptest::strategy::Just(&b"Content-Type: text/html; name=a.html\r\n"[..]),
                proptest::strategy::Just(&b"Content-Disposition: attachment; filename=x\r\n"[..]),
                proptest::strategy::Just(&b"Content-Transfer-Encoding: base64\r\n"[..]),
                proptest::strategy::Just(&b"Subject: s\r\n"[..]),
                proptest::strategy::Just(&b"text "[..]),
            ], 0..40),
        ) {
            let mut msg = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
            for b in body {
                msg.extend_from_slice(b);
            }
            if let Err(e) = streamed_agrees(&msg) {
                return Err(proptest::test_runner::TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&msg))));
            }
        }
    }

    #[test]
    fn internal_date_format() {
        assert_eq!(internal_date(1_700_000_000), "14-Nov-2023 22:13:20 +0000");
    }
}
