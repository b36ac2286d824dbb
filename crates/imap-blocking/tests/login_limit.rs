//! The authenticator is asked with the client's address, and a login it
//! limits is refused at once with `NO [UNAVAILABLE]`, its password
//! unchecked.

mod support;

use imap_blocking::{ImapServer, Login, ServerOptions};
use imap_proto::Credentials;
use session_server::test_support::line;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use support::{config, TempDir};

#[test]
fn logins_carry_the_peer_and_a_limited_one_is_refused_as_unavailable() {
    let dir = TempDir::new("limited");
    let maildir = dir.maildir();
    let seen: Arc<Mutex<Vec<(String, SocketAddr)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let auth = move |c: &Credentials, peer: SocketAddr| {
        log.lock().unwrap().push((c.username.clone(), peer));
        match c.username.as_str() {
            "mallory" => Login::Limited,
            "alice" if c.password.expose() == "secret" => Login::Granted(maildir.clone()),
            _ => Login::Refused,
        }
    };
    let options = ServerOptions::new(config().with_plaintext_auth(true));
    let server = ImapServer::bind("127.0.0.1:0", options, auth)
        .unwrap()
        .spawn();
    let stream = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let local = stream.local_addr().unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    assert!(line(&mut reader).starts_with("* OK"));
    writer
        .write_all(b"a LOGIN mallory guess\r\nb LOGIN alice secret\r\n")
        .unwrap();
    assert_eq!(
        line(&mut reader),
        "a NO [UNAVAILABLE] Too many failed logins, try again later\r\n"
    );
    assert!(line(&mut reader).starts_with("b OK [CAPABILITY"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![("mallory".to_owned(), local), ("alice".to_owned(), local)]
    );
    server.shutdown();
}
