//! The authenticator is asked with the client's address, and a login it
//! limits is refused at once with `-ERR [AUTH]`, its password unchecked.

mod support;

use pop3_blocking::{Login, Pop3Server, ServerOptions};
use pop3_proto::Credentials;
use session_server::test_support::line;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use support::{config, TempDir};

#[test]
fn logins_carry_the_peer_and_a_limited_one_is_refused_without_a_check() {
    let dir = TempDir::new("limited");
    let maildir = dir.maildir();
    let seen: Arc<Mutex<Vec<(String, SocketAddr)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let auth = move |c: &Credentials, peer: SocketAddr| {
        log.lock().unwrap().push((c.username().to_owned(), peer));
        match c.username() {
            "mallory" => Login::Limited,
            "alice" if c.verify_password("secret") => Login::Granted(maildir.clone()),
            _ => Login::Refused,
        }
    };
    let options = ServerOptions::new(config().with_plaintext_auth(true));
    let server = Pop3Server::bind("127.0.0.1:0", options, auth)
        .unwrap()
        .spawn();
    let stream = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let local = stream.local_addr().unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    assert!(line(&mut reader).starts_with("+OK"));
    writer.write_all(b"USER mallory\r\nPASS guess\r\n").unwrap();
    assert!(line(&mut reader).starts_with("+OK"));
    // At once (the failure delay is 300 ms for a wrong password).
    let started = std::time::Instant::now();
    assert_eq!(
        line(&mut reader),
        "-ERR [AUTH] too many failed logins, try again later\r\n"
    );
    assert!(started.elapsed() < std::time::Duration::from_millis(250));
    writer.write_all(b"USER alice\r\nPASS secret\r\n").unwrap();
    assert!(line(&mut reader).starts_with("+OK"));
    assert!(line(&mut reader).starts_with("+OK alice's maildrop"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![("mallory".to_owned(), local), ("alice".to_owned(), local)]
    );
    server.shutdown();
}
