//! The running mail server follows its users file: `mailwire user add`,
//! `passwd` and `delete` take effect without a restart, and a users file
//! that no longer loads leaves the users as they were.

mod common;
mod server_support;

use common::{mailwire, run, TempDir};
use server_support::{add_user, messages, python, MailServer, Raw};
use std::time::{Duration, Instant};

/// Retries `attempt` for up to ten seconds (the file is looked at once a
/// second); the last reply.
fn eventually(mut attempt: impl FnMut() -> String, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = attempt();
        if reply.starts_with(wanted) || Instant::now() > deadline {
            return reply;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rcpt(addr: std::net::SocketAddr, to: &str) -> String {
    let mut c = Raw::connect(addr).unwrap();
    c.cmd("EHLO client.test").unwrap();
    c.send("x@remote.test", &[to], "Subject: hello\n\nbody\n")
        .unwrap()
}

fn pop3_login(addr: std::net::SocketAddr, user: &str, password: &str) -> String {
    python(&format!(
        "import poplib\n\
         p = poplib.POP3('{}', {}, timeout=20)\n\
         p.user('{user}')\n\
         try:\n    p.pass_({password:?})\n    print('ok', p.stat()[0])\n\
         except poplib.error_proto as e:\n    print('refused')\n",
        addr.ip(),
        addr.port()
    ))
}

#[test]
fn users_added_changed_and_deleted_while_running_take_effect() {
    let dir = TempDir::new("server-users");
    let d = &dir.0;
    add_user(d, "users", "ann@users.test", "ann-pw", None);
    let s = MailServer::start(
        d,
        &[
            "--domain",
            "users.test",
            "--users-file",
            "users",
            "--mailboxes",
            "mail",
            "--listen",
            "127.0.0.1:0",
            "--pop3",
            "127.0.0.1:0",
            "--allow-plaintext-auth",
        ],
        &["smtp", "POP3"],
    );
    let smtp = s.addr("smtp");
    let pop3 = s.addr("POP3");

    // Not a user yet: refused at RCPT, and cannot log in.
    let r = rcpt(smtp, "cat@users.test");
    assert!(r.starts_with("550"), "{r}");
    assert_eq!(
        pop3_login(pop3, "cat@users.test", "cat-pw").trim(),
        "refused"
    );

    // Added while the server runs: mail is taken and the user reads it.
    add_user(d, "users", "cat@users.test", "cat-pw", None);
    let r = eventually(|| rcpt(smtp, "cat@users.test"), "250");
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(
        messages(&d.join("mail"), "users.test", "cat", None).len(),
        1
    );
    assert_eq!(pop3_login(pop3, "cat@users.test", "cat-pw").trim(), "ok 1");

    // A new password replaces the old one.
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args(["user", "passwd", "cat@users.test", "--users-file", "users"])
            .env("MAILWIRE_PASSWORD", "cat-new-pw");
        cmd
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let login = eventually(
        || {
            pop3_login(pop3, "cat@users.test", "cat-pw")
                .trim()
                .to_owned()
        },
        "refused",
    );
    assert_eq!(login, "refused");
    assert_eq!(
        pop3_login(pop3, "cat@users.test", "cat-new-pw").trim(),
        "ok 1"
    );

    // A users file that does not load keeps the users as they were, and
    // the server says why in its log without quoting the file.
    let good = std::fs::read(d.join("users")).unwrap();
    std::fs::write(d.join("users"), "not-a-user-line secret-looking-text\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let r = rcpt(smtp, "cat@users.test");
    assert!(r.starts_with("250"), "{r}");
    let log = s.stderr().join("\n");
    assert!(log.contains("users file was not taken"), "{log}");
    assert!(!log.contains("secret-looking-text"), "{log}");
    std::fs::write(d.join("users"), good).unwrap();

    // Deleted: refused again.
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args(["user", "delete", "cat@users.test", "--users-file", "users"]);
        cmd
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = eventually(|| rcpt(smtp, "cat@users.test"), "550");
    assert!(r.starts_with("550"), "{r}");
    let r = rcpt(smtp, "ann@users.test");
    assert!(r.starts_with("250"), "{r}");
}

#[test]
fn a_user_deleted_between_rcpt_and_data_is_not_accepted_and_dropped() {
    let dir = TempDir::new("server-users-vanish");
    let d = &dir.0;
    add_user(d, "users", "ann@users.test", "ann-pw", None);
    add_user(d, "users", "dan@users.test", "dan-pw", None);
    let s = MailServer::start(
        d,
        &[
            "--domain",
            "users.test",
            "--users-file",
            "users",
            "--mailboxes",
            "mail",
            "--listen",
            "127.0.0.1:0",
        ],
        &["smtp"],
    );
    let mut c = Raw::connect(s.addr("smtp")).unwrap();
    c.cmd("EHLO client.test").unwrap();
    assert!(c
        .cmd("MAIL FROM:<x@remote.test>")
        .unwrap()
        .starts_with("250"));
    assert!(c
        .cmd("RCPT TO:<ann@users.test>")
        .unwrap()
        .starts_with("250"));
    assert!(c
        .cmd("RCPT TO:<dan@users.test>")
        .unwrap()
        .starts_with("250"));
    let out = run({
        let mut cmd = mailwire(d);
        cmd.args(["user", "delete", "dan@users.test", "--users-file", "users"]);
        cmd
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Once the server has seen the change, DATA is answered "try again"
    // rather than a 250 that would drop dan's copy.
    std::thread::sleep(Duration::from_millis(1500));
    let r = c.cmd("DATA").unwrap();
    assert!(r.starts_with("451 4.3.0"), "{r}");
    assert!(messages(&d.join("mail"), "users.test", "ann", None).is_empty());
    // The retry hears what became of dan, and ann gets her copy.
    c.cmd("RSET").unwrap();
    let r = c
        .send("x@remote.test", &["dan@users.test"], "Subject: x\n\nx\n")
        .unwrap();
    assert!(r.starts_with("550"), "{r}");
    let r = c
        .send("x@remote.test", &["ann@users.test"], "Subject: x\n\nx\n")
        .unwrap();
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(
        messages(&d.join("mail"), "users.test", "ann", None).len(),
        1
    );
}
