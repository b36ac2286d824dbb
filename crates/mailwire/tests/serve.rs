//! `mailwire serve` with TLS (STARTTLS, implicit TLS, PEM files or a
//! self-signed certificate) and AUTH, driven by our own client.
//!
//! Each server listens on port 0 and prints the address it got, so tests
//! never race for a port (the harness is in `common`).

mod common;

use common::{mailwire, run_to_end, Serve, TempDir};
use smtp_blocking::{Client, Error, TlsSettings};
use smtp_proto::sasl::ClientCredentials;
use smtp_proto::{
    ClientConfig, ClientTimeouts, Envelope, Host, Mailbox, Recipient, Secret, TlsPolicy,
};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

const STEP: Duration = Duration::from_secs(10);

fn timeouts() -> ClientTimeouts {
    ClientTimeouts {
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
    }
}

fn config(policy: TlsPolicy) -> ClientConfig {
    ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(policy)
        .with_timeouts(timeouts())
}

fn login(config: ClientConfig, user: &str, password: &str) -> ClientConfig {
    config.with_credentials(ClientCredentials::Password {
        username: user.to_owned(),
        password: Secret::new(password.to_owned()),
    })
}

fn envelope() -> Envelope {
    Envelope::new(Mailbox::parse("sender@example.com").unwrap().into())
        .with_recipient(Recipient::new(Mailbox::parse("rcpt@example.org").unwrap()))
}

fn body(subject: &str) -> Vec<u8> {
    format!("Subject: {subject}\r\nFrom: sender@example.com\r\n\r\nHello.\r\n").into_bytes()
}

/// Connects with TLS as `config` says, trusting `ca`, as `localhost`.
fn connect_tls(addr: SocketAddr, config: ClientConfig, ca: &Path) -> Result<Client, Error> {
    let settings = TlsSettings::new().with_ca_file(ca).unwrap();
    Client::connect_tls("localhost", addr.port(), config, &settings, STEP)
}

/// Sends one message and quits.
fn deliver(mut client: Client, subject: &str) -> Result<(), Error> {
    client.send(&envelope(), body(subject).as_slice())?;
    client.quit()
}

/// Reads replies until one ends (a line with a space after the code).
fn read_reply(reader: &mut BufReader<TcpStream>) -> String {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "connection closed after {reply:?}");
        reply.push_str(&line);
        if line.as_bytes().get(3) == Some(&b' ') {
            return reply;
        }
    }
}

/// What the server says to EHLO on a plain connection.
fn plain_ehlo(addr: SocketAddr) -> String {
    let stream = TcpStream::connect_timeout(&addr, STEP).unwrap();
    stream.set_read_timeout(Some(STEP)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    assert!(read_reply(&mut reader).starts_with("220 "));
    writer.write_all(b"EHLO raw.test\r\n").unwrap();
    let ehlo = read_reply(&mut reader);
    writer.write_all(b"QUIT\r\n").unwrap();
    ehlo
}

#[test]
fn self_signed_starttls_and_implicit_tls_store_into_one_maildir() {
    let dir = TempDir::new("selfsigned");
    let serve = Serve::start(
        &dir.0,
        &["--self-signed", "--tls-listen", "127.0.0.1:0"],
        &[],
    );
    let cert = serve
        .cert
        .clone()
        .expect("the certificate's path is printed");
    let pem = fs::read_to_string(&cert).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(!pem.contains("PRIVATE KEY"));

    // STARTTLS on --listen, verified against the written certificate.
    let client = connect_tls(serve.plain, config(TlsPolicy::Required), &cert).unwrap();
    assert!(client.tls().is_some_and(|t| t.verified));
    deliver(client, "over STARTTLS").unwrap();
    // Implicit TLS on --tls-listen.
    let client = connect_tls(serve.tls.unwrap(), config(TlsPolicy::Implicit), &cert).unwrap();
    assert!(client.tls().is_some_and(|t| t.verified));
    deliver(client, "over implicit TLS").unwrap();
    // The certificate names 127.0.0.1 too.
    let settings = TlsSettings::new().with_ca_file(&cert).unwrap();
    let client = Client::connect_tls(
        "127.0.0.1",
        serve.tls.unwrap().port(),
        config(TlsPolicy::Implicit),
        &settings,
        STEP,
    )
    .unwrap();
    client.quit().unwrap();

    let logged = serve.wait_lines("stored ", 2);
    assert_eq!(logged.len(), 2, "{logged:?}");
    let stored: Vec<String> = serve
        .stored()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert_eq!(stored.len(), 2);
    let implicit = stored
        .iter()
        .find(|m| m.contains("Subject: over implicit TLS"))
        .unwrap();
    assert!(
        implicit.starts_with("Received: from client.test ([127.0.0.1])\r\n\tby mailwire.localhost (mailwire) with ESMTPS;\r\n\t"),
        "{implicit}"
    );
    assert!(stored.iter().any(|m| m.contains("Subject: over STARTTLS")));
    // STARTTLS is offered on the plain listener.
    assert!(plain_ehlo(serve.plain).contains("STARTTLS"));
}

#[test]
fn a_certificate_from_pem_files_serves_starttls() {
    let dir = TempDir::new("pem");
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    fs::write(&cert, generated.cert.pem()).unwrap();
    fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let serve = Serve::start(
        &dir.0,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(serve.cert.is_none(), "no certificate is written");
    let client = connect_tls(serve.plain, config(TlsPolicy::Required), &cert).unwrap();
    deliver(client, "with a given certificate").unwrap();
    serve.wait_lines("stored ", 1);
    assert_eq!(serve.stored().len(), 1);
    // A client that trusts another CA refuses the certificate.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other_pem = dir.0.join("other.pem");
    fs::write(&other_pem, other.cert.pem()).unwrap();
    assert!(connect_tls(serve.plain, config(TlsPolicy::Required), &other_pem).is_err());
}

/// Writes a users file of argon2 hashes, as `mailwire user add` does.
fn write_users(path: &Path, accounts: &[(&str, &str)]) {
    let mut file = mail_accounts::UsersFile::parse("# test accounts\n").unwrap();
    for (address, password) in accounts {
        let hash = mail_accounts::HashedPassword::new(password).unwrap();
        file.add(address, hash, None).unwrap();
    }
    file.write(path).unwrap();
}

#[test]
fn users_from_a_file_must_authenticate_and_passwords_stay_out_of_the_logs() {
    let dir = TempDir::new("auth");
    let users = dir.0.join("users");
    write_users(
        &users,
        &[
            ("alice@example.org", "correct horse:battery"),
            ("bob@example.org", "tr0ub4dor"),
        ],
    );
    let serve = Serve::start(
        &dir.0,
        &["--self-signed", "--users-file", users.to_str().unwrap()],
        &[],
    );
    let cert = serve.cert.clone().unwrap();
    assert!(
        serve.stdout().iter().any(|l| l
            == "AUTH required for 2 account(s): PLAIN and LOGIN offered after STARTTLS or on --tls-listen"),
        "{:?}",
        serve.stdout()
    );

    // Hashed accounts need the password itself: no AUTH before TLS, and
    // PLAIN and LOGIN (never CRAM-MD5) after it.
    let ehlo = plain_ehlo(serve.plain);
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    let client = connect_tls(serve.plain, config(TlsPolicy::Required), &cert).unwrap();
    let offered: Vec<String> = client
        .capabilities()
        .auth_mechanisms()
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect();
    assert_eq!(offered, ["PLAIN", "LOGIN"]);
    // No credentials: MAIL is refused (530), nothing stored.
    let mut anonymous = client;
    let refused = anonymous.send(&envelope(), body("anonymous").as_slice());
    assert!(
        matches!(&refused, Err(Error::Rejected { .. })),
        "{refused:?}"
    );
    assert!(format!("{:?}", refused.unwrap_err()).contains("530"));
    let _ = anonymous.quit();

    // Without TLS there is nothing to log in with.
    let no_tls = Client::connect(
        serve.plain,
        login(config(TlsPolicy::None), "bob@example.org", "tr0ub4dor"),
        STEP,
    );
    assert!(no_tls.is_err(), "{no_tls:?}");

    let client = connect_tls(
        serve.plain,
        login(config(TlsPolicy::Required), "bob@example.org", "tr0ub4dor"),
        &cert,
    )
    .unwrap();
    deliver(client, "from bob").unwrap();

    // A wrong password fails the session's setup.
    let wrong = connect_tls(
        serve.plain,
        login(
            config(TlsPolicy::Required),
            "alice@example.org",
            "wrong-password-x",
        ),
        &cert,
    );
    assert!(wrong.is_err(), "{wrong:?}");

    // The right one is accepted, the domain compared case-blind.
    let client = connect_tls(
        serve.plain,
        login(
            config(TlsPolicy::Required),
            "alice@EXAMPLE.org",
            "correct horse:battery",
        ),
        &cert,
    )
    .unwrap();
    deliver(client, "from alice").unwrap();
    let logged = serve.wait_lines("stored ", 2);
    assert!(
        logged[0].contains(" user=\"bob@example.org\" "),
        "{logged:?}"
    );
    assert!(
        logged[1].contains(" user=\"alice@EXAMPLE.org\" "),
        "{logged:?}"
    );
    let stored = serve.stored();
    assert_eq!(stored.len(), 2);
    for message in &stored {
        let text = String::from_utf8_lossy(message);
        // RFC 3848: A for a login, S for TLS (here STARTTLS).
        assert!(text.contains("with ESMTPSA;"), "{text}");
    }

    let everything = [serve.stdout(), serve.stderr()].concat().join("\n");
    assert!(
        everything.contains("failed for user=\"alice@example.org\""),
        "{everything}"
    );
    for secret in ["correct horse", "wrong-password-x", "tr0ub4dor", "argon2"] {
        assert!(!everything.contains(secret), "{everything}");
    }
}

#[test]
fn users_from_a_file_written_by_mailwire_user_log_in_without_tls_when_allowed() {
    let dir = TempDir::new("auth-tool");
    let mut add = mailwire(&dir.0);
    add.args(["user", "add", "carol@example.org", "--users-file", "users"])
        .env("MAILWIRE_PASSWORD", "carol's pw");
    let (code, _, stderr) = run_to_end(add);
    assert_eq!(code, Some(0), "{stderr}");
    let users = dir.0.join("users");
    let serve = Serve::start(
        &dir.0,
        &[
            "--allow-plaintext-auth",
            "--users-file",
            users.to_str().unwrap(),
        ],
        &[("MAILWIRE_SERVE_USERS", "dave:pw-dave")],
    );
    let ehlo = plain_ehlo(serve.plain);
    assert!(ehlo.contains("AUTH PLAIN LOGIN\r\n"), "{ehlo}");
    for (user, password) in [("carol@example.org", "carol's pw"), ("dave", "pw-dave")] {
        let client = Client::connect(
            serve.plain,
            login(config(TlsPolicy::None), user, password).with_plaintext_auth(true),
            STEP,
        )
        .unwrap();
        deliver(client, user).unwrap();
    }
    assert_eq!(serve.wait_lines("stored ", 2).len(), 2);
}

#[test]
fn users_from_the_environment_with_auth_optional_and_plaintext_auth() {
    let dir = TempDir::new("env");
    let serve = Serve::start(
        &dir.0,
        &["--auth-optional", "--allow-plaintext-auth"],
        &[("MAILWIRE_SERVE_USERS", "carol:pw-carol,dave:pw-dave")],
    );
    // Without TLS, every mechanism is offered when plaintext AUTH is allowed.
    let ehlo = plain_ehlo(serve.plain);
    assert!(ehlo.contains("AUTH PLAIN LOGIN CRAM-MD5\r\n"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    // Anonymous mail is accepted with --auth-optional.
    let client = Client::connect(serve.plain, config(TlsPolicy::None), STEP).unwrap();
    deliver(client, "anonymous").unwrap();
    // And an account from the environment can log in without TLS.
    let client = Client::connect(
        serve.plain,
        login(config(TlsPolicy::None), "dave", "pw-dave").with_plaintext_auth(true),
        STEP,
    )
    .unwrap();
    deliver(client, "from dave").unwrap();
    let logged = serve.wait_lines("stored ", 2);
    assert!(!logged[0].contains("user="), "{logged:?}");
    assert!(logged[1].contains(" user=\"dave\" "), "{logged:?}");
    assert_eq!(serve.stored().len(), 2);
}

#[test]
fn discard_accepts_over_implicit_tls_and_stores_nothing() {
    let dir = TempDir::new("discard");
    let out = dir.0.join("cert-out.pem");
    let serve = Serve::start(
        &dir.0,
        &[
            "--self-signed",
            "--tls-cert-out",
            out.to_str().unwrap(),
            "--tls-listen",
            "127.0.0.1:0",
            "--discard",
        ],
        &[],
    );
    assert_eq!(serve.cert.as_deref(), Some(out.as_path()));
    let client = connect_tls(serve.tls.unwrap(), config(TlsPolicy::Implicit), &out).unwrap();
    deliver(client, "dropped").unwrap();
    let logged = serve.wait_lines("discarded ", 1);
    assert!(
        logged[0].contains("from=\"<sender@example.com>\""),
        "{logged:?}"
    );
    assert!(!serve.maildir.exists());
}

#[test]
fn inconsistent_flags_are_usage_errors() {
    let dir = TempDir::new("usage");
    let users = dir.0.join("users");
    fs::write(&users, "erin:hidden-value\nno colon here hidden-value\n").unwrap();
    let hashed = dir.0.join("hashed");
    write_users(&hashed, &[("erin@example.org", "hidden-value")]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--tls-listen", "127.0.0.1:0"],
            "--tls-listen needs a certificate",
        ),
        (vec!["--auth-optional"], "need accounts"),
        (vec!["--tls-cert", "x.pem"], "--tls-key"),
        (vec!["--tls-cert-out", "x.pem"], "--self-signed"),
        (
            vec!["--users-file", users.to_str().unwrap()],
            "line 1 holds a password in plain text",
        ),
        (
            vec!["--users-file", hashed.to_str().unwrap()],
            "need TLS: add --self-signed",
        ),
    ];
    for (args, expected) in cases {
        let mut cmd = mailwire(&dir.0);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--maildir", "m"])
            .args(&args);
        let (code, _, stderr) = run_to_end(cmd);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("hidden-value"), "{stderr}");
    }
    assert!(!dir.0.join("m").exists());
}
