//! RFC 2047 encoded words: `=?charset?B?...?=` and `=?charset?Q?...?=` in headers.

use std::borrow::Cow;

use base64::Engine as _;

/// Longest encoded word (RFC 2047 section 2).
const MAX_WORD: usize = 75;
/// `=?UTF-8?B?` plus `?=`.
const OVERHEAD: usize = 12;

/// Characters a Q-encoded word may carry literally in any header position (RFC 2047 section 5 (3)).
fn q_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_len(c: char) -> usize {
    let mut buf = [0; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| if q_literal(b) || b == b' ' { 1 } else { 3 })
        .sum()
}

/// Encodes `text` as UTF-8 encoded words, each at most 75 characters, choosing B or Q by whichever
/// gives the shorter result. Words break only between characters, never inside one.
///
/// ```
/// let words = mime_codec::rfc2047::encode_words("你好");
/// assert_eq!(words, ["=?UTF-8?B?5L2g5aW9?="]);
/// ```
pub fn encode_words(text: &str) -> Vec<String> {
    encode_words_fitting(text, MAX_WORD)
}

/// Like [`encode_words`], with the first word at most `first_max` characters long (at least 16),
/// so that it fits the room left on a header's first line.
pub(crate) fn encode_words_fitting(text: &str, first_max: usize) -> Vec<String> {
    let first_max = first_max.clamp(OVERHEAD + 4, MAX_WORD);
    let q_total: usize = text.chars().map(q_len).sum();
    let b_total = text.len().div_ceil(3) * 4;
    if q_total <= b_total {
        encode_q(text, first_max)
    } else {
        encode_b(text, first_max)
    }
}

fn encode_b(text: &str, first_max: usize) -> Vec<String> {
    // Payload of at most 63 characters: 15 groups of 4, that is 45 bytes.
    let max_for = |words: usize| {
        let word = if words == 0 { first_max } else { MAX_WORD };
        (word - OVERHEAD) / 4 * 3
    };
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if i + c.len_utf8() - start > max_for(words.len()) && end > start {
            words.push(b_word(&text[start..end]));
            start = end;
        }
        end = i + c.len_utf8();
    }
    if end > start || words.is_empty() {
        words.push(b_word(&text[start..end]));
    }
    words
}

fn b_word(chunk: &str) -> String {
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(chunk)
    )
}

fn encode_q(text: &str, first_max: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        let max = if words.is_empty() {
            first_max
        } else {
            MAX_WORD
        } - OVERHEAD;
        if cur.len() + q_len(c) > max && !cur.is_empty() {
            words.push(format!("=?UTF-8?Q?{cur}?="));
            cur.clear();
        }
        let mut buf = [0; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            if b == b' ' {
                cur.push('_');
            } else if q_literal(b) {
                cur.push(b as char);
            } else {
                cur.push_str(&format!("={b:02X}"));
            }
        }
    }
    if !cur.is_empty() || words.is_empty() {
        words.push(format!("=?UTF-8?Q?{cur}?="));
    }
    words
}

/// One encoded word found in a header: its charset label and decoded bytes.
struct Word<'a> {
    charset: &'a str,
    bytes: Vec<u8>,
    /// Index just past the closing `?=`.
    end: usize,
}

/// Remembers where the last search for the end of an encoded text stopped, so that a header full
/// of `=?` that never close is still scanned in linear time.
#[derive(Default)]
struct CloseCache {
    /// The search started at or before this index ...
    from: usize,
    /// ... and stopped here: at `?=`, at whitespace, or at the end of the value.
    at: usize,
    valid: bool,
}

impl CloseCache {
    /// The index of the first `?=`, whitespace or end of `s` at or after `from`.
    fn find(&mut self, s: &[u8], from: usize) -> usize {
        if self.valid && self.from <= from && from <= self.at {
            return self.at;
        }
        let mut i = from;
        while i < s.len() {
            match s[i] {
                b' ' | b'\t' | b'\r' | b'\n' => break,
                b'?' if s.get(i + 1) == Some(&b'=') => break,
                _ => i += 1,
            }
        }
        *self = CloseCache {
            from,
            at: i,
            valid: true,
        };
        i
    }
}

/// Parses an encoded word starting at `start` (which holds `=?`).
fn parse_word<'a>(s: &'a str, start: usize, cache: &mut CloseCache) -> Option<Word<'a>> {
    let b = s.as_bytes();
    let cs_start = start + 2;
    let mut i = cs_start;
    while i < b.len() && b[i] != b'?' {
        if b[i] <= b' ' || b[i] >= 0x7f || b"()<>@,;:\"/[]=".contains(&b[i]) {
            return None;
        }
        i += 1;
    }
    if i == cs_start || i >= b.len() {
        return None;
    }
    let charset_full = &s[cs_start..i];
    // RFC 2231 section 5: a language may follow the charset after '*'.
    let charset = charset_full.split('*').next().unwrap_or(charset_full);
    let enc = *b.get(i + 1)?;
    if b.get(i + 2) != Some(&b'?') {
        return None;
    }
    let text_start = i + 3;
    let close = cache.find(b, text_start);
    if close + 1 >= b.len() || b[close] != b'?' || b[close + 1] != b'=' {
        return None;
    }
    let text = &b[text_start..close];
    let bytes = match enc {
        b'B' | b'b' => crate::base64::decode_lenient(text),
        b'Q' | b'q' => q_decode(text),
        _ => return None,
    };
    Some(Word {
        charset,
        bytes,
        end: close + 2,
    })
}

fn q_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < text.len() => match (hex(text[i + 1]), hex(text[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'='),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes the encoded words in an unstructured header value (Subject, a display name, ...).
///
/// Adjacent encoded words separated only by whitespace are joined with the whitespace dropped
/// (RFC 2047 section 6.2); consecutive words in the same charset are decoded together, so a
/// character split across two words by a careless encoder still comes out whole. A word in an
/// unknown charset, or malformed, stays as it was. Returns the input borrowed when it holds no word.
///
/// ```
/// use mime_codec::rfc2047::decode;
/// assert_eq!(decode("=?UTF-8?B?5L2g?= =?UTF-8?B?5aW9?= world"), "你好 world");
/// assert_eq!(decode("=?gb2312?B?xOO6ww==?="), "你好");
/// assert_eq!(decode("plain"), "plain");
/// ```
pub fn decode(value: &str) -> Cow<'_, str> {
    if !value.contains("=?") {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    // Bytes of consecutive encoded words in one charset, waiting to be decoded together.
    let mut pending = Pending::default();
    // Whitespace seen after the last encoded word, dropped if another word follows.
    let mut gap_start: Option<usize> = None;
    let mut i = 0;
    let bytes = value.as_bytes();
    let mut cache = CloseCache::default();
    while i < bytes.len() {
        if bytes[i] == b'=' && bytes.get(i + 1) == Some(&b'?') {
            if let Some(word) = parse_word(value, i, &mut cache) {
                if let Some(enc) = crate::charset::lookup(word.charset) {
                    pending.push(&mut out, word.charset, enc, word.bytes);
                    gap_start = None;
                    i = word.end;
                    continue;
                }
            }
        }
        let c_len = value[i..].chars().next().map_or(1, char::len_utf8);
        if bytes[i] == b' ' || bytes[i] == b'\t' || bytes[i] == b'\r' || bytes[i] == b'\n' {
            if pending.is_some() && gap_start.is_none() {
                gap_start = Some(i);
            }
            if !pending.is_some() {
                out.push_str(&value[i..i + c_len]);
            }
            i += c_len;
            continue;
        }
        // Plain text ends any run of encoded words; the whitespace before it is kept.
        pending.flush(&mut out);
        if let Some(g) = gap_start.take() {
            out.push_str(&value[g..i]);
        }
        out.push_str(&value[i..i + c_len]);
        i += c_len;
    }
    pending.flush(&mut out);
    if let Some(g) = gap_start {
        out.push_str(&value[g..]);
    }
    Cow::Owned(out)
}

/// The bytes of a run of adjacent encoded words in one encoding, decoded together so that a
/// character split across words comes out whole.
#[derive(Default)]
struct Pending<'a> {
    /// The label of the run's first word and the encoding it names.
    charset: Option<(&'a str, &'static encoding_rs::Encoding)>,
    bytes: Vec<u8>,
}

impl<'a> Pending<'a> {
    fn is_some(&self) -> bool {
        self.charset.is_some()
    }

    /// Adds a word's bytes, first decoding the run so far if the word's encoding differs.
    fn push(
        &mut self,
        out: &mut String,
        label: &'a str,
        enc: &'static encoding_rs::Encoding,
        mut bytes: Vec<u8>,
    ) {
        let (mut label, mut enc) = (label, enc);
        if crate::charset::is_utf16(enc) {
            // Each word may carry its own byte order mark; the run is kept little-endian so that
            // a surrogate pair split across words still joins.
            if let Some((bom_enc, rest)) = crate::charset::utf16_bom(&bytes) {
                enc = bom_enc;
                bytes = rest.to_vec();
            }
            if enc == encoding_rs::UTF_16BE {
                for pair in bytes.chunks_exact_mut(2) {
                    pair.swap(0, 1);
                }
            }
            enc = encoding_rs::UTF_16LE;
            label = "utf-16le";
        }
        match self.charset {
            Some((_, e)) if e == enc => {
                // ISO-2022-JP words each end by switching back to ASCII; where the next word
                // switches away at once, two escape sequences meet, which the decoder rightly
                // counts as an error (WHATWG Encoding, "ISO-2022-JP decoder"). The switch back
                // is dropped, since the next word's escape sequence sets the state anyway.
                if enc == encoding_rs::ISO_2022_JP
                    && bytes.first() == Some(&0x1b)
                    && self.bytes.len() >= 3
                    && self.bytes[self.bytes.len() - 3] == 0x1b
                {
                    self.bytes.truncate(self.bytes.len() - 3);
                }
            }
            _ => {
                self.flush(out);
                self.charset = Some((label, enc));
            }
        }
        self.bytes.extend_from_slice(&bytes);
    }

    /// Decodes the run into `out` and empties it.
    fn flush(&mut self, out: &mut String) {
        if let Some((label, _)) = self.charset.take() {
            out.push_str(&crate::charset::decode_fragment(&self.bytes, Some(label)).text);
        }
        self.bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_the_shorter_encoding() {
        assert_eq!(
            encode_words("café au lait"),
            ["=?UTF-8?Q?caf=C3=A9_au_lait?="]
        );
        assert_eq!(encode_words("café"), ["=?UTF-8?B?Y2Fmw6k=?="]);
        assert_eq!(encode_words("中文"), ["=?UTF-8?B?5Lit5paH?="]);
        assert_eq!(encode_words("a b"), ["=?UTF-8?Q?a_b?="]);
    }

    #[test]
    fn words_stay_within_75_and_never_split_a_character() {
        for text in ["中文字符".repeat(40), "é".repeat(200), "a€😀".repeat(50)] {
            let words = encode_words(&text);
            assert!(words.len() > 1);
            for w in &words {
                assert!(w.len() <= 75, "{w}");
                // Each word decodes alone to whole characters.
                let alone = decode(w);
                assert!(!alone.contains('\u{fffd}'), "{w}");
            }
            assert_eq!(decode(&words.join(" ")), text);
            assert_eq!(decode(&words.join("\r\n ")), text);
        }
    }

    #[test]
    fn decodes_q_and_b_in_several_charsets() {
        assert_eq!(decode("=?iso-8859-1?q?caf=E9?="), "café");
        assert_eq!(decode("=?ISO-8859-1?Q?a_b?="), "a b");
        assert_eq!(decode("=?big5?B?pKSk5Q==?="), "中文");
        assert_eq!(decode("=?utf-8*en?Q?hi?="), "hi");
        assert_eq!(decode("=?ISO-2022-JP?B?GyRCRnxLXBsoQg==?="), "日本");
    }

    #[test]
    fn whitespace_rules_between_words_and_text() {
        assert_eq!(decode("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");
        assert_eq!(decode("=?utf-8?q?a?=\r\n =?utf-8?q?b?="), "ab");
        assert_eq!(decode("=?utf-8?q?a?= b"), "a b");
        assert_eq!(decode("x =?utf-8?q?a?="), "x a");
        assert_eq!(decode("=?utf-8?q?a?= "), "a ");
        // Two words of different charsets are still joined without the space.
        assert_eq!(decode("=?utf-8?q?a?= =?iso-8859-1?q?b?="), "ab");
    }

    #[test]
    fn adjacent_iso_2022_jp_words_read_without_replacement_characters() {
        let two = "=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=";
        assert_eq!(decode(two), "テストテスト");
        // Folded, in lowercase, and followed by ASCII text.
        let folded = "=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=\r\n =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= ok";
        assert_eq!(decode(folded), "テストテスト ok");
        // A word that ends in the two-byte set without switching back still joins the next.
        assert_eq!(
            decode("=?ISO-2022-JP?B?GyRCJUYlOQ==?= =?ISO-2022-JP?B?JUgbKEI=?="),
            "テスト"
        );
    }

    #[test]
    fn utf16_words_follow_their_own_byte_order_marks() {
        // "hi" as UTF-16BE with a mark, then "!" as UTF-16LE with a mark.
        assert_eq!(decode("=?utf-16?B?/v8AaABp?= =?UTF-16?B?//4hAA==?="), "hi!");
        // No mark: the label's byte order (UTF-16 alone is little-endian, as in Python).
        assert_eq!(decode("=?utf-16be?B?AGgAaQ==?="), "hi");
        // A surrogate pair (U+1F600) split across two big-endian words.
        assert_eq!(decode("=?utf-16be?B?2D0=?= =?utf-16be?B?3gA=?="), "😀");
    }

    #[test]
    fn character_split_across_words_is_rejoined() {
        // "中" is E4 B8 AD; a careless encoder split it.
        assert_eq!(decode("=?UTF-8?Q?=E4=B8?= =?UTF-8?Q?=AD?="), "中");
    }

    #[test]
    fn malformed_words_are_left_as_text() {
        for s in [
            "=?utf-8?x?abc?=",
            "=?utf-8?q?no end",
            "=?x-unknown?q?abc?=",
            "=??q?abc?=",
            "=?utf-8?q?has space?=",
            "=?",
            "a =? b",
        ] {
            assert_eq!(decode(s), s);
        }
    }
}
