//! The mailer's async front door against a real `mailwire serve`: a pool
//! shared by concurrent tasks delivers every message exactly once, and a
//! session meant for STARTTLS is told at once that the port speaks
//! implicit TLS.

use mailer::{Error, Mailer, Security};
use mailwire_tests::serve::Serve;
use mime_codec::{Mailbox, MessageBuilder, OutgoingMessage};
use std::time::{Duration, Instant};

fn message(subject: &str) -> OutgoingMessage {
    MessageBuilder::new()
        .from(Mailbox::address_only("app@example.com").unwrap())
        .to(Mailbox::address_only("ops@example.com").unwrap())
        .subject(subject)
        .text_body("sent through the async pool")
        .build()
        .unwrap()
}

#[test]
fn an_async_pool_delivers_every_message_of_concurrent_tasks_once() {
    let serve = Serve::start(&[], &[]);
    let mailer = Mailer::local(serve.plain.port()).build().unwrap();
    let pool = std::sync::Arc::new(mailer.pool_async(4).unwrap());
    let reports = smol::block_on(async {
        // Tasks on smol's executor threads, not one future polled in turn.
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let pool = std::sync::Arc::clone(&pool);
                smol::spawn(async move { pool.send(message(&format!("async {i:02}"))).await })
            })
            .collect();
        futures_util::future::join_all(tasks).await
    });
    assert!(reports.iter().all(Result::is_ok), "{reports:?}");
    assert!(pool.idle_connections() <= 4);
    smol::block_on(pool.close());
    let stored = serve.wait_stored(24);
    assert_eq!(stored.len(), 24);
    let mut subjects: Vec<String> = stored
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(m);
            let line = text
                .lines()
                .find(|l| l.starts_with("Subject: "))
                .unwrap_or_else(|| panic!("no Subject in {text}"));
            line.trim_start_matches("Subject: ").to_owned()
        })
        .collect();
    subjects.sort();
    let expected: Vec<String> = (0..24).map(|i| format!("async {i:02}")).collect();
    assert_eq!(subjects, expected);
}

#[test]
fn an_async_send_to_an_implicit_tls_port_is_told_within_seconds() {
    let serve = Serve::start(&["--self-signed", "--tls-listen", "127.0.0.1:0"], &[]);
    let port = serve.tls.expect("a TLS listener").port();
    let mailer = Mailer::server("127.0.0.1", port, Security::StartTls)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = smol::block_on(mailer.send_async(message("never"))).unwrap_err();
    // A hang guard, not a benchmark: the greeting timeout is 30 s.
    assert!(started.elapsed() < Duration::from_secs(15), "{error:?}");
    assert!(matches!(error, Error::ImplicitTlsPort { .. }), "{error:?}");
    let session = smol::block_on(mailer.session_async()).unwrap_err();
    assert!(
        matches!(session, Error::ImplicitTlsPort { .. }),
        "{session:?}"
    );
    assert!(serve.stored().is_empty());
}
