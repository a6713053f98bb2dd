//! Runs scripts in sandboxed worker processes (`inchart-worker`), never in
//! this process.
//!
//! A fixed pool of warm workers takes runs from the
//! [fair queue](super::fair_queue). Backtests take the same workers from
//! the same queue, but at most half of the workers (at least one) run or
//! wait for backtests at once: a long backtest never holds every worker
//! while other traders' live runs wait.
//!
//! A worker confines itself before it says it is ready (see the worker's
//! README) and runs each job in a fresh forked copy of its warm
//! interpreter, which enforces the run's limits. This side is the
//! backstop: a worker that does not answer within the run's wall-clock
//! limit plus a grace is killed and replaced, as is one that sends
//! anything but a well-formed answer.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Notify, Semaphore, oneshot, watch};
use uuid::Uuid;
use worker_protocol::judge::ANSWER_OVERHEAD;
use worker_protocol::{BacktestReport, ErrorKind, FromWorker, Job, Mode, Report, RunError, Verdict};

use super::fair_queue::{FairQueue, Pending, Reply, lock};

use crate::config::ScriptSettings;
use crate::platform::metrics::{Collect, Exposition, Histogram};

/// How long a worker may take to start and say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long past a run's wall-clock limit the worker has to answer before
/// it is killed: the worker enforces the limit itself, this is the backstop.
const ANSWER_GRACE: Duration = Duration::from_secs(2);
/// A worker is replaced after this many runs, to bound anything its warm
/// interpreter may accumulate.
const RUNS_PER_WORKER: u64 = 2_000;

/// Why a run did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The user has as many runs waiting as they may.
    #[error("{0}")]
    Busy(String),
    /// No worker can run scripts on this server.
    #[error("{0}")]
    Unavailable(String),
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct PoolStats {
    pub runs: AtomicU64,
    pub failed: AtomicU64,
    pub refused: AtomicU64,
    pub workers_started: AtomicU64,
    pub workers_killed: AtomicU64,
    pub workers_ready: AtomicUsize,
    /// Runs waiting or running.
    pub queued: AtomicUsize,
    /// From a run's arrival to its answer.
    pub run_time: Histogram,
    /// Backtests answered (also counted in `runs`).
    pub backtests: AtomicU64,
    /// From a backtest's arrival to its answer.
    pub backtest_time: Histogram,
}

impl Collect for PoolStats {
    fn collect(&self, out: &mut Exposition) {
        for (name, help, value) in [
            (
                "inchart_script_runs_total",
                "Script runs answered.",
                self.runs.load(Relaxed),
            ),
            (
                "inchart_script_runs_failed_total",
                "Script runs that ended in an error.",
                self.failed.load(Relaxed),
            ),
            (
                "inchart_script_runs_refused_total",
                "Runs refused because the user's queue was full.",
                self.refused.load(Relaxed),
            ),
            (
                "inchart_script_backtests_total",
                "Backtests answered (also counted as runs).",
                self.backtests.load(Relaxed),
            ),
            (
                "inchart_script_workers_started_total",
                "Sandboxed workers started.",
                self.workers_started.load(Relaxed),
            ),
            (
                "inchart_script_workers_killed_total",
                "Workers killed for not answering well.",
                self.workers_killed.load(Relaxed),
            ),
        ] {
            out.counter(name, help, value);
        }
        out.gauge(
            "inchart_script_workers_ready",
            "Warm workers.",
            self.workers_ready.load(Relaxed) as i64,
        );
        out.gauge(
            "inchart_script_runs_pending",
            "Runs waiting or running.",
            self.queued.load(Relaxed) as i64,
        );
        out.histogram(
            "inchart_script_run_seconds",
            "From a chart run's arrival to its answer.",
            &self.run_time,
        );
        out.histogram(
            "inchart_script_backtest_seconds",
            "From a backtest's arrival to its answer.",
            &self.backtest_time,
        );
    }
}

#[derive(Clone)]
pub struct WorkerPool {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ScriptSettings,
    queue: Mutex<FairQueue>,
    wake: Notify,
    /// Why workers cannot start, while none can.
    broken: watch::Sender<Option<String>>,
    stats: Arc<PoolStats>,
    /// One permit per backtest that may wait or run at once.
    backtests: Arc<Semaphore>,
}

impl WorkerPool {
    pub fn new(settings: ScriptSettings) -> Self {
        let backtests = Arc::new(Semaphore::new(Self::backtest_lanes(settings.workers)));
        Self {
            inner: Arc::new(Inner {
                backtests,
                settings,
                queue: Mutex::new(FairQueue::default()),
                wake: Notify::new(),
                broken: watch::channel(None).0,
                stats: Arc::default(),
            }),
        }
    }

    pub fn stats(&self) -> Arc<PoolStats> {
        self.inner.stats.clone()
    }

    /// The limits of a run that may use `cpu_ms` of CPU time (its plan's).
    pub fn limits(&self, cpu_ms: u32) -> worker_protocol::Limits {
        let settings = &self.inner.settings;
        worker_protocol::Limits {
            cpu_ms: u64::from(cpu_ms),
            wall_ms: settings.wall.as_millis() as u64,
            memory_bytes: u64::from(settings.memory_mb) << 20,
            ..worker_protocol::Limits::default()
        }
    }

    /// Why scripts cannot run here, while they cannot.
    pub fn unavailable(&self) -> Option<String> {
        self.inner.broken.borrow().clone()
    }

    /// How many backtests may wait or run at once with `workers` workers:
    /// half of them, at least one.
    pub fn backtest_lanes(workers: usize) -> usize {
        (workers / 2).max(1)
    }

    /// Runs `job` (a chart run) for `user` once a worker is free and it is
    /// their turn.
    pub async fn run(&self, user: Uuid, job: Job) -> Result<Report, PoolError> {
        debug_assert_eq!(
            job.mode,
            Mode::Chart,
            "a backtest goes through WorkerPool::backtest"
        );
        if let Some(reason) = self.unavailable() {
            return Err(PoolError::Unavailable(reason));
        }
        let (reply, answer) = oneshot::channel();
        self.enqueue(user, job, Reply::Chart(reply), Instant::now())?;
        let report = answer.await.map_err(|_| stopped())?;
        // A run no worker took did not happen: it is not a run's outcome.
        match &report.result {
            Err(error) if error.kind == ErrorKind::Unavailable => {
                Err(PoolError::Unavailable(error.message.clone()))
            }
            _ => Ok(report),
        }
    }

    /// Runs `job` (in [`Mode::Backtest`], with the limits a backtest has)
    /// for `user` on the same workers and fair queue as chart runs, once
    /// one of the [backtest lanes](Self::backtest_lanes) is free, a worker
    /// is free and it is their turn. Its time counts from this call. A
    /// backtest keeps its lane until a worker has answered it, even if
    /// this future is dropped; one dropped before a worker took it is not
    /// run.
    pub async fn backtest(&self, user: Uuid, job: Job) -> Result<BacktestReport, PoolError> {
        debug_assert!(
            matches!(job.mode, Mode::Backtest { .. }),
            "a chart run goes through WorkerPool::run"
        );
        if let Some(reason) = self.unavailable() {
            return Err(PoolError::Unavailable(reason));
        }
        let arrived = Instant::now();
        let lane = Arc::clone(&self.inner.backtests)
            .acquire_owned()
            .await
            .map_err(|_| stopped())?;
        let (reply, answer) = oneshot::channel();
        self.enqueue(user, job, Reply::Backtest { reply, lane }, arrived)?;
        let report = answer.await.map_err(|_| stopped())?;
        match &report.result {
            Err(error) if error.kind == ErrorKind::Unavailable => {
                Err(PoolError::Unavailable(error.message.clone()))
            }
            _ => Ok(report),
        }
    }

    /// Queues a run, unless its user has as many waiting as they may.
    fn enqueue(&self, user: Uuid, job: Job, reply: Reply, queued_at: Instant) -> Result<(), PoolError> {
        let pending = Pending {
            user,
            job,
            reply,
            queued_at,
        };
        let queued = lock(&self.inner.queue).push(pending, self.inner.settings.user_queue);
        if !queued {
            self.inner.stats.refused.fetch_add(1, Relaxed);
            return Err(PoolError::Busy(format!(
                "You have {} runs waiting already; try again when they finish.",
                self.inner.settings.user_queue
            )));
        }
        self.inner.stats.queued.fetch_add(1, Relaxed);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// The pool's workers, each a loop that starts a worker process and
    /// feeds it runs; they run until the returned futures are dropped.
    pub fn workers(&self) -> Vec<futures::future::BoxFuture<'static, ()>> {
        use futures::FutureExt;
        (0..self.inner.settings.workers)
            .map(|slot| self.clone().serve(slot).boxed())
            .collect()
    }

    async fn serve(self, slot: usize) {
        if !self.inner.settings.warm {
            self.until_needed().await;
        }
        let mut backoff = Duration::from_millis(250);
        loop {
            let mut worker = match Worker::start(&self.inner.settings, slot).await {
                Ok(worker) => worker,
                Err(error) => {
                    let reason = format!("{error:#}");
                    tracing::error!(slot, error = reason, "a script worker could not start");
                    if self.inner.stats.workers_ready.load(Relaxed) == 0 {
                        // The reason is in the log; a trader learns only that.
                        self.inner.broken.send_replace(Some(
                            "Scripts cannot run on this server right now; its log says why.".into(),
                        ));
                        self.refuse_waiting();
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            backoff = Duration::from_millis(250);
            self.inner.stats.workers_started.fetch_add(1, Relaxed);
            self.inner.stats.workers_ready.fetch_add(1, Relaxed);
            self.inner.broken.send_replace(None);
            let healthy = self.feed(&mut worker).await;
            self.inner.stats.workers_ready.fetch_sub(1, Relaxed);
            if !healthy {
                self.inner.stats.workers_killed.fetch_add(1, Relaxed);
            }
            worker.stop().await;
        }
    }

    /// Gives the worker runs until it must be replaced; answers whether it
    /// ended well (worn out) or had to be killed.
    async fn feed(&self, worker: &mut Worker) -> bool {
        loop {
            if worker.runs >= RUNS_PER_WORKER {
                return true;
            }
            let Pending {
                user,
                job,
                reply,
                queued_at,
            } = self.next().await;
            if reply.abandoned_backtest() {
                // Whoever asked has gone: the worker is free for others.
                lock(&self.inner.queue).finished(user);
                self.inner.stats.queued.fetch_sub(1, Relaxed);
                self.inner.wake.notify_one();
                continue;
            }
            let waited = queued_at.elapsed();
            let outcome = worker.run(&job).await;
            let stats = &self.inner.stats;
            if reply.is_backtest() {
                stats.backtests.fetch_add(1, Relaxed);
                stats.backtest_time.record(queued_at.elapsed());
            } else {
                stats.run_time.record(queued_at.elapsed());
            }
            lock(&self.inner.queue).finished(user);
            stats.queued.fetch_sub(1, Relaxed);
            // A user whose turn was held back may go now.
            self.inner.wake.notify_one();
            stats.runs.fetch_add(1, Relaxed);
            match outcome {
                Ok((verdict, child_bytes)) => {
                    if reply.judge(&job, &verdict, &child_bytes, waited.as_millis() as u64) {
                        stats.failed.fetch_add(1, Relaxed);
                    }
                }
                Err(error) => {
                    stats.failed.fetch_add(1, Relaxed);
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "a script worker failed; replacing it"
                    );
                    let error = RunError::new(
                        ErrorKind::Crashed,
                        "The script's worker stopped answering and was replaced.",
                    );
                    reply.fail(error, job.limits.wall_ms);
                    return false;
                }
            }
        }
    }

    /// Waits until a run is waiting (lazy start).
    async fn until_needed(&self) {
        loop {
            let notified = self.inner.wake.notified();
            if lock(&self.inner.queue).waiting() > 0 {
                // Passed on: a warm worker may take the run first.
                self.inner.wake.notify_one();
                return;
            }
            notified.await;
        }
    }

    async fn next(&self) -> Pending {
        loop {
            // Registered before looking, so a push in between still wakes us.
            let notified = self.inner.wake.notified();
            let next = lock(&self.inner.queue).pop(self.inner.settings.user_workers);
            if let Some(pending) = next {
                // Another worker may be able to take another user's run.
                if lock(&self.inner.queue).waiting() > 0 {
                    self.inner.wake.notify_one();
                }
                return pending;
            }
            notified.await;
        }
    }

    fn refuse_waiting(&self) {
        let reason = self.unavailable().unwrap_or_default();
        for pending in lock(&self.inner.queue).drain() {
            self.inner.stats.queued.fetch_sub(1, Relaxed);
            pending
                .reply
                .fail(RunError::new(ErrorKind::Unavailable, reason.clone()), 0);
        }
    }
}

/// One worker process and its pipes.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    runs: u64,
}

impl Worker {
    async fn start(settings: &ScriptSettings, slot: usize) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut command = Command::new(&settings.worker_bin);
        // Nothing of the server's environment (its secrets) reaches it, and
        // it inherits no descriptors but these three pipes.
        command
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(site) = &settings.worker_site {
            command.arg("--site").arg(site);
        }
        if !settings.allow_missing.is_empty() {
            command
                .arg("--allow-missing")
                .arg(settings.allow_missing.join(","));
        }
        if let Some(uid) = settings.sandbox_uid {
            command.arg("--sandbox-uid").arg(uid.to_string());
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("while starting {}", settings.worker_bin.display()))?;
        let (Some(stdin), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            bail!("the worker's pipes are missing");
        };
        let pid = child.id();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            // Escaped: the worker writes only its own words here, but a
            // log line must not be able to forge another.
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(target: "inchart::worker", slot, pid, "{}", line.escape_debug());
            }
        });
        let ready = tokio::time::timeout(START_TIMEOUT, read_frame(&mut stdout)).await;
        let ready = match ready {
            Ok(Ok(ready)) => ready,
            Ok(Err(error)) => {
                let status = child.wait().await.ok();
                return Err(error.context(format!(
                    "the worker ended before it was ready ({})",
                    status.map_or_else(|| "no status".into(), |s| s.to_string())
                )));
            }
            Err(_) => bail!("the worker was not ready within {START_TIMEOUT:?}"),
        };
        match ready {
            FromWorker::Output { .. } | FromWorker::Done(_) => {
                bail!("the worker answered before it was asked")
            }
            FromWorker::Ready { python, numpy } => {
                tracing::debug!(
                    slot,
                    pid,
                    python = python.split_whitespace().next().unwrap_or_default(),
                    numpy = numpy.as_deref().unwrap_or("none"),
                    ms = started.elapsed().as_millis() as u64,
                    "script worker ready"
                );
            }
        }
        Ok(Self {
            child,
            stdin,
            stdout,
            runs: 0,
        })
    }

    /// Sends `job` and reads the answer: the worker's verdict (how the run
    /// ended) and the bytes its child wrote, untrusted, for the judge
    /// (`worker_protocol::judge`) to read under caps.
    async fn run(&mut self, job: &Job) -> anyhow::Result<(Verdict, Vec<u8>)> {
        self.runs += 1;
        let wire = job.to_wire().context("while encoding a job")?;
        let deadline = Duration::from_millis(job.limits.wall_ms) + ANSWER_GRACE;
        let allowance = (job.limits.output_bytes as usize).saturating_add(ANSWER_OVERHEAD);
        let exchange = async {
            self.stdin.write_all(&wire).await.context("while sending a job")?;
            self.stdin.flush().await.context("while sending a job")?;
            let mut child_bytes = Vec::new();
            loop {
                match read_frame(&mut self.stdout).await? {
                    FromWorker::Output { len } => {
                        let len = len as usize;
                        if child_bytes.len() + len > allowance {
                            bail!("the worker passed on more than a run may write");
                        }
                        let start = child_bytes.len();
                        child_bytes.resize(start + len, 0);
                        self.stdout
                            .read_exact(&mut child_bytes[start..])
                            .await
                            .context("while reading from the worker")?;
                    }
                    FromWorker::Done(verdict) => return Ok((verdict, child_bytes)),
                    FromWorker::Ready { .. } => bail!("the worker said ready again"),
                }
            }
        };
        let (verdict, child_bytes) = tokio::time::timeout(deadline, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {deadline:?}"))??;
        if let Some(why) = &verdict.sandbox_error {
            tracing::error!(why = %why.escape_debug(), "a run's sandbox could not be built");
        }
        Ok((verdict, child_bytes))
    }

    /// Closes the worker's stdin, so it ends its zygote and removes its
    /// run cgroups itself; kills it if it has not ended within a second.
    async fn stop(self) {
        let Self { mut child, stdin, .. } = self;
        drop(stdin);
        if tokio::time::timeout(Duration::from_secs(1), child.wait())
            .await
            .is_err()
        {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

async fn read_frame(stdout: &mut ChildStdout) -> anyhow::Result<FromWorker> {
    let mut header = [0u8; 4];
    stdout
        .read_exact(&mut header)
        .await
        .context("while reading from the worker")?;
    let len = worker_protocol::body_len(header)?;
    let mut body = vec![0u8; len];
    stdout
        .read_exact(&mut body)
        .await
        .context("while reading from the worker")?;
    Ok(worker_protocol::decode(&body)?)
}

fn stopped() -> PoolError {
    PoolError::Unavailable("The script workers stopped; try again.".into())
}
