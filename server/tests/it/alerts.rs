//! Alerts: a price alert fires on a closed candle of the fake Binance,
//! once, and reaches a webhook receiver that checks every signature with
//! the official `standardwebhooks` library (`webhook_receiver.py`), and an
//! SMTP sink; the receiver's faults (500s, 429 with Retry-After, a hang
//! past the timeout) are retried and recorded attempt by attempt; bad
//! webhooks are refused naming the field.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inchart_api::alerts::{Alert, AlertCreated, AlertState, Channel, DeliveryState, Firing};
use inchart_api::market::Interval;
use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig};
use inchart_fakes::smtp::SmtpSink;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::accounts::Visitor;
use crate::helpers::{CacheKind, Db, TestApp, spawn_app_with};
use crate::live::{btc, fake_binance, spawn_live};
use crate::scripts::{api, signed_up};

/// The webhook receiver, stopped when dropped.
pub(crate) struct Receiver {
    child: Child,
    pub(crate) url: String,
    http: reqwest::Client,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    pub(crate) fn start() -> Receiver {
        let site = std::env::var("INCHART_WEBHOOKS_SITE").expect(
            "INCHART_WEBHOOKS_SITE names standardwebhooks' folder (scripts/setup.sh setup_webhook_reference)",
        );
        let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/webhook_receiver.py");
        let mut child = Command::new(python)
            .arg(script)
            .env("PYTHONPATH", site)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the webhook receiver starts");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let port: u16 = line.trim().parse().expect("the receiver prints its port");
        Receiver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn control(&self, secret: &str, plan: Value) {
        self.http
            .post(format!("{}/_control", self.url))
            .json(&json!({ "secret": secret, "plan": plan }))
            .send()
            .await
            .unwrap();
    }

    pub(crate) async fn received(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/_received", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until `count` requests came, for at most `limit`.
    pub(crate) async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let received = self.received().await;
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Settings for alert tests: webhooks may reach this machine, retries
/// come fast, and Free has webhooks.
pub(crate) const ALERT_ENV: [(&str, &str); 4] = [
    ("INCHART_ALERTS_ALLOW_LOOPBACK", "yes"),
    ("INCHART_ALERT_RETRY_BASE", "200ms"),
    ("INCHART_WEBHOOK_TIMEOUT", "1s"),
    (
        "INCHART_FREE_LIMITS",
        "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,alerts=20,firings=100,webhooks=yes",
    ),
];

/// Moves the fake's forming 1m candle until its price differs from the
/// last close the app heard, and answers that price: an alert crossing
/// it fires when the candle closes.
pub(crate) fn next_close(fake: &FakeBinance) -> f64 {
    let candles = fake.candles(&btc(), Interval::M1);
    let before = candles[candles.len() - 2].close;
    loop {
        fake.tick_series(&btc(), Interval::M1);
        let forming = *fake.candles(&btc(), Interval::M1).last().unwrap();
        if forming.close != before && forming.close != forming.open {
            return forming.close;
        }
    }
}

/// Closes the forming 1m candle (and opens the next).
pub(crate) fn close_candle(fake: &FakeBinance) {
    let to_next_minute = 60_000 - fake.now_ms().rem_euclid(60_000);
    fake.advance(Duration::from_millis((to_next_minute + 1_000) as u64));
}

pub(crate) async fn create_alert(visitor: &Visitor, spec: Value) -> AlertCreated {
    let (status, body) = api(visitor, Method::POST, "/api/v1/alerts", Some(spec)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_value(body).unwrap()
}

/// Waits until the alert's newest firing has its deliveries settled
/// (none pending), for at most `limit`.
pub(crate) async fn settled_firings(visitor: &Visitor, alert: &str, limit: Duration) -> Vec<Firing> {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = api(
            visitor,
            Method::GET,
            &format!("/api/v1/alerts/{alert}/firings"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let firings: Vec<Firing> = serde_json::from_value(body).unwrap();
        let settled = !firings.is_empty()
            && firings
                .iter()
                .all(|f| f.deliveries.iter().all(|d| d.state != DeliveryState::Pending));
        if settled || Instant::now() > deadline {
            return firings;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn live_app(fake: &FakeBinance, extra: &[(&str, &str)]) -> TestApp {
    let mut env: Vec<(&str, &str)> = ALERT_ENV.to_vec();
    env.extend_from_slice(extra);
    let app = spawn_live(Db::Postgres, CacheKind::Redis, fake, &env).await;
    // The app hears a close live, so it knows the close before the next.
    close_candle(fake);
    tokio::time::sleep(Duration::from_millis(500)).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_alert_fires_once_and_its_webhook_is_signed_and_retried() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let sink = SmtpSink::start().await.unwrap();
    let smtp = sink.url();
    let app = live_app(&fake, &[("INCHART_SMTP_URL", smtp.as_str())]).await;
    let receiver = Receiver::start();
    let trader = signed_up(&app, "alerts@example.com").await;

    // 500 twice, then 200: delivered once, after three attempts.
    let level = next_close(&fake);
    let created = create_alert(
        &trader,
        json!({
            "symbol": "BTCUSDT", "interval": "1m",
            "condition": { "kind": "crossing", "level": level },
            "channels": {
                "webhook": { "url": format!("{}/hook", receiver.url) },
                "email": true
            }
        }),
    )
    .await;
    let secret = created.webhook_secret.clone().expect("the secret is shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver
        .control(&secret, json!([{ "status": 500 }, { "status": 500 }]))
        .await;
    close_candle(&fake);

    let received = receiver.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 3, "{received:#?}");
    for request in &received {
        assert_eq!(
            request["verified"], true,
            "standardwebhooks refused it: {request}"
        );
        assert_eq!(
            request["id"], received[0]["id"],
            "one idempotency id for every attempt"
        );
    }
    let body: Value = serde_json::from_str(received[2]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "alert.fired");
    assert_eq!(body["data"]["symbol"], "BTCUSDT");
    assert_eq!(body["data"]["price"].as_f64(), Some(level));
    // Retried with backoff: the second attempt waited for it.
    let gap = received[1]["at"].as_f64().unwrap() - received[0]["at"].as_f64().unwrap();
    assert!(gap >= 0.09, "retried after {gap} s");

    let firings = settled_firings(&trader, &created.alert.id, Duration::from_secs(10)).await;
    assert_eq!(firings.len(), 1, "fired once: {firings:#?}");
    let firing = &firings[0];
    assert_eq!(received[0]["id"].as_str(), Some(firing.id.as_str()));
    let webhook = firing
        .deliveries
        .iter()
        .find(|d| d.channel == Channel::Webhook)
        .unwrap();
    assert_eq!(webhook.state, DeliveryState::Delivered);
    let statuses: Vec<Option<u16>> = webhook.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    // Email: the SMTP server's answer is recorded, and the mail carries
    // a one-click unsubscribe link that works.
    let email = firing
        .deliveries
        .iter()
        .find(|d| d.channel == Channel::Email)
        .unwrap();
    assert_eq!(email.state, DeliveryState::Delivered, "{email:#?}");
    assert!(email.attempts[0].outcome.starts_with("250"), "{email:#?}");
    // The first message is the sign-up's verification.
    let mail = sink
        .wait_for("alerts@example.com", 2, Duration::from_secs(5))
        .await
        .expect("the alert's email arrives");
    assert!(
        mail.subject().contains("BTCUSDT 1m crosses"),
        "{}",
        mail.subject()
    );
    let unsubscribe = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    let link = unsubscribe.trim_matches(|c| c == '<' || c == '>').to_string();
    let done = reqwest::Client::new()
        .post(&link)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK, "{link}");

    // A "once" alert is done after it fired; its email is off now.
    let (_, alert) = api(
        &trader,
        Method::GET,
        &format!("/api/v1/alerts/{}", created.alert.id),
        None,
    )
    .await;
    let alert: Alert = serde_json::from_value(alert).unwrap();
    assert_eq!(alert.state, AlertState::Triggered);
    assert!(!alert.spec.channels.email);
    assert_eq!(alert.firings, 1);

    // 429 with Retry-After, then a hang past the timeout, then 200.
    let level = next_close(&fake);
    let second = create_alert(
        &trader,
        json!({
            "symbol": "BTCUSDT", "interval": "1m",
            "condition": { "kind": "crossing", "level": level },
            "channels": { "webhook": { "url": format!("{}/hook", receiver.url) } }
        }),
    )
    .await;
    receiver
        .control(
            second.webhook_secret.as_deref().unwrap(),
            json!([{ "status": 429, "retry_after": 1 }, { "hang": 2 }]),
        )
        .await;
    close_candle(&fake);
    let received = receiver.wait_for(6, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 6, "{received:#?}");
    let waited = received[4]["at"].as_f64().unwrap() - received[3]["at"].as_f64().unwrap();
    assert!(waited >= 0.95, "Retry-After: 1 honoured, waited {waited} s");
    let firings = settled_firings(&trader, &second.alert.id, Duration::from_secs(10)).await;
    let attempts = &firings[0].deliveries[0].attempts;
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    assert_eq!(attempts[0].status, Some(429));
    assert_eq!(attempts[1].status, None);
    assert!(attempts[1].outcome.contains("no answer within"), "{attempts:#?}");
    assert_eq!(attempts[2].status, Some(200));

    // "Send again" delivers the same firing, under the same id.
    let firing = &firings[0].id;
    let (status, _) = api(
        &trader,
        Method::POST,
        &format!("/api/v1/alerts/{}/firings/{firing}/resend", second.alert.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let received = receiver.wait_for(7, Duration::from_secs(10)).await;
    assert_eq!(received[6]["id"].as_str(), Some(firing.as_str()));
    assert_eq!(received[6]["verified"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_keeps_failing_pauses_its_alert_and_tells_the_trader() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let sink = SmtpSink::start().await.unwrap();
    let smtp = sink.url();
    let app = live_app(&fake, &[("INCHART_SMTP_URL", smtp.as_str())]).await;
    let receiver = Receiver::start();
    let trader = signed_up(&app, "failing@example.com").await;
    let created = create_alert(
        &trader,
        json!({
            "symbol": "BTCUSDT", "interval": "1m",
            "condition": { "kind": "crossing", "level": 1.0 },
            "repeat": "every_time",
            "channels": { "webhook": { "url": format!("{}/gone", receiver.url) } }
        }),
    )
    .await;
    receiver
        .control(
            created.webhook_secret.as_deref().unwrap(),
            json!([{ "status": 404 }, { "status": 404 }, { "status": 404 }, { "status": 404 }]),
        )
        .await;
    // Moved to each candle's close (a line dragged on the chart), it fires
    // on every candle. 404 is not retried; three failed deliveries in a
    // row pause it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut fired = 0;
    loop {
        let level = next_close(&fake);
        let (status, body) = api(
            &trader,
            Method::PATCH,
            &format!("/api/v1/alerts/{}", created.alert.id),
            Some(json!({ "condition": { "kind": "crossing", "level": level } })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        close_candle(&fake);
        fired += 1;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let (_, alert) = api(
            &trader,
            Method::GET,
            &format!("/api/v1/alerts/{}", created.alert.id),
            None,
        )
        .await;
        let alert: Alert = serde_json::from_value(alert).unwrap();
        if alert.state == AlertState::Paused {
            assert!(
                alert
                    .paused_reason
                    .as_deref()
                    .unwrap_or("")
                    .contains("kept failing"),
                "{alert:#?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not paused after {fired} firings: {alert:#?}"
        );
    }
    let received = receiver.received().await;
    assert_eq!(received.len(), 3, "each 404 tried once: {received:#?}");
    let mail = sink
        .wait_for("failing@example.com", 2, Duration::from_secs(5))
        .await
        .expect("the trader is told");
    assert!(mail.subject().contains("paused"), "{}", mail.subject());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_alerts_are_refused_naming_the_field() {
    let app = spawn_app_with(
        Db::Sqlite,
        CacheKind::Memory,
        &[(
            "INCHART_FREE_LIMITS",
            "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,alerts=2,webhooks=yes",
        )],
    )
    .await;
    let trader = signed_up(&app, "bad-alerts@example.com").await;
    let with_webhook = |url: &str, template: Option<String>| {
        json!({
            "symbol": "BTCUSDT", "interval": "1h",
            "condition": { "kind": "crossing_up", "level": 70000.0 },
            "channels": { "webhook": { "url": url, "template": template } }
        })
    };
    for (spec, field, says) in [
        (
            with_webhook("http://10.0.0.7/hook", None),
            "channels.webhook.url",
            "private",
        ),
        (
            with_webhook("http://169.254.169.254/latest", None),
            "channels.webhook.url",
            "private",
        ),
        (
            with_webhook("http://127.0.0.1:9/hook", None),
            "channels.webhook.url",
            "private",
        ),
        // A name that resolves to loopback is refused like loopback.
        (
            with_webhook("http://localhost:9/hook", None),
            "channels.webhook.url",
            "private",
        ),
        (
            with_webhook("ftp://example.com/hook", None),
            "channels.webhook.url",
            "https://",
        ),
        (
            with_webhook("not a url", None),
            "channels.webhook.url",
            "not a URL",
        ),
        (
            with_webhook("https://1.1.1.1/hook", Some("x".repeat(5000))),
            "channels.webhook.template",
            "at most",
        ),
        (
            with_webhook("https://1.1.1.1/hook", Some("{\"a\": \"{{nope}}\"}".into())),
            "channels.webhook.template",
            "not a placeholder",
        ),
        (
            with_webhook("https://1.1.1.1/hook", Some("{\"a\": {{symbol}}}".into())),
            "channels.webhook.template",
            "not JSON",
        ),
        (
            json!({ "symbol": "BTCUSDT", "interval": "1h",
                    "condition": { "kind": "crossing_up", "level": -1.0 },
                    "channels": { "email": true } }),
            "condition.level",
            "above zero",
        ),
        (
            json!({ "symbol": "BTCUSDT", "interval": "1h",
                    "condition": { "kind": "entering_range", "low": 10.0, "high": 5.0 },
                    "channels": { "email": true } }),
            "condition.high",
            "above",
        ),
        (
            json!({ "symbol": "BTCUSDT", "interval": "1h",
                    "condition": { "kind": "crossing_up", "level": 1.0 },
                    "channels": {} }),
            "channels",
            "Pick where",
        ),
        (
            json!({ "symbol": "BTCUSDT", "interval": "1h",
                    "condition": { "kind": "crossing_up", "level": 1.0 },
                    "expires_at": 1000, "channels": { "email": true } }),
            "expires_at",
            "past",
        ),
    ] {
        let (status, body) = api(&trader, Method::POST, "/api/v1/alerts", Some(spec.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{spec}: {body}");
        assert_eq!(body["error"]["field"], field, "{spec}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{spec}: {message}");
    }
    // The plan's active alerts: 402 past them.
    let email_alert = json!({ "symbol": "BTCUSDT", "interval": "1h",
        "condition": { "kind": "crossing_up", "level": 1.0 }, "channels": { "email": true } });
    for _ in 0..2 {
        create_alert(&trader, email_alert.clone()).await;
    }
    let (status, body) = api(&trader, Method::POST, "/api/v1/alerts", Some(email_alert)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["field"], "alerts");

    // Another trader sees none of them.
    let other = signed_up(&app, "other-alerts@example.com").await;
    let (_, mine) = api(&trader, Method::GET, "/api/v1/alerts", None).await;
    let id = mine[0]["id"].as_str().unwrap();
    let (status, _) = api(&other, Method::GET, &format!("/api/v1/alerts/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(&other, Method::DELETE, &format!("/api/v1/alerts/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = api(&other, Method::GET, "/api/v1/alerts", None).await;
    assert_eq!(theirs, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_on_pro_only_by_default() {
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &[]).await;
    let trader = signed_up(&app, "free-webhook@example.com").await;
    let (status, body) = api(
        &trader,
        Method::POST,
        "/api/v1/alerts",
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h",
            "condition": { "kind": "crossing_up", "level": 1.0 },
            "channels": { "webhook": { "url": "https://1.1.1.1/hook" } } })),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["field"], "webhooks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_alert_fires_on_its_live_runs_new_markers_only() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = live_app(&fake, &[]).await;
    let receiver = Receiver::start();
    let trader = signed_up(&app, "script-alerts@example.com").await;
    // A sell on every candle, and a buy on the first one only: the buy is
    // never new.
    let source = "from inchart import buy, sell\n\ndef signals(c):\n    \
                  return [buy(c.time[0], c.close[0], 'old')] + [sell(t, p, 'fresh') for t, p in zip(c.time, c.close)], {}\n";
    let script = crate::scripts::create(&trader, "every candle", source).await;
    let (status, body) = api(
        &trader,
        Method::PUT,
        &format!("/api/v1/scripts/{script}/live/BTCUSDT/1m"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let spec = |sides: &str| {
        json!({
            "symbol": "BTCUSDT", "interval": "1m",
            "condition": { "kind": "script", "script_id": script, "sides": sides },
            "repeat": "every_time",
            "channels": { "webhook": { "url": format!("{}/hook", receiver.url),
                "template": "{\"text\": \"{{script}}: {{side}} {{symbol}} at {{price}} ({{label}})\"}" } }
        })
    };
    let sells = create_alert(&trader, spec("sell")).await;
    let buys = create_alert(&trader, spec("buy")).await;
    assert_eq!(sells.alert.script_name.as_deref(), Some("every candle"));
    // One secret per alert; the receiver checks with the sells' (the buys'
    // never fire).
    receiver
        .control(sells.webhook_secret.as_deref().unwrap(), json!([]))
        .await;
    let closing = fake.candles(&btc(), Interval::M1).last().copied().unwrap();
    close_candle(&fake);

    let received = receiver.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0]["verified"], true);
    let body: Value = serde_json::from_str(received[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["text"],
        format!("every candle: sell BTCUSDT at {} (fresh)", closing.close)
    );
    let firings = settled_firings(&trader, &sells.alert.id, Duration::from_secs(10)).await;
    assert_eq!(firings.len(), 1);
    assert_eq!(firings[0].candle_time, closing.open_time);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, none) = api(
        &trader,
        Method::GET,
        &format!("/api/v1/alerts/{}/firings", buys.alert.id),
        None,
    )
    .await;
    assert_eq!(none, json!([]), "an old buy is not a new signal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_minute_gets_the_firing_when_it_is_back() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = live_app(&fake, &[]).await;
    // A port nobody listens on yet.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let trader = signed_up(&app, "down@example.com").await;
    let level = next_close(&fake);
    let created = create_alert(
        &trader,
        json!({
            "symbol": "BTCUSDT", "interval": "1m",
            "condition": { "kind": "crossing", "level": level },
            "channels": { "webhook": { "url": format!("http://127.0.0.1:{port}/hook") } }
        }),
    )
    .await;
    close_candle(&fake);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let (_, firings) = api(
        &trader,
        Method::GET,
        &format!("/api/v1/alerts/{}/firings", created.alert.id),
        None,
    )
    .await;
    let firings: Vec<Firing> = serde_json::from_value(firings).unwrap();
    let delivery = &firings[0].deliveries[0];
    assert_eq!(
        delivery.state,
        DeliveryState::Pending,
        "still trying: {delivery:#?}"
    );
    assert!(delivery.attempts.len() >= 4, "{delivery:#?}");
    assert!(
        delivery.attempts.iter().all(|a| a.outcome.contains("connect")),
        "{delivery:#?}"
    );

    // The receiver comes back on the same port.
    let receiver = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    receiver.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(receiver).unwrap();
    let (heard_tx, mut heard_rx) = tokio::sync::mpsc::unbounded_channel();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: reqwest::header::HeaderMap| {
            let heard_tx = heard_tx.clone();
            async move {
                let _ = heard_tx.send(headers.get("webhook-id").unwrap().to_str().unwrap().to_string());
                StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });
    let id = tokio::time::timeout(Duration::from_secs(90), heard_rx.recv())
        .await
        .expect("delivered once the receiver is back")
        .unwrap();
    assert_eq!(id, firings[0].id);
    let firings = settled_firings(&trader, &created.alert.id, Duration::from_secs(10)).await;
    assert_eq!(firings[0].deliveries[0].state, DeliveryState::Delivered);
}
