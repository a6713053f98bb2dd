//! Alerts end to end in a real headless Chromium, as a trader meets them:
//! browser notifications turned on from the alert form, a price alert set
//! from the chart's "Alert" button and drawn as a line, `/alerts` listing
//! it, and, once a candle of the fake Binance closes across it, its firing
//! with each delivery and attempt, and "Send again".
//!
//! Headless Chromium here has no internet, so its own push service (FCM)
//! is out of reach: `PushManager`'s `subscribe` and `getSubscription` are
//! replaced before the page loads by ones that answer a subscription made
//! at the mock push service (web-push-testing) for the server's VAPID key.
//! Everything else is the browser's and ours: the permission prompt, the
//! service worker's registration, the page posting the subscription, the
//! server encrypting and signing the push, the push service decrypting it.
//! Screenshots go to `target/e2e/alerts-*.png`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
use inchart_api::alerts::{DeliveryState, Firing, PushMessage};
use inchart_fakes::binance::FakeBinanceConfig;
use inchart_fakes::smtp::SmtpSink;
use serde_json::{Value, json};

use crate::alerts::{close_candle, live_app, next_close};
use crate::alerts_push::PushService;
use crate::browser::{CHART_COUNT, HYDRATED, click, run, sign_up_as_ann, start_browser, wait_for};
use crate::chart_tools::page_api;

fn out_dir() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    out
}

async fn screenshot(client: &Client, name: &str) {
    std::fs::write(out_dir().join(name), client.screenshot().await.unwrap()).unwrap();
}

/// A Chrome DevTools Protocol command, sent through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}

async fn cdp(client: &Client, cmd: &'static str, params: Value) {
    client
        .issue_cmd(Cdp { cmd, params })
        .await
        .unwrap_or_else(|error| panic!("{cmd}: {error}"));
}

/// Stands in for the browser's own push service, in every page from the
/// next one on: `subscribe` answers `subscription` (made at the mock push
/// service for `key`, the server's VAPID key) when asked for that key,
/// `getSubscription` answers it while subscribed, and `unsubscribe`
/// forgets it. Subscribed is kept in `localStorage`, like a browser keeps
/// its subscription across pages.
fn push_manager_stand_in(subscription: &Value, key: &str) -> String {
    format!(
        r#"(() => {{
  if (!('PushManager' in self)) return;
  const subscription = {subscription};
  const serverKey = '{key}';
  const bytes = (base64url) => {{
    const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
    return Uint8Array.from(atob(base64 + '='.repeat((4 - base64.length % 4) % 4)), c => c.charCodeAt(0));
  }};
  const subscribed = {{
    get() {{ try {{ return localStorage.getItem('inchart-test-push') === 'on'; }} catch (_) {{ return false; }} }},
    set(on) {{ if (on) localStorage.setItem('inchart-test-push', 'on'); else localStorage.removeItem('inchart-test-push'); }},
  }};
  const made = () => ({{
    endpoint: subscription.endpoint,
    expirationTime: null,
    options: {{ userVisibleOnly: true, applicationServerKey: bytes(serverKey).buffer }},
    getKey: (name) => bytes(subscription.keys[name]).buffer,
    toJSON: () => ({{ endpoint: subscription.endpoint, expirationTime: null, keys: subscription.keys }}),
    unsubscribe: async () => {{ subscribed.set(false); return true; }},
  }});
  PushManager.prototype.subscribe = async function (options) {{
    const asked = new Uint8Array(options && options.applicationServerKey ? options.applicationServerKey : []);
    const want = bytes(serverKey);
    if (asked.length !== want.length || asked.some((b, i) => b !== want[i])) {{
      throw new DOMException('not the key the push service subscribed', 'InvalidAccessError');
    }}
    subscribed.set(true);
    return made();
  }};
  PushManager.prototype.getSubscription = async function () {{
    return subscribed.get() ? made() : null;
  }};
}})();"#
    )
}

/// The alert's firings, read from the API the page uses.
async fn firings(client: &Client, alert: &str) -> Vec<Firing> {
    let (status, body) = page_api(client, "GET", &format!("/api/v1/alerts/{alert}/firings"), None).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// The push service's messages for `client_hash`, once there are `count`.
async fn pushes(
    service: &PushService,
    http: &reqwest::Client,
    client_hash: &str,
    count: usize,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let received = service.received(http, client_hash).await;
        if received.len() >= count || Instant::now() > deadline {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The chart legend's words that the buttons over the chart cover, once
/// both are there.
const COVERED_LEGEND: &str = r#"
const chips = [...document.querySelectorAll('[data-chart] .chart-controls .chip')].map(c => c.getBoundingClientRect());
const legend = document.querySelector('[data-chart] .trading-vue-legend');
if (!chips.length || !legend) return null;
const words = [];
const walk = document.createTreeWalker(legend, NodeFilter.SHOW_TEXT);
while (walk.nextNode()) {
  const text = walk.currentNode;
  if (!text.textContent.trim()) continue;
  const range = document.createRange();
  range.selectNodeContents(text);
  for (const box of range.getClientRects()) {
    if (chips.some(c => box.left < c.right && c.left < box.right && box.top < c.bottom && c.top < box.bottom)) {
      words.push(text.textContent.trim());
    }
  }
}
return words;
"#;

/// Whether the open form's "Create alert" is what a tap at its middle
/// reaches (nothing covers it), once it is on the screen.
const SAVE_ON_TOP: &str = r#"
const save = document.querySelector('[data-testid=alert-form] [data-testid=alert-save]');
if (!save) return null;
save.scrollIntoView({ block: 'nearest' });
const box = save.getBoundingClientRect();
const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
return hit && save.contains(hit) ? 'yes' : (hit ? hit.outerHTML.slice(0, 200) : 'nothing');
"#;

const PUSH_STATE: &str =
    "return document.querySelector('[data-testid=alert-form] .push-switch')?.dataset.pushState || null;";

/// How many attempts the opened firing shows for `channel`.
fn attempts_shown(channel: &str) -> String {
    format!(
        "return document.querySelectorAll('[data-testid=firing-row] [data-testid=delivery-row][data-channel={channel}] [data-testid=attempt-row]').length;"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trader_turns_on_notifications_sets_an_alert_on_the_chart_and_sees_it_fire() {
    let bin = std::env::var("INCHART_PUSH_SERVICE_BIN").expect(
        "INCHART_PUSH_SERVICE_BIN names the mock push service (`source scripts/setup.sh && setup_push_service`)",
    );
    let service = PushService::start(&bin);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let fake = crate::live::fake_binance(FakeBinanceConfig::default()).await;
    let sink = SmtpSink::start().await.unwrap();
    let smtp = sink.url();
    let app = live_app(&fake, &[("INCHART_SMTP_URL", smtp.as_str())]).await;
    let (_driver, client) = start_browser().await;
    sign_up_as_ann(&client, &app).await;
    wait_for(&client, "the page to hydrate", HYDRATED).await;

    // The browser allows InChart's notifications when asked, and its push
    // service hands out a subscription for the server's key.
    cdp(
        &client,
        "Browser.grantPermissions",
        json!({ "permissions": ["notifications"], "origin": app.address }),
    )
    .await;
    let (status, key) = page_api(&client, "GET", "/api/v1/push/key", None).await;
    assert_eq!(status, 200, "{key}");
    let key = key["public_key"]
        .as_str()
        .unwrap_or_else(|| panic!("the server's VAPID key: {key}"))
        .to_string();
    let (subscription, client_hash) = service.subscribe(&http, &key).await;
    let subscription = serde_json::to_value(&subscription).unwrap();
    cdp(
        &client,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": push_manager_stand_in(&subscription, &key) }),
    )
    .await;

    // On /alerts, "New alert" opens the form, whose switch turns this
    // browser's notifications on: the service worker registers.
    client.goto(&format!("{}/alerts", app.address)).await.unwrap();
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    wait_for(
        &client,
        "the empty list",
        "return document.querySelector('[data-testid=alerts-empty]') !== null;",
    )
    .await;
    click(&client, "[data-testid=alert-new]").await;
    let state = wait_for(&client, "the push switch", PUSH_STATE).await;
    assert_eq!(state, "off", "notifications are possible, not on yet");
    click(&client, "[data-testid=alert-form] [data-testid=push-enable]").await;
    let state = wait_for(
        &client,
        "notifications on",
        &format!("const s = (() => {{ {PUSH_STATE} }})(); return s && s !== 'off' ? s : null;"),
    )
    .await;
    let said = run(
        &client,
        "return document.querySelector('.push-switch').innerText;",
    )
    .await;
    assert_eq!(state, "on", "the switch says: {said}");
    assert!(said.as_str().unwrap().contains("Notifications are on"), "{said}");
    let worker = wait_for(
        &client,
        "the service worker",
        "return navigator.serviceWorker.getRegistration('/').then(r => r && r.active ? r.active.scriptURL : null);",
    )
    .await;
    assert!(worker.as_str().unwrap().ends_with("/sw.js"), "{worker}");
    assert_eq!(run(&client, "return Notification.permission;").await, "granted");
    screenshot(&client, "alerts-push-on.png").await;
    click(&client, "[data-testid=alert-cancel]").await;

    // On the chart, "Alert" opens the short form at the last price.
    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1m", app.address))
        .await
        .unwrap();
    wait_for(&client, "the chart", CHART_COUNT).await;
    let level = next_close(&fake);
    wait_for(
        &client,
        "the chart at the last price",
        &format!(
            "const chart = document.querySelector('[data-chart] .chart-host').__inchartChart; \
             return Math.abs(chart.lastCandle()[4] - {level}) < 1e-9;"
        ),
    )
    .await;
    click(&client, "[data-testid=chart-alert-button]").await;
    let prefilled = wait_for(
        &client,
        "the alert form",
        "return document.querySelector('[data-testid=alert-form] [data-testid=alert-level]')?.value || null;",
    )
    .await;
    assert_eq!(
        prefilled.as_str().unwrap().parse::<f64>().unwrap(),
        level,
        "the level is the last price"
    );
    let series = run(
        &client,
        "return document.querySelector('[data-testid=alert-series]').innerText;",
    )
    .await;
    assert_eq!(series, "BTCUSDT \u{00b7} 1m");
    assert_eq!(
        wait_for(&client, "the push switch", PUSH_STATE).await,
        "on",
        "this browser's notifications are still on"
    );
    click(&client, "[data-testid=alert-form] [data-testid=alert-push]").await;
    screenshot(&client, "alerts-chart-form.png").await;
    click(&client, "[data-testid=alert-form] [data-testid=alert-save]").await;

    // Saved, the form closes and the chart draws the alert's line.
    let lines = wait_for(
        &client,
        "the alert's line",
        "const lines = document.querySelector('[data-chart] .chart-host').__inchartChart.alertLines(); \
         return lines.length && !document.querySelector('[data-testid=alert-form]') ? lines : null;",
    )
    .await;
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["price"].as_f64(), Some(level), "{lines:?}");
    assert_eq!(lines[0]["paused"], false, "{lines:?}");
    let alert_id = lines[0]["id"].as_str().unwrap().to_string();
    screenshot(&client, "alerts-chart-line.png").await;
    client.set_window_size(390, 844).await.unwrap();
    wait_for(&client, "the phone's width", "return window.innerWidth <= 400;").await;
    wait_for(&client, "the chart", CHART_COUNT).await;
    // On a phone the buttons over the chart leave its legend readable,
    // and the form opens where it can be used.
    let covered = wait_for(&client, "the chart's buttons and legend laid out", COVERED_LEGEND).await;
    screenshot(&client, "alerts-chart-line-phone.png").await;
    assert_eq!(covered, json!([]), "legend text under the chart's buttons");
    click(&client, "[data-testid=chart-alert-button]").await;
    let on_top = wait_for(&client, "the form on a phone", SAVE_ON_TOP).await;
    screenshot(&client, "alerts-chart-form-phone.png").await;
    assert_eq!(on_top, "yes", "Create alert can be tapped: {on_top}");
    click(&client, "[data-testid=alert-form] [data-testid=alert-cancel]").await;
    client.set_window_size(1280, 800).await.unwrap();

    // /alerts lists it, active, with its channels.
    client.goto(&format!("{}/alerts", app.address)).await.unwrap();
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    let row = format!("[data-testid=alert-row][data-alert-id='{alert_id}']");
    let listed = wait_for(
        &client,
        "the alert in the list",
        &format!("return document.querySelector(\"{row}\")?.innerText ?? null;"),
    )
    .await;
    let listed = listed.as_str().unwrap();
    assert!(listed.contains("BTCUSDT \u{00b7} 1m"), "{listed}");
    let channels = run(
        &client,
        &format!("return [...document.querySelectorAll(\"{row} .channel-badge\")].map(b => b.innerText);"),
    )
    .await;
    assert_eq!(channels, json!(["Email", "Push"]), "{listed}");
    let state = run(
        &client,
        &format!("return document.querySelector(\"{row}\").dataset.state;"),
    )
    .await;
    assert_eq!(state, "active", "{listed}");
    screenshot(&client, "alerts-list.png").await;

    // The candle closes at the level: the alert fires, and the push
    // reaches the push service, which decrypts it.
    close_candle(&fake);
    let received = pushes(&service, &http, &client_hash, 1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let shown: PushMessage = serde_json::from_str(&received[0]).unwrap();
    assert!(shown.title.contains("BTCUSDT"), "{shown:?}");
    assert!(shown.url.starts_with("/chart/BTCUSDT"), "{shown:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let firing = loop {
        let list = firings(&client, &alert_id).await;
        let settled = list.first().filter(|firing| {
            firing
                .deliveries
                .iter()
                .all(|d| d.state != DeliveryState::Pending)
        });
        if let Some(firing) = settled {
            break firing.clone();
        }
        assert!(Instant::now() < deadline, "no settled firing: {list:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let push = firing
        .deliveries
        .iter()
        .find(|d| d.channel == inchart_api::alerts::Channel::Push)
        .unwrap_or_else(|| panic!("a push delivery: {firing:#?}"));
    assert_eq!(push.state, DeliveryState::Delivered, "{firing:#?}");
    assert_eq!(shown.tag, firing.id, "the push names its firing");

    // Opened, the row shows the firing, each delivery and its attempts.
    client.goto(&format!("{}/alerts", app.address)).await.unwrap();
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    let state = wait_for(
        &client,
        "the alert, fired",
        &format!("return document.querySelector(\"{row}\")?.dataset.state ?? null;"),
    )
    .await;
    assert_eq!(state, "triggered", "a once alert is done after it fired");
    click(&client, &format!("{row} [data-testid=alert-expand]")).await;
    let deliveries = wait_for(
        &client,
        "the firing's deliveries",
        "const rows = [...document.querySelectorAll('[data-testid=firing-row] [data-testid=delivery-row]')]; \
         return rows.length ? rows.map(r => [r.dataset.channel, r.dataset.state]) : null;",
    )
    .await;
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .contains(&json!(["push", "delivered"])),
        "{deliveries}"
    );
    assert_eq!(
        run(&client, &attempts_shown("push")).await,
        json!(1),
        "one attempt so far"
    );
    let answer = run(
        &client,
        "return document.querySelector('[data-testid=delivery-row][data-channel=push] [data-testid=attempt-row]').innerText;",
    )
    .await;
    assert!(answer.as_str().unwrap().contains("201"), "{answer}");
    screenshot(&client, "alerts-firing.png").await;

    // "Send again" sends the same firing once more: a second attempt,
    // and a second message at the push service.
    click(&client, "[data-testid=firing-resend]").await;
    wait_for(
        &client,
        "the second attempt",
        &format!("return (() => {{ {} }})() === 2;", attempts_shown("push")),
    )
    .await;
    let received = pushes(&service, &http, &client_hash, 2).await;
    assert_eq!(received.len(), 2, "{received:?}");
    let again: PushMessage = serde_json::from_str(&received[1]).unwrap();
    assert_eq!(again.tag, firing.id, "the same firing, again");
    screenshot(&client, "alerts-firing-resent.png").await;
    client.set_window_size(390, 844).await.unwrap();
    wait_for(&client, "the phone's width", "return window.innerWidth <= 400;").await;
    let overflow = run(
        &client,
        "return document.documentElement.scrollWidth > window.innerWidth;",
    )
    .await;
    screenshot(&client, "alerts-firing-phone.png").await;
    assert_eq!(overflow, json!(false), "/alerts fits a phone's width");
}
