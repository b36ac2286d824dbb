//! One suite of scenarios, run over every client × server pairing of the
//! three adapters (blocking, async-std, smol), in plain TCP, STARTTLS and
//! implicit TLS.

use mailwire_adapter_tests::{
    bounded, client_config, credentials, envelope, run_client, server_config, start_server, Kind,
    Pki, Security, KINDS,
};
use smtp_adapter::Error;
use smtp_proto::{Envelope, RecipientStatus, TlsPolicy};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Every pairing, each with a server of its own.
fn pairings() -> impl Iterator<Item = (Kind, Kind)> {
    KINDS
        .into_iter()
        .flat_map(|client| KINDS.into_iter().map(move |server| (client, server)))
}

/// A body of `size` bytes in lines of 76, some starting with a dot.
fn big_body(size: usize) -> Vec<u8> {
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    let mut n = 0;
    while body.len() < size {
        let lead = if n % 7 == 0 { "." } else { "x" };
        body.extend_from_slice(format!("{lead}{n:073}\r\n").as_bytes());
        n += 1;
    }
    body
}

/// AUTH, then three messages over one connection: one delivered whole
/// (with a dot-led line), one to a refused and an accepted recipient, one
/// to a refused recipient only (rejected; the connection stays usable),
/// then a large one.
fn deliveries(security: Security) {
    let pki = Pki::new();
    for (client_kind, server_kind) in pairings() {
        let pairing = format!("{client_kind:?} client, {server_kind:?} server, {security:?}");
        let server = start_server(server_kind, server_config(security), pki.server(security));
        let config = client_config(security)
            .with_plaintext_auth(security == Security::Plain)
            .with_credentials(credentials());
        let tls = (security != Security::Plain).then(|| pki.client());
        let first = b"Subject: one\r\n\r\nHello\r\n.leading dot\r\n".to_vec();
        let big = big_body(300 * 1024);
        let messages: Vec<(Envelope, Vec<u8>)> = vec![
            (envelope(&["rcpt@example.org"]), first.clone()),
            (
                envelope(&["nobody@example.org", "two@example.org"]),
                b"Subject: two\r\n\r\nHalf\r\n".to_vec(),
            ),
            (
                envelope(&["nobody@example.org"]),
                b"Subject: three\r\n\r\nNone\r\n".to_vec(),
            ),
            (envelope(&["big@example.org"]), big.clone()),
        ];
        let outcome = run_client(client_kind, server.addr, config, tls, &messages)
            .unwrap_or_else(|e| panic!("{pairing}: {e}"));

        match security {
            Security::Plain => assert!(outcome.tls.is_none(), "{pairing}"),
            _ => {
                let info = outcome.tls.as_ref().expect(&pairing);
                assert!(info.verified, "{pairing}");
                assert_eq!(info.peer_name.as_deref(), Some("127.0.0.1"), "{pairing}");
                assert!(!info.peer_certificates.is_empty(), "{pairing}");
            }
        }
        let results = &outcome.results;
        let first_report = results[0].as_ref().expect(&pairing);
        assert_eq!(first_report.accepted().count(), 1, "{pairing}");
        assert_eq!(first_report.queue_id.as_deref(), Some("Q1"), "{pairing}");
        let second = results[1].as_ref().expect(&pairing);
        assert_eq!(second.accepted().count(), 1, "{pairing}");
        let refused: Vec<_> = second
            .recipients
            .iter()
            .filter(|(_, status)| matches!(status, RecipientStatus::Rejected(_)))
            .map(|(path, _)| path.to_string())
            .collect();
        assert_eq!(refused, ["<nobody@example.org>"], "{pairing}");
        match &results[2] {
            Err(Error::Rejected { report, .. }) => {
                assert_eq!(report.accepted().count(), 0, "{pairing}")
            }
            other => panic!("{pairing}: expected a rejection, got {other:?}"),
        }
        assert!(results[3].is_ok(), "{pairing}: {:?}", results[3]);

        let messages = server.recorder.messages();
        assert_eq!(messages.len(), 3, "{pairing}");
        assert_eq!(messages[0].bytes, first, "{pairing}");
        assert_eq!(messages[0].from.to_string(), "<sender@example.com>");
        assert_eq!(messages[1].recipients.len(), 1, "{pairing}");
        assert_eq!(messages[2].bytes, big, "{pairing}");
        let users = server.recorder.users();
        assert!(
            users.iter().all(|u| u.as_deref() == Some("user")),
            "{pairing}: {users:?}"
        );
        server.stop();
    }
}

#[test]
fn every_pairing_delivers_over_plain_tcp() {
    bounded(LIMIT, || deliveries(Security::Plain));
}

#[test]
fn every_pairing_delivers_over_starttls() {
    bounded(LIMIT, || deliveries(Security::StartTls));
}

#[test]
fn every_pairing_delivers_over_implicit_tls() {
    bounded(LIMIT, || deliveries(Security::Implicit));
}

/// Without CHUNKING and PIPELINING: DATA with dot-stuffing, one command at
/// a time.
#[test]
fn every_pairing_delivers_with_data_one_command_at_a_time() {
    bounded(LIMIT, || {
        for (client_kind, server_kind) in pairings() {
            let pairing = format!("{client_kind:?} client, {server_kind:?} server");
            let config = server_config(Security::Plain)
                .with_chunking(false)
                .with_pipelining(false);
            let server = start_server(server_kind, config, None);
            let body = b"Subject: data\r\n\r\n.\r\n..two dots\r\nend\r\n".to_vec();
            let messages = [(envelope(&["rcpt@example.org"]), body.clone())];
            let config = client_config(Security::Plain).with_chunking(false);
            let outcome = run_client(client_kind, server.addr, config, None, &messages)
                .unwrap_or_else(|e| panic!("{pairing}: {e}"));
            assert!(outcome.results[0].is_ok(), "{pairing}");
            assert_eq!(server.recorder.messages()[0].bytes, body, "{pairing}");
            server.stop();
        }
    });
}

/// 2,000 recipients in one pipelined group: the client writes about 90 KiB
/// of commands while the server writes 2,000 replies, in plain TCP and
/// inside TLS. Neither side may wait on the other's full buffer.
#[test]
fn a_large_pipelined_group_does_not_deadlock() {
    bounded(LIMIT, || {
        let pki = Pki::new();
        let recipients: Vec<String> = (0..2000)
            .map(|n| format!("recipient-number-{n:05}@example.org"))
            .collect();
        let names: Vec<&str> = recipients.iter().map(String::as_str).collect();
        for security in [Security::Plain, Security::StartTls] {
            for (client_kind, server_kind) in pairings() {
                let pairing =
                    format!("{client_kind:?} client, {server_kind:?} server, {security:?}");
                let config = server_config(security).with_max_recipients(5000);
                let server = start_server(server_kind, config, pki.server(security));
                let messages = [(envelope(&names), b"Subject: many\r\n\r\nHi\r\n".to_vec())];
                let tls = (security != Security::Plain).then(|| pki.client());
                let outcome = run_client(
                    client_kind,
                    server.addr,
                    client_config(security),
                    tls,
                    &messages,
                )
                .unwrap_or_else(|e| panic!("{pairing}: {e}"));
                let report = outcome.results[0].as_ref().expect(&pairing);
                assert_eq!(report.accepted().count(), 2000, "{pairing}");
                assert_eq!(server.recorder.messages()[0].recipients.len(), 2000);
                server.stop();
            }
        }
    });
}

/// `Opportunistic`: STARTTLS where the server offers it, plaintext where
/// it does not.
#[test]
fn every_pairing_uses_starttls_opportunistically() {
    bounded(LIMIT, || {
        let pki = Pki::new();
        for (client_kind, server_kind) in pairings() {
            for offered in [true, false] {
                let pairing =
                    format!("{client_kind:?} client, {server_kind:?} server, offered {offered}");
                let server = if offered {
                    let config = server_config(Security::Plain).with_starttls(true);
                    start_server(server_kind, config, pki.server(Security::StartTls))
                } else {
                    start_server(server_kind, server_config(Security::Plain), None)
                };
                let config = client_config(Security::Plain).with_tls(TlsPolicy::Opportunistic);
                let messages = [(
                    envelope(&["rcpt@example.org"]),
                    b"Subject: o\r\n\r\nHi\r\n".to_vec(),
                )];
                let outcome = run_client(
                    client_kind,
                    server.addr,
                    config,
                    Some(pki.client()),
                    &messages,
                )
                .unwrap_or_else(|e| panic!("{pairing}: {e}"));
                assert_eq!(outcome.tls.is_some(), offered, "{pairing}");
                assert!(outcome.results[0].is_ok(), "{pairing}");
                server.stop();
            }
        }
    });
}

/// The mistakes people make with TLS get the same words from every client:
/// an untrusted certificate, plaintext on an implicit-TLS port, implicit TLS
/// on a plaintext port.
#[test]
fn every_client_explains_tls_mistakes_alike() {
    bounded(LIMIT, || {
        let pki = Pki::new();
        let stranger = Pki::new();
        for (client_kind, server_kind) in pairings() {
            let pairing = format!("{client_kind:?} client, {server_kind:?} server");
            let messages: [(Envelope, Vec<u8>); 0] = [];

            let server = start_server(
                server_kind,
                server_config(Security::StartTls),
                pki.server(Security::StartTls),
            );
            let config = client_config(Security::StartTls);
            let err = run_client(
                client_kind,
                server.addr,
                config,
                Some(stranger.client()),
                &messages,
            )
            .expect_err(&pairing);
            assert!(matches!(err, Error::Tls { .. }), "{pairing}: {err:?}");
            assert!(err.to_string().contains("not trusted"), "{pairing}: {err}");
            server.stop();

            let server = start_server(
                server_kind,
                server_config(Security::Implicit),
                pki.server(Security::Implicit),
            );
            let mut config = client_config(Security::Plain);
            config.timeouts.greeting = Duration::from_millis(500);
            let err =
                run_client(client_kind, server.addr, config, None, &messages).expect_err(&pairing);
            assert!(
                matches!(err, Error::NoGreeting { .. }),
                "{pairing}: {err:?}"
            );
            assert!(
                err.to_string().contains("implicit-TLS port"),
                "{pairing}: {err}"
            );
            server.stop();

            let server = start_server(server_kind, server_config(Security::Plain), None);
            let config = client_config(Security::Implicit);
            let err = run_client(
                client_kind,
                server.addr,
                config,
                Some(pki.client()),
                &messages,
            )
            .expect_err(&pairing);
            assert!(err.to_string().contains("plaintext"), "{pairing}: {err}");
            server.stop();
        }
    });
}

/// A client with a small receive buffer writes 40,000 pipelined RCPT
/// commands (about 1.6 MB) in one go and reads only afterwards: the
/// server's replies (about 1 MB) fill that buffer long before the client is
/// done writing, so the server's writes wait while commands keep coming
/// (an async server goes on reading them meanwhile). Every reply arrives.
#[test]
fn a_client_that_pipelines_without_reading_gets_every_reply() {
    bounded(LIMIT, || {
        for server_kind in KINDS {
            let config = server_config(Security::Plain).with_max_recipients(50_000);
            let server = start_server(server_kind, config, None);
            let count = 40_000;
            let replies = flood(server.addr, count);
            assert_eq!(
                replies,
                count + 2,
                "{server_kind:?}: MAIL, every RCPT, QUIT"
            );
            server.stop();
        }
    });
}

/// Writes EHLO, waits for its reply, then MAIL, `count` RCPTs and QUIT in
/// one write without reading; then counts the replies to them.
fn flood(addr: std::net::SocketAddr, count: usize) -> usize {
    use std::io::{BufRead, BufReader, Write};
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    // A server that stopped reading would leave this write blocked.
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap(); // greeting
    stream.write_all(b"EHLO flood.test\r\n").unwrap();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    }
    let mut group = b"MAIL FROM:<sender@example.com>\r\n".to_vec();
    for n in 0..count {
        group.extend_from_slice(format!("RCPT TO:<recipient-{n:06}@example.org>\r\n").as_bytes());
    }
    group.extend_from_slice(b"QUIT\r\n");
    stream.write_all(&group).unwrap();
    let mut replies = 0;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return replies,
            Ok(_) if line.as_bytes().get(3) == Some(&b' ') => replies += 1,
            Ok(_) => {}
            Err(e) => panic!("after {replies} replies: {e}"),
        }
    }
}
