//! `loopback run`: every comparison, interleaved, printed as Markdown.

use crate::args::Opts;
use crate::message::{FROM, TO};
use crate::peers::{free_port, pinned, run_timed, Peer, Timed};
use crate::stats::{summarize, Summary};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Who sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// Postfix's `smtp-source -d` (one reused connection per session).
    SmtpSource,
    /// `smtp_blocking::Client`, one per thread.
    Ours,
    /// The same, from another build of this program (`--candidate`): to
    /// measure a change to the client against the current one.
    Candidate,
    /// lettre's `SmtpTransport` with a pool, shared by the threads.
    Lettre,
    /// An async adapter's `Pool` (smol or async-std), `conns` connections
    /// fed by as many concurrent loops on one executor thread.
    AsyncPool(Runtime),
    /// `conns` async clients with a connection each, on one executor
    /// thread.
    AsyncClients(Runtime),
}

/// Which async adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Smol,
    AsyncStd,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Smol => "smol",
            Runtime::AsyncStd => "async-std",
        }
    }
}

/// Where a Maildir lives and whether its fsyncs happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    /// The usual disk, every fsync done.
    Disk,
    /// The same disk with fsync turned into a no-op by `eatmydata`.
    DiskNoFsync,
    /// A tmpfs (`/dev/shm`), where fsync has nothing to flush.
    Tmpfs,
}

/// Who receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiver {
    /// Postfix's `smtp-sink`.
    SmtpSink,
    /// `mailwire serve --discard` (logs one line per message to /dev/null).
    MailwireDiscard,
    /// `mailwire serve --maildir DIR`.
    MailwireMaildir(Store),
    /// `smtp_blocking::Server` with `AcceptAll`, no logging (this binary).
    BlockingDiscard,
    /// An async adapter's `Server` with `AcceptAll` (this binary).
    AsyncDiscard(Runtime),
}

#[derive(Debug, Clone, Copy)]
struct Row {
    sender: Sender,
    receiver: Receiver,
    size: usize,
    conns: usize,
}

impl Sender {
    fn label(self) -> &'static str {
        match self {
            Sender::SmtpSource => "smtp-source",
            Sender::Ours => "**ours** (smtp-blocking Client)",
            Sender::Candidate => "candidate build of ours",
            Sender::Lettre => "lettre SmtpTransport (pool)",
            Sender::AsyncPool(Runtime::Smol) => "**smtp-smol Pool**",
            Sender::AsyncPool(Runtime::AsyncStd) => "**smtp-async-std Pool**",
            Sender::AsyncClients(Runtime::Smol) => "smtp-smol Clients, one per connection",
            Sender::AsyncClients(Runtime::AsyncStd) => "smtp-async-std Clients, one per connection",
        }
    }
}

impl Receiver {
    fn label(self) -> &'static str {
        match self {
            Receiver::SmtpSink => "smtp-sink",
            Receiver::MailwireDiscard => "**mailwire serve --discard**",
            Receiver::MailwireMaildir(Store::Disk) => "mailwire serve, Maildir on ext4 (fsync)",
            Receiver::MailwireMaildir(Store::DiskNoFsync) => {
                "mailwire serve, Maildir on ext4, fsync off (eatmydata)"
            }
            Receiver::MailwireMaildir(Store::Tmpfs) => "mailwire serve, Maildir on tmpfs",
            Receiver::BlockingDiscard => "smtp-blocking Server, AcceptAll, no log",
            Receiver::AsyncDiscard(Runtime::Smol) => "**smtp-smol Server**, AcceptAll",
            Receiver::AsyncDiscard(Runtime::AsyncStd) => "**smtp-async-std Server**, AcceptAll",
        }
    }
}

fn size_label(size: usize) -> String {
    if size >= 1000 && size.is_multiple_of(1000) {
        format!("{} KB", size / 1000)
    } else {
        format!("{size} B")
    }
}

/// Everything a measurement needs to know about the machine and the options.
#[derive(Debug)]
struct Setup {
    mailwire: Option<PathBuf>,
    postfix_dir: PathBuf,
    this: PathBuf,
    /// Another build of this program whose client is measured too.
    candidate: Option<PathBuf>,
    maildir_base: PathBuf,
    tmpfs_base: Option<PathBuf>,
    eatmydata: bool,
    secs: f64,
    repeats: usize,
    client_cpu: String,
    server_cpu: String,
}

/// One measurement.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Messages per second, wall clock.
    rate: f64,
    /// Sender CPU time per message, in microseconds.
    sender_us: Option<f64>,
    /// Receiver CPU time per message, in microseconds.
    receiver_us: Option<f64>,
}

/// One comparison's outcome: per row, its message count and its samples.
struct Outcome {
    rows: Vec<(Row, usize, Vec<Sample>)>,
}

pub(crate) fn main(args: &[String]) -> Result<(), String> {
    let opts = Opts::parse(args)?;
    opts.check_known(&[
        "mailwire",
        "secs",
        "repeats",
        "groups",
        "cpus",
        "postfix-dir",
        "maildir-base",
        "candidate",
    ])?;
    let mailwire = opts
        .get("mailwire")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("MAILWIRE_BIN").map(PathBuf::from));
    let groups: Vec<String> = opts
        .get("groups")
        .unwrap_or("client,server,maildir,async")
        .split(',')
        .map(str::to_owned)
        .collect();
    let cpus: Vec<(String, String)> = if opts.all("cpus").is_empty() {
        vec![("0".into(), "0".into())]
    } else {
        opts.all("cpus")
            .iter()
            .map(|pair| {
                pair.split_once(',')
                    .map(|(c, s)| (c.to_owned(), s.to_owned()))
                    .ok_or_else(|| format!("--cpus {pair:?}: want CLIENT,SERVER"))
            })
            .collect::<Result<_, _>>()?
    };
    let needs_mailwire = groups.iter().any(|g| g == "server" || g == "maildir");
    if let Some(unknown) = groups
        .iter()
        .find(|g| !["client", "server", "maildir", "async"].contains(&g.as_str()))
    {
        return Err(format!(
            "unknown group {unknown:?} (client, server, maildir, async)"
        ));
    }
    if needs_mailwire && mailwire.as_deref().is_none_or(|p| !p.is_file()) {
        return Err("the server and maildir groups need the mailwire binary: \
             --mailwire PATH or MAILWIRE_BIN (cargo build --release -p mailwire)"
            .into());
    }
    let postfix_dir = PathBuf::from(opts.get("postfix-dir").unwrap_or("/usr/sbin"));
    for tool in ["smtp-source", "smtp-sink"] {
        if !postfix_dir.join(tool).is_file() {
            return Err(format!(
                "{tool} not found in {} (install Postfix's tools, see the benchmark doc)",
                postfix_dir.display()
            ));
        }
    }
    let this = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    let shm = Path::new("/dev/shm");
    let mut setup = Setup {
        mailwire,
        postfix_dir,
        this,
        candidate: opts.get("candidate").map(PathBuf::from),
        maildir_base: opts
            .get("maildir-base")
            .map_or_else(std::env::temp_dir, PathBuf::from),
        tmpfs_base: shm.is_dir().then(|| shm.to_path_buf()),
        eatmydata: Command::new("eatmydata")
            .arg("true")
            .status()
            .is_ok_and(|s| s.success()),
        secs: opts.parsed("secs", 3.0)?,
        repeats: opts.parsed("repeats", 3)?,
        client_cpu: String::new(),
        server_cpu: String::new(),
    };
    if setup.repeats == 0 || setup.secs <= 0.0 {
        return Err("--repeats and --secs must be positive".into());
    }
    print_machine(&setup);
    for (client_cpu, server_cpu) in cpus {
        setup.client_cpu = client_cpu;
        setup.server_cpu = server_cpu;
        println!(
            "\n## Sender on CPU {}, receiver on CPU {}\n",
            setup.client_cpu, setup.server_cpu
        );
        for group in &groups {
            for (title, rows) in comparisons(group, &setup)? {
                println!("### {title}\n");
                println!("load before: {}", loadavg());
                let outcome = setup.compare(&rows)?;
                println!("\n{}", outcome.table());
            }
        }
    }
    Ok(())
}

/// The comparisons of one group: a title and its rows, the first the
/// reference for the ratios.
fn comparisons(group: &str, setup: &Setup) -> Result<Vec<(String, Vec<Row>)>, String> {
    let row = |sender, receiver, size, conns| Row {
        sender,
        receiver,
        size,
        conns,
    };
    let mut out = Vec::new();
    match group {
        "client" => {
            for size in [2_000, 100_000] {
                for conns in [1, 10] {
                    out.push((
                        format!(
                            "Clients → smtp-sink, {}, {conns} connection(s)",
                            size_label(size)
                        ),
                        vec![
                            row(Sender::SmtpSource, Receiver::SmtpSink, size, conns),
                            row(Sender::Ours, Receiver::SmtpSink, size, conns),
                        ]
                        .into_iter()
                        .chain(
                            setup
                                .candidate
                                .is_some()
                                .then(|| row(Sender::Candidate, Receiver::SmtpSink, size, conns)),
                        )
                        .chain([row(Sender::Lettre, Receiver::SmtpSink, size, conns)])
                        .collect(),
                    ));
                }
            }
        }
        "server" => {
            for conns in [1, 10] {
                out.push((
                    format!("smtp-source → servers, 2 KB, {conns} session(s)"),
                    vec![
                        row(Sender::SmtpSource, Receiver::SmtpSink, 2_000, conns),
                        row(Sender::SmtpSource, Receiver::MailwireDiscard, 2_000, conns),
                        row(Sender::SmtpSource, Receiver::BlockingDiscard, 2_000, conns),
                    ],
                ));
            }
        }
        "maildir" => {
            for conns in [1, 10] {
                let mut rows = vec![
                    row(Sender::SmtpSource, Receiver::MailwireDiscard, 2_000, conns),
                    row(
                        Sender::SmtpSource,
                        Receiver::MailwireMaildir(Store::Disk),
                        2_000,
                        conns,
                    ),
                ];
                if setup.eatmydata {
                    rows.push(row(
                        Sender::SmtpSource,
                        Receiver::MailwireMaildir(Store::DiskNoFsync),
                        2_000,
                        conns,
                    ));
                }
                if setup.tmpfs_base.is_some() {
                    rows.push(row(
                        Sender::SmtpSource,
                        Receiver::MailwireMaildir(Store::Tmpfs),
                        2_000,
                        conns,
                    ));
                }
                out.push((
                    format!(
                        "smtp-source → mailwire serve storing a Maildir, 2 KB, {conns} session(s)"
                    ),
                    rows,
                ));
            }
        }
        "async" => {
            for size in [2_000, 100_000] {
                let conns = 10;
                let mut rows = vec![
                    row(Sender::SmtpSource, Receiver::SmtpSink, size, conns),
                    row(Sender::Ours, Receiver::SmtpSink, size, conns),
                ];
                for runtime in [Runtime::Smol, Runtime::AsyncStd] {
                    rows.push(row(
                        Sender::AsyncPool(runtime),
                        Receiver::SmtpSink,
                        size,
                        conns,
                    ));
                    rows.push(row(
                        Sender::AsyncClients(runtime),
                        Receiver::SmtpSink,
                        size,
                        conns,
                    ));
                }
                out.push((
                    format!(
                        "Async clients → smtp-sink, {}, {conns} connections",
                        size_label(size)
                    ),
                    rows,
                ));
            }
            for conns in [1, 10] {
                out.push((
                    format!("smtp-source → async servers, 2 KB, {conns} session(s)"),
                    vec![
                        row(Sender::SmtpSource, Receiver::SmtpSink, 2_000, conns),
                        row(Sender::SmtpSource, Receiver::BlockingDiscard, 2_000, conns),
                        row(
                            Sender::SmtpSource,
                            Receiver::AsyncDiscard(Runtime::Smol),
                            2_000,
                            conns,
                        ),
                        row(
                            Sender::SmtpSource,
                            Receiver::AsyncDiscard(Runtime::AsyncStd),
                            2_000,
                            conns,
                        ),
                    ],
                ));
            }
        }
        other => {
            return Err(format!(
                "unknown group {other:?} (client, server, maildir, async)"
            ))
        }
    }
    Ok(out)
}

fn print_machine(setup: &Setup) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = command_output("uname", &["-r"]);
    let postfix = command_output("dpkg-query", &["-W", "-f", "${Version}", "postfix"]);
    println!("# Loopback throughput\n");
    println!("- machine: {cpu}, {cores} CPUs, Linux {kernel}");
    println!("- Postfix tools: {postfix}; lettre: see Cargo.lock");
    println!(
        "- {} s per measurement, {} interleaved rounds; eatmydata {}",
        setup.secs,
        setup.repeats,
        if setup.eatmydata { "found" } else { "missing" }
    );
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A receiver for one measurement, and the Maildir it stores into.
struct Running {
    peer: Peer,
    maildir: Option<PathBuf>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(dir) = &self.maildir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Setup {
    fn tool(&self, name: &str) -> String {
        self.postfix_dir.join(name).display().to_string()
    }

    fn mailwire(&self) -> Result<String, String> {
        self.mailwire
            .as_ref()
            .map(|p| p.display().to_string())
            .ok_or_else(|| "no mailwire binary given".into())
    }

    fn start_receiver(&self, receiver: Receiver, addr: SocketAddr) -> Result<Running, String> {
        let cpu = &self.server_cpu;
        let listen = addr.to_string();
        let mut maildir = None;
        let command = match receiver {
            Receiver::SmtpSink => {
                let mut c = pinned(cpu, &self.tool("smtp-sink"));
                c.args(["-u", "nobody", &listen, "1000"]);
                c
            }
            Receiver::MailwireDiscard => {
                let mut c = pinned(cpu, &self.mailwire()?);
                c.args(["serve", "--listen", &listen, "--discard"]);
                c
            }
            Receiver::MailwireMaildir(store) => {
                let base = match store {
                    Store::Tmpfs => self.tmpfs_base.as_ref().ok_or("no tmpfs")?,
                    Store::Disk | Store::DiskNoFsync => &self.maildir_base,
                };
                let dir = base.join(format!(
                    "transport-bench-{}-{}",
                    std::process::id(),
                    addr.port()
                ));
                let mut c = if store == Store::DiskNoFsync {
                    let mut c = pinned(cpu, "eatmydata");
                    c.arg(self.mailwire()?);
                    c
                } else {
                    pinned(cpu, &self.mailwire()?)
                };
                c.args(["serve", "--listen", &listen, "--maildir"])
                    .arg(&dir);
                maildir = Some(dir);
                c
            }
            Receiver::BlockingDiscard => {
                let mut c = pinned(cpu, &self.this.display().to_string());
                c.args(["serve", "--server", "blocking", "--addr", &listen]);
                c
            }
            Receiver::AsyncDiscard(runtime) => {
                let mut c = pinned(cpu, &self.this.display().to_string());
                c.args(["serve", "--server", runtime.name(), "--addr", &listen]);
                c
            }
        };
        let mut peer = Peer::spawn(command, receiver.label())?;
        peer.wait_ready(addr, Duration::from_secs(10))?;
        Ok(Running { peer, maildir })
    }

    fn sender_command(&self, row: &Row, addr: SocketAddr, count: usize) -> Command {
        let cpu = &self.client_cpu;
        match row.sender {
            Sender::SmtpSource => {
                let mut c = pinned(cpu, &self.tool("smtp-source"));
                c.arg("-d")
                    .args(["-s", &row.conns.to_string()])
                    .args(["-m", &count.to_string()])
                    .args(["-l", &row.size.to_string()])
                    .args(["-f", FROM, "-t", TO, "-M", "localhost"])
                    .arg(addr.to_string());
                c
            }
            Sender::Ours
            | Sender::Candidate
            | Sender::Lettre
            | Sender::AsyncPool(_)
            | Sender::AsyncClients(_) => {
                let client = match row.sender {
                    Sender::Lettre => "lettre".to_owned(),
                    Sender::AsyncPool(runtime) => format!("{}-pool", runtime.name()),
                    Sender::AsyncClients(runtime) => format!("{}-clients", runtime.name()),
                    _ => "ours".to_owned(),
                };
                let program = match (&self.candidate, row.sender) {
                    (Some(candidate), Sender::Candidate) => candidate,
                    _ => &self.this,
                };
                let mut c = pinned(cpu, &program.display().to_string());
                c.args(["send", "--client", &client])
                    .args(["--addr", &addr.to_string()])
                    .args(["--size", &row.size.to_string()])
                    .args(["--conns", &row.conns.to_string()])
                    .args(["--count", &count.to_string()]);
                c
            }
        }
    }

    /// Sends `count` messages for `row` against a fresh receiver.
    fn measure(&self, row: &Row, count: usize) -> Result<Sample, String> {
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut running = self.start_receiver(row.receiver, addr)?;
        let limit = Duration::from_secs_f64((self.secs * 20.0).max(60.0));
        let receiver_before = running.peer.cpu();
        let Timed { wall, cpu } = run_timed(
            self.sender_command(row, addr, count),
            row.sender.label(),
            limit,
        )?;
        let receiver_cpu = running
            .peer
            .cpu()
            .zip(receiver_before)
            .map(|(after, before)| after.saturating_sub(before));
        running.peer.check_running()?;
        if let Some(dir) = &running.maildir {
            let stored = std::fs::read_dir(dir.join("new"))
                .map(Iterator::count)
                .map_err(|e| format!("reading {}: {e}", dir.display()))?;
            if stored != count {
                return Err(format!(
                    "{} stored {stored} of {count} messages",
                    row.receiver.label()
                ));
            }
        }
        let per_message = |d: Duration| d.as_secs_f64() * 1e6 / count as f64;
        Ok(Sample {
            rate: count as f64 / wall.as_secs_f64(),
            sender_us: cpu.map(per_message),
            receiver_us: receiver_cpu.map(per_message),
        })
    }

    /// A message count that takes about `secs` for `row`.
    fn calibrate(&self, row: &Row) -> Result<usize, String> {
        let mut count = if row.size > 10_000 { 100 } else { 500 }.max(row.conns * 10);
        loop {
            let rate = self.measure(row, count)?.rate;
            let took = count as f64 / rate;
            if took >= 0.4 || count >= 50_000_000 {
                return Ok(((rate * self.secs).ceil() as usize).max(row.conns));
            }
            count = ((count as f64) * 0.6 / took.max(0.001)).ceil() as usize;
        }
    }

    /// Calibrates every row, then measures them in interleaved rounds. A
    /// run much shorter than `secs` (the machine got faster since the
    /// calibration) is done again with more messages.
    fn compare(&self, rows: &[Row]) -> Result<Outcome, String> {
        let mut counts = Vec::new();
        for row in rows {
            counts.push(self.calibrate(row)?);
        }
        let mut samples = vec![Vec::new(); rows.len()];
        for round in 0..self.repeats {
            for (i, row) in rows.iter().enumerate() {
                let mut sample = self.measure(row, counts[i])?;
                for _ in 0..2 {
                    let took = counts[i] as f64 / sample.rate;
                    if took >= self.secs * 2.0 / 3.0 {
                        break;
                    }
                    counts[i] = (sample.rate * self.secs).ceil() as usize;
                    sample = self.measure(row, counts[i])?;
                }
                eprintln!(
                    "round {}: {} → {}, {}, {} conn: {} msgs in {:.2} s = {:.0}/s, CPU µs/msg sender {} receiver {}",
                    round + 1,
                    row.sender.label(),
                    row.receiver.label(),
                    size_label(row.size),
                    row.conns,
                    counts[i],
                    counts[i] as f64 / sample.rate,
                    sample.rate,
                    fmt_us(sample.sender_us),
                    fmt_us(sample.receiver_us),
                );
                samples[i].push(sample);
            }
        }
        Ok(Outcome {
            rows: rows
                .iter()
                .copied()
                .zip(counts)
                .zip(samples)
                .map(|((r, c), v)| (r, c, v))
                .collect(),
        })
    }
}

fn fmt_us(us: Option<f64>) -> String {
    us.map_or_else(|| "n/a".into(), |x| format!("{x:.1}"))
}

fn fmt_rate(x: f64) -> String {
    let n = x.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn fmt_summary(s: Option<Summary>, fmt: fn(f64) -> String) -> (String, String) {
    match s {
        Some(s) => (fmt(s.median), format!("{}–{}", fmt(s.min), fmt(s.max))),
        None => ("n/a".into(), "n/a".into()),
    }
}

impl Outcome {
    /// A Markdown table: rates, CPU per message on each side, and per row
    /// the per-round ratio to the first row (rounds are interleaved, so
    /// round r of every row ran under the same conditions).
    fn table(&self) -> String {
        let mut out = String::from(
            "| sender | receiver | conns | size | msgs per run | msgs/s median | msgs/s range | ratio to row 1, median | ratio range | sender CPU µs/msg | receiver CPU µs/msg |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        let reference: Vec<f64> = self
            .rows
            .first()
            .map(|(_, _, v)| v.iter().map(|s| s.rate).collect())
            .unwrap_or_default();
        for (row, count, samples) in &self.rows {
            let rates: Vec<f64> = samples.iter().map(|s| s.rate).collect();
            let ratios: Vec<f64> = rates.iter().zip(&reference).map(|(a, b)| a / b).collect();
            let cpu = |f: fn(&Sample) -> Option<f64>| {
                let v: Vec<f64> = samples.iter().filter_map(f).collect();
                fmt_us(summarize(&v).map(|s| s.median))
            };
            let (median, range) = fmt_summary(summarize(&rates), fmt_rate);
            let (ratio, ratio_range) = fmt_summary(summarize(&ratios), |x| format!("{x:.2}"));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {median} | {range} | {ratio} | {ratio_range} | {} | {} |",
                row.sender.label(),
                row.receiver.label(),
                row.conns,
                size_label(row.size),
                fmt_rate(*count as f64),
                cpu(|s| s.sender_us),
                cpu(|s| s.receiver_us),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_numbers() {
        assert_eq!(size_label(2_000), "2 KB");
        assert_eq!(size_label(100_000), "100 KB");
        assert_eq!(size_label(1_500), "1500 B");
        assert_eq!(fmt_rate(8_412.4), "8,412");
        assert_eq!(fmt_rate(999.0), "999");
        assert_eq!(fmt_rate(1_234_567.0), "1,234,567");
    }

    #[test]
    fn table_ratios_pair_rounds() {
        let row = Row {
            sender: Sender::SmtpSource,
            receiver: Receiver::SmtpSink,
            size: 2_000,
            conns: 1,
        };
        let ours = Row {
            sender: Sender::Ours,
            ..row
        };
        let sample = |rate, us| Sample {
            rate,
            sender_us: Some(us),
            receiver_us: None,
        };
        let outcome = Outcome {
            rows: vec![
                (
                    row,
                    100,
                    vec![sample(100.0, 1.0), sample(200.0, 1.0), sample(100.0, 1.0)],
                ),
                (
                    ours,
                    100,
                    vec![sample(150.0, 3.0), sample(300.0, 2.0), sample(100.0, 9.0)],
                ),
            ],
        };
        let table = outcome.table();
        let last = table.lines().last().unwrap();
        assert!(
            last.contains("| 150 | 100–300 | 1.50 | 1.00–1.50 | 3.0 | n/a |"),
            "{last}"
        );
    }
}
