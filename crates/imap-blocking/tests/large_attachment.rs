//! A multipart message with a 40 MiB attachment: its BODYSTRUCTURE, the
//! attachment part (`BODY[2]`), a partial of it and its MIME header fetched
//! by Python's imaplib, byte for byte, while the server's memory stays
//! bounded (the structure is found by one streamed scan, the part is sent
//! from its file range). Alone in its test binary so the peak resident set
//! measured is this test's.

mod support;

use imap_blocking::ServerOptions;
use std::fs;
use std::io::{BufWriter, Write};
use std::time::Duration;
use support::{config, python, start, TempDir};

const ATTACHMENT: usize = 40 << 20;

#[test]
fn forty_megabyte_attachment_part_fetched_with_bounded_memory() {
    let dir = TempDir::new("attachment");
    let maildir = dir.maildir();
    let path = maildir.join("cur/1700000000.M1P1.att:2,S");
    {
        // Written line by line: the test never holds the message either.
        let mut file = BufWriter::new(fs::File::create(&path).unwrap());
        file.write_all(
            b"From: Big Sender <big@example.org>\r\nTo: alice@example.com\r\nSubject: an attachment\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\nThis is a multi-part message.\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\nsee the attachment\r\n--b\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        )
        .unwrap();
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut written = 0;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut line = Vec::with_capacity(78);
        while written < ATTACHMENT {
            line.clear();
            for _ in 0..76 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.push(B64[(x % 64) as usize]);
            }
            line.extend_from_slice(b"\r\n");
            file.write_all(&line).unwrap();
            written += line.len();
        }
        file.write_all(b"QUJD\r\n--b--\r\nepilogue\r\n").unwrap();
        file.flush().unwrap();
    }
    let options = ServerOptions::new(config().with_plaintext_auth(true));
    let server = start(options, maildir.clone());

    // Reset the peak resident set to the current one (Linux clear_refs 5).
    fs::write("/proc/self/clear_refs", "5").unwrap();
    let baseline = session_server::test_support::status_kib("VmRSS:");

    let script = r#"
import hashlib, imaplib, os
with open(os.environ["MESSAGE"], "rb") as f:
    raw = f.read()
mime2 = raw.index(b"Content-Type: application/octet-stream")
start2 = raw.index(b"\r\n\r\n", mime2) + 4
end2 = raw.index(b"\r\n--b--")
part2 = raw[start2:end2]
text1 = b"hello\r\nsee the attachment"
m = imaplib.IMAP4("127.0.0.1", int(os.environ["PORT"]), timeout=120)
m.login("alice", "secret")
m.select("INBOX")
def fetch(items):
    typ, data = m.fetch("1", items)
    assert typ == "OK", (typ, data)
    return data
data = fetch("(BODYSTRUCTURE)")
want = (b'(BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" %d 1 NIL NIL NIL NIL)'
        b'("application" "octet-stream" ("name" "big.bin") NIL NIL "base64" %d NIL ("attachment" ("filename" "big.bin")) NIL NIL)'
        b' "mixed" ("boundary" "b") NIL NIL NIL))') % (len(text1), len(part2))
assert data[0].endswith(want), (data[0], want)
data = fetch("(BODY)")
assert data[0].endswith(b'(BODY (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" %d 1)("application" "octet-stream" ("name" "big.bin") NIL NIL "base64" %d) "mixed"))' % (len(text1), len(part2))), data[0]
data = fetch("(BODY.PEEK[2])")
assert hashlib.sha256(data[0][1]).digest() == hashlib.sha256(part2).digest(), "BODY[2] differs"
data = fetch("(BODY.PEEK[2]<1000.5000>)")
assert data[0][1] == part2[1000:6000], "BODY[2]<1000.5000> differs"
data = fetch("(BODY.PEEK[2.MIME])")
assert data[0][1] == raw[mime2:start2], ("BODY[2.MIME] differs", data[0][1])
data = fetch("(BODY.PEEK[1] BODY.PEEK[1.MIME])")
assert data[0][1] == text1 and data[1][1] == b"Content-Type: text/plain\r\n\r\n", data
m.logout()
print(len(part2))
"#;
    let out = python(
        script,
        &[
            ("PORT", server.local_addr().unwrap().port().to_string()),
            ("MESSAGE", path.display().to_string()),
        ],
        Duration::from_secs(300),
    );
    assert!(
        out.trim().parse::<usize>().unwrap() > ATTACHMENT,
        "attachment part: {out}"
    );
    let peak = session_server::test_support::status_kib("VmHWM:");
    let growth_kib = peak.saturating_sub(baseline);
    let size = fs::metadata(&path).unwrap().len();
    eprintln!("server resident set: baseline {baseline} KiB, peak {peak} KiB, growth {growth_kib} KiB for BODYSTRUCTURE and BODY[2] of a {size}-octet message");
    // The message is over 40 MiB; the server holds a FETCH step (1 MiB), a
    // read chunk, the scan's 64 KiB buffer and the part headers. 6 MiB
    // leaves room for thread stacks and allocator slack.
    assert!(
        growth_kib < 6 * 1024,
        "resident set grew by {growth_kib} KiB"
    );
    server.shutdown();
}
