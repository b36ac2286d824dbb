//! Writing header fields: folding at 78 columns between words, encoded words for non-ASCII text.

use crate::address::{is_atext, Mailbox};

/// Preferred line length (RFC 5322 section 2.1.1).
const FOLD_AT: usize = 78;
/// A word longer than this is encoded so that it can be folded below the 998 octet limit.
const LONG_WORD: usize = 900;

/// A header field being written: words are separated by one space, or by CRLF SP when the line
/// would pass 78 columns. Unfolding (removing the CRLF) gives back exactly the words joined by
/// single spaces.
pub(crate) struct HeaderField<'a> {
    out: &'a mut Vec<u8>,
    col: usize,
    first: bool,
}

impl<'a> HeaderField<'a> {
    pub(crate) fn start(out: &'a mut Vec<u8>, name: &str) -> Self {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        HeaderField {
            col: name.len() + 1,
            out,
            first: true,
        }
    }

    /// Writes `word` after a space (or a fold). Words hold no CR or LF.
    pub(crate) fn word(&mut self, word: &str) -> &mut Self {
        let len = word.chars().count();
        if !self.first && self.col + 1 + len > FOLD_AT {
            self.out.extend_from_slice(b"\r\n ");
            self.col = 1;
        } else {
            self.out.push(b' ');
            self.col += 1;
        }
        self.out.extend_from_slice(word.as_bytes());
        self.col += len;
        self.first = false;
        self
    }

    /// Appends `text` to the last word with no space (for `;` and `,` separators).
    pub(crate) fn glue(&mut self, text: &str) -> &mut Self {
        self.out.extend_from_slice(text.as_bytes());
        self.col += text.len();
        self
    }

    pub(crate) fn end(self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Whether unstructured `text` must be sent as encoded words: non-ASCII, control characters, a word
/// too long to fold, or something a decoder would mistake for an encoded word.
fn needs_encoding(text: &str) -> bool {
    !text.is_ascii()
        || text.bytes().any(|b| b < b' ' && b != b'\t' || b == 0x7f)
        || text.split(' ').any(|w| w.len() > LONG_WORD)
        || text.contains("=?")
        || text.starts_with([' ', '\t'])
        || text.ends_with([' ', '\t'])
}

/// Writes an unstructured field (Subject, custom headers): raw when plain ASCII, else encoded
/// words; folded at spaces either way.
pub(crate) fn write_unstructured(out: &mut Vec<u8>, name: &str, text: &str) {
    let mut f = HeaderField::start(out, name);
    if text.is_empty() {
        f.glue(" ");
    } else if needs_encoding(text) {
        let room = FOLD_AT.saturating_sub(name.len() + 2);
        for w in crate::rfc2047::encode_words_fitting(text, room) {
            f.word(&w);
        }
    } else {
        // Splitting at every single space keeps runs of spaces: empty words are written as is.
        for w in text.split(' ') {
            f.word(w);
        }
    }
    f.end();
}

/// Words that write a display name as a phrase: atoms, one quoted string, or encoded words.
pub(crate) fn phrase_words(name: &str) -> Vec<String> {
    let atoms = name
        .split(' ')
        .all(|w| !w.is_empty() && w.bytes().all(|b| is_atext(b) && b < 0x80));
    if atoms && !name.contains("=?") {
        return name.split(' ').map(str::to_owned).collect();
    }
    let printable = name.bytes().all(|b| (b' '..0x7f).contains(&b));
    if printable && name.len() <= 60 && !name.contains("=?") {
        let mut q = String::with_capacity(name.len() + 2);
        q.push('"');
        for c in name.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        return vec![q];
    }
    crate::rfc2047::encode_words(name)
}

/// Writes an address list field.
pub(crate) fn write_mailboxes(out: &mut Vec<u8>, name: &str, list: &[Mailbox]) {
    let mut f = HeaderField::start(out, name);
    for (i, m) in list.iter().enumerate() {
        if i > 0 {
            f.glue(",");
        }
        if let Some(n) = m.name() {
            for w in phrase_words(n) {
                f.word(&w);
            }
        }
        f.word(&format!("<{}>", m.address()));
    }
    f.end();
}

/// Whether a parameter value can be written as a short quoted string.
fn plain_param(v: &str) -> bool {
    v.len() <= 60 && v.bytes().all(|b| (b' '..0x7f).contains(&b)) && !v.contains("=?")
}

pub(crate) fn quote_param(v: &str) -> String {
    if !v.is_empty() && v.bytes().all(crate::content_type::is_token) {
        return v.to_owned();
    }
    let mut q = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Writes a file name parameter: quoted when plain; otherwise RFC 2231 (`filename*`) or, for the
/// Content-Type `name` that old clients read, RFC 2047 words inside a quoted string.
pub(crate) fn name_param(f: &mut HeaderField<'_>, key: &str, value: &str, legacy: bool) {
    if plain_param(value) {
        f.word(&format!("{key}={}", quote_param(value)));
    } else if legacy {
        // Room for `name="` before the first word and `";` after the last, on a folded line.
        let words = crate::rfc2047::encode_words_fitting(value, 75 - key.len() - 4);
        let last = words.len() - 1;
        for (i, w) in words.iter().enumerate() {
            let mut s = String::new();
            if i == 0 {
                s.push_str(key);
                s.push_str("=\"");
            }
            s.push_str(w);
            if i == last {
                s.push('"');
            }
            f.word(&s);
        }
    } else {
        let segs = crate::rfc2231::encode(key, value);
        let last = segs.len() - 1;
        for (i, (k, v)) in segs.iter().enumerate() {
            f.word(&format!("{k}={v}"));
            if i != last {
                f.glue(";");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unstructured(text: &str) -> String {
        let mut out = Vec::new();
        write_unstructured(&mut out, "Subject", text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ascii_is_folded_and_unfolds_back() {
        let text = "word ".repeat(40) + "end";
        let s = unstructured(&text);
        assert!(s.lines().all(|l| l.len() <= 78));
        let unfolded = s.trim_end().replace("\r\n", "");
        assert_eq!(unfolded, format!("Subject: {text}"));
    }

    #[test]
    fn double_spaces_survive_folding() {
        let text = "a  b".repeat(30);
        let s = unstructured(&text);
        assert_eq!(s.trim_end().replace("\r\n", ""), format!("Subject: {text}"));
    }

    #[test]
    fn non_ascii_becomes_encoded_words_folded_at_78() {
        let s = unstructured(&"中文主题".repeat(20));
        assert!(s.is_ascii());
        assert!(s.split("\r\n").all(|l| l.len() <= 78), "{s}");
        assert!(s.starts_with("Subject: =?UTF-8?B?"));
    }

    #[test]
    fn display_names() {
        assert_eq!(phrase_words("John Smith"), ["John", "Smith"]);
        assert_eq!(phrase_words("Smith, John"), ["\"Smith, John\""]);
        assert_eq!(phrase_words("a \"b\""), ["\"a \\\"b\\\"\""]);
        assert_eq!(phrase_words("张三"), ["=?UTF-8?B?5byg5LiJ?="]);
        let mut out = Vec::new();
        let list = [
            Mailbox::new("张三", "z@example.com").unwrap(),
            Mailbox::address_only("b@example.com").unwrap(),
        ];
        write_mailboxes(&mut out, "To", &list);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "To: =?UTF-8?B?5byg5LiJ?= <z@example.com>, <b@example.com>\r\n"
        );
    }
}
