//! `cargo bench -p server --bench backtests`: strategy backtests (issue 18)
//! end to end through the API, against two open-source backtesters in the
//! same run, printed as figures (BENCHMARKS.md records them).
//!
//! - **InChart**: the template script (the SMA 9/21 cross with its RSI
//!   pane, `app::scripts::TEMPLATE`) backtested over the newest 100,000 and
//!   1,000,000 closed 1m candles of BTCUSDT (simulated feed) up to the
//!   start of today (UTC), with the default settings written out (10,000
//!   USDT, all the equity, 0.1% fee per side, long only, filled at the next
//!   open). One backtest per size, smallest first, first loads the older
//!   candles into the store (its time is printed as the warm-up: the
//!   1,000,000's loads the 900,000 before the 100,000); the measured ones
//!   then find their history stored. Each is timed from its `POST` to the `GET`
//!   answer that carries the report and the trades, one at a time: p50 and
//!   p99, the server's own `wall_ms` and the script's `cpu_ms`, and the
//!   peak memory of the server and of the worker processes (sampled from
//!   `/proc` every 20 ms; a worker process started during the phase counts
//!   with its high-water mark, one already running with its resident size).
//! - **References**, after the server has stopped: backtesting.py and
//!   vectorbt (pinned by `scripts/setup.sh`'s `setup_reference`, in
//!   `INCHART_REFERENCE_SITE`) on the very same candles (drawn here by the
//!   simulated feed's own function and written to a temporary file) and
//!   the same strategy and settings (`support/backtest_reference.py`), each
//!   run in a fresh Python process: the whole process from start to exit
//!   (imports and reading the candles included), the backtest call alone,
//!   the call made again in the same process (vectorbt compiles with numba
//!   on first use), their peak memory, and their trades next to ours.
//!   Different trades (entry times) make the comparison meaningless and are
//!   printed as a warning, with where the lists part. One unmeasured run of
//!   each first warms the file cache and numba's.
//! - **Neighbour**: a second trader's live runs of the template on 1000
//!   candles, one at a time, alone and then while a third trader keeps two
//!   backtests of the largest size running (the most one account may run
//!   at once), with the server's default share of the 2 workers: p50, p99
//!   and their ratio (a long backtest must not delay other users' runs).
//!
//! Every candle traded is checked to be the one drawn here: each trade's
//! entry price (and exit price, unless closed at the end) must be its
//! candle's open.
//!
//! Arguments: `--sizes 100000,1000000`; `--runs N` measured backtests per
//! size (default 10 at 100,000 candles and below, 5 above); `--reference-runs
//! N` fresh processes per reference and size (default 3 and 1);
//! `--neighbour-runs N` (default 100); `--fee-pct F` (default 0.1: with it,
//! the strategy loses all its money over 1,000,000 candles, and the
//! backtesters part ways on the last dust; 0 compares every trade);
//! `--references-only` skips the server and prints the references alone.
//! Every phase is bounded in count and time. Needs PostgreSQL and Redis (as the tests), `PYO3_PYTHON` and
//! `INCHART_WORKER_SITE` (`scripts/setup.sh` exports them) and
//! `INCHART_REFERENCE_SITE` (its `setup_reference`). The worker is built
//! first (`cargo build --release -p inchart-worker`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use inchart::market::simulated::candles_between;
use inchart::platform::clock::now_ms;
use inchart_api::backtests::{
    Backtest, BacktestRequest, Direction, Fill, OrderSize, Range, Settings, SignalMeaning, Slippage, Status,
    Trade,
};
use inchart_api::market::{Candle, Interval, Symbol};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{BenchDatabase, Server, cookie_value, ms};

const PASSWORD: &str = "violet heron sails at dusk";
const CSRF: &str = "benchmark-csrf-token-benchmark-csrf-token";
const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// The strategy's starting money, as the references are told too: enough
/// that one bitcoin a trade never runs out, whatever the fees take, so
/// every engine makes every trade (with all the equity in each, fees of
/// 0.1% over ~26,000 trades of a million candles spend the capital, and
/// each engine stops at a different leftover fraction).
const CAPITAL: f64 = 100_000_000.0;
const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/support/backtest_reference.py"
);
/// The references, by the name the runner takes and the one printed.
const ENGINES: [(&str, &str); 2] = [("backtesting", "backtesting.py"), ("vectorbt", "vectorbt")];

/// The longest one backtest may take, loading its history included.
const BACKTEST_DEADLINE: Duration = Duration::from_secs(20 * 60);
/// The longest one reference process may take.
const REFERENCE_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// The longest the neighbour's runs beside the backtests go on.
const NEIGHBOUR_DEADLINE: Duration = Duration::from_secs(5 * 60);
/// How long a `GET` of a backtest waits for it to move on (the API's most).
const WAIT_MS: u64 = 20_000;

struct Options {
    sizes: Vec<usize>,
    runs: Option<usize>,
    reference_runs: Option<usize>,
    neighbour_runs: usize,
    references_only: bool,
    /// Fee per side, percent.
    fee_pct: f64,
}

impl Options {
    fn parse() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let value = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let number = |name: &str| value(name).map(|n| n.parse::<usize>().expect("a number"));
        let mut sizes: Vec<usize> = value("--sizes")
            .unwrap_or_else(|| "100000,1000000".into())
            .split(',')
            .map(|n| {
                n.trim()
                    .replace('_', "")
                    .parse()
                    .expect("sizes like 100000,1000000")
            })
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        assert!(
            sizes.first().is_some_and(|&n| n >= 100),
            "sizes of at least 100 candles"
        );
        Self {
            sizes,
            runs: number("--runs"),
            reference_runs: number("--reference-runs"),
            neighbour_runs: number("--neighbour-runs").unwrap_or(100).max(1),
            references_only: args.iter().any(|a| a == "--references-only"),
            fee_pct: value("--fee-pct").map_or(0.1, |fee| fee.parse().expect("a fee like 0.1")),
        }
    }

    fn runs(&self, size: usize) -> usize {
        self.runs.unwrap_or(if size > 100_000 { 5 } else { 10 }).max(1)
    }

    fn reference_runs(&self, size: usize) -> usize {
        self.reference_runs
            .unwrap_or(if size > 100_000 { 1 } else { 3 })
            .max(1)
    }
}

fn main() {
    let options = Options::parse();
    let reference_site = std::env::var("INCHART_REFERENCE_SITE").expect(
        "INCHART_REFERENCE_SITE is set: scripts/setup.sh's setup_reference installs backtesting.py and \
         vectorbt there and exports it",
    );
    assert!(
        Path::new(&reference_site).is_dir(),
        "INCHART_REFERENCE_SITE ({reference_site}) is not a directory: run scripts/setup.sh's setup_reference"
    );
    if !options.references_only {
        build_worker();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(options, reference_site));
}

fn build_worker() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "inchart-worker"])
        .status()
        .unwrap();
    assert!(status.success(), "the worker builds");
}

fn btcusdt() -> Symbol {
    Symbol::parse("BTCUSDT").unwrap()
}

/// The settings of every backtest here, written out so that the references
/// are told the same: one bitcoin a trade, otherwise InChart's defaults
/// (whose fee is 0.1%).
fn settings(fee_pct: f64) -> Settings {
    Settings {
        capital: CAPITAL,
        size: OrderSize::Quantity { quantity: 1.0 },
        fee_pct,
        slippage: Slippage::Percent { percent: 0.0 },
        direction: Direction::LongOnly,
        meaning: SignalMeaning::EnterExit,
        fill: Fill::NextOpen,
    }
}

fn env_for(database: &BenchDatabase, largest: usize) -> Vec<(&'static str, String)> {
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
        // A Pro-sized Free plan, so that no limit but the two backtests at
        // once per account stops a loop here.
        (
            "INCHART_FREE_LIMITS",
            format!(
                "scripts=50,live=1,watchlist=10,history=2000,cpu=1s,runs=10000,backtest={},\
                 backtests=100000,backtest_cpu=60s",
                largest.max(1_100_000)
            ),
        ),
    ]
}

// ---------------------------------------------------------------------------
// The candles

/// The closed 1m candles of BTCUSDT opening from `first` to `last`, drawn
/// by the simulated feed's own function as the server draws them, a part
/// on each core.
fn draw_candles(first: i64, last: i64) -> Vec<Candle> {
    let symbol = btcusdt();
    let now = now_ms();
    let count = (last - first) / MINUTE + 1;
    let parts = std::thread::available_parallelism().map_or(2, |n| n.get()) as i64;
    let per_part = (count + parts - 1) / parts;
    let candles: Vec<Candle> = std::thread::scope(|scope| {
        let drawing: Vec<_> = (0..parts)
            .map(|part| {
                let from = first + part * per_part * MINUTE;
                let to = (from + (per_part - 1) * MINUTE).min(last);
                let symbol = &symbol;
                scope.spawn(move || {
                    if from > to {
                        Vec::new()
                    } else {
                        candles_between(symbol, Interval::M1, from, to, now)
                    }
                })
            })
            .collect();
        drawing
            .into_iter()
            .flat_map(|part| part.join().unwrap())
            .collect()
    });
    assert_eq!(candles.len() as i64, count);
    assert!(candles.iter().all(|candle| candle.closed));
    candles
}

/// Raw little-endian columns, one after another: open times (i64), then
/// open, high, low, close and volume (f64); what the reference reads.
fn write_columns(path: &Path, candles: &[Candle]) {
    let mut bytes = Vec::with_capacity(candles.len() * 48);
    bytes.extend(candles.iter().flat_map(|candle| candle.open_time.to_le_bytes()));
    let columns: [fn(&Candle) -> f64; 5] = [
        |candle| candle.open,
        |candle| candle.high,
        |candle| candle.low,
        |candle| candle.close,
        |candle| candle.volume,
    ];
    for column in columns {
        bytes.extend(candles.iter().flat_map(|candle| column(candle).to_le_bytes()));
    }
    std::fs::write(path, bytes).unwrap();
}

/// One size's candles: the newest `size` of those drawn.
struct Series<'a> {
    size: usize,
    candles: &'a [Candle],
    file: PathBuf,
}

impl Series<'_> {
    fn range(&self) -> (i64, i64) {
        (
            self.candles[0].open_time,
            self.candles[self.candles.len() - 1].open_time,
        )
    }

    /// The candle that opened at `time`.
    fn at(&self, time: i64) -> Option<&Candle> {
        let index = usize::try_from((time - self.candles[0].open_time) / MINUTE).ok()?;
        self.candles.get(index).filter(|candle| candle.open_time == time)
    }

    /// Trades whose fills are not the opens of the candles drawn here:
    /// their count and the first, described.
    fn foreign_fills(&self, trades: &[Trade]) -> (usize, Option<String>) {
        let mut wrong = trades.iter().filter_map(|trade| {
            let entry = self.at(trade.entry_time).map(|candle| candle.open);
            if entry != Some(trade.entry_price) {
                return Some(format!(
                    "entry at {} filled at {} where the open drawn is {entry:?}",
                    trade.entry_time, trade.entry_price
                ));
            }
            let exit = self.at(trade.exit_time).map(|candle| candle.open);
            (!trade.closed_at_end && exit != Some(trade.exit_price)).then(|| {
                format!(
                    "exit at {} filled at {} where the open drawn is {exit:?}",
                    trade.exit_time, trade.exit_price
                )
            })
        });
        let first = wrong.next();
        (first.iter().count() + wrong.count(), first)
    }
}

// ---------------------------------------------------------------------------
// The API

/// A signed-in trader and their template script.
#[derive(Clone)]
struct Trader {
    cookies: String,
    script: String,
}

#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    origin: String,
    /// The fee every backtest asks for.
    fee_pct: f64,
}

impl Api {
    fn new(server: &Server, fee_pct: f64) -> Self {
        Self {
            fee_pct,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            origin: server.url(""),
        }
    }

    fn post(&self, trader: &Trader, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.origin))
            .header("origin", &self.origin)
            .header("x-csrf-token", CSRF)
            .header("cookie", &trader.cookies)
    }

    fn get(&self, trader: &Trader, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.origin))
            .header("cookie", &trader.cookies)
    }

    /// Signs `email` up and creates their script from the template.
    async fn sign_up(&self, email: &str) -> Trader {
        let response = self
            .client
            .post(format!("{}/signup", self.origin))
            .header("origin", &self.origin)
            .header("accept", "application/json")
            .header("cookie", format!("inchart_csrf={CSRF}"))
            .form(&[("csrf", CSRF), ("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "sign-up: {}", response.status());
        let mut trader = Trader {
            cookies: format!(
                "inchart_csrf={CSRF}; inchart_access={}",
                cookie_value(&response, "inchart_access").unwrap()
            ),
            script: String::new(),
        };
        let response = self
            .post(&trader, "/api/v1/scripts")
            .json(&json!({ "source": app::scripts::TEMPLATE }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "a script: {}", response.status());
        let created: Value = response.json().await.unwrap();
        trader.script = created["id"].as_str().unwrap().to_string();
        trader
    }

    /// One live run of the trader's script on the newest 1000 candles;
    /// panics unless its signals came back.
    async fn run_once(&self, trader: &Trader) {
        let run: Value = self
            .post(trader, &format!("/api/v1/scripts/{}/runs", trader.script))
            .json(&json!({ "symbol": "BTCUSDT", "interval": "1m" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(run["result"]["Ok"].is_object(), "{run}");
        assert_eq!(run["candles"], 1000, "{run}");
    }

    /// One backtest of the trader's script over `range`, from its `POST`
    /// to the answer that carries its outcome. Panics if it fails, or
    /// takes longer than [`BACKTEST_DEADLINE`].
    async fn backtest(&self, trader: &Trader, (from, to): (i64, i64)) -> Finished {
        let request = BacktestRequest {
            symbol: btcusdt(),
            interval: Interval::M1,
            version: None,
            range: Range {
                from: Some(from),
                to: Some(to),
            },
            settings: Some(settings(self.fee_pct)),
        };
        let path = format!("/api/v1/scripts/{}/backtests", trader.script);
        let started = Instant::now();
        let mut backtest: Backtest = loop {
            let response = self.post(trader, &path).json(&request).send().await.unwrap();
            match response.status() {
                StatusCode::ACCEPTED => break response.json().await.unwrap(),
                // Two of this trader's are still finishing: their status
                // is written a moment after their answer.
                StatusCode::TOO_MANY_REQUESTS if started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                status => panic!(
                    "starting a backtest: {status}: {}",
                    response.text().await.unwrap()
                ),
            }
        };
        let mut loading = None;
        loop {
            match &backtest.status {
                Status::Done => break,
                Status::Failed { message } => panic!("a backtest failed: {message}"),
                Status::Loading { have, want } => loading = Some((*have, *want)),
                Status::Running => {}
            }
            assert!(
                started.elapsed() < BACKTEST_DEADLINE,
                "a backtest took over {BACKTEST_DEADLINE:?}: {:?}",
                backtest.status
            );
            let response = self
                .get(trader, &format!("{path}/{}?wait_ms={WAIT_MS}", backtest.id))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            backtest = response.json().await.unwrap();
        }
        let elapsed = started.elapsed();
        let outcome = *backtest.result.expect("a done backtest carries its outcome");
        Finished {
            elapsed,
            trades: outcome.report.trades,
            list: outcome.trades,
            wall_ms: outcome.wall_ms,
            cpu_ms: outcome.cpu_ms,
            net_profit_pct: outcome.report.net_profit_pct,
            loading,
        }
    }
}

/// A backtest done.
struct Finished {
    elapsed: Duration,
    trades: u32,
    list: Vec<Trade>,
    wall_ms: u64,
    cpu_ms: u64,
    net_profit_pct: f64,
    /// The last progress seen while it loaded older candles.
    loading: Option<(u64, u64)>,
}

// ---------------------------------------------------------------------------
// Memory

/// A line of `/proc/{pid}/status` (`VmRSS:`, `VmHWM:`), in bytes.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Every process below `pid` (the server's: its workers, their zygotes
/// and the runs' children).
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut next = vec![pid];
    while let Some(parent) = next.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(children) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in children.split_whitespace().filter_map(|n| n.parse().ok()) {
                found.push(child);
                next.push(child);
            }
        }
    }
    found
}

/// The most memory seen while a phase ran.
#[derive(Debug, Default, Clone, Copy)]
struct Peaks {
    /// The server's resident size.
    server: u64,
    /// The largest worker process: a process started during the phase (a
    /// run's child) with its high-water mark, one already running with
    /// its resident size.
    worker: u64,
    /// All the worker processes' resident sizes, added at one moment.
    workers: u64,
}

/// Samples the server's and its workers' memory every 20 ms until stopped.
struct MemoryWatch {
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<Peaks>,
}

impl MemoryWatch {
    fn start(server: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let sampler = std::thread::spawn(move || {
            let before: HashSet<u32> = descendants(server).into_iter().collect();
            let mut peaks = Peaks::default();
            loop {
                peaks.server = peaks.server.max(status_bytes(server, "VmRSS:").unwrap_or(0));
                let mut together = 0;
                for pid in descendants(server) {
                    let rss = status_bytes(pid, "VmRSS:").unwrap_or(0);
                    together += rss;
                    let own = if before.contains(&pid) {
                        rss
                    } else {
                        status_bytes(pid, "VmHWM:").unwrap_or(rss)
                    };
                    peaks.worker = peaks.worker.max(own);
                }
                peaks.workers = peaks.workers.max(together);
                if stopped.load(Relaxed) {
                    return peaks;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self { stop, sampler }
    }

    fn stop(self) -> Peaks {
        self.stop.store(true, Relaxed);
        self.sampler.join().unwrap()
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------------------
// InChart

/// What one size measured through the API.
struct Measured {
    size: usize,
    runs: usize,
    warm_up: Duration,
    /// Candles the warm-up had to load (those of the sizes before it were
    /// stored already), and the last progress it reported.
    loaded: usize,
    loading: Option<(u64, u64)>,
    warm_up_peaks: Peaks,
    p50: Duration,
    p99: Duration,
    wall_ms_p50: u64,
    cpu_ms_p50: u64,
    peaks: Peaks,
    trades: u32,
    entries: Vec<i64>,
    net_profit_pct: f64,
    /// Runs whose number of trades differed from the first's.
    unsteady: usize,
    foreign_fills: (usize, Option<String>),
}

async fn measure(
    server: &Server,
    api: &Api,
    trader: &Trader,
    series: &Series<'_>,
    runs: usize,
    loaded: usize,
) -> Measured {
    let watch = MemoryWatch::start(server.pid());
    let first = api.backtest(trader, series.range()).await;
    let warm_up_peaks = watch.stop();
    let watch = MemoryWatch::start(server.pid());
    let mut done = Vec::with_capacity(runs);
    for _ in 0..runs {
        done.push(api.backtest(trader, series.range()).await);
    }
    let peaks = watch.stop();
    let (p50, p99) = quantiles(done.iter().map(|run| run.elapsed).collect());
    let median = |values: Vec<u64>| quantiles(values).0;
    let last = done.last().unwrap();
    Measured {
        size: series.size,
        runs,
        warm_up: first.elapsed,
        loaded,
        loading: first.loading,
        warm_up_peaks,
        p50,
        p99,
        wall_ms_p50: median(done.iter().map(|run| run.wall_ms).collect()),
        cpu_ms_p50: median(done.iter().map(|run| run.cpu_ms).collect()),
        peaks,
        trades: first.trades,
        entries: first.list.iter().map(|trade| trade.entry_time).collect(),
        net_profit_pct: first.net_profit_pct,
        unsteady: done.iter().filter(|run| run.trades != first.trades).count(),
        foreign_fills: series.foreign_fills(&last.list),
    }
}

/// The neighbour's live runs, alone and beside two long backtests.
struct Neighbour {
    alone: (Duration, Duration),
    beside: (Duration, Duration),
    runs_beside: usize,
    /// Of those, runs that started while both backtests were in flight.
    runs_beside_both: usize,
    backtests: u64,
    size: usize,
}

async fn neighbour(api: &Api, series: &Series<'_>, runs: usize) -> Neighbour {
    let quiet = api.sign_up("neighbour@example.com").await;
    let long = api.sign_up("long-backtests@example.com").await;
    for _ in 0..10 {
        api.run_once(&quiet).await;
    }
    let mut alone = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        api.run_once(&quiet).await;
        alone.push(started.elapsed());
    }

    let stop = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicU64::new(0));
    let range = series.range();
    let lanes: Vec<_> = (0..2)
        .map(|_| {
            let (api, long) = (api.clone(), long.clone());
            let (stop, in_flight, finished) = (stop.clone(), in_flight.clone(), finished.clone());
            tokio::spawn(async move {
                while !stop.load(Relaxed) {
                    in_flight.fetch_add(1, Relaxed);
                    api.backtest(&long, range).await;
                    in_flight.fetch_sub(1, Relaxed);
                    finished.fetch_add(1, Relaxed);
                }
            })
        })
        .collect();
    // Let both backtests past their start.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let mut beside = Vec::with_capacity(runs);
    let mut both = 0;
    // At least the runs asked for, and for as long as two backtests take,
    // so that the runs meet every part of one.
    while (beside.len() < runs || finished.load(Relaxed) < 2)
        && started.elapsed() < NEIGHBOUR_DEADLINE
        // A lane that ended by itself has failed: its panic is told below.
        && !lanes.iter().any(|lane| lane.is_finished())
    {
        if in_flight.load(Relaxed) >= 2 {
            both += 1;
        }
        let run = Instant::now();
        api.run_once(&quiet).await;
        beside.push(run.elapsed());
    }
    stop.store(true, Relaxed);
    for lane in lanes {
        lane.await.unwrap();
    }
    Neighbour {
        alone: quantiles(alone),
        runs_beside: beside.len(),
        beside: quantiles(beside),
        runs_beside_both: both,
        backtests: finished.load(Relaxed),
        size: series.size,
    }
}

// ---------------------------------------------------------------------------
// The references

/// One reference process, as it ended.
struct ReferenceRun {
    process: Duration,
    answer: Value,
    peak: u64,
}

/// Reads a pipe to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).unwrap();
        bytes
    })
}

/// Runs the reference `engine` on `file` in a fresh Python process; the
/// runner's words when the engine is not installed.
fn reference_run(
    engine: &str,
    file: &Path,
    warm: bool,
    fee_pct: f64,
    site: &str,
) -> Result<ReferenceRun, String> {
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut command = Command::new(python);
    command
        .arg(REFERENCE)
        .arg(engine)
        .arg(file)
        .args([
            "--capital",
            &CAPITAL.to_string(),
            "--fee-pct",
            &fee_pct.to_string(),
        ])
        .env("PYTHONPATH", site)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if warm {
        command.arg("--warm");
    }
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let pid = child.id();
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let mut peak = 0;
    let mut sampled = Instant::now() - Duration::from_secs(1);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sampled.elapsed() >= Duration::from_millis(20) {
            sampled = Instant::now();
            peak = peak.max(status_bytes(pid, "VmHWM:").unwrap_or(0));
        }
        if started.elapsed() > REFERENCE_DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{engine} took over {REFERENCE_DEADLINE:?} on {}", file.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let process = started.elapsed();
    let stdout = stdout.join().unwrap();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap()).into_owned();
    let answer: Option<Value> = stdout
        .split(|&byte| byte == b'\n')
        .find(|line| !line.is_empty())
        .and_then(|line| serde_json::from_slice(line).ok());
    if status.code() == Some(3)
        && let Some(missing) = answer.as_ref().filter(|answer| answer["missing"].is_string())
    {
        return Err(missing["error"].as_str().unwrap_or("not importable").to_string());
    }
    let tail: String = stderr
        .lines()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        status.success(),
        "{engine} on {} ended with {status}:\n{tail}",
        file.display()
    );
    let answer = answer.unwrap_or_else(|| panic!("{engine} printed no answer:\n{tail}"));
    Ok(ReferenceRun {
        process,
        answer,
        peak,
    })
}

/// One reference on one size.
struct ReferenceMeasured {
    process_p50: Duration,
    call_p50: f64,
    warm_call: f64,
    peak: u64,
    trades: u64,
    entries: Vec<i64>,
    net_profit_pct: f64,
    runs: usize,
}

/// A reference on every size, or `None` when vectorbt is not installed.
/// backtesting.py must be: the benchmark fails without it.
fn reference(
    engine: &str,
    name: &str,
    series: &[Series<'_>],
    options: &Options,
    site: &str,
) -> Option<Vec<ReferenceMeasured>> {
    // Unmeasured: the file cache, Python's bytecode and numba's cache.
    let first = match reference_run(engine, &series[0].file, false, options.fee_pct, site) {
        Ok(first) => first,
        Err(error) if engine == "vectorbt" => {
            println!("note: vectorbt is not installed in INCHART_REFERENCE_SITE ({site}): {error}; skipped");
            return None;
        }
        Err(error) => panic!(
            "{name} must be installed in INCHART_REFERENCE_SITE ({site}): {error}; run scripts/setup.sh's \
             setup_reference"
        ),
    };
    println!(
        "{name} {} ready ({:.1} s for its first run)",
        first.answer["version"].as_str().unwrap_or("?"),
        first.process.as_secs_f64()
    );
    let measured = series
        .iter()
        .map(|one| {
            let runs = options.reference_runs(one.size);
            let done: Vec<ReferenceRun> = (0..runs)
                .map(|_| reference_run(engine, &one.file, false, options.fee_pct, site).unwrap())
                .collect();
            let warm = reference_run(engine, &one.file, true, options.fee_pct, site).unwrap();
            let seconds = |run: &ReferenceRun, key: &str| run.answer[key].as_f64().unwrap();
            let calls: Vec<Duration> = done
                .iter()
                .map(|run| Duration::from_secs_f64(seconds(run, "call_s")))
                .collect();
            let answer = &done[0].answer;
            ReferenceMeasured {
                process_p50: quantiles(done.iter().map(|run| run.process).collect()).0,
                call_p50: quantiles(calls).0.as_secs_f64(),
                warm_call: seconds(&warm, "warm_call_s"),
                peak: done.iter().map(|run| run.peak).max().unwrap_or(0),
                trades: answer["trades"].as_u64().unwrap(),
                entries: answer["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|time| time.as_i64().unwrap())
                    .collect(),
                net_profit_pct: answer["net_profit_pct"].as_f64().unwrap(),
                runs,
            }
        })
        .collect();
    Some(measured)
}

// ---------------------------------------------------------------------------

/// Nearest-rank p50 and p99.
fn quantiles<T: Ord + Copy>(mut samples: Vec<T>) -> (T, T) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    (at(0.5), at(0.99))
}

fn secs(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Warns when two backtesters made different trades on the same candles
/// (each given as its name, its trades' entry times and its net profit in
/// percent), saying where they part.
fn warn_if_different(
    size: &str,
    (a, ours, a_profit): (&str, &[i64], f64),
    (b, theirs, b_profit): (&str, &[i64], f64),
) {
    if ours == theirs {
        return;
    }
    let agree = ours.iter().zip(theirs).take_while(|(x, y)| x == y).count();
    let mut why = if agree < ours.len().min(theirs.len()) {
        format!(
            "trade {agree} is the first to differ: {a} entered at {}, {b} at {}",
            ours[agree], theirs[agree]
        )
    } else {
        let stopped = if ours.len() < theirs.len() { a } else { b };
        format!("the first {agree} agree, then {stopped} made no more")
    };
    if a_profit.min(b_profit) <= -99.9 {
        why.push_str(&format!(
            " (net profit {a_profit:.3}% and {b_profit:.3}%: with a fee, all the equity in every trade loses \
             nearly all of it over a long range, and each backtester trades the last dust its own way, \
             backtesting.py in whole satoshis; `--fee-pct 0` keeps the equity and compares every trade)"
        ));
    }
    println!(
        "WARNING: {size} candles: {a} made {} trades and {b} {}; the comparison is meaningless until they \
         agree: {why}",
        ours.len(),
        theirs.len()
    );
}

async fn bench(options: Options, reference_site: String) {
    let largest = *options.sizes.last().unwrap();
    let last = now_ms() / DAY * DAY - MINUTE;
    let first = last - (largest as i64 - 1) * MINUTE;
    let drawing = Instant::now();
    let candles = draw_candles(first, last);
    let drawn_in = drawing.elapsed();
    let folder = std::env::temp_dir().join(format!("inchart-bench-backtests-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let series: Vec<Series<'_>> = options
        .sizes
        .iter()
        .map(|&size| {
            let file = folder.join(format!("candles-{size}.bin"));
            let candles = &candles[candles.len() - size..];
            write_columns(&file, candles);
            Series { size, candles, file }
        })
        .collect();
    println!(
        "drew {} 1m candles of BTCUSDT (open times {first} to {last}) in {}",
        thousands(largest),
        secs(drawn_in)
    );

    let mut measured = Vec::new();
    let mut beside = None;
    if !options.references_only {
        let database = BenchDatabase::create("inchart_bench_backtests").await;
        let server = Server::start(&env_for(&database, largest));
        server.wait_until_filled().await;
        let api = Api::new(&server, options.fee_pct);
        let trader = api.sign_up("backtests@example.com").await;
        let mut stored = 0;
        for one in &series {
            let runs = options.runs(one.size);
            let figures = measure(&server, &api, &trader, one, runs, one.size - stored).await;
            stored = one.size;
            println!(
                "{} candles: warm-up {}, then p50 {} over {runs} runs",
                thousands(one.size),
                secs(figures.warm_up),
                secs(figures.p50),
            );
            measured.push(figures);
        }
        beside = Some(neighbour(&api, series.last().unwrap(), options.neighbour_runs).await);
        drop(server);
        database.drop_now().await;
    }

    let references: Vec<(&str, Option<Vec<ReferenceMeasured>>)> = ENGINES
        .iter()
        .map(|&(engine, name)| (name, reference(engine, name, &series, &options, &reference_site)))
        .collect();
    std::fs::remove_dir_all(&folder).ok();

    print_figures(&options, &measured, &references);
    if let Some(neighbour) = beside {
        print_neighbour(&neighbour);
    }
}

fn print_figures(
    options: &Options,
    measured: &[Measured],
    references: &[(&str, Option<Vec<ReferenceMeasured>>)],
) {
    println!();
    let sizes = &options.sizes;
    println!("## Strategy backtests: the template MA cross, end to end through the API");
    println!(
        "{} USDT, one BTC a trade, {}% fee per side, long only, filled at the next open",
        thousands(CAPITAL as usize),
        options.fee_pct
    );
    let header: Vec<String> = sizes
        .iter()
        .map(|&size| format!("{} candles", thousands(size)))
        .collect();
    println!("| measurement | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(sizes.len()));
    let row = |label: &str, cells: Vec<String>| println!("| {label} | {} |", cells.join(" | "));
    if !measured.is_empty() {
        let each = |cell: &dyn Fn(&Measured) -> String| measured.iter().map(cell).collect::<Vec<_>>();
        row("InChart, history stored: p50", each(&|m| secs(m.p50)));
        row(
            "InChart, history stored: p99",
            each(&|m| format!("{} ({})", secs(m.p99), plural(m.runs, "run"))),
        );
        row(
            "InChart: the server's `wall_ms`, p50",
            each(&|m| format!("{} ms", m.wall_ms_p50)),
        );
        row(
            "InChart: the script's `cpu_ms`, p50",
            each(&|m| format!("{} ms", m.cpu_ms_p50)),
        );
        row(
            "InChart: server peak RSS",
            each(&|m| format!("{:.0} MiB", mib(m.peaks.server))),
        );
        row(
            "InChart: largest worker process (all workers)",
            each(&|m| format!("{:.0} MiB ({:.0} MiB)", mib(m.peaks.worker), mib(m.peaks.workers))),
        );
        row(
            "warm-up: first backtest, loading older candles",
            each(&|m| format!("{} ({} new)", secs(m.warm_up), thousands(m.loaded))),
        );
        row(
            "warm-up: server peak RSS (largest worker)",
            each(&|m| {
                format!(
                    "{:.0} MiB ({:.0} MiB)",
                    mib(m.warm_up_peaks.server),
                    mib(m.warm_up_peaks.worker)
                )
            }),
        );
    }
    for (name, reference) in references {
        let Some(reference) = reference else {
            row(name, sizes.iter().map(|_| "not installed".into()).collect());
            continue;
        };
        let cells =
            |cell: &dyn Fn(&ReferenceMeasured) -> String| reference.iter().map(cell).collect::<Vec<_>>();
        row(
            &format!("{name}: fresh process, p50"),
            cells(&|r| format!("{} ({})", secs(r.process_p50), plural(r.runs, "run"))),
        );
        row(
            &format!("{name}: the backtest call alone, p50"),
            cells(&|r| format!("{:.2} s", r.call_p50)),
        );
        row(
            &format!("{name}: the call again, same process"),
            cells(&|r| format!("{:.2} s", r.warm_call)),
        );
        row(
            &format!("{name}: peak memory"),
            cells(&|r| format!("{:.0} MiB", mib(r.peak))),
        );
    }
    // Trades and net profit side by side: InChart's first, then each
    // installed reference's.
    let installed: Vec<(&str, &Vec<ReferenceMeasured>)> = references
        .iter()
        .filter_map(|(name, reference)| Some((*name, reference.as_ref()?)))
        .collect();
    let mut names: Vec<&str> = installed.iter().map(|(name, _)| *name).collect();
    if !measured.is_empty() {
        names.insert(0, "InChart");
    }
    let side_by_side = |ours: &dyn Fn(&Measured) -> String, theirs: &dyn Fn(&ReferenceMeasured) -> String| {
        (0..sizes.len())
            .map(|i| {
                let cells: Vec<String> = measured
                    .get(i)
                    .map(ours)
                    .into_iter()
                    .chain(installed.iter().map(|(_, reference)| theirs(&reference[i])))
                    .collect();
                cells.join(" / ")
            })
            .collect::<Vec<_>>()
    };
    row(
        &format!("trades: {}", names.join(" / ")),
        side_by_side(&|m| m.trades.to_string(), &|r| r.trades.to_string()),
    );
    row(
        &format!("net profit %: {}", names.join(" / ")),
        side_by_side(&|m| format!("{:.3}", m.net_profit_pct), &|r| {
            format!("{:.3}", r.net_profit_pct)
        }),
    );
    println!();

    for (i, &size) in sizes.iter().enumerate() {
        let size = thousands(size);
        let Some(m) = measured.get(i) else {
            if let [(first, one), (second, other), ..] = installed[..] {
                warn_if_different(
                    &size,
                    (first, &one[i].entries, one[i].net_profit_pct),
                    (second, &other[i].entries, other[i].net_profit_pct),
                );
            }
            continue;
        };
        if m.unsteady > 0 {
            println!(
                "WARNING: {size} candles: {} runs made a different number of trades than the first",
                m.unsteady
            );
        }
        if let (wrong, Some(first)) = &m.foreign_fills {
            println!(
                "WARNING: {size} candles: {wrong} trades did not fill at the candles drawn here (first: {first}); \
                 the references traded other candles"
            );
        }
        for (name, reference) in &installed {
            let theirs = &reference[i];
            if u64::from(m.trades) != theirs.trades {
                println!(
                    "WARNING: {size} candles: InChart's report counts {} trades and {name} {}",
                    m.trades, theirs.trades
                );
            }
            warn_if_different(
                &size,
                ("InChart", &m.entries, m.net_profit_pct),
                (name, &theirs.entries, theirs.net_profit_pct),
            );
            println!(
                "{size} candles, {name} vs InChart p50: fresh process {:.1}x, the call alone {:.1}x, \
                 the call again {:.1}x (above 1: InChart is faster)",
                theirs.process_p50.as_secs_f64() / m.p50.as_secs_f64(),
                theirs.call_p50 / m.p50.as_secs_f64(),
                theirs.warm_call / m.p50.as_secs_f64(),
            );
        }
        if m.size >= 1_000_000 {
            let target = Duration::from_secs(3);
            println!(
                "{size} candles end to end: p50 {}, p99 {} (target: under 3 s): {}",
                secs(m.p50),
                secs(m.p99),
                match (m.p50 < target, m.p99 < target) {
                    (_, true) => "met",
                    (true, false) => "met at p50, not at p99",
                    (false, false) => "NOT met",
                }
            );
        }
        if let Some((have, want)) = m.loading {
            println!("{size} candles: the warm-up's last progress read {have} of {want}");
        }
    }
}

fn print_neighbour(neighbour: &Neighbour) {
    println!();
    println!("| a neighbour's live run on 1000 candles | p50 | p99 | runs |");
    println!("|---|---:|---:|---:|");
    println!(
        "| alone | {:.1} ms | {:.1} ms | |",
        ms(neighbour.alone.0),
        ms(neighbour.alone.1)
    );
    println!(
        "| beside two backtests of {} candles ({} finished meanwhile) | {:.1} ms | {:.1} ms | {} ({} with both in \
         flight) |",
        thousands(neighbour.size),
        neighbour.backtests,
        ms(neighbour.beside.0),
        ms(neighbour.beside.1),
        neighbour.runs_beside,
        neighbour.runs_beside_both
    );
    println!();
    println!(
        "neighbour beside two long backtests vs alone: p50 {:.2}x, p99 {:.2}x",
        ms(neighbour.beside.0) / ms(neighbour.alone.0),
        ms(neighbour.beside.1) / ms(neighbour.alone.1)
    );
}
