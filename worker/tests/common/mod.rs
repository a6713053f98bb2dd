//! Starts the real `inchart-worker` binary the way the server does (empty
//! environment, piped stdin/stdout/stderr) and speaks the protocol to it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use worker_protocol::{
    BacktestReport, Columns, ErrorKind, FromWorker, Job, Limits, Mode, Output, Report, RunError, Signals,
    body_len, decode,
};

pub const BIN: &str = env!("CARGO_BIN_EXE_inchart-worker");

/// The numpy directory `scripts/setup.sh` (setup_python) installs.
pub fn site() -> PathBuf {
    let site = std::env::var_os("INCHART_WORKER_SITE").expect(
        "INCHART_WORKER_SITE is not set: run `source scripts/setup.sh && setup_python` before these tests",
    );
    PathBuf::from(site)
}

/// How long a test waits for any one answer before calling the worker hung.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// What the worker's stdout carries: frames, and the raw bytes a run's
/// child wrote (behind an `Output` frame).
pub enum Message {
    Frame(FromWorker),
    Bytes(Vec<u8>),
}

/// A running worker.
pub struct Worker {
    pub process: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<Option<Message>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub ready: FromWorker,
    /// Jobs sent and not yet answered, oldest first.
    sent: std::collections::VecDeque<Job>,
}

impl Worker {
    /// A worker with numpy (`--site`).
    pub fn start() -> Self {
        Self::start_with(&["--site".into(), site().into_os_string().into_string().unwrap()])
    }

    /// A worker without numpy: candles are lists.
    pub fn start_without_numpy() -> Self {
        Self::start_with(&[])
    }

    /// A worker with numpy whose environment holds `vars` (a server should
    /// pass none).
    pub fn start_with_env(vars: &[(&str, &str)]) -> Self {
        let site = site().into_os_string().into_string().unwrap();
        Self::spawn(&["--site".into(), site], vars)
    }

    pub fn start_with(args: &[String]) -> Self {
        Self::spawn(args, &[])
    }

    fn spawn(args: &[String], vars: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.args(args).env_clear().envs(vars.iter().copied());
        Self::start_command(command)
    }

    /// Starts `command` (the worker, maybe wrapped) with piped stdio.
    pub fn start_command(mut command: Command) -> Self {
        let mut process = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting inchart-worker");
        let stdin = process.stdin.take();
        let mut stdout = process.stdout.take().unwrap();
        let stderr_pipe = process.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        let (send, frames) = mpsc::channel();
        std::thread::spawn(move || {
            loop {
                let mut header = [0; 4];
                if stdout.read_exact(&mut header).is_err() {
                    let _ = send.send(None);
                    return;
                }
                let mut body = vec![0; body_len(header).unwrap()];
                stdout.read_exact(&mut body).unwrap();
                let frame = decode::<FromWorker>(&body).unwrap();
                let raw = match frame {
                    FromWorker::Output { len } => {
                        let mut bytes = vec![0; len as usize];
                        stdout.read_exact(&mut bytes).unwrap();
                        Some(bytes)
                    }
                    _ => None,
                };
                if send.send(Some(Message::Frame(frame))).is_err() {
                    return;
                }
                if let Some(bytes) = raw
                    && send.send(Some(Message::Bytes(bytes))).is_err()
                {
                    return;
                }
            }
        });
        let mut worker = Self {
            process,
            stdin,
            frames,
            stderr,
            ready: FromWorker::Ready {
                python: String::new(),
                numpy: None,
            },
            sent: Default::default(),
        };
        match worker.next_frame() {
            Some(Message::Frame(ready @ FromWorker::Ready { .. })) => worker.ready = ready,
            Some(Message::Frame(other)) => panic!(
                "expected Ready, got {other:?}; stderr: {:?}",
                worker.stderr.lock().unwrap()
            ),
            _ => panic!("expected Ready; stderr: {:?}", worker.stderr.lock().unwrap()),
        }
        worker
    }

    fn next_frame(&mut self) -> Option<Message> {
        self.frames
            .recv_timeout(ANSWER_TIMEOUT)
            .unwrap_or_else(|_| panic!("the worker did not answer in {ANSWER_TIMEOUT:?}"))
    }

    /// Sends a job without waiting for its report.
    pub fn send(&mut self, job: &Job) {
        let wire = job.to_wire().unwrap();
        self.send_raw(&wire);
        self.sent.push_back(job.clone());
    }

    /// Writes `bytes` to the worker's stdin as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin_mut();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    pub fn stdin_mut(&mut self) -> &mut ChildStdin {
        self.stdin.as_mut().unwrap()
    }

    /// Sends a job and waits for its report.
    pub fn run(&mut self, job: &Job) -> Report {
        self.send(job);
        self.report()
    }

    /// Waits for the report of the oldest job sent earlier, judged as the
    /// server judges it.
    pub fn report(&mut self) -> Report {
        let job = self.sent.pop_front().expect("no job was sent");
        let (verdict, bytes) = self.verdict();
        worker_protocol::judge::report(&job, &verdict, &bytes)
    }

    /// Sends a backtest and waits for its report.
    pub fn backtest(&mut self, job: &Job) -> BacktestReport {
        self.send(job);
        let job = self.sent.pop_front().expect("no job was sent");
        let (verdict, bytes) = self.verdict();
        worker_protocol::judge::backtest(&job, &verdict, &bytes)
    }

    /// Waits for a run's verdict; with it, the bytes its child wrote.
    pub fn verdict(&mut self) -> (worker_protocol::Verdict, Vec<u8>) {
        let mut bytes = Vec::new();
        loop {
            match self.next_frame() {
                Some(Message::Frame(FromWorker::Done(verdict))) => return (verdict, bytes),
                Some(Message::Frame(FromWorker::Output { .. })) => {}
                Some(Message::Bytes(chunk)) => bytes.extend_from_slice(&chunk),
                Some(Message::Frame(other)) => panic!(
                    "expected Done, got {other:?}; stderr: {:?}",
                    self.stderr.lock().unwrap()
                ),
                None => panic!("the worker ended; stderr: {:?}", self.stderr.lock().unwrap()),
            }
        }
    }

    /// Runs `source` over the standard series with generous limits.
    pub fn run_script(&mut self, source: &str) -> Report {
        self.run(&job(source, series(200), generous()))
    }

    /// Whether the worker process is still running.
    pub fn is_alive(&mut self) -> bool {
        self.process.try_wait().unwrap().is_none()
    }

    /// Closes stdin and returns the exit status.
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.process.wait().unwrap()
    }

    /// The pid of the zygote (the worker process's only child), as the host
    /// sees it.
    pub fn zygote_pid(&self) -> u32 {
        let pid = self.process.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        children.split_whitespace().next().unwrap().parse().unwrap()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A job.
pub fn job(source: &str, candles: Columns, limits: Limits) -> Job {
    Job {
        source: source.to_owned(),
        candles,
        limits,
        mode: Mode::Chart,
    }
}

/// A backtest whose live runs see `window` candles, re-checking at most
/// `confirm_max` signal candles.
pub fn backtest_job(source: &str, candles: Columns, limits: Limits, window: u32, confirm_max: u32) -> Job {
    Job {
        mode: Mode::Backtest { window, confirm_max },
        ..job(source, candles, limits)
    }
}

/// Limits of a backtest (the server sets its own): far more memory,
/// time and output than a chart run's.
pub fn backtest_limits() -> Limits {
    Limits {
        cpu_ms: 60_000,
        wall_ms: 120_000,
        memory_bytes: 1 << 30,
        output_bytes: 16 << 20,
    }
}

/// Limits a well-behaved script never comes near, even on a loaded machine.
pub fn generous() -> Limits {
    Limits {
        cpu_ms: 30_000,
        wall_ms: 60_000,
        memory_bytes: 256 << 20,
        output_bytes: 4 << 20,
    }
}

/// Limits for a hostile script: little CPU, a wall clock that only a
/// sleeping script reaches.
pub fn hostile() -> Limits {
    Limits {
        cpu_ms: 400,
        wall_ms: 30_000,
        memory_bytes: 128 << 20,
        output_bytes: 1 << 20,
    }
}

pub const T0: i64 = 1_700_000_000_000;
pub const MINUTE: i64 = 60_000;

/// A deterministic series of `n` one-minute candles with slow and fast
/// waves, so moving averages cross now and then.
pub fn series(n: usize) -> Columns {
    let close: Vec<f64> = (0..n)
        .map(|i| {
            let x = i as f64;
            100.0 + 10.0 * (x / 15.0).sin() + 3.0 * (x / 4.0).sin()
        })
        .collect();
    let open: Vec<f64> = (0..n)
        .map(|i| if i == 0 { close[0] } else { close[i - 1] })
        .collect();
    Columns {
        time: (0..n as i64).map(|i| T0 + i * MINUTE).collect(),
        high: open.iter().zip(&close).map(|(o, c)| o.max(*c) + 0.5).collect(),
        low: open.iter().zip(&close).map(|(o, c)| o.min(*c) - 0.5).collect(),
        volume: (0..n).map(|i| 1000.0 + i as f64).collect(),
        open,
        close,
    }
}

/// The moving-average cross from the README.
pub const MA_CROSS: &str = r#"
from inchart import sma, crossover, crossunder, buy, sell
def signals(c):
    fast, slow = sma(c.close, 9), sma(c.close, 21)
    markers = [buy(c.time[i], c.close[i]) for i in crossover(fast, slow)]
    markers += [sell(c.time[i], c.close[i]) for i in crossunder(fast, slow)]
    return markers, {"SMA 9": fast, "SMA 21": slow}
"#;

/// The report's output, or a panic that shows the error.
pub fn ok(report: &Report) -> &Output {
    match &report.result {
        Ok(output) => output,
        Err(error) => panic!("expected output, got {error:?} (log: {:?})", report.log),
    }
}

/// A backtest's signals, or a panic that shows the error.
pub fn signals(report: &BacktestReport) -> &Signals {
    match &report.result {
        Ok(signals) => signals,
        Err(error) => panic!("expected signals, got {error:?} (log: {:?})", report.log),
    }
}

/// A backtest's error, or a panic that shows its signals.
pub fn err_of(report: &BacktestReport) -> &RunError {
    match &report.result {
        Err(error) => error,
        Ok(signals) => panic!("expected an error, got {signals:?} (log: {:?})", report.log),
    }
}

/// The report's error, or a panic that shows the output.
pub fn err(report: &Report) -> &RunError {
    match &report.result {
        Err(error) => error,
        Ok(output) => panic!("expected an error, got {output:?} (log: {:?})", report.log),
    }
}

/// Asserts the kind of error and that its message contains `text`.
pub fn assert_error(report: &Report, kind: ErrorKind, text: &str) {
    let error = err(report);
    assert_eq!(error.kind, kind, "{error:?} (log: {:?})", report.log);
    assert!(
        error.message.contains(text),
        "message {:?} does not contain {text:?}",
        error.message
    );
}

/// Asserts that the worker still serves a well-behaved script correctly.
pub fn assert_still_serves(worker: &mut Worker) {
    assert!(
        worker.is_alive(),
        "the worker died; stderr: {:?}",
        worker.stderr.lock().unwrap()
    );
    let report = worker.run_script(MA_CROSS);
    let output = ok(&report);
    assert_eq!(output.lines.len(), 2);
    assert!(!output.markers.is_empty());
}
