//! Test implementations of the server's traits (a directory in memory, a
//! store of plain directories, a filter that obeys a header) and a harness
//! that starts the server on loopback ports with a generated certificate.
//! They stand in for the real crates in these tests only.

#![allow(dead_code, unreachable_pub)]

use mail_server::config::{Overrides, TlsFiles};
use mail_server::{
    AuthChecks, Directory, FilterOutcome, FilterVerdict, IncomingMessage, LocalUser, MailboxStore,
    MessageFacts, MessageFilter, Outbound, Parts, Recipient, Refusal, Running, ServerConfig,
    StoreError,
};
use mail_spool::spool::{SqliteOptions, SqliteSpool};
use mailwire_auth::MemoryResolver;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const DOMAIN: &str = "example.test";

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "mail-server-test-{prefix}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Users with plain passwords (the real directory stores argon2 hashes).
#[derive(Debug, Default)]
pub struct TestDirectory {
    pub domains: Vec<String>,
    pub users: HashMap<String, (String, Option<u64>)>,
    pub aliases: HashMap<String, Vec<String>>,
    pub catch_all: HashMap<String, String>,
}

impl TestDirectory {
    pub fn standard() -> TestDirectory {
        let mut d = TestDirectory {
            domains: vec![DOMAIN.into(), "catchall.test".into()],
            ..TestDirectory::default()
        };
        d.users
            .insert(format!("alice@{DOMAIN}"), ("alice-pw".into(), None));
        d.users
            .insert(format!("bob@{DOMAIN}"), ("bob-pw".into(), None));
        d.users
            .insert(format!("carol@{DOMAIN}"), ("carol-pw".into(), Some(200)));
        d.aliases.insert(
            format!("team@{DOMAIN}"),
            vec![format!("alice@{DOMAIN}"), format!("bob@{DOMAIN}")],
        );
        d.aliases
            .insert(format!("sales@{DOMAIN}"), vec![format!("alice@{DOMAIN}")]);
        d.aliases.insert(
            format!("fwd@{DOMAIN}"),
            vec![format!("carol@{DOMAIN}"), "far@elsewhere.test".into()],
        );
        d.catch_all
            .insert("catchall.test".into(), format!("bob@{DOMAIN}"));
        d
    }

    fn user(&self, address: &str) -> Option<LocalUser> {
        self.users.get(address).map(|(_, quota)| LocalUser {
            address: address.to_owned(),
            quota: *quota,
        })
    }
}

impl Directory for TestDirectory {
    fn resolve(&self, address: &str) -> Recipient {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Recipient::Unknown;
        };
        let domain = domain.to_ascii_lowercase();
        if !self.is_local_domain(&domain) {
            return Recipient::NotLocal;
        }
        let base = local.split('+').next().unwrap_or(local);
        let address = format!("{base}@{domain}");
        if let Some(user) = self.user(&address) {
            return Recipient::Local(vec![user]);
        }
        if let Some(targets) = self.aliases.get(&address) {
            let local = targets.iter().filter_map(|t| self.user(t)).collect();
            let remote: Vec<String> = targets
                .iter()
                .filter(|t| !t.ends_with(&format!("@{DOMAIN}")))
                .cloned()
                .collect();
            if remote.is_empty() {
                return Recipient::Local(local);
            }
            return Recipient::Forward { local, remote };
        }
        match self.catch_all.get(&domain).and_then(|u| self.user(u)) {
            Some(user) => Recipient::Local(vec![user]),
            None => Recipient::Unknown,
        }
    }
    fn verify(&self, user: &str, password: &str) -> bool {
        self.users.get(user).is_some_and(|(p, _)| p == password)
    }
    fn may_send_as(&self, user: &str, mail_from: &str) -> bool {
        user.eq_ignore_ascii_case(mail_from)
            || self
                .aliases
                .get(mail_from)
                .is_some_and(|targets| targets.iter().any(|t| t == user))
    }
    fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// Each user's mail as files under `root/<user>/<folder>/`.
#[derive(Debug)]
pub struct DirStore {
    pub root: PathBuf,
    seq: AtomicU64,
}

impl DirStore {
    pub fn new(root: PathBuf) -> DirStore {
        fs::create_dir_all(root.join(".tmp")).unwrap();
        DirStore {
            root,
            seq: AtomicU64::new(0),
        }
    }

    fn usage(&self, user: &str) -> u64 {
        let mut total = 0;
        let mut stack = vec![self.root.join(user)];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    stack.push(entry.path());
                } else {
                    total += meta.len();
                }
            }
        }
        total
    }

    /// Every message of `user` in `folder`, as text.
    pub fn messages(&self, user: &str, folder: &str) -> Vec<String> {
        let mut out: Vec<(PathBuf, String)> = fs::read_dir(self.root.join(user).join(folder))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| (e.path(), fs::read_to_string(e.path()).unwrap()))
            .collect();
        out.sort();
        out.into_iter().map(|(_, text)| text).collect()
    }

    /// Puts a message in a user's inbox directly (to fill a quota).
    pub fn put(&self, user: &str, text: &str) {
        let dir = self.root.join(user).join("INBOX");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("seed"), text).unwrap();
    }
}

pub struct DirIncoming {
    file: File,
    path: PathBuf,
    root: PathBuf,
    name: String,
}

impl MailboxStore for DirStore {
    type Incoming = DirIncoming;
    fn begin(&self) -> Result<DirIncoming, StoreError> {
        let name = format!("m{}", self.seq.fetch_add(1, Ordering::Relaxed));
        let path = self.root.join(".tmp").join(&name);
        Ok(DirIncoming {
            file: File::create(&path)?,
            path,
            root: self.root.clone(),
            name,
        })
    }
    fn room(&self, user: &str, quota: Option<u64>, size: u64) -> Result<bool, StoreError> {
        Ok(quota.is_none_or(|q| self.usage(user) + size <= q))
    }
    fn maildir(&self, user: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join(user))
    }
}

impl IncomingMessage for DirIncoming {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.write_all(chunk)
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn commit(
        self,
        prepend: &[u8],
        users: &[(&str, Option<u64>)],
        folder: Option<&str>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.file.sync_all()?;
        let content = fs::read(&self.path)?;
        let store = DirStore {
            root: self.root.clone(),
            seq: AtomicU64::new(0),
        };
        let mut outcomes = Vec::new();
        for (user, quota) in users {
            let size = (prepend.len() + content.len()) as u64;
            if !store.room(user, *quota, size)? {
                outcomes.push(Err(StoreError::OverQuota {
                    user: (*user).to_owned(),
                }));
                continue;
            }
            outcomes.push(Ok(()));
            let dir = self.root.join(user).join(folder.unwrap_or("INBOX"));
            fs::create_dir_all(&dir)?;
            let mut out = File::create(dir.join(&self.name))?;
            out.write_all(prepend)?;
            out.write_all(&content)?;
            out.sync_all()?;
        }
        let _ = fs::remove_file(&self.path);
        Ok(outcomes)
    }
    fn abort(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Obeys an `X-Test-Verdict:` field in the message: `reject`,
/// `quarantine`, `tempfail`, or anything else to accept (with a field).
#[derive(Debug, Default)]
pub struct HeaderFilter;

impl MessageFilter for HeaderFilter {
    fn check_message(&self, facts: &MessageFacts, message: &Path) -> FilterOutcome {
        let mut text = String::new();
        File::open(message)
            .unwrap()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .unwrap();
        let verdict = text
            .lines()
            .find_map(|l| l.strip_prefix("X-Test-Verdict: "))
            .unwrap_or("")
            .trim();
        let verdict = match verdict {
            "reject" => FilterVerdict::Reject(Refusal {
                code: 550,
                status: (5, 7, 1),
                text: "Rejected by the test filter".into(),
            }),
            "quarantine" => FilterVerdict::Quarantine {
                reason: "the test filter says so".into(),
                add_headers: vec![("X-Spam-Flag".into(), "YES".into())],
            },
            "tempfail" => FilterVerdict::TempFail {
                text: "The test scanner is down, try again later".into(),
            },
            _ => FilterVerdict::Accept {
                add_headers: vec![("X-Test-Filter".into(), format!("seen {}", facts.size))],
            },
        };
        let decided_by =
            (!matches!(verdict, FilterVerdict::Accept { .. })).then(|| "header".into());
        let per_filter = vec![("header".to_owned(), verdict.name())];
        FilterOutcome {
            verdict,
            decided_by,
            per_filter,
        }
    }
}

/// What a test asks of the harness.
#[derive(Default)]
pub struct Options {
    pub submission: bool,
    pub checks: Option<MemoryResolver>,
    /// A DKIM key (PEM) for `example.test`, selector `sel`.
    pub dkim_pem: Option<String>,
    /// Where the server counts.
    pub metrics: Option<Arc<mail_metrics::MailMetrics>>,
    /// `[limits] max_sessions`.
    pub max_sessions: Option<usize>,
}

pub type TestServer<F = HeaderFilter> = Running<Arc<TestDirectory>, Arc<DirStore>, F>;

/// A server on loopback ports with a generated certificate.
pub struct Harness<F = HeaderFilter> {
    pub running: TestServer<F>,
    pub store: Arc<DirStore>,
    pub spool: Arc<SqliteSpool>,
    pub ca: PathBuf,
    pub dir: TempDir,
}

impl<F> Harness<F> {
    pub fn smtp(&self) -> SocketAddr {
        self.running.addr("smtp").unwrap()
    }
    pub fn submission(&self) -> SocketAddr {
        self.running.addr("submission").unwrap()
    }
    pub fn submissions(&self) -> SocketAddr {
        self.running.addr("submissions").unwrap()
    }
    /// Messages in the spool.
    pub fn spooled(&self) -> u64 {
        use mail_spool::Spool;
        self.spool.stats().unwrap().messages
    }
}

pub fn start(options: Options) -> Harness {
    start_with(options, "", |_| HeaderFilter)
}

/// A server with `extra` TOML appended to its configuration and the filter
/// `filter` builds from that configuration.
pub fn start_with<F: MessageFilter>(
    options: Options,
    extra: &str,
    filter: impl FnOnce(&ServerConfig) -> F,
) -> Harness<F> {
    let dir = TempDir::new("server");
    let (cert, key) = certificate(&dir.0);
    let mut text = format!(
        "hostname = \"mx.{DOMAIN}\"\nspool = \"{}\"\n[listeners]\nsmtp = \"127.0.0.1:0\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n[directory]\ndomains = [\"{DOMAIN}\"]\n",
        dir.0.join("spool").display(),
        cert.display(),
        key.display()
    );
    if options.submission || options.max_sessions.is_some() {
        text.push_str("[limits]\n");
    }
    if options.submission {
        text.push_str("auth_failures_per_ip = 50\n");
    }
    if let Some(n) = options.max_sessions {
        text.push_str(&format!("max_sessions = {n}\n"));
    }
    text.push_str(extra);
    let mut config = ServerConfig::parse(&text, "test.toml").unwrap();
    if options.submission {
        config
            .apply(&Overrides {
                submission: Some("127.0.0.1:0".parse().unwrap()),
                submissions: Some("127.0.0.1:0".parse().unwrap()),
                tls: Some(TlsFiles {
                    cert: cert.clone(),
                    key,
                }),
                ..Overrides::default()
            })
            .unwrap();
    }
    let store = Arc::new(DirStore::new(dir.0.join("mail")));
    let spool = Arc::new(SqliteSpool::open(dir.0.join("spool"), SqliteOptions::default()).unwrap());
    let mut parts = Parts::new(
        Arc::new(TestDirectory::standard()),
        Arc::clone(&store),
        filter(&config),
        config.limits.auth_failures_per_ip,
    );
    let mut outbound = Outbound::new(spool.clone());
    if let Some(pem) = &options.dkim_pem {
        outbound = outbound.with_dkim_pem(DOMAIN, "sel", pem).unwrap();
    }
    parts.outbound = Some(outbound);
    if let Some(metrics) = options.metrics {
        parts.metrics = metrics;
    }
    parts.tls =
        Some(smtp_blocking::ServerTls::from_pem_files(&cert, dir.0.join("key.pem")).unwrap());
    if let Some(resolver) = options.checks {
        parts.checks = Some(AuthChecks::new(
            Arc::new(resolver),
            format!("mx.{DOMAIN}"),
            true,
        ));
    }
    let running = mail_server::start(&config, parts).unwrap();
    Harness {
        running,
        store,
        spool,
        ca: cert,
        dir,
    }
}

/// A self-signed certificate for localhost and 127.0.0.1.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&cert_path, cert.pem()).unwrap();
    fs::write(&key_path, key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

/// A plain-text SMTP client that shows each reply as it came.
pub struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut raw = Raw {
            reader: BufReader::new(stream),
        };
        let greeting = raw.reply();
        assert!(greeting.starts_with("220"), "{greeting}");
        raw
    }

    /// The next whole reply (every line).
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "connection closed after {all:?}");
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    /// Sends raw octets, waiting for no reply.
    pub fn write(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.reply()
    }

    /// MAIL, RCPTs and DATA with `body`; the final reply (or the first
    /// refusal).
    pub fn send(&mut self, from: &str, to: &[&str], body: &str) -> String {
        let r = self.cmd(&format!("MAIL FROM:<{from}>"));
        if !r.starts_with('2') {
            return r;
        }
        let mut any = false;
        for rcpt in to {
            let r = self.cmd(&format!("RCPT TO:<{rcpt}>"));
            if r.starts_with('2') {
                any = true;
            } else if to.len() == 1 {
                return r;
            }
        }
        if !any {
            return "no recipient accepted".into();
        }
        let r = self.cmd("DATA");
        assert!(r.starts_with("354"), "{r}");
        let stream = self.reader.get_mut();
        stream
            .write_all(body.replace('\n', "\r\n").as_bytes())
            .unwrap();
        self.cmd(".")
    }
}

/// Runs a program to its end (hang guard: 60 s).
pub fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e} (tests/run-all.sh installs it)"));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a Python script; its stdout.
pub fn python(script: &str) -> String {
    let out = run(Command::new("python3").arg("-c").arg(script));
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs swaks; its whole transcript.
pub fn swaks(args: &[&str]) -> String {
    let out = run(Command::new("swaks").args(args));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A message with `extra` header lines.
pub fn message(from: &str, subject: &str, extra: &str) -> String {
    format!("From: <{from}>\nTo: <x@{DOMAIN}>\nSubject: {subject}\n{extra}Message-ID: <{subject}@test>\n\nHello.\n")
}
