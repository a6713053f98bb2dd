//! `cargo bench -p server --bench scripts`: one signal script run on 1000
//! candles, end to end through the API (HTTP, session, candles read,
//! sandboxed worker, output checked, run recorded in PostgreSQL), printed
//! as figures (BENCHMARKS.md records them):
//!
//! - **warm**: latency of runs one after another, on the warm pool;
//! - **cold**: the first run of a server whose workers start on demand
//!   (worker start, confinement, CPython and numpy import included);
//! - **throughput**: runs per second with both cores busy (4 users, 2
//!   requests in flight each);
//! - **neighbour**: a well-behaved trader's runs, one at a time, alone and
//!   then while a hostile trader keeps two runs in flight from the worker's
//!   hostile suite (CPU burners, memory hogs, pipe floods, sleepers, fork
//!   bombs), on a server with the default share (one worker per user);
//!   the ratio of the two is the isolation's figure (target: within 2x);
//! - **baseline**, in the same run: a fresh `python3` per run that imports
//!   numpy and the same helper module, reads the same candles as JSON and
//!   runs the same script (the original stack's plan), one at a time and
//!   two at once.
//!
//! The worker is built first (`cargo build --release -p inchart-worker`).
//! Arguments: `--seconds N` per throughput measurement (default 5), `--runs
//! N` latency samples (default 200). Needs PostgreSQL and Redis, and
//! `PYO3_PYTHON` + `INCHART_WORKER_SITE` (`scripts/setup.sh` exports them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{BenchDatabase, Server, cookie_value, ms};

const USERS: usize = 4;
const PASSWORD: &str = "violet heron sails at dusk";
const CSRF: &str = "benchmark-csrf-token-benchmark-csrf-token";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |n| n.parse().expect("a number"))
    };
    let seconds = Duration::from_secs(flag("--seconds", 5));
    let runs = flag("--runs", 200) as usize;
    build_worker();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(seconds, runs));
}

fn build_worker() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "inchart-worker"])
        .status()
        .unwrap();
    assert!(status.success(), "the worker builds");
}

/// A signed-in user and their script.
#[derive(Clone)]
struct Trader {
    cookies: String,
    runs_url: String,
}

fn env_for(database: &BenchDatabase, warm: bool) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database.url.clone()),
        ("REDIS_URL", database.redis_url.clone()),
        ("INCHART_CACHE_PREFIX", database.name.clone()),
        ("INCHART_SYMBOLS", "BTCUSDT".to_string()),
        ("INCHART_SIM_HISTORY", "1100".to_string()),
        ("INCHART_FEED", "simulated".to_string()),
        (
            "INCHART_JWT_SECRET",
            "a benchmark signing secret, long enough for HS256".to_string(),
        ),
        ("INCHART_SIGNUP_LIMIT", "1000000".to_string()),
        (
            "INCHART_WORKER_SITE",
            std::env::var("INCHART_WORKER_SITE").expect("INCHART_WORKER_SITE is set"),
        ),
        ("INCHART_SCRIPT_WORKERS", "2".to_string()),
        ("INCHART_SCRIPT_USER_WORKERS", "2".to_string()),
        ("INCHART_SCRIPT_QUEUE", "16".to_string()),
        ("INCHART_SCRIPT_WARM", warm.to_string()),
        // Runs per minute would otherwise stop a benchmark's loops.
        (
            "INCHART_FREE_LIMITS",
            "scripts=50,live=1,watchlist=10,history=2000,cpu=1s,runs=10000".to_string(),
        ),
    ]
}

/// Scripts from the worker's hostile suite, each stopped by a limit.
const HOSTILE: &[&str] = &[
    "def signals(c):\n    while True: pass\n",
    "x = []\ndef signals(c):\n    while True: x.append(' ' * 10**6)\n",
    "import os\ndef signals(c):\n    for _ in range(10**6): os.write(3, b'L')\n",
    "import time\ndef signals(c):\n    time.sleep(100)\n",
    "import os\ndef signals(c):\n    while True: os.fork()\n",
    "def f(n):\n    return f(n + 1)\ndef signals(c):\n    f(0)\n",
    "import numpy as np\ndef signals(c):\n    while True: np.linalg.inv(np.random.rand(300, 300))\n",
];

/// A script of `trader`'s with `source`, returning its runs URL.
async fn add_script(server: &Server, trader: &Trader, source: &str) -> String {
    let created: Value = reqwest::Client::new()
        .post(server.url("/api/v1/scripts"))
        .header("origin", server.url(""))
        .header("x-csrf-token", CSRF)
        .header("cookie", &trader.cookies)
        .json(&json!({ "source": source }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    server.url(&format!(
        "/api/v1/scripts/{}/runs",
        created["id"].as_str().unwrap()
    ))
}

/// A well-behaved trader's run latency, alone and beside a hostile one.
async fn neighbour(
    database: &BenchDatabase,
    runs: usize,
) -> ((Duration, Duration), (Duration, Duration), u64) {
    let mut env = env_for(database, true);
    env.retain(|(name, _)| *name != "INCHART_SCRIPT_USER_WORKERS");
    let server = Server::start(&env);
    server.wait_until_filled().await;
    let origin = server.url("");
    let quiet = sign_up(&server, "quiet@example.com").await;
    let hostile = sign_up(&server, "hostile@example.com").await;
    let mut attacks = Vec::new();
    for source in HOSTILE {
        attacks.push(add_script(&server, &hostile, source).await);
    }
    let client = reqwest::Client::new();
    let latencies = || {
        let (client, origin, quiet) = (client.clone(), origin.clone(), quiet.clone());
        async move {
            let mut samples = Vec::with_capacity(runs);
            for _ in 0..runs {
                let started = Instant::now();
                run_once(&client, &origin, &quiet).await;
                samples.push(started.elapsed());
            }
            quantiles(samples)
        }
    };
    for _ in 0..10 {
        run_once(&client, &origin, &quiet).await;
    }
    let alone = latencies().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hostile_runs = Arc::new(AtomicU64::new(0));
    let floods: Vec<_> = (0..2)
        .map(|lane| {
            let (client, origin, hostile) = (client.clone(), origin.clone(), hostile.clone());
            let (attacks, stop, done) = (attacks.clone(), stop.clone(), hostile_runs.clone());
            tokio::spawn(async move {
                let mut next = lane;
                while !stop.load(Relaxed) {
                    let url = &attacks[next % attacks.len()];
                    next += 1;
                    let answered = client
                        .post(url)
                        .header("origin", &origin)
                        .header("x-csrf-token", CSRF)
                        .header("cookie", &hostile.cookies)
                        .json(&json!({ "symbol": "BTCUSDT", "interval": "1m" }))
                        .send()
                        .await;
                    if answered.is_ok() {
                        done.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    // Let the flood reach the workers first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let beside = latencies().await;
    stop.store(true, Relaxed);
    for flood in floods {
        flood.await.unwrap();
    }
    (alone, beside, hostile_runs.load(Relaxed))
}

async fn sign_up(server: &Server, email: &str) -> Trader {
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/signup"))
        .header("origin", server.url(""))
        .header("accept", "application/json")
        .header("cookie", format!("inchart_csrf={CSRF}"))
        .form(&[("csrf", CSRF), ("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "sign-up: {}", response.status());
    let cookies = format!(
        "inchart_csrf={CSRF}; inchart_access={}",
        cookie_value(&response, "inchart_access").unwrap()
    );
    let created: Value = client
        .post(server.url("/api/v1/scripts"))
        .header("origin", server.url(""))
        .header("x-csrf-token", CSRF)
        .header("cookie", &cookies)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Trader {
        cookies,
        runs_url: server.url(&format!(
            "/api/v1/scripts/{}/runs",
            created["id"].as_str().unwrap()
        )),
    }
}

/// One run through the API; panics unless the script's signals came back.
async fn run_once(client: &reqwest::Client, server_origin: &str, trader: &Trader) -> Value {
    let run: Value = client
        .post(&trader.runs_url)
        .header("origin", server_origin)
        .header("x-csrf-token", CSRF)
        .header("cookie", &trader.cookies)
        .json(&json!({ "symbol": "BTCUSDT", "interval": "1m" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(run["result"]["Ok"].is_object(), "{run}");
    assert_eq!(run["candles"], 1000, "{run}");
    run
}

fn quantiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    (at(0.5), at(0.99))
}

async fn bench(seconds: Duration, runs: usize) {
    let database = BenchDatabase::create("inchart_bench_scripts").await;

    // Cold: the first run of a server whose workers start on demand.
    let cold = {
        let server = Server::start(&env_for(&database, false));
        server.wait_until_filled().await;
        let trader = sign_up(&server, "cold@example.com").await;
        let client = reqwest::Client::new();
        let started = Instant::now();
        run_once(&client, &server.url(""), &trader).await;
        started.elapsed()
    };

    let server = Server::start(&env_for(&database, true));
    server.wait_until_filled().await;
    let origin = server.url("");
    let mut traders = Vec::new();
    for n in 0..USERS {
        traders.push(sign_up(&server, &format!("trader{n}@example.com")).await);
    }
    let client = reqwest::Client::new();
    // The candles the runs see, for the baseline.
    let sample = run_once(&client, &origin, &traders[0]).await;
    let candles: Value = client
        .get(server.url(&format!(
            "/api/v1/candles?symbol=BTCUSDT&interval=1m&start={}&end={}&limit=1000",
            sample["first_candle"], sample["last_candle"]
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Warm: one run after another.
    for _ in 0..10 {
        run_once(&client, &origin, &traders[0]).await;
    }
    let mut warm = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        run_once(&client, &origin, &traders[0]).await;
        warm.push(started.elapsed());
    }
    let (warm_p50, warm_p99) = quantiles(warm);

    // Throughput: every trader with two runs in flight, both workers busy.
    let done = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + seconds;
    let loops: Vec<_> = traders
        .iter()
        .flat_map(|trader| [trader.clone(), trader.clone()])
        .map(|trader| {
            let (client, origin, done) = (client.clone(), origin.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < stop_at {
                    run_once(&client, &origin, &trader).await;
                    done.fetch_add(1, Relaxed);
                }
            })
        })
        .collect();
    for task in loops {
        task.await.unwrap();
    }
    let rate = done.load(Relaxed) as f64 / seconds.as_secs_f64();
    drop(server);

    let (alone, beside, hostile_runs) = neighbour(&database, (runs / 2).max(20)).await;

    // The baseline: a fresh python3 per run.
    let input = baseline_input(&candles);
    let mut fresh = Vec::new();
    for _ in 0..(runs / 4).max(20) {
        let started = Instant::now();
        baseline_run(&input);
        fresh.push(started.elapsed());
    }
    let (fresh_p50, fresh_p99) = quantiles(fresh);
    let baseline_done = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + seconds;
    let input = Arc::new(input);
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (input, done) = (input.clone(), baseline_done.clone());
            std::thread::spawn(move || {
                while Instant::now() < stop_at {
                    baseline_run(&input);
                    done.fetch_add(1, Relaxed);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let baseline_rate = baseline_done.load(Relaxed) as f64 / seconds.as_secs_f64();
    database.drop_now().await;

    println!("## Signal scripts: MA cross on 1000 candles, end to end through the API");
    println!("| measurement | p50 | p99 | runs/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| warm pool, one run at a time ({runs} runs) | {:.1} ms | {:.1} ms | |",
        ms(warm_p50),
        ms(warm_p99)
    );
    println!(
        "| cold: first run, workers started on demand | {:.0} ms | | |",
        ms(cold)
    );
    println!("| warm pool, 2 workers, {USERS} users × 2 in flight | | | {rate:.1} |");
    println!(
        "| baseline: fresh python3 per run, one at a time | {:.1} ms | {:.1} ms | |",
        ms(fresh_p50),
        ms(fresh_p99)
    );
    println!("| baseline: fresh python3 per run, 2 at once | | | {baseline_rate:.1} |");
    println!(
        "| neighbour, alone (default share: 1 worker per user) | {:.1} ms | {:.1} ms | |",
        ms(alone.0),
        ms(alone.1)
    );
    println!(
        "| neighbour, beside a hostile trader ({hostile_runs} hostile runs) | {:.1} ms | {:.1} ms | |",
        ms(beside.0),
        ms(beside.1)
    );
    println!();
    println!(
        "neighbour beside a hostile trader vs alone: p50 {:.2}x, p99 {:.2}x (target: within 2x)",
        ms(beside.0) / ms(alone.0),
        ms(beside.1) / ms(alone.1)
    );
    println!(
        "warm p50 vs fresh python3 p50: {:.1}x faster",
        ms(fresh_p50) / ms(warm_p50)
    );
    println!(
        "throughput vs fresh python3 per run: {:.1}x",
        rate / baseline_rate
    );
}

/// What the baseline process reads on stdin: the script and the candles.
fn baseline_input(series: &Value) -> Vec<u8> {
    let candles = series["candles"].as_array().unwrap();
    let column = |key: &str| candles.iter().map(|c| c[key].clone()).collect::<Vec<_>>();
    serde_json::to_vec(&json!({
        "source": app::scripts::TEMPLATE,
        "time": column("open_time"),
        "open": column("open"),
        "high": column("high"),
        "low": column("low"),
        "close": column("close"),
        "volume": column("volume"),
    }))
    .unwrap()
}

/// The original stack's plan: one python3 process per run.
const BASELINE: &str = r#"
import json, math, sys
import numpy as np
import inchart
data = json.load(sys.stdin)
class Candles:
    pass
c = Candles()
c.time = np.asarray(data["time"], dtype=np.int64)
for key in ("open", "high", "low", "close", "volume"):
    setattr(c, key, np.asarray(data[key], dtype=np.float64))
scope = {}
exec(compile(data["source"], "<script>", "exec"), scope)
markers, lines = scope["signals"](c)
json.dump({
    "markers": [{"time": int(m.time), "side": m.side, "price": float(m.price)} for m in markers],
    "lines": [{"name": name, "points": [[int(t), float(v)] for t, v in zip(c.time, values) if not math.isnan(v)]}
              for name, values in lines.items()],
}, sys.stdout)
"#;

fn baseline_run(input: &[u8]) {
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let helpers = concat!(env!("CARGO_MANIFEST_DIR"), "/../worker/python");
    let site = std::env::var("INCHART_WORKER_SITE").unwrap();
    let mut child = Command::new(python)
        .args(["-c", BASELINE])
        .env("PYTHONPATH", format!("{site}:{helpers}"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(answer["markers"].is_array());
}
