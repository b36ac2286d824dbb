//! Text decoding from a MIME charset label to UTF-8, through `encoding_rs`.

use std::borrow::Cow;

use encoding_rs::Encoding;

/// How faithfully a text was decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CharsetStatus {
    /// The declared charset is known and the bytes were valid in it.
    Exact,
    /// The declared charset is known but some bytes were invalid; they became U+FFFD.
    Malformed,
    /// No charset was declared; the text was read as UTF-8 if valid, else as windows-1252.
    Guessed,
    /// The declared charset is unknown; the bytes were read as UTF-8 with U+FFFD for invalid
    /// sequences. The label is kept so the caller can show it.
    Unknown(String),
}

/// Text decoded to UTF-8, with the charset it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText<'a> {
    /// The text.
    pub text: Cow<'a, str>,
    /// The name of the encoding used to read the bytes (an `encoding_rs` name such as `GBK`).
    pub charset: &'static str,
    /// Whether the reading is exact, guessed or a visible fallback.
    pub status: CharsetStatus,
}

/// Finds the encoding for a MIME charset label, including the common aliases mail uses.
pub fn lookup(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches('"');
    if let Some(e) = Encoding::for_label(label.as_bytes()) {
        return Some(e);
    }
    let lower = label.to_ascii_lowercase();
    let alias = match lower.as_str() {
        "utf8" | "utf-8n" | "x-utf-8" => "utf-8",
        "cp936" | "ms936" | "x-gb2312" | "gb_2312" | "euc-cn" | "x-euc-cn" | "gb2312-80" => "gbk",
        "cp950" | "ms950" | "big5-hkscs" | "x-big5" => "big5",
        "cp932" | "ms932" | "x-sjis" | "sjis" | "shift-jis" => "shift_jis",
        "cp949" | "ms949" | "ks_c_5601" | "ksc5601" => "euc-kr",
        "cp1250" | "cp1251" | "cp1252" | "cp1253" | "cp1254" | "cp1255" | "cp1256" | "cp1257"
        | "cp1258" => return Encoding::for_label(format!("windows-{}", &lower[2..]).as_bytes()),
        "ascii" | "us_ascii" | "ansi_x3.4-1968" | "646" => "us-ascii",
        "latin-1" | "iso8859_1" | "iso_8859_1" => "iso-8859-1",
        "koi8r" => "koi8-r",
        _ => return None,
    };
    Encoding::for_label(alias.as_bytes())
}

/// Decodes `bytes` declared as `charset` (or undeclared when `None`) to UTF-8.
///
/// Never fails: an unknown charset is read as UTF-8 with U+FFFD and reported as
/// [`CharsetStatus::Unknown`], so a mistake shows instead of hiding.
///
/// ```
/// use mime_codec::charset::{decode, CharsetStatus};
/// let gbk = [0xc4, 0xe3, 0xba, 0xc3]; // "你好" in GBK
/// let text = decode(&gbk, Some("gb2312"));
/// assert_eq!(text.text, "你好");
/// assert_eq!(text.status, CharsetStatus::Exact);
/// ```
pub fn decode<'a>(bytes: &'a [u8], charset: Option<&str>) -> DecodedText<'a> {
    decode_inner(bytes, charset, true)
}

/// Like [`decode`] for a piece of a header (an encoded word, a parameter): a leading byte order
/// mark is text there, not a marker, so it is kept.
pub(crate) fn decode_fragment<'a>(bytes: &'a [u8], charset: Option<&str>) -> DecodedText<'a> {
    decode_inner(bytes, charset, false)
}

fn decode_inner<'a>(bytes: &'a [u8], charset: Option<&str>, strip_bom: bool) -> DecodedText<'a> {
    let bytes = match bytes.strip_prefix(b"\xef\xbb\xbf") {
        Some(rest)
            if strip_bom
                && charset.is_none_or(|c| {
                    lookup(c)
                        .is_none_or(|e| e == encoding_rs::UTF_8 || e == encoding_rs::WINDOWS_1252)
                }) =>
        {
            rest
        }
        _ => bytes,
    };
    match charset.filter(|c| !c.trim().is_empty()) {
        None => match std::str::from_utf8(bytes) {
            Ok(s) => DecodedText {
                text: Cow::Borrowed(s),
                charset: "UTF-8",
                status: if bytes.is_ascii() {
                    CharsetStatus::Exact
                } else {
                    CharsetStatus::Guessed
                },
            },
            Err(_) => {
                let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
                DecodedText {
                    text,
                    charset: encoding_rs::WINDOWS_1252.name(),
                    status: CharsetStatus::Guessed,
                }
            }
        },
        Some(label) => match lookup(label) {
            Some(enc) => {
                // US-ASCII labels map to windows-1252 in encoding_rs; 8-bit bytes under an ASCII
                // label are far more often UTF-8 than windows-1252 in mail.
                let is_ascii_label = enc == encoding_rs::WINDOWS_1252
                    && label.trim().to_ascii_lowercase().contains("ascii");
                if is_ascii_label {
                    return decode_inner(bytes, None, strip_bom);
                }
                // `utf-16` says nothing of the byte order; a byte order mark does (RFC 2781
                // section 3.2), in bodies and in encoded words alike.
                let (enc, bytes) = match utf16_bom(bytes) {
                    Some((bom_enc, rest)) if is_utf16(enc) => (bom_enc, rest),
                    _ => (enc, bytes),
                };
                let (text, had_errors) = if enc == encoding_rs::UTF_8 && strip_bom {
                    enc.decode_with_bom_removal(bytes)
                } else {
                    enc.decode_without_bom_handling(bytes)
                };
                DecodedText {
                    text,
                    charset: enc.name(),
                    status: if had_errors {
                        CharsetStatus::Malformed
                    } else {
                        CharsetStatus::Exact
                    },
                }
            }
            None => DecodedText {
                text: String::from_utf8_lossy(bytes),
                charset: "UTF-8",
                status: CharsetStatus::Unknown(label.to_owned()),
            },
        },
    }
}

/// Whether `enc` is UTF-16 in either byte order.
pub(crate) fn is_utf16(enc: &'static Encoding) -> bool {
    enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE
}

/// The byte order a UTF-16 byte order mark at the start of `bytes` gives, and the bytes after it.
pub(crate) fn utf16_bom(bytes: &[u8]) -> Option<(&'static Encoding, &[u8])> {
    match bytes {
        [0xfe, 0xff, rest @ ..] => Some((encoding_rs::UTF_16BE, rest)),
        [0xff, 0xfe, rest @ ..] => Some((encoding_rs::UTF_16LE, rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_charsets_mail_uses() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("utf-8", "héllo".as_bytes(), "héllo"),
            ("GBK", &[0xd6, 0xd0, 0xce, 0xc4], "中文"),
            ("gb2312", &[0xd6, 0xd0, 0xce, 0xc4], "中文"),
            ("GB18030", &[0xd6, 0xd0, 0xce, 0xc4], "中文"),
            ("cp936", &[0xd6, 0xd0, 0xce, 0xc4], "中文"),
            ("big5", &[0xa4, 0xa4, 0xa4, 0xe5], "中文"),
            ("Shift_JIS", &[0x93, 0xfa, 0x96, 0x7b], "日本"),
            ("iso-2022-jp", b"\x1b$BF|K\\\x1b(B", "日本"),
            ("euc-kr", &[0xc7, 0xd1, 0xb1, 0xdb], "한글"),
            ("ks_c_5601-1987", &[0xc7, 0xd1, 0xb1, 0xdb], "한글"),
            ("iso-8859-1", &[0x63, 0x61, 0x66, 0xe9], "café"),
            ("ISO-8859-15", &[0xa4], "€"),
            ("windows-1251", &[0xcf, 0xf0, 0xe8], "При"),
            ("cp1252", &[0x80], "€"),
            ("koi8-r", &[0xf0, 0xd2, 0xc9], "При"),
        ];
        for (label, bytes, want) in cases {
            let got = decode(bytes, Some(label));
            assert_eq!(got.text, *want, "charset {label}");
            assert_eq!(got.status, CharsetStatus::Exact, "charset {label}");
        }
    }

    #[test]
    fn unknown_charset_is_reported_not_hidden() {
        let got = decode("plain".as_bytes(), Some("x-martian"));
        assert_eq!(got.text, "plain");
        assert_eq!(got.status, CharsetStatus::Unknown("x-martian".into()));
        let got = decode(&[0xff, b'a'], Some("x-martian"));
        assert_eq!(got.text, "\u{fffd}a");
    }

    #[test]
    fn undeclared_charset_guesses_utf8_then_windows_1252() {
        assert_eq!(decode("é".as_bytes(), None).text, "é");
        assert_eq!(decode(&[0xe9], None).text, "é");
        assert_eq!(decode(&[0xe9], None).status, CharsetStatus::Guessed);
        assert_eq!(decode("é".as_bytes(), Some("us-ascii")).text, "é");
    }

    #[test]
    fn a_utf8_byte_order_mark_is_dropped_from_bodies_only() {
        assert_eq!(decode(b"\xef\xbb\xbfhi", None).text, "hi");
        assert_eq!(decode(b"\xef\xbb\xbfhi", Some("utf-8")).text, "hi");
        assert_eq!(
            decode_fragment(b"\xef\xbb\xbfhi", Some("utf-8")).text,
            "\u{feff}hi"
        );
    }

    #[test]
    fn utf16_follows_its_byte_order_mark() {
        // "hi" big-endian and little-endian, each with its mark, under the plain `utf-16` label.
        let be = decode(b"\xfe\xff\x00h\x00i", Some("utf-16"));
        assert_eq!((be.text.as_ref(), be.charset), ("hi", "UTF-16BE"));
        assert_eq!(be.status, CharsetStatus::Exact);
        let le = decode(b"\xff\xfeh\x00i\x00", Some("UTF-16"));
        assert_eq!((le.text.as_ref(), le.charset), ("hi", "UTF-16LE"));
        assert_eq!(
            decode_fragment(b"\xfe\xff\x00h\x00i", Some("utf-16")).text,
            "hi"
        );
        // Without a mark, the label decides.
        assert_eq!(decode(b"\x00h\x00i", Some("utf-16be")).text, "hi");
        assert_eq!(decode(b"h\x00i\x00", Some("utf-16le")).text, "hi");
    }

    #[test]
    fn malformed_bytes_are_flagged() {
        let got = decode(&[0xff, 0xfe, b'a'], Some("utf-8"));
        assert_eq!(got.status, CharsetStatus::Malformed);
    }
}
