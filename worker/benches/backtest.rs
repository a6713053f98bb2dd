//! What a backtest costs in the worker: the re-check of one signal (one
//! more call of `signals()` on a live run's window) for the workbench's
//! template script, and whole backtests over a million one-minute candles.
//!
//! ```text
//! source scripts/setup.sh && setup_python
//! cargo bench -p inchart-worker --bench backtest
//! # or, without an optimised build (the script's Python runs the same):
//! cargo test -p inchart-worker --bench backtest
//! ```
//!
//! Prints, for the template (app/src/scripts.rs's `TEMPLATE`, read from
//! that file) and the README's moving-average cross: the CPU time of a
//! backtest without re-checks and with them, and the difference per
//! re-check; then each over 1,000,000 candles (window 1000, 2000
//! re-checks, and once without): the child's CPU time, the worker's wall
//! time, the run cgroup's memory peak, and the time end to end on this
//! side (encoding the job, the worker, judging the answer).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use worker_protocol::{BacktestReport, Columns, FromWorker, Job, Limits, Mode, Verdict, body_len, decode};

const BIN: &str = env!("CARGO_BIN_EXE_inchart-worker");
const APP_SCRIPTS: &str = include_str!("../../app/src/scripts.rs");

const MA_CROSS: &str = r#"
from inchart import sma, crossover, crossunder, buy, sell
def signals(c):
    fast, slow = sma(c.close, 9), sma(c.close, 21)
    markers = [buy(c.time[i], c.close[i]) for i in crossover(fast, slow)]
    markers += [sell(c.time[i], c.close[i]) for i in crossunder(fast, slow)]
    return markers, {"SMA 9": fast, "SMA 21": slow}
"#;

/// The workbench's template, as the app defines it.
fn template() -> &'static str {
    let start = APP_SCRIPTS
        .find("pub const TEMPLATE: &str = r#\"")
        .expect("TEMPLATE in app/src/scripts.rs")
        + "pub const TEMPLATE: &str = r#\"".len();
    let len = APP_SCRIPTS[start..].find("\"#;").unwrap();
    &APP_SCRIPTS[start..start + len]
}

/// One-minute candles with slow and fast waves (as the tests' series).
fn series(n: usize) -> Columns {
    let close: Vec<f64> = (0..n)
        .map(|i| 100.0 + 10.0 * (i as f64 / 15.0).sin() + 3.0 * (i as f64 / 4.0).sin())
        .collect();
    let open: Vec<f64> = (0..n).map(|i| close[i.saturating_sub(1)]).collect();
    Columns {
        time: (0..n as i64).map(|i| 1_700_000_000_000 + i * 60_000).collect(),
        high: open.iter().zip(&close).map(|(o, c)| o.max(*c) + 0.5).collect(),
        low: open.iter().zip(&close).map(|(o, c)| o.min(*c) - 0.5).collect(),
        volume: (0..n).map(|i| 1000.0 + i as f64).collect(),
        open,
        close,
    }
}

fn limits() -> Limits {
    Limits {
        cpu_ms: 60_000,
        wall_ms: 120_000,
        memory_bytes: 1 << 30,
        output_bytes: 16 << 20,
    }
}

struct Worker {
    process: std::process::Child,
}

impl Worker {
    fn start(site: &str) -> Self {
        let process = Command::new(BIN)
            .args(["--site", site])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut worker = Self { process };
        match worker.read() {
            FromWorker::Ready { .. } => {}
            other => panic!("expected Ready, got {other:?}"),
        }
        worker
    }

    fn read(&mut self) -> FromWorker {
        let stdout = self.process.stdout.as_mut().unwrap();
        let mut header = [0; 4];
        stdout.read_exact(&mut header).unwrap();
        let mut body = vec![0; body_len(header).unwrap()];
        stdout.read_exact(&mut body).unwrap();
        decode(&body).unwrap()
    }

    /// Runs a backtest; its report, the verdict, and the time end to end.
    fn backtest(&mut self, job: &Job) -> (BacktestReport, Verdict, Duration) {
        let started = Instant::now();
        let wire = job.to_wire().unwrap();
        let stdin = self.process.stdin.as_mut().unwrap();
        stdin.write_all(&wire).unwrap();
        stdin.flush().unwrap();
        let mut bytes = Vec::new();
        loop {
            match self.read() {
                FromWorker::Output { len } => {
                    let start = bytes.len();
                    bytes.resize(start + len as usize, 0);
                    let stdout = self.process.stdout.as_mut().unwrap();
                    stdout.read_exact(&mut bytes[start..]).unwrap();
                }
                FromWorker::Done(verdict) => {
                    let report = worker_protocol::judge::backtest(job, &verdict, &bytes);
                    if let Err(error) = &report.result {
                        panic!("the backtest failed: {error:?}");
                    }
                    return (report, verdict, started.elapsed());
                }
                other => panic!("expected Done, got {other:?}"),
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn job(source: &str, candles: Columns, window: u32, confirm_max: u32) -> Job {
    Job {
        source: source.into(),
        candles,
        limits: limits(),
        mode: Mode::Backtest { window, confirm_max },
    }
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    let site = std::env::var("INCHART_WORKER_SITE")
        .expect("INCHART_WORKER_SITE is not set: `source scripts/setup.sh && setup_python`");
    let mut worker = Worker::start(&site);
    let rounds = 5;

    for (name, source) in [("template", template()), ("MA cross", MA_CROSS)] {
        // Every signal candle of 20,000 re-checked on a 1000-candle window,
        // against none: the difference is the re-checks' own cost.
        let candles = series(20_000);
        let (mut without, mut with) = (Vec::new(), Vec::new());
        let mut rechecked = 0;
        for _ in 0..rounds {
            let (_, verdict, _) = worker.backtest(&job(source, candles.clone(), 1000, 0));
            without.push(verdict.cpu_ms);
            let (report, verdict, _) = worker.backtest(&job(source, candles.clone(), 1000, u32::MAX));
            let signals = report.result.unwrap();
            let mut candles: Vec<u32> = signals.signals.iter().map(|s| s.index).collect();
            candles.dedup();
            rechecked = candles.len();
            with.push(verdict.cpu_ms);
        }
        let (without, with) = (median(without), median(with));
        println!(
            "{name:<9} 20,000 candles: cpu {without} ms without re-checks, {with} ms with {rechecked} \
             (window 1000): {:.3} ms a re-check",
            (with - without) as f64 / rechecked as f64
        );
    }

    for (name, source) in [("template", template()), ("MA cross", MA_CROSS)] {
        let candles = series(1_000_000);
        let (_, verdict, _) = worker.backtest(&job(source, candles.clone(), 1000, 0));
        println!(
            "{name:<9} 1,000,000 candles without re-checks: cpu {} ms, worker wall {} ms",
            verdict.cpu_ms, verdict.wall_ms
        );
        for _ in 0..3 {
            let (report, verdict, end_to_end) = worker.backtest(&job(source, candles.clone(), 1000, 2000));
            let signals = report.result.unwrap();
            println!(
                "{name:<9} 1,000,000 candles: {} signals, {} re-checked, {} unconfirmed; cpu {} ms, \
                 worker wall {} ms, peak memory {} MiB, end to end {} ms",
                signals.signals.len(),
                signals.checked,
                signals.unconfirmed.len(),
                verdict.cpu_ms,
                verdict.wall_ms,
                verdict
                    .memory_peak_bytes
                    .map_or("?".into(), |b| (b >> 20).to_string()),
                end_to_end.as_millis(),
            );
        }
    }
}
