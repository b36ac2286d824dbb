//! A small JSON writer: the API's answers are flat records of strings and
//! numbers, so a writer that escapes correctly is all that is needed.

use std::fmt::Write;

/// Appends `s` as a JSON string (quoted, escaped; `<` `>` `&` escaped too so
/// the output is safe inside HTML).
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            // U+2028/9 end lines in old JavaScript parsers.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Builds one JSON object field by field.
#[derive(Debug)]
pub(crate) struct Object<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Object<'o> {
    pub(crate) fn new(out: &'o mut String) -> Self {
        out.push('{');
        Object { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        string(self.out, key);
        self.out.push(':');
        self.out
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        let out = self.key(key);
        string(out, value);
        self
    }

    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }

    pub(crate) fn num(&mut self, key: &str, value: u64) -> &mut Self {
        let out = self.key(key);
        let _ = write!(out, "{value}");
        self
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// A field whose value the caller writes as JSON.
    pub(crate) fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        let out = self.key(key);
        out.push_str(json);
        self
    }

    /// A field whose value `f` writes into the output.
    pub(crate) fn with(&mut self, key: &str, f: impl FnOnce(&mut String)) -> &mut Self {
        let out = self.key(key);
        f(out);
        self
    }

    pub(crate) fn end(self) {
        self.out.push('}');
    }
}

/// Writes a JSON array of the items, each written by `f`.
pub(crate) fn array<T>(
    out: &mut String,
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(&mut String, T),
) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(out, item);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes() {
        let mut s = String::new();
        string(&mut s, "a\"b\\c\n\u{1}<ü>中");
        assert_eq!(s, r#""a\"b\\c\n\u0001\u003cü\u003e中""#);
    }

    #[test]
    fn objects_and_arrays() {
        let mut s = String::new();
        let mut o = Object::new(&mut s);
        o.str("a", "x")
            .num("n", 3)
            .bool("b", false)
            .opt_str("z", None);
        o.with("l", |out| {
            array(out, [1u64, 2], |out, n| out.push_str(&n.to_string()))
        });
        o.end();
        assert_eq!(s, r#"{"a":"x","n":3,"b":false,"z":null,"l":[1,2]}"#);
    }

    proptest! {
        /// Whatever the input, the output is one JSON string with no raw
        /// control characters, quotes or angle brackets inside.
        #[test]
        fn string_is_closed(input in any::<String>()) {
            let mut s = String::new();
            string(&mut s, &input);
            let inner = &s[1..s.len() - 1];
            prop_assert!(s.starts_with('"') && s.ends_with('"'));
            prop_assert!(!inner.chars().any(|c| (c as u32) < 0x20 || c == '<' || c == '>'));
            // Every quote inside is escaped.
            let bytes = inner.as_bytes();
            for (i, b) in bytes.iter().enumerate() {
                if *b == b'"' {
                    let backslashes = bytes[..i].iter().rev().take_while(|c| **c == b'\\').count();
                    prop_assert!(backslashes % 2 == 1);
                }
            }
        }
    }
}
