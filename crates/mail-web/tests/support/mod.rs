//! The rig of the tests: a Maildir filled by a real SMTP server
//! (smtp-blocking) and served by the web server, and the messages sent.
#![allow(dead_code)]

use mail_web::WebHandle;
use mime_codec::{Attachment, Mailbox as MimeMailbox, MessageBuilder};
use smtp_blocking::{
    Client, Connection, Decision, Handler, Server, ServerHandle, Sink, Transaction,
};
use smtp_proto::{
    ClientConfig, Envelope, Host, Mailbox, Recipient, Reply, ServerConfig, TlsPolicy,
};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A 16×16 red PNG.
pub(crate) const RED_PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 16, 0, 0, 0, 16, 8, 2,
    0, 0, 0, 144, 145, 104, 54, 0, 0, 0, 23, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 64, 18,
    34, 77, 245, 168, 134, 81, 13, 67, 74, 3, 0, 144, 249, 255, 1, 249, 225, 250, 120, 0, 0, 0, 0,
    73, 69, 78, 68, 174, 66, 96, 130,
];

/// The Chinese subject and names of the sample message.
pub(crate) const SUBJECT: &str = "季度报告：你好，世界";
pub(crate) const FROM_NAME: &str = "张三";
pub(crate) const ATTACHMENT_NAME: &str = "报告 2026.bin";

/// Every byte value, then a pattern: an attachment that must come back
/// byte for byte.
pub(crate) fn attachment_bytes() -> Vec<u8> {
    (0..70_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .chain(0..=255u8)
        .collect()
}

/// A private directory with `tmp/`, `new/` and `cur/`, removed on drop.
pub(crate) struct TempMaildir(pub PathBuf);

impl TempMaildir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mail-web-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        TempMaildir(dir)
    }

    /// Delivers `bytes` as a Maildir MTA does: write in `tmp/`, fsync,
    /// rename into `new/`. Returns the unique name.
    pub(crate) fn deliver(&self, bytes: &[u8]) -> String {
        deliver(&self.0, bytes)
    }
}

impl Drop for TempMaildir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn deliver(root: &Path, bytes: &[u8]) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let name = format!(
        "{}.M{}P{}Q{}.test",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = root.join("tmp").join(&name);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
    fs::rename(&tmp, root.join("new").join(&name)).unwrap();
    let _ = File::open(root.join("new")).and_then(|d| d.sync_all());
    name
}

/// An SMTP handler that stores each message into the Maildir.
struct MaildirSink(PathBuf);

/// One message on its way into the Maildir, collected then delivered.
struct Incoming {
    root: PathBuf,
    bytes: Vec<u8>,
}

impl Handler for MaildirSink {
    type Sink = Incoming;
    fn data_start(&self, _: &Connection, _: &Transaction) -> Result<Incoming, Reply> {
        Ok(Incoming {
            root: self.0.clone(),
            bytes: Vec::new(),
        })
    }
}

impl Sink for Incoming {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Reply> {
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }
    fn finish(self) -> Decision {
        deliver(&self.root, &self.bytes);
        Decision::Accept
    }
    fn abort(self) {}
}

/// A Maildir, an SMTP server writing into it, and the web server on it.
pub(crate) struct Rig {
    pub(crate) maildir: TempMaildir,
    pub(crate) smtp: Option<ServerHandle>,
    pub(crate) web: Option<WebHandle>,
}

impl Rig {
    pub(crate) fn start(tag: &str) -> Rig {
        Rig::start_with(tag, mail_web::Limits::default())
    }

    pub(crate) fn start_with(tag: &str, limits: mail_web::Limits) -> Rig {
        let maildir = TempMaildir::new(tag);
        let smtp = Server::bind(
            "127.0.0.1:0",
            ServerConfig::new("mx.test").with_idle_timeout(Duration::from_secs(10)),
            MaildirSink(maildir.0.clone()),
        )
        .unwrap()
        .spawn()
        .unwrap();
        let web = mail_web::serve_with("127.0.0.1:0", &maildir.0, limits).unwrap();
        Rig {
            maildir,
            smtp: Some(smtp),
            web: Some(web),
        }
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.web.as_ref().unwrap().local_addr())
    }

    /// Sends one message through SMTP.
    pub(crate) fn send(&self, builder: MessageBuilder) {
        let message = builder.build().unwrap();
        let env = message.envelope().clone();
        let bytes = message.to_vec();
        let mut envelope = Envelope::new(Mailbox::parse(env.reverse_path.as_str()).unwrap().into());
        for r in &env.recipients {
            envelope = envelope.with_recipient(Recipient::new(Mailbox::parse(r.as_str()).unwrap()));
        }
        let addr = self.smtp.as_ref().unwrap().local_addr();
        let mut client = Client::connect(
            addr,
            ClientConfig::new(Host::parse("client.test").unwrap()).with_tls(TlsPolicy::None),
            Duration::from_secs(5),
        )
        .unwrap();
        client.send(&envelope, bytes.as_slice()).unwrap();
        client.quit().unwrap();
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(web) = self.web.take() {
            web.shutdown(Duration::from_secs(2));
        }
        if let Some(smtp) = self.smtp.take() {
            smtp.shutdown(Duration::from_secs(2));
        }
    }
}

fn mailbox(name: &str, address: &str) -> MimeMailbox {
    MimeMailbox::new(name, address).unwrap()
}

/// The sample: Chinese subject and names, HTML with an inline image and a
/// remote image, a text alternative, and an attachment.
pub(crate) fn sample() -> MessageBuilder {
    MessageBuilder::new()
        .from(mailbox(FROM_NAME, "zhang@example.com"))
        .to(mailbox("李四", "li@example.org"))
        .cc(mailbox("", "boss@example.net"))
        .subject(SUBJECT)
        .text_body("你好！见附件。\n")
        .html_body(
            "<p>你好！</p><p><img id=\"logo\" src=\"cid:logo@mailwire.test\" width=\"64\" height=\"64\" alt=\"logo\">\
             <img id=\"tracker\" src=\"http://tracker.invalid/pixel.gif\" alt=\"\"></p>",
        )
        .inline("logo@mailwire.test", Attachment::new("logo.png", RED_PNG.to_vec()).content_type("image/png"))
        .attach(Attachment::new(ATTACHMENT_NAME, attachment_bytes()).content_type("application/octet-stream"))
}

/// A plain message.
pub(crate) fn plain(from: (&str, &str), to: (&str, &str), subject: &str) -> MessageBuilder {
    MessageBuilder::new()
        .from(mailbox(from.0, from.1))
        .to(mailbox(to.0, to.1))
        .subject(subject)
        .text_body("hello\n")
}

/// Runs a Python script from this crate's `tests/` with arguments; panics
/// with its output unless it exits 0. Returns its standard output.
pub(crate) fn python(script: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("python3 is needed: run the tests through tests/run-all.sh, which installs it");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
