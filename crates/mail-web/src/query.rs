//! URL pieces and the search language: percent-decoding, query strings, and
//! `from:` / `to:` / `subject:` / plain-word search terms.

use crate::index::Summary;

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); `None`
/// when an escape is malformed or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes everything but unreserved characters (RFC 3986) as `%XX`.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of `name` in a query string (`a=1&b=2`), decoded.
pub(crate) fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k, true)? == name)
            .then(|| percent_decode(v, true))
            .flatten()
    })
}

/// Which field a search term looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// The sender: From (name and address) and Sender.
    From,
    /// The recipients: To, Cc and Bcc (names and addresses).
    To,
    /// The subject.
    Subject,
    /// Any of the three.
    Any,
}

/// One term of a search: every term must match (AND); a term matches when
/// its text is a case-insensitive substring of its field, or, negated, when
/// it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub(crate) field: Field,
    /// Lower-cased.
    pub(crate) text: String,
    pub(crate) negated: bool,
}

/// Splits a query into terms: words separated by spaces, `"quoted phrases"`
/// kept whole, a `from:` / `to:` / `subject:` prefix choosing the field
/// (`from:"Li Lei"` works too), a leading `-` negating. Unknown prefixes are
/// part of the word (so `a:b` searches for `a:b`). Empty terms are dropped.
pub(crate) fn parse_search(query: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut chars = query.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        // One token: runs of non-space text, where a quote opens a phrase
        // that may hold spaces.
        let mut token = String::new();
        let mut in_quotes = false;
        while let Some(&c) = chars.peek() {
            if c == '"' {
                in_quotes = !in_quotes;
                chars.next();
                continue;
            }
            if c.is_whitespace() && !in_quotes {
                break;
            }
            token.push(c);
            chars.next();
        }
        let (negated, rest) = match token.strip_prefix('-') {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, token.as_str()),
        };
        let (field, text) = match rest.split_once(':') {
            Some((prefix, text)) => match prefix.to_ascii_lowercase().as_str() {
                "from" => (Field::From, text),
                "to" => (Field::To, text),
                "subject" => (Field::Subject, text),
                _ => (Field::Any, rest),
            },
            None => (Field::Any, rest),
        };
        if !text.is_empty() {
            terms.push(Term {
                field,
                text: text.to_lowercase(),
                negated,
            });
        }
    }
    terms
}

/// Whether a message matches every term.
pub(crate) fn matches(terms: &[Term], summary: &Summary) -> bool {
    terms.iter().all(|t| {
        let found = match t.field {
            Field::From => summary.search_from.contains(&t.text),
            Field::To => summary.search_to.contains(&t.text),
            Field::Subject => summary.search_subject.contains(&t.text),
            Field::Any => {
                summary.search_from.contains(&t.text)
                    || summary.search_to.contains(&t.text)
                    || summary.search_subject.contains(&t.text)
            }
        };
        found != t.negated
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn term(field: Field, text: &str, negated: bool) -> Term {
        Term {
            field,
            text: text.into(),
            negated,
        }
    }

    #[test]
    fn search_language() {
        assert_eq!(
            parse_search(r#"from:Alice to:"Li Lei" subject:报告 invoice -spam a:b"#),
            vec![
                term(Field::From, "alice", false),
                term(Field::To, "li lei", false),
                term(Field::Subject, "报告", false),
                term(Field::Any, "invoice", false),
                term(Field::Any, "spam", true),
                term(Field::Any, "a:b", false),
            ]
        );
        assert_eq!(parse_search("   "), vec![]);
        assert_eq!(parse_search("from: -"), vec![term(Field::Any, "-", false)]);
        assert_eq!(
            parse_search("\"unclosed phrase"),
            vec![term(Field::Any, "unclosed phrase", false)]
        );
    }

    #[test]
    fn query_params() {
        assert_eq!(
            param("query=from%3Aa+b&limit=5", "query").as_deref(),
            Some("from:a b")
        );
        assert_eq!(param("limit=5", "limit").as_deref(), Some("5"));
        assert_eq!(param("limit", "limit").as_deref(), Some(""));
        assert_eq!(param("x=%zz", "x"), None);
        assert_eq!(param("x=%e4%b8%ad", "x").as_deref(), Some("中"));
        assert_eq!(percent_decode("%ff", false), None);
        assert_eq!(percent_decode("%4", false), None);
    }

    proptest! {
        #[test]
        fn percent_round_trip(s in any::<String>()) {
            prop_assert_eq!(percent_decode(&percent_encode(&s), false), Some(s));
        }

        #[test]
        fn percent_decode_never_panics(s in any::<String>()) {
            let _ = percent_decode(&s, true);
        }

        /// A word typed back after its field prefix is found again.
        #[test]
        fn search_round_trip(word in "[^\\s\"-][^\\s\"]{0,20}") {
            let terms = parse_search(&format!("subject:\"{word}\""));
            prop_assert_eq!(terms, vec![term(Field::Subject, &word.to_lowercase(), false)]);
        }
    }
}
