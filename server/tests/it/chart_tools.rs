//! The trader's chart in a real headless Chromium: script panes, the
//! trader's scripts on open, drawings kept and synced, several charts on
//! one page. Screenshots go to `target/e2e/`, in both themes and on a
//! phone.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::Client;
use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use inchart_api::market::Interval;
use inchart_fakes::binance::FakeBinanceConfig;
use serde_json::Value;

use crate::browser::{CHART_COUNT, HYDRATED, run, sign_up_as_ann, start_browser, type_into, wait_for};
use crate::helpers::{CacheKind, Db, TestApp, spawn_app, spawn_app_with};
use crate::live::{binance_env, btc, fake_binance};

fn out_dir() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    out
}

async fn screenshot(client: &Client, name: &str) {
    std::fs::write(out_dir().join(name), client.screenshot().await.unwrap()).unwrap();
}

/// Switches the page's theme with its toggle (the chart follows), and
/// waits two frames.
async fn set_theme(client: &Client, theme: &str) {
    run(
        client,
        &format!(
            "if (document.documentElement.dataset.theme !== '{theme}') document.querySelector('.theme-toggle').click(); \
             return new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(null))));"
        ),
    )
    .await;
    let now = run(client, "return document.documentElement.dataset.theme;").await;
    assert_eq!(now, theme, "the toggle switched the theme");
}

async fn resize(client: &Client, width: u32, height: u32) {
    client.set_window_size(width, height).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// A JSON call to the API from the page, with the session's CSRF token
/// (read from any of the page's forms): `[status, body]`.
pub(crate) async fn page_api(client: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map_or_else(
        || "undefined".to_string(),
        |body| format!("JSON.stringify({body})"),
    );
    let answer = run(
        client,
        &format!(
            "const csrf = document.querySelector('input[name=csrf]')?.value \
               ?? document.cookie.split('; ').find(c => c.includes('csrf='))?.split('=')[1]; \
             return fetch('{path}', {{ method: '{method}', headers: {{ 'content-type': 'application/json', 'x-csrf-token': csrf }}, body: {body} }}) \
               .then(async r => [r.status, await r.text()]);"
        ),
    )
    .await;
    let status = answer[0].as_u64().unwrap() as u16;
    let text = answer[1].as_str().unwrap_or_default();
    (status, serde_json::from_str(text).unwrap_or(Value::Null))
}

/// An RSI in its own pane with its 30 and 70 levels, and a buy where the
/// RSI leaves the oversold zone, a sell where it leaves the overbought one.
const RSI_SCRIPT: &str = r##"from inchart import rsi, crossover, crossunder, buy, sell, line, level


def signals(c):
    r = rsi(c.close, 14)
    buys = [buy(c.time[i], c.low[i]) for i in crossover(r, 30)]
    sells = [sell(c.time[i], c.high[i]) for i in crossunder(r, 70)]
    return buys + sells, {
        "RSI 14": line(r, color="#bf5af2", pane="RSI"),
        "Overbought": level(70),
        "Oversold": level(30),
    }
"##;

/// What the chart on the page draws: its overlays over the candles and its
/// panes, as the mounted component holds them.
const DRAWN: &str = "const host = document.querySelector('[data-chart][data-state=ready] .chart-host'); \
     const chart = host && host.__inchartChart; \
     if (!chart) return null; \
     return { overlays: chart.overlays().map(o => [o.type, o.data.length]), panes: chart.panes() };";

#[tokio::test]
async fn an_rsi_script_draws_in_its_own_pane_and_shows_on_the_chart_when_it_opens() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let (_driver, client) = start_browser().await;
    sign_up_as_ann(&client, &app).await;
    wait_for(&client, "the page to hydrate", HYDRATED).await;

    // A script attached live to BTCUSDT 1h that has run once.
    let (status, script) = page_api(
        &client,
        "POST",
        "/api/v1/scripts",
        Some(serde_json::json!({ "name": "RSI zones", "source": RSI_SCRIPT })),
    )
    .await;
    assert_eq!(status, 201, "{script}");
    let id = script["id"].as_str().unwrap().to_string();
    let (status, body) = page_api(
        &client,
        "PUT",
        &format!("/api/v1/scripts/{id}/live/BTCUSDT/1h"),
        None,
    )
    .await;
    assert!(status < 300, "{status} {body}");
    let (status, ran) = page_api(
        &client,
        "POST",
        &format!("/api/v1/scripts/{id}/runs"),
        Some(serde_json::json!({ "symbol": "BTCUSDT", "interval": "1h" })),
    )
    .await;
    assert_eq!(status, 200, "{ran}");
    let markers = ran["result"]["Ok"]["markers"]
        .as_array()
        .unwrap_or_else(|| panic!("the run succeeded: {ran}"))
        .len();
    assert!(markers > 0, "the run found signals: {ran}");

    // Opening the chart draws them at once: no candle has to close first.
    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1h", app.address))
        .await
        .unwrap();
    let drawn = wait_for(
        &client,
        "the script's markers and pane on open",
        &format!("const d = (() => {{ {DRAWN} }})(); return d && d.panes.length ? d : null;"),
    )
    .await;
    let overlays = drawn["overlays"].as_array().unwrap();
    assert!(
        overlays
            .iter()
            .any(|o| o[0] == "Trades" && o[1].as_u64() == Some(markers as u64)),
        "every marker is drawn: {drawn}"
    );
    let pane = &drawn["panes"][0];
    assert_eq!(pane["name"], "RSI", "{drawn}");
    let levels: Vec<f64> = pane["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["value"].as_f64().unwrap())
        .collect();
    assert_eq!(levels, [70.0, 30.0], "{drawn}");
    assert!(
        overlays.iter().all(|o| o[0] != "Spline"),
        "the RSI is not drawn on the price scale: {drawn}"
    );

    // The pane is really painted: the RSI's colour sits inside the pane's
    // rectangle, under the candles, and the level lines at 70 and 30.
    let paint = wait_for(
        &client,
        "the RSI's pixels in its pane",
        "const chart = document.querySelector('[data-chart] .chart-host').__inchartChart; \
         const p = chart.paneLayout()[0]; if (!p) return null; \
         const want = [0xbf, 0x5a, 0xf2]; let inside = 0, outside = 0; \
         for (const canvas of document.querySelectorAll('[data-chart] canvas')) { \
           if (!canvas.width || !canvas.height) continue; \
           const box = canvas.getBoundingClientRect(); \
           const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data; \
           const sx = canvas.width / box.width, sy = canvas.height / box.height; \
           for (let i = 0; i < px.length; i += 4) { \
             if (px[i + 3] < 200 || Math.abs(px[i] - want[0]) + Math.abs(px[i + 1] - want[1]) + Math.abs(px[i + 2] - want[2]) > 24) continue; \
             const y = box.top + Math.floor(i / 4 / canvas.width) / sy; \
             if (y >= p.top && y <= p.top + p.height) inside++; else outside++; \
           } \
         } \
         return inside > 100 ? { inside, outside, pane: p } : null;",
    )
    .await;
    assert!(
        paint["outside"].as_u64().unwrap() < paint["inside"].as_u64().unwrap() / 10,
        "the line stays in its pane: {paint}"
    );
    set_theme(&client, "dark").await;
    screenshot(&client, "chart-rsi-pane-dark.png").await;
    set_theme(&client, "light").await;
    screenshot(&client, "chart-rsi-pane-light.png").await;

    // The layers menu lists the script, shown, and hides it for good.
    run(
        &client,
        "document.querySelector('.chart-layers .chip').click(); return null;",
    )
    .await;
    let listed = wait_for(
        &client,
        "the layers menu",
        "const row = document.querySelector('.layers-menu .layer'); return row ? row.innerText : null;",
    )
    .await;
    assert!(listed.as_str().unwrap().contains("RSI zones"), "{listed}");
    screenshot(&client, "chart-layers-menu.png").await;
    run(
        &client,
        "document.querySelector('.layers-menu .layer input[type=checkbox]').click(); return null;",
    )
    .await;
    wait_for(
        &client,
        "the script's pane to go",
        &format!("const d = (() => {{ {DRAWN} }})(); return d && d.panes.length === 0;"),
    )
    .await;
    // The choice is the account's: a reload keeps it hidden.
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.refresh().await.unwrap();
    wait_for(&client, "the chart", CHART_COUNT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = run(&client, DRAWN).await;
    assert_eq!(after["panes"].as_array().map(Vec::len), Some(0), "{after}");

    resize(&client, 390, 800).await;
    screenshot(&client, "chart-phone.png").await;
}

/// Clicks the chart's price area at `(x, y)` pixels from its top left.
async fn click_chart_at(client: &Client, x: f64, y: f64) {
    let host = client
        .find(fantoccini::Locator::Css("[data-chart] .chart-host"))
        .await
        .unwrap();
    let rect = host.rectangle().await.unwrap();
    let (left, top) = (rect.0, rect.1);
    let actions = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(50)),
            x: left + x,
            y: top + y,
        })
        .then(PointerAction::Down {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Pause {
            duration: Duration::from_millis(150),
        });
    client.perform_actions(actions).await.unwrap();
    client.release_actions().await.unwrap();
}

/// Presses Alt + `key` on the chart.
async fn alt(client: &Client, key: char) {
    let keys = KeyActions::new("keys".into())
        .then(KeyAction::Down { value: '\u{E00A}' })
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key })
        .then(KeyAction::Up { value: '\u{E00A}' });
    client.perform_actions(keys).await.unwrap();
    client.release_actions().await.unwrap();
}

const DRAWINGS: &str = "const host = document.querySelector('[data-chart][data-state=ready] .chart-host'); \
     return host && host.__inchartChart ? host.__inchartChart.drawings() : null;";

fn drawing_count(n: usize) -> String {
    format!("const d = (() => {{ {DRAWINGS} }})(); return d && d.length === {n} ? d : null;")
}

/// Draws a trend line across the middle of the chart.
async fn draw_trend_line(client: &Client) {
    // Over the chart first, so that the shortcut is the chart's.
    click_chart_at(client, 300.0, 200.0).await;
    alt(client, 't').await;
    click_chart_at(client, 200.0, 250.0).await;
    click_chart_at(client, 500.0, 150.0).await;
}

#[tokio::test]
async fn a_drawn_trend_line_survives_a_reload_and_reaches_the_traders_other_browser() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let (_driver, client) = start_browser().await;

    // A visitor draws first: kept by the browser.
    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1h", app.address))
        .await
        .unwrap();
    wait_for(&client, "the chart", CHART_COUNT).await;
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    draw_trend_line(&client).await;
    let drawn = wait_for(&client, "the visitor's trend line", &drawing_count(1)).await;
    assert_eq!(drawn[0]["kind"], "trend", "{drawn}");
    screenshot(&client, "drawing-visitor.png").await;

    // Signing up moves it to the account.
    sign_up_as_ann(&client, &app).await;
    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1h", app.address))
        .await
        .unwrap();
    let moved = wait_for(&client, "the visitor's drawing on the account", &drawing_count(1)).await;
    assert_eq!(moved[0]["id"], drawn[0]["id"]);
    let kept = run(&client, "return localStorage.getItem('inchart.drawings');").await;
    assert!(kept.is_null(), "the browser forgot it once moved: {kept}");

    // A second drawing, signed in; both survive a reload, on another
    // interval of the symbol too.
    draw_trend_line(&client).await;
    wait_for(&client, "the second trend line", &drawing_count(2)).await;
    client
        .goto(&format!("{}/chart/BTCUSDT?interval=4h", app.address))
        .await
        .unwrap();
    wait_for(&client, "both drawings after a reload", &drawing_count(2)).await;
    screenshot(&client, "drawing-signed-in.png").await;

    // The same trader in a second browser sees them, and what is drawn in
    // one shows up in the other without a reload.
    let (_driver2, other) = start_browser().await;
    other.goto(&format!("{}/login", app.address)).await.unwrap();
    wait_for(&other, "the page to hydrate", HYDRATED).await;
    type_into(&other, "email", "ann@example.com").await;
    type_into(&other, "password", "violet heron sails at dusk").await;
    crate::browser::click(&other, "form.account-form button[type=submit]").await;
    wait_for(
        &other,
        "the chart",
        "return location.pathname.startsWith('/chart/');",
    )
    .await;
    other
        .goto(&format!("{}/chart/BTCUSDT?interval=1h", app.address))
        .await
        .unwrap();
    wait_for(&other, "the drawings in the second browser", &drawing_count(2)).await;
    // The feed's socket is up before the first browser draws.
    wait_for(
        &other,
        "the live connection",
        "return document.querySelector('[data-feed]')?.dataset.feed !== 'reconnecting';",
    )
    .await;
    // Both browsers on the same chart, so that a level drawn in one is in
    // view in the other.
    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1h", app.address))
        .await
        .unwrap();
    wait_for(&client, "the drawings on 1h again", &drawing_count(2)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The drawings' accent (the light theme's, as headless Chromium
    // prefers): a horizontal line across the chart adds a row of it.
    let accent = crate::browser::colour_count("#0066CC");
    let before = run(&other, &accent).await.as_u64().unwrap();
    click_chart_at(&client, 300.0, 200.0).await;
    alt(&client, 'h').await;
    click_chart_at(&client, 350.0, 120.0).await;
    wait_for(&client, "the horizontal line", &drawing_count(3)).await;
    let synced = wait_for(
        &other,
        "the horizontal line in the other browser",
        &drawing_count(3),
    )
    .await;
    assert!(
        synced
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "horizontal"),
        "{synced}"
    );
    wait_for(
        &other,
        "the horizontal line painted in the other browser",
        &format!(
            "const n = (() => {{ {accent} }})(); return n > {} ? n : null;",
            before + 400
        ),
    )
    .await;
    screenshot(&other, "drawing-synced.png").await;
}

#[tokio::test]
async fn a_four_chart_layout_shows_four_live_charts() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let env = binance_env(&fake);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app: TestApp = spawn_app_with(Db::Sqlite, CacheKind::Memory, &pairs).await;
    let (_driver, client) = start_browser().await;

    client
        .goto(&format!(
            "{}/charts?c=BTCUSDT:1m,ETHUSDT:1m,BTCUSDT:1h,ETHUSDT:15m&sync=crosshair",
            app.address
        ))
        .await
        .unwrap();
    let counts = wait_for(
        &client,
        "four charts with candles",
        "const hosts = [...document.querySelectorAll('[data-chart][data-state=ready] .chart-host')]; \
         const counts = hosts.map(h => h.__inchartChart ? h.__inchartChart.candleCount() : 0); \
         window.__states = [...document.querySelectorAll('[data-chart]')].map(c => c.dataset.state + ' ' + c.innerText.slice(0, 80)); \
         return counts.length === 4 && counts.every(n => n > 0) ? counts : null;",
    )
    .await;
    assert_eq!(counts.as_array().unwrap().len(), 4);
    let titles = run(
        &client,
        "return [...document.querySelectorAll('.layout-cell select:first-child')].map(s => s.value);",
    )
    .await;
    assert_eq!(
        titles,
        serde_json::json!(["BTCUSDT", "ETHUSDT", "BTCUSDT", "ETHUSDT"])
    );

    // Live: the next BTCUSDT minute opens on the first chart.
    fake.advance(Duration::from_secs(60));
    let opened = fake.candles(&btc(), Interval::M1).last().unwrap().open_time;
    wait_for(
        &client,
        "the next candle on the first chart",
        &format!(
            "const last = document.querySelectorAll('[data-chart] .chart-host')[0].__inchartChart.lastCandle(); \
             return last[0] === {opened} ? last : null;"
        ),
    )
    .await;

    // The crosshair follows from one chart to the others.
    let host = client
        .find(fantoccini::Locator::Css("[data-cell='0'] .chart-host"))
        .await
        .unwrap();
    let rect = host.rectangle().await.unwrap();
    let actions = MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
        duration: Some(Duration::from_millis(50)),
        x: rect.0 + 200.0,
        y: rect.1 + 100.0,
    });
    client.perform_actions(actions).await.unwrap();
    wait_for(
        &client,
        "the crosshair on the second chart",
        "const c = document.querySelectorAll('[data-chart] .chart-host')[1].__inchartChart; \
         return c.cursor() !== null ? c.cursor() : null;",
    )
    .await;
    client.release_actions().await.unwrap();
    set_theme(&client, "dark").await;
    screenshot(&client, "layout-4-dark.png").await;
    set_theme(&client, "light").await;
    screenshot(&client, "layout-4-light.png").await;
    resize(&client, 390, 800).await;
    screenshot(&client, "layout-4-phone.png").await;

    // The layout is in the address: opening it again gives the same charts.
    let href = run(&client, "return location.search;").await;
    assert!(
        href.as_str()
            .unwrap()
            .contains("c=BTCUSDT:1m,ETHUSDT:1m,BTCUSDT:1h,ETHUSDT:15m"),
        "{href}"
    );
}
