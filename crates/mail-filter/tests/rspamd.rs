//! mail-filter against a real rspamd (started by tests/setup/37-rspamd.sh).

mod common;

use common::{header, info, message, required_env, TempDir};
use mail_filter::{
    Filter, FilterChain, FiltersConfig, RewriteAction, Rspamd, RspamdAction, RspamdConfig, Verdict,
};

fn rspamd() -> Rspamd {
    Rspamd::new(RspamdConfig::new(required_env(
        "MAILWIRE_TEST_RSPAMD_URL",
        "rspamd",
    )))
    .unwrap()
}

#[test]
fn a_clean_message_is_accepted_with_the_score() {
    let dir = TempDir::new("rspamd");
    let bytes = message("lunch", "See you at noon.");
    let path = dir.message("ham.eml", &bytes);
    let verdict = rspamd().check(&info(bytes.len()), &path).unwrap();
    let Verdict::Accept { add_headers } = verdict else {
        panic!("ham must be accepted: {verdict:?}")
    };
    let status = header(&add_headers, "X-Spam-Status").unwrap();
    assert!(status.starts_with("No, score="), "{status}");
    assert!(status.ends_with("action=no_action"), "{status}");
    assert!(header(&add_headers, "X-Spam-Score").is_some());
    assert!(header(&add_headers, "X-Spam").is_none());
}

#[test]
fn gtube_is_rejected_with_rspamds_text() {
    let dir = TempDir::new("rspamd");
    let bytes = message(
        "offer",
        "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
    );
    let path = dir.message("gtube.eml", &bytes);
    let verdict = rspamd().check(&info(bytes.len()), &path).unwrap();
    assert_eq!(
        verdict,
        Verdict::Reject {
            code: 554,
            status: (5, 7, 1),
            text: "Gtube pattern".into()
        }
    );
}

#[test]
fn add_header_and_rewrite_subject_add_spam_headers() {
    let dir = TempDir::new("rspamd");
    let bytes = message("offer", "buy now MAILWIRE-RSPAMD-SPAMMY");
    let path = dir.message("spammy.eml", &bytes);
    let reply = rspamd().scan(&info(bytes.len()), &path).unwrap();
    assert_eq!(reply.action, RspamdAction::AddHeader);
    assert!(reply.symbols.iter().any(|s| s == "MAILWIRE_TEST_SPAMMY"));
    let Verdict::Accept { add_headers } = reply.verdict(rspamd().config()) else {
        panic!("add header accepts")
    };
    assert_eq!(header(&add_headers, "X-Spam"), Some("Yes"));
    assert!(header(&add_headers, "X-Spam-Status")
        .unwrap()
        .starts_with("Yes, score="));

    let bytes = message("offer", "buy now MAILWIRE-RSPAMD-VERY-SPAMMY");
    let path = dir.message("very.eml", &bytes);
    let verdict = rspamd().check(&info(bytes.len()), &path).unwrap();
    let Verdict::Accept { add_headers } = verdict else {
        panic!("rewrite subject accepts by default: {verdict:?}")
    };
    assert_eq!(header(&add_headers, "X-Spam-Subject"), Some("[SPAM] offer"));

    let mut config = RspamdConfig::new(required_env("MAILWIRE_TEST_RSPAMD_URL", "rspamd"));
    config.on_rewrite_subject = RewriteAction::Quarantine;
    let verdict = Rspamd::new(config)
        .unwrap()
        .check(&info(bytes.len()), &path)
        .unwrap();
    assert_eq!(verdict.name(), "quarantine", "{verdict:?}");
}

#[test]
fn soft_reject_is_a_temporary_failure() {
    let dir = TempDir::new("rspamd");
    let bytes = message("later", "MAILWIRE-RSPAMD-SOFT-REJECT");
    let path = dir.message("soft.eml", &bytes);
    let verdict = rspamd().check(&info(bytes.len()), &path).unwrap();
    assert_eq!(
        verdict,
        Verdict::TempFail {
            text: "mailwire test: try again later".into()
        }
    );
}

#[test]
fn a_large_message_is_streamed_and_scanned() {
    let dir = TempDir::new("rspamd");
    let line = "All work and no play makes a long message for the scanner.\r\n";
    let bytes = message("big", &line.repeat(60_000)); // about 3.5 MB
    let path = dir.message("big.eml", &bytes);
    let reply = rspamd().scan(&info(bytes.len()), &path).unwrap();
    assert_eq!(reply.action, RspamdAction::NoAction, "{reply:?}");
}

#[test]
fn the_chain_runs_rspamd_from_toml() {
    let url = required_env("MAILWIRE_TEST_RSPAMD_URL", "rspamd");
    let config: FiltersConfig = toml::from_str(&format!(
        r#"
        on_failure = "tempfail"
        [[chain]]
        kind = "size"
        max_bytes = 1000000
        [[chain]]
        kind = "rspamd"
        url = "{url}"
        timeout_ms = 10000
        "#
    ))
    .unwrap();
    let chain = FilterChain::from_config(&config).unwrap();
    let dir = TempDir::new("rspamd");
    let bytes = message(
        "x",
        "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
    );
    let path = dir.message("gtube.eml", &bytes);
    let outcome = chain.run(&info(bytes.len()), &path);
    assert_eq!(outcome.verdict.name(), "reject");
    assert_eq!(outcome.decided_by.as_deref(), Some("rspamd"));
    assert_eq!(
        outcome.per_filter,
        vec![
            ("size".to_owned(), "accept"),
            ("rspamd".to_owned(), "reject")
        ]
    );
}
