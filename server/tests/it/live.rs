//! Live market data end to end: a fake Binance (Binance's exact JSON over
//! real sockets) feeds the real application, and a WebSocket client
//! follows a series the way a chart does.
//!
//! The fake's clock can run ahead of the wall clock (`advance`), so these
//! tests compare the stored series with the fake's own truth rather than
//! with the time.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use inchart_api::market::{Candle, CandleSeries, FeedSource, FeedStatus, Interval, Symbol, SymbolList};
use inchart_api::stream::{ClientMessage, ErrorCode, MAX_SUBSCRIPTIONS, ServerMessage};
use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig, Malformed};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{CacheKind, Db, TestApp, spawn_app_with};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub fn btc() -> Symbol {
    Symbol::parse("BTCUSDT").unwrap()
}

fn eth() -> Symbol {
    Symbol::parse("ETHUSDT").unwrap()
}

/// A fake Binance with three hours of history, one second into a fresh
/// minute of its clock so that no 1m candle closes by accident.
pub async fn fake_binance(config: FakeBinanceConfig) -> FakeBinance {
    let fake = FakeBinance::start(FakeBinanceConfig {
        history: Duration::from_secs(3 * 3600),
        ..config
    })
    .await
    .unwrap();
    let to_next_minute = 60_000 - fake.now_ms().rem_euclid(60_000);
    fake.advance(Duration::from_millis((to_next_minute + 1_000) as u64));
    fake
}

/// The settings that point an app at `fake`.
pub fn binance_env(fake: &FakeBinance) -> Vec<(String, String)> {
    vec![
        ("INCHART_FEED".into(), "binance".into()),
        ("INCHART_BINANCE_REST_URL".into(), fake.rest_url()),
        ("INCHART_BINANCE_WS_URL".into(), fake.ws_url()),
        ("INCHART_BACKFILL".into(), "2h".into()),
        ("INCHART_RETRY_MAX".into(), "300ms".into()),
        ("INCHART_LEASE_TTL".into(), "1500ms".into()),
    ]
}

pub async fn spawn_live(db: Db, cache: CacheKind, fake: &FakeBinance, extra: &[(&str, &str)]) -> TestApp {
    let mut env = binance_env(fake);
    for (key, value) in extra {
        env.retain(|(existing, _)| existing != key);
        env.push((key.to_string(), value.to_string()));
    }
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(db, cache, &pairs).await
}

async fn series(app: &TestApp, symbol: &Symbol, interval: Interval, query: &str) -> CandleSeries {
    let response = app
        .get(&format!(
            "/api/v1/candles?symbol={symbol}&interval={interval}&limit=1000{query}"
        ))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Polls until the app stores exactly the fake's series from `from` on
/// (values, order and closedness), or fails with the difference.
pub async fn assert_converges(
    app: &TestApp,
    fake: &FakeBinance,
    symbol: &Symbol,
    interval: Interval,
    from: i64,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let truth: Vec<Candle> = fake
            .candles(symbol, interval)
            .into_iter()
            .filter(|candle| candle.open_time >= from)
            .collect();
        let stored = series(app, symbol, interval, &format!("&start={from}"))
            .await
            .candles;
        if comparable(&stored) == comparable(&truth) {
            assert!(
                stored
                    .windows(2)
                    .all(|pair| pair[1].open_time - pair[0].open_time == interval.millis()),
                "a gap or a duplicate in {symbol} {interval}"
            );
            let older = &stored[..stored.len().saturating_sub(1)];
            assert!(
                older.iter().all(|candle| candle.closed),
                "{symbol} {interval}: a candle older than the newest is still forming"
            );
            return;
        }
        if Instant::now() > deadline {
            let first_difference = stored
                .iter()
                .zip(&truth)
                .find(|(a, b)| comparable(&[**a]) != comparable(&[**b]));
            panic!(
                "{symbol} {interval}: stored {} candles, the fake has {}; first difference {first_difference:?}; \
                 last stored {:?}, last true {:?}",
                stored.len(),
                truth.len(),
                stored.last(),
                truth.last()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Candles as comparable values: the forming one's closedness aside, as a
/// REST read cannot tell it.
fn comparable(candles: &[Candle]) -> Vec<(i64, String, i64)> {
    candles
        .iter()
        .map(|c| {
            (
                c.open_time,
                format!("{} {} {} {} {}", c.open, c.high, c.low, c.close, c.volume),
                c.trades,
            )
        })
        .collect()
}

pub async fn connect(address: &str) -> Ws {
    let url = format!("{}/ws", address.replacen("http", "ws", 1));
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws
}

pub async fn send(ws: &mut Ws, message: &ClientMessage) {
    ws.send(Message::Text(serde_json::to_string(message).unwrap().into()))
        .await
        .unwrap();
}

/// Follows a series, as a chart does on opening.
pub async fn subscribe(ws: &mut Ws, symbol: &Symbol, interval: Interval) {
    let message = ClientMessage::Subscribe {
        symbol: symbol.clone(),
        interval,
        since: None,
    };
    send(ws, &message).await;
}

/// The next server message for which `pick` says yes, skipping others.
pub async fn next_matching<T>(ws: &mut Ws, mut pick: impl FnMut(ServerMessage) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the expected frame arrived in time")
            .expect("the connection is open")
            .expect("the frame is readable");
        if let Message::Text(text) = frame {
            let message: ServerMessage = serde_json::from_str(&text).unwrap();
            if let Some(found) = pick(message) {
                return found;
            }
        }
    }
}

pub async fn candle_update(ws: &mut Ws, symbol: &Symbol, interval: Interval) -> Candle {
    next_matching(ws, |message| match message {
        ServerMessage::Candle {
            symbol: s,
            interval: i,
            candle,
            ..
        } if &s == symbol && i == interval => Some(candle),
        _ => None,
    })
    .await
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in metrics"))
}

#[tokio::test]
async fn binance_history_fills_the_store_and_live_candles_reach_a_chart() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = spawn_live(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    let from = fake.now_ms() - 2 * 3_600_000;

    for interval in [Interval::M1, Interval::M15, Interval::H1] {
        assert_converges(&app, &fake, &btc(), interval, Interval::M1.open_time_of(from)).await;
    }
    let api = series(&app, &eth(), Interval::M5, "").await;
    assert_eq!(api.source, FeedSource::Binance);
    assert!(
        !api.candles.last().unwrap().closed,
        "the newest candle is forming"
    );

    let mut ws = connect(&app.address).await;
    let status = next_matching(&mut ws, |m| match m {
        ServerMessage::Status { feed } => Some(feed),
        _ => None,
    })
    .await;
    assert_eq!(status, FeedStatus::Live);
    subscribe(&mut ws, &btc(), Interval::M1).await;
    let snapshot = next_matching(&mut ws, |m| match m {
        ServerMessage::Snapshot { candles, .. } => Some(candles),
        _ => None,
    })
    .await;
    assert_eq!(snapshot.len(), inchart_api::stream::DEFAULT_SNAPSHOT);
    let truth = fake.candles(&btc(), Interval::M1);
    assert_eq!(
        snapshot.last().unwrap().open_time,
        truth.last().unwrap().open_time
    );

    // The forming candle moves, then closes and the next one opens.
    fake.tick();
    let moved = candle_update(&mut ws, &btc(), Interval::M1).await;
    let now_true = *fake.candles(&btc(), Interval::M1).last().unwrap();
    assert_eq!(
        (moved.open_time, moved.close, moved.trades),
        (now_true.open_time, now_true.close, now_true.trades)
    );
    fake.advance(Duration::from_secs(60));
    let closed = candle_update(&mut ws, &btc(), Interval::M1).await;
    assert_eq!(closed.open_time, now_true.open_time);
    assert!(closed.closed);
    let opened = candle_update(&mut ws, &btc(), Interval::M1).await;
    assert_eq!(opened.open_time, now_true.open_time + 60_000);
    assert!(!opened.closed);
    assert_converges(&app, &fake, &btc(), Interval::M1, Interval::M1.open_time_of(from)).await;
}

#[tokio::test]
async fn a_disconnect_leaves_no_gap() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = spawn_live(Db::Postgres, CacheKind::Redis, &fake, &[]).await;
    let from = Interval::M1.open_time_of(fake.now_ms() - 3_600_000);
    assert_converges(&app, &fake, &btc(), Interval::M1, from).await;
    let mut ws = connect(&app.address).await;
    subscribe(&mut ws, &btc(), Interval::M1).await;

    // Binance goes away for five candles, then comes back.
    fake.set_offline(true);
    let reconnecting = next_matching(&mut ws, |m| match m {
        ServerMessage::Status { feed } if feed != FeedStatus::Live => Some(feed),
        _ => None,
    })
    .await;
    assert_eq!(reconnecting, FeedStatus::Reconnecting);
    fake.advance(Duration::from_secs(5 * 60));
    fake.set_offline(false);
    // The chart hears of the newest candles of the gap, then that all is live.
    let newest_true = fake.candles(&btc(), Interval::M1).last().unwrap().open_time;
    let mut heard = Vec::new();
    next_matching(&mut ws, |m| match m {
        ServerMessage::Candle {
            candle,
            interval: Interval::M1,
            ..
        } => {
            heard.push(candle.open_time);
            None
        }
        ServerMessage::Status {
            feed: FeedStatus::Live,
        } => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(heard.last(), Some(&newest_true), "heard {heard:?}");
    assert!(heard.windows(2).all(|pair| pair[0] < pair[1]), "heard {heard:?}");
    for interval in [Interval::M1, Interval::M5] {
        assert_converges(&app, &fake, &btc(), interval, interval.open_time_of(from)).await;
        assert_converges(&app, &fake, &eth(), interval, interval.open_time_of(from)).await;
    }
    // Dropped connections (no close frame) are repaired the same way.
    fake.drop_streams();
    fake.advance(Duration::from_secs(2 * 60));
    assert_converges(&app, &fake, &eth(), Interval::M1, from).await;
    assert!(metric(&metrics(&app).await, "inchart_binance_reconnects_total") >= 2.0);
}

#[tokio::test]
async fn repeated_reordered_and_malformed_frames_never_corrupt_the_series() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = spawn_live(Db::Sqlite, CacheKind::Redis, &fake, &[]).await;
    let from = Interval::M1.open_time_of(fake.now_ms() - 3_600_000);
    assert_converges(&app, &fake, &btc(), Interval::M1, from).await;
    let mut ws = connect(&app.address).await;
    subscribe(&mut ws, &btc(), Interval::M1).await;

    fake.repeat_next(40);
    fake.reorder_next(40);
    for kind in [
        Malformed::NotJson,
        Malformed::MissingField,
        Malformed::WrongType,
        Malformed::NegativePrice,
        Malformed::HighBelowLow,
        Malformed::UnknownSymbol,
        Malformed::UnalignedOpenTime,
        Malformed::UnknownEvent,
    ] {
        fake.send_malformed(kind);
        fake.tick();
    }
    fake.advance(Duration::from_secs(60));
    for _ in 0..5 {
        fake.tick();
    }

    // What the chart receives only ever moves forward.
    let mut last: Option<Candle> = None;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let Ok(candle) = tokio::time::timeout(
            Duration::from_millis(500),
            candle_update(&mut ws, &btc(), Interval::M1),
        )
        .await
        else {
            break;
        };
        if let Some(last) = last {
            assert!(
                candle.open_time > last.open_time
                    || (candle.open_time == last.open_time && !last.closed && candle.trades >= last.trades),
                "{candle:?} came after {last:?}"
            );
        }
        last = Some(candle);
    }
    assert_converges(&app, &fake, &btc(), Interval::M1, from).await;
    assert_converges(&app, &fake, &eth(), Interval::M1, from).await;

    let text = metrics(&app).await;
    for kind in [
        "malformed",
        "unknown_event",
        "unknown_series",
        "bad_number",
        "bad_range",
        "bad_time",
    ] {
        let count = metric(
            &text,
            &format!("inchart_binance_rejected_total{{kind=\"{kind}\"}}"),
        );
        assert!(count >= 1.0, "no {kind} rejection counted:\n{text}");
    }
    // The stream survived it all.
    fake.tick();
    let after = candle_update(&mut ws, &btc(), Interval::M1).await;
    assert_eq!(
        after.trades,
        fake.candles(&btc(), Interval::M1).last().unwrap().trades
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_never_ignored() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    fake.rate_limit_next(3, Duration::from_secs(1));
    let app = spawn_live(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    assert_converges(
        &app,
        &fake,
        &eth(),
        Interval::H1,
        Interval::H1.open_time_of(fake.now_ms() - 3_600_000),
    )
    .await;
    let requests = fake.requests();
    assert!(requests.iter().any(|request| request.status == 429));
    assert!(
        requests.iter().all(|request| request.status != 418),
        "a request went out during a back-off"
    );
    assert!(metric(&metrics(&app).await, "inchart_binance_rate_limited_total") >= 1.0);
}

#[tokio::test]
async fn simulated_until_binance_answers_then_live() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    fake.set_offline(true);
    let app = spawn_live(Db::Sqlite, CacheKind::Memory, &fake, &[("INCHART_FEED", "auto")]).await;
    let api = series(&app, &btc(), Interval::H1, "").await;
    assert_eq!(api.source, FeedSource::Simulated);
    let page = app.get("/chart/BTCUSDT").await.text().await.unwrap();
    assert!(page.contains("Simulated data"));

    // Read before Binance answers: the app's first candle is at or after
    // it, even when the hour turns while it switches.
    let earliest = Interval::H1.open_time_of(fake.now_ms() - 2 * 3_600_000);
    fake.set_offline(false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while series(&app, &btc(), Interval::H1, "").await.source != FeedSource::Binance {
        assert!(Instant::now() < deadline, "never switched to Binance");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Not one simulated candle is left among Binance's.
    let from = Interval::H1.open_time_of(fake.now_ms() - 2 * 3_600_000);
    assert_converges(&app, &fake, &btc(), Interval::H1, from).await;
    let all = series(&app, &btc(), Interval::H1, "").await.candles;
    assert!(
        all.first().unwrap().open_time >= earliest,
        "simulated history was left behind"
    );
}

#[tokio::test]
async fn pings_are_answered_and_connections_replaced_before_their_limit() {
    let fake = fake_binance(FakeBinanceConfig {
        ping_interval: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(1000),
        ..FakeBinanceConfig::default()
    })
    .await;
    let app = spawn_live(
        Db::Sqlite,
        CacheKind::Memory,
        &fake,
        &[("INCHART_STREAM_ROLLOVER", "2s")],
    )
    .await;
    let from = Interval::M1.open_time_of(fake.now_ms() - 3_600_000);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(fake.pongs_received() >= 3, "pongs: {}", fake.pongs_received());
    assert_eq!(fake.connections_total(), 1, "a ponging connection was dropped");

    // Rollover and serverShutdown both move to a new connection first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(fake.connections_total() >= 2);
    fake.server_shutdown();
    fake.tick();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.connections_total() >= 3);
    fake.advance(Duration::from_secs(60));
    assert_converges(&app, &fake, &btc(), Interval::M1, from).await;
    assert_eq!(
        metric(&metrics(&app).await, "inchart_binance_reconnects_total"),
        0.0
    );
}

#[tokio::test]
async fn bad_client_frames_get_an_error_and_the_connection_stays() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = spawn_live(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    let mut ws = connect(&app.address).await;
    let error = |m: ServerMessage| match m {
        ServerMessage::Error { code, .. } => Some(code),
        _ => None,
    };

    ws.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(next_matching(&mut ws, error).await, ErrorCode::BadMessage);
    ws.send(Message::Text(
        format!(r#"{{"op":"ping","pad":"{}"}}"#, "x".repeat(5000)).into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_matching(&mut ws, error).await, ErrorCode::TooLarge);
    send(
        &mut ws,
        &ClientMessage::Subscribe {
            symbol: Symbol::parse("DOGEBTC").unwrap(),
            interval: Interval::M1,
            since: None,
        },
    )
    .await;
    assert_eq!(next_matching(&mut ws, error).await, ErrorCode::UnknownSymbol);
    let mut subscribed = 0;
    'fill: for symbol in [btc(), eth()] {
        for interval in Interval::ALL {
            if subscribed == MAX_SUBSCRIPTIONS {
                break 'fill;
            }
            send(
                &mut ws,
                &ClientMessage::Subscribe {
                    symbol: symbol.clone(),
                    interval,
                    since: None,
                },
            )
            .await;
            subscribed += 1;
        }
    }
    assert!(
        subscribed < MAX_SUBSCRIPTIONS,
        "two symbols cannot reach the limit; the test needs more"
    );

    // Still open and serving: a subscription with `since` gets what it missed.
    let since = fake
        .candles(&btc(), Interval::M1)
        .iter()
        .rev()
        .nth(9)
        .unwrap()
        .open_time;
    send(
        &mut ws,
        &ClientMessage::Subscribe {
            symbol: btc(),
            interval: Interval::M1,
            since: Some(since),
        },
    )
    .await;
    let snapshot = next_matching(&mut ws, |m| match m {
        ServerMessage::Snapshot {
            interval: Interval::M1,
            symbol,
            candles,
        } if symbol == btc() => Some(candles).filter(|c| c.first().is_some_and(|c| c.open_time == since)),
        _ => None,
    })
    .await;
    assert_eq!(snapshot.len(), 10);
    send(
        &mut ws,
        &ClientMessage::Unsubscribe {
            symbol: btc(),
            interval: Interval::M1,
        },
    )
    .await;
    next_matching(&mut ws, |m| {
        matches!(m, ServerMessage::Unsubscribed { .. }).then_some(())
    })
    .await;
    assert!(metric(&metrics(&app).await, "inchart_ws_bad_frames_total") >= 3.0);
}

#[tokio::test]
async fn symbols_are_searched_from_exchange_info() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = spawn_live(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    let list: SymbolList = app.get("/api/v1/symbols?q=eth").await.json().await.unwrap();
    assert_eq!(list.symbols[0].symbol, eth());
    assert!(list.symbols[0].carried);
    assert!(list.symbols.len() > 1, "only the carried symbol was found");
    assert!(
        list.symbols
            .iter()
            .all(|info| info.symbol.as_str().contains("ETH") || info.base.contains("ETH"))
    );
    let requests_before = fake.requests().len();
    let again: SymbolList = app.get("/api/v1/symbols?q=eth").await.json().await.unwrap();
    assert_eq!(again, list);
    assert_eq!(fake.requests().len(), requests_before, "the list is cached");
    let bad = app.get("/api/v1/symbols?limit=0").await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_symbol_binance_refuses_does_not_hold_the_others_back() {
    // The fake lists only BTCUSDT: for ETHUSDT it answers -1121 Invalid symbol.
    let fake = fake_binance(FakeBinanceConfig {
        symbols: vec![btc()],
        ..FakeBinanceConfig::default()
    })
    .await;
    let app = spawn_live(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    let from = Interval::M1.open_time_of(fake.now_ms() - 3_600_000);
    assert_converges(&app, &fake, &btc(), Interval::M1, from).await;
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["market"]["feed"], "live");
    assert!(series(&app, &eth(), Interval::M1, "").await.candles.is_empty());
}

/// Deep history is wired into the application with the feed's metrics:
/// an operator sees the candles it fetched and the fetches running.
#[tokio::test]
async fn deep_history_is_watched_with_the_feed() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = spawn_live(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "inchart_history_candles_fetched_total "), 0.0);
    assert_eq!(metric(&text, "inchart_history_fetches "), 0.0);
    assert!(text.contains("# TYPE inchart_history_fetches gauge"));
}
