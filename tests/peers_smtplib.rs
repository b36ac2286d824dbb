//! Python's smtplib delivering to `mailwire serve`: plain, STARTTLS and
//! SMTP_SSL (implicit TLS) against the `--self-signed` certificate, and
//! AUTH with `login()` (CRAM-MD5 first), PLAIN and LOGIN. Each stored file
//! must be the sent bytes exactly, behind the sink's `Received:` header.

use mailwire_tests::peers::{run_python, Finished};
use mailwire_tests::serve::{assert_stored_exactly, Serve};
use std::path::Path;
use std::time::SystemTime;

/// The client: `mode host port cafile user mechanism message-file`; the
/// password comes from `SMTPLIB_PASSWORD`. Exit 0 when the message was
/// accepted; 3 when the login was refused.
const CLIENT: &str = r#"
import os, smtplib, ssl, sys
mode, host, port, cafile, user, mech, path = sys.argv[1:8]
msg = open(path, 'rb').read()
ctx = ssl.create_default_context(cafile=cafile) if cafile else None
if mode == 'ssl':
    s = smtplib.SMTP_SSL(host, int(port), local_hostname='smtplib.test', context=ctx, timeout=10)
else:
    s = smtplib.SMTP(host, int(port), local_hostname='smtplib.test', timeout=10)
s.ehlo()
if mode == 'starttls':
    s.starttls(context=ctx)
    s.ehlo()
if user:
    s.user, s.password = user, os.environ['SMTPLIB_PASSWORD']
    try:
        if mech == 'PLAIN':
            s.auth('PLAIN', s.auth_plain)
        elif mech == 'LOGIN':
            s.auth('LOGIN', s.auth_login)
        else:
            s.login(s.user, s.password)
    except smtplib.SMTPAuthenticationError as e:
        print('refused', e.smtp_code)
        sys.exit(3)
refused = s.sendmail('py@example.com', ['rcpt@example.org'], msg)
assert not refused, refused
s.quit()
"#;

/// CRLF lines, leading dots, UTF-8 in the body (8-bit content).
fn message(case: &str) -> Vec<u8> {
    format!(
        "From: smtplib <py@example.com>\r\n\
         To: rcpt@example.org\r\n\
         Subject: smtplib interop {case}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         First line.\r\n\
         .dot first\r\n\
         ...three dots\r\n\
         Grüße, 你好\r\n\
         .\r\n\
         end\r\n"
    )
    .into_bytes()
}

struct Send<'a> {
    mode: &'a str,
    host: &'a str,
    port: u16,
    ca: Option<&'a Path>,
    login: Option<(&'a str, &'a str, &'a str)>,
}

fn send(serve: &Serve, case: &str, how: Send<'_>) -> (Finished, Vec<u8>) {
    let body = message(case);
    let file = serve.dir.0.join(format!("{case}.eml"));
    std::fs::write(&file, &body).unwrap();
    let ca = how.ca.map(|p| p.display().to_string()).unwrap_or_default();
    let (user, mech, password) = how.login.unwrap_or(("", "", ""));
    let port = how.port.to_string();
    let file = file.display().to_string();
    let args = [how.mode, how.host, &port, &ca, user, mech, &file];
    // The password travels in the environment, never on a command line.
    let env = [("SMTPLIB_PASSWORD", password)];
    (run_python(CLIENT, args, &env), body)
}

fn find<'a>(stored: &'a [Vec<u8>], case: &str) -> &'a [u8] {
    let subject = format!("Subject: smtplib interop {case}\r\n");
    stored
        .iter()
        .find(|m| String::from_utf8_lossy(m).contains(&subject))
        .unwrap_or_else(|| panic!("no {case} message stored"))
}

#[test]
fn smtplib_plain_starttls_and_smtp_ssl_are_stored_byte_for_byte() {
    let serve = Serve::start(&["--self-signed", "--tls-listen", "127.0.0.1:0"], &[]);
    let cert = serve.cert.clone().expect("the certificate's path");
    let tls_port = serve.tls.expect("the implicit-TLS listener").port();
    let before = SystemTime::now();
    let cases = [
        ("plain", "plain", "127.0.0.1", serve.plain.port(), None),
        (
            "starttls",
            "starttls",
            "localhost",
            serve.plain.port(),
            Some(cert.as_path()),
        ),
        ("ssl", "ssl", "localhost", tls_port, Some(cert.as_path())),
    ];
    let mut sent = Vec::new();
    for (case, mode, host, port, ca) in cases {
        let how = Send {
            mode,
            host,
            port,
            ca,
            login: None,
        };
        let (run, body) = send(&serve, case, how);
        assert!(run.status.success(), "{case}: {}", run.printed());
        sent.push((case, body));
    }
    let stored = serve.wait_stored(3);
    assert_eq!(stored.len(), 3);
    for (case, body) in &sent {
        // STARTTLS and implicit TLS both count as TLS (RFC 3848's `S`).
        let protocol = if *case == "plain" { "ESMTP" } else { "ESMTPS" };
        assert_stored_exactly(find(&stored, case), "smtplib.test", protocol, body, before);
    }
}

#[test]
fn smtplib_logs_in_with_each_mechanism_and_a_wrong_password_is_refused() {
    let serve = Serve::start(
        &["--self-signed", "--tls-listen", "127.0.0.1:0"],
        &[("MAILWIRE_SERVE_USERS", "py:py-secret-1")],
    );
    let cert = serve.cert.clone().unwrap();
    let tls_port = serve.tls.unwrap().port();
    let before = SystemTime::now();
    let cases = [
        // login() picks CRAM-MD5, the strongest offered.
        (
            "login-starttls",
            "starttls",
            serve.plain.port(),
            "AUTO",
            "ESMTPSA",
        ),
        ("plain-ssl", "ssl", tls_port, "PLAIN", "ESMTPSA"),
        ("login-ssl", "ssl", tls_port, "LOGIN", "ESMTPSA"),
    ];
    let mut sent = Vec::new();
    for (case, mode, port, mech, protocol) in cases {
        let how = Send {
            mode,
            host: "localhost",
            port,
            ca: Some(cert.as_path()),
            login: Some(("py", mech, "py-secret-1")),
        };
        let (run, body) = send(&serve, case, how);
        assert!(run.status.success(), "{case}: {}", run.printed());
        sent.push((case, body, protocol));
    }
    let how = Send {
        mode: "ssl",
        host: "localhost",
        port: tls_port,
        ca: Some(cert.as_path()),
        login: Some(("py", "PLAIN", "py-wrong")),
    };
    let (run, _) = send(&serve, "wrong", how);
    assert_eq!(run.status.code(), Some(3), "{}", run.printed());
    assert!(run.stdout.contains("refused 535"), "{}", run.printed());

    let stored = serve.wait_stored(3);
    assert_eq!(stored.len(), 3);
    for (case, body, protocol) in &sent {
        assert_stored_exactly(find(&stored, case), "smtplib.test", protocol, body, before);
    }
    let logs = [serve.stdout(), serve.stderr()].concat().join("\n");
    assert!(
        !logs.contains("py-secret-1") && !logs.contains("py-wrong"),
        "{logs}"
    );
}
