//! Two `inchart serve` processes on one PostgreSQL and one Redis, as a
//! horizontally scaled deployment runs: one ingests, both serve every
//! chart, and when the ingesting one dies the other takes over without a
//! gap.

use std::time::{Duration, Instant};

use inchart_api::market::Interval;
use inchart_api::stream::ServerMessage;
use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig};
use serde_json::Value;

use crate::alerts::{ALERT_ENV, Receiver, close_candle, create_alert, next_close, settled_firings};
use crate::helpers::{Db, Served, TestApp, fresh_database, inchart, redis_url, serve};
use crate::live::{
    assert_converges, binance_env, btc, candle_update, connect, fake_binance, next_matching, subscribe,
};
use crate::scripts::signed_up;

/// Instances of one deployment: one PostgreSQL database, one Redis key
/// prefix, one fake Binance.
struct Deployment {
    env: Vec<(String, String)>,
    database_url: String,
}

impl Deployment {
    async fn new(fake: &FakeBinance, extra: &[(&str, &str)]) -> Self {
        let prefix = format!("inchart-test-{}", uuid::Uuid::new_v4().simple());
        let mut env = vec![
            ("REDIS_URL".to_string(), redis_url()),
            ("INCHART_CACHE_PREFIX".to_string(), prefix),
            ("INCHART_SYMBOLS".to_string(), "BTCUSDT,ETHUSDT".to_string()),
        ];
        env.extend(binance_env(fake));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self {
            env,
            database_url: fresh_database(Db::Postgres).await,
        }
    }

    /// One more `inchart serve` of the deployment.
    fn start(&self) -> Served {
        let mut command = inchart(&self.database_url);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        serve(command)
    }
}

async fn readiness(app: &TestApp) -> Value {
    app.get("/readyz").await.json().await.unwrap()
}

async fn wait_for(app: &TestApp, what: &str, check: impl Fn(&Value) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let ready = readiness(app).await;
        if check(&ready) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never {what}: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_other_instance_serves_live_candles_and_takes_over_without_a_gap() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let deployment = Deployment::new(&fake, &[]).await;
    let start = || deployment.start();

    let first: Served = start();
    let leader = first.app();
    wait_for(&leader, "ingesting and filled", |r| {
        r["market"]["ingesting"] == true && r["market"]["filled"] == true
    })
    .await;
    let second = start();
    let follower = second.app();
    wait_for(&follower, "ready", |r| {
        r["status"] == "ready" && r["market"]["feed"] == "live"
    })
    .await;
    assert_eq!(
        readiness(&follower).await["market"]["ingesting"],
        false,
        "two instances ingest"
    );

    // An update the leader ingests reaches a chart connected to the other.
    let mut ws = connect(&follower.address).await;
    subscribe(&mut ws, &btc(), Interval::M1).await;
    next_matching(&mut ws, |m| {
        matches!(m, ServerMessage::Snapshot { .. }).then_some(())
    })
    .await;
    fake.tick();
    let update = candle_update(&mut ws, &btc(), Interval::M1).await;
    assert_eq!(
        update.trades,
        fake.candles(&btc(), Interval::M1).last().unwrap().trades
    );

    // The leader dies without a word; the market moves on meanwhile.
    let from = Interval::M1.open_time_of(fake.now_ms() - 3_600_000);
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let killed = Instant::now();
    fake.advance(Duration::from_secs(3 * 60));
    wait_for(&follower, "ingesting", |r| r["market"]["ingesting"] == true).await;
    let handover = killed.elapsed();
    assert!(
        handover < Duration::from_secs(10),
        "took {handover:?} to take over"
    );

    assert_converges(&follower, &fake, &btc(), Interval::M1, from).await;
    assert_converges(
        &follower,
        &fake,
        &btc(),
        Interval::M5,
        Interval::M5.open_time_of(from),
    )
    .await;
    fake.tick();
    let newest = fake.candles(&btc(), Interval::M1).last().copied().unwrap();
    let heard = loop {
        let candle = candle_update(&mut ws, &btc(), Interval::M1).await;
        if candle.open_time == newest.open_time && candle.trades == newest.trades {
            break candle;
        }
    };
    assert_eq!(heard.close, newest.close);
}

#[tokio::test]
async fn a_clean_stop_hands_ingestion_over_at_once() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    // Long enough that only a released lease explains a quick takeover.
    let deployment = Deployment::new(&fake, &[("INCHART_LEASE_TTL", "12s")]).await;
    let start = || deployment.start();
    let first = start();
    wait_for(&first.app(), "ingesting", |r| r["market"]["ingesting"] == true).await;
    let second = start();
    let follower = second.app();
    wait_for(&follower, "ready", |r| r["status"] == "ready").await;

    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &first.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let handover = wait_for(&follower, "ingesting", |r| r["market"]["ingesting"] == true).await;
    assert!(
        handover < Duration::from_secs(8),
        "took {handover:?}: the lease was not given up"
    );
}

#[tokio::test]
async fn an_alert_fires_once_and_is_delivered_when_the_leader_dies_at_the_close() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let deployment = Deployment::new(&fake, &ALERT_ENV).await;
    let first = deployment.start();
    let leader = first.app();
    wait_for(&leader, "ingesting and filled", |r| {
        r["market"]["ingesting"] == true && r["market"]["filled"] == true
    })
    .await;
    let second = deployment.start();
    let follower = second.app();
    wait_for(&follower, "ready", |r| {
        r["status"] == "ready" && r["market"]["feed"] == "live"
    })
    .await;
    // Both instances hear a close, then the price moves off it.
    close_candle(&fake);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let receiver = Receiver::start();
    let trader = signed_up(&follower, "failover@example.com").await;
    let level = next_close(&fake);
    let created = create_alert(
        &trader,
        serde_json::json!({
            "symbol": "BTCUSDT", "interval": "1m",
            "condition": { "kind": "crossing", "level": level },
            "channels": { "webhook": { "url": format!("{}/hook", receiver.url) } }
        }),
    )
    .await;
    receiver
        .control(created.webhook_secret.as_deref().unwrap(), serde_json::json!([]))
        .await;
    // Both instances read the alert before the close.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // The candle closes and the ingesting instance dies at once.
    close_candle(&fake);
    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let received = receiver.wait_for(1, Duration::from_secs(45)).await;
    assert_eq!(received.len(), 1, "delivered: {received:#?}");
    assert_eq!(received[0]["verified"], true);
    let firings = settled_firings(&trader, &created.alert.id, Duration::from_secs(10)).await;
    assert_eq!(firings.len(), 1, "fired once: {firings:#?}");
    assert_eq!(received[0]["id"].as_str(), Some(firings[0].id.as_str()));
    // Nothing else comes later (a second firing, a second delivery).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.received().await.len(), 1);
}
