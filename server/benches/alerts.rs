//! `cargo bench -p server --bench alerts`: alerts firing at once (issue 19),
//! from a candle's close on the exchange to the webhook received, printed
//! as figures (BENCHMARKS.md records them).
//!
//! The real `inchart serve` (PostgreSQL, Redis) follows a fake Binance
//! carrying the ten default symbols at every interval: 60 series, which
//! all close together at midnight UTC (the fake's clock is moved to just
//! before it). N price alerts (1,000, then 10,000, each on a fresh server,
//! database and fake), spread evenly over the 60 series, each cross the
//! price its series' forming candle will close at, and post to a webhook
//! receiver in this process. The clock then crosses midnight: every
//! series closes at once and every alert fires. Latency is from the moment
//! the fake is told to close (it sends the closes to the server at once)
//! to the moment the receiver has the request: p50, p99 and the slowest,
//! and the receiver counts what came: firings delivered, duplicates (one
//! webhook-id twice) and missing ones, after waiting up to 30 s.
//!
//! Arguments: `--sizes 1000,10000`. Every phase is bounded in count and
//! time. Needs PostgreSQL and Redis, as the tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use futures::StreamExt;
use inchart_api::market::{Interval, Symbol};
use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig};
use serde_json::{Value, json};
use support::{BenchDatabase, Server, ms};

const CSRF: &str = "benchmark-csrf-token-benchmark-csrf-token";
const PASSWORD: &str = "correct horse battery staple 42";
const SYMBOLS: &str = "BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,TRXUSDT,AVAXUSDT,LINKUSDT";
const DAY_MS: i64 = 86_400_000;

/// What the receiver heard: each webhook-id with when it came.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<(String, Instant)>>>);

async fn receive(State(heard): State<Heard>, headers: HeaderMap) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    heard.0.lock().unwrap().push((id, Instant::now()));
    StatusCode::NO_CONTENT
}

async fn start_receiver() -> (String, Heard) {
    let heard = Heard::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(heard.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, heard)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn phase(size: usize) {
    let symbols: Vec<Symbol> = SYMBOLS.split(',').map(|s| Symbol::parse(s).unwrap()).collect();
    let fake = FakeBinance::start(FakeBinanceConfig {
        symbols: symbols.clone(),
        history: Duration::from_secs(3 * 3600),
        ..FakeBinanceConfig::default()
    })
    .await
    .unwrap();
    // A minute before midnight (UTC) of the fake's clock, so that all 60
    // series close at once on the next minute.
    let now = fake.now_ms();
    let before_midnight = (now - now.rem_euclid(DAY_MS) + DAY_MS) - 59_000;
    fake.advance(Duration::from_millis((before_midnight - now) as u64));
    let database = BenchDatabase::create("bench_alerts").await;
    let server = Server::start(&[
        ("DATABASE_URL", database.url.clone()),
        ("REDIS_URL", database.redis_url.clone()),
        ("INCHART_CACHE_PREFIX", database.name.clone()),
        ("INCHART_SYMBOLS", SYMBOLS.to_string()),
        ("INCHART_BACKFILL", "3h".to_string()),
        ("INCHART_FEED", "binance".to_string()),
        ("INCHART_BINANCE_REST_URL", fake.rest_url()),
        ("INCHART_BINANCE_WS_URL", fake.ws_url()),
        ("INCHART_ALERTS_ALLOW_LOOPBACK", "yes".to_string()),
        (
            "INCHART_FREE_LIMITS",
            "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,alerts=20000,firings=100000,webhooks=yes"
                .to_string(),
        ),
    ]);
    server.wait_until_filled().await;
    let (hook, heard) = start_receiver().await;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let origin = server.url("");
    let response = client
        .post(server.url("/signup"))
        .header("origin", &origin)
        .header("accept", "application/json")
        .header("cookie", format!("inchart_csrf={CSRF}"))
        .form(&[
            ("csrf", CSRF),
            ("email", "alerts@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "sign-up: {}", response.status());
    let access = response
        .cookies()
        .find(|cookie| cookie.name() == "inchart_access")
        .unwrap()
        .value()
        .to_string();
    let cookies = format!("inchart_csrf={CSRF}; inchart_access={access}");

    // Each series' forming candle moved off its last close: the price it
    // will close at is the level its alerts cross.
    let mut levels: Vec<(Symbol, Interval, f64)> = Vec::new();
    for symbol in &symbols {
        for interval in Interval::ALL {
            // The price before the close is the previous close when the
            // server heard it live, the candle's open otherwise: the level
            // differs from both, so the alert crosses it either way.
            let candles = fake.candles(symbol, interval);
            let previous = candles.len().checked_sub(2).map(|at| candles[at].close);
            let level = loop {
                fake.tick_series(symbol, interval);
                let forming = *fake.candles(symbol, interval).last().unwrap();
                if forming.close != forming.open && Some(forming.close) != previous {
                    break forming.close;
                }
            };
            levels.push((symbol.clone(), interval, level));
        }
    }
    let created = Instant::now();
    let results: Vec<StatusCode> = futures::stream::iter(0..size)
        .map(|n| {
            let (symbol, interval, level) = levels[n % levels.len()].clone();
            let request = client
                .post(server.url("/api/v1/alerts"))
                .header("origin", &origin)
                .header("x-csrf-token", CSRF)
                .header("cookie", &cookies)
                .json(&json!({
                    "symbol": symbol, "interval": interval,
                    "condition": { "kind": "crossing", "level": level },
                    "channels": { "webhook": { "url": hook } }
                }));
            async move { request.send().await.unwrap().status() }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(
        results.iter().all(|status| *status == StatusCode::CREATED),
        "{results:?}"
    );
    println!(
        "  {size} alerts created in {:.1} s through the API",
        created.elapsed().as_secs_f64()
    );
    // Every alert read by the instance before the close (its index is
    // kept at most a second).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let closed = Instant::now();
    fake.advance(Duration::from_millis(60_000));
    let deadline = closed + Duration::from_secs(30);
    while heard.0.lock().unwrap().len() < size && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A moment more, for duplicates.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let heard = heard.0.lock().unwrap().clone();
    let mut first: HashMap<String, Instant> = HashMap::new();
    for (id, at) in &heard {
        first.entry(id.clone()).or_insert(*at);
    }
    let mut latencies: Vec<Duration> = first.values().map(|at| at.duration_since(closed)).collect();
    latencies.sort();
    let duplicates = heard.len() - first.len();
    let missing = size.saturating_sub(first.len());
    println!(
        "  {size} firings at one close over 60 series: delivered {}, duplicates {duplicates}, missing {missing}",
        first.len()
    );
    println!(
        "  close → webhook received: p50 {:.0} ms, p99 {:.0} ms, slowest {:.0} ms",
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    let firings: Value = client
        .get(server.url("/api/v1/alerts"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = firings.as_array().unwrap();
    let fired = listed.iter().filter(|alert| alert["firings"] == 1).count();
    println!(
        "  the API lists {} of them (at most 1,000, newest first): {fired} fired once",
        listed.len()
    );
    drop(server);
    database.drop_now().await;
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args
        .iter()
        .position(|arg| arg == "--sizes")
        .and_then(|at| args.get(at + 1))
        .map_or_else(
            || vec![1000, 10_000],
            |list| list.split(',').map(|n| n.parse().unwrap()).collect(),
        );
    println!("alerts: close → signed webhook received, one server (PostgreSQL, Redis), 2 cores");
    for size in sizes {
        phase(size).await;
    }
}
