//! The async IMAP server on smol and on async-std, with Python's imaplib:
//! STARTTLS and implicit TLS, LOGIN (a limited one refused unchecked),
//! SELECT, FETCH byte for byte, STORE, and IDLE seeing a new message.

mod support;

use session_futures::ImapOptions;
use smtp_futures::Runtime;
use std::fs;
use support::*;

const SCRIPT: &str = r#"
import imaplib, os, ssl
port = int(os.environ["PORT"]); work = os.environ["WORK"]; maildir = os.environ["MAILDIR"]
ctx = ssl.create_default_context(cafile=os.environ["CA"])
if os.environ["MODE"] == "implicit":
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=20)
else:
    m = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    m.starttls(ssl_context=ctx)
try:
    m.login("mallory", "anything")
    raise SystemExit("a limited login was accepted")
except imaplib.IMAP4.error as e:
    print("limited", e)
m.login("alice", "secret")
typ, data = m.select("INBOX"); print("exists", data[0].decode())
for i in (1, 2, 3):
    typ, data = m.fetch(str(i), "(BODY.PEEK[])")
    with open(os.path.join(work, "fetch-%d" % i), "wb") as f:
        f.write(data[0][1])
typ, data = m.fetch("1:3", "(RFC822.SIZE)"); print("sizes", [d.decode() for d in data])
typ, data = m.store("1", "+FLAGS", "(\\Flagged)"); print("store", data[0].decode())
print("search", m.search(None, "FLAGGED")[1][0].decode())
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
typ, data = m.fetch("4", "(BODY.PEEK[])"); print("new", data[0][1])
m.logout()
"#;

fn imaplib<R: Runtime>(implicit: bool) {
    let dir = temp_dir::<R>(if implicit { "a-imaps" } else { "a-imap" });
    let maildir = filled(&dir);
    let ca = dir.0.join("ca.pem");
    let options = if implicit {
        ImapOptions::new(imap_config()).with_implicit_tls(tls(&ca))
    } else {
        ImapOptions::new(imap_config().with_starttls(true)).with_tls(tls(&ca))
    };
    let server = imap::<R>(options, maildir.clone());
    let out = python(
        SCRIPT,
        &[
            ("PORT", server.local_addr().port().to_string()),
            ("CA", ca.display().to_string()),
            ("WORK", dir.0.display().to_string()),
            ("MAILDIR", maildir.display().to_string()),
            (
                "MODE",
                if implicit { "implicit" } else { "starttls" }.to_owned(),
            ),
        ],
        LIMIT,
    );
    assert!(
        out.contains("limited b'[UNAVAILABLE] Too many failed logins, try again later'\n"),
        "{out}"
    );
    assert!(out.contains("exists 3\n"), "{out}");
    for (i, (_, body)) in messages().iter().enumerate() {
        let got = fs::read(dir.0.join(format!("fetch-{}", i + 1))).unwrap();
        assert_eq!(&got, body, "message {} byte for byte", i + 1);
    }
    let sizes: Vec<usize> = messages().iter().map(|(_, b)| b.len()).collect();
    assert!(
        out.contains(&format!(
            "sizes ['1 (RFC822.SIZE {})', '2 (RFC822.SIZE {})', '3 (RFC822.SIZE {})']",
            sizes[0], sizes[1], sizes[2]
        )),
        "{out}"
    );
    assert!(out.contains("search 1\n"), "{out}");
    assert!(out.contains("idle + idling\n"), "{out}");
    assert!(out.contains("pushed * 4 EXISTS\n"), "{out}");
    assert!(
        out.contains("new b'Subject: dropped\\r\\n\\r\\nhello\\r\\n'\n"),
        "{out}"
    );
    stop(server);
}

#[test]
fn smol_imaplib_starttls_select_fetch_idle() {
    imaplib::<Smol>(false);
}

#[test]
fn smol_imaplib_implicit_tls() {
    imaplib::<Smol>(true);
}

#[test]
fn async_std_imaplib_starttls_select_fetch_idle() {
    imaplib::<AsyncStd>(false);
}

#[test]
fn async_std_imaplib_implicit_tls() {
    imaplib::<AsyncStd>(true);
}
