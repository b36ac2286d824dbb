//! Harness shared by the tests of this directory: a time-bounded runner,
//! client and server settings, a test CA, temporary directories, and the
//! Python peers (aiosmtpd, smtplib).

#![allow(dead_code)]

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::PrivatePkcs8KeyDer;
use smtp_blocking::{
    CertificateDer, Connection, Decision, Handler, Message, RootCertStore, ServerTls, TlsSettings,
};
use smtp_proto::sasl::AuthRequest;
use smtp_proto::{
    ClientConfig, ClientTimeouts, EnhancedStatus, Envelope, Host, Mailbox, Recipient, Reply,
    ReplyCode, ServerConfig, TlsPolicy,
};
use std::ffi::OsStr;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The time a test may take under `bounded`.
pub(crate) fn limit() -> Duration {
    Duration::from_secs(30)
}

/// Runs `test` on its own thread and fails if it takes longer than `limit`.
pub(crate) fn bounded(limit: Duration, test: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        test();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => thread.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The test panicked: re-raise its panic here.
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {limit:?}"),
    }
}

/// The same timeout for every step of a client session.
pub(crate) fn timeouts(each: Duration) -> ClientTimeouts {
    ClientTimeouts {
        greeting: each,
        ehlo: each,
        starttls: each,
        auth: each,
        mail: each,
        rcpt: each,
        data_init: each,
        data_block: each,
        data_end: each,
        quit: each,
    }
}

/// A client as `client.test` with `policy` and 10 s per step.
pub(crate) fn client_config(policy: TlsPolicy) -> ClientConfig {
    ClientConfig::new(Host::parse("client.test").unwrap())
        .with_tls(policy)
        .with_timeouts(timeouts(Duration::from_secs(10)))
}

/// A server as `mx.test` that drops idle sessions after 10 s.
pub(crate) fn server_config() -> ServerConfig {
    ServerConfig::new("mx.test").with_idle_timeout(Duration::from_secs(10))
}

/// From sender@example.com to rcpt@example.org.
pub(crate) fn envelope() -> Envelope {
    Envelope::new(Mailbox::parse("sender@example.com").unwrap().into())
        .with_recipient(Recipient::new(Mailbox::parse("rcpt@example.org").unwrap()))
}

/// Keeps every message and accepts it.
#[derive(Clone, Default)]
pub(crate) struct Recorder(pub(crate) Arc<Mutex<Vec<Message>>>);

impl Handler for Recorder {
    fn message(&self, _: &Connection, message: &Message) -> Decision {
        self.0.lock().unwrap().push(message.clone());
        Decision::Accept
    }
}

/// The AUTH decision of a server with one account: `user` / `secret`.
pub(crate) fn user_secret(request: &AuthRequest) -> Decision {
    if request.username() == "user" && request.verify_password("secret") {
        Decision::Accept
    } else {
        let reply = Reply::new(
            ReplyCode::AUTH_INVALID,
            EnhancedStatus::new(5, 7, 8),
            ["Bad credentials"],
        )
        .unwrap();
        Decision::Reject(reply)
    }
}

/// A port on 127.0.0.1 that nothing listens on (right now).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A test CA and a certificate for `names` it issued.
pub(crate) struct TestCa {
    pub(crate) ca: Certificate,
    pub(crate) leaf: Certificate,
    pub(crate) key: KeyPair,
}

/// Generates a CA and a certificate for `names` signed by it; if `expired`,
/// the certificate expired in 2001.
pub(crate) fn test_ca(names: &[&str], expired: bool) -> TestCa {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mailwire test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let leaf = params.signed_by(&key, &issuer).unwrap();
    TestCa { ca, leaf, key }
}

/// A temporary directory, removed when the test ends.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new temporary directory named after `prefix`, the process and the time.
pub(crate) fn temp_dir(prefix: &str) -> TempDir {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Writes a test CA (`ca.pem`) and a certificate for localhost and
/// 127.0.0.1 (`cert.pem`, `key.pem`) to a new temporary directory.
pub(crate) fn pem_files(prefix: &str) -> TempDir {
    let pki = test_ca(&["localhost", "127.0.0.1"], false);
    let dir = temp_dir(prefix);
    std::fs::write(dir.0.join("ca.pem"), pki.ca.pem()).unwrap();
    std::fs::write(dir.0.join("cert.pem"), pki.leaf.pem()).unwrap();
    std::fs::write(dir.0.join("key.pem"), pki.key.serialize_pem()).unwrap();
    dir
}

/// Fails the test unless Python's aiosmtpd can be imported.
pub(crate) fn require_aiosmtpd() {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        installed,
        "aiosmtpd is not installed: run `python3 -m pip install aiosmtpd` (tests/run-all.sh does)"
    );
}

/// A running aiosmtpd (python3 with the given arguments); killed on drop,
/// even by a failed assertion.
pub(crate) struct Aiosmtpd(Child);

impl Aiosmtpd {
    /// Starts `python3 args…` and waits until it listens on `addr`.
    pub(crate) fn start<S: AsRef<OsStr>>(
        addr: SocketAddr,
        args: impl IntoIterator<Item = S>,
    ) -> Aiosmtpd {
        let child = Command::new("python3")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut peer = Aiosmtpd(child);
        peer.wait_until_listening(addr);
        peer
    }

    fn wait_until_listening(&mut self, addr: SocketAddr) {
        let start = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.0.try_wait() {
                panic!("aiosmtpd exited before listening: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server and returns what it printed.
    pub(crate) fn stop(&mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut printed = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            stdout.read_to_string(&mut printed).unwrap();
        }
        printed
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `python3 -c script args…` and fails if it takes longer than 30 s.
pub(crate) fn run_smtplib<S: AsRef<OsStr>>(
    script: &str,
    args: impl IntoIterator<Item = S>,
) -> ExitStatus {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("python3 is needed for this test");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("smtplib did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A test CA and a server certificate it issued.
pub(crate) struct Pki {
    pub(crate) ca: CertificateDer<'static>,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: Vec<u8>,
}

impl Pki {
    /// A CA, and a certificate for `names` signed by it.
    pub(crate) fn new(names: &[&str]) -> Pki {
        Pki::build(names, false)
    }

    /// As [`Pki::new`], with a server certificate that expired in 2001.
    pub(crate) fn expired(names: &[&str]) -> Pki {
        Pki::build(names, true)
    }

    fn build(names: &[&str], expired: bool) -> Pki {
        let pki = test_ca(names, expired);
        Pki {
            ca: pki.ca.der().clone(),
            chain: vec![pki.leaf.der().clone()],
            key: pki.key.serialize_der(),
        }
    }

    pub(crate) fn server(&self) -> ServerTls {
        let key = PrivatePkcs8KeyDer::from(self.key.clone()).into();
        ServerTls::from_der(self.chain.clone(), key).unwrap()
    }

    pub(crate) fn client(&self) -> TlsSettings {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        TlsSettings::new().with_root_store(roots)
    }
}
