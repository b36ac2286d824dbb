//! The tag=value list shared by DKIM signatures, DKIM key records and DMARC records.

/// Why a tag list could not be read (RFC 6376 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagListError {
    /// A tag spec has no `=`.
    #[error("tag {0:?} has no '='")]
    MissingEquals(String),
    /// A tag name is empty or holds a character outside ALPHA / DIGIT / "_".
    #[error("bad tag name {0:?}")]
    BadName(String),
    /// A tag value holds a character outside VALCHAR and whitespace.
    #[error("tag {0:?} has a character not allowed in a tag value")]
    BadValue(String),
    /// The same tag appears twice.
    #[error("tag {0:?} appears twice")]
    Duplicate(String),
    /// More tags than any record needs.
    #[error("more than {0} tags")]
    TooMany(usize),
}

/// The most tags one list may hold; real records use a dozen.
pub const MAX_TAGS: usize = 64;

fn is_fws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `tag-list = tag-spec *( ";" tag-spec ) [ ";" ]` with
/// `tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]`.
///
/// Returns the (name, value) pairs in order; the value has its surrounding whitespace
/// removed and keeps whitespace inside it (callers strip it where the tag allows it, as in
/// base64 values). Empty specs (as in `a=1;;b=2`) are skipped, as real signers emit them.
pub fn parse_tag_list(input: &str) -> Result<Vec<(&str, &str)>, TagListError> {
    let mut tags: Vec<(&str, &str)> = Vec::new();
    for spec in input.split(';') {
        if spec.bytes().all(is_fws) {
            continue;
        }
        let Some((name, value)) = spec.split_once('=') else {
            return Err(TagListError::MissingEquals(spec.trim().to_owned()));
        };
        let name = name.trim_matches(|c: char| c.is_ascii() && is_fws(c as u8));
        let value = value.trim_matches(|c: char| c.is_ascii() && is_fws(c as u8));
        let mut chars = name.bytes();
        let first_ok = chars.next().is_some_and(|b| b.is_ascii_alphabetic());
        if !first_ok || !chars.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(TagListError::BadName(name.to_owned()));
        }
        // VALCHAR = %x21-3A / %x3C-7E; ';' cannot occur after the split.
        if !value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) || is_fws(b))
        {
            return Err(TagListError::BadValue(name.to_owned()));
        }
        if tags.iter().any(|(n, _)| *n == name) {
            return Err(TagListError::Duplicate(name.to_owned()));
        }
        if tags.len() == MAX_TAGS {
            return Err(TagListError::TooMany(MAX_TAGS));
        }
        tags.push((name, value));
    }
    Ok(tags)
}

/// The value with every whitespace character removed (base64 tags, `h=` lists).
pub(crate) fn strip_fws(value: &str) -> String {
    value.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_specs_with_folding_and_trailing_semicolon() {
        let tags = parse_tag_list(" v=1;\r\n\ta = rsa-sha256 ; b=ab cd\r\n ef;").unwrap();
        assert_eq!(
            tags,
            vec![("v", "1"), ("a", "rsa-sha256"), ("b", "ab cd\r\n ef")]
        );
    }

    #[test]
    fn rejects_duplicates_bad_names_and_missing_equals() {
        assert_eq!(
            parse_tag_list("a=1; a=2"),
            Err(TagListError::Duplicate("a".into()))
        );
        assert_eq!(
            parse_tag_list("1a=1"),
            Err(TagListError::BadName("1a".into()))
        );
        assert_eq!(
            parse_tag_list("a=1; b"),
            Err(TagListError::MissingEquals("b".into()))
        );
        assert!(matches!(
            parse_tag_list("a=\u{7f}"),
            Err(TagListError::BadValue(_))
        ));
        assert_eq!(
            parse_tag_list("a=; b=2").unwrap(),
            vec![("a", ""), ("b", "2")]
        );
    }
}
