//! `mailwire bulk`'s CSV reader and templates on arbitrary text: never a
//! panic; every row as long as the header; a template of every column
//! renders a row's fields in order; and the table written back as CSV
//! (every field quoted) reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/mailwire/src/template.rs"]
mod template;

fn write_csv(header: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for record in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let fields: Vec<String> = record
            .iter()
            .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(table) = template::parse_csv(&text) else {
        return;
    };
    assert!(table.rows.len() <= template::MAX_ROWS);
    for row in &table.rows {
        assert_eq!(row.len(), table.header.len());
    }
    // Placeholders for every column (names without braces, which the
    // template syntax cannot tell apart), with a separator between them.
    let names_ok = table
        .header
        .iter()
        .all(|h| !h.contains(['{', '}']) && h.trim() == h && !h.is_empty());
    if names_ok {
        let source: String = table
            .header
            .iter()
            .map(|h| format!("{{{{{h}}}}}\u{1}"))
            .collect();
        let compiled = template::Template::compile(&source, &table.header);
        let Ok(compiled) = compiled else {
            panic!("a template of the header's own names must compile: {source:?}");
        };
        // Names may repeat: a placeholder takes the first column so named.
        for row in &table.rows {
            let expected: String = table
                .header
                .iter()
                .map(|h| {
                    let first = table.header.iter().position(|x| x == h).unwrap_or(0);
                    format!("{}\u{1}", row[first])
                })
                .collect();
            assert_eq!(compiled.render(row), expected);
        }
    }
    let written = write_csv(&table.header, &table.rows);
    match template::parse_csv(&written) {
        Ok(again) => assert_eq!(again, table, "{written:?}"),
        Err(e) => panic!("the table written back does not read: {e}: {written:?}"),
    }
});
