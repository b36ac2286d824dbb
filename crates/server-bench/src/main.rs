//! Loopback load on SMTP servers that store into Maildirs, all measured in
//! the same run with the same parameters: `mailwire serve` as the
//! development sink, `mailwire serve` as a mail server (a Maildir per user,
//! behind `--servers accounts`), and a private Postfix instance delivering
//! to a Maildir per user.
//!
//!   server-bench [load|kill] [--servers sink,postfix,accounts]
//!       [--connections 1000] [--messages 10000] [--users 100] [--size 3072]
//!       [--kill-after 500] [--mailwire target/release/mailwire]
//!       [--workdir DIR] [--keep] [--deliver-timeout 300]
//!       [--accounts-arg ARG]... [--ramp-ms 0] [--sample-ms 50]
//!       [--timeline FILE]
//!
//! `load` reports messages per second (to the last 250, and until every
//! acknowledged message is a file in the Maildirs), latency from the end
//! of DATA to the reply (p50, p99, max), from MAIL to the reply, from
//! connect to the first message's reply (which includes any wait for the
//! greeting), failures by reply, and the
//! server's peak memory summed over its processes. `kill` sends SIGKILL to
//! the server after `--kill-after` acknowledgements while the clients go
//! on, restarts Postfix (which delivers its queue on restart), and counts
//! acknowledged Message-IDs missing from the Maildirs; it exits 1 when one
//! is missing.

mod load;
mod maildir;
mod procs;
mod servers;

use servers::{Kind, Server, Setup};
use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Args {
    kill: bool,
    servers: Vec<Kind>,
    connections: usize,
    messages: usize,
    users: usize,
    size: usize,
    kill_after: usize,
    mailwire: PathBuf,
    workdir: Option<PathBuf>,
    keep: bool,
    deliver_timeout: Duration,
    accounts_args: Vec<String>,
    ramp: Duration,
    sample_every: Duration,
    /// Where to write each acknowledged message's start and latency.
    timeline: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        kill: false,
        servers: vec![Kind::Sink, Kind::Postfix],
        connections: 1000,
        messages: 10_000,
        users: 100,
        size: 3072,
        kill_after: 500,
        mailwire: PathBuf::from("target/release/mailwire"),
        workdir: None,
        keep: false,
        deliver_timeout: Duration::from_secs(300),
        accounts_args: Vec::new(),
        ramp: Duration::ZERO,
        sample_every: Duration::from_millis(50),
        timeline: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "load" => a.kill = false,
            "kill" => a.kill = true,
            "--servers" => {
                a.servers = value()?
                    .split(',')
                    .map(|s| Kind::parse(s).ok_or_else(|| format!("unknown server {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--connections" => a.connections = number(value()?)?,
            "--messages" => a.messages = number(value()?)?,
            "--users" => a.users = number(value()?)?.max(1),
            "--size" => a.size = number(value()?)?,
            "--kill-after" => a.kill_after = number(value()?)?,
            "--mailwire" => a.mailwire = PathBuf::from(value()?),
            "--workdir" => a.workdir = Some(PathBuf::from(value()?)),
            "--keep" => a.keep = true,
            "--deliver-timeout" => {
                a.deliver_timeout = Duration::from_secs(number(value()?)? as u64)
            }
            "--accounts-arg" => a.accounts_args.push(value()?),
            "--sample-ms" => {
                a.sample_every = Duration::from_millis(number(value()?)?.max(1) as u64)
            }
            "--timeline" => a.timeline = Some(PathBuf::from(value()?)),
            "--ramp-ms" => a.ramp = Duration::from_millis(number(value()?)? as u64),
            "-h" | "--help" => {
                return Err("usage: see the comment at the top of src/main.rs".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// What one server did under one load.
#[derive(Debug)]
struct Row {
    kind: Kind,
    sent: usize,
    acked: usize,
    to_last_ack: Duration,
    to_delivered: Option<Duration>,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    tx_p50_ms: f64,
    tx_p99_ms: f64,
    /// Connect to the first message's 250, per connection.
    conn_p50_ms: f64,
    conn_p99_ms: f64,
    conn_max_ms: f64,
    /// Connect to the greeting, per connection.
    greet_p99_ms: f64,
    greet_max_ms: f64,
    failures: BTreeMap<String, usize>,
    peak: procs::Peak,
    /// Sum of VmHWM over the processes alive at the end (one process: its
    /// exact peak).
    hwm_sum: u64,
    cpu_s: f64,
    // Kill mode.
    acked_at_kill: Option<usize>,
    missing: usize,
    extra: usize,
    duplicates: usize,
    incomplete: usize,
    files: usize,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn raise_fd_limit() -> u64 {
    let want = 65_536;
    if rlimit::setrlimit(rlimit::Resource::NOFILE, want, want).is_err() {
        let _ = rlimit::increase_nofile_limit(want);
    }
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(0)
}

fn measure(
    args: &Args,
    kind: Kind,
    workdir: &std::path::Path,
    run_id: &str,
) -> Result<Row, String> {
    let setup = Setup {
        mailwire: args.mailwire.clone(),
        users: args.users,
        connections: args.connections,
        accounts_args: args.accounts_args.clone(),
    };
    let name = format!(
        "{}-{}",
        match kind {
            Kind::Sink => "sink",
            Kind::Accounts => "accounts",
            Kind::Postfix => "postfix",
        },
        if args.kill { "kill" } else { "load" }
    );
    let dir = workdir.join(&name);
    let mut server = Server::start(kind, &dir, &setup)?;
    let roots = server.roots();
    let sampler = procs::Sampler::start(Arc::clone(&roots), args.sample_every);
    let done = Arc::new(AtomicBool::new(false));
    let killed_at = Rc::new(Cell::new(None));
    let on_ack: load::OnAck = if args.kill {
        let target = server.kill_target().ok_or("no process to kill")?;
        let (after, killed_at) = (args.kill_after, Rc::clone(&killed_at));
        Box::new(move |n| {
            if n >= after && killed_at.get().is_none() {
                if let Err(e) = target.kill() {
                    eprintln!("server-bench: {e}");
                }
                killed_at.set(Some(n));
            }
        })
    } else {
        Box::new(|_| {})
    };
    let cfg = load::LoadConfig {
        addr: server.addr,
        connections: args.connections,
        messages: args.messages,
        users: args.users,
        size: args.size,
        run_id: run_id.to_string(),
        deadline: Duration::from_secs(600),
        reply_timeout: Duration::from_secs(120),
        greeting_timeout: Duration::from_secs(30),
        ramp: args.ramp,
    };
    let started = Instant::now();
    // Counts the stored files (and Postfix's queue) while the load runs and
    // after: every 100 ms during the load, every 20 ms after it.
    let samples: Arc<Mutex<Vec<(Duration, usize, usize)>>> = Arc::default();
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (samples, watching, load_done) = (
            Arc::clone(&samples),
            Arc::clone(&watching),
            Arc::clone(&done),
        );
        let (root, queue) = (server.mail_root.clone(), server.queue_dir());
        thread::spawn(move || {
            while watching.load(Ordering::Relaxed) {
                let files = maildir::count(&root);
                let queued = servers::queued(queue.as_deref());
                if let Ok(mut s) = samples.lock() {
                    s.push((started.elapsed(), files, queued));
                }
                let pause = if load_done.load(Ordering::Relaxed) {
                    20
                } else {
                    100
                };
                thread::sleep(Duration::from_millis(pause));
            }
        })
    };
    let result = load::run(cfg, on_ack);
    done.store(true, Ordering::Relaxed);
    let acked_at_kill = killed_at.get();
    if acked_at_kill.is_some() && kind == Kind::Postfix {
        server.restart()?;
    }
    let acked: HashSet<String> = result
        .acked
        .iter()
        .map(|n| load::message_id(run_id, *n))
        .collect();
    // Wait until every acknowledged message is a file (Postfix delivers
    // from its queue after the 250); the moment is the first sample that
    // shows as many files as acknowledgements and an empty queue (after a
    // kill, a queue may keep files of messages never acknowledged: then
    // the moment a scan finds every acknowledged Message-ID).
    let until = Instant::now() + args.deliver_timeout;
    let mut last_scan = Instant::now() - Duration::from_secs(10);
    let mut to_delivered = None;
    let first_full = |samples: &[(Duration, usize, usize)]| {
        samples
            .iter()
            .find(|(_, files, queued)| *files >= acked.len() && *queued == 0)
            .map(|(t, _, _)| (*t).max(result.to_last_ack))
    };
    while Instant::now() < until {
        let (latest_files, found) = {
            let s = samples.lock().map(|s| s.clone()).unwrap_or_default();
            (s.last().map_or(0, |x| x.1), first_full(&s))
        };
        if found.is_some() {
            to_delivered = found;
            break;
        }
        if latest_files >= acked.len() && last_scan.elapsed() > Duration::from_secs(1) {
            last_scan = Instant::now();
            let scan = maildir::scan(&server.mail_root);
            if acked.iter().all(|id| scan.complete.contains_key(id)) {
                to_delivered = Some(started.elapsed());
                break;
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    watching.store(false, Ordering::Relaxed);
    let _ = watcher.join();
    let pids = procs::tree(&roots());
    let hwm_sum = pids.iter().filter_map(|p| procs::hwm(*p)).sum();
    let cpu_s = procs::tree_cpu_seconds(&roots());
    let peak = sampler.finish();
    server.stop();
    let scan = maildir::scan(&server.mail_root);
    let missing = acked
        .iter()
        .filter(|id| !scan.complete.contains_key(*id))
        .count();
    let extra = scan
        .complete
        .keys()
        .filter(|id| !acked.contains(*id))
        .count();
    let duplicates = scan.complete.values().map(|n| n - 1).sum();
    let mut lat = result.latencies_us.clone();
    lat.sort_unstable();
    let mut tx = result.transactions_us.clone();
    tx.sort_unstable();
    let mut conn = result.connect_to_first_us.clone();
    conn.sort_unstable();
    let mut greet = result.greeting_us.clone();
    greet.sort_unstable();
    if let Some(path) = &args.timeline {
        let path = path.with_extension(format!("{name}.tsv"));
        let text: String = result
            .timeline_us
            .iter()
            .map(|(at, lat)| format!("{at}\t{lat}\n"))
            .collect();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("server-bench: {}: {e}", path.display());
        }
    }
    let sent = result.acked.len() + result.failures.values().sum::<usize>();
    let row = Row {
        kind,
        sent,
        acked: result.acked.len(),
        to_last_ack: result.to_last_ack,
        to_delivered,
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        max_ms: lat.last().map_or(0.0, |v| *v as f64 / 1000.0),
        tx_p50_ms: percentile(&tx, 0.50),
        tx_p99_ms: percentile(&tx, 0.99),
        conn_p50_ms: percentile(&conn, 0.50),
        conn_p99_ms: percentile(&conn, 0.99),
        conn_max_ms: conn.last().map_or(0.0, |v| *v as f64 / 1000.0),
        greet_p99_ms: percentile(&greet, 0.99),
        greet_max_ms: greet.last().map_or(0.0, |v| *v as f64 / 1000.0),
        failures: result.failures,
        peak,
        hwm_sum,
        cpu_s,
        acked_at_kill,
        missing,
        extra,
        duplicates,
        incomplete: scan.incomplete,
        files: scan.files,
    };
    if !args.keep {
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(row)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn print_row(r: &Row) {
    println!("== {}", r.kind.label());
    println!(
        "   messages: {} taken, {} acknowledged; last 250 after {:.2} s ({:.0} msg/s); all in the Maildirs after {}",
        r.sent,
        r.acked,
        r.to_last_ack.as_secs_f64(),
        rate(r.acked, r.to_last_ack),
        r.to_delivered
            .map(|d| format!("{:.2} s ({:.0} msg/s)", d.as_secs_f64(), rate(r.acked, d)))
            .unwrap_or_else(|| "never (timed out)".into())
    );
    println!(
        "   end of DATA to reply: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.p50_ms, r.p99_ms, r.max_ms
    );
    println!(
        "   whole transaction (MAIL to final reply): p50 {:.2} ms, p99 {:.2} ms",
        r.tx_p50_ms, r.tx_p99_ms
    );
    println!(
        "   connect to the first message's reply (per connection): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; connect to greeting p99 {:.2} ms, max {:.2} ms",
        r.conn_p50_ms, r.conn_p99_ms, r.conn_max_ms, r.greet_p99_ms, r.greet_max_ms
    );
    println!(
        "   server: peak RSS sum {:.1} MiB over up to {} processes ({} samples, taking {:.1} s of CPU), peak PSS sum {:.1} MiB, VmHWM sum at end {:.1} MiB, CPU {:.1} s",
        mib(r.peak.rss_sum),
        r.peak.processes,
        r.peak.samples,
        r.peak.sampler_cpu_s,
        mib(r.peak.pss_sum),
        mib(r.hwm_sum),
        r.cpu_s
    );
    for (k, n) in &r.failures {
        println!("   failed: {n} × {k}");
    }
    if let Some(at) = r.acked_at_kill {
        println!(
            "   killed (SIGKILL) at {at} acknowledgements; files {}, acknowledged missing {}, stored but not acknowledged {}, duplicates {}, incomplete files {}",
            r.files, r.missing, r.extra, r.duplicates, r.incomplete
        );
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("server-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let fds = raise_fd_limit();
    let run_id = format!(
        "{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let workdir = args
        .workdir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("server-bench-{run_id}")));
    println!(
        "server-bench {}: {} connections (opened over {} ms), {} messages of ~{} bytes to {} users; open files limit {fds}{}",
        if args.kill { "kill" } else { "load" },
        args.connections,
        args.ramp.as_millis(),
        args.messages,
        args.size,
        args.users,
        if args.kill {
            format!("; SIGKILL after {} acknowledgements", args.kill_after)
        } else {
            String::new()
        }
    );
    let mut rows = Vec::new();
    let mut failed = false;
    for kind in &args.servers {
        match measure(&args, *kind, &workdir, &run_id) {
            Ok(row) => {
                print_row(&row);
                rows.push(row);
            }
            Err(e) => {
                println!("== {}: not measured: {e}", kind.label());
                failed = true;
            }
        }
    }
    if !args.keep {
        let _ = std::fs::remove_dir_all(&workdir);
    }
    println!();
    if args.kill {
        println!("| server | acked at kill | acked in all | in Maildir | missing | stored, not acked | duplicates | incomplete |");
        println!("|---|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.kind.label(),
                r.acked_at_kill
                    .map_or("not killed".into(), |n| n.to_string()),
                r.acked,
                r.files,
                r.missing,
                r.extra,
                r.duplicates,
                r.incomplete
            );
            failed |= r.missing > 0 || r.acked_at_kill.is_none();
        }
    } else {
        let postfix = rows.iter().find(|r| r.kind == Kind::Postfix);
        println!("| server | msg/s to 250 | msg/s in Maildir | p50 ms | p99 ms | max ms | MAIL→250 p99 ms | connect→first 250 p99 ms | failed | peak RSS sum MiB | peak PSS MiB | CPU s |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &rows {
            let delivered = r.to_delivered.map_or(0.0, |d| rate(r.acked, d));
            println!(
                "| {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.1} | {:.1} |",
                r.kind.label(),
                rate(r.acked, r.to_last_ack),
                delivered,
                r.p50_ms,
                r.p99_ms,
                r.max_ms,
                r.tx_p99_ms,
                r.conn_p99_ms,
                r.failures.values().sum::<usize>(),
                mib(r.peak.rss_sum),
                mib(r.peak.pss_sum),
                r.cpu_s
            );
        }
        if let Some(p) = postfix {
            println!();
            println!("| against Postfix, same run | msg/s to 250 | msg/s in Maildir | p99 latency | MAIL→250 p99 | connect→first 250 p99 | peak RSS sum | peak PSS |");
            println!("|---|---|---|---|---|---|---|---|");
            let pd = p.to_delivered.map_or(0.0, |d| rate(p.acked, d));
            for r in rows.iter().filter(|r| r.kind != Kind::Postfix) {
                let d = r.to_delivered.map_or(0.0, |d| rate(r.acked, d));
                println!(
                    "| {} | {:.2} × | {:.2} × | {:.2} × | {:.2} × | {:.2} × | {:.3} × | {:.3} × |",
                    r.kind.label(),
                    rate(r.acked, r.to_last_ack) / rate(p.acked, p.to_last_ack),
                    d / pd.max(1e-9),
                    r.p99_ms / p.p99_ms.max(1e-9),
                    r.tx_p99_ms / p.tx_p99_ms.max(1e-9),
                    r.conn_p99_ms / p.conn_p99_ms.max(1e-9),
                    r.peak.rss_sum as f64 / (p.peak.rss_sum as f64).max(1.0),
                    r.peak.pss_sum as f64 / (p.peak.pss_sum as f64).max(1.0),
                );
            }
            println!("(throughput: higher is better; latency and memory: the fraction of Postfix's, lower is better)");
        }
        failed |= rows.iter().any(|r| r.to_delivered.is_none());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
