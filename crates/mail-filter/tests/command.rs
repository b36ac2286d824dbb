//! The external-command filter with real programs (/bin/sh scripts).

mod common;

use common::{info, message, TempDir};
use mail_filter::{
    Command, CommandConfig, FailurePolicy, Filter, FilterChain, FilterError, FiltersConfig, Verdict,
};
use std::time::{Duration, Instant};

fn sh(script: &str) -> Command {
    Command::new(CommandConfig::new(
        "script",
        vec!["/bin/sh".into(), "-c".into(), script.into()],
    ))
    .unwrap()
}

fn sample(body: &str) -> (TempDir, std::path::PathBuf, usize) {
    let dir = TempDir::new("command");
    let bytes = message("hi", body);
    let path = dir.message("m.eml", &bytes);
    (dir, path, bytes.len())
}

#[test]
fn exit_zero_accepts_and_the_envelope_is_in_the_environment() {
    let (_dir, path, size) = sample("hello");
    let mut info = info(size);
    info.recipients.push("carol@example.org".into());
    info.authenticated = Some("alice".into());
    let script = format!(
        r#"test "$MAILWIRE_CLIENT_IP" = 127.0.0.1 && test "$MAILWIRE_HELO" = mx.example.com \
        && test "$MAILWIRE_MAIL_FROM" = alice@example.com \
        && test "$MAILWIRE_RECIPIENTS" = "bob@example.org carol@example.org" \
        && test "$MAILWIRE_AUTHENTICATED" = alice && test "$MAILWIRE_QUEUE_ID" = TESTQ1 \
        && test "$MAILWIRE_SIZE" = {size} && test "$(wc -c)" -eq {size} || {{ echo wrong env; exit 1; }}"#
    );
    assert_eq!(sh(&script).check(&info, &path).unwrap(), Verdict::accept());
    // Nothing else of ours leaks into the program's environment.
    std::env::set_var("MAILWIRE_SECRET_FOR_TEST", "x");
    let verdict = sh(r#"test -z "$MAILWIRE_SECRET_FOR_TEST" || exit 1"#)
        .check(&info, &path)
        .unwrap();
    assert_eq!(verdict, Verdict::accept());
}

#[test]
fn the_reject_status_rejects_with_the_first_line_sanitized() {
    let (_dir, path, size) = sample("buy MAGIC-WORD now");
    let script = r#"if grep -q MAGIC-WORD; then printf 'no magic\rhere\t!\r\n250 fake\r\nsecond line\n'; exit 1; fi"#;
    assert_eq!(
        sh(script).check(&info(size), &path).unwrap(),
        Verdict::Reject {
            code: 554,
            status: (5, 7, 1),
            text: "no magic here !".into()
        }
    );
    let (_dir, clean, size) = sample("plain");
    assert_eq!(
        sh(script).check(&info(size), &clean).unwrap(),
        Verdict::accept()
    );
}

#[test]
fn the_quarantine_status_quarantines() {
    let (_dir, path, size) = sample("x");
    let verdict = sh("cat >/dev/null; echo looks odd; exit 2")
        .check(&info(size), &path)
        .unwrap();
    assert_eq!(
        verdict,
        Verdict::Quarantine {
            reason: "looks odd".into(),
            add_headers: vec![]
        }
    );
}

#[test]
fn another_status_or_a_missing_program_is_a_failure() {
    let (_dir, path, size) = sample("x");
    let error = sh("exit 7").check(&info(size), &path).unwrap_err();
    assert!(matches!(error, FilterError::Scanner { .. }), "{error:?}");
    let error = sh("kill -9 $$").check(&info(size), &path).unwrap_err();
    assert!(error.to_string().contains("signal"), "{error}");
    let missing = Command::new(CommandConfig::new(
        "missing",
        vec!["/nonexistent/filter-program".into()],
    ))
    .unwrap();
    let error = missing.check(&info(size), &path).unwrap_err();
    assert!(matches!(error, FilterError::Io { .. }), "{error:?}");
}

#[test]
fn a_program_that_hangs_is_killed_at_the_deadline() {
    let (_dir, path, size) = sample("x");
    let mut config = CommandConfig::new("slow", vec!["/bin/sleep".into(), "30".into()]);
    config.timeout_ms = 300;
    let started = Instant::now();
    let error = Command::new(config)
        .unwrap()
        .check(&info(size), &path)
        .unwrap_err();
    assert!(matches!(error, FilterError::Timeout { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_program_that_never_reads_its_input_does_not_block_us() {
    // 4 MB on standard input, none of it read: the pipe fills, we must not
    // wait for it.
    let (_dir, path, size) = sample(&"z".repeat(4 << 20));
    let mut config = CommandConfig::new(
        "lazy",
        vec!["/bin/sh".into(), "-c".into(), "sleep 0.2; exit 0".into()],
    );
    config.timeout_ms = 5000;
    let verdict = Command::new(config)
        .unwrap()
        .check(&info(size), &path)
        .unwrap();
    assert_eq!(verdict, Verdict::accept());
}

#[test]
fn endless_output_is_bounded() {
    let (_dir, path, size) = sample("x");
    let mut config = CommandConfig::new(
        "chatty",
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "head -c 3000000 /dev/zero | tr '\\0' 'a'; exit 1".into(),
        ],
    );
    config.timeout_ms = 10_000;
    let verdict = Command::new(config)
        .unwrap()
        .check(&info(size), &path)
        .unwrap();
    let Verdict::Reject { text, .. } = verdict else {
        panic!("reject: {verdict:?}")
    };
    assert_eq!(text.len(), 200);
}

#[test]
fn the_chain_builds_commands_and_header_rules_from_toml() {
    let config: FiltersConfig = toml::from_str(
        r#"
        on_failure = "accept"
        failure_header = "X-Filter-Trouble"

        [[chain]]
        kind = "header"
        header = "subject"
        pattern = "(?i)\\bcheap\\b"
        action = "add_header"
        add_header = "X-Flagged: cheap subject"

        [[chain]]
        kind = "header"
        name = "no-bulk"
        header = "Precedence"
        pattern = "^bulk$"
        action = "reject"
        text = "no bulk mail here"

        [[chain]]
        kind = "command"
        name = "broken"
        program = ["/bin/sh", "-c", "exit 9"]

        [[chain]]
        kind = "command"
        name = "strict"
        program = ["/bin/sh", "-c", "exit 9"]
        on_failure = "tempfail"
        "#,
    )
    .unwrap();
    let chain = FilterChain::from_config(&config).unwrap();
    assert_eq!(
        chain.names().collect::<Vec<_>>(),
        ["header:subject", "no-bulk", "broken", "strict"]
    );
    let dir = TempDir::new("command");
    let bytes = message("CHEAP watches", "x");
    let path = dir.message("m.eml", &bytes);
    let outcome = chain.run(&info(bytes.len()), &path);
    assert_eq!(outcome.verdict.name(), "tempfail");
    assert_eq!(outcome.decided_by.as_deref(), Some("strict"));
    assert_eq!(
        outcome.per_filter,
        vec![
            ("header:subject".to_owned(), "accept"),
            ("no-bulk".to_owned(), "accept"),
            ("broken".to_owned(), "failed"),
            ("strict".to_owned(), "failed"),
        ]
    );

    let bulk = dir.message(
        "bulk.eml",
        b"Subject: cheap\r\nPrecedence: bulk\r\n\r\nbody\r\n",
    );
    let outcome = chain.run(&info(40), &bulk);
    assert_eq!(outcome.verdict, Verdict::reject("no bulk mail here"));

    let mut lenient = FilterChain::new();
    lenient.push(Box::new(sh("exit 9")), FailurePolicy::Accept);
    let outcome = lenient.run(&info(bytes.len()), &path);
    assert_eq!(
        outcome.verdict,
        Verdict::Accept {
            add_headers: vec![("X-Mailwire-Filter-Failed".into(), "script; scanner".into())]
        }
    );
}

#[test]
fn bad_configurations_are_typed_errors() {
    for toml_text in [
        "[[chain]]\nkind = \"header\"\nheader = \"Subject\"\npattern = \"(\"\naction = \"reject\"",
        "[[chain]]\nkind = \"rspamd\"\nurl = \"https://127.0.0.1:1\"",
        "[[chain]]\nkind = \"command\"\nname = \"x\"\nprogram = []",
        "failure_header = \"Bad Header\"",
    ] {
        let config: FiltersConfig = toml::from_str(toml_text).unwrap();
        let error = FilterChain::from_config(&config).unwrap_err();
        assert!(
            matches!(error, FilterError::Config(_)),
            "{toml_text}: {error:?}"
        );
    }
    assert!(toml::from_str::<FiltersConfig>("[[chain]]\nkind = \"size\"\nmax = 1").is_err());
    assert!(toml::from_str::<FiltersConfig>("[[chain]]\nkind = \"antivirus\"").is_err());
}
