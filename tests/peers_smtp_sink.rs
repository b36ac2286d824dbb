//! Our clients (`smtp_blocking::Client`, and every adapter's client in
//! one test) against Postfix's `smtp-sink`, a server we did not write. smtp-sink ends its EHLO reply with an empty
//! `250 ` line and offers neither SIZE nor STARTTLS: the client must cope
//! with both. With `-d`, smtp-sink writes each transaction to a file, so
//! the tests see what it received.

use mailwire_tests::peers::SmtpSink;
use mailwire_tests::serve::TempDir;
use smtp_blocking::{Client, Error};
use smtp_proto::{ClientConfig, ClientTimeouts, Envelope, Host, Mailbox, Recipient, TlsPolicy};
use std::path::Path;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_secs(10);

fn config(policy: TlsPolicy) -> ClientConfig {
    let timeouts = ClientTimeouts {
        greeting: STEP,
        ehlo: STEP,
        starttls: STEP,
        auth: STEP,
        mail: STEP,
        rcpt: STEP,
        data_init: STEP,
        data_block: STEP,
        data_end: STEP,
        quit: STEP,
    };
    ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(policy)
        .with_timeouts(timeouts)
}

fn envelope(n: usize) -> Envelope {
    Envelope::new(Mailbox::parse("sender@example.com").unwrap().into()).with_recipient(
        Recipient::new(Mailbox::parse(&format!("rcpt{n}@example.org")).unwrap()),
    )
}

fn message(n: usize) -> Vec<u8> {
    format!(
        "Subject: sink message {n}\r\nFrom: sender@example.com\r\n\r\nbody {n}\r\n.leading dot\r\n"
    )
    .into_bytes()
}

/// A dump directory smtp-sink (running as `nobody`) can write to.
fn dump_dir() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("sink-dump");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// The dumped transactions once `n` exist (smtp-sink writes each after its
/// final reply, so wait a little).
fn dumped(dir: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
            .collect();
        if files.len() >= n || Instant::now() > deadline {
            return files;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sink_with_dump(dir: &TempDir) -> SmtpSink {
    let template = format!("{}/%H%M%S.", dir.0.display());
    SmtpSink::start(&["-d", &template])
}

#[test]
fn one_message_to_smtp_sink() {
    let dir = dump_dir();
    let sink = sink_with_dump(&dir);
    let mut client = Client::connect(sink.addr, config(TlsPolicy::None), STEP).unwrap();
    // The empty last line of the EHLO reply is no extension, and no SIZE or
    // STARTTLS was offered.
    assert!(!client.capabilities().starttls());
    assert!(!client.capabilities().size_advertised());
    assert!(client.capabilities().pipelining());
    let report = client.send(&envelope(0), message(0).as_slice()).unwrap();
    assert_eq!(report.recipients.len(), 1, "{report:?}");
    client.quit().unwrap();
    let files = dumped(&dir.0, 1);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].contains("rcpt0@example.org"), "{}", files[0]);
    // The whole message, un-stuffed again by smtp-sink (which writes LF).
    let content = String::from_utf8(message(0)).unwrap().replace("\r\n", "\n");
    assert!(files[0].contains(&content), "{}", files[0]);
}

#[test]
fn several_messages_over_one_connection_to_smtp_sink() {
    const COUNT: usize = 20;
    let dir = dump_dir();
    let sink = sink_with_dump(&dir);
    let mut client = Client::connect(sink.addr, config(TlsPolicy::None), STEP).unwrap();
    for n in 0..COUNT {
        assert!(client.is_usable());
        client.send(&envelope(n), message(n).as_slice()).unwrap();
    }
    client.quit().unwrap();
    let files = dumped(&dir.0, COUNT);
    assert_eq!(files.len(), COUNT);
    // smtp-sink writes what it received with LF line endings.
    for n in 0..COUNT {
        let content = String::from_utf8(message(n)).unwrap().replace("\r\n", "\n");
        assert!(
            files.iter().any(|f| f.contains(&content)),
            "message {n} missing: {files:?}"
        );
    }
}

#[test]
fn without_starttls_on_offer_opportunistic_goes_plain_and_required_fails() {
    let sink = SmtpSink::start(&[]);
    let mut client = Client::connect(sink.addr, config(TlsPolicy::Opportunistic), STEP);
    // Plain TCP cannot upgrade, but nothing was offered: plaintext it is.
    let client = client.as_mut().unwrap();
    assert!(client.tls().is_none());
    client.send(&envelope(1), message(1).as_slice()).unwrap();
    let settings = smtp_blocking::TlsSettings::new();
    let required = Client::connect_tls(
        "127.0.0.1",
        sink.addr.port(),
        config(TlsPolicy::Required),
        &settings,
        STEP,
    );
    let error = required.unwrap_err();
    assert!(
        error.to_string().to_lowercase().contains("starttls"),
        "{error}"
    );
}

#[test]
fn a_refused_recipient_leaves_the_connection_usable() {
    // -f RCPT: every RCPT gets a 5xx.
    let sink = SmtpSink::start(&["-f", "RCPT"]);
    let mut client = Client::connect(sink.addr, config(TlsPolicy::None), STEP).unwrap();
    let refused = client.send(&envelope(2), message(2).as_slice());
    assert!(
        matches!(refused, Err(Error::Rejected { .. })),
        "{refused:?}"
    );
    assert!(client.is_usable());
    let again = client.send(&envelope(3), message(3).as_slice());
    assert!(matches!(again, Err(Error::Rejected { .. })), "{again:?}");
    client.quit().unwrap();
}

#[test]
fn every_adapters_client_delivers_to_smtp_sink() {
    use mailwire_adapter_tests::{run_client, KINDS};
    for kind in KINDS {
        let dir = dump_dir();
        let sink = sink_with_dump(&dir);
        let messages: Vec<_> = (0..5).map(|n| (envelope(n), message(n))).collect();
        let outcome = run_client(kind, sink.addr, config(TlsPolicy::None), None, &messages)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(outcome.tls.is_none());
        for result in &outcome.results {
            let report = result.as_ref().unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(report.accepted().count(), 1, "{kind:?}");
        }
        let files = dumped(&dir.0, messages.len());
        assert_eq!(files.len(), messages.len(), "{kind:?}");
        for n in 0..messages.len() {
            let content = String::from_utf8(message(n)).unwrap().replace("\r\n", "\n");
            assert!(
                files.iter().any(|f| f.contains(&content)),
                "{kind:?}: message {n} missing"
            );
        }
    }
}
