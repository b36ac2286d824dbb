//! What `mailwire bulk` reads: a CSV file of recipients (RFC 4180: a header
//! row, quoted fields with `""` for a quote, CRLF or LF line ends) and
//! templates with `{{column}}` placeholders.

use std::collections::HashMap;
use std::fmt;

/// The most rows one file may hold, and the longest field.
pub(crate) const MAX_ROWS: usize = 10_000_000;
const MAX_FIELD: usize = 64 * 1024;

/// Why a CSV file or a template could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    Csv { line: usize, reason: String },
    UnknownColumn(String),
    Unclosed(usize),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Csv { line, reason } => write!(f, "CSV line {line}: {reason}"),
            TemplateError::UnknownColumn(c) => write!(
                f,
                "the template uses {{{{{c}}}}}, which is not a column of the CSV file"
            ),
            TemplateError::Unclosed(at) => write!(
                f,
                "a `{{{{` at byte {at} of the template has no closing `}}}}`"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

/// A parsed CSV file: the header and the rows, each as long as the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

/// Parses RFC 4180 CSV with a header row. A row with a different number of
/// fields than the header is an error naming its line; blank lines are
/// skipped; a UTF-8 byte order mark is ignored.
pub(crate) fn parse_csv(text: &str) -> Result<Table, TemplateError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records: Vec<(usize, Vec<String>)> = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    let err = |line, reason: &str| TemplateError::Csv {
        line,
        reason: reason.into(),
    };
    while let Some(c) = chars.next() {
        if field.len() > MAX_FIELD {
            return Err(err(line, "a field is longer than 64 KiB"));
        }
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => {
                return Err(err(
                    line,
                    "a quote inside an unquoted field (quote the whole field and double the quote)",
                ))
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                // A blank line is skipped; `""` alone is a record of one
                // empty field, as it is at the end of the file.
                let blank = record.len() == 1 && record[0].is_empty() && !was_quoted;
                was_quoted = false;
                let done = std::mem::take(&mut record);
                if !blank {
                    records.push((record_line, done));
                    if records.len() > MAX_ROWS {
                        return Err(err(line, "more than 10,000,000 rows"));
                    }
                }
                line += 1;
                record_line = line;
            }
            _ if was_quoted => return Err(err(line, "text after a closing quote")),
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(err(record_line, "a quoted field is not closed"));
    }
    if !field.is_empty() || !record.is_empty() || was_quoted {
        record.push(field);
        records.push((record_line, record));
    }
    let mut records = records.into_iter();
    let (_, header) = records
        .next()
        .ok_or_else(|| err(1, "the file is empty (a header row is needed)"))?;
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_owned()).collect();
    let mut rows = Vec::new();
    for (at, row) in records {
        if row.len() != header.len() {
            return Err(err(
                at,
                &format!("{} fields, the header has {}", row.len(), header.len()),
            ));
        }
        rows.push(row);
    }
    Ok(Table { header, rows })
}

/// A template split into text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Column(usize),
}

impl Template {
    /// Compiles `text` against `header`: every `{{name}}` (spaces inside
    /// allowed) must name a column; a name that heads two columns means the
    /// first of them.
    pub(crate) fn compile(text: &str, header: &[String]) -> Result<Template, TemplateError> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (n, h) in header.iter().enumerate() {
            index.entry(h.as_str()).or_insert(n);
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or(TemplateError::Unclosed(offset + open))?;
            let name = after[..close].trim();
            let column = *index
                .get(name)
                .ok_or_else(|| TemplateError::UnknownColumn(name.to_owned()))?;
            pieces.push(Piece::Column(column));
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template { pieces })
    }

    /// The text for one row.
    pub(crate) fn render(&self, row: &[String]) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Column(n) => out.push_str(row.get(*n).map_or("", String::as_str)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_empty_field_alone_is_a_record_not_a_blank_line() {
        let table = parse_csv("email\r\n\r\n\"\"\r\nb@example.com\r\n").unwrap();
        assert_eq!(
            table.rows,
            [vec![String::new()], vec!["b@example.com".to_owned()]]
        );
    }

    #[test]
    fn a_repeated_column_name_means_the_first_column() {
        let table = parse_csv("email,name,name\r\na@example.com,First,Second\r\n").unwrap();
        let template = Template::compile("Hi {{ name }}", &table.header).unwrap();
        assert_eq!(template.render(&table.rows[0]), "Hi First");
    }
    use proptest::prelude::*;

    fn encode(table: &Table) -> String {
        let field = |f: &String| {
            if f.contains([',', '"', '\n', '\r']) || f.is_empty() {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        };
        let mut out = String::new();
        for row in std::iter::once(&table.header).chain(&table.rows) {
            out.push_str(&row.iter().map(field).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        out
    }

    #[test]
    fn reads_quotes_commas_and_newlines() {
        let t = parse_csv(
            "\u{feff}email,name\r\na@x.example,\"Doe, \"\"J\"\"\"\n\nb@x.example,\"two\nlines\"",
        )
        .unwrap();
        assert_eq!(t.header, ["email", "name"]);
        assert_eq!(
            t.rows,
            [
                vec!["a@x.example", "Doe, \"J\""],
                vec!["b@x.example", "two\nlines"]
            ]
        );
    }

    #[test]
    fn bad_csv_names_its_line() {
        assert_eq!(
            parse_csv("a,b\n1,2\n3\n").unwrap_err(),
            TemplateError::Csv {
                line: 3,
                reason: "1 fields, the header has 2".into()
            }
        );
        assert!(matches!(
            parse_csv("a\n\"open\n"),
            Err(TemplateError::Csv { line: 2, .. })
        ));
        assert!(matches!(
            parse_csv("a\nx\"y\n"),
            Err(TemplateError::Csv { line: 2, .. })
        ));
        assert!(matches!(
            parse_csv(""),
            Err(TemplateError::Csv { line: 1, .. })
        ));
    }

    #[test]
    fn placeholders_are_filled_and_checked() {
        let header = vec!["email".to_owned(), "first name".to_owned()];
        let t =
            Template::compile("Hi {{ first name }}, mail to {{email}}.{{email}}", &header).unwrap();
        assert_eq!(
            t.render(&["a@x".into(), "Ann".into()]),
            "Hi Ann, mail to a@x.a@x"
        );
        assert_eq!(
            Template::compile("{{nope}}", &header).unwrap_err(),
            TemplateError::UnknownColumn("nope".into())
        );
        assert_eq!(
            Template::compile("ab {{email", &header).unwrap_err(),
            TemplateError::Unclosed(3)
        );
        assert_eq!(
            Template::compile("no placeholders } {", &header)
                .unwrap()
                .render(&[]),
            "no placeholders } {"
        );
    }

    proptest! {
        /// Whatever the fields hold, encoding a table and parsing it back
        /// gives the same table.
        #[test]
        fn csv_round_trips(
            header in proptest::collection::vec("[a-z]{1,8}", 1..5),
            cells in proptest::collection::vec(proptest::collection::vec(".{0,12}", 5), 0..20),
        ) {
            let width = header.len();
            let rows: Vec<Vec<String>> = cells.into_iter().map(|r| r.into_iter().take(width).collect()).collect();
            // A row of one empty field is a blank line, which is skipped.
            let rows: Vec<Vec<String>> = rows.into_iter().filter(|r| !(r.len() == 1 && r[0].is_empty())).collect();
            let table = Table { header, rows };
            let parsed = parse_csv(&encode(&table)).unwrap();
            prop_assert_eq!(parsed, table);
        }

        /// Any text parses or fails with a line number, and never panics.
        #[test]
        fn any_text_is_handled(text in ".{0,300}") {
            match parse_csv(&text) {
                Ok(t) => prop_assert!(t.rows.iter().all(|r| r.len() == t.header.len())),
                Err(TemplateError::Csv { line, .. }) => prop_assert!(line >= 1),
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }

        /// Rendering is substitution: a template without placeholders is
        /// itself, and each placeholder becomes its cell.
        #[test]
        fn render_substitutes(prefix in "[^{}]{0,20}", suffix in "[^{}]{0,20}", value in ".{0,20}") {
            let header = vec!["c".to_owned()];
            let t = Template::compile(&format!("{prefix}{{{{c}}}}{suffix}"), &header).unwrap();
            prop_assert_eq!(t.render(std::slice::from_ref(&value)), format!("{prefix}{value}{suffix}"));
        }
    }
}
