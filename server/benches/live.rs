//! `cargo bench -p server --bench live`: how far live market data scales on
//! this machine, printed as figures (BENCHMARKS.md records them).
//!
//! - **fanout**: a fake Binance updates every series once a second (the
//!   60 series spread across the second, as Binance's streams are); the
//!   real `inchart serve` holds 1k, 5k, 10k and 20k WebSocket clients, each
//!   following one series. For each level: tick-to-client latency as the
//!   clients see it (exchange event time to frame read), the server's own
//!   fan-out time (frame received to last socket write, from `/metrics`),
//!   and the server's resident memory per client. The baseline is one
//!   client, measured first in the same run.
//! - **candles**: `GET /api/v1/candles` for 1000 candles at 64 concurrent
//!   connections: the newest 1000 (an encoded answer kept until the series
//!   changes), the newest 999 (read from the Redis window every time) and
//!   1000 up to an end (read from PostgreSQL every time), next to
//!   `/healthz` as the baseline measured in the same run.
//!
//! Arguments: `fanout`, `candles` (both without either); `--burst` ticks
//! every series at the same instant (the worst case: an hour's end closes
//! the 1m to 1h candles of every symbol at once);
//! `--levels 1000,5000` to choose fan-out levels; `--seconds N` per
//! measurement (default 60 for fan-out, so that every level includes a
//! minute's end, when every 1m candle closes at once; 5 for candles). Both need nothing
//! but 127.0.0.1; `candles` needs PostgreSQL and Redis
//! (`INCHART_TEST_POSTGRES_URL`, `INCHART_TEST_REDIS_URL`, as the tests).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use inchart::platform::metrics::Histogram;
use inchart_api::market::{Interval, Symbol};
use inchart_api::stream::ClientMessage;
use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use support::{BenchDatabase, Server, hammer, ms};

const SYMBOLS: &str = "BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,TRXUSDT,AVAXUSDT,LINKUSDT";

struct Options {
    fanout: bool,
    candles: bool,
    levels: Vec<usize>,
    seconds: Option<u64>,
    burst: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut options = Options {
        fanout: args.iter().any(|a| a == "fanout"),
        candles: args.iter().any(|a| a == "candles"),
        burst: args.iter().any(|a| a == "--burst"),
        levels: vec![1_000, 5_000, 10_000, 20_000],
        seconds: None,
    };
    if !options.fanout && !options.candles {
        options.fanout = true;
        options.candles = true;
    }
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--levels" => {
                options.levels = rest
                    .next()
                    .unwrap()
                    .split(',')
                    .map(|n| n.parse().unwrap())
                    .collect();
            }
            "--seconds" => options.seconds = Some(rest.next().unwrap().parse().unwrap()),
            _ => {}
        }
    }
    options
}

fn main() {
    // One load generator thread per core is what the server gets too.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let options = options();
    runtime.block_on(async {
        if options.fanout {
            fanout(
                &options.levels,
                Duration::from_secs(options.seconds.unwrap_or(60)),
                options.burst,
            )
            .await;
        }
        if options.candles {
            candles(Duration::from_secs(options.seconds.unwrap_or(5))).await;
        }
    });
}

/// The settings that point the server at `fake`.
fn binance_env(fake: &FakeBinance) -> [(&'static str, String); 3] {
    [
        ("INCHART_FEED", "binance".to_string()),
        ("INCHART_BINANCE_REST_URL", fake.rest_url()),
        ("INCHART_BINANCE_WS_URL", fake.ws_url()),
    ]
}

/// Quantile of a difference of the server's fine buckets; the first of
/// them ends at 2^(33/8) µs, as `Histogram::render` writes them.
fn server_quantile(before: &[u64], after: &[u64], q: f64) -> Duration {
    let difference: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let mut padded = vec![0u64; 32];
    padded.extend(difference);
    Histogram::quantile_of(&padded, q)
}

struct Load {
    latency: Histogram,
    frames: AtomicU64,
    snapshots: AtomicUsize,
    failed: AtomicUsize,
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// One chart: follows `series`, records each update's latency.
async fn client(url: String, symbol: Symbol, interval: Interval, load: Arc<Load>) {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async_with_config(url, Some(config), false).await else {
        load.failed.fetch_add(1, Relaxed);
        return;
    };
    let subscribe = ClientMessage::Subscribe {
        symbol,
        interval,
        since: None,
    };
    if ws
        .send(Message::Text(serde_json::to_string(&subscribe).unwrap().into()))
        .await
        .is_err()
    {
        load.failed.fetch_add(1, Relaxed);
        return;
    }
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else { continue };
        if text.starts_with(r#"{"type":"snapshot""#) {
            load.snapshots.fetch_add(1, Relaxed);
        } else if let Some(rest) = text.split(r#""event_time":"#).nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(event_ms) = digits.parse::<i64>() {
                let micros = now_micros() - event_ms * 1000;
                load.latency.record_micros(micros.max(0) as u64);
                load.frames.fetch_add(1, Relaxed);
            }
        }
    }
    load.failed.fetch_add(1, Relaxed);
}

async fn fanout(levels: &[usize], seconds: Duration, burst: bool) {
    if burst {
        println!("## WebSocket fan-out, every series updated at the same instant");
    } else {
        println!("## WebSocket fan-out");
    }
    let symbols: Vec<Symbol> = SYMBOLS.split(',').map(|s| Symbol::parse(s).unwrap()).collect();
    let fake = Arc::new(
        FakeBinance::start(FakeBinanceConfig {
            symbols: symbols.clone(),
            history: Duration::from_secs(3 * 3600),
            ..FakeBinanceConfig::default()
        })
        .await
        .unwrap(),
    );
    let database = std::env::temp_dir().join(format!("inchart-bench-{}.db", std::process::id()));
    let server = Server::start(
        &[
            (
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", database.display()),
            ),
            ("INCHART_SYMBOLS", SYMBOLS.to_string()),
            ("INCHART_BACKFILL", "2h".to_string()),
        ]
        .into_iter()
        .chain(binance_env(&fake))
        .collect::<Vec<_>>(),
    );
    server.wait_until_filled().await;
    let series: Vec<(Symbol, Interval)> = symbols
        .iter()
        .flat_map(|s| Interval::ALL.into_iter().map(move |i| (s.clone(), i)))
        .collect();
    println!(
        "{} series, each updated once a second; {}s a level; server RSS at rest {:.1} MiB",
        series.len(),
        seconds.as_secs(),
        server.rss() as f64 / 1048576.0
    );
    println!(
        "| clients | held | client p50 | client p99 | server p50 | server p99 | RSS/client | coalesced | dropped |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let ws_url = format!("ws://127.0.0.1:{}/ws", server.port);
    let load = Arc::new(Load {
        latency: Histogram::default(),
        frames: AtomicU64::new(0),
        snapshots: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
    });
    let rest_rss = server.rss();
    let mut opened = 0usize;
    let mut ticker = None;
    // Each client is a socket in both processes; leave room for the rest.
    let open_files = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    let most = usize::try_from(open_files.saturating_sub(500)).unwrap_or(usize::MAX);
    for &wanted in std::iter::once(&1).chain(levels) {
        let level = wanted.min(most);
        if level < wanted {
            println!(
                "({wanted} clients need more than this process's open-file limit of {open_files}; measuring {level})"
            );
        }
        // Open clients up to the level, 256 handshakes at a time.
        let target = level;
        while opened < target {
            let batch = (target - opened).min(256);
            for index in opened..opened + batch {
                let (symbol, interval) = series[index % series.len()].clone();
                tokio::spawn(client(ws_url.clone(), symbol, interval, load.clone()));
            }
            opened += batch;
            let deadline = Instant::now() + Duration::from_secs(20);
            while load.snapshots.load(Relaxed) + load.failed.load(Relaxed) < opened
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let held = load.snapshots.load(Relaxed) - load.failed.load(Relaxed).min(load.snapshots.load(Relaxed));
        if ticker.is_none() {
            ticker = Some(if burst {
                fake.spawn_ticker(Duration::from_secs(1))
            } else {
                tokio::spawn(staggered_ticks(fake.clone(), series.clone()))
            });
        }
        // Let the level settle, then measure.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let client_before = load.latency.counts();
        let server_before = server.fanout_buckets().await;
        let coalesced_before = server.metric("inchart_ws_coalesced_total").await;
        let frames_before = load.frames.load(Relaxed);
        tokio::time::sleep(seconds).await;
        let client_after = load.latency.counts();
        let server_after = server.fanout_buckets().await;
        let difference: Vec<u64> = client_after
            .iter()
            .zip(&client_before)
            .map(|(a, b)| a - b)
            .collect();
        let frames = load.frames.load(Relaxed) - frames_before;
        let expected = (held as u64) * seconds.as_secs();
        let rss_per_client = server.rss().saturating_sub(rest_rss) / held.max(1) as u64;
        let dropped = server.metric("inchart_ws_slow_dropped_total").await;
        let coalesced = server.metric("inchart_ws_coalesced_total").await - coalesced_before;
        println!(
            "| {level} | {held} | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms | {:.1} KiB | {coalesced} | {dropped} |",
            ms(Histogram::quantile_of(&difference, 0.5)),
            ms(Histogram::quantile_of(&difference, 0.99)),
            ms(server_quantile(&server_before, &server_after, 0.5)),
            ms(server_quantile(&server_before, &server_after, 0.99)),
            rss_per_client as f64 / 1024.0,
        );
        if frames + frames / 50 < expected {
            println!("(clients read {frames} updates of about {expected} expected)");
        }
        if held < level {
            println!(
                "(stopped: {} of {level} clients connected; the open-file limit is {:?})",
                held,
                rlimit::getrlimit(rlimit::Resource::NOFILE).ok()
            );
            break;
        }
    }
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    drop(server);
    let _ = std::fs::remove_file(database);
    println!();
}

/// One update per series per second, the series spread evenly across the
/// second, as Binance's streams (each on its own phase) deliver them.
async fn staggered_ticks(fake: Arc<FakeBinance>, series: Vec<(Symbol, Interval)>) {
    let start = tokio::time::Instant::now();
    let gap = Duration::from_secs(1) / series.len() as u32;
    for second in 0u32.. {
        for (index, (symbol, interval)) in series.iter().enumerate() {
            tokio::time::sleep_until(start + Duration::from_secs(second.into()) + gap * index as u32).await;
            fake.tick_series(symbol, *interval);
        }
    }
}

async fn candles(seconds: Duration) {
    println!("## GET /api/v1/candles, 1000 candles, 64 connections");
    let database = BenchDatabase::create("inchart_bench").await;

    let symbols = "BTCUSDT,ETHUSDT";
    let fake = FakeBinance::start(FakeBinanceConfig {
        symbols: symbols.split(',').map(|s| Symbol::parse(s).unwrap()).collect(),
        history: Duration::from_secs(2 * 86_400),
        ..FakeBinanceConfig::default()
    })
    .await
    .unwrap();
    let server = Server::start(
        &[
            ("DATABASE_URL", database.url.clone()),
            ("REDIS_URL", database.redis_url.clone()),
            ("INCHART_CACHE_PREFIX", database.name.clone()),
            ("INCHART_SYMBOLS", symbols.to_string()),
            ("INCHART_BACKFILL", "1d".to_string()),
        ]
        .into_iter()
        .chain(binance_env(&fake))
        .collect::<Vec<_>>(),
    );
    server.wait_until_filled().await;
    let ticker = fake.spawn_ticker(Duration::from_secs(1));

    let future_end = fake.now_ms() + 86_400_000;
    let cases = [
        ("/healthz (baseline)", "/healthz".to_string(), None),
        (
            "latest 1000 (encoded answer kept per change)",
            "/api/v1/candles?symbol=BTCUSDT&interval=1m&limit=1000".to_string(),
            Some("window"),
        ),
        (
            "latest 999 (Redis window read each time)",
            "/api/v1/candles?symbol=BTCUSDT&interval=1m&limit=999".to_string(),
            Some("window"),
        ),
        (
            "1000 up to an end (PostgreSQL)",
            format!("/api/v1/candles?symbol=BTCUSDT&interval=1m&limit=1000&end={future_end}"),
            Some("miss"),
        ),
    ];
    println!("| read | served by | requests/s | p50 | p99 | p99 / baseline p99 |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut baseline_p99 = None;
    for (label, path, expected_source) in cases {
        let url = server.url(&path);
        let probe = reqwest::get(&url).await.unwrap();
        let served_by = probe
            .headers()
            .get("x-inchart-cache")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_else(|| "-".into());
        if let Some(expected) = expected_source {
            assert_eq!(served_by, expected, "{label} was not served as intended");
            let body: serde_json::Value = probe.json().await.unwrap();
            assert!(body["candles"].as_array().unwrap().len() >= 999, "{label}");
        }
        let target = url.clone();
        let (rate, p50, p99) = hammer(64, seconds, move |client| client.get(&target)).await;
        let baseline = *baseline_p99.get_or_insert(p99);
        println!(
            "| {label} | {served_by} | {rate:.0} | {:.2} ms | {:.2} ms | {:.1}× |",
            ms(p50),
            ms(p99),
            p99.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    ticker.abort();
    drop(server);
    database.drop_now().await;
    println!();
}
