//! The delivery engine: claims due recipients from a [`Spool`], asks the
//! pure [`Scheduler`] whether each destination may be attempted now, hands
//! attempts to worker threads through a [`Transport`], turns each
//! [`Attempt`] into outcomes (retry times from the route's
//! [`RetryPolicy`], bounces for failures) and settles them in batches.
//!
//! One dispatcher thread owns the scheduler, so its decisions stay a plain
//! function of time and replies; the workers only do I/O.

mod metrics;
mod transport;

pub use metrics::{Metrics, Totals};
pub use transport::{Attempt, Transport, TransportWorker};

use crate::bounce::{self, FailedRecipient, Report};
use crate::schedule::{
    Admission, DestinationPolicy, Jitter, Retry, RetryPolicy, Scheduler, Verdict,
};
use crate::spool::{Claimed, ClaimedRecipient, NewMessage, Outcome, Settlement, Spool, SpoolError};
use crate::time::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long an outcome may wait to be committed with the next ones: one
/// commit (and its checkpoint share) serves every attempt that finished in
/// this time. A worker killed meanwhile repeats those deliveries (see
/// docs/spool.md, "How duplicates are kept rare").
const SETTLE_EVERY: Duration = Duration::from_millis(5);

/// The default [`EngineConfig::delay_warning`]: four hours, as Sendmail
/// and most providers warn (Postfix leaves it off by default).
pub const DEFAULT_DELAY_WARNING: Duration = Duration::from_secs(4 * 3600);

/// Whether a recipient deferred at `now` crosses its message's warning
/// time with this settlement: the warning time lies after its previous
/// state change (`since`) and not after `now`. Each recipient crosses once,
/// so its sender is warned once (twice at most when a worker dies between
/// settling and the next claim).
fn warning_due(
    warn_after: Option<Duration>,
    queued_at: Timestamp,
    since: Timestamp,
    now: Timestamp,
) -> bool {
    warn_after.is_some_and(|after| {
        let at = queued_at + after;
        since < at && at <= now
    })
}

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This worker's name in leases (unique per running process).
    pub owner: String,
    /// Delivery threads.
    pub workers: usize,
    /// How long a claim holds a recipient before another worker may take
    /// it. Longer than any attempt: a shorter lease makes duplicates.
    pub lease: Duration,
    /// Recipients claimed at a time.
    pub claim_batch: usize,
    /// Per-destination concurrency, pacing and rest.
    pub destinations: DestinationPolicy,
    /// Policies for particular destinations (a provider's limits).
    pub destination_overrides: Vec<(String, DestinationPolicy)>,
    /// This host's name, for bounces.
    pub reporting_mta: String,
    /// Longest sleep when nothing is due.
    pub idle_poll: Duration,
    /// Stop once nothing is due now and nothing is in flight (for bulk
    /// sends and tests); otherwise run until stopped.
    pub exit_when_idle: bool,
    /// How long a graceful stop waits for attempts in flight.
    pub stop_grace: Duration,
    /// Seed of the jitter source (the scheduler itself has no randomness).
    pub seed: u64,
    /// When a recipient still waits this long after the message was
    /// queued, its sender gets one delay warning (an RFC 3464 report with
    /// `Action: delayed`). `None` sends none.
    pub delay_warning: Option<Duration>,
}

impl EngineConfig {
    /// Defaults for `owner`: 4 workers, 5-minute leases.
    pub fn new(owner: impl Into<String>) -> EngineConfig {
        EngineConfig {
            owner: owner.into(),
            workers: 4,
            lease: Duration::from_secs(300),
            claim_batch: 256,
            destinations: DestinationPolicy::default(),
            destination_overrides: Vec::new(),
            reporting_mta: "localhost".into(),
            idle_poll: Duration::from_secs(1),
            exit_when_idle: false,
            stop_grace: Duration::from_secs(30),
            seed: 0x853C_49E6_748F_EA9B,
            delay_warning: Some(DEFAULT_DELAY_WARNING),
        }
    }
}

/// One attempt handed to a worker.
#[derive(Debug)]
struct Job {
    destination: String,
    claimed: Arc<Claimed>,
    recipients: Vec<ClaimedRecipient>,
    /// When it was claimed: a job that waits for a free slot longer than
    /// half its lease is handed back, so its lease never expires while it
    /// waits here (which would let a second claim deliver it twice).
    at: Instant,
}

/// A worker's report back to the dispatcher.
#[derive(Debug)]
struct Done {
    destination: String,
    verdict: Verdict,
    settlements: Vec<Settlement>,
    bounces: Vec<NewMessage>,
}

/// A deterministic xorshift for jitter; seeded by the caller.
#[derive(Debug)]
struct JitterSource(u64);

impl JitterSource {
    fn next(&mut self) -> Jitter {
        let mut x = self.0.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        Jitter(x)
    }
}

/// The engine. [`run`](Self::run) blocks until stopped (or idle, when
/// configured so); [`stop_handle`](Self::stop_handle) stops it gracefully
/// from another thread or a signal handler.
#[derive(Debug)]
pub struct Engine {
    spool: Arc<dyn Spool>,
    config: EngineConfig,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for dyn Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spool")
    }
}

impl Engine {
    /// An engine over `spool`.
    pub fn new(spool: Arc<dyn Spool>, config: EngineConfig) -> Engine {
        Engine {
            spool,
            config,
            metrics: Arc::new(Metrics::default()),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The counters, for a metrics endpoint or a progress bar.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Set to true to stop gracefully: no new claims, attempts in flight
    /// finish (within the grace), the rest is released.
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Runs the dispatcher and `config.workers` delivery threads over
    /// `transport` until stopped. A spool error that persists (the database
    /// went away) ends the run with that error after releasing what can be
    /// released; nothing claimed is lost (its lease expires).
    pub fn run<T: Transport + 'static>(&self, transport: Arc<T>) -> Result<Totals, SpoolError> {
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Arc::new(std::sync::Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let mut handles = Vec::new();
        for n in 0..self.config.workers.max(1) {
            let ctx = WorkerContext {
                spool: Arc::clone(&self.spool),
                transport: Arc::clone(&transport),
                jobs: Arc::clone(&job_rx),
                done: done_tx.clone(),
                metrics: Arc::clone(&self.metrics),
                retry: transport.retry_policy(),
                reporting_mta: self.config.reporting_mta.clone(),
                delay_warning: self.config.delay_warning,
                jitter: JitterSource(
                    self.config.seed ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ),
            };
            let handle = thread::Builder::new()
                .name(format!("deliver-{n}"))
                .spawn(move || ctx.run())
                .map_err(|e| {
                    SpoolError::Unavailable(format!("cannot start a delivery thread: {e}"))
                })?;
            handles.push(handle);
        }
        drop(done_tx);
        let result = self.dispatch(&*transport, &job_tx, &done_rx);
        drop(job_tx);
        for handle in handles {
            let _ = handle.join();
        }
        // Whatever is still held (a stop before it was attempted, an error)
        // is given back at once rather than at lease expiry.
        let released = self.spool.release(&self.config.owner, Timestamp::now());
        match (result, released) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
            (Ok(()), Ok(_)) => Ok(self.metrics.totals()),
        }
    }

    fn dispatch<T: Transport>(
        &self,
        transport: &T,
        jobs: &Sender<Job>,
        done: &Receiver<Done>,
    ) -> Result<(), SpoolError> {
        let cfg = &self.config;
        let retry = transport.retry_policy();
        // With a spool that shares pacing among workers (PostgreSQL), the
        // message rates and quotas are taken from the spool; each worker's
        // scheduler keeps only its connection bound and rests.
        let shared = self.spool.shares_pacing();
        let local = |policy: &DestinationPolicy| {
            let mut policy = policy.clone();
            if shared {
                policy.limits = policy.limits.connections_only();
            }
            policy
        };
        let mut scheduler = Scheduler::new(local(&cfg.destinations));
        for (destination, policy) in &cfg.destination_overrides {
            scheduler.set_policy(destination, local(policy));
        }
        let limits_of = |destination: &str| {
            cfg.destination_overrides
                .iter()
                .find(|(d, _)| d == destination)
                .map_or(&cfg.destinations, |(_, policy)| policy)
                .limits
        };
        let mut jitter = JitterSource(cfg.seed);
        // Jobs that wait for a free slot at their destination.
        let mut waiting: HashMap<String, VecDeque<Job>> = HashMap::new();
        let mut waiting_count = 0usize;
        let mut in_flight = 0usize;
        let mut pending: Vec<Settlement> = Vec::new();
        let mut bounces: Vec<NewMessage> = Vec::new();
        let outstanding_cap = cfg.workers.max(1) * 8 + cfg.claim_batch;
        let mut stopping_since: Option<Instant> = None;
        // When the oldest outcome not yet committed arrived.
        let mut pending_since: Option<Instant> = None;
        let mut last_forget = Instant::now();
        loop {
            let stop = self.stop.load(Ordering::Relaxed);
            if stop && stopping_since.is_none() {
                stopping_since = Some(Instant::now());
                tracing::info!(
                    in_flight,
                    waiting = waiting_count,
                    "stopping: finishing attempts in flight"
                );
            }
            let now = Timestamp::now();
            // Claim while there is room.
            let mut claimed_any = false;
            if !stop && in_flight + waiting_count < outstanding_cap {
                let room = (outstanding_cap - in_flight - waiting_count).min(cfg.claim_batch);
                let claimed = self.spool.claim(&cfg.owner, now, cfg.lease, room)?;
                claimed_any = !claimed.is_empty();
                for c in claimed {
                    let c = Arc::new(c);
                    let mut groups: Vec<(String, Vec<ClaimedRecipient>)> = Vec::new();
                    for r in &c.recipients {
                        let destination = transport.destination(&r.domain);
                        match groups.iter_mut().find(|(d, _)| *d == destination) {
                            Some((_, list)) => list.push(r.clone()),
                            None => groups.push((destination, vec![r.clone()])),
                        }
                    }
                    for (destination, recipients) in groups {
                        waiting
                            .entry(destination.clone())
                            .or_default()
                            .push_back(Job {
                                destination,
                                claimed: Arc::clone(&c),
                                recipients,
                                at: Instant::now(),
                            });
                        waiting_count += 1;
                    }
                }
            }
            // Admit what may go.
            if !stop {
                let now = Timestamp::now();
                for (destination, queue) in waiting.iter_mut() {
                    while let Some(job) = queue.pop_front() {
                        let mut admission = scheduler.admit(destination, now);
                        if admission == Admission::Go && shared {
                            let limits = limits_of(destination);
                            if let Err(until) = self.spool.take_shared(destination, &limits, now)? {
                                scheduler.cancel(destination);
                                admission = Admission::Wait(until);
                            }
                        }
                        match admission {
                            Admission::Go => {
                                waiting_count -= 1;
                                in_flight += 1;
                                if jobs.send(job).is_err() {
                                    return Err(SpoolError::Unavailable(
                                        "the delivery threads ended".into(),
                                    ));
                                }
                            }
                            Admission::Wait(until) => {
                                waiting_count -= 1;
                                postpone(
                                    &job,
                                    &retry,
                                    now,
                                    until,
                                    &mut pending,
                                    &mut bounces,
                                    &self.config,
                                    &self.metrics,
                                );
                            }
                            Admission::Busy if job.at.elapsed() > cfg.lease / 2 => {
                                waiting_count -= 1;
                                postpone(
                                    &job,
                                    &retry,
                                    now,
                                    now,
                                    &mut pending,
                                    &mut bounces,
                                    &self.config,
                                    &self.metrics,
                                );
                            }
                            Admission::Busy => {
                                queue.push_front(job);
                                break;
                            }
                        }
                    }
                }
                waiting.retain(|_, q| !q.is_empty());
            }
            // Collect what finished; sleep here when there is nothing to do.
            let nothing_to_claim = !claimed_any;
            let settle_by = pending_since.map(|t: Instant| t + SETTLE_EVERY);
            let timeout = if pending.len() >= 256 {
                Duration::ZERO
            } else if in_flight > 0 {
                let wait = Duration::from_millis(if claimed_any { 0 } else { 50 });
                settle_by.map_or(wait, |t| {
                    wait.min(t.saturating_duration_since(Instant::now()))
                })
            } else if nothing_to_claim && pending.is_empty() && bounces.is_empty() {
                self.idle_sleep(now)?
            } else {
                Duration::ZERO
            };
            match done.recv_timeout(timeout) {
                Ok(d) => {
                    self.finish(&mut scheduler, &mut jitter, d, &mut pending, &mut bounces);
                    in_flight -= 1;
                    while let Ok(d) = done.try_recv() {
                        self.finish(&mut scheduler, &mut jitter, d, &mut pending, &mut bounces);
                        in_flight -= 1;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if in_flight > 0 {
                        return Err(SpoolError::Unavailable("the delivery threads ended".into()));
                    }
                }
            }
            // Outcomes are committed in batches: at most SETTLE_EVERY after
            // the first one waiting, at once when the batch is large, when
            // stopping, or when nothing else is going on.
            if (!pending.is_empty() || !bounces.is_empty()) && pending_since.is_none() {
                pending_since = Some(Instant::now());
            }
            let idle = in_flight == 0 && waiting_count == 0 && nothing_to_claim;
            if pending_since.is_some_and(|t| {
                stop || idle || pending.len() >= 256 || t.elapsed() >= SETTLE_EVERY
            }) {
                self.spool.settle(&pending, &bounces, Timestamp::now())?;
                pending.clear();
                bounces.clear();
                pending_since = None;
            }
            if last_forget.elapsed() > Duration::from_secs(60) {
                scheduler.forget_idle(Timestamp::now(), Duration::from_secs(600));
                last_forget = Instant::now();
            }
            if let Some(since) = stopping_since {
                if in_flight == 0 || since.elapsed() > cfg.stop_grace {
                    return Ok(());
                }
            }
            if cfg.exit_when_idle && in_flight == 0 && waiting_count == 0 && nothing_to_claim {
                let due = self.spool.next_due()?;
                if due.is_none_or(|t| t > Timestamp::now()) {
                    return Ok(());
                }
            }
        }
    }

    /// How long to sleep with nothing in flight: until the next due time,
    /// at most the idle poll.
    fn idle_sleep(&self, now: Timestamp) -> Result<Duration, SpoolError> {
        if self.config.exit_when_idle {
            return Ok(Duration::ZERO);
        }
        let until_due = match self.spool.next_due()? {
            Some(t) => t.since(now),
            None => self.config.idle_poll,
        };
        let sleep = until_due.min(self.config.idle_poll);
        if sleep > Duration::from_millis(50) {
            self.spool.wait_for_work(sleep);
            return Ok(Duration::ZERO);
        }
        Ok(sleep)
    }

    fn finish(
        &self,
        scheduler: &mut Scheduler,
        jitter: &mut JitterSource,
        done: Done,
        pending: &mut Vec<Settlement>,
        bounces: &mut Vec<NewMessage>,
    ) {
        scheduler.finish(
            &done.destination,
            Timestamp::now(),
            done.verdict,
            jitter.next(),
        );
        pending.extend(done.settlements);
        bounces.extend(done.bounces);
    }
}

/// A job that may not be attempted before `until` (its destination rests,
/// or a limit ran out): deferred without counting an attempt, or failed
/// when that passes its maximum age.
#[allow(clippy::too_many_arguments)]
fn postpone(
    job: &Job,
    retry: &RetryPolicy,
    now: Timestamp,
    until: Timestamp,
    pending: &mut Vec<Settlement>,
    bounces: &mut Vec<NewMessage>,
    config: &EngineConfig,
    metrics: &Metrics,
) {
    // The body is not at hand here: a warning or bounce from here carries
    // no headers of the original.
    let queue_id = job.claimed.message.to_string();
    let report = Report {
        reporting_mta: &config.reporting_mta,
        sender: &job.claimed.sender,
        original: b"",
        arrival: job.claimed.queued_at,
        queue_id: &queue_id,
    };
    match retry.postpone(job.claimed.queued_at, now, until) {
        Retry::At(t) => {
            metrics.count("postponed", &job.destination, job.recipients.len() as u64);
            let reason = format!(
                "waiting for {} (rate limit, quota or a rest after 421) until {t}",
                job.destination
            );
            let delayed: Vec<FailedRecipient> = job
                .recipients
                .iter()
                .filter(|r| warning_due(config.delay_warning, job.claimed.queued_at, r.since, now))
                .map(|r| FailedRecipient {
                    address: r.address.clone(),
                    diagnostic: reason.clone(),
                    expired: false,
                })
                .collect();
            if let Some(warning) = bounce::delay_warning(
                &report,
                &delayed,
                job.claimed.queued_at + retry.max_age,
                now,
            ) {
                metrics.count("delay_warning", &job.destination, delayed.len() as u64);
                bounces.push(warning);
            }
            for r in &job.recipients {
                pending.push(Settlement {
                    recipient: r.id,
                    lease: r.lease,
                    outcome: Outcome::Deferred {
                        until: t,
                        reply: reason.clone(),
                        attempted: false,
                    },
                });
            }
        }
        Retry::GiveUp => {
            metrics.count("failed", &job.destination, job.recipients.len() as u64);
            let mut failed = Vec::new();
            for r in &job.recipients {
                let reply = format!(
                    "expired: not delivered within {} days",
                    retry.max_age.as_secs() / 86_400
                );
                failed.push(FailedRecipient {
                    address: r.address.clone(),
                    diagnostic: reply.clone(),
                    expired: true,
                });
                pending.push(Settlement {
                    recipient: r.id,
                    lease: r.lease,
                    outcome: Outcome::Failed { reply },
                });
            }
            bounces.extend(bounce::build(&report, &failed, now));
        }
    }
}

struct WorkerContext<T: Transport> {
    spool: Arc<dyn Spool>,
    transport: Arc<T>,
    jobs: Arc<std::sync::Mutex<Receiver<Job>>>,
    done: Sender<Done>,
    metrics: Arc<Metrics>,
    retry: RetryPolicy,
    reporting_mta: String,
    jitter: JitterSource,
    delay_warning: Option<Duration>,
}

impl<T: Transport> WorkerContext<T> {
    fn run(mut self) {
        let mut worker = self.transport.worker();
        loop {
            let job = {
                let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
                jobs.recv_timeout(Duration::from_secs(5))
            };
            let job = match job {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    worker.close_idle();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let done = self.attempt(&mut worker, job);
            if self.done.send(done).is_err() {
                break;
            }
        }
        worker.close_idle();
    }

    fn attempt(&mut self, worker: &mut T::Worker, job: Job) -> Done {
        let addresses: Vec<String> = job.recipients.iter().map(|r| r.address.clone()).collect();
        let started = Instant::now();
        let (attempt, body) = match self.spool.body(job.claimed.message) {
            Ok(body) => (
                worker.attempt(&job.destination, &job.claimed.sender, &addresses, &body),
                body,
            ),
            Err(SpoolError::NotFound(id)) => (
                Attempt::all(
                    addresses.len(),
                    Verdict::Fail,
                    format!("the spool has no body for message {id} (deleted or damaged)"),
                ),
                Vec::new(),
            ),
            Err(e) => (
                Attempt::all(
                    addresses.len(),
                    Verdict::Retry,
                    format!("reading the message from the spool: {e}"),
                ),
                Vec::new(),
            ),
        };
        self.metrics.observe_attempt(started.elapsed());
        let now = Timestamp::now();
        let mut settlements = Vec::with_capacity(job.recipients.len());
        let mut failed = Vec::new();
        let mut delayed = Vec::new();
        for (r, (verdict, reply)) in
            job.recipients
                .iter()
                .zip(attempt.recipients.iter().chain(std::iter::repeat(&(
                    Verdict::Retry,
                    "the transport gave no answer for this recipient".to_owned(),
                ))))
        {
            let outcome = match verdict {
                Verdict::Delivered => Outcome::Delivered {
                    reply: reply.clone(),
                    remote_id: attempt.remote_id.clone(),
                },
                Verdict::Fail => {
                    failed.push(FailedRecipient {
                        address: r.address.clone(),
                        diagnostic: reply.clone(),
                        expired: false,
                    });
                    Outcome::Failed {
                        reply: reply.clone(),
                    }
                }
                Verdict::Retry | Verdict::BackOffDestination => {
                    match self.retry.next(
                        r.failures.saturating_add(1),
                        job.claimed.queued_at,
                        now,
                        self.jitter.next(),
                    ) {
                        Retry::At(until) => {
                            if warning_due(self.delay_warning, job.claimed.queued_at, r.since, now)
                            {
                                delayed.push(FailedRecipient {
                                    address: r.address.clone(),
                                    diagnostic: reply.clone(),
                                    expired: false,
                                });
                            }
                            Outcome::Deferred {
                                until,
                                reply: reply.clone(),
                                attempted: true,
                            }
                        }
                        Retry::GiveUp => {
                            failed.push(FailedRecipient {
                                address: r.address.clone(),
                                diagnostic: reply.clone(),
                                expired: true,
                            });
                            Outcome::Failed {
                                reply: format!("expired after retrying; last: {reply}"),
                            }
                        }
                    }
                }
            };
            let label = match outcome {
                Outcome::Delivered { .. } => "delivered",
                Outcome::Deferred { .. } => "deferred",
                Outcome::Failed { .. } => "failed",
            };
            self.metrics.count(label, &job.destination, 1);
            tracing::debug!(queue_id = %job.claimed.message, recipient = %r.address, outcome = label, reply = %reply, "attempt");
            settlements.push(Settlement {
                recipient: r.id,
                lease: r.lease,
                outcome,
            });
        }
        let report = Report {
            reporting_mta: &self.reporting_mta,
            sender: &job.claimed.sender,
            original: &body,
            arrival: job.claimed.queued_at,
            queue_id: &job.claimed.message.to_string(),
        };
        let mut bounces: Vec<NewMessage> =
            bounce::build(&report, &failed, now).into_iter().collect();
        let give_up_at = job.claimed.queued_at + self.retry.max_age;
        if let Some(warning) = bounce::delay_warning(&report, &delayed, give_up_at, now) {
            self.metrics
                .count("delay_warning", &job.destination, delayed.len() as u64);
            bounces.push(warning);
        }
        Done {
            destination: job.destination,
            verdict: attempt.destination,
            settlements,
            bounces,
        }
    }
}
