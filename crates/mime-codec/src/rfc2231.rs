//! RFC 2231 parameter values: `name*=charset'lang'%XX...` and continuations `name*0*=`, `name*1=`.

/// Characters that may appear unescaped in an extended value (RFC 2231 `attribute-char`).
fn attribute_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// Longest encoded value per continuation segment, keeping each parameter on a short line.
const SEGMENT: usize = 60;

/// Encodes a parameter as RFC 2231 extended value segments in UTF-8: one `name*=...` when short,
/// else `name*0*=...`, `name*1*=...`. Returns `(attribute, value)` pairs ready to write as
/// `attribute=value`. A `%XX` escape is never split between segments.
///
/// ```
/// let p = mime_codec::rfc2231::encode("filename", "中.txt");
/// assert_eq!(p, [("filename*".to_string(), "UTF-8''%E4%B8%AD.txt".to_string())]);
/// ```
pub fn encode(name: &str, value: &str) -> Vec<(String, String)> {
    let mut escaped = Vec::new();
    for b in value.bytes() {
        if attribute_char(b) {
            escaped.push((b as char).to_string());
        } else {
            escaped.push(format!("%{b:02X}"));
        }
    }
    let total: usize = escaped.iter().map(String::len).sum();
    let prefix = "UTF-8''";
    if total + prefix.len() <= SEGMENT {
        return vec![(format!("{name}*"), format!("{prefix}{}", escaped.concat()))];
    }
    let mut out = Vec::new();
    let mut cur = String::from(prefix);
    for e in escaped {
        if cur.len() + e.len() > SEGMENT && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push_str(&e);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .enumerate()
        .map(|(i, v)| (format!("{name}*{i}*"), v))
        .collect()
}

/// Decodes `%XX` escapes; a `%` without two hex digits stays as it is.
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = (b[i + 1] as char).to_digit(16);
            let l = (b[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// One raw parameter as written: `name`, `name*`, `name*0`, `name*0*`.
struct Piece {
    base: String,
    index: Option<u32>,
    extended: bool,
    value: String,
}

fn split_name(name: &str, value: String) -> Piece {
    let lower = name.to_ascii_lowercase();
    let (rest, extended) = match lower.strip_suffix('*') {
        Some(r) => (r.to_owned(), true),
        None => (lower.clone(), false),
    };
    if let Some((base, idx)) = rest.rsplit_once('*') {
        if let Ok(n) = idx.parse::<u32>() {
            return Piece {
                base: base.to_owned(),
                index: Some(n),
                extended,
                value,
            };
        }
    }
    Piece {
        base: rest,
        index: None,
        extended,
        value,
    }
}

/// Joins RFC 2231 continuations and decodes extended values, given parameters as parsed
/// (lowercase or not) in their order. Returns `(lowercase name, value)` pairs in order of first
/// appearance; for a name given both plainly and as RFC 2231, the RFC 2231 value wins.
pub(crate) fn resolve(raw: Vec<(String, String)>) -> Vec<(String, String)> {
    let pieces: Vec<Piece> = raw.into_iter().map(|(n, v)| split_name(&n, v)).collect();
    if pieces.iter().all(|p| p.index.is_none() && !p.extended) {
        return pieces
            .into_iter()
            .map(|p| (p.base, legacy(p.value)))
            .collect();
    }
    let mut order: Vec<String> = Vec::new();
    for p in &pieces {
        if !order.contains(&p.base) {
            order.push(p.base.clone());
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for base in order {
        let mine: Vec<&Piece> = pieces.iter().filter(|p| p.base == base).collect();
        let mut parts: Vec<&Piece> = mine.iter().copied().filter(|p| p.index.is_some()).collect();
        let value = if let Some(single) = mine.iter().find(|p| p.index.is_none() && p.extended) {
            decode_extended(&[single])
        } else if !parts.is_empty() {
            parts.sort_by_key(|p| p.index);
            parts.dedup_by_key(|p| p.index);
            decode_extended(&parts)
        } else {
            mine.first()
                .map(|p| legacy(p.value.clone()))
                .unwrap_or_default()
        };
        out.push((base, value));
    }
    out
}

/// A plain value may hold RFC 2047 words, as old clients write `name="=?UTF-8?B?...?="`; an RFC
/// 2231 value never does (its `=?` is literal text).
fn legacy(value: String) -> String {
    if value.contains("=?") {
        crate::rfc2047::decode(&value).into_owned()
    } else {
        value
    }
}

/// Decodes segments in order: the first extended one carries `charset'language'`.
fn decode_extended(parts: &[&Piece]) -> String {
    let mut charset: Option<String> = None;
    let mut bytes = Vec::new();
    for (n, p) in parts.iter().enumerate() {
        if p.extended {
            let mut v = p.value.as_str();
            if n == 0 {
                let mut it = v.splitn(3, '\'');
                if let (Some(cs), Some(_lang), Some(rest)) = (it.next(), it.next(), it.next()) {
                    if !cs.is_empty() {
                        charset = Some(cs.to_owned());
                    }
                    v = rest;
                }
            }
            bytes.extend_from_slice(&percent_decode(v));
        } else {
            bytes.extend_from_slice(p.value.as_bytes());
        }
    }
    crate::charset::decode_fragment(&bytes, charset.as_deref().or(Some("utf-8")))
        .text
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn long_values_use_continuations_that_decode_back() {
        let name = "非常长的中文文件名称用于测试续行参数编码是否正确.pdf";
        let enc = encode("filename", name);
        assert!(enc.len() > 1);
        assert!(enc.iter().all(|(_, v)| v.len() <= SEGMENT));
        assert_eq!(enc[0].0, "filename*0*");
        assert_eq!(resolve(enc), pairs(&[("filename", name)]));
    }

    #[test]
    fn resolves_rfc_examples() {
        // RFC 2231 section 3 and 4.
        let got = resolve(pairs(&[
            ("URL*0", "ftp://"),
            ("URL*1", "cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"),
        ]));
        assert_eq!(
            got,
            pairs(&[(
                "url",
                "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"
            )])
        );
        let got = resolve(pairs(&[(
            "title*",
            "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
        )]));
        assert_eq!(got, pairs(&[("title", "This is ***fun***")]));
        let got = resolve(pairs(&[
            ("title*1*", "%2A%2A%2Afun%2A%2A%2A%20"),
            ("title*0*", "us-ascii'en'This%20is%20even%20more%20"),
            ("title*2", "isn't it!"),
        ]));
        assert_eq!(
            got,
            pairs(&[("title", "This is even more ***fun*** isn't it!")])
        );
    }

    #[test]
    fn gbk_charset_and_priority_over_plain_name() {
        let got = resolve(pairs(&[
            ("filename", "fallback.txt"),
            ("filename*", "gbk''%D6%D0%CE%C4.txt"),
        ]));
        assert_eq!(got, pairs(&[("filename", "中文.txt")]));
    }

    #[test]
    fn only_plain_values_decode_rfc2047_words() {
        let got = resolve(pairs(&[
            ("name", "=?UTF-8?B?5Lit?="),
            ("filename*", "UTF-8''%3D%3Futf-8%3Fq%3Fx%3F%3D"),
        ]));
        assert_eq!(got, pairs(&[("name", "中"), ("filename", "=?utf-8?q?x?=")]));
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%2"), b"a%2");
        assert_eq!(percent_decode("a%zz"), b"a%zz");
        assert_eq!(percent_decode("%41%"), b"A%");
    }
}
