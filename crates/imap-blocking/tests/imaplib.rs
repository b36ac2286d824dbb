//! End to end with Python's imaplib (a real client we did not write):
//! STARTTLS and LOGIN, LIST, SELECT, FETCH byte for byte, partial FETCH,
//! SEARCH, STORE, COPY/MOVE, EXPUNGE, APPEND, IDLE seeing a message
//! dropped into the Maildir, and UIDVALIDITY/UIDNEXT unchanged after a
//! server restart.

mod support;

use imap_blocking::ServerOptions;
use std::fs;
use std::time::Duration;
use support::{config, python, start, tls, TempDir};

const LIMIT: Duration = Duration::from_secs(60);

fn messages() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "new/1700000000.M1P1.test",
            b"From: Ann <a@example.org>\r\nTo: bob@example.net\r\nSubject: one\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <one@example.org>\r\n\r\nfirst line\r\nsecond line\r\n".to_vec(),
        ),
        (
            "cur/1700000001.M2P1.test:2,S",
            [
                &b"From: b@example.org\r\nSubject: =?UTF-8?B?5rWL6K+V?=\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"[..],
                "8bit: \u{4e2d}\u{6587}\r\n".as_bytes(),
                b"--XX\r\nContent-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--XX--\r\n",
            ]
            .concat(),
        ),
        ("new/1700000002.M3P1.test", b"From: c@example.org\r\nSubject: three\r\n\r\nbody\r\n".to_vec()),
    ]
}

const SESSION: &str = r#"
import imaplib, os, ssl, select
port = int(os.environ["PORT"]); work = os.environ["WORK"]; maildir = os.environ["MAILDIR"]
ctx = ssl.create_default_context(cafile=os.environ["CA"])
m = imaplib.IMAP4("127.0.0.1", port, timeout=20)
assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities, m.capabilities
try:
    m.login("alice", "secret")
    raise SystemExit("LOGIN accepted before TLS")
except imaplib.IMAP4.error as e:
    assert "PRIVACYREQUIRED" in str(e), e
m.starttls(ssl_context=ctx)
assert "STARTTLS" not in m.capabilities and "AUTH=PLAIN" in m.capabilities, m.capabilities
typ, _ = m.login("alice", "secret"); assert typ == "OK"
typ, data = m.create("Archive"); assert typ == "OK", data
typ, data = m.list(); print("list", sorted(d.decode() for d in data))
typ, data = m.select("INBOX"); print("exists", data[0].decode())
print("uidvalidity", m.response("UIDVALIDITY")[1][0].decode())
print("uidnext", m.response("UIDNEXT")[1][0].decode())
for i in (1, 2, 3):
    typ, data = m.fetch(str(i), "(BODY.PEEK[])")
    with open(os.path.join(work, "fetch-%d" % i), "wb") as f:
        f.write(data[0][1])
typ, data = m.fetch("1", "(BODY.PEEK[]<5.10>)")
with open(os.path.join(work, "partial"), "wb") as f:
    f.write(data[0][1])
typ, data = m.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2.MIME])")
with open(os.path.join(work, "part-1"), "wb") as f:
    f.write(data[0][1])
with open(os.path.join(work, "mime-2"), "wb") as f:
    f.write(data[1][1])
typ, data = m.fetch("1", "(ENVELOPE)"); print("envelope", data[0].decode())
typ, data = m.fetch("2", "(BODYSTRUCTURE)"); print("bodystructure", data[0].decode())
typ, data = m.fetch("1:3", "(FLAGS)"); print("flags", [d.decode() for d in data])
print("search-from", m.search(None, "FROM", "b@example.org")[1][0].decode())
print("search-unseen", m.search(None, "UNSEEN")[1][0].decode())
print("search-or", m.search(None, "OR", "SUBJECT", "three", "LARGER", "200")[1][0].decode())
print("uid-search", m.uid("SEARCH", None, "NOT", "SEEN")[1][0].decode())
typ, data = m.store("1", "+FLAGS", "(\\Flagged)"); print("store", data[0].decode())
typ, data = m.copy("1", "Archive"); print("copy", typ, m.untagged_responses.get("OK"), data)
typ, data = m.uid("MOVE", "3", "Archive"); print("move", typ, data)
typ, data = m.store("2", "+FLAGS", "(\\Deleted)")
typ, data = m.expunge(); print("expunge", data)
typ, data = m.append("INBOX", "(\\Seen)", None, b"Subject: appended\r\n\r\nappended body\r\n"); print("append", data[0].decode())
typ, data = m.uid("FETCH", "4", "(FLAGS BODY.PEEK[TEXT])"); print("appended", data[0][0].decode(), data[0][1])
typ, data = m.status("Archive", "(MESSAGES UIDNEXT)"); print("status", data[0].decode())
# IDLE (RFC 2177), by hand: imaplib before Python 3.14 has no idle().
tag = m._new_tag()
m.send(tag + b" IDLE\r\n")
print("idle", m.readline().decode().strip())
tmp = os.path.join(maildir, "tmp", "1800000000.M9P9.test")
with open(tmp, "wb") as f:
    f.write(b"Subject: dropped\r\n\r\nhello\r\n")
os.rename(tmp, os.path.join(maildir, "new", "1800000000.M9P9.test"))
m.sock.settimeout(15)
print("pushed", m.readline().decode().strip())
m.send(b"DONE\r\n")
while True:
    line = m.readline().decode().strip()
    if line.startswith(tag.decode()):
        print("idle-done", line); break
typ, data = m.select("INBOX"); print("exists-after", data[0].decode())
print("uidnext-after", m.response("UIDNEXT")[1][0].decode())
m.logout()
"#;

const AFTER_RESTART: &str = r#"
import imaplib, os, ssl
ctx = ssl.create_default_context(cafile=os.environ["CA"])
m = imaplib.IMAP4("127.0.0.1", int(os.environ["PORT"]), timeout=20)
m.starttls(ssl_context=ctx)
m.login("alice", "secret")
typ, data = m.select("INBOX", readonly=True)
print("uidvalidity", m.response("UIDVALIDITY")[1][0].decode())
print("uidnext", m.response("UIDNEXT")[1][0].decode())
typ, data = m.uid("SEARCH", None, "ALL"); print("uids", data[0].decode())
m.logout()
"#;

fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} line in:\n{out}"))
}

#[test]
fn imaplib_end_to_end_and_uids_survive_a_restart() {
    let dir = TempDir::new("imaplib");
    let maildir = dir.maildir();
    for (path, body) in messages() {
        fs::write(maildir.join(path), body).unwrap();
    }
    let ca = dir.0.join("ca.pem");
    let tls = tls(&ca);
    let options = ServerOptions::new(
        config()
            .with_starttls(true)
            .with_idle_poll(Duration::from_millis(200)),
    )
    .with_tls(tls.clone());
    let server = start(options.clone(), maildir.clone());
    let env = |port: u16| {
        vec![
            ("PORT", port.to_string()),
            ("CA", ca.display().to_string()),
            ("WORK", dir.0.display().to_string()),
            ("MAILDIR", maildir.display().to_string()),
        ]
    };
    let out = python(SESSION, &env(server.local_addr().unwrap().port()), LIMIT);
    assert_eq!(
        line(&out, "list"),
        r#"['(\\HasNoChildren) "." "Archive"', '(\\HasNoChildren) "." "INBOX"']"#
    );
    assert_eq!(line(&out, "exists"), "3");
    assert_eq!(line(&out, "uidnext"), "4");
    for (i, (_, body)) in messages().iter().enumerate() {
        assert_eq!(
            &fs::read(dir.0.join(format!("fetch-{}", i + 1))).unwrap(),
            body,
            "message {} byte for byte",
            i + 1
        );
    }
    assert_eq!(
        fs::read(dir.0.join("partial")).unwrap(),
        &messages()[0].1[5..15]
    );
    assert_eq!(
        fs::read(dir.0.join("part-1")).unwrap(),
        "8bit: \u{4e2d}\u{6587}".as_bytes()
    );
    assert_eq!(
        fs::read(dir.0.join("mime-2")).unwrap(),
        b"Content-Type: application/octet-stream; name=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    );
    assert_eq!(
        line(&out, "envelope"),
        r#"1 (ENVELOPE ("Tue, 14 Nov 2023 22:13:20 +0000" "one" (("Ann" NIL "a" "example.org")) (("Ann" NIL "a" "example.org")) (("Ann" NIL "a" "example.org")) ((NIL NIL "bob" "example.net")) NIL NIL NIL "<one@example.org>"))"#
    );
    assert_eq!(
        line(&out, "bodystructure"),
        r#"2 (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 12 0 NIL NIL NIL NIL)("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 8 NIL NIL NIL NIL) "mixed" ("boundary" "XX") NIL NIL NIL))"#
    );
    assert_eq!(line(&out, "search-from"), "2");
    assert_eq!(line(&out, "search-unseen"), "1 3");
    assert!(messages()[1].1.len() > 200 && messages()[0].1.len() < 200);
    assert_eq!(line(&out, "search-or"), "2 3");
    assert_eq!(line(&out, "uid-search"), "1 3");
    assert!(
        line(&out, "store").contains("FLAGS (\\Flagged \\Recent)"),
        "{out}"
    );
    assert!(line(&out, "copy").starts_with("OK"), "{out}");
    assert!(line(&out, "move").starts_with("OK"), "{out}");
    assert_eq!(
        line(&out, "expunge"),
        "[b'3', b'2']",
        "message 3 moved away, then message 2 expunged"
    );
    assert_eq!(
        line(&out, "append"),
        "[APPENDUID 1700000000 4] APPEND completed"
            .replace("1700000000", line(&out, "uidvalidity"))
    );
    assert!(line(&out, "appended").contains("UID 4"), "{out}");
    assert!(
        line(&out, "appended").ends_with("b'appended body\\r\\n'"),
        "{out}"
    );
    assert_eq!(line(&out, "status"), r#""Archive" (MESSAGES 2 UIDNEXT 3)"#);
    assert_eq!(line(&out, "idle"), "+ idling");
    assert_eq!(line(&out, "pushed"), "* 3 EXISTS");
    assert_eq!(line(&out, "exists-after"), "3");
    assert_eq!(line(&out, "uidnext-after"), "6");
    // On disk: flags in the file names.
    let cur: Vec<String> = fs::read_dir(maildir.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        cur.iter().any(|n| n == "1700000000.M1P1.test:2,F"),
        "{cur:?}"
    );
    assert!(
        !cur.iter().any(|n| n.starts_with("1700000001.M2P1.test")),
        "expunged: {cur:?}"
    );
    let validity = line(&out, "uidvalidity").to_owned();
    server.shutdown();

    let server = start(options, maildir.clone());
    let again = python(
        AFTER_RESTART,
        &env(server.local_addr().unwrap().port()),
        LIMIT,
    );
    assert_eq!(line(&again, "uidvalidity"), validity);
    assert_eq!(line(&again, "uidnext"), "6");
    assert_eq!(line(&again, "uids"), "1 4 5");
    server.shutdown();
}
