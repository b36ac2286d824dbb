//! Dovecot reads what the store delivers: a private Dovecot (Debian
//! package dovecot-imapd, installed by tests/setup/35-dovecot.sh) started
//! on a loopback port with `mail_location = maildir:ROOT/%d/%n` — the
//! store's layout — and Python's imaplib as the client. Every message comes
//! back byte for byte, with its size, flags and folder.

use maildrop::{MailStore, MaildirFolders};
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Dovecot(Child, PathBuf);
impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = fs::remove_dir_all(&self.1);
    }
}

fn start_dovecot(dir: &Path, root: &Path) -> (Dovecot, u16) {
    let binary = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| {
            panic!("dovecot is missing: run the tests through tests/run-all.sh, which installs dovecot-imapd")
        });
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fs::create_dir_all(dir.join("run")).unwrap();
    fs::write(dir.join("users"), "alice@example.org:{PLAIN}secret\n").unwrap();
    let d = dir.display();
    let r = root.display();
    let conf = format!(
        "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
         protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
         auth_mechanisms = plain\nmail_location = maildir:{r}/%d/%n:INDEX={d}/index/%d/%n\nfirst_valid_uid = 0\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/users\n}}\n\
         userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={d}/home/%d/%n\n}}\n\
         service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
         service anvil {{\n  chroot =\n}}\n"
    );
    fs::write(dir.join("dovecot.conf"), conf).unwrap();
    for path in [dir.to_path_buf(), root.to_path_buf()] {
        let status = Command::new("chown")
            .args(["-R", "dovecot:dovecot"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "chown failed");
    }
    let child = Command::new(binary)
        .arg("-F")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dovecot = Dovecot(child, dir.to_path_buf());
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "Dovecot did not start: {}",
            fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (dovecot, port)
}

const CLIENT: &str = r#"
import imaplib, os
m = imaplib.IMAP4("127.0.0.1", int(os.environ["PORT"]), timeout=30)
m.login("alice@example.org", "secret")
for folder in ("INBOX", "Junk"):
    typ, data = m.select(folder, readonly=True)
    assert typ == "OK", data
    typ, data = m.fetch("1:*", "(FLAGS RFC822.SIZE BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple):
            meta = item[0].decode()
            size = meta.split("RFC822.SIZE ")[1].split(" ")[0]
            flags = meta.split("FLAGS (")[1].split(")")[0]
            print("MSG", folder, size, "[" + flags + "]", item[1].hex())
m.logout()
"#;

#[test]
fn dovecot_reads_delivered_messages() {
    let base = std::env::temp_dir().join(format!("maildrop-dovecot-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    let root = base.join("mail");
    let store = MailStore::open(&root).unwrap();
    let mut perms = fs::metadata(&base).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&base, perms).unwrap();
    let messages: [&[u8]; 3] = [
        b"Subject: one\r\n\r\nfirst\r\n",
        b"Subject: two\r\nFrom: a@example.net\r\n\r\nsecond message\r\n",
        b"Subject: junk\r\n\r\nspam\r\n",
    ];
    let prepend = b"Received: from client.example.net by mx.example.org\r\n";
    for (i, body) in messages.iter().enumerate() {
        let mut incoming = store.begin().unwrap();
        incoming.write(body).unwrap();
        let folder = (i == 2).then_some("Junk");
        incoming
            .commit(
                prepend,
                &[
                    ("alice@example.org", Some(1_000_000)),
                    ("bob@example.org", None),
                ],
                folder,
            )
            .unwrap();
    }
    // Our IMAP side sets a flag (a rename into cur/ with :2,FS).
    let folders = MaildirFolders::open(store.maildir("alice@example.org").unwrap()).unwrap();
    let listing = folders.list("INBOX", true).unwrap();
    folders
        .set_flags("INBOX", listing.messages[1].uid, "SF")
        .unwrap();

    let (dovecot, port) = start_dovecot(&base.join("dovecot"), &root);
    let out = Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .env("PORT", port.to_string())
        .output()
        .expect("python3 is missing: run the tests through tests/run-all.sh");
    let log = fs::read_to_string(base.join("dovecot/dovecot.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let got: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("MSG "))
        .map(|l| l.split(' ').collect())
        .collect();
    assert_eq!(got.len(), 3, "{text}\n{log}");
    for (i, (line, body)) in got.iter().zip(messages).enumerate() {
        let mut expected = prepend.to_vec();
        expected.extend_from_slice(body);
        let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(line[1], if i == 2 { "Junk" } else { "INBOX" });
        assert_eq!(line[2], expected.len().to_string());
        assert_eq!(line[line.len() - 1], hex);
        if i == 1 {
            assert!(line.join(" ").contains("[\\Flagged \\Seen"), "{line:?}");
        }
    }
    // Dovecot found no size or name to complain about.
    assert!(!log.contains("Error"), "{log}");
    drop(dovecot);
    let _ = fs::remove_dir_all(&base);
}
