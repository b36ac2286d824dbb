//! The built-in filters: a maximum size, and rules on header fields.

use crate::verdict::valid_header_name;
use crate::{sanitize_text, Filter, FilterError, MessageInfo, Verdict};
use regex::Regex;
use serde::Deserialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Rejects a message larger than a bound with `552 5.3.4`.
#[derive(Debug, Clone)]
pub struct SizeLimit {
    max_bytes: u64,
}

impl SizeLimit {
    /// Messages above `max_bytes` are rejected.
    pub fn new(max_bytes: u64) -> SizeLimit {
        SizeLimit { max_bytes }
    }
}

impl Filter for SizeLimit {
    fn name(&self) -> &str {
        "size"
    }

    fn check(&self, info: &MessageInfo, message: &Path) -> Result<Verdict, FilterError> {
        let stored = std::fs::metadata(message).map(|m| m.len()).unwrap_or(0);
        let size = info.size.max(stored);
        if size > self.max_bytes {
            return Ok(Verdict::Reject {
                code: 552,
                status: (5, 3, 4),
                text: format!(
                    "message too big: {size} bytes, at most {} accepted",
                    self.max_bytes
                ),
            });
        }
        Ok(Verdict::accept())
    }
}

/// What a matching [`HeaderRule`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderAction {
    /// Refuse the message (`554 5.7.1`).
    Reject,
    /// Store it aside.
    Quarantine,
    /// Accept it with an extra header field.
    AddHeader,
}

/// One header rule as configured (`kind = "header"` in `[[filters.chain]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRuleConfig {
    /// The rule's name in logs and metrics (default `header:NAME`).
    #[serde(default)]
    pub name: Option<String>,
    /// The header field to look at (any case).
    pub header: String,
    /// A regular expression (the `regex` crate's syntax) matched against
    /// each such field's unfolded value.
    pub pattern: String,
    /// What to do when it matches.
    pub action: HeaderAction,
    /// The reply text (reject) or the reason (quarantine).
    #[serde(default)]
    pub text: Option<String>,
    /// The field added on a match (`add_header`), as `Name: value`.
    #[serde(default)]
    pub add_header: Option<String>,
}

/// The most header bytes a rule reads; fields after it are not seen.
const MAX_HEADER_SECTION: u64 = 1024 * 1024;

/// Matches a header field's value against a pattern.
#[derive(Debug, Clone)]
pub struct HeaderRule {
    name: String,
    field: String,
    pattern: Regex,
    action: HeaderAction,
    text: String,
    add_header: Option<(String, String)>,
}

impl HeaderRule {
    /// Builds a rule; a bad pattern or added header is a
    /// [`FilterError::Config`].
    pub fn new(config: &HeaderRuleConfig) -> Result<HeaderRule, FilterError> {
        if !valid_header_name(&config.header) {
            return Err(FilterError::Config(format!(
                "{:?} is not a header field name",
                config.header
            )));
        }
        let pattern = regex::RegexBuilder::new(&config.pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| FilterError::Config(format!("header rule pattern: {e}")))?;
        let add_header = match (&config.add_header, config.action) {
            (Some(field), _) => Some(parse_field(field)?),
            (None, HeaderAction::AddHeader) => {
                return Err(FilterError::Config(
                    "a header rule with action add_header needs add_header = \"Name: value\""
                        .into(),
                ))
            }
            (None, _) => None,
        };
        let name = config
            .name
            .clone()
            .unwrap_or_else(|| format!("header:{}", config.header.to_ascii_lowercase()));
        let text = sanitize_text(config.text.as_deref().unwrap_or_default());
        let text = if text.is_empty() {
            format!("message refused by header rule {name}")
        } else {
            text
        };
        Ok(HeaderRule {
            name,
            field: config.header.clone(),
            pattern,
            action: config.action,
            text,
            add_header,
        })
    }
}

/// `Name: value` → (name, value), both checked.
pub(crate) fn parse_field(field: &str) -> Result<(String, String), FilterError> {
    let (name, value) = field.split_once(':').ok_or_else(|| {
        FilterError::Config(format!("{field:?} is not a header field (Name: value)"))
    })?;
    let name = name.trim();
    if !valid_header_name(name) {
        return Err(FilterError::Config(format!(
            "{name:?} is not a header field name"
        )));
    }
    Ok((name.to_owned(), sanitize_text(value)))
}

impl Filter for HeaderRule {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self, _info: &MessageInfo, message: &Path) -> Result<Verdict, FilterError> {
        let file = File::open(message).map_err(|source| FilterError::Io {
            scanner: self.name.clone(),
            source,
        })?;
        let fields = read_header_fields(file).map_err(|source| FilterError::Io {
            scanner: self.name.clone(),
            source,
        })?;
        let matched = fields.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case(&self.field) && self.pattern.is_match(value)
        });
        if !matched {
            return Ok(Verdict::accept());
        }
        Ok(match self.action {
            HeaderAction::Reject => Verdict::reject(&self.text),
            HeaderAction::Quarantine => Verdict::Quarantine {
                reason: self.text.clone(),
                add_headers: Vec::new(),
            },
            HeaderAction::AddHeader => Verdict::Accept {
                add_headers: self.add_header.iter().cloned().collect(),
            },
        })
    }
}

/// The header section's fields (name, unfolded value), read up to 1 MiB.
/// Lines are taken as bytes and read lossily: a rule sees what it can.
fn read_header_fields(file: File) -> std::io::Result<Vec<(String, String)>> {
    let mut reader = BufReader::new(file.take(MAX_HEADER_SECTION));
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        if text.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(text.trim());
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_fields_are_unfolded() {
        let dir = std::env::temp_dir().join(format!("mf-hdr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m");
        std::fs::write(
            &path,
            "Subject: hello\r\n  world\r\nX-A: 1\r\n\r\nSubject: body\r\n",
        )
        .unwrap();
        let fields = read_header_fields(File::open(&path).unwrap()).unwrap();
        assert_eq!(
            fields,
            vec![
                ("Subject".to_owned(), "hello world".to_owned()),
                ("X-A".to_owned(), "1".to_owned())
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn add_header_needs_a_field() {
        let config = HeaderRuleConfig {
            name: None,
            header: "Subject".into(),
            pattern: "x".into(),
            action: HeaderAction::AddHeader,
            text: None,
            add_header: None,
        };
        assert!(matches!(
            HeaderRule::new(&config),
            Err(FilterError::Config(_))
        ));
        let bad = HeaderRuleConfig {
            pattern: "(".into(),
            action: HeaderAction::Reject,
            ..config
        };
        assert!(matches!(HeaderRule::new(&bad), Err(FilterError::Config(_))));
    }
}
