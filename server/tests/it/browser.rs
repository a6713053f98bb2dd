//! End to end in a real headless Chromium (Debian's `chromium` driven
//! through `chromedriver`): what a trader sees on the chart page.
//!
//! Needs the site built by cargo-leptos (`scripts/test.sh` builds it first)
//! and `chromium` + `chromedriver` on the machine (`scripts/setup.sh`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, ClientBuilder, Locator};
use inchart_api::market::{CandleSeries, Interval};
use inchart_fakes::binance::FakeBinanceConfig;
use serde_json::{Value, json};

use crate::helpers::{CacheKind, Db, TestApp, site_root, spawn_app, spawn_app_with};
use crate::live::{binance_env, btc, fake_binance};

/// Ends chromedriver and the browser it started, however the test ends.
/// Killing chromedriver alone leaves Chromium running (it is reparented),
/// so the browser is found by its own profile directory.
pub(crate) struct Driver {
    chromedriver: Child,
    user_data: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let profile = format!("--user-data-dir={}", self.user_data.display());
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", "--", &profile])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.user_data);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn start_browser() -> (Driver, Client) {
    // Several crypto back-ends are linked in; the client needs one chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = Command::new(&driver_path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("{driver_path} could not start ({error}); scripts/setup.sh installs it")
        });
    let user_data = std::env::temp_dir().join(format!("inchart-chromium-{}", uuid::Uuid::new_v4().simple()));
    let driver = Driver {
        chromedriver: child,
        user_data: user_data.clone(),
    };

    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
                "--window-size=1280,800", format!("--user-data-dir={}", user_data.display()),
            ],
        }),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let builder = ClientBuilder::rustls().expect("a TLS setup for the WebDriver client");
        match builder
            .clone()
            .capabilities(capabilities.clone())
            .connect(&webdriver)
            .await
        {
            Ok(client) => return (driver, client),
            Err(error) if Instant::now() > deadline => {
                panic!("chromedriver did not start a browser: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Clicks the first element matching `css`.
pub(crate) async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Runs `script` in the page and returns what it returns.
pub(crate) async fn run(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.expect("the script runs")
}

/// Runs `script` until it returns something other than null/false.
pub(crate) async fn wait_for(client: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = run(client, script).await;
        if !value.is_null() && value != Value::Bool(false) {
            return value;
        }
        if Instant::now() > deadline {
            let state = client
                .execute(
                    "return document.querySelector('[data-chart]')?.outerHTML ?? document.body.innerHTML",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what}; the page holds: {state}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) const CHART_COUNT: &str = "const host = document.querySelector('[data-chart][data-state=ready] .chart-host'); \
     return host && host.__inchartChart ? host.__inchartChart.candleCount() : null;";

const LAST_CLOSE: &str =
    "return document.querySelector('[data-chart] .chart-host').__inchartChart.lastCandle()[4];";

/// How many distinct colours the chart's canvases hold, and whether the up
/// and down candle colours are among them.
const CANVAS_PAINT: &str = r#"
const canvases = [...document.querySelectorAll('[data-chart] canvas')];
const colours = new Set();
for (const canvas of canvases) {
  if (!canvas.width || !canvas.height) continue;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < pixels.length; i += 4 * 7) {
    if (pixels[i + 3] > 0) colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
  }
}
const greenish = [...colours].some(c => ((c >> 8) & 255) > 150 && (c >> 16) < 120 && (c & 255) < 140);
const reddish = [...colours].some(c => (c >> 16) > 200 && ((c >> 8) & 255) < 110 && (c & 255) < 110);
return { canvases: canvases.length, colours: colours.size, greenish, reddish };
"#;

async fn api_series(app: &TestApp, symbol: &str) -> CandleSeries {
    app.get(&format!("/api/v1/candles?symbol={symbol}&interval=1h&limit=1000"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_trader_sees_the_chart_and_switches_symbol_without_a_reload() {
    let wasm = site_root().join("pkg/inchart.wasm");
    assert!(
        wasm.exists(),
        "{} is missing: build the site with scripts/setup.sh's build_site (scripts/test.sh does): the stylesheet, then `cargo leptos build --release`",
        wasm.display()
    );
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let (_driver, client) = start_browser().await;

    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1h", app.address))
        .await
        .unwrap();
    assert_eq!(client.title().await.unwrap(), "BTCUSDT 1h chart · InChart");

    // Hydrated, the bundle loaded, the candles fetched and drawn: the
    // mounted trading-vue-js component holds exactly what the API serves.
    let btc = api_series(&app, "BTCUSDT").await;
    let count = wait_for(&client, "the BTCUSDT chart", CHART_COUNT).await;
    assert_eq!(count.as_u64(), Some(btc.candles.len() as u64));
    assert!(btc.candles.len() >= 500);

    let paint = wait_for(
        &client,
        "candles painted",
        &format!("const p = (() => {{ {CANVAS_PAINT} }})(); return p.colours > 10 && p.greenish && p.reddish ? p : null;"),
    )
    .await;
    assert!(paint["canvases"].as_u64().unwrap() >= 1, "{paint}");

    let screenshot = client.screenshot().await.unwrap();
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("chart-btcusdt-1h.png"), screenshot).unwrap();

    // Switch symbol through the page's own link: a client-side navigation.
    run(
        &client,
        "window.__sameDocument = true; \
             window.__chartHost = document.querySelector('[data-chart] .chart-host');",
    )
    .await;
    click(&client, r#".symbols a[href^="/chart/ETHUSDT"]"#).await;
    let eth = api_series(&app, "ETHUSDT").await;
    let eth_close = eth.candles[eth.candles.len() - 2].close;
    wait_for(
        &client,
        "the ETHUSDT candles",
        &format!(
            "const host = document.querySelector('[data-chart][data-state=ready] .chart-host'); \
             if (!host || !host.__inchartChart) return null; \
             const chart = host.__inchartChart; const n = chart.candleCount(); \
             return n === {} && Math.abs(chart.lastCandle()[4] - {eth_close}) / {eth_close} < 0.05;",
            eth.candles.len()
        ),
    )
    .await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("/chart/ETHUSDT")
    );
    assert_eq!(client.title().await.unwrap(), "ETHUSDT 1h chart · InChart");
    assert_eq!(
        run(&client, "return window.__sameDocument === true;").await,
        Value::Bool(true),
        "no full page reload"
    );
    assert_eq!(
        run(&client, "return InChartChart.liveInstances();").await,
        json!(1),
        "no Vue instance leaked"
    );
    assert_eq!(
        run(
            &client,
            "return document.querySelector('[data-chart] .chart-host') === window.__chartHost;"
        )
        .await,
        Value::Bool(true),
        "the same chart took the new symbol's candles"
    );
    let last_close = run(&client, LAST_CLOSE).await;
    assert!(last_close.as_f64().is_some_and(|close| close > 0.0));
    std::fs::write(
        out.join("chart-ethusdt-1h.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // The theme toggle recolours the chart, and the choice is remembered.
    let background =
        "return getComputedStyle(document.querySelector('[data-chart] canvas')).backgroundColor;";
    let before = run(&client, background).await;
    click(&client, ".top-bar .theme-toggle").await;
    let after = wait_for(
        &client,
        "the chart in the other theme",
        &format!("const now = (() => {{ {background} }})(); return now !== {before} ? now : null;"),
    )
    .await;
    let remembered = run(
        &client,
        "const theme = document.documentElement.dataset.theme; \
             return localStorage.getItem('inchart-theme') === theme ? theme : null;",
    )
    .await;
    let expected = if before == json!("rgb(255, 255, 255)") {
        "dark"
    } else {
        "light"
    };
    assert_eq!(remembered, json!(expected), "{before} -> {after}");

    // The chart follows its container when the window changes size.
    let width = "return document.querySelector('[data-chart] canvas').getBoundingClientRect().width;";
    let wide = run(&client, width).await.as_f64().unwrap();
    client.set_window_size(900, 700).await.unwrap();
    wait_for(
        &client,
        "the chart to narrow",
        &format!("const w = (() => {{ {width} }})(); return w < {wide} - 200 ? w : null;"),
    )
    .await;

    // Key 2 picks the second interval, 5m, in the same chart.
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: '2' })
        .then(KeyAction::Up { value: '2' });
    client.perform_actions(keys).await.unwrap();
    let eth_5m: CandleSeries = app
        .get("/api/v1/candles?symbol=ETHUSDT&interval=5m&limit=1000")
        .await
        .json()
        .await
        .unwrap();
    wait_for(
        &client,
        "the ETHUSDT 5m candles",
        &format!(
            // A 5m chart shows ~150 candles: about 12 hours, not 6 days.
            "const host = document.querySelector('[data-chart][data-state=ready] .chart-host'); \
             const chart = host && host.__inchartChart; if (!chart) return null; \
             const range = chart.visibleRange(); \
             return location.search === '?interval=5m' && chart.candleCount() === {} \
               && !!range && range[1] - range[0] < 24 * 3600 * 1000;",
            eth_5m.candles.len()
        ),
    )
    .await;
    assert_eq!(client.title().await.unwrap(), "ETHUSDT 5m chart · InChart");
    std::fs::write(
        out.join("chart-ethusdt-5m-other-theme.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // Leaving the chart page destroys the chart.
    click(&client, ".top-bar .brand").await;
    wait_for(
        &client,
        "the landing page",
        "return document.title.startsWith('InChart —') && !document.querySelector('[data-chart]');",
    )
    .await;
    assert_eq!(
        run(
            &client,
            "return [window.__sameDocument, InChartChart.liveInstances()];"
        )
        .await,
        json!([true, 0]),
        "left without a reload, and the chart was destroyed"
    );

    // And back in through the landing page's call to action: a client-side
    // navigation whose data comes from a server function, not the HTML.
    click(&client, "a.button.primary").await;
    let count = wait_for(&client, "the chart opened from the landing page", CHART_COUNT).await;
    assert_eq!(count.as_u64(), Some(btc.candles.len() as u64));
    assert_eq!(
        run(
            &client,
            "return [window.__sameDocument, InChartChart.liveInstances()];"
        )
        .await,
        json!([true, 1])
    );
    client.close().await.unwrap();
}

const FEED: &str = "return document.querySelector('[data-feed]')?.dataset.feed;";

#[tokio::test]
async fn a_trader_watches_the_forming_candle_move_and_the_next_one_open() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let env = binance_env(&fake);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &pairs).await;
    let (_driver, client) = start_browser().await;

    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1m", app.address))
        .await
        .unwrap();
    let count = wait_for(&client, "the BTCUSDT 1m chart", CHART_COUNT)
        .await
        .as_u64()
        .unwrap();
    assert_eq!(wait_for(&client, "the live status", FEED).await, "live");
    run(&client, "window.__sameDocument = true; return null;").await;

    // Each move of the forming candle shows up on the chart by itself.
    for _ in 0..3 {
        let shown = run(&client, LAST_CLOSE).await.as_f64().unwrap();
        let mut truth = *fake.candles(&btc(), Interval::M1).last().unwrap();
        while truth.close == shown {
            fake.tick();
            truth = *fake.candles(&btc(), Interval::M1).last().unwrap();
        }
        let expected = truth.close;
        wait_for(
            &client,
            &format!("the forming candle to close at {expected}"),
            &format!("{LAST_CLOSE_VALUE} return close === {expected} ? close : null;"),
        )
        .await;
    }
    // The minute ends: the candle closes and the next one opens.
    fake.advance(Duration::from_secs(60));
    let opened = fake.candles(&btc(), Interval::M1).last().unwrap().open_time;
    wait_for(
        &client,
        "the next candle",
        &format!(
            "const last = document.querySelector('[data-chart] .chart-host').__inchartChart.lastCandle(); \
             return last[0] === {opened} ? last : null;"
        ),
    )
    .await;
    let now_count = run(&client, CHART_COUNT).await.as_u64().unwrap();
    assert_eq!(now_count, count + 1);
    assert_eq!(
        run(&client, "return window.__sameDocument === true;").await,
        true,
        "the page reloaded"
    );
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("chart-live.png"), client.screenshot().await.unwrap()).unwrap();
}

const LAST_CLOSE_VALUE: &str =
    "const close = document.querySelector('[data-chart] .chart-host').__inchartChart.lastCandle()[4];";

/// Types `text` into the field named `name`.
pub(crate) async fn type_into(client: &Client, name: &str, text: &str) {
    let field = client
        .find(Locator::Css(&format!("input[name={name}]")))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

pub(crate) const HYDRATED: &str = "return document.documentElement.hasAttribute('data-hydrated');";

#[tokio::test]
async fn a_visitor_signs_up_logs_out_and_logs_in_again() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let (_driver, client) = start_browser().await;
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();

    client.goto(&format!("{}/signup", app.address)).await.unwrap();
    assert_eq!(client.title().await.unwrap(), "Create your account · InChart");
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    run(&client, "window.__sameDocument = true;").await;

    // A mistyped email is caught on the page, next to its field.
    type_into(&client, "email", "ann@example").await;
    type_into(&client, "password", "violet heron sails at dusk").await;
    click(&client, "form.account-form button[type=submit]").await;
    let problem = wait_for(
        &client,
        "the email's problem",
        "return document.querySelector('#field-email-error')?.textContent ?? null;",
    )
    .await;
    assert!(problem.as_str().unwrap().contains("email address"), "{problem}");
    // A weak password is the server's answer, shown in place without a reload.
    type_into(&client, "email", "ann@example.com").await;
    type_into(&client, "password", "password123").await;
    click(&client, "form.account-form button[type=submit]").await;
    let weak = wait_for(
        &client,
        "the password's problem",
        "return document.querySelector('#field-password-error')?.textContent ?? null;",
    )
    .await;
    assert!(
        weak.as_str().unwrap().contains("Add a few uncommon words"),
        "{weak}"
    );
    assert_eq!(run(&client, "return window.__sameDocument === true;").await, true);
    std::fs::write(
        out.join("signup-weak-password.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    type_into(&client, "password", "violet heron sails at dusk").await;
    click(&client, "form.account-form button[type=submit]").await;
    wait_for(
        &client,
        "the account page",
        "return location.pathname === '/account';",
    )
    .await;
    let account = wait_for(
        &client,
        "the account's content",
        "return document.querySelector('.account-email')?.textContent ?? null;",
    )
    .await;
    assert!(account.as_str().unwrap().contains("ann@example.com"), "{account}");
    let body = run(&client, "return document.body.innerText;").await;
    let body = body.as_str().unwrap();
    assert!(
        body.contains("Not verified") && body.contains("Welcome!"),
        "{body}"
    );
    assert!(body.contains("This device"), "{body}");
    std::fs::write(out.join("account.png"), client.screenshot().await.unwrap()).unwrap();

    // Log out, then in again: the login lands on the chart, signed in.
    click(&client, "form[action='/logout'] button").await;
    wait_for(&client, "the landing page", "return location.pathname === '/';").await;
    let link = wait_for(
        &client,
        "the log-in link",
        "return document.querySelector('.account-link')?.textContent ?? null;",
    )
    .await;
    assert_eq!(link, "Log in");
    client.goto(&format!("{}/login", app.address)).await.unwrap();
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    type_into(&client, "email", "ann@example.com").await;
    type_into(&client, "password", "not the password").await;
    click(&client, "form.account-form button[type=submit]").await;
    let wrong = wait_for(
        &client,
        "the login's problem",
        "return document.querySelector('.form-error')?.textContent ?? null;",
    )
    .await;
    assert_eq!(wrong, "The email or password is not right.");
    type_into(&client, "password", "violet heron sails at dusk").await;
    click(&client, "form.account-form button[type=submit]").await;
    wait_for(
        &client,
        "the chart",
        "return location.pathname.startsWith('/chart/');",
    )
    .await;
    let signed_in = wait_for(
        &client,
        "the account link",
        "const a = document.querySelector('.account-link'); return a && a.textContent !== 'Log in' ? a.textContent : null;",
    )
    .await;
    assert_eq!(signed_in, "ann@example.com");
    wait_for(&client, "the chart under the page's CSP", CHART_COUNT).await;
}

/// Counts the chart's pixels within a few levels of `#rrggbb`.
pub(crate) fn colour_count(hex: &str) -> String {
    format!(
        r#"
const want = [1, 3, 5].map(i => parseInt('{hex}'.slice(i, i + 2), 16));
let n = 0;
for (const canvas of document.querySelectorAll('[data-chart] canvas')) {{
  if (!canvas.width || !canvas.height) continue;
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < px.length; i += 4) {{
    if (px[i + 3] === 255 && Math.abs(px[i] - want[0]) + Math.abs(px[i + 1] - want[1]) + Math.abs(px[i + 2] - want[2]) <= 12) n++;
  }}
}}
return n;"#
    )
}

#[tokio::test]
async fn a_trader_writes_a_script_and_sees_its_signals_on_the_chart() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let (_driver, client) = start_browser().await;
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();

    sign_up_as_ann(&client, &app).await;

    // A new script opens in the workbench, from the template.
    client.goto(&format!("{}/scripts", app.address)).await.unwrap();
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    click(&client, "form[action='/scripts'] button").await;
    wait_for(
        &client,
        "the workbench",
        "return location.pathname.startsWith('/scripts/');",
    )
    .await;
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    wait_for(
        &client,
        "the editor",
        "return document.querySelector('.workbench[data-enhanced=true] .cm-content') !== null;",
    )
    .await;
    wait_for(&client, "the chart", CHART_COUNT).await;
    let text = run(&client, "return document.querySelector('.cm-content').innerText;").await;
    assert!(text.as_str().unwrap().contains("def signals(candles):"), "{text}");
    // Before a run, nothing of the averages' colours is on the chart.
    let before = run(&client, &colour_count(app::components::chart::LINE_COLOURS[0])).await;

    // Run on chart: markers and both averages are drawn, within a blink.
    let started = Instant::now();
    click(&client, "button[data-run]").await;
    let summary = wait_for(
        &client,
        "the run's outcome",
        "return document.querySelector('.run-panel[data-run-state=ok] .run-ok')?.textContent ?? null;",
    )
    .await;
    let took = started.elapsed();
    assert!(summary.as_str().unwrap().contains("buy and"), "{summary}");
    let drawn = wait_for(
        &client,
        "the lines on the chart",
        &format!(
            "const n = (() => {{ {} }})(); return n > {} ? n : null;",
            colour_count(app::components::chart::LINE_COLOURS[0]),
            before.as_u64().unwrap() + 200
        ),
    )
    .await;
    eprintln!("run to drawn: {took:?}; line pixels {before} → {drawn}");
    std::fs::write(out.join("script-signals.png"), client.screenshot().await.unwrap()).unwrap();

    // A mistake is shown beside its line, in the editor and the panel.
    run(
        &client,
        "const host = document.querySelector('.editor-host'); \
         host.__inchartEditor.setDoc('def signals(candles):\\n    return [], {\\n');",
    )
    .await;
    client
        .find(Locator::Css(".cm-content"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let keys = KeyActions::new("keys".into())
        .then(KeyAction::Down { value: '\u{E009}' })
        .then(KeyAction::Down { value: '\u{E007}' })
        .then(KeyAction::Up { value: '\u{E007}' })
        .then(KeyAction::Up { value: '\u{E009}' });
    client.perform_actions(keys).await.unwrap();
    let line = wait_for(
        &client,
        "the syntax error",
        "return document.querySelector('.run-error[data-error-kind=syntax]')?.dataset.line ?? null;",
    )
    .await;
    assert_eq!(line, "2");
    wait_for(
        &client,
        "the mark beside the line",
        "return document.querySelector('.cm-lint-marker-error') !== null;",
    )
    .await;
    let saved = run(
        &client,
        "return document.querySelector('[data-version]').textContent;",
    )
    .await;
    assert_eq!(saved, "v2", "running saved the changed script as a new version");
    std::fs::write(out.join("script-error.png"), client.screenshot().await.unwrap()).unwrap();
}

#[tokio::test]
async fn a_trader_upgrades_to_pro_through_checkout_and_watches_a_symbol() {
    let fake = crate::billing::fake_stripe(true).await;
    let app = crate::billing::billing_app(Db::Sqlite, CacheKind::Memory, &fake, &[]).await;
    let (_driver, client) = start_browser().await;
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();

    sign_up_as_ann(&client, &app).await;

    // The pricing page shows Stripe's prices and both plans' limits.
    client.goto(&format!("{}/pricing", app.address)).await.unwrap();
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    let text = run(&client, "return document.querySelector('main').innerText;").await;
    let text = text.as_str().unwrap();
    assert!(text.contains("$19.00") && text.contains("$190.00"), "{text}");
    assert!(
        text.contains("3 saved scripts") && text.contains("50 saved scripts"),
        "{text}"
    );
    std::fs::write(out.join("pricing.png"), client.screenshot().await.unwrap()).unwrap();

    // Upgrade, pay on (the fake) Stripe Checkout, and come back to Pro.
    click(&client, "form[action='/billing/checkout'] button[type=submit]").await;
    wait_for(
        &client,
        "Stripe Checkout",
        &format!("return location.href.startsWith('{}/c/pay/');", fake.url()),
    )
    .await;
    click(&client, "form button[type=submit]").await;
    wait_for(
        &client,
        "the billing page",
        "return location.pathname === '/billing';",
    )
    .await;
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    let text = run(&client, "return document.querySelector('main').innerText;").await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains("Welcome to Pro") && text.contains("Renews on"),
        "{text}"
    );
    assert!(text.contains("$19.00"), "the paid invoice is listed: {text}");
    std::fs::write(out.join("billing-pro.png"), client.screenshot().await.unwrap()).unwrap();

    // The star on the chart puts the symbol on the watchlist (a form: the
    // server answers with the chart again).
    client
        .goto(&format!("{}/chart/ETHUSDT", app.address))
        .await
        .unwrap();
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    click(&client, "button.watch-toggle").await;
    wait_for(
        &client,
        "the star to fill",
        "return document.querySelector('button.watch-toggle[aria-pressed=true]') !== null \
         && document.querySelector('.watchlist-link') !== null;",
    )
    .await;
    wait_for(&client, "the chart", CHART_COUNT).await;
    std::fs::write(
        out.join("chart-watchlist.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
}

/// Signs up as ann@example.com in the browser; ends on the account page.
pub(crate) async fn sign_up_as_ann(client: &Client, app: &TestApp) {
    client.goto(&format!("{}/signup", app.address)).await.unwrap();
    wait_for(client, "the page to hydrate", HYDRATED).await;
    type_into(client, "email", "ann@example.com").await;
    type_into(client, "password", "violet heron sails at dusk").await;
    click(client, "form.account-form button[type=submit]").await;
    wait_for(
        client,
        "the account page",
        "return location.pathname === '/account';",
    )
    .await;
}

/// The titles in the Quick Look panel, once it has them.
const QUICK_LOOK_TITLES: &str = "const items = [...document.querySelectorAll('.quick-look .article-title')]; \
     return items.length ? items.map(a => a.textContent) : null;";

#[tokio::test]
async fn quick_look_follows_the_chart_and_the_public_pages_read_well() {
    let fake = inchart_fakes::marketaux::FakeMarketaux::start(Default::default())
        .await
        .unwrap();
    let base = fake.base_url();
    let app = spawn_app_with(
        Db::Sqlite,
        CacheKind::Memory,
        &[
            ("INCHART_MARKETAUX_TOKEN", fake.api_token()),
            ("INCHART_MARKETAUX_API_BASE", base.as_str()),
        ],
    )
    .await;
    let (_driver, client) = start_browser().await;
    let titles_of = |coin: &str| -> Vec<String> {
        let entity = format!("CC:{coin}");
        fake.articles()
            .into_iter()
            .filter(|article| article.language == "en" && article.entities.iter().any(|e| e.symbol == entity))
            .take(3)
            .map(|article| article.title)
            .collect()
    };

    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1h", app.address))
        .await
        .unwrap();
    wait_for(&client, "the BTCUSDT chart", CHART_COUNT).await;
    let shown = wait_for(&client, "BTC's news in Quick Look", QUICK_LOOK_TITLES).await;
    assert_eq!(shown, json!(titles_of("BTC")));
    let badges = run(
        &client,
        "return document.querySelectorAll('.quick-look .mood').length;",
    )
    .await;
    assert!(badges.as_u64().unwrap() >= 1, "sentiment badges: {badges}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("chart-quick-look.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // A new symbol, without a reload: the panel reads its news.
    run(&client, "window.__sameDocument = true;").await;
    click(&client, r#".symbols a[href^="/chart/ETHUSDT"]"#).await;
    let eth = json!(titles_of("ETH"));
    wait_for(
        &client,
        "ETH's news in Quick Look",
        &format!("const t = (() => {{ {QUICK_LOOK_TITLES} }})(); return JSON.stringify(t) === '{eth}';"),
    )
    .await;
    assert_eq!(
        run(&client, "return window.__sameDocument === true;").await,
        json!(true)
    );

    // Closed, it stays closed on the next page; a button opens it again.
    click(&client, ".quick-look-head .icon-button").await;
    client
        .goto(&format!("{}/chart/BTCUSDT?interval=1h", app.address))
        .await
        .unwrap();
    wait_for(
        &client,
        "Quick Look remembered closed",
        "return document.querySelector('.quick-look')?.dataset.open === 'false';",
    )
    .await;
    click(&client, ".quick-look-open").await;
    wait_for(&client, "Quick Look open again", QUICK_LOOK_TITLES).await;

    // The public pages, as a reader sees them, on a desktop and a phone.
    for (path, name) in [
        ("/", "landing"),
        ("/markets", "markets"),
        ("/markets/BTCUSDT", "market-btcusdt"),
        ("/news/BTCUSDT", "news-btcusdt"),
        ("/features", "features"),
    ] {
        client.goto(&format!("{}{path}", app.address)).await.unwrap();
        wait_for(
            &client,
            "hydration",
            "return document.documentElement.hasAttribute('data-hydrated');",
        )
        .await;
        std::fs::write(
            out.join(format!("{name}.png")),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
    }
    client.set_window_size(390, 844).await.unwrap();
    for (path, name) in [
        ("/markets/BTCUSDT", "market-btcusdt-phone"),
        ("/chart/BTCUSDT", "chart-phone"),
    ] {
        client.goto(&format!("{}{path}", app.address)).await.unwrap();
        wait_for(
            &client,
            "hydration",
            "return document.documentElement.hasAttribute('data-hydrated');",
        )
        .await;
        let overflow = run(
            &client,
            "return document.documentElement.scrollWidth > window.innerWidth;",
        )
        .await;
        assert_eq!(overflow, json!(false), "{path} fits a phone's width");
        std::fs::write(
            out.join(format!("{name}.png")),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
    }
}
