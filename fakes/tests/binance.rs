//! The fake Binance over real sockets, as a client sees it: REST with
//! reqwest, streams with tokio-tungstenite.

// A test's helpers fail the test by panicking, like its assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use inchart_api::market::{Interval, Symbol};
use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig, Malformed};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const MINUTE_MS: i64 = 60_000;

fn btc() -> Symbol {
    Symbol::parse("BTCUSDT").unwrap()
}

fn eth() -> Symbol {
    Symbol::parse("ETHUSDT").unwrap()
}

async fn start() -> FakeBinance {
    start_with(FakeBinanceConfig::default()).await
}

async fn start_with(config: FakeBinanceConfig) -> FakeBinance {
    let fake = FakeBinance::start(config).await.unwrap();
    // One second into a fresh minute of the fake's clock: no 1m candle, and no
    // weight window, ends during a test by accident.
    let to_next_minute = MINUTE_MS - fake.now_ms().rem_euclid(MINUTE_MS);
    fake.advance(Duration::from_millis(
        u64::try_from(to_next_minute + 1_000).unwrap(),
    ));
    fake
}

async fn get(fake: &FakeBinance, path_and_query: &str) -> reqwest::Response {
    reqwest::get(format!("{}{path_and_query}", fake.rest_url()))
        .await
        .unwrap()
}

async fn get_json(fake: &FakeBinance, path_and_query: &str) -> (u16, Value) {
    let response = get(fake, path_and_query).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn connect(fake: &FakeBinance, path: &str) -> Ws {
    let (ws, _) = connect_async(format!("{}{path}", fake.ws_url())).await.unwrap();
    ws
}

/// Waits until the fake has registered `n` open streams.
async fn streams_open(fake: &FakeBinance, n: usize) {
    eventually(|| fake.stream_connections() == n).await;
}

async fn eventually(condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the condition did not hold within 5 s");
}

/// The next text frame, skipping pings; panics on anything else.
async fn next_text(ws: &mut Ws) -> String {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("the stream ended")
            .expect("the stream failed");
        match message {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    serde_json::from_str(&next_text(ws).await).unwrap()
}

/// Asserts nothing but pings arrives for `quiet`.
async fn expect_silence(ws: &mut Ws, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + quiet;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => panic!("expected silence, got {other:?}"),
        }
    }
}

/// How a stream ended: `Some(code)` for a close frame, `None` when the TCP
/// connection just ended.
async fn ending(ws: &mut Ws) -> Option<u16> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("the stream did not end within 5 s");
        match next {
            Some(Ok(Message::Close(frame))) => return Some(frame.map_or(1005, |f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

fn kline_of(event: &Value) -> &Value {
    assert_eq!(event["e"], "kline", "{event}");
    &event["k"]
}

fn decimal8(value: &Value) -> f64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"));
    let (_, decimals) = text.split_once('.').unwrap();
    assert_eq!(decimals.len(), 8, "{text} has not 8 decimals");
    text.parse().unwrap()
}

#[tokio::test]
async fn ping_time_and_weight_headers() {
    let fake = start().await;
    let (status, body) = get_json(&fake, "/api/v3/ping").await;
    assert_eq!((status, body), (200, serde_json::json!({})));

    let response = get(&fake, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1").await;
    assert_eq!(response.headers()["x-mbx-used-weight"], "3");
    assert_eq!(response.headers()["x-mbx-used-weight-1m"], "3");
    let response = get(&fake, "/api/v3/exchangeInfo").await;
    assert_eq!(response.headers()["x-mbx-used-weight-1m"], "23");
    let response = get(&fake, "/api/v3/klines?symbol=NOPE&interval=1m").await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["x-mbx-used-weight-1m"], "25");
    assert_eq!(fake.used_weight_1m(), 25);

    let (_, body) = get_json(&fake, "/api/v3/time").await;
    let server_time = body["serverTime"].as_i64().unwrap();
    assert!(
        (server_time - fake.now_ms()).abs() < 2_000,
        "{server_time} vs {}",
        fake.now_ms()
    );

    fake.advance(Duration::from_secs(60));
    assert_eq!(fake.used_weight_1m(), 0, "the weight window is per minute");
    let response = get(&fake, "/api/v3/ping").await;
    assert_eq!(response.headers()["x-mbx-used-weight-1m"], "1");
}

#[tokio::test]
async fn klines_rows_are_binances_arrays_and_match_the_truth() {
    let fake = start().await;
    let (status, body) = get_json(&fake, "/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=5").await;
    assert_eq!(status, 200);
    let rows = body.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let truth = fake.candles(&btc(), Interval::H1);
    let truth = &truth[truth.len() - 5..];
    for (row, candle) in rows.iter().zip(truth) {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), 12);
        assert_eq!(row[0].as_i64().unwrap(), candle.open_time);
        assert_eq!(decimal8(&row[1]), candle.open);
        assert_eq!(decimal8(&row[2]), candle.high);
        assert_eq!(decimal8(&row[3]), candle.low);
        assert_eq!(decimal8(&row[4]), candle.close);
        assert_eq!(decimal8(&row[5]), candle.volume);
        assert_eq!(
            row[6].as_i64().unwrap(),
            candle.open_time + Interval::H1.millis() - 1
        );
        assert!(decimal8(&row[7]) > 0.0);
        assert_eq!(row[8].as_i64().unwrap(), candle.trades);
        assert!(decimal8(&row[9]) <= candle.volume);
        decimal8(&row[10]);
        assert_eq!(row[11], "0");
        assert!(candle.low <= candle.open.min(candle.close) && candle.open.max(candle.close) <= candle.high);
        assert!(
            (30_000.0..120_000.0).contains(&candle.close),
            "BTC at {}",
            candle.close
        );
    }
    assert!(!truth[4].closed && truth[..4].iter().all(|c| c.closed));
    assert_eq!(truth[4].open_time, Interval::H1.open_time_of(fake.now_ms()));

    let (_, body) = get_json(&fake, "/api/v3/klines?symbol=ETHUSDT&interval=1d&limit=1").await;
    let eth_close = decimal8(&body[0][4]);
    assert!((1_500.0..6_000.0).contains(&eth_close), "ETH at {eth_close}");
}

#[tokio::test]
async fn klines_start_end_and_limit_follow_binance() {
    let fake = start().await;
    let all = fake.candles(&btc(), Interval::M15);
    assert!(all.len() >= 2 * 96, "two days of 15m candles, got {}", all.len());
    let open_times = |body: &Value| -> Vec<i64> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|row| row[0].as_i64().unwrap())
            .collect()
    };

    // Without times: the most recent `limit`, the forming one included.
    let (_, body) = get_json(&fake, "/api/v3/klines?symbol=BTCUSDT&interval=15m&limit=3").await;
    let expected: Vec<i64> = all[all.len() - 3..].iter().map(|c| c.open_time).collect();
    assert_eq!(open_times(&body), expected);

    // Default limit is 500, capped by what exists.
    let (_, body) = get_json(&fake, "/api/v3/klines?symbol=BTCUSDT&interval=15m").await;
    assert_eq!(body.as_array().unwrap().len(), all.len().min(500));

    // From startTime (not on a boundary): ascending from the first open >= it.
    let start = all[10].open_time - 1;
    let (_, body) = get_json(
        &fake,
        &format!("/api/v3/klines?symbol=BTCUSDT&interval=15m&startTime={start}&limit=4"),
    )
    .await;
    let expected: Vec<i64> = all[10..14].iter().map(|c| c.open_time).collect();
    assert_eq!(open_times(&body), expected);

    // Only endTime: the most recent `limit` opening at or before it.
    let end = all[20].open_time;
    let (_, body) = get_json(
        &fake,
        &format!("/api/v3/klines?symbol=BTCUSDT&interval=15m&endTime={end}&limit=3"),
    )
    .await;
    let expected: Vec<i64> = all[18..21].iter().map(|c| c.open_time).collect();
    assert_eq!(open_times(&body), expected);

    // Both: the window, from the start.
    let (start, end) = (all[5].open_time, all[8].open_time);
    let (_, body) = get_json(
        &fake,
        &format!("/api/v3/klines?symbol=BTCUSDT&interval=15m&startTime={start}&endTime={end}&limit=1000"),
    )
    .await;
    let expected: Vec<i64> = all[5..9].iter().map(|c| c.open_time).collect();
    assert_eq!(open_times(&body), expected);

    // Paging from the start of history covers every candle with no gap.
    let mut cursor = 0_i64;
    let mut paged = Vec::new();
    loop {
        let (_, body) = get_json(
            &fake,
            &format!("/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={cursor}&limit=1000"),
        )
        .await;
        let page = open_times(&body);
        let Some(last) = page.last() else { break };
        cursor = last + 1;
        paged.extend(page);
    }
    let truth: Vec<i64> = fake
        .candles(&btc(), Interval::M1)
        .iter()
        .map(|c| c.open_time)
        .collect();
    assert_eq!(paged, truth);
    assert!(paged.windows(2).all(|w| w[1] - w[0] == MINUTE_MS));
    assert!(paged.len() >= 2 * 1440);
}

#[tokio::test]
async fn deep_history_is_served_back_to_the_listing() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let listed_at = now - 3 * 365 * 86_400_000;
    let fake = start_with(FakeBinanceConfig {
        listed_at: Some(listed_at),
        ..FakeBinanceConfig::default()
    })
    .await;
    let listing = fake.first_open_time(&btc(), Interval::M1).unwrap();
    assert_eq!(listing, Interval::M1.open_time_of(listed_at));
    let open_times = |body: &Value| -> Vec<i64> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|row| row[0].as_i64().unwrap())
            .collect()
    };

    // Backwards with endTime only: the 1000 candles opening at or before it.
    let walk = fake.candles(&btc(), Interval::M1);
    let end = walk[0].open_time - 1;
    let (status, body) = get_json(
        &fake,
        &format!("/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime={end}&limit=1000"),
    )
    .await;
    assert_eq!(status, 200);
    let page = open_times(&body);
    assert_eq!(page.len(), 1000);
    assert_eq!(*page.last().unwrap(), walk[0].open_time - MINUTE_MS);
    assert!(page.windows(2).all(|w| w[1] - w[0] == MINUTE_MS));
    // The deep candles join the walk: the last closes where the walk opens.
    assert_eq!(decimal8(&body[999][4]), walk[0].open);
    let truth = fake.history(&btc(), Interval::M1, page[0], walk[0].open_time);
    assert_eq!(truth.len(), 1001);
    for (row, candle) in body.as_array().unwrap().iter().zip(&truth) {
        assert_eq!(row[0].as_i64().unwrap(), candle.open_time);
        assert_eq!(decimal8(&row[1]), candle.open);
        assert_eq!(decimal8(&row[2]), candle.high);
        assert_eq!(decimal8(&row[3]), candle.low);
        assert_eq!(decimal8(&row[4]), candle.close);
        assert_eq!(decimal8(&row[5]), candle.volume);
        assert_eq!(row[8].as_i64().unwrap(), candle.trades);
    }

    // startTime and endTime across the seam: the window, from the start.
    let (start, end) = (
        walk[0].open_time - 2 * MINUTE_MS,
        walk[0].open_time + 2 * MINUTE_MS,
    );
    let (_, body) = get_json(
        &fake,
        &format!("/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={start}&endTime={end}&limit=1000"),
    )
    .await;
    assert_eq!(
        open_times(&body),
        (0..5).map(|i| start + i * MINUTE_MS).collect::<Vec<_>>()
    );

    // At the listing: what is left, then nothing.
    let end = listing + 9 * MINUTE_MS;
    let (_, body) = get_json(
        &fake,
        &format!("/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime={end}&limit=1000"),
    )
    .await;
    assert_eq!(
        open_times(&body),
        (0..10).map(|i| listing + i * MINUTE_MS).collect::<Vec<_>>()
    );
    let (status, body) = get_json(
        &fake,
        &format!(
            "/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime={}&limit=1000",
            listing - 1
        ),
    )
    .await;
    assert_eq!((status, body), (200, serde_json::json!([])));
    // From before the listing, forwards: from the listing.
    let (_, body) = get_json(
        &fake,
        "/api/v3/klines?symbol=BTCUSDT&interval=1d&startTime=0&limit=2",
    )
    .await;
    assert_eq!(
        open_times(&body)[0],
        fake.first_open_time(&btc(), Interval::D1).unwrap()
    );
}

#[tokio::test]
async fn a_short_weight_window_is_stated_and_counted_as_binance_would() {
    let fake = start_with(FakeBinanceConfig {
        weight_limit_1m: 10,
        weight_window: Duration::from_secs(2),
        ..FakeBinanceConfig::default()
    })
    .await;
    // Wait for a fresh window, so that the test does not straddle two.
    let window_ms = 2_000;
    let into = fake.now_ms().rem_euclid(window_ms);
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(window_ms - into + 20).unwrap(),
    ))
    .await;
    let (status, info) = get_json(&fake, "/api/v3/exchangeInfo?symbol=BTCUSDT").await;
    assert_eq!(status, 429, "exchangeInfo alone weighs 20");
    assert_eq!(info["code"], -1003);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let response = get(&fake, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mbx-used-weight-2s"], "2");
    assert!(!response.headers().contains_key("x-mbx-used-weight-1m"));
    let fake_limits = FakeBinance::start(FakeBinanceConfig {
        weight_window: Duration::from_secs(10),
        ..FakeBinanceConfig::default()
    })
    .await
    .unwrap();
    let (_, info) = get_json(&fake_limits, "/api/v3/exchangeInfo").await;
    assert_eq!(
        info["rateLimits"][0],
        serde_json::json!({"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 10, "limit": 6000})
    );
    assert_eq!(fake_limits.requests()[0].used_weight, 20);
}

#[tokio::test]
async fn klines_errors_are_binances() {
    let fake = start().await;
    let cases = [
        (
            "interval=1m",
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        ),
        (
            "symbol=&interval=1m",
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        ),
        (
            "symbol=BTCUSDT",
            -1102,
            "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
        ),
        ("symbol=NOPEUSDT&interval=1m", -1121, "Invalid symbol."),
        ("symbol=btcusdt&interval=1m", -1121, "Invalid symbol."),
        ("symbol=BTCUSDT&interval=7m", -1120, "Invalid interval."),
        (
            "symbol=BTCUSDT&interval=1m&limit=ten",
            -1100,
            "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
        ),
        (
            "symbol=BTCUSDT&interval=1m&limit=1001",
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ),
        (
            "symbol=BTCUSDT&interval=1m&limit=0",
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ),
        (
            "symbol=BTCUSDT&interval=1m&startTime=-5",
            -1100,
            "Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'.",
        ),
        (
            "symbol=BTCUSDT&interval=1m&startTime=20&endTime=10",
            -1023,
            "Start time is greater than end time.",
        ),
    ];
    for (query, code, msg) in cases {
        let (status, body) = get_json(&fake, &format!("/api/v3/klines?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body, serde_json::json!({"code": code, "msg": msg}), "{query}");
    }
    let logged = fake.requests();
    assert_eq!(logged.len(), cases.len());
    assert_eq!(logged[3].path, "/api/v3/klines");
    assert_eq!(logged[3].query, "symbol=NOPEUSDT&interval=1m");
    assert!(logged.iter().all(|r| r.status == 400));
}

#[tokio::test]
async fn exchange_info_has_binances_shape() {
    let config = FakeBinanceConfig {
        symbols: vec![btc(), eth(), Symbol::parse("PEPEFDUSD").unwrap()],
        ..FakeBinanceConfig::default()
    };
    let fake = start_with(config).await;
    let (status, body) = get_json(&fake, "/api/v3/exchangeInfo").await;
    assert_eq!(status, 200);
    assert_eq!(body["timezone"], "UTC");
    assert!((body["serverTime"].as_i64().unwrap() - fake.now_ms()).abs() < 2_000);
    assert_eq!(
        body["rateLimits"][0],
        serde_json::json!({"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000})
    );
    assert_eq!(body["exchangeFilters"], serde_json::json!([]));
    let symbols = body["symbols"].as_array().unwrap();
    assert!(symbols.len() >= 33, "{} symbols", symbols.len());
    let find = |name: &str| symbols.iter().find(|s| s["symbol"] == name).unwrap();
    let btc = find("BTCUSDT");
    for (key, value) in [
        ("status", serde_json::json!("TRADING")),
        ("baseAsset", serde_json::json!("BTC")),
        ("baseAssetPrecision", serde_json::json!(8)),
        ("quoteAsset", serde_json::json!("USDT")),
        ("quotePrecision", serde_json::json!(8)),
        ("quoteAssetPrecision", serde_json::json!(8)),
        ("isSpotTradingAllowed", serde_json::json!(true)),
        ("isMarginTradingAllowed", serde_json::json!(true)),
        ("permissions", serde_json::json!([])),
    ] {
        assert_eq!(btc[key], value, "{key}");
    }
    assert!(
        btc["orderTypes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("LIMIT"))
    );
    assert_eq!(btc["permissionSets"][0][0], "SPOT");
    assert_eq!(btc["filters"][0]["filterType"], "PRICE_FILTER");
    let pepe = find("PEPEFDUSD");
    assert_eq!(
        (&pepe["baseAsset"], &pepe["quoteAsset"]),
        (&"PEPE".into(), &"FDUSD".into())
    );
    assert!(symbols.iter().any(|s| s["status"] == "BREAK"));
    assert!(symbols.iter().any(|s| s["quoteAsset"] == "BTC"));
    assert!(
        symbols
            .iter()
            .any(|s| s["quoteAsset"] == "FDUSD" && s["symbol"] != "PEPEFDUSD")
    );
    let names: Vec<&str> = symbols.iter().map(|s| s["symbol"].as_str().unwrap()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "a symbol is listed twice");

    let (_, one) = get_json(&fake, "/api/v3/exchangeInfo?symbol=ETHUSDT").await;
    assert_eq!(one["symbols"].as_array().unwrap().len(), 1);
    let (status, body) = get_json(&fake, "/api/v3/exchangeInfo?symbol=NOPEUSDT").await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(-1121)));
}

#[tokio::test]
async fn tick_pushes_one_kline_event_per_subscribed_stream() {
    let fake = start().await;
    let mut ws = connect(
        &fake,
        "/stream?streams=btcusdt@kline_1m/ethusdt@kline_5m/xrpusdt@kline_1m",
    )
    .await;
    streams_open(&fake, 1).await;
    let mut subscribed = fake.subscribed_streams();
    subscribed.sort();
    assert_eq!(
        subscribed,
        ["btcusdt@kline_1m", "ethusdt@kline_5m", "xrpusdt@kline_1m"]
    );

    let before = fake.candles(&btc(), Interval::M1).last().copied().unwrap();
    fake.tick_series(&btc(), Interval::M1);
    let event = next_json(&mut ws).await;
    assert_eq!(event["stream"], "btcusdt@kline_1m");
    let data = &event["data"];
    assert_eq!(data["s"], "BTCUSDT");
    assert!((data["E"].as_i64().unwrap() - fake.now_ms()).abs() < 2_000);
    let k = kline_of(data);
    let after = fake.candles(&btc(), Interval::M1).last().copied().unwrap();
    assert_eq!(k["t"].as_i64().unwrap(), before.open_time);
    assert_eq!(k["T"].as_i64().unwrap(), before.open_time + MINUTE_MS - 1);
    assert_eq!(
        (k["s"].as_str(), k["i"].as_str(), k["x"].as_bool()),
        (Some("BTCUSDT"), Some("1m"), Some(false))
    );
    assert_eq!(decimal8(&k["c"]), after.close);
    assert_eq!(decimal8(&k["h"]), after.high);
    assert_eq!(decimal8(&k["v"]), after.volume);
    assert_eq!(k["n"].as_i64().unwrap(), after.trades);
    assert!(after.trades > before.trades && after.volume > before.volume);
    assert_eq!(
        k["L"].as_i64().unwrap() - k["f"].as_i64().unwrap() + 1,
        after.trades
    );
    assert_eq!(k["B"], "0");
    for key in ["o", "h", "l", "q", "V", "Q"] {
        decimal8(&k[key]);
    }
    // Only the ticked series moved.
    expect_silence(&mut ws, Duration::from_millis(200)).await;

    // A full tick: one event per served stream, none for the unknown one.
    fake.tick();
    let mut seen = vec![
        next_json(&mut ws).await["stream"].as_str().unwrap().to_owned(),
        next_json(&mut ws).await["stream"].as_str().unwrap().to_owned(),
    ];
    seen.sort();
    assert_eq!(seen, ["btcusdt@kline_1m", "ethusdt@kline_5m"]);
    expect_silence(&mut ws, Duration::from_millis(200)).await;

    // Trades strictly increase tick after tick.
    let mut last_trades = 0;
    for _ in 0..5 {
        fake.tick_series(&eth(), Interval::M5);
        let event = next_json(&mut ws).await;
        let trades = kline_of(&event["data"])["n"].as_i64().unwrap();
        assert!(trades > last_trades);
        last_trades = trades;
    }
}

#[tokio::test]
async fn raw_streams_send_the_bare_event() {
    let fake = start().await;
    let mut ws = connect(&fake, "/ws/ethusdt@kline_4h").await;
    streams_open(&fake, 1).await;
    fake.tick();
    let event = next_json(&mut ws).await;
    assert!(event.get("stream").is_none());
    assert_eq!(kline_of(&event)["i"], "4h");
    assert_eq!(event["s"], "ETHUSDT");
}

#[tokio::test]
async fn advance_finalises_then_opens_the_next_candle() {
    let fake = start().await;
    let mut ws = connect(&fake, "/stream?streams=btcusdt@kline_1m/btcusdt@kline_1h").await;
    streams_open(&fake, 1).await;
    let forming = fake.candles(&btc(), Interval::M1).last().copied().unwrap();
    fake.tick_series(&btc(), Interval::M1);
    let ticked = next_json(&mut ws).await;

    fake.advance(Duration::from_secs(60));
    let finished = next_json(&mut ws).await;
    let opened = next_json(&mut ws).await;
    assert_eq!(finished["stream"], "btcusdt@kline_1m");
    let (done, next) = (kline_of(&finished["data"]), kline_of(&opened["data"]));
    assert_eq!(done["t"].as_i64().unwrap(), forming.open_time);
    assert_eq!(done["x"], true);
    assert_eq!(
        done["c"],
        kline_of(&ticked["data"])["c"],
        "the final event carries the last values"
    );
    assert_eq!(next["t"].as_i64().unwrap(), forming.open_time + MINUTE_MS);
    assert_eq!(next["x"], false);
    assert_eq!(next["o"], done["c"], "the next candle opens at the last close");
    assert!(next["f"].as_i64().unwrap() > done["L"].as_i64().unwrap());
    expect_silence(&mut ws, Duration::from_millis(200)).await;

    let truth = fake.candles(&btc(), Interval::M1);
    let n = truth.len();
    assert!(truth[n - 2].closed && !truth[n - 1].closed);
    assert_eq!(truth[n - 2].open_time, forming.open_time);
}

#[tokio::test]
async fn candles_passed_while_nobody_listens_still_exist() {
    let fake = start().await;
    let before = fake.candles(&btc(), Interval::M5);
    fake.advance(Duration::from_secs(3 * 3600));
    let after = fake.candles(&btc(), Interval::M5);
    assert_eq!(after.len(), before.len() + 36);
    assert!(
        after
            .windows(2)
            .all(|w| w[1].open_time - w[0].open_time == Interval::M5.millis())
    );
    assert!(after[..after.len() - 1].iter().all(|c| c.closed));
    // Those that passed entirely were traded through, not left as flat stubs.
    assert!(
        after[before.len()..after.len() - 1]
            .iter()
            .all(|c| c.trades > 1 && c.high > c.low)
    );
    assert_eq!(
        &after[..before.len() - 1],
        &before[..before.len() - 1],
        "closed candles are final"
    );

    let (_, body) = get_json(&fake, "/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=1000").await;
    let rest: Vec<i64> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .collect();
    let truth: Vec<i64> = after.iter().map(|c| c.open_time).collect();
    assert_eq!(rest, truth[truth.len().saturating_sub(1000)..]);
}

#[tokio::test]
async fn repeat_and_reorder_apply_to_the_next_events() {
    let fake = start().await;
    let mut ws = connect(&fake, "/ws/btcusdt@kline_1d").await;
    streams_open(&fake, 1).await;
    let trades_of = |event: &Value| kline_of(event)["n"].as_i64().unwrap();

    fake.repeat_next(2);
    for _ in 0..3 {
        fake.tick();
    }
    let frames: Vec<String> = [
        next_text(&mut ws).await,
        next_text(&mut ws).await,
        next_text(&mut ws).await,
    ]
    .into_iter()
    .chain([next_text(&mut ws).await, next_text(&mut ws).await])
    .collect();
    assert_eq!(frames[0], frames[1]);
    assert_eq!(frames[2], frames[3]);
    assert_ne!(frames[3], frames[4]);
    expect_silence(&mut ws, Duration::from_millis(200)).await;

    fake.reorder_next(2);
    fake.tick();
    fake.tick();
    fake.tick();
    let (first, second, third) = (
        next_json(&mut ws).await,
        next_json(&mut ws).await,
        next_json(&mut ws).await,
    );
    assert!(trades_of(&first) > trades_of(&second), "the pair is swapped");
    assert!(
        trades_of(&third) > trades_of(&first),
        "the third goes out in order"
    );
}

#[tokio::test]
async fn faults_asked_before_a_client_connects_apply_to_it() {
    let fake = start().await;
    fake.repeat_next(1);
    let mut ws = connect(&fake, "/ws/btcusdt@kline_1d").await;
    streams_open(&fake, 1).await;
    fake.tick();
    assert_eq!(next_text(&mut ws).await, next_text(&mut ws).await);
}

#[tokio::test]
async fn malformed_frames_are_what_they_say() {
    let fake = start().await;
    let mut ws = connect(&fake, "/stream?streams=btcusdt@kline_1h").await;
    streams_open(&fake, 1).await;
    let open_time = fake.candles(&btc(), Interval::H1).last().unwrap().open_time;

    fake.send_malformed(Malformed::NotJson);
    assert!(serde_json::from_str::<Value>(&next_text(&mut ws).await).is_err());

    let mut check = async |kind: Malformed| -> Value {
        fake.send_malformed(kind);
        let frame = next_json(&mut ws).await;
        assert_eq!(frame["stream"], "btcusdt@kline_1h");
        frame["data"].clone()
    };
    let data = check(Malformed::MissingField).await;
    assert!(data["k"].get("c").is_none() && data["k"].get("o").is_some());
    let data = check(Malformed::WrongType).await;
    assert!(data["k"]["t"].is_string());
    let data = check(Malformed::NegativePrice).await;
    assert!(decimal8(&data["k"]["c"]) < 0.0);
    let data = check(Malformed::HighBelowLow).await;
    assert!(decimal8(&data["k"]["h"]) < decimal8(&data["k"]["l"]));
    let data = check(Malformed::UnknownSymbol).await;
    assert_eq!(
        (&data["s"], &data["k"]["s"]),
        (&"NOPEUSDT".into(), &"NOPEUSDT".into())
    );
    let data = check(Malformed::UnalignedOpenTime).await;
    let t = data["k"]["t"].as_i64().unwrap();
    assert_ne!(t % Interval::H1.millis(), 0);
    assert_eq!(t - open_time, 1_234);
    let data = check(Malformed::UnknownEvent).await;
    assert_ne!(data["e"], "kline");
    assert!(data["E"].is_i64());

    // The stream carries on normally after them.
    fake.tick();
    assert_eq!(kline_of(&next_json(&mut ws).await["data"])["x"], false);
}

#[tokio::test]
async fn drop_streams_ends_the_connection_without_a_close_frame() {
    let fake = start().await;
    let mut a = connect(&fake, "/ws/btcusdt@kline_1m").await;
    let mut b = connect(&fake, "/stream?streams=ethusdt@kline_1m").await;
    streams_open(&fake, 2).await;
    fake.drop_streams();
    assert_eq!(fake.stream_connections(), 0);
    assert_eq!(ending(&mut a).await, None);
    assert_eq!(ending(&mut b).await, None);

    let mut c = connect(&fake, "/ws/btcusdt@kline_1m").await;
    streams_open(&fake, 1).await;
    assert_eq!(fake.connections_total(), 3);
    fake.tick();
    kline_of(&next_json(&mut c).await);
}

#[tokio::test]
async fn offline_refuses_connections_and_comes_back_on_the_same_port() {
    let fake = start().await;
    let rest_url = fake.rest_url();
    let mut ws = connect(&fake, "/ws/btcusdt@kline_1m").await;
    streams_open(&fake, 1).await;
    let client = reqwest::Client::new();
    let ping = format!("{rest_url}/api/v3/ping");
    assert_eq!(client.get(&ping).send().await.unwrap().status(), 200);

    fake.set_offline(true);
    assert!(!fake.is_online());
    assert_eq!(fake.stream_connections(), 0);
    assert_eq!(ending(&mut ws).await, None);
    // Even the pooled keep-alive connection is gone, and a new one is refused.
    let error = client.get(&ping).send().await.unwrap_err();
    assert!(error.is_connect() || error.is_request(), "{error:?}");
    let refused = TcpStream::connect(rest_url.trim_start_matches("http://"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(
        connect_async(format!("{}/ws/btcusdt@kline_1m", fake.ws_url()))
            .await
            .is_err()
    );
    let logged = fake.requests().len();

    fake.set_offline(false);
    assert_eq!(fake.rest_url(), rest_url);
    assert_eq!(client.get(&ping).send().await.unwrap().status(), 200);
    assert_eq!(
        fake.requests().len(),
        logged + 1,
        "refused requests are not logged"
    );
    let mut ws = connect(&fake, "/ws/btcusdt@kline_1m").await;
    streams_open(&fake, 1).await;
    fake.tick();
    kline_of(&next_json(&mut ws).await);
}

#[tokio::test]
async fn server_shutdown_announces_then_closes() {
    let config = FakeBinanceConfig {
        server_shutdown_grace: Duration::from_millis(300),
        ..Default::default()
    };
    let fake = start_with(config).await;
    let mut ws = connect(&fake, "/stream?streams=btcusdt@kline_1m").await;
    streams_open(&fake, 1).await;
    fake.server_shutdown();
    let event = next_json(&mut ws).await;
    assert_eq!(event["e"], "serverShutdown", "sent unwrapped: {event}");
    assert!((event["E"].as_i64().unwrap() - fake.now_ms()).abs() < 2_000);
    assert_eq!(ending(&mut ws).await, Some(1001));
    streams_open(&fake, 0).await;
}

#[tokio::test]
async fn rate_limited_requests_get_429_and_ignoring_it_gets_418() {
    let fake = start().await;
    fake.rate_limit_next(1, Duration::from_millis(300));
    let response = get(&fake, "/api/v3/ping").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1", "seconds, rounded up");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], -1003);
    assert_eq!(
        body["msg"],
        "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. \
         Please use the websocket for live updates to avoid polling the API."
    );

    let response = get(&fake, "/api/v3/ping").await;
    assert_eq!(
        response.status(),
        418,
        "asked again inside the Retry-After window"
    );
    assert!(response.headers().contains_key("retry-after"));

    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert_eq!(get(&fake, "/api/v3/ping").await.status(), 200);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 418, 200]);
    let log = fake.requests();
    assert!(log[1].at > log[0].at && log[2].at - log[0].at >= Duration::from_secs(1));
}

#[tokio::test]
async fn going_over_the_weight_limit_gets_429_until_the_next_minute() {
    let config = FakeBinanceConfig {
        weight_limit_1m: 50,
        ..Default::default()
    };
    let fake = start_with(config).await;
    assert_eq!(get(&fake, "/api/v3/exchangeInfo").await.status(), 200);
    assert_eq!(get(&fake, "/api/v3/exchangeInfo").await.status(), 200);
    let response = get(&fake, "/api/v3/exchangeInfo").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["x-mbx-used-weight-1m"], "60");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (58..=60).contains(&retry_after),
        "until the minute ends: {retry_after}"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["msg"]
            .as_str()
            .unwrap()
            .contains("current limit of IP(127.0.0.1) is 50 requests")
    );
    assert_eq!(get(&fake, "/api/v3/ping").await.status(), 418);
}

#[tokio::test]
async fn pings_are_sent_and_a_silent_client_is_dropped() {
    let config = FakeBinanceConfig {
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(400),
        ..Default::default()
    };
    let fake = start_with(config).await;

    // A client that reads answers pings (tungstenite pongs automatically).
    let mut live = connect(&fake, "/ws/btcusdt@kline_1m").await;
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1_200);
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, live.next()).await {
            if let Message::Ping(payload) = message {
                assert!(!payload.is_empty(), "pings carry a payload");
                pings += 1;
            }
        }
        (pings, live)
    });
    // A client that never reads never pongs.
    let mut silent = connect(&fake, "/ws/ethusdt@kline_1m").await;
    streams_open(&fake, 2).await;

    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(fake.stream_connections(), 1, "the silent client is gone");
    assert_eq!(fake.subscribed_streams(), ["btcusdt@kline_1m"]);
    let (pings, mut live) = reader.await.unwrap();
    assert!(pings >= 8, "{pings} pings in 1.2 s at 100 ms");
    assert!(fake.pongs_received() >= 8, "{} pongs", fake.pongs_received());
    fake.tick();
    kline_of(&next_json(&mut live).await);

    // The silent client was sent pings, then the connection just ended.
    let mut saw_ping = false;
    loop {
        match silent.next().await {
            Some(Ok(Message::Ping(_))) => saw_ping = true,
            Some(Ok(Message::Close(_))) => panic!("dropped, not closed"),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    assert!(saw_ping);
}

#[tokio::test]
async fn unsolicited_pongs_do_not_keep_a_stream_alive() {
    let config = FakeBinanceConfig {
        ping_interval: Duration::from_millis(100),
        pong_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let fake = start_with(config).await;
    let mut ws = connect(&fake, "/ws/btcusdt@kline_1m").await;
    streams_open(&fake, 1).await;
    for _ in 0..8 {
        // Fails once the fake has dropped the connection, which is the point.
        if ws.send(Message::Pong("mine".into())).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fake.stream_connections(), 0);
    assert_eq!(fake.pongs_received(), 0);
}

#[tokio::test]
async fn connections_close_at_their_maximum_age() {
    let config = FakeBinanceConfig {
        max_connection_age: Duration::from_millis(300),
        ..Default::default()
    };
    let fake = start_with(config).await;
    let mut ws = connect(&fake, "/ws/btcusdt@kline_1m").await;
    let started = std::time::Instant::now();
    assert_eq!(ending(&mut ws).await, Some(1000));
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn unknown_streams_are_silent_and_bad_names_close() {
    let fake = start().await;
    let mut unknown = connect(
        &fake,
        "/stream?streams=dogeusdt@kline_1m/btcusdt@trade/btcusdt@kline_3m",
    )
    .await;
    streams_open(&fake, 1).await;
    fake.tick();
    expect_silence(&mut unknown, Duration::from_millis(300)).await;

    let mut bad = connect(&fake, "/stream?streams=btcusdt@kline_1m/nope").await;
    assert_eq!(ending(&mut bad).await, Some(1008));
    let mut bad = connect(&fake, "/ws/btcusdt").await;
    assert_eq!(ending(&mut bad).await, Some(1008));
    assert_eq!(fake.stream_connections(), 1);
    assert_eq!(fake.connections_total(), 3);
}

#[tokio::test]
async fn live_subscribe_and_unsubscribe() {
    let fake = start().await;
    let mut ws = connect(&fake, "/stream").await;
    streams_open(&fake, 1).await;
    let request = r#"{"method":"SUBSCRIBE","params":["ethusdt@kline_15m"],"id":7}"#;
    ws.send(Message::text(request)).await.unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        serde_json::json!({"result": null, "id": 7})
    );
    fake.tick();
    assert_eq!(next_json(&mut ws).await["stream"], "ethusdt@kline_15m");

    ws.send(Message::text(
        r#"{"method":"UNSUBSCRIBE","params":["ethusdt@kline_15m"],"id":8}"#,
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["id"], 8);
    fake.tick();
    expect_silence(&mut ws, Duration::from_millis(200)).await;
    assert!(fake.subscribed_streams().is_empty());
}

#[tokio::test]
async fn the_ticker_moves_the_market_on_its_own() {
    let fake = start().await;
    let mut ws = connect(&fake, "/ws/btcusdt@kline_1m").await;
    streams_open(&fake, 1).await;
    let _ticker = fake.spawn_ticker(Duration::from_millis(20));
    let first = kline_of(&next_json(&mut ws).await)["n"].as_i64().unwrap();
    let second = kline_of(&next_json(&mut ws).await)["n"].as_i64().unwrap();
    assert!(second > first);
}

#[tokio::test]
async fn dropping_the_fake_stops_everything() {
    let fake = start().await;
    let addr = fake.rest_url().trim_start_matches("http://").to_owned();
    let mut ws = connect(&fake, "/ws/btcusdt@kline_1m").await;
    streams_open(&fake, 1).await;
    let ticker = fake.spawn_ticker(Duration::from_millis(10));
    drop(fake);
    assert_eq!(ending(&mut ws).await, None);
    assert!(TcpStream::connect(&addr).await.is_err());
    assert!(ticker.await.unwrap_err().is_cancelled());

    let fake = start().await;
    let addr = fake.rest_url().trim_start_matches("http://").to_owned();
    fake.shutdown().await;
    assert!(TcpStream::connect(&addr).await.is_err());
}
