//! A 20 MiB message retrieved by Python's poplib over implicit TLS, byte
//! for byte, while the server's memory stays bounded. Alone in its test
//! binary so the peak resident set measured is this test's.

mod support;

use pop3_blocking::ServerOptions;
use std::fs;
use std::io::{BufWriter, Write};
use std::time::Duration;
use support::{config, python, start, tls, TempDir};

const SIZE: usize = 20 << 20;

#[test]
fn twenty_megabytes_streamed_with_bounded_memory() {
    let dir = TempDir::new("large");
    let maildir = dir.maildir();
    let path = maildir.join("new/1700000000.M1P1.big");
    {
        // Written line by line: the test never holds the message either.
        let mut file = BufWriter::new(fs::File::create(&path).unwrap());
        file.write_all(b"From: big@example.org\r\nSubject: twenty megabytes\r\n\r\n")
            .unwrap();
        let mut written = 0;
        let mut n = 0u64;
        while written < SIZE {
            let line = if n.is_multiple_of(7) {
                format!(".line {n} starts with a dot and must be stuffed\r\n")
            } else {
                format!("line {n} of a long message, plain text padding padding\r\n")
            };
            file.write_all(line.as_bytes()).unwrap();
            written += line.len();
            n += 1;
        }
        file.flush().unwrap();
    }
    let size = fs::metadata(&path).unwrap().len();
    let ca = dir.0.join("ca.pem");
    let options = ServerOptions::new(config()).with_implicit_tls(tls(&ca));
    let server = start(options, maildir.clone());

    // Reset the peak resident set to the current one (Linux clear_refs 5).
    fs::write("/proc/self/clear_refs", "5").unwrap();
    let baseline = session_server::test_support::status_kib("VmRSS:");

    let script = r#"
import hashlib, os, poplib, ssl
ctx = ssl.create_default_context(cafile=os.environ["CA"])
p = poplib.POP3_SSL("127.0.0.1", int(os.environ["PORT"]), context=ctx, timeout=60)
p.user("alice"); p.pass_("secret")
resp, lines, octets = p.retr(1)
got = b"\r\n".join(lines) + b"\r\n"
with open(os.environ["MESSAGE"], "rb") as f:
    want = f.read()
assert resp.startswith(b"+OK %d octets" % len(want)), resp
assert len(got) == len(want), (len(got), len(want))
assert hashlib.sha256(got).digest() == hashlib.sha256(want).digest(), "content differs"
p.quit()
print(len(got))
"#;
    let out = python(
        script,
        &[
            ("PORT", server.local_addr().unwrap().port().to_string()),
            ("CA", ca.display().to_string()),
            ("MESSAGE", path.display().to_string()),
        ],
        Duration::from_secs(120),
    );
    assert_eq!(out.trim(), size.to_string());
    let peak = session_server::test_support::status_kib("VmHWM:");
    let growth_kib = peak.saturating_sub(baseline);
    eprintln!("server resident set: baseline {baseline} KiB, peak {peak} KiB, growth {growth_kib} KiB for a {size}-octet message");
    // The message is 20 MiB; the server holds one 64 KiB chunk, its stuffed
    // copy and TLS buffers per connection. 4 MiB leaves room for thread
    // stacks and allocator slack, far below the message.
    assert!(
        growth_kib < 4 * 1024,
        "resident set grew by {growth_kib} KiB"
    );
    server.shutdown();
}
