//! The servers under load, each in its own directory on a free loopback
//! port: `mailwire serve` as the development sink (one Maildir), `mailwire
//! serve` as a mail server (a Maildir per user), and a private Postfix
//! instance delivering to a Maildir per user through its `virtual` agent.
//!
//! The Postfix instance has its own configuration, queue and data
//! directories and is only ever started and stopped with `postfix -c
//! ITS_DIR`, so the machine's own Postfix (if any) is never touched.

use crate::procs::{self, Roots};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `mailwire serve --maildir DIR`: every message into one Maildir.
    Sink,
    /// `mailwire serve --domain bench.test --users-file F --mailboxes DIR`.
    Accounts,
    /// Postfix 3 with `virtual_mailbox_maps`.
    Postfix,
}

impl Kind {
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "sink" => Some(Kind::Sink),
            "accounts" | "server" => Some(Kind::Accounts),
            "postfix" => Some(Kind::Postfix),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Sink => "mailwire serve (dev sink, one Maildir)",
            Kind::Accounts => "mailwire serve (mail server, Maildir per user)",
            Kind::Postfix => "Postfix (virtual, Maildir per user)",
        }
    }
}

/// How to start them.
#[derive(Debug, Clone)]
pub struct Setup {
    pub mailwire: PathBuf,
    pub users: usize,
    pub connections: usize,
    /// Extra arguments for the mail-server mode of `mailwire serve`.
    pub accounts_args: Vec<String>,
}

/// A started server.
#[derive(Debug)]
pub struct Server {
    pub kind: Kind,
    pub dir: PathBuf,
    pub addr: SocketAddr,
    /// Where its messages end up.
    pub mail_root: PathBuf,
    child: Option<Child>,
    setup: Setup,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Waits for a 220 greeting (and says QUIT).
fn wait_ready(addr: SocketAddr, limit: Duration) -> Result<(), String> {
    let until = Instant::now() + limit;
    loop {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut line = String::new();
            let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
            if r.read_line(&mut line).is_ok() && line.starts_with("220") {
                let _ = s.write_all(b"QUIT\r\n");
                return Ok(());
            }
        }
        if Instant::now() > until {
            return Err(format!("no SMTP greeting on {addr} within {limit:?}"));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Server {
    /// Creates `dir` and starts the server in it.
    pub fn start(kind: Kind, dir: &Path, setup: &Setup) -> Result<Server, String> {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mail_root = match kind {
            Kind::Sink => dir.join("maildir"),
            Kind::Accounts => dir.join("mailboxes"),
            Kind::Postfix => dir.join("vmail"),
        };
        let mut server = Server {
            kind,
            dir: dir.to_path_buf(),
            addr,
            mail_root,
            child: None,
            setup: setup.clone(),
        };
        match kind {
            Kind::Postfix => server.configure_postfix()?,
            Kind::Accounts => server.add_users()?,
            Kind::Sink => {}
        }
        server.launch()?;
        Ok(server)
    }

    fn launch(&mut self) -> Result<(), String> {
        match self.kind {
            Kind::Postfix => run(Command::new("postfix")
                .arg("-c")
                .arg(self.dir.join("etc"))
                .arg("start"))?,
            Kind::Sink | Kind::Accounts => {
                let limit = self.setup.connections.max(64).to_string();
                let mut cmd = Command::new(&self.setup.mailwire);
                cmd.arg("serve")
                    .arg("--listen")
                    .arg(self.addr.to_string())
                    .args(["--max-connections", &limit])
                    .args(["--max-connections-per-ip", &limit]);
                if self.kind == Kind::Sink {
                    cmd.arg("--maildir").arg(&self.mail_root);
                } else {
                    cmd.args(["--domain", "bench.test", "--users-file"])
                        .arg(self.dir.join("users"))
                        .arg("--mailboxes")
                        .arg(&self.mail_root)
                        .args(&self.setup.accounts_args);
                }
                let log =
                    fs::File::create(self.dir.join("serve.log")).map_err(|e| e.to_string())?;
                let err = log.try_clone().map_err(|e| e.to_string())?;
                cmd.current_dir(&self.dir)
                    .env("MAILWIRE_LOG", "warn")
                    .stdin(Stdio::null())
                    .stdout(log)
                    .stderr(err);
                self.child = Some(cmd.spawn().map_err(|e| format!("{cmd:?}: {e}"))?);
            }
        }
        wait_ready(self.addr, Duration::from_secs(30))
    }

    fn add_users(&self) -> Result<(), String> {
        let users = self.dir.join("users");
        for n in 0..self.setup.users {
            run(Command::new(&self.setup.mailwire)
                .args([
                    "user",
                    "add",
                    &format!("user{n}@bench.test"),
                    "--users-file",
                ])
                .arg(&users)
                .env("MAILWIRE_PASSWORD", format!("load-bench-password-{n}"))
                .stdin(Stdio::null()))?;
        }
        Ok(())
    }

    fn configure_postfix(&self) -> Result<(), String> {
        let d = &self.dir;
        let etc = d.join("etc");
        for sub in ["etc", "queue", "data", "vmail"] {
            fs::create_dir_all(d.join(sub)).map_err(|e| e.to_string())?;
        }
        // Postfix's daemons and the virtual agent (as nobody) must reach in.
        run(Command::new("chmod").arg("755").arg(d))?;
        run(Command::new("chown")
            .arg("-R")
            .arg("postfix")
            .arg(d.join("data")))?;
        // postsuper writes to the log as the mail owner at a restart.
        fs::write(d.join("maillog"), "").map_err(|e| e.to_string())?;
        run(Command::new("chown").arg("postfix").arg(d.join("maillog")))?;
        run(Command::new("chown")
            .arg("-R")
            .arg("nobody:nogroup")
            .arg(d.join("vmail")))?;
        let mut map = String::new();
        for n in 0..self.setup.users {
            map.push_str(&format!("user{n}@bench.test bench.test/user{n}/\n"));
        }
        fs::write(etc.join("vmailbox"), map).map_err(|e| e.to_string())?;
        let limit = self.setup.connections + 100;
        let dir = d.display();
        let main = format!(
            "compatibility_level = 3.6
config_directory = {dir}/etc
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.bench.localdomain
mydomain = bench.localdomain
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
biff = no
virtual_mailbox_domains = bench.test
virtual_mailbox_base = {dir}/vmail
virtual_mailbox_maps = texthash:{dir}/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
default_process_limit = {limit}
smtpd_client_connection_count_limit = 0
smtpd_client_event_limit_exceptions = 127.0.0.0/8
"
        );
        fs::write(etc.join("main.cf"), main).map_err(|e| e.to_string())?;
        let port = self.addr.port();
        // Debian's master.cf services, chroot off, smtpd on our port.
        let master = format!(
            "127.0.0.1:{port} inet n - n - {limit} smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
        );
        fs::write(etc.join("master.cf"), master).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Postfix's master process, from its pid file.
    fn master_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.dir.join("queue/pid/master.pid")).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        fs::metadata(format!("/proc/{pid}")).is_ok().then_some(pid)
    }

    /// The master's process group, which it leads (it calls setsid):
    /// never our own group.
    fn master_group(&self) -> Option<u32> {
        let pid = self.master_pid()?;
        (procs::pgid(pid) == Some(pid)).then_some(pid)
    }

    /// The roots of the server's process tree, as a function for the
    /// sampler (Postfix's master changes when it is restarted).
    pub fn roots(&self) -> Roots {
        match self.kind {
            Kind::Postfix => {
                let pid_file = self.dir.join("queue/pid/master.pid");
                Arc::new(move || {
                    fs::read_to_string(&pid_file)
                        .ok()
                        .and_then(|t| t.trim().parse().ok())
                        .into_iter()
                        .collect()
                })
            }
            _ => {
                let pid = self.child.as_ref().map(Child::id);
                Arc::new(move || pid.into_iter().collect())
            }
        }
    }

    /// What to kill with SIGKILL: the server's process, or for Postfix the
    /// master's whole process group (the master and every daemon it
    /// started) at once.
    pub fn kill_target(&self) -> Option<KillTarget> {
        match self.kind {
            Kind::Postfix => self.master_group().map(KillTarget::Group),
            _ => self.child.as_ref().map(|c| KillTarget::Process(c.id())),
        }
    }

    /// After a kill: reaps our child, and starts the server again on the
    /// same directories (Postfix then delivers what its queue holds).
    pub fn restart(&mut self) -> Result<(), String> {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.kind == Kind::Postfix {
            // Let the killed group vanish before the new master takes the lock.
            let until = Instant::now() + Duration::from_secs(10);
            while self.master_pid().is_some() && Instant::now() < until {
                thread::sleep(Duration::from_millis(50));
            }
        }
        self.launch()
    }

    /// Postfix's queue directory (none for the others).
    pub fn queue_dir(&self) -> Option<PathBuf> {
        (self.kind == Kind::Postfix).then(|| self.dir.join("queue"))
    }

    pub fn stop(&mut self) {
        if self.kind == Kind::Postfix && self.master_pid().is_some() {
            let group = self.master_group();
            let _ = Command::new("postfix")
                .arg("-c")
                .arg(self.dir.join("etc"))
                .arg("stop")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let until = Instant::now() + Duration::from_secs(10);
            while self.master_pid().is_some() && Instant::now() < until {
                thread::sleep(Duration::from_millis(50));
            }
            // Daemons of this instance that outlived their master.
            if let Some(g) = group {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{g}")])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A process or a process group to kill.
#[derive(Debug, Clone, Copy)]
pub enum KillTarget {
    Process(u32),
    Group(u32),
}

impl KillTarget {
    /// Sends SIGKILL (a system call, no `kill` process to start).
    pub fn kill(self) -> Result<(), String> {
        use rustix::process::{kill_process, kill_process_group, Pid, Signal};
        let result = match self {
            KillTarget::Process(p) => {
                Pid::from_raw(p as i32).map(|p| kill_process(p, Signal::KILL))
            }
            KillTarget::Group(g) => {
                Pid::from_raw(g as i32).map(|g| kill_process_group(g, Signal::KILL))
            }
        };
        match result {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(format!("kill {self:?}: {e}")),
            None => Err(format!("kill {self:?}: pid 0")),
        }
    }
}

/// Messages in a Postfix queue (files under its queues).
pub fn queued(queue: Option<&Path>) -> usize {
    let Some(queue) = queue else { return 0 };
    ["maildrop", "incoming", "active", "deferred", "hold"]
        .iter()
        .map(|q| count_files(&queue.join(q)))
        .sum()
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}
