//! `mailwire serve`, as a mail server and as the sink: POP3 and IMAP logins
//! count in the same AUTH limiter as SMTP AUTH, per user and per client
//! address. Wrong passwords over IMAP and SMTP (or POP3) use up one user's
//! allowance; her right password is then refused over POP3, IMAP and SMTP
//! without being checked, while another user, from the same address, logs
//! in. Clients: Python's imaplib, smtplib and poplib.

mod common;
mod server_support;

use common::{Serve, TempDir};
use server_support::{add_user, python, MailServer};

#[test]
fn guesses_over_imap_and_smtp_lock_the_user_out_of_pop3_and_imap_but_not_others() {
    let dir = TempDir::new("reader-login-limit");
    let d = &dir.0;
    add_user(d, "users", "ann@limit.test", "ann-pw", None);
    add_user(d, "users", "ben@limit.test", "ben-pw", None);
    std::fs::write(
        d.join("limit.toml"),
        "hostname = \"mx.limit.test\"\nusers_file = \"users\"\nmailboxes = \"mail\"\nspool = \"spool\"\n\
         [listeners]\nsmtp = \"127.0.0.1:0\"\nsubmission = \"127.0.0.1:0\"\npop3 = \"127.0.0.1:0\"\nimap = \"127.0.0.1:0\"\n\
         [directory]\ndomains = [\"limit.test\"]\n[checks]\nenabled = false\n\
         [limits]\nauth_failures_per_ip = 50\n",
    )
    .unwrap();
    let s = MailServer::start(
        d,
        &[
            "--config",
            "limit.toml",
            "--self-signed",
            "--allow-plaintext-auth",
            "--auth-failures-per-user",
            "3",
        ],
        &["smtp", "submission", "POP3", "IMAP"],
    );
    let out = python(&format!(
        r#"
import imaplib, poplib, smtplib, ssl
def imap(user, pw):
    m = imaplib.IMAP4("127.0.0.1", {imap})
    try:
        m.login(user, pw)
        m.logout()
        return "ok"
    except imaplib.IMAP4.error as e:
        return str(e)
def pop3(user, pw):
    p = poplib.POP3("127.0.0.1", {pop3}, timeout=20)
    p.user(user)
    try:
        p.pass_(pw)
        p.quit()
        return "ok"
    except poplib.error_proto as e:
        return e.args[0].decode()
# Two guesses over IMAP, one over SMTP AUTH (submission, STARTTLS).
print("imap guess", imap("ann@limit.test", "guess-1"))
print("imap guess", imap("ann@limit.test", "guess-2"))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def smtp():
    c = smtplib.SMTP("127.0.0.1", {submission}, timeout=20)
    c.starttls(context=ctx)
    c.ehlo()
    # One mechanism: smtplib would try LOGIN after a refused PLAIN.
    c.esmtp_features["auth"] = "PLAIN"
    return c
c = smtp()
try:
    c.login("ann@limit.test", "guess-3")
    print("smtp guess accepted")
except smtplib.SMTPAuthenticationError as e:
    print("smtp guess", e.smtp_code)
c.quit()
# Now the right password: refused everywhere, unchecked.
print("pop3 right", pop3("ann@limit.test", "ann-pw"))
print("imap right", imap("ann@limit.test", "ann-pw"))
c = smtp()
try:
    c.login("ann@limit.test", "ann-pw")
    print("smtp right accepted")
except smtplib.SMTPAuthenticationError as e:
    print("smtp right", e.smtp_code)
# Another user from the same address is unaffected.
print("ben pop3", pop3("ben@limit.test", "ben-pw"))
print("ben imap", imap("ben@limit.test", "ben-pw"))
"#,
        imap = s.addr("IMAP").port(),
        pop3 = s.addr("POP3").port(),
        submission = s.addr("submission").port(),
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "imap guess b'[AUTHENTICATIONFAILED] Invalid credentials'",
            "imap guess b'[AUTHENTICATIONFAILED] Invalid credentials'",
            "smtp guess 535",
            "pop3 right -ERR [AUTH] too many failed logins, try again later",
            "imap right b'[UNAVAILABLE] Too many failed logins, try again later'",
            "smtp right 454",
            "ben pop3 ok",
            "ben imap ok",
        ],
        "{out}"
    );
    // The reader's failures are logged with the user, never the password.
    let logs = s.stderr().join("\n");
    assert!(logs.contains("IMAP login failed"), "{logs}");
    assert!(!logs.contains("guess-1"), "{logs}");
}

/// The address of the `PROTOCOL on ADDR (mode)` line the sink printed.
fn reader_addr(serve: &Serve, protocol: &str) -> std::net::SocketAddr {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let prefix = format!("{protocol} on ");
        if let Some(rest) = serve
            .stdout()
            .iter()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        {
            return rest.split(' ').next().unwrap().parse().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", serve.stdout());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn on_the_sink_guesses_over_pop3_lock_the_user_out_of_imap_and_smtp() {
    let dir = TempDir::new("sink-login-limit");
    let serve = Serve::start(
        &dir.0,
        &[
            "--allow-plaintext-auth",
            "--auth-optional",
            "--auth-failures-per-user",
            "2",
            "--auth-failures-per-ip",
            "50",
            "--pop3",
            "127.0.0.1:0",
            "--imap",
            "127.0.0.1:0",
        ],
        &[("MAILWIRE_SERVE_USERS", "alice:alice-pw,bob:bob-pw")],
    );
    let out = python(&format!(
        r#"
import imaplib, poplib, smtplib
def pop3(user, pw):
    p = poplib.POP3("127.0.0.1", {pop3}, timeout=20)
    p.user(user)
    try:
        p.pass_(pw)
        p.quit()
        return "ok"
    except poplib.error_proto as e:
        return e.args[0].decode()
def imap(user, pw):
    m = imaplib.IMAP4("127.0.0.1", {imap})
    try:
        m.login(user, pw)
        m.logout()
        return "ok"
    except imaplib.IMAP4.error as e:
        return str(e)
print("pop3 guess", pop3("alice", "guess-1"))
print("pop3 guess", pop3("alice", "guess-2"))
print("imap right", imap("alice", "alice-pw"))
c = smtplib.SMTP("127.0.0.1", {smtp}, timeout=20)
c.ehlo()
c.esmtp_features["auth"] = "PLAIN"
try:
    c.login("alice", "alice-pw")
    print("smtp right accepted")
except smtplib.SMTPAuthenticationError as e:
    print("smtp right", e.smtp_code)
c.quit()
print("bob imap", imap("bob", "bob-pw"))
"#,
        pop3 = reader_addr(&serve, "POP3").port(),
        imap = reader_addr(&serve, "IMAP").port(),
        smtp = serve.plain.port(),
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "pop3 guess -ERR [AUTH] invalid credentials",
            "pop3 guess -ERR [AUTH] invalid credentials",
            "imap right b'[UNAVAILABLE] Too many failed logins, try again later'",
            "smtp right 454",
            "bob imap ok",
        ],
        "{out}"
    );
}
