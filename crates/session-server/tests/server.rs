//! The accept loop, the connection limit, shutdown, and the transport's
//! reads, writes and TLS handshake deadline, over real loopback sockets.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use session_server::test_support::{tls, TempDir};
use session_server::{
    drive, wait_for, Driven, Listener, Received, ServerOptions, Service, Shutdown, StartError,
    Transport, SHUTDOWN_POLL,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Greets, then holds the connection until shutdown; says when it ends.
struct Holder {
    ended: Mutex<mpsc::Sender<()>>,
}

impl Service for Holder {
    fn serve(&self, mut stream: TcpStream, shutdown: &Shutdown) {
        let _ = stream.write_all(b"hello\r\n");
        while !shutdown.requested() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = stream.write_all(b"bye\r\n");
        let _ = self.ended.lock().unwrap().send(());
    }

    fn refusal(&self) -> Vec<u8> {
        b"busy\r\n".to_vec()
    }
}

fn read_line(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        match stream.read(&mut byte).unwrap() {
            0 => break,
            _ => out.push(byte[0]),
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn connections_past_the_limit_get_the_refusal_and_shutdown_ends_sessions() {
    let (tx, rx) = mpsc::channel();
    let listener = Listener::bind(
        "127.0.0.1:0",
        Holder {
            ended: Mutex::new(tx),
        },
        1,
    )
    .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = listener.spawn();
    assert_eq!(server.local_addr(), Some(addr));

    let mut first = TcpStream::connect(addr).unwrap();
    assert_eq!(read_line(&mut first), "hello\r\n");
    assert_eq!(server.connections(), 1);

    let mut second = TcpStream::connect(addr).unwrap();
    assert_eq!(read_line(&mut second), "busy\r\n");
    // The refused client is closed, not counted.
    assert_eq!(read_line(&mut second), "");
    assert_eq!(server.connections(), 1);

    let started = Instant::now();
    server.shutdown();
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(read_line(&mut first), "bye\r\n");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn missing_certificate_is_refused_before_binding() {
    let options = ServerOptions::new(());
    assert!(options.check_tls(false).is_ok());
    assert!(matches!(
        options.check_tls(true),
        Err(StartError::MissingTls)
    ));
    let dir = TempDir::new("check-tls");
    let implicit = ServerOptions::new(()).with_implicit_tls(tls(&dir.0.join("ca.pem"), "test CA"));
    assert!(implicit.check_tls(false).is_ok());
    let err: std::io::Error = StartError::MissingTls.into();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (server, client)
}

#[test]
fn receive_reports_bytes_nothing_and_end_of_stream() {
    let (server, mut client) = pair();
    let (mut transport, tls) = Transport::accept(server, &ServerOptions::new(())).unwrap();
    assert!(tls.is_none());
    let mut buf = [0u8; 64];
    assert_eq!(
        transport
            .receive(&mut buf, Duration::from_millis(50))
            .unwrap(),
        Received::Nothing
    );
    client.write_all(b"abc").unwrap();
    assert_eq!(
        transport
            .receive(&mut buf, Duration::from_secs(10))
            .unwrap(),
        Received::Bytes(b"abc")
    );
    transport.send(b"reply").unwrap();
    let mut got = [0u8; 5];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"reply");
    drop(client);
    assert_eq!(
        transport
            .receive(&mut buf, Duration::from_secs(10))
            .unwrap(),
        Received::Eof
    );
}

#[test]
fn wait_for_caps_at_the_shutdown_poll_and_reports_a_passed_deadline() {
    let now = Instant::now();
    assert_eq!(wait_for(None, now), Some(SHUTDOWN_POLL));
    assert_eq!(wait_for(Some(now), now), None);
    assert_eq!(
        wait_for(Some(now + Duration::from_millis(300)), now),
        Some(Duration::from_millis(300))
    );
    assert_eq!(
        wait_for(Some(now + Duration::from_secs(3600)), now),
        Some(SHUTDOWN_POLL)
    );
}

#[test]
fn a_silent_client_fails_the_handshake_at_its_deadline() {
    let dir = TempDir::new("silent");
    let mut options =
        ServerOptions::new(()).with_implicit_tls(tls(&dir.0.join("ca.pem"), "test CA"));
    options.handshake_timeout = Duration::from_millis(300);
    let (server, _client) = pair();
    let started = Instant::now();
    let err = Transport::accept(server, &options).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn implicit_tls_handshakes_and_reports_what_it_negotiated() {
    let dir = TempDir::new("implicit");
    let ca_file = dir.0.join("ca.pem");
    let options = ServerOptions::new(()).with_implicit_tls(tls(&ca_file, "test CA"));
    let (server, client) = pair();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&ca_file).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let peer = std::thread::spawn(move || {
        let mut tls = rustls::StreamOwned::new(conn, client);
        tls.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        tls.read_exact(&mut got).unwrap();
        got
    });

    let (mut transport, info) = Transport::accept(server, &options).unwrap();
    let info = info.unwrap();
    assert!(info.protocol.starts_with("TLS"), "{info:?}");
    let mut buf = [0u8; 16];
    assert_eq!(
        transport
            .receive(&mut buf, Duration::from_secs(10))
            .unwrap(),
        Received::Bytes(b"ping")
    );
    transport.send(b"pong").unwrap();
    assert_eq!(&peer.join().unwrap(), b"pong");
    // A second upgrade is refused, not attempted.
    assert!(transport.start_tls(&options).is_err());
    transport.close();
}

/// Echoes each chunk back, says "idle" at its deadline, and closes after
/// "quit", at end of stream, or at shutdown.
struct Echo {
    transport: Transport,
    out: Vec<u8>,
    deadline: Option<Instant>,
    closing: bool,
}

impl Driven for Echo {
    fn transport(&mut self) -> &mut Transport {
        &mut self.transport
    }
    fn drain(&mut self) -> std::io::Result<bool> {
        let out = std::mem::take(&mut self.out);
        if !out.is_empty() {
            self.transport.send(&out)?;
        }
        Ok(self.closing)
    }
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn timeout(&mut self, _now: Instant) {
        self.deadline = None;
        self.out.extend_from_slice(b"idle\r\n");
    }
    fn received(&mut self, _now: Instant, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.closing |= bytes.ends_with(b"quit\r\n");
    }
    fn eof(&mut self, _now: Instant) {
        self.closing = true;
    }
    fn shutdown(&mut self) {
        self.out.extend_from_slice(b"bye\r\n");
        self.closing = true;
    }
}

#[test]
fn drive_feeds_bytes_and_deadlines_until_the_session_closes() {
    let (server, mut client) = pair();
    let mut echo = Echo {
        transport: Transport::Plain(server),
        out: Vec::new(),
        deadline: Some(Instant::now() + Duration::from_millis(100)),
        closing: false,
    };
    let shutdown = Shutdown::default();
    let driver = std::thread::spawn(move || drive(&mut echo, &shutdown).is_ok());
    assert_eq!(read_line(&mut client), "idle\r\n");
    client.write_all(b"one\r\n").unwrap();
    assert_eq!(read_line(&mut client), "one\r\n");
    client.write_all(b"quit\r\n").unwrap();
    assert_eq!(read_line(&mut client), "quit\r\n");
    assert!(driver.join().unwrap());
}

#[test]
fn drive_ends_a_session_at_shutdown() {
    let (tx, rx) = mpsc::channel();
    struct Driving(Mutex<mpsc::Sender<bool>>);
    impl Service for Driving {
        fn serve(&self, stream: TcpStream, shutdown: &Shutdown) {
            let mut echo = Echo {
                transport: Transport::Plain(stream),
                out: b"hello\r\n".to_vec(),
                deadline: None,
                closing: false,
            };
            let ok = drive(&mut echo, shutdown).is_ok();
            let _ = self.0.lock().unwrap().send(ok);
        }
        fn refusal(&self) -> Vec<u8> {
            Vec::new()
        }
    }
    let listener = Listener::bind("127.0.0.1:0", Driving(Mutex::new(tx)), 4).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = listener.spawn();
    let mut client = TcpStream::connect(addr).unwrap();
    assert_eq!(read_line(&mut client), "hello\r\n");
    server.shutdown();
    assert_eq!(read_line(&mut client), "bye\r\n");
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
}
