//! A 50 MiB message fetched (whole, its text, a partial), searched (BODY,
//! TEXT, FROM) and APPENDed by Python's imaplib, byte for byte, while the
//! server's memory stays bounded. Alone in its test binary so the peak
//! resident set measured is this test's (the server runs in it; the
//! client is another process).

mod support;

use imap_blocking::ServerOptions;
use std::fs;
use std::io::{BufWriter, Write};
use std::time::Duration;
use support::{config, python, start, TempDir};

const SIZE: usize = 50 << 20;

#[test]
fn fifty_megabytes_fetched_searched_and_appended_with_bounded_memory() {
    let dir = TempDir::new("large");
    let maildir = dir.maildir();
    let path = maildir.join("cur/1700000000.M1P1.big:2,S");
    {
        // Written line by line: the test never holds the message either.
        let mut file = BufWriter::new(fs::File::create(&path).unwrap());
        file.write_all(
            b"From: Big Sender <big@example.org>\r\nTo: alice@example.com\r\nSubject: fifty megabytes\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n",
        )
        .unwrap();
        let mut written = 0;
        let mut n = 0u64;
        while written < SIZE {
            let line = format!("line {n} of a long message, plain text padding padding\r\n");
            file.write_all(line.as_bytes()).unwrap();
            written += line.len();
            n += 1;
        }
        file.write_all(b"the NEEDLE is at the very end\r\n")
            .unwrap();
        file.flush().unwrap();
    }
    let upload = dir.0.join("upload.eml");
    fs::copy(&path, &upload).unwrap();
    let options = ServerOptions::new(
        config()
            .with_plaintext_auth(true)
            .with_max_literal(64 << 20),
    );
    let server = start(options, maildir.clone());

    // Reset the peak resident set to the current one (Linux clear_refs 5).
    fs::write("/proc/self/clear_refs", "5").unwrap();
    let baseline = session_server::test_support::status_kib("VmRSS:");

    let script = r#"
import hashlib, imaplib, os, re
with open(os.environ["MESSAGE"], "rb") as f:
    want = f.read()
m = imaplib.IMAP4("127.0.0.1", int(os.environ["PORT"]), timeout=120)
m.login("alice", "secret")
m.select("INBOX")
def fetch(items):
    typ, data = m.fetch("1", items)
    assert typ == "OK", (typ, data)
    return data
data = fetch("(RFC822.SIZE BODY.PEEK[])")
assert b"RFC822.SIZE %d" % len(want) in data[0][0], data[0][0]
assert hashlib.sha256(data[0][1]).digest() == hashlib.sha256(want).digest(), "BODY[] differs"
body = want.index(b"\r\n\r\n") + 4
data = fetch("(BODY.PEEK[TEXT])")
assert data[0][1] == want[body:], "BODY[TEXT] differs"
data = fetch("(BODY.PEEK[HEADER])")
assert data[0][1] == want[:body], "BODY[HEADER] differs"
data = fetch("(BODY.PEEK[]<40000000.1000000>)")
assert data[0][1] == want[40000000:41000000], "partial differs"
data = fetch("(ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")
assert b'"fifty megabytes"' in data[0][0], data[0][0]
assert data[0][1] == b"From: Big Sender <big@example.org>\r\nSubject: fifty megabytes\r\n\r\n", data[0][1]
for criteria, hits in ((("BODY", "needle"), b"1"), (("TEXT", '"no such text"'), b""), (("FROM", "big@"), b"1"), (("SUBJECT", "fifty"), b"1"), (("LARGER", "50000000"), b"1")):
    typ, data = m.search(None, *criteria)
    assert typ == "OK" and data[0] == hits, (criteria, data)
typ, data = m.append("INBOX", "(\\Seen)", None, want)
assert typ == "OK", (typ, data)
uid = re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1).decode()
typ, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
assert hashlib.sha256(data[0][1]).digest() == hashlib.sha256(want).digest(), "appended message differs"
m.logout()
print(len(want))
"#;
    let out = python(
        script,
        &[
            ("PORT", server.local_addr().unwrap().port().to_string()),
            ("MESSAGE", upload.display().to_string()),
        ],
        Duration::from_secs(300),
    );
    let size = fs::metadata(&path).unwrap().len();
    assert_eq!(out.trim(), size.to_string());
    let peak = session_server::test_support::status_kib("VmHWM:");
    let growth_kib = peak.saturating_sub(baseline);
    eprintln!("server resident set: baseline {baseline} KiB, peak {peak} KiB, growth {growth_kib} KiB for a {size}-octet message fetched, searched and appended");
    // The message is 50 MiB; the server holds a FETCH step (1 MiB), a read
    // chunk, the APPEND's write buffer and a few lines. 6 MiB leaves room
    // for thread stacks and allocator slack, far below the message.
    assert!(
        growth_kib < 6 * 1024,
        "resident set grew by {growth_kib} KiB"
    );
    // The APPENDed copy is byte for byte the file, in cur/ beside it.
    let copies: Vec<_> = fs::read_dir(maildir.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &path)
        .collect();
    assert_eq!(copies.len(), 1);
    assert_eq!(fs::metadata(&copies[0]).unwrap().len(), size);
    assert!(fs::read_dir(maildir.join("tmp")).unwrap().next().is_none());
    server.shutdown();
}
