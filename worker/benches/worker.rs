//! What the warm, confined worker costs, against the original plan of
//! starting a fresh `python3` (importing numpy) for every run.
//!
//! ```text
//! source scripts/setup.sh && setup_python
//! cargo bench -p inchart-worker --bench worker
//! ```
//!
//! Prints: worker start to Ready; the README's moving-average cross over
//! 1000 candles through the real binary and protocol, warm (p50/p99 over
//! 200 runs); the same script in a fresh Python process per run (JSON
//! candles on stdin); and the ratio.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use worker_protocol::{Columns, FromWorker, Job, Limits, Mode, body_len, decode};

const BIN: &str = env!("CARGO_BIN_EXE_inchart-worker");
const PYTHON_HOME: &str = env!("INCHART_PYTHON_HOME");

const MA_CROSS: &str = r#"
from inchart import sma, crossover, crossunder, buy, sell
def signals(c):
    fast, slow = sma(c.close, 9), sma(c.close, 21)
    markers = [buy(c.time[i], c.close[i]) for i in crossover(fast, slow)]
    markers += [sell(c.time[i], c.close[i]) for i in crossunder(fast, slow)]
    return markers, {"SMA 9": fast, "SMA 21": slow}
"#;

/// The original plan: a new interpreter per run that imports numpy, reads
/// the candles as JSON from stdin, runs the script and prints JSON.
const FRESH_PYTHON: &str = r#"
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import numpy as np
job = json.load(sys.stdin)
c = job["candles"]
class Candles:
    pass
candles = Candles()
candles.time = np.array(c["time"], dtype=np.int64)
for name in ("open", "high", "low", "close", "volume"):
    setattr(candles, name, np.array(c[name], dtype=np.float64))
namespace = {}
exec(compile(job["source"], "<script>", "exec"), namespace)
markers, lines = namespace["signals"](candles)
out = {
    "markers": [{"time": int(m.time), "side": m.side, "price": float(m.price)} for m in markers],
    "lines": [
        {"name": name, "points": [[int(t), float(v)] for t, v in zip(candles.time, values) if v == v]}
        for name, values in lines.items()
    ],
}
sys.stdout.write(json.dumps(out, allow_nan=False))
"#;

fn series(n: usize) -> Columns {
    let close: Vec<f64> = (0..n)
        .map(|i| 100.0 + 10.0 * (i as f64 / 15.0).sin() + 3.0 * (i as f64 / 4.0).sin())
        .collect();
    Columns {
        time: (0..n as i64).map(|i| 1_700_000_000_000 + i * 60_000).collect(),
        open: close.clone(),
        high: close.iter().map(|c| c + 0.5).collect(),
        low: close.iter().map(|c| c - 0.5).collect(),
        volume: vec![1000.0; n],
        close,
    }
}

struct Worker {
    process: std::process::Child,
}

impl Worker {
    fn start(site: &str) -> (Self, Duration) {
        let started = Instant::now();
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
        (worker, started.elapsed())
    }

    fn read(&mut self) -> FromWorker {
        let stdout = self.process.stdout.as_mut().unwrap();
        let mut header = [0; 4];
        stdout.read_exact(&mut header).unwrap();
        let mut body = vec![0; body_len(header).unwrap()];
        stdout.read_exact(&mut body).unwrap();
        decode(&body).unwrap()
    }

    /// Runs `job` (sent as `wire`) and judges the answer as the server does.
    fn run(&mut self, job: &Job, wire: &[u8]) {
        let stdin = self.process.stdin.as_mut().unwrap();
        stdin.write_all(wire).unwrap();
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
                    worker_protocol::judge::report(job, &verdict, &bytes)
                        .result
                        .unwrap();
                    return;
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(name: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let p50 = percentile(&times, 0.5);
    println!(
        "{name:<44} n={:<4} p50 {:>8.2} ms  p99 {:>8.2} ms  min {:>8.2} ms  max {:>8.2} ms",
        times.len(),
        ms(p50),
        ms(percentile(&times, 0.99)),
        ms(times[0]),
        ms(times[times.len() - 1]),
    );
    p50
}

fn main() {
    let site = std::env::var("INCHART_WORKER_SITE")
        .expect("INCHART_WORKER_SITE is not set: `source scripts/setup.sh && setup_python`");
    let runs: usize = std::env::var("INCHART_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let baseline_runs = (runs / 4).max(10);
    let job = Job {
        source: MA_CROSS.into(),
        candles: series(1000),
        limits: Limits::default(),
        mode: Mode::Chart,
    };
    let frame = job.to_wire().unwrap();

    let starts: Vec<Duration> = (0..10).map(|_| Worker::start(&site).1).collect();
    summary("worker start to Ready", starts);

    let (mut worker, _) = Worker::start(&site);
    for _ in 0..5 {
        worker.run(&job, &frame);
    }
    let warm: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            worker.run(&job, &frame);
            started.elapsed()
        })
        .collect();
    let warm = summary("MA cross, 1000 candles, warm worker", warm);

    let python = format!("{PYTHON_HOME}/bin/python3");
    let helpers = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
    let job_json = serde_json::to_vec(&job).unwrap();
    let fresh: Vec<Duration> = (0..baseline_runs)
        .map(|_| {
            let started = Instant::now();
            let mut child = Command::new(&python)
                .args(["-I", "-c", FRESH_PYTHON, &site, helpers])
                .env_clear()
                .env("OPENBLAS_NUM_THREADS", "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&job_json).unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success());
            let _: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            started.elapsed()
        })
        .collect();
    let fresh = summary("MA cross, 1000 candles, fresh python3 per run", fresh);
    println!(
        "fresh python3 per run / warm worker (p50): {:.1}x",
        fresh.as_secs_f64() / warm.as_secs_f64()
    );
}
