//! mail-filter against a real clamd (started by tests/setup/38-clamd.sh with
//! a signature database of ours: the EICAR string and
//! MAILWIRE-CLAMD-TEST-SIGNATURE; StreamMaxLength 1 MiB).

mod common;

use common::{header, info, message, required_env, TempDir};
use mail_filter::{
    Clamd, ClamdConfig, ClamdReply, FailurePolicy, Filter, FilterChain, FilterError, Verdict,
    VirusAction,
};

const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn config() -> ClamdConfig {
    ClamdConfig::new(required_env("MAILWIRE_TEST_CLAMD_ADDR", "clamd"))
}

#[test]
fn a_clean_message_is_accepted() {
    let dir = TempDir::new("clamd");
    let bytes = message("hello", "Nothing to see here.");
    let path = dir.message("clean.eml", &bytes);
    let verdict = Clamd::new(config())
        .check(&info(bytes.len()), &path)
        .unwrap();
    let Verdict::Accept { add_headers } = verdict else {
        panic!("clean mail is accepted: {verdict:?}")
    };
    assert_eq!(
        header(&add_headers, "X-Virus-Scanned"),
        Some("clamd: clean")
    );
}

#[test]
fn eicar_is_rejected() {
    let dir = TempDir::new("clamd");
    let bytes = message("test", EICAR);
    let path = dir.message("eicar.eml", &bytes);
    let clamd = Clamd::new(config());
    assert_eq!(
        clamd.scan(&path).unwrap(),
        ClamdReply::Virus("Mailwire.Test.Eicar.UNOFFICIAL".into())
    );
    let verdict = clamd.check(&info(bytes.len()), &path).unwrap();
    assert_eq!(
        verdict,
        Verdict::Reject {
            code: 554,
            status: (5, 7, 1),
            text: "message contains a virus (Mailwire.Test.Eicar.UNOFFICIAL)".into()
        }
    );
}

#[test]
fn a_signature_inside_a_base64_attachment_is_found_and_quarantined() {
    // clamd decodes MIME itself: the pattern is only visible after base64.
    let encoded = "TUFJTFdJUkUtQ0xBTUQtVEVTVC1TSUdOQVRVUkU="; // MAILWIRE-CLAMD-TEST-SIGNATURE
    let body = format!(
        "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=x.bin\r\n\r\n{encoded}\r\n--b--"
    );
    let bytes = format!(
        "From: a@example.com\r\nTo: b@example.org\r\nSubject: att\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n{body}\r\n"
    )
    .into_bytes();
    let dir = TempDir::new("clamd");
    let path = dir.message("att.eml", &bytes);
    let mut config = config();
    config.on_virus = VirusAction::Quarantine;
    let verdict = Clamd::new(config).check(&info(bytes.len()), &path).unwrap();
    assert_eq!(
        verdict,
        Verdict::Quarantine {
            reason: "virus Mailwire.Test.Pattern.UNOFFICIAL".into(),
            add_headers: vec![(
                "X-Virus-Found".into(),
                "Mailwire.Test.Pattern.UNOFFICIAL".into()
            )]
        }
    );
}

#[test]
fn clamds_size_limit_is_a_scanner_failure_and_follows_the_policy() {
    let dir = TempDir::new("clamd");
    let bytes = message("big", &"x".repeat(70).repeat(30_000)); // 2.1 MB > 1 MiB
    let path = dir.message("big.eml", &bytes);
    let clamd = Clamd::new(config());
    let error = clamd.scan(&path).unwrap_err();
    let FilterError::Scanner { message, .. } = &error else {
        panic!("a scanner error: {error:?}")
    };
    assert!(message.contains("size limit exceeded"), "{message}");

    let mut chain = FilterChain::new();
    chain.push(Box::new(Clamd::new(config())), FailurePolicy::Tempfail);
    let outcome = chain.run(&info(bytes.len()), &path);
    assert_eq!(outcome.verdict.name(), "tempfail");
    assert_eq!(outcome.per_filter, vec![("clamd".to_owned(), "failed")]);

    let mut chain = FilterChain::new();
    chain.push(Box::new(Clamd::new(config())), FailurePolicy::Accept);
    let outcome = chain.run(&info(bytes.len()), &path);
    let Verdict::Accept { add_headers } = outcome.verdict else {
        panic!("accept policy")
    };
    assert_eq!(
        header(&add_headers, "X-Mailwire-Filter-Failed"),
        Some("clamd; scanner")
    );
}

#[test]
fn our_own_bound_keeps_big_messages_from_clamd() {
    let dir = TempDir::new("clamd");
    let bytes = message("big", &"y".repeat(5000));
    let path = dir.message("big.eml", &bytes);
    let mut config = config();
    config.max_size = 1000;
    let error = Clamd::new(config).scan(&path).unwrap_err();
    assert!(
        matches!(error, FilterError::TooLarge { limit: 1000, .. }),
        "{error:?}"
    );
}
