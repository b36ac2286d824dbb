//! What the mail-server tests of the `mailwire` binary share: users made
//! with `mailwire user add`, a `mailwire serve` mail server that reports
//! its listeners, and a small SMTP client that shows each reply.

#![allow(dead_code, unreachable_pub)]

use crate::common::{collect, mailwire, Lines, LIMIT};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

/// Adds `address` with `password` to the users file `file` in `dir`.
pub fn add_user(dir: &Path, file: &str, address: &str, password: &str, quota: Option<&str>) {
    let mut cmd = mailwire(dir);
    cmd.args(["user", "add", address, "--users-file", file])
        .env("MAILWIRE_PASSWORD", password);
    if let Some(q) = quota {
        cmd.args(["--quota", q]);
    }
    let out = crate::common::run(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `mailwire serve` mail server, killed on drop.
pub struct MailServer {
    pub child: Child,
    pub stdout: Lines,
    pub stderr: Lines,
    /// Each listener's name (`smtp`, `submission`, `submissions`, `POP3`,
    /// `IMAP`) and address.
    pub addrs: HashMap<String, SocketAddr>,
    /// The self-signed certificate, when one was made.
    pub cert: Option<PathBuf>,
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MailServer {
    /// Starts `mailwire serve ARGS` in `dir` and waits for the listeners
    /// named in `expect`.
    pub fn start(dir: &Path, args: &[&str], expect: &[&str]) -> MailServer {
        let mut cmd = mailwire(dir);
        cmd.arg("serve").args(args);
        let mut child = cmd.spawn().unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let mut server = MailServer {
            child,
            stdout,
            stderr,
            addrs: HashMap::new(),
            cert: None,
        };
        let deadline = Instant::now() + LIMIT;
        loop {
            let printed = server.stdout.lock().unwrap().clone();
            for line in &printed {
                if let Some(rest) = line.strip_prefix("listening on ") {
                    let (addr, rest) = rest.split_once(" (").unwrap();
                    let name = rest.split(':').next().unwrap();
                    server.addrs.insert(name.to_owned(), addr.parse().unwrap());
                }
                for protocol in ["POP3", "IMAP"] {
                    if let Some(rest) = line.strip_prefix(&format!("{protocol} on ")) {
                        let addr = rest.split(' ').next().unwrap();
                        server
                            .addrs
                            .insert(protocol.to_owned(), addr.parse().unwrap());
                    }
                }
                if let Some(rest) = line.strip_prefix("metrics on http://") {
                    let addr = rest.split('/').next().unwrap();
                    server
                        .addrs
                        .insert("metrics".to_owned(), addr.parse().unwrap());
                }
                if let Some((_, rest)) = line.split_once(" written to ") {
                    let path = rest.split(" (").next().unwrap();
                    server.cert = Some(dir.join(path));
                }
            }
            if expect.iter().all(|name| server.addrs.contains_key(*name)) {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "serve exited ({status}) before listening: {:?}",
                    server.stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "serve did not start: {printed:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.addrs[name]
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
}

/// Every message file in a user's Maildir (new and cur of the inbox, or of
/// `.FOLDER`).
pub fn messages(mailboxes: &Path, domain: &str, user: &str, folder: Option<&str>) -> Vec<String> {
    let mut base = mailboxes.join(domain).join(user);
    if let Some(folder) = folder {
        base = base.join(format!(".{folder}"));
    }
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(base.join(sub))
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    out
}

/// A plain-text SMTP client that shows each reply as it came.
pub struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Raw> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut raw = Raw {
            reader: BufReader::new(stream),
        };
        let greeting = raw.reply()?;
        assert!(greeting.starts_with("220"), "{greeting}");
        Ok(raw)
    }

    /// The next whole reply; an error when the connection is gone.
    pub fn reply(&mut self) -> std::io::Result<String> {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(all);
            }
        }
    }

    pub fn cmd(&mut self, line: &str) -> std::io::Result<String> {
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())?;
        self.reply()
    }

    /// One message; the final reply, or the first refusal.
    pub fn send(&mut self, from: &str, to: &[&str], body: &str) -> std::io::Result<String> {
        let r = self.cmd(&format!("MAIL FROM:<{from}>"))?;
        if !r.starts_with('2') {
            return Ok(r);
        }
        for rcpt in to {
            let r = self.cmd(&format!("RCPT TO:<{rcpt}>"))?;
            if !r.starts_with('2') {
                self.cmd("RSET")?;
                return Ok(r);
            }
        }
        let r = self.cmd("DATA")?;
        if !r.starts_with("354") {
            return Ok(r);
        }
        self.reader
            .get_mut()
            .write_all(body.replace('\n', "\r\n").as_bytes())?;
        self.cmd(".")
    }
}

/// Runs a Python script; its stdout.
pub fn python(script: &str) -> String {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = crate::common::run(cmd);
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
