//! `GET /api/v1/candles`, `/healthz` and `/readyz` as a client sees them.

use inchart::market::api::CACHE_HEADER;
use inchart_api::error::ApiErrorBody;
use inchart_api::market::{CandleSeries, FeedSource, Interval};

use crate::helpers::{CacheKind, Db, HISTORY, TestApp, spawn_app};

async fn series(app: &TestApp, query: &str) -> CandleSeries {
    let response = app.get(&format!("/api/v1/candles?{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.expect("a candle series")
}

fn assert_ascending_unique(series: &CandleSeries) {
    let step = series.interval.millis();
    for pair in series.candles.windows(2) {
        assert!(pair[0].open_time < pair[1].open_time, "ascending and unique");
        assert_eq!(pair[1].open_time - pair[0].open_time, step, "no gap");
    }
}

async fn serves_history_in_order(db: Db, cache: CacheKind) {
    let app = spawn_app(db, cache).await;

    let latest = series(&app, "symbol=BTCUSDT&interval=1h&limit=1000").await;
    assert_eq!(latest.candles.len(), HISTORY, "all the stored history, no more");
    assert_eq!(latest.source, FeedSource::Simulated);
    assert_ascending_unique(&latest);

    let default_limit = series(&app, "symbol=btcusdt&interval=1h").await;
    assert_eq!(default_limit.candles.len(), 500);
    assert_eq!(
        default_limit.candles.last().map(|c| c.open_time),
        latest.candles.last().map(|c| c.open_time),
        "without start, the most recent candles"
    );

    let first = latest.candles[0].open_time;
    let from_start = series(
        &app,
        &format!("symbol=BTCUSDT&interval=1h&start={first}&limit=10"),
    )
    .await;
    assert_eq!(from_start.candles, latest.candles[..10]);

    let end = latest.candles[99].open_time;
    let until_end = series(&app, &format!("symbol=BTCUSDT&interval=1h&end={end}&limit=20")).await;
    assert_eq!(until_end.candles, latest.candles[80..100]);

    let window = series(
        &app,
        &format!("symbol=BTCUSDT&interval=1h&start={first}&end={end}&limit=1000"),
    )
    .await;
    assert_eq!(window.candles, latest.candles[..100]);

    let other = series(&app, "symbol=ETHUSDT&interval=1h&limit=5").await;
    assert_ne!(
        other.candles[0].close,
        latest.candles[HISTORY - 5].close,
        "each symbol its own series"
    );
}

#[tokio::test]
async fn candles_come_ascending_without_gaps_from_postgres() {
    serves_history_in_order(Db::Postgres, CacheKind::Redis).await;
}

#[tokio::test]
async fn candles_come_ascending_without_gaps_from_sqlite() {
    serves_history_in_order(Db::Sqlite, CacheKind::Memory).await;
}

#[tokio::test]
async fn every_bad_parameter_gets_a_400_naming_its_field() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let cases = [
        ("interval=1h", "symbol", "invalid_parameter"),
        ("symbol=BTC-USDT&interval=1h", "symbol", "invalid_parameter"),
        ("symbol=DOGEBTC&interval=1h", "symbol", "unknown_value"),
        ("symbol=BTCUSDT", "interval", "invalid_parameter"),
        ("symbol=BTCUSDT&interval=2h", "interval", "invalid_parameter"),
        (
            "symbol=BTCUSDT&interval=1h&start=yesterday",
            "start",
            "invalid_parameter",
        ),
        (
            "symbol=BTCUSDT&interval=1h&start=-5",
            "start",
            "invalid_parameter",
        ),
        ("symbol=BTCUSDT&interval=1h&end=1.5", "end", "invalid_parameter"),
        (
            "symbol=BTCUSDT&interval=1h&start=2000&end=1000",
            "end",
            "invalid_parameter",
        ),
        (
            "symbol=BTCUSDT&interval=1h&limit=1001",
            "limit",
            "invalid_parameter",
        ),
        ("symbol=BTCUSDT&interval=1h&limit=0", "limit", "invalid_parameter"),
        (
            "symbol=BTCUSDT&interval=1h&limit=ten",
            "limit",
            "invalid_parameter",
        ),
    ];
    for (query, field, kind) in cases {
        let response = app.get(&format!("/api/v1/candles?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: ApiErrorBody = response.json().await.expect("a JSON error body");
        assert_eq!(body.error.field.as_deref(), Some(field), "{query}");
        assert_eq!(body.error.kind, kind, "{query}");
        assert!(!body.error.message.is_empty());
    }
}

async fn closed_reads_are_cached(cache: CacheKind) {
    let app = spawn_app(Db::Sqlite, cache).await;
    let latest = series(&app, "symbol=ETHUSDT&interval=5m&limit=1000").await;
    let end = latest.candles[HISTORY - 10].open_time;
    let query = format!("/api/v1/candles?symbol=ETHUSDT&interval=5m&end={end}&limit=50");

    let first = app.get(&query).await;
    assert_eq!(first.headers()[CACHE_HEADER], "miss");
    let first: CandleSeries = first.json().await.unwrap();
    let second = app.get(&query).await;
    assert_eq!(second.headers()[CACHE_HEADER], "hit");
    let second: CandleSeries = second.json().await.unwrap();
    assert_eq!(first, second);

    // The forming candle changes, so reads that reach it are never cached:
    // the newest candles come from the live window, the same as stored.
    let live = "/api/v1/candles?symbol=ETHUSDT&interval=5m&limit=50";
    app.get(live).await;
    let from_window = app.get(live).await;
    assert_eq!(from_window.headers()[CACHE_HEADER], "window");
    let from_window: CandleSeries = from_window.json().await.unwrap();
    let first_of_window = from_window.candles[0].open_time;
    let stored = series(
        &app,
        &format!("symbol=ETHUSDT&interval=5m&start={first_of_window}&limit=50"),
    )
    .await;
    assert_eq!(from_window.candles.len(), 50);
    assert_eq!(from_window.candles[..49], stored.candles[..49]);
    let ends_at = format!(
        "/api/v1/candles?symbol=ETHUSDT&interval=5m&end={}&limit=50",
        i64::MAX / 2
    );
    app.get(&ends_at).await;
    assert_eq!(app.get(&ends_at).await.headers()[CACHE_HEADER], "miss");

    // Nor are reads with a gap: the history does not reach that far back.
    let before_history = latest.candles[0].open_time - 3 * Interval::M5.millis();
    let partial =
        format!("/api/v1/candles?symbol=ETHUSDT&interval=5m&start={before_history}&end={end}&limit=50");
    app.get(&partial).await;
    assert_eq!(app.get(&partial).await.headers()[CACHE_HEADER], "miss");
}

#[tokio::test]
async fn closed_reads_are_served_from_redis() {
    closed_reads_are_cached(CacheKind::Redis).await;
}

#[tokio::test]
async fn closed_reads_are_served_from_the_in_process_cache() {
    closed_reads_are_cached(CacheKind::Memory).await;
}

#[tokio::test]
async fn health_and_readiness_report_their_parts() {
    let app = spawn_app(Db::Postgres, CacheKind::Redis).await;
    let alive = app.get("/healthz").await;
    assert_eq!(alive.status(), 200);

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["cache"]["kind"], "redis");
    assert_eq!(body["cache"]["status"], "ok");
}

#[tokio::test]
async fn a_wrong_database_url_says_how_to_fix_it() {
    let settings = inchart::config::Settings::from_lookup(|name| {
        (name == "DATABASE_URL").then(|| "mysql://root@127.0.0.1/inchart".to_string())
    })
    .unwrap();
    let error = inchart::startup::Application::build(settings)
        .await
        .err()
        .expect("a MySQL URL is refused");
    let message = format!("{error:#}");
    assert!(
        message.contains("postgres://") && message.contains("sqlite://"),
        "{message}"
    );
    assert!(!message.contains("root@"), "the URL is not echoed: {message}");
}
