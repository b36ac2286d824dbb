//! docs/alerts.yml: valid YAML in the shape of a Prometheus rule file
//! (read by PyYAML, a parser we did not write), every alert the docs
//! promise present, and every `mailwire_*` series an expression selects
//! rendered by the registry with the labels and values it matches on.
//! When `promtool` is installed it checks the file too.

use mail_metrics::{DeliveryOutcome, MailMetrics, MessageOutcome};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn alerts_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/alerts.yml")
}

/// PyYAML reads the file and checks its shape; prints one line per alert,
/// `alert<TAB>for<TAB>severity<TAB>expr`.
const READ_RULES: &str = r#"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
assert set(doc) == {"groups"}, doc.keys()
for group in doc["groups"]:
    assert isinstance(group["name"], str)
    for rule in group["rules"]:
        unknown = set(rule) - {"alert", "expr", "for", "labels", "annotations"}
        assert not unknown, unknown
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert rule["labels"]["severity"] in ("warning", "critical"), rule
        assert rule["annotations"]["summary"], rule
        print("\t".join([rule["alert"], str(rule.get("for", "0m")), rule["labels"]["severity"], rule["expr"]]))
"#;

fn python() -> String {
    std::env::var("MAILWIRE_TEST_PROMETHEUS_PYTHON").unwrap_or_else(|_| {
        panic!(
            "MAILWIRE_TEST_PROMETHEUS_PYTHON is not set: run the tests through tests/run-all.sh \
             (its setup installs python3-yaml and finds the Python that imports it)"
        )
    })
}

/// A label matcher: label, operator, value.
type Matcher = (String, String, String);

/// `name{k="v",k=~"a|b"}` selectors of `mailwire_*` metrics in `expr`:
/// the metric and its matchers (label, operator, value).
fn selectors(expr: &str) -> Vec<(String, Vec<Matcher>)> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("mailwire_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..end].to_owned();
        let mut matchers = Vec::new();
        let after = &tail[end..];
        let mut consumed = end;
        if let Some(inner) = after.strip_prefix('{') {
            let close = inner.find('}').expect("a closing brace");
            for part in inner[..close].split(',').filter(|p| !p.trim().is_empty()) {
                let op_at = part.find(['=', '!']).expect("a matcher operator");
                let label = part[..op_at].trim().to_owned();
                let op_len = if part[op_at..].starts_with("=~")
                    || part[op_at..].starts_with("!=")
                    || part[op_at..].starts_with("!~")
                {
                    2
                } else {
                    1
                };
                let op = part[op_at..op_at + op_len].to_owned();
                let value = part[op_at + op_len..].trim().trim_matches('"').to_owned();
                matchers.push((label, op, value));
            }
            consumed += close + 2;
        }
        found.push((name, matchers));
        rest = &tail[consumed..];
    }
    found
}

/// Every sample the registry renders: name -> label sets.
fn rendered() -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let metrics = MailMetrics::new();
    metrics.listener("smtp");
    drop(metrics.connection_opened("smtp"));
    metrics.message("smtp", MessageOutcome::Accepted, "ok");
    metrics.auth_failure("submission");
    metrics.filter_verdict("clamd", "error");
    for state in ["queued", "in_flight", "deferred"] {
        metrics.set_queue_depth(state, 1);
    }
    metrics.delivery(DeliveryOutcome::Delivered);
    metrics.storage_error();
    metrics.reply_time(Duration::from_millis(5));
    let mut samples: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for line in metrics.registry().render().lines() {
        if line.starts_with('#') {
            continue;
        }
        let (series, _value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}')),
            None => (series, ""),
        };
        // The registry's values here hold no commas or quotes.
        let labels = labels
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_owned(), v.trim_matches('"').to_owned())
            })
            .collect();
        samples.entry(name.to_owned()).or_default().push(labels);
    }
    samples
}

#[test]
fn the_alert_rules_parse_and_select_series_the_registry_renders() {
    let file = alerts_file();
    let out = Command::new(python())
        .args(["-c", READ_RULES])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docs/alerts.yml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rules: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let names: BTreeSet<&str> = rules.iter().map(|r| r[0]).collect();
    for promised in [
        "MailwireDown",
        "MailwireQueueGrowing",
        "MailwireDeliveryFailures",
        "MailwireAuthFailureSpike",
        "MailwireStorageErrors",
        "MailwireScannerFailures",
    ] {
        assert!(names.contains(promised), "{promised} missing: {names:?}");
    }
    assert_eq!(names.len(), rules.len(), "alert names repeat");

    let samples = rendered();
    let mut checked = 0;
    for rule in &rules {
        let expr = rule[3];
        assert_eq!(
            expr.matches('(').count(),
            expr.matches(')').count(),
            "{}: unbalanced parentheses",
            rule[0]
        );
        for (metric, matchers) in selectors(expr) {
            let series = samples
                .get(&metric)
                .unwrap_or_else(|| panic!("{}: {metric} is not rendered", rule[0]));
            for (label, op, value) in matchers {
                let values: BTreeSet<&str> = series
                    .iter()
                    .filter_map(|s| s.get(&label).map(String::as_str))
                    .collect();
                assert!(
                    !values.is_empty(),
                    "{}: {metric} has no label {label}",
                    rule[0]
                );
                if op == "=" {
                    assert!(
                        values.contains(value.as_str()),
                        "{}: {metric}{{{label}=\"{value}\"}} never rendered: {values:?}",
                        rule[0]
                    );
                } else if op == "=~" {
                    for alternative in value.split('|') {
                        assert!(
                            values.contains(alternative),
                            "{}: {metric} {label} {alternative} never rendered",
                            rule[0]
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} selectors checked");

    // promtool, when installed, checks the PromQL itself.
    if let Ok(out) = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
    {
        assert!(
            out.status.success(),
            "promtool check rules: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_selector_reader_reads_matchers() {
    let found = selectors(
        r#"sum(rate(mailwire_deliveries_total{outcome="failed"}[5m])) / mailwire_queue_depth{state=~"a|b", x!="y"} + mailwire_storage_errors_total"#,
    );
    assert_eq!(
        found,
        [
            (
                "mailwire_deliveries_total".to_owned(),
                vec![("outcome".to_owned(), "=".to_owned(), "failed".to_owned())]
            ),
            (
                "mailwire_queue_depth".to_owned(),
                vec![
                    ("state".to_owned(), "=~".to_owned(), "a|b".to_owned()),
                    ("x".to_owned(), "!=".to_owned(), "y".to_owned())
                ]
            ),
            ("mailwire_storage_errors_total".to_owned(), vec![]),
        ]
    );
}
