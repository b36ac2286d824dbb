//! Our SRS against postsrsd, the daemon Postfix sites run (libsrs2's
//! format), with the same secret and domain: both rewrite a sender to the
//! very same address, each takes the other's addresses back, both refuse
//! an altered one, and the sender the mail server queues for forwarded
//! mail is one postsrsd returns to the original sender. postsrsd is
//! installed by tests/run-all.sh (tests/setup/41-postsrsd.sh).

mod support;

use mail_server::srs::{Srs, SrsError};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const SECRET: &str = "postsrsd-shared-secret";

/// A postsrsd of this test's own, killed on drop.
struct Postsrsd {
    child: Child,
    forward: SocketAddr,
    reverse: SocketAddr,
}

impl Drop for Postsrsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn postsrsd(dir: &std::path::Path, domain: &str) -> Postsrsd {
    let binary = ["/usr/sbin/postsrsd", "/usr/bin/postsrsd"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("postsrsd is not installed: run the tests with tests/run-all.sh (tests/setup/41-postsrsd.sh installs it)");
    let secret = dir.join("postsrsd.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let (f, r) = (free_port(), free_port());
    let child = Command::new(binary)
        .arg(format!("-s{}", secret.display()))
        .arg(format!("-d{domain}"))
        .args(["-l127.0.0.1", "-4"])
        .arg(format!("-f{f}"))
        .arg(format!("-r{r}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Postsrsd {
        child,
        forward: ([127, 0, 0, 1], f).into(),
        reverse: ([127, 0, 0, 1], r).into(),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(daemon.reverse).is_err() || TcpStream::connect(daemon.forward).is_err()
    {
        assert!(Instant::now() < deadline, "postsrsd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon
}

/// One Postfix tcp_table lookup: `200 value`, or the error line.
fn lookup(addr: SocketAddr, key: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(format!("get {key}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn our_srs_and_postsrsd_write_the_same_addresses_and_read_each_other() {
    let dir = TempDir::new("postsrsd");
    let daemon = postsrsd(&dir.0, "fwd.example");
    let ours = Srs::new(SECRET.as_bytes().to_vec(), "fwd.example").unwrap();
    for sender in [
        "alice@origin.example",
        "Bob.Smith@Mixed.Case.Example",
        "list+bounces=x@lists.example",
        "o'brien@ie.example",
    ] {
        let theirs = lookup(daemon.forward, sender);
        let theirs = theirs
            .strip_prefix("200 ")
            .unwrap_or_else(|| panic!("postsrsd forward {sender}: {theirs}"));
        // Around midnight the two may stamp different days.
        let mine = ours.forward(sender, now()).unwrap();
        if mine.split('=').nth(2) == theirs.split('=').nth(2) {
            assert_eq!(mine, theirs, "{sender}");
        }
        let local = theirs.rsplit_once('@').unwrap().0;
        assert_eq!(ours.reverse(local, now()).as_deref(), Ok(sender));
        assert_eq!(lookup(daemon.reverse, &mine), format!("200 {sender}"));
        // Altered: both refuse it.
        let altered = mine.replacen('=', "=x", 4).replacen("=x", "=", 3);
        assert_ne!(altered, mine);
        let answer = lookup(daemon.reverse, &altered);
        assert!(!answer.starts_with("200"), "{altered}: {answer}");
        let altered_local = altered.rsplit_once('@').unwrap().0;
        assert_eq!(ours.reverse(altered_local, now()), Err(SrsError::BadHash));
    }
}

#[test]
fn the_sender_of_forwarded_mail_is_one_postsrsd_takes_back() {
    let h = start_with(
        Options::default(),
        &format!("[srs]\nsecret = \"{SECRET}\"\n"),
        |_| HeaderFilter,
    );
    let daemon = postsrsd(&h.dir.0, DOMAIN);
    let mut c = Raw::connect(h.smtp());
    c.cmd("EHLO client.test");
    let r = c.send(
        "writer@origin.example",
        &[&format!("fwd@{DOMAIN}")],
        "Subject: f\n\nhi\n",
    );
    assert!(r.starts_with("250"), "{r}");
    use mail_spool::Spool;
    let queued = h.spool.list(None, 10).unwrap();
    assert_eq!(queued.len(), 1);
    let sender = &queued[0].sender;
    assert!(sender.starts_with("SRS0="), "{sender}");
    assert_eq!(lookup(daemon.reverse, sender), "200 writer@origin.example");
}
