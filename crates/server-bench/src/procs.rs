//! The server's process tree and its memory, from /proc: resident set
//! summed over every process of the tree, sampled every 50 ms by default (`statm`'s
//! resident field, the same figure as `VmRSS` in `status`, cheaper to read
//! for a thousand processes), the proportional set size (`Pss` in
//! `smaps_rollup`, shared pages divided among their sharers) summed once a
//! second, and CPU time.

use std::collections::BTreeSet;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

const PAGE: u64 = 4096;

/// Where a tree starts: a function, as Postfix's master changes at restart.
pub type Roots = Arc<dyn Fn() -> Vec<u32> + Send + Sync>;

/// Every process of the trees under `roots` (children found through
/// `/proc/PID/task/PID/children`: processes forked by each main thread).
pub fn tree(roots: &[u32]) -> Vec<u32> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<u32> = roots.to_vec();
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            stack.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    seen.into_iter()
        .filter(|p| fs::metadata(format!("/proc/{p}")).is_ok())
        .collect()
}

/// Resident bytes of `pid` (statm's second field).
pub fn rss(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * PAGE)
}

fn kib_field(path: &str, field: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// Peak resident bytes of `pid` over its life (`VmHWM`).
pub fn hwm(pid: u32) -> Option<u64> {
    kib_field(&format!("/proc/{pid}/status"), "VmHWM")
}

/// Proportional set size of `pid`.
pub fn pss(pid: u32) -> Option<u64> {
    kib_field(&format!("/proc/{pid}/smaps_rollup"), "Pss")
}

/// Fields of /proc/PID/stat after the command name.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The process group of `pid`.
pub fn pgid(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// CPU seconds of `pid` itself and of its reaped children.
pub fn cpu_ticks(pid: u32) -> (u64, u64) {
    let Some(f) = stat_fields(pid) else {
        return (0, 0);
    };
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (n(11) + n(12), n(13) + n(14))
}

/// CPU seconds used by the whole tree: live processes plus what the roots
/// (and live processes) reaped from children that exited.
pub fn tree_cpu_seconds(roots: &[u32]) -> f64 {
    let ticks: u64 = tree(roots)
        .into_iter()
        .map(|p| {
            let (own, reaped) = cpu_ticks(p);
            own + reaped
        })
        .sum();
    ticks as f64 / clock_ticks() as f64
}

/// CPU seconds used by the calling thread.
fn own_thread_cpu_seconds() -> f64 {
    let ticks = fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|text| {
            let rest = text[text.rfind(')')? + 1..].to_string();
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0))
                .collect();
            Some(f.get(11)? + f.get(12)?)
        })
        .unwrap_or(0);
    ticks as f64 / clock_ticks() as f64
}

fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Peaks seen by a sampler.
#[derive(Debug, Default, Clone, Copy)]
pub struct Peak {
    /// Largest sum of resident sets at one sample.
    pub rss_sum: u64,
    /// Largest sum of proportional sets at one (1 s) sample.
    pub pss_sum: u64,
    /// Most processes at one sample.
    pub processes: usize,
    pub samples: usize,
    /// CPU seconds the sampling itself took (it competes with the server).
    pub sampler_cpu_s: f64,
}

/// Samples the trees under `roots` every `every` until stopped.
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Peak>,
}

impl Sampler {
    pub fn start(roots: Roots, every: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::spawn(move || {
            let mut peak = Peak::default();
            let mut tick = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let pids = tree(&roots());
                let sum: u64 = pids.iter().filter_map(|p| rss(*p)).sum();
                peak.rss_sum = peak.rss_sum.max(sum);
                peak.processes = peak.processes.max(pids.len());
                if tick.is_multiple_of(20) {
                    // Every 20th sample (once a second at 50 ms).
                    let sum: u64 = pids.iter().filter_map(|p| pss(*p)).sum();
                    peak.pss_sum = peak.pss_sum.max(sum);
                }
                peak.samples += 1;
                tick += 1;
                thread::sleep(every);
            }
            peak.sampler_cpu_s = own_thread_cpu_seconds();
            peak
        });
        Sampler { stop, handle }
    }

    pub fn finish(self) -> Peak {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}
