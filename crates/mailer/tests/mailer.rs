//! The Mailer against scripted servers on loopback: a token fetched for
//! each connection, several messages on one session, a pool, and failures
//! explained with the builder's own names.

use mailer::{Credentials, ErrorKind, Mailer, Security, Words};
use mime_codec::{Mailbox, MessageBuilder, OutgoingMessage};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A server that serves `connections` connections, one after another,
/// answering by the verb (`ehlo` for EHLO), and records every command line.
fn scripted(
    connections: usize,
    ehlo: &'static str,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    let thread = thread::spawn(move || {
        for _ in 0..connections {
            let (stream, _) = listener.accept().unwrap();
            script(stream, ehlo, &record);
        }
    });
    (addr, seen, thread)
}

/// Answers one connection by the verb (`ehlo` for EHLO) until QUIT or the
/// end of the stream, recording every command line into `record`.
fn script(stream: TcpStream, ehlo: &str, record: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 fake ESMTP\r\n").unwrap();
    let mut in_data = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let line = line.trim_end().to_owned();
        if in_data {
            if line == "." {
                in_data = false;
                writer.write_all(b"250 2.0.0 queued as Q1\r\n").unwrap();
            }
            continue;
        }
        record.lock().unwrap().push(line.clone());
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" => ehlo,
            "AUTH" => "235 2.7.0 ok\r\n",
            "DATA" => {
                in_data = true;
                "354 go\r\n"
            }
            "QUIT" => "221 bye\r\n",
            _ => "250 ok\r\n",
        };
        writer.write_all(answer.as_bytes()).unwrap();
        if verb == "QUIT" {
            break;
        }
    }
}

fn message(subject: &str) -> OutgoingMessage {
    MessageBuilder::new()
        .from(Mailbox::address_only("app@example.com").unwrap())
        .to(Mailbox::address_only("ops@example.com").unwrap())
        .subject(subject)
        .text_body("x")
        .build()
        .unwrap()
}

#[test]
fn an_oauth2_token_is_fetched_for_each_connection() {
    let (addr, seen, server) = scripted(2, "250-fake\r\n250 AUTH XOAUTH2\r\n");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let mailer = Mailer::server("127.0.0.1", addr.port(), Security::None)
        .allow_plaintext_auth(true)
        .credentials(Credentials::oauth2("me@example.com", move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            Ok(format!("token-{n}"))
        }))
        .build()
        .unwrap();
    mailer.send(message("one")).unwrap();
    mailer.send(message("two")).unwrap();
    server.join().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let auth: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("AUTH XOAUTH2"))
        .cloned()
        .collect();
    assert_eq!(auth.len(), 2, "{auth:?}");
    assert_ne!(auth[0], auth[1], "a fresh token each time");
}

#[test]
fn a_session_sends_several_messages_on_one_connection() {
    let (addr, seen, server) = scripted(1, "250-fake\r\n250 PIPELINING\r\n");
    let mailer = Mailer::local(addr.port()).build().unwrap();
    let mut session = mailer.session().unwrap();
    for subject in ["a", "b", "c"] {
        let report = session.send(message(subject)).unwrap();
        assert_eq!(report.queue_id.as_deref(), Some("Q1"));
    }
    session.quit();
    server.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|l| l.starts_with("EHLO")).count(), 1);
    assert_eq!(seen.iter().filter(|l| l.starts_with("MAIL")).count(), 3);
    assert_eq!(seen.last().map(String::as_str), Some("QUIT"));
}

#[test]
fn a_pool_shares_connections_between_threads() {
    let sink = mailer::LocalSink::start().unwrap();
    let pool = sink.mailer().build().unwrap().pool(2).unwrap();
    thread::scope(|s| {
        for i in 0..6 {
            let pool = &pool;
            s.spawn(move || pool.send(message(&format!("m{i}"))).unwrap());
        }
    });
    pool.close();
}

#[test]
fn a_stripped_starttls_is_explained_with_the_builders_names() {
    let (addr, seen, server) = scripted(1, "250-fake\r\n250 AUTH PLAIN CRAM-MD5\r\n");
    let mailer = Mailer::server("127.0.0.1", addr.port(), Security::StartTlsOpportunistic)
        .credentials(Credentials::password("me", "secret"))
        .build()
        .unwrap();
    let error = mailer.send(message("x")).unwrap_err();
    server.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Tls);
    let text = error.explain(mailer.context(), &Words::RUST);
    assert!(
        text.contains("`MailerBuilder::allow_plaintext_auth`"),
        "{text}"
    );
    assert!(!seen.lock().unwrap().iter().any(|l| l.starts_with("AUTH")));
}

#[test]
fn envelopes_need_smtputf8_only_for_non_ascii_local_parts() {
    let message = MessageBuilder::new()
        .from(Mailbox::address_only("app@bücher.example").unwrap())
        .to(Mailbox::address_only("用户@例子.测试").unwrap())
        .text_body("x")
        .build()
        .unwrap();
    let envelope = mailer::envelope(&message).unwrap();
    let commands = String::from_utf8(mailer::envelope_commands(&envelope)).unwrap();
    assert!(
        commands.starts_with("MAIL FROM:<app@xn--bcher-kva.example> SIZE="),
        "{commands}"
    );
    assert!(commands.contains(" SMTPUTF8\r\n"), "{commands}");
    assert!(
        commands.ends_with("RCPT TO:<用户@例子.测试>\r\n"),
        "{commands}"
    );
}

#[cfg(feature = "async-std")]
#[test]
fn send_on_async_std_delivers_through_the_sink() {
    let sink = mailer::LocalSink::start().unwrap();
    let mailer = sink.mailer().build().unwrap();
    // async-std's sockets and timers run on async-io, which smol's
    // block_on drives.
    let report = smol::block_on(mailer.send_on::<mailer::AsyncStd>(message("async-std"))).unwrap();
    assert_eq!(report.recipients.len(), 1);
}

#[cfg(feature = "smol")]
#[test]
fn an_async_session_sends_several_messages_on_one_connection() {
    let (addr, seen, server) = scripted(1, "250-fake\r\n250 PIPELINING\r\n");
    let mailer = Mailer::local(addr.port()).build().unwrap();
    smol::block_on(async {
        let mut session = mailer.session_async().await.unwrap();
        for subject in ["a", "b", "c"] {
            let report = session.send(message(subject)).await.unwrap();
            assert_eq!(report.queue_id.as_deref(), Some("Q1"));
        }
        session.quit().await;
        let refused = session.send(message("after quit")).await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Usage);
    });
    server.join().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|l| l.starts_with("EHLO")).count(), 1);
    assert_eq!(seen.iter().filter(|l| l.starts_with("MAIL")).count(), 3);
    assert_eq!(seen.last().map(String::as_str), Some("QUIT"));
}

#[cfg(feature = "smol")]
#[test]
fn a_dropped_async_session_still_says_quit() {
    let (addr, seen, server) = scripted(1, "250 fake\r\n");
    let mailer = Mailer::local(addr.port()).build().unwrap();
    smol::block_on(async {
        let mut session = mailer.session_async().await.unwrap();
        session.send(message("once")).await.unwrap();
    });
    // The QUIT runs on smol's executor; the server ends when it arrives.
    server.join().unwrap();
    assert_eq!(
        seen.lock().unwrap().last().map(String::as_str),
        Some("QUIT")
    );
}

#[cfg(feature = "smol")]
#[test]
fn an_async_pool_sends_concurrently_over_at_most_its_connections() {
    let (addr, seen, most) = concurrent("250-fake\r\n250 PIPELINING\r\n");
    let mailer = Mailer::local(addr.port()).build().unwrap();
    let pool = mailer.pool_async(2).unwrap();
    let reports = smol::block_on(futures_util::future::join_all(
        (0..10).map(|i| pool.send(message(&format!("m{i}")))),
    ));
    assert!(reports.iter().all(Result::is_ok), "{reports:?}");
    assert!(pool.idle_connections() <= 2);
    smol::block_on(pool.close());
    let count = |verb: &str| {
        let seen = seen.lock().unwrap();
        seen.iter().filter(|l| l.starts_with(verb)).count()
    };
    // Every connection said QUIT after close (a hang guard, not a timing).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while count("QUIT") < count("EHLO") && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count("MAIL"), 10);
    assert_eq!(count("QUIT"), count("EHLO"));
    assert!(
        (1..=2).contains(&count("EHLO")),
        "{:?}",
        seen.lock().unwrap()
    );
    assert!(most.load(Ordering::SeqCst) <= 2);
}

/// The script of [`scripted`] on every connection that comes, each on
/// its own thread; also counts the most connections open at once.
#[cfg(feature = "smol")]
fn concurrent(ehlo: &'static str) -> (SocketAddr, Arc<Mutex<Vec<String>>>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let most = Arc::new(AtomicUsize::new(0));
    let (record, peak) = (Arc::clone(&seen), Arc::clone(&most));
    let open = Arc::new(AtomicUsize::new(0));
    // Left running: it ends with the test process.
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let (record, peak, open) = (Arc::clone(&record), Arc::clone(&peak), Arc::clone(&open));
            thread::spawn(move || {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                script(stream, ehlo, &record);
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, seen, most)
}
