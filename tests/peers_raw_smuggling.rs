//! Raw sockets against `mailwire serve`: SMTP smuggling and plaintext
//! pipelined behind STARTTLS.
//!
//! Smuggling: a message whose body holds a look-alike end of DATA followed
//! by a second MAIL/RCPT/DATA. A server that ends DATA on the look-alike
//! would run the second transaction and store an injected message. The
//! sink ends DATA only on CR LF "." CR LF and refuses bare CR or LF in
//! DATA, so each attempt gives one refused message and the injected one
//! never runs.
//!
//! STARTTLS: plaintext written behind the STARTTLS command must never be
//! read as if it came through TLS (the CVE-2011-0411 class).

use mailwire_tests::serve::Serve;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(10);

/// The look-alike terminators of the smtp-proto un-stuffer's smuggling
/// tests, each placed between `before` and the injected commands.
const SMUGGLED: &[(&str, &[u8])] = &[
    ("<LF>.<LF>", b"\n.\n"),
    ("<LF>.<CR><LF>", b"\n.\r\n"),
    ("<CR><LF>.<LF>", b"\r\n.\n"),
    ("<CR>.<CR>", b"\r.\r"),
    ("<CR><LF>.<CR>", b"\r\n.\r"),
    ("<CR><CR><LF>.<CR><CR><LF>", b"\r\r\n.\r\r\n"),
    ("<LF>..<CR><LF>", b"\n..\r\n"),
    ("<LF>.<CR>", b"\n.\r"),
    ("<CR>.<LF>", b"\r.\n"),
    ("<CR>.<CR><LF>", b"\r.\r\n"),
    ("<CR><LF>.<CR><CR><LF>", b"\r\n.\r\r\n"),
    ("<CR><LF><LF>.<LF>", b"\r\n\n.\n"),
    ("<CR><LF>..<LF>", b"\r\n..\n"),
    ("<CR><LF>.<CR><CR>", b"\r\n.\r\r"),
    ("<LF><LF>.<LF><LF>", b"\n\n.\n\n"),
    ("<CR><LF><CR>.<CR><LF>", b"\r\n\r.\r\n"),
    ("<CR><LF>.<LF>.<CR><LF>", b"\r\n.\n.\r\n"),
    ("<LF><CR>.<CR><LF>", b"\n\r.\r\n"),
    ("<CR><CR>.<CR><CR>", b"\r\r.\r\r"),
];

/// The socket, plain or under TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// An SMTP client that writes exactly the bytes it is given.
struct Raw {
    stream: Stream,
    buffer: Vec<u8>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let tcp = TcpStream::connect_timeout(&addr, STEP).unwrap();
        tcp.set_read_timeout(Some(STEP)).unwrap();
        tcp.set_write_timeout(Some(STEP)).unwrap();
        tcp.set_nodelay(true).unwrap();
        Raw {
            stream: Stream::Plain(tcp),
            buffer: Vec::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let result = match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes),
            Stream::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
        };
        result.unwrap();
    }

    /// The next whole reply, or `None` when the server closed the
    /// connection first.
    fn reply(&mut self) -> Option<String> {
        loop {
            if let Some(end) = reply_end(&self.buffer) {
                let reply: Vec<u8> = self.buffer.drain(..end).collect();
                return Some(String::from_utf8_lossy(&reply).into_owned());
            }
            let mut chunk = [0u8; 4096];
            let read = match &mut self.stream {
                Stream::Plain(s) => s.read(&mut chunk),
                Stream::Tls(s) => s.read(&mut chunk),
            };
            match read {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                // A reset or a TLS close without close_notify also ends it.
                Err(e) if e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::TimedOut => {
                    return None
                }
                Err(e) => panic!("no reply within {STEP:?}: {e}"),
            }
        }
    }

    /// Sends `command` and returns the reply.
    fn command(&mut self, command: &str) -> String {
        self.write(format!("{command}\r\n").as_bytes());
        self.reply()
            .unwrap_or_else(|| panic!("closed after {command:?}"))
    }

    /// Every reply until the server closes the connection.
    fn replies_until_closed(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.reply()).collect()
    }

    /// Handshakes TLS over the plain socket, trusting only `ca`, checking
    /// the name `localhost`.
    fn start_tls(self, ca: &Path) -> Raw {
        let Stream::Plain(tcp) = self.stream else {
            panic!("already under TLS")
        };
        assert!(self.buffer.is_empty(), "plaintext left before TLS");
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        let connection = ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = StreamOwned::new(connection, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        Raw {
            stream: Stream::Tls(Box::new(tls)),
            buffer: Vec::new(),
        }
    }
}

/// Where the first complete reply in `buffer` ends: after the CRLF of a
/// line whose code is followed by a space.
fn reply_end(buffer: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(at) = buffer[start..].windows(2).position(|w| w == b"\r\n") {
        let line = &buffer[start..start + at];
        start += at + 2;
        if line.get(3) == Some(&b' ') || line.len() == 3 {
            return Some(start);
        }
    }
    None
}

fn code(reply: &str) -> &str {
    reply.get(..3).unwrap_or(reply)
}

/// Opens a transaction up to the 354.
fn open_transaction(raw: &mut Raw) {
    assert_eq!(code(&raw.reply().expect("a greeting")), "220");
    assert_eq!(code(&raw.command("EHLO raw.test")), "250");
    assert_eq!(code(&raw.command("MAIL FROM:<sender@example.com>")), "250");
    assert_eq!(code(&raw.command("RCPT TO:<rcpt@example.org>")), "250");
    assert_eq!(code(&raw.command("DATA")), "354");
}

#[test]
fn no_smuggled_end_of_data_ever_starts_a_second_transaction() {
    let serve = Serve::start(&[], &[]);
    for (index, (name, smuggled)) in SMUGGLED.iter().enumerate() {
        let mut raw = Raw::connect(serve.plain);
        open_transaction(&mut raw);
        // The whole attempt in one write, as a smuggler would send it.
        raw.write(&smuggling_attempt(index, smuggled));
        let replies = raw.replies_until_closed();
        // One answer to the message, then 221: no reply for a second MAIL,
        // RCPT or DATA. The sink's policy refuses bare CR and LF in DATA,
        // and every look-alike holds one.
        assert_eq!(replies.len(), 2, "{name}: {replies:?}");
        assert!(replies[0].starts_with("554 5.6.0 "), "{name}: {replies:?}");
        assert!(replies[0].contains("bare"), "{name}: {replies:?}");
        assert_eq!(code(&replies[1]), "221", "{name}: {replies:?}");
    }
    // The injected transaction never ran: nothing stored, nothing logged.
    assert!(serve.stored().is_empty());
    let log = serve.stdout().join("\n");
    assert!(!log.contains("evil@example.com"), "{log}");
    assert!(!log.contains("victim@example.org"), "{log}");
}

/// One smuggling attempt in one write: a message whose body holds the
/// look-alike and then a whole injected transaction, then QUIT.
fn smuggling_attempt(index: usize, smuggled: &[u8]) -> Vec<u8> {
    let mut data = format!("Subject: outer {index}\r\n\r\nbefore").into_bytes();
    data.extend_from_slice(smuggled);
    data.extend_from_slice(
        b"MAIL FROM:<evil@example.com>\r\n\
          RCPT TO:<victim@example.org>\r\n\
          DATA\r\n\
          Subject: injected\r\n\
          \r\n\
          INJECTED\r\n\
          .\r\n",
    );
    data.extend_from_slice(b"QUIT\r\n");
    data
}

#[test]
fn with_lenient_policies_each_attempt_stores_exactly_one_message() {
    // A sink told to convert or keep bare line endings accepts the outer
    // message, with the would-be injection inside its body as text, and
    // still never runs a second transaction.
    for policy in ["crlf", "keep"] {
        let serve = Serve::start(&["--bare-line-endings", policy], &[]);
        for (index, (name, smuggled)) in SMUGGLED.iter().enumerate() {
            let mut raw = Raw::connect(serve.plain);
            open_transaction(&mut raw);
            raw.write(&smuggling_attempt(index, smuggled));
            let replies = raw.replies_until_closed();
            // The outer message's 250 and QUIT's 221: nothing for a second
            // MAIL, RCPT or DATA, whose lines were message text.
            assert_eq!(replies.len(), 2, "{policy} {name}: {replies:?}");
            assert_eq!(code(&replies[0]), "250", "{policy} {name}: {replies:?}");
            assert_eq!(code(&replies[1]), "221", "{policy} {name}: {replies:?}");
            let stored = serve.wait_stored(index + 1);
            assert_eq!(stored.len(), index + 1, "{policy} {name}");
        }
        let stored = serve.stored();
        assert_eq!(stored.len(), SMUGGLED.len(), "{policy}");
        for message in &stored {
            let text = String::from_utf8_lossy(message);
            assert!(text.contains("Subject: outer "), "{policy}: {text}");
            // The injected text is inside the one stored message.
            assert!(text.contains("INJECTED"), "{policy}: {text}");
            assert!(!text.contains("Subject: injected\r\n\r\nINJECTED\r\n\r\n"));
        }
        // Every stored message came from the real sender to the real
        // recipient; the injected envelope was never used.
        let log = serve.stdout().join("\n");
        assert!(!log.contains("from=\"<evil@example.com>\""), "{log}");
        assert!(!log.contains("to=\"<victim@example.org>\""), "{log}");
    }
}

#[test]
fn the_real_end_of_data_still_ends_a_message_after_a_refused_one() {
    // After a refusal for a bare LF, the same connection delivers a clean
    // message: the refusal did not desynchronize the session.
    let serve = Serve::start(&[], &[]);
    let mut raw = Raw::connect(serve.plain);
    open_transaction(&mut raw);
    raw.write(b"Subject: bare\r\n\r\nbad\n.\nline\r\n.\r\n");
    let verdict = raw.reply().expect("a reply to the message");
    assert!(verdict.starts_with('5'), "{verdict}");
    assert_eq!(code(&raw.command("MAIL FROM:<sender@example.com>")), "250");
    assert_eq!(code(&raw.command("RCPT TO:<rcpt@example.org>")), "250");
    assert_eq!(code(&raw.command("DATA")), "354");
    raw.write(b"Subject: clean\r\n\r\nfine\r\n.\r\n");
    assert_eq!(code(&raw.reply().unwrap()), "250");
    assert_eq!(code(&raw.command("QUIT")), "221");
    let stored = serve.wait_stored(1);
    assert_eq!(stored.len(), 1);
    assert!(String::from_utf8_lossy(&stored[0]).ends_with("Subject: clean\r\n\r\nfine\r\n"));
}

#[test]
fn plaintext_pipelined_behind_starttls_is_never_executed() {
    let serve = Serve::start(&["--self-signed"], &[]);
    let cert = serve.cert.clone().expect("the certificate's path");
    let mut raw = Raw::connect(serve.plain);
    assert_eq!(code(&raw.reply().unwrap()), "220");
    assert!(raw.command("EHLO raw.test").contains("STARTTLS"));
    // One write: the MAIL must not survive into the TLS session.
    raw.write(b"STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n");
    let first = raw.reply().expect("a reply to STARTTLS");
    if code(&first) == "220" {
        // A server that answered STARTTLS must not have queued the MAIL:
        // after the handshake the session is new, with no MAIL in effect.
        let mut tls = raw.start_tls(&cert);
        let ehlo = tls.command("EHLO raw.test");
        assert!(ehlo.starts_with("250-mailwire.localhost"), "{ehlo}");
        let rcpt = tls.command("RCPT TO:<rcpt@example.org>");
        assert_eq!(code(&rcpt), "503", "{rcpt}");
    } else {
        // Refused as a synchronization error, and the connection closed.
        assert!(first.starts_with("554 5.5.0"), "{first}");
        assert!(raw.replies_until_closed().is_empty());
    }
    let log = serve.stdout().join("\n");
    assert!(!log.contains("evil@example.com"), "{log}");
    assert!(serve.stored().is_empty());
}

#[test]
fn starttls_forgets_the_plaintext_transaction_and_delivers_under_tls() {
    let serve = Serve::start(&["--self-signed"], &[]);
    let cert = serve.cert.clone().unwrap();
    let mut raw = Raw::connect(serve.plain);
    assert_eq!(code(&raw.reply().unwrap()), "220");
    assert_eq!(code(&raw.command("EHLO raw.test")), "250");
    assert_eq!(code(&raw.command("MAIL FROM:<plain@example.com>")), "250");
    assert_eq!(code(&raw.command("STARTTLS")), "220");
    let mut tls = raw.start_tls(&cert);
    let ehlo = tls.command("EHLO raw.test");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    // The MAIL given in plaintext is gone (RFC 3207 §4.2).
    assert_eq!(code(&tls.command("RCPT TO:<rcpt@example.org>")), "503");
    assert_eq!(code(&tls.command("MAIL FROM:<tls@example.com>")), "250");
    assert_eq!(code(&tls.command("RCPT TO:<rcpt@example.org>")), "250");
    assert_eq!(code(&tls.command("DATA")), "354");
    tls.write(b"Subject: under TLS\r\n\r\nsecret\r\n.\r\n");
    assert_eq!(code(&tls.reply().unwrap()), "250");
    assert_eq!(code(&tls.command("QUIT")), "221");
    let stored = serve.wait_stored(1);
    assert_eq!(stored.len(), 1);
    let log = serve.stdout().join("\n");
    assert!(log.contains("from=\"<tls@example.com>\""), "{log}");
    assert!(!log.contains("plain@example.com"), "{log}");
}
