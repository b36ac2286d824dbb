//! Content-Type, Content-Disposition and Content-Transfer-Encoding header values (RFC 2045, 2183).

/// Most parameters read from one header; more are ignored, which keeps parameter handling linear.
const MAX_PARAMS: usize = 128;

/// A parsed `Content-Type` value such as `text/plain; charset=utf-8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// The top-level type in lowercase, such as `text`.
    pub media_type: String,
    /// The subtype in lowercase, such as `plain`.
    pub subtype: String,
    /// Parameters with lowercase names, RFC 2231 continuations joined and charsets decoded.
    pub params: Vec<(String, String)>,
}

impl ContentType {
    /// `text/plain; charset=us-ascii`, the default of RFC 2045 section 5.2.
    pub fn default_text() -> Self {
        ContentType {
            media_type: "text".into(),
            subtype: "plain".into(),
            params: vec![("charset".into(), "us-ascii".into())],
        }
    }

    /// `message/rfc822`, the default inside `multipart/digest`.
    pub(crate) fn message_rfc822() -> Self {
        ContentType {
            media_type: "message".into(),
            subtype: "rfc822".into(),
            params: Vec::new(),
        }
    }

    /// Parses a header value. A value without a valid `type/subtype` gives `None`.
    ///
    /// ```
    /// let ct = mime_codec::ContentType::parse("Text/HTML; Charset=\"GBK\"").unwrap();
    /// assert_eq!((ct.media_type.as_str(), ct.subtype.as_str()), ("text", "html"));
    /// assert_eq!(ct.param("charset"), Some("GBK"));
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        let (head, rest) = match value.find(';') {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, ""),
        };
        let head = strip_comments(head);
        let (t, s) = head.trim().split_once('/')?;
        let (t, s) = (t.trim(), s.trim());
        if t.is_empty() || s.is_empty() || !t.bytes().all(is_token) || !s.bytes().all(is_token) {
            return None;
        }
        Some(ContentType {
            media_type: t.to_ascii_lowercase(),
            subtype: s.to_ascii_lowercase(),
            params: parse_params(rest),
        })
    }

    /// The parameters of a value whose `type/subtype` is not valid (`BINARY; name="x"`), so
    /// that they can be kept with a default type.
    pub(crate) fn params_of_invalid(value: &str) -> Vec<(String, String)> {
        value
            .find(';')
            .map_or_else(Vec::new, |i| parse_params(&value[i..]))
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }

    /// `type/subtype`.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.media_type, self.subtype)
    }

    /// Whether this is `type/subtype` (case-insensitive).
    pub fn is(&self, media_type: &str, subtype: &str) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type)
            && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

/// A parsed `Content-Disposition` value (RFC 2183).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDisposition {
    /// `inline`, `attachment` or another token, lowercase.
    pub kind: String,
    /// Parameters with lowercase names, RFC 2231 continuations joined and charsets decoded.
    pub params: Vec<(String, String)>,
}

impl ContentDisposition {
    /// Parses a header value; `None` when it has no disposition type.
    ///
    /// ```
    /// let cd = mime_codec::ContentDisposition::parse("attachment; filename*=utf-8''%E4%B8%AD.txt").unwrap();
    /// assert!(cd.is_attachment());
    /// assert_eq!(cd.param("filename"), Some("中.txt"));
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        let (head, rest) = match value.find(';') {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, ""),
        };
        let kind = strip_comments(head).trim().to_ascii_lowercase();
        if kind.is_empty() || !kind.bytes().all(is_token) {
            return None;
        }
        Some(ContentDisposition {
            kind,
            params: parse_params(rest),
        })
    }

    /// Whether the disposition is `attachment`.
    pub fn is_attachment(&self) -> bool {
        self.kind == "attachment"
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

/// A Content-Transfer-Encoding (RFC 2045 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransferEncoding {
    /// `7bit`: ASCII lines of at most 998 octets.
    SevenBit,
    /// `8bit`: lines of at most 998 octets, any byte but NUL; needs 8BITMIME over SMTP.
    EightBit,
    /// `binary`: any bytes; needs BINARYMIME over SMTP. Only read, never written.
    Binary,
    /// `quoted-printable`.
    QuotedPrintable,
    /// `base64`.
    Base64,
    /// A value the parser does not know (such as `x-uuencode`): the body is left as it arrived.
    /// Only read, never written; the value is in the part's `Content-Transfer-Encoding` header.
    Unknown,
}

impl TransferEncoding {
    /// Parses a header value; unknown encodings give `None` (and the parser reports them as
    /// [`TransferEncoding::Unknown`]).
    pub fn parse(value: &str) -> Option<Self> {
        let v = strip_comments(value);
        let v = v.trim().trim_matches('"');
        Some(if v.eq_ignore_ascii_case("7bit") {
            Self::SevenBit
        } else if v.eq_ignore_ascii_case("8bit") {
            Self::EightBit
        } else if v.eq_ignore_ascii_case("binary") {
            Self::Binary
        } else if v.eq_ignore_ascii_case("quoted-printable") {
            Self::QuotedPrintable
        } else if v.eq_ignore_ascii_case("base64") {
            Self::Base64
        } else {
            return None;
        })
    }

    /// The header value (`unknown` for [`TransferEncoding::Unknown`], which is never written).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SevenBit => "7bit",
            Self::EightBit => "8bit",
            Self::Binary => "binary",
            Self::QuotedPrintable => "quoted-printable",
            Self::Base64 => "base64",
            Self::Unknown => "unknown",
        }
    }
}

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// RFC 2045 `token` characters.
pub(crate) fn is_token(b: u8) -> bool {
    b > b' ' && b < 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Removes `(comments)` outside quoted strings; nesting and escapes are honoured.
pub(crate) fn strip_comments(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('(') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if depth > 0 || quoted => {
                if depth == 0 {
                    out.push(c);
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    chars.next();
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Parses `; name=value; name="quoted value"` leniently: values may be tokens, quoted strings, or
/// (as broken senders write) unquoted text up to the next `;`. RFC 2047 words inside a plain value
/// (old clients' `name="=?UTF-8?B?...?="`) are decoded.
pub(crate) fn parse_params(s: &str) -> Vec<(String, String)> {
    let b = s.as_bytes();
    let mut raw = Vec::new();
    let mut i = 0;
    while i < b.len() && raw.len() < MAX_PARAMS {
        while i < b.len() && (b[i] == b';' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i < b.len() && b[i] == b'(' {
            // Skip a comment between parameters.
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    b'\\' => i += 1,
                    _ => {}
                }
                i += 1;
            }
            continue;
        }
        let name_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b';' {
            i += 1;
        }
        let name = s[name_start..i.min(b.len())].trim();
        if i >= b.len() || b[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut seg_start = i;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    value.push_str(&s[seg_start..i]);
                    // The escaped character may be multi-byte; copy it whole.
                    let next = s[i + 1..].chars().next().map_or(1, char::len_utf8);
                    value.push_str(&s[i + 1..i + 1 + next]);
                    i += 1 + next;
                    seg_start = i;
                    continue;
                }
                i += 1;
            }
            value.push_str(&s[seg_start..i.min(b.len())]);
            i += 1;
            // Junk after the closing quote, up to the next ';', is dropped.
            while i < b.len() && b[i] != b';' {
                i += 1;
            }
        } else {
            let v_start = i;
            while i < b.len() && b[i] != b';' {
                i += 1;
            }
            value.push_str(s[v_start..i].trim());
        }
        if name.is_empty() || !name.bytes().all(is_token_or_star) {
            continue;
        }
        raw.push((name.to_ascii_lowercase(), value));
    }
    crate::rfc2231::resolve(raw)
}

fn is_token_or_star(b: u8) -> bool {
    is_token(b) || b == b'*'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_known_answers() {
        let ct = ContentType::parse("multipart/mixed; boundary=\"=_abc; def\"").unwrap();
        assert_eq!(ct.essence(), "multipart/mixed");
        assert_eq!(ct.param("boundary"), Some("=_abc; def"));
        let ct =
            ContentType::parse(" text/plain (comment) ; charset = utf-8 ; format=flowed").unwrap();
        assert_eq!(ct.essence(), "text/plain");
        assert_eq!(ct.param("charset"), Some("utf-8"));
        assert_eq!(ct.param("format"), Some("flowed"));
        let ct = ContentType::parse("application/octet-stream; name=\"a \\\"q\\\".bin\"").unwrap();
        assert_eq!(ct.param("name"), Some("a \"q\".bin"));
        assert!(ContentType::parse("text").is_none());
        assert!(ContentType::parse("/plain").is_none());
        assert!(ContentType::parse("").is_none());
    }

    #[test]
    fn broken_parameters_seen_in_the_wild() {
        // Unquoted value with spaces, missing value, RFC 2047 inside a quoted value.
        let ct = ContentType::parse("image/png; name=my picture.png; bad; =x; name2").unwrap();
        assert_eq!(ct.param("name"), Some("my picture.png"));
        let ct = ContentType::parse("image/png; name=\"=?UTF-8?B?5Lit5paHLnBuZw==?=\"").unwrap();
        assert_eq!(ct.param("name"), Some("中文.png"));
        let ct = ContentType::parse("text/plain; charset=\"utf-8").unwrap();
        assert_eq!(ct.param("charset"), Some("utf-8"));
        // No valid type: the parameters are still there for the parser to keep.
        assert!(ContentType::parse("BINARY;name=\"x.bin\"").is_none());
        assert_eq!(
            ContentType::params_of_invalid("BINARY;name=\"x.bin\""),
            [("name".to_owned(), "x.bin".to_owned())]
        );
        assert!(ContentType::params_of_invalid("BINARY").is_empty());
    }

    #[test]
    fn disposition_with_continuations() {
        let cd = ContentDisposition::parse(
            "attachment;\r\n filename*0*=UTF-8''%E4%B8%AD%E6;\r\n filename*1*=%96%87.txt",
        )
        .unwrap();
        assert!(cd.is_attachment());
        assert_eq!(cd.param("filename"), Some("中文.txt"));
        assert!(ContentDisposition::parse("").is_none());
    }

    #[test]
    fn transfer_encoding_names() {
        assert_eq!(
            TransferEncoding::parse(" Base64 "),
            Some(TransferEncoding::Base64)
        );
        assert_eq!(
            TransferEncoding::parse("QUOTED-PRINTABLE"),
            Some(TransferEncoding::QuotedPrintable)
        );
        assert_eq!(TransferEncoding::parse("x-uuencode"), None);
    }
}
