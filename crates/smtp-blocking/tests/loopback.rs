//! Our client against our server on 127.0.0.1, over real sockets.
//!
//! Every test runs under `bounded`, so a hang fails the test instead of
//! stalling the suite.

use smtp_blocking::{Client, Connection, Decision, Error, Handler, Message, Server, ServerHandle};
use smtp_blocking::{Collect, Discard, Transaction};
use smtp_proto::{
    ClientConfig, ClientError, EnhancedStatus, Envelope, ForwardPath, Host, Mailbox, Phase,
    RcptParams, Recipient, RecipientStatus, Reply, ReplyCode, ServerConfig, TlsPolicy,
};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use support::{bounded, client_config, limit, server_config, timeouts, user_secret};

const CONNECT: Duration = Duration::from_secs(5);

fn mailbox(s: &str) -> Mailbox {
    Mailbox::parse(s).unwrap()
}

fn envelope(to: &[&str]) -> Envelope {
    to.iter().fold(
        Envelope::new(mailbox("sender@example.com").into()),
        |e, to| e.with_recipient(Recipient::new(mailbox(to))),
    )
}

fn connect(addr: SocketAddr) -> Client {
    Client::connect(addr, client_config(TlsPolicy::None), CONNECT).unwrap()
}

/// Keeps every message; refuses recipients whose local part is `nobody`.
#[derive(Clone, Default)]
struct Recorder {
    messages: Arc<Mutex<Vec<Message>>>,
    helos: Arc<Mutex<usize>>,
}

impl Recorder {
    fn messages(&self) -> Vec<Message> {
        self.messages.lock().unwrap().clone()
    }
}

impl Handler for Recorder {
    fn helo(&self, _: &Connection, _: &Host, _: bool) -> Decision {
        *self.helos.lock().unwrap() += 1;
        Decision::Accept
    }

    fn rcpt_to(&self, _: &Connection, to: &ForwardPath, _: &RcptParams) -> Decision {
        if to.to_string().contains("nobody@") {
            let reply = Reply::new(
                ReplyCode::MAILBOX_UNAVAILABLE,
                EnhancedStatus::new(5, 1, 1),
                ["No such user"],
            )
            .unwrap();
            return Decision::Reject(reply);
        }
        Decision::Accept
    }

    type Sink = Collect;

    fn data_start(&self, _conn: &Connection, transaction: &Transaction) -> Result<Collect, Reply> {
        let this = self.clone();
        Ok(Collect::new(transaction, move |message| {
            let message = &message;
            let mut messages = this.messages.lock().unwrap();
            messages.push(message.clone());
            let text = format!("Ok: queued as Q{}", messages.len());
            Decision::AcceptWith(
                Reply::new(ReplyCode::OK, EnhancedStatus::new(2, 0, 0), [text]).unwrap(),
            )
        }))
    }
}

fn start(config: ServerConfig) -> (ServerHandle, Recorder) {
    let recorder = Recorder::default();
    let server = Server::bind("127.0.0.1:0", config, recorder.clone()).unwrap();
    (server.spawn().unwrap(), recorder)
}

#[test]
fn one_message_is_delivered() {
    bounded(limit(), || {
        let (server, recorder) = start(server_config());
        let mut client = connect(server.local_addr());
        let body = b"Subject: hi\r\n\r\nHello\r\n.leading dot\r\n";
        let report = client
            .send(&envelope(&["rcpt@example.org"]), &body[..])
            .unwrap();
        assert_eq!(report.accepted().count(), 1);
        assert_eq!(report.queue_id.as_deref(), Some("Q1"));
        client.quit().unwrap();
        let messages = recorder.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].bytes, body);
        assert_eq!(messages[0].from.to_string(), "<sender@example.com>");
        assert_eq!(messages[0].recipients.len(), 1);
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn the_handler_receives_the_exact_body_bytes_with_bdat() {
    exact_body_bytes(client_config(TlsPolicy::None));
}

#[test]
fn the_handler_receives_the_exact_body_bytes_with_data() {
    // Without CHUNKING the body goes as dot-stuffed DATA.
    exact_body_bytes(client_config(TlsPolicy::None).with_chunking(false));
}

#[test]
fn without_pipelining_commands_go_one_at_a_time() {
    bounded(limit(), || {
        let (server, recorder) = start(server_config().with_pipelining(false));
        let mut client =
            Client::connect(server.local_addr(), client_config(TlsPolicy::None), CONNECT).unwrap();
        for i in 0..3 {
            let body = format!("message {i}\r\n");
            client
                .send(
                    &envelope(&["a@example.org", "b@example.org"]),
                    body.as_bytes(),
                )
                .unwrap();
        }
        client.quit().unwrap();
        assert_eq!(recorder.messages().len(), 3);
        assert_eq!(recorder.messages()[2].recipients.len(), 2);
        server.shutdown(Duration::from_secs(1));
    });
}

/// Hands out its bytes a few at a time, so each read becomes a BDAT chunk,
/// and pauses once, halfway.
struct Trickle<'a> {
    rest: &'a [u8],
    step: usize,
    pause_at: usize,
    pause: Duration,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.rest.len() <= self.pause_at && !self.pause.is_zero() {
            std::thread::sleep(std::mem::take(&mut self.pause));
        }
        let n = self.step.min(buf.len()).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

#[test]
fn a_long_body_streams_past_the_first_reply_deadline() {
    // Tens of thousands of BDAT chunks whose replies come back while the body
    // is still being written, and a pause longer than the reply timeout: the
    // replies that already arrived count, so no spurious timeout.
    bounded(limit(), || {
        let (server, recorder) = start(server_config());
        let mut timeouts = timeouts(Duration::from_secs(10));
        timeouts.data_block = Duration::from_millis(150);
        let config = client_config(TlsPolicy::None).with_timeouts(timeouts);
        let mut client = Client::connect(server.local_addr(), config, CONNECT).unwrap();
        let body: Vec<u8> = (0..30_000)
            .flat_map(|i| format!("line {i:06}\r\n").into_bytes())
            .collect();
        let trickle = Trickle {
            rest: &body,
            step: 13,
            pause_at: body.len() / 2,
            pause: Duration::from_millis(400),
        };
        client
            .send(&envelope(&["rcpt@example.org"]), trickle)
            .unwrap();
        client.quit().unwrap();
        assert_eq!(recorder.messages()[0].bytes, body);
        server.shutdown(Duration::from_secs(1));
    });
}

fn exact_body_bytes(config: ClientConfig) {
    bounded(limit(), move || {
        let (server, recorder) = start(server_config());
        let mut client = Client::connect(server.local_addr(), config, CONNECT).unwrap();
        // Several 64 KiB chunks, lines that start with dots, a lone dot line
        // and a chunk boundary inside a line.
        let mut body = Vec::new();
        for i in 0..6000 {
            match i % 4 {
                0 => body.extend_from_slice(b".\r\n"),
                1 => body.extend_from_slice(b"..two dots\r\n"),
                2 => body.extend_from_slice(format!("line {i} {}\r\n", "x".repeat(40)).as_bytes()),
                _ => body.extend_from_slice(b"\r\n"),
            }
        }
        assert!(body.len() > 3 * 64 * 1024 / 2);
        client
            .send(&envelope(&["rcpt@example.org"]), &body[..])
            .unwrap();
        client.quit().unwrap();
        assert_eq!(recorder.messages()[0].bytes, body);
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn many_messages_go_over_one_connection() {
    bounded(limit(), || {
        let (server, recorder) = start(server_config());
        let mut client = connect(server.local_addr());
        for i in 0..50 {
            let body = format!("Subject: {i}\r\n\r\nmessage {i}\r\n");
            let report = client
                .send(&envelope(&["rcpt@example.org"]), body.as_bytes())
                .unwrap();
            assert_eq!(report.queue_id, Some(format!("Q{}", i + 1)));
        }
        assert!(client.is_usable());
        client.quit().unwrap();
        let messages = recorder.messages();
        assert_eq!(messages.len(), 50);
        assert_eq!(messages[49].bytes, b"Subject: 49\r\n\r\nmessage 49\r\n");
        assert_eq!(
            *recorder.helos.lock().unwrap(),
            1,
            "one connection, one EHLO"
        );
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn several_clients_at_once() {
    bounded(limit(), || {
        let (server, recorder) = start(server_config());
        let addr = server.local_addr();
        let clients: Vec<_> = (0..8)
            .map(|c| {
                std::thread::spawn(move || {
                    let mut client = connect(addr);
                    for m in 0..10 {
                        let body = format!("client {c} message {m}\r\n");
                        client
                            .send(&envelope(&["rcpt@example.org"]), body.as_bytes())
                            .unwrap();
                    }
                    client.quit().unwrap();
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
        let messages = recorder.messages();
        assert_eq!(messages.len(), 80);
        for c in 0..8 {
            for m in 0..10 {
                let body = format!("client {c} message {m}\r\n");
                assert!(messages.iter().any(|msg| msg.bytes == body.as_bytes()));
            }
        }
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn a_rejected_recipient_is_reported_and_the_others_get_the_message() {
    bounded(limit(), || {
        let (server, recorder) = start(server_config());
        let mut client = connect(server.local_addr());
        let report = client
            .send(
                &envelope(&["nobody@example.org", "rcpt@example.org"]),
                &b"hi\r\n"[..],
            )
            .unwrap();
        assert!(
            matches!(&report.recipients[0].1, RecipientStatus::Rejected(r) if r.code().get() == 550)
        );
        assert!(matches!(
            &report.recipients[1].1,
            RecipientStatus::Accepted(_)
        ));
        assert_eq!(recorder.messages()[0].recipients.len(), 1);

        // Every recipient refused: an error, and the connection goes on.
        let err = client
            .send(&envelope(&["nobody@example.org"]), &b"hi\r\n"[..])
            .unwrap_err();
        let Error::Rejected { report, .. } = &err else {
            panic!("{err}")
        };
        assert!(matches!(
            &report.recipients[0].1,
            RecipientStatus::Rejected(_)
        ));
        assert_eq!(
            err.to_string(),
            format!(
                "{} refused the message: every recipient was refused \
                 (<nobody@example.org>: 550 5.1.1 No such user)",
                client.peer_addr()
            )
        );
        assert!(client.is_usable());
        client
            .send(&envelope(&["rcpt@example.org"]), &b"again\r\n"[..])
            .unwrap();
        client.quit().unwrap();
        assert_eq!(recorder.messages().len(), 2);
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn a_message_over_the_size_limit_is_refused() {
    bounded(limit(), || {
        let (server, recorder) = start(server_config().with_max_message_size(Some(1000)));
        let mut client = connect(server.local_addr());
        let body = vec![b'a'; 5000];

        // SIZE is advertised and the size known: refused before sending.
        let err = client
            .send(&envelope(&["rcpt@example.org"]).with_size(5000), &body[..])
            .unwrap_err();
        assert!(
            matches!(
                err.client_error(),
                Some(ClientError::MessageTooBig {
                    size: 5000,
                    limit: 1000
                })
            ),
            "{err}"
        );
        assert!(client.is_usable());

        // Size not declared: the server refuses it at the end of data.
        let mut lines = Vec::new();
        for _ in 0..100 {
            lines.extend_from_slice(&[b'a'; 48]);
            lines.extend_from_slice(b"\r\n");
        }
        let err = client
            .send(&envelope(&["rcpt@example.org"]), &lines[..])
            .unwrap_err();
        let Error::Rejected { report, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(
            report.final_reply.as_ref().map(|r| r.code().get()),
            Some(552)
        );

        client
            .send(&envelope(&["rcpt@example.org"]), &b"small\r\n"[..])
            .unwrap();
        client.quit().unwrap();
        let messages = recorder.messages();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].bytes, b"small\r\n");
        server.shutdown(Duration::from_secs(1));
    });
}

#[test]
fn connecting_to_a_closed_port_fails_quickly_and_clearly() {
    bounded(limit(), || {
        let addr = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let start = Instant::now();
        let err = Client::connect(addr, client_config(TlsPolicy::None), CONNECT).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("could not connect to {addr}: connection refused")
        );
    });
}

#[test]
fn a_server_that_never_answers_times_out() {
    bounded(limit(), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let silent = std::thread::spawn(move || {
            let (_socket, _) = listener.accept().unwrap();
            // Hold the connection open, writing nothing.
            let _ = stop_rx.recv_timeout(Duration::from_secs(10));
        });
        let mut timeouts = timeouts(Duration::from_secs(10));
        timeouts.greeting = Duration::from_millis(300);
        let config = client_config(TlsPolicy::None).with_timeouts(timeouts);
        let start = Instant::now();
        let err = Client::connect(addr, config, CONNECT).unwrap_err();
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        assert_eq!(
            err.client_error(),
            Some(&ClientError::Timeout {
                phase: Phase::Greeting
            })
        );
        assert!(
            err.to_string().contains("did not send an SMTP greeting"),
            "{err}"
        );
        stop_tx.send(()).unwrap();
        silent.join().unwrap();
    });
}

#[test]
fn connections_over_the_limit_are_refused_with_421() {
    bounded(limit(), || {
        let recorder = Recorder::default();
        let server = Server::bind("127.0.0.1:0", server_config(), recorder)
            .unwrap()
            .with_max_connections(1)
            .spawn()
            .unwrap();
        let first = connect(server.local_addr());
        let err = Client::connect(server.local_addr(), client_config(TlsPolicy::None), CONNECT)
            .unwrap_err();
        match err.client_error() {
            Some(ClientError::ServiceClosing {
                phase: Phase::Greeting,
                reply,
            }) => {
                assert_eq!(reply.code().get(), 421);
                assert_eq!(reply.enhanced(), EnhancedStatus::new(4, 7, 0));
            }
            _ => panic!("{err}"),
        }
        first.quit().unwrap();
        server.shutdown(Duration::from_secs(1));
    });
}

/// With `max_sessions` 1, a second client is not refused: its connection
/// waits, greeted only once the first session ends; a third likewise
/// after the second; and shutdown is not held up by clients still queued.
#[test]
fn max_sessions_makes_new_clients_wait_for_their_greeting_instead_of_refusing() {
    use std::io::{BufRead, BufReader, Write};
    bounded(limit(), || {
        let recorder = Recorder::default();
        let server = Server::bind("127.0.0.1:0", server_config(), recorder)
            .unwrap()
            .with_max_sessions(Some(1))
            .spawn()
            .unwrap();
        let addr = server.local_addr();
        let first = connect(addr);
        let greeting = |stream: &std::net::TcpStream, wait: Duration| -> Option<String> {
            stream.set_read_timeout(Some(wait)).unwrap();
            let mut line = String::new();
            match BufReader::new(stream).read_line(&mut line) {
                Ok(n) if n > 0 => Some(line),
                _ => None,
            }
        };
        // The kernel completes the connection; the server does not greet.
        let second = std::net::TcpStream::connect_timeout(&addr, CONNECT).unwrap();
        assert_eq!(greeting(&second, Duration::from_millis(600)), None);
        let third = std::net::TcpStream::connect_timeout(&addr, CONNECT).unwrap();
        first.quit().unwrap();
        let line =
            greeting(&second, Duration::from_secs(10)).expect("greeted after the first left");
        assert!(line.starts_with("220"), "{line}");
        // The third still waits behind the second.
        assert_eq!(greeting(&third, Duration::from_millis(600)), None);
        (&second).write_all(b"QUIT\r\n").unwrap();
        let line =
            greeting(&third, Duration::from_secs(10)).expect("greeted after the second left");
        assert!(line.starts_with("220"), "{line}");
        let _queued = std::net::TcpStream::connect_timeout(&addr, CONNECT).unwrap();
        let started = Instant::now();
        server.shutdown(Duration::from_millis(200));
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(third);
    });
}

#[test]
fn shutdown_lets_a_session_finish_within_the_grace_period() {
    bounded(limit(), || {
        let (server, recorder) = start(server_config());
        let addr = server.local_addr();
        let mut client = connect(addr);
        let stopping = std::thread::spawn(move || {
            let start = Instant::now();
            server.shutdown(Duration::from_secs(10));
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(200));
        // No new connections once shutdown began.
        assert!(
            Client::connect(addr, client_config(TlsPolicy::None), Duration::from_secs(1)).is_err()
        );
        // The session already open finishes its work.
        client
            .send(&envelope(&["rcpt@example.org"]), &b"late\r\n"[..])
            .unwrap();
        client.quit().unwrap();
        let took = stopping.join().unwrap();
        assert!(took < Duration::from_secs(5), "shutdown waited {took:?}");
        assert_eq!(recorder.messages().len(), 1);
    });
}

#[test]
fn shutdown_tells_idle_sessions_421_after_the_grace_period() {
    bounded(limit(), || {
        let (server, _) = start(server_config());
        let mut client = connect(server.local_addr());
        let start = Instant::now();
        server.shutdown(Duration::from_millis(200));
        assert!(start.elapsed() < Duration::from_secs(3));
        let err = client
            .send(&envelope(&["rcpt@example.org"]), &b"too late\r\n"[..])
            .unwrap_err();
        match err.client_error() {
            Some(ClientError::ServiceClosing { reply, .. }) => assert_eq!(reply.code().get(), 421),
            Some(ClientError::ConnectionClosed { .. }) => {}
            _ => panic!("{err}"),
        }
        assert!(!client.is_usable());
    });
}

/// Accepts one user with one password.
struct OneUser;

impl Handler for OneUser {
    type Sink = Discard;

    fn data_start(&self, _: &Connection, _: &Transaction) -> Result<Discard, Reply> {
        Ok(Discard)
    }

    fn auth(&self, _: &Connection, request: &smtp_proto::sasl::AuthRequest) -> Decision {
        user_secret(request)
    }
}

fn with_password(password: &str) -> ClientConfig {
    client_config(TlsPolicy::None)
        .with_plaintext_auth(true)
        .with_credentials(smtp_proto::sasl::ClientCredentials::Password {
            username: "user".into(),
            password: smtp_proto::Secret::new(password.into()),
        })
}

#[test]
fn auth_is_decided_by_the_handler() {
    bounded(limit(), || {
        for mechanisms in [
            vec![smtp_proto::Mechanism::CramMd5],
            vec![smtp_proto::Mechanism::Plain, smtp_proto::Mechanism::Login],
        ] {
            let config = server_config()
                .with_auth(mechanisms)
                .with_plaintext_auth(true)
                .with_require_auth(true);
            let server = Server::bind("127.0.0.1:0", config, OneUser)
                .unwrap()
                .spawn()
                .unwrap();
            let mut client =
                Client::connect(server.local_addr(), with_password("secret"), CONNECT).unwrap();
            client
                .send(&envelope(&["rcpt@example.org"]), &b"hi\r\n"[..])
                .unwrap();
            client.quit().unwrap();

            let err =
                Client::connect(server.local_addr(), with_password("wrong"), CONNECT).unwrap_err();
            assert!(
                matches!(err.client_error(), Some(ClientError::AuthFailed { .. })),
                "{err}"
            );
            server.shutdown(Duration::from_secs(1));
        }
    });
}

#[test]
fn a_server_configured_for_starttls_without_a_certificate_is_refused_at_bind() {
    let config = server_config().with_starttls(true);
    let err = Server::bind("127.0.0.1:0", config, OneUser).unwrap_err();
    assert!(err.to_string().contains("no certificate"), "{err}");
}

#[test]
fn a_server_that_hangs_up_during_data_gives_a_clear_error() {
    bounded(limit(), || {
        use std::io::{BufRead, BufReader, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // A scripted peer: answers up to DATA, reads the first body line,
        // then closes without a final reply.
        let peer = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            let mut out = socket;
            out.write_all(b"220 scripted\r\n").unwrap();
            let mut line = String::new();
            for answer in ["250 scripted", "250 ok", "250 ok", "354 go ahead"] {
                line.clear();
                reader.read_line(&mut line).unwrap();
                out.write_all(format!("{answer}\r\n").as_bytes()).unwrap();
            }
            line.clear();
            reader.read_line(&mut line).unwrap();
        });
        let mut client = connect(addr);
        let err = client
            .send(
                &envelope(&["rcpt@example.org"]),
                &b"first line\r\nsecond\r\n"[..],
            )
            .unwrap_err();
        peer.join().unwrap();
        assert!(
            matches!(
                err.client_error(),
                Some(ClientError::ConnectionClosed { .. })
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("the server {addr} closed the connection during the end of data")
        );
        assert!(!client.is_usable());
    });
}

#[test]
fn shutdown_is_not_held_up_by_a_client_that_keeps_talking() {
    bounded(limit(), || {
        use std::io::Write;
        let (server, _) = start(server_config());
        let mut chatty = std::net::TcpStream::connect(server.local_addr()).unwrap();
        chatty
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let talking = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                // One byte every 20 ms, never a whole command.
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    if chatty.write_all(b"N").is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let start = Instant::now();
        server.shutdown(Duration::from_millis(200));
        let took = start.elapsed();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        talking.join().unwrap();
        assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    });
}
