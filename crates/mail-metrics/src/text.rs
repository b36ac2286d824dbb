//! The Prometheus text exposition format, version 0.0.4: `# HELP` and
//! `# TYPE` lines, then one line per sample, `name{label="value",...} v`.
//!
//! Label values escape `\`, `"` and line feed; help text escapes `\` and
//! line feed. Nothing else needs escaping, so any UTF-8 survives.

use crate::registry::Meta;

/// The content type of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) fn write_header(meta: &Meta, out: &mut String) {
    out.push_str("# HELP ");
    out.push_str(&meta.name);
    out.push(' ');
    escape_help(&meta.help, out);
    out.push('\n');
    out.push_str("# TYPE ");
    out.push_str(&meta.name);
    out.push(' ');
    out.push_str(meta.kind.as_str());
    out.push('\n');
}

/// One sample line: `name` + `suffix`, the labels (and `le` for a bucket),
/// the value.
pub(crate) fn write_sample(
    name: &str,
    suffix: &str,
    names: &[String],
    values: &[String],
    le: Option<&str>,
    value: impl std::fmt::Display,
    out: &mut String,
) {
    use std::fmt::Write;
    out.push_str(name);
    out.push_str(suffix);
    let mut pairs = names
        .iter()
        .map(String::as_str)
        .zip(values.iter().map(String::as_str))
        .chain(le.map(|le| ("le", le)))
        .peekable();
    if pairs.peek().is_some() {
        out.push('{');
        let mut first = true;
        for (name, value) in pairs {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(name);
            out.push_str("=\"");
            escape_label_value(value, out);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Appends `value` escaped for a label value: `\` as `\\`, `"` as `\"`,
/// line feed as `\n`.
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `help` escaped for a `# HELP` line: `\` as `\\`, line feed as
/// `\n`.
fn escape_help(help: &str, out: &mut String) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A float as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, else the
/// shortest text that reads back as the same value.
pub(crate) fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reverse of [`escape_label_value`], strict: what a scraper does.
    fn unescape(escaped: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = escaped.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'n' => out.push('\n'),
                    _ => return None,
                },
                '"' | '\n' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn known_escapes() {
        let mut out = String::new();
        escape_label_value("a\\b\"c\nd\re", &mut out);
        assert_eq!(out, "a\\\\b\\\"c\\nd\re");
        let mut out = String::new();
        escape_help("x\\y\"z\n", &mut out);
        assert_eq!(out, "x\\\\y\"z\\n");
    }

    #[test]
    fn floats() {
        assert_eq!(float(0.005), "0.005");
        assert_eq!(float(1.0), "1");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(f64::NAN), "NaN");
    }

    proptest! {
        #[test]
        fn label_values_round_trip(value in "\\PC*|[\\\\\"\n a-z]*") {
            let mut out = String::new();
            escape_label_value(&value, &mut out);
            prop_assert!(!out.contains('\n'));
            prop_assert_eq!(unescape(&out), Some(value));
        }

        #[test]
        fn floats_read_back(value in any::<f64>()) {
            let text = float(value);
            let back: f64 = match text.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                t => t.parse().map_err(|e| TestCaseError::fail(format!("{t}: {e}")))?,
            };
            prop_assert!(back == value || (back.is_nan() && value.is_nan()));
        }
    }
}
