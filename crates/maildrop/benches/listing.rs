//! Listing one big folder: `MaildirFolders::list` (IMAP SELECT's work) and
//! `Maildrop::scan` (POP3's), against Dovecot's SELECT on the same Maildir
//! in the same run.
//!
//! `cargo bench -p maildrop --bench listing` (`LISTING_BENCH_MESSAGES`
//! sets the folder size, default 10,000; `LISTING_BENCH_DOVECOT=0` skips
//! Dovecot, which needs dovecot-imapd and python3). Each figure is the
//! median of 5 runs (`LISTING_BENCH_RUNS`); the page cache is warm (the files were just written).

use maildrop::{MaildirFolders, Maildrop};
use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

const SELECT: &str = r#"
import imaplib, os, time, statistics
m = imaplib.IMAP4("127.0.0.1", int(os.environ["PORT"]), timeout=600)
m.login("bench", "secret")
t = time.perf_counter(); typ, data = m.select("INBOX", readonly=True); first = time.perf_counter() - t
m.close()
time.sleep(2.1)
runs = []
for i in range(5):
    t = time.perf_counter(); typ, data = m.select("INBOX", readonly=True); runs.append(time.perf_counter() - t)
    m.close()
print(f"dovecot-select-first {first*1000:.2f} ms exists {int(data[0])}")
print(f"dovecot-select-warm {statistics.median(runs)*1000:.2f} ms")
"#;

fn dovecot_select(dir: &Path, maildir: &Path) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.display();
    fs::create_dir_all(dir.join("run")).unwrap();
    fs::write(dir.join("users"), "bench:{PLAIN}secret\n").unwrap();
    let conf = format!(
        "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
         protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
         auth_mechanisms = plain\nmail_location = maildir:{m}:INDEX={d}/index\nfirst_valid_uid = 0\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/users\n}}\n\
         userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={d}/home\n}}\n\
         service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
         service anvil {{\n  chroot =\n}}\n",
        m = maildir.display()
    );
    fs::write(dir.join("dovecot.conf"), conf).unwrap();
    for path in [dir, maildir] {
        Command::new("chown")
            .args(["-R", "dovecot:dovecot"])
            .arg(path)
            .status()
            .unwrap();
    }
    let mut child = Command::new("/usr/sbin/dovecot")
        .arg("-F")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dovecot-imapd is missing");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "Dovecot did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(SELECT)
        .env("PORT", port.to_string())
        .output()
        .expect("python3 is missing");
    let _ = child.kill();
    let _ = child.wait();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}

fn main() {
    let n: usize = std::env::var("LISTING_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runs: usize = std::env::var("LISTING_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let base = std::env::temp_dir().join(format!("maildrop-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let maildir = base.join("maildir");
    for sub in ["tmp", "new", "cur"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let body: String = (0..10)
        .map(|i| format!("line {i} of a plain text body\r\n"))
        .collect();
    for i in 0..n {
        let msg = format!(
            "Subject: message {i}\r\nFrom: user{}@example.org\r\n\r\n{body}",
            i % 100
        );
        let name = format!("cur/{}.M{i}P1.bench,S={}:2,S", 1_700_000_000 + i, msg.len());
        fs::write(maildir.join(name), msg).unwrap();
    }
    // Directory stamps count once they are in the past.
    std::thread::sleep(Duration::from_millis(2100));
    // POP3 before any index exists: a directory read and a stat per file
    // (what every scan did before the index).
    let bare = time(runs, || Maildrop::scan(&maildir).unwrap());
    let folders = MaildirFolders::open(&maildir).unwrap();
    let t = Instant::now();
    let first = folders.list("INBOX", false).unwrap();
    let first_time = t.elapsed();
    assert_eq!(first.messages.len(), n);
    println!("messages {n}");
    println!("pop3-scan (no index) {}", ms(bare));
    println!("list-first (no index) {}", ms(first_time));
    let unchanged = time(runs, || folders.list("INBOX", false).unwrap());
    println!("list-unchanged {}", ms(unchanged));
    let scan = time(runs, || Maildrop::scan(&maildir).unwrap());
    println!("pop3-scan (index settled) {}", ms(scan));
    let mut flip = 0u32;
    let changed = time(runs, || {
        flip += 1;
        let letters = if flip.is_multiple_of(2) { "S" } else { "FS" };
        folders.set_flags("INBOX", 1, letters).unwrap();
        folders.list("INBOX", false).unwrap()
    });
    println!("set-flag-then-list (one rename) {}", ms(changed));
    if std::env::var("LISTING_BENCH_DOVECOT").as_deref() != Ok("0") {
        dovecot_select(&base.join("dovecot"), &maildir);
    }
    let _ = fs::remove_dir_all(&base);
}
