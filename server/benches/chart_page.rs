//! `cargo bench -p server --bench chart_page`: the chart page as a trader
//! opens it in headless Chromium, printed as figures (BENCHMARKS.md
//! records them). Two pages in the same run, on the same server:
//!
//! - **plain**: `/chart/BTCUSDT?interval=1m` with nothing but candles (the
//!   baseline);
//! - **loaded**: the same page for a trader with 3 scripts shown on the
//!   series and 4 panes under the candles (an RSI with its levels, a MACD
//!   of two lines and a histogram, a momentum line, and the volume in a
//!   pane of its own), plus an average and markers over the candles.
//!
//! For each: time to the first candles drawn (`inchart:chart-ready` on
//! the browser's performance timeline) and to hydrated (`inchart:hydrated`),
//! over `--loads N` page loads (default 7, the first one not counted);
//! then the frame times while the live candle moves every 100 ms
//! (`requestAnimationFrame` deltas and the long tasks Chromium reports,
//! for `--seconds N`, default 10), and the ratios loaded / plain.
//!
//! Needs the site built (`cargo leptos build --release`, which
//! `scripts/test.sh` does; `LEPTOS_SITE_ROOT` points at it, default
//! `target/site`), `chromium` + `chromedriver`, and `PYO3_PYTHON` +
//! `INCHART_WORKER_SITE` for the scripts (`scripts/setup.sh` exports them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use support::{Server, cookie_value};

const PASSWORD: &str = "violet heron sails at dusk";
const CSRF: &str = "benchmark-csrf-token-benchmark-csrf-token";

/// Three scripts that fill four panes between them (with the volume's).
const SCRIPTS: &[(&str, &str)] = &[
    (
        "RSI zones",
        r#"from inchart import rsi, sma, crossover, crossunder, buy, sell, line, level

def signals(c):
    r = rsi(c.close, 14)
    buys = [buy(c.time[i], c.low[i]) for i in crossover(r, 30)]
    sells = [sell(c.time[i], c.high[i]) for i in crossunder(r, 70)]
    return buys + sells, {
        "SMA 50": sma(c.close, 50),
        "RSI 14": line(r, pane="RSI"),
        "Overbought": level(70),
        "Oversold": level(30),
    }
"#,
    ),
    (
        "MACD",
        r#"from inchart import macd, line, histogram, level

def signals(c):
    m, s, h = macd(c.close)
    return [], {
        "MACD": line(m, pane="MACD"),
        "Signal": line(s, pane="MACD"),
        "Histogram": histogram(h, pane="MACD"),
        "Zero": level(0),
    }
"#,
    ),
    (
        "Momentum",
        r#"import numpy as np
from inchart import line, level

def signals(c):
    close = np.asarray(c.close, dtype=float)
    momentum = np.full(len(close), np.nan)
    momentum[10:] = close[10:] / close[:-10] * 100 - 100
    return [], {"Momentum 10": line(momentum, pane="Momentum"), "Flat": level(0)}
"#,
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |n| n.parse().expect("a number"))
    };
    let loads = flag("--loads", 7) as usize;
    let seconds = Duration::from_secs(flag("--seconds", 10));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "inchart-worker"])
        .status()
        .unwrap();
    assert!(built.success(), "the worker builds");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(loads, seconds));
}

async fn bench(loads: usize, seconds: Duration) {
    let site = std::env::var("LEPTOS_SITE_ROOT")
        .unwrap_or_else(|_| format!("{}/../target/site", env!("CARGO_MANIFEST_DIR")));
    assert!(
        std::path::Path::new(&site).join("pkg").exists(),
        "no site at {site}: build it with `cargo leptos build --release` first"
    );
    let database = std::env::temp_dir().join(format!("inchart_bench_chart_{}.db", std::process::id()));
    let server = Server::start(&[
        ("LEPTOS_SITE_ROOT", site),
        (
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", database.display()),
        ),
        ("INCHART_SYMBOLS", "BTCUSDT".into()),
        ("INCHART_SIM_HISTORY", "1100".into()),
        ("INCHART_SIM_TICK_MS", "100".into()),
        ("INCHART_FEED", "simulated".into()),
        (
            "INCHART_JWT_SECRET",
            "a benchmark signing secret, long enough for HS256".into(),
        ),
        (
            "INCHART_WORKER_SITE",
            std::env::var("INCHART_WORKER_SITE").expect("INCHART_WORKER_SITE is set"),
        ),
        (
            "INCHART_FREE_LIMITS",
            "scripts=10,live=5,watchlist=10,history=2000,cpu=1s,runs=1000".into(),
        ),
    ]);
    server.wait_until_filled().await;
    let access = sign_up(&server).await;
    let cookies = format!("inchart_csrf={CSRF}; inchart_access={access}");
    for (name, source) in SCRIPTS {
        add_live_script(&server, &cookies, name, source).await;
    }

    let (_driver, browser) = start_browser().await;
    let origin = server.url("");
    // A visitor's page first (no session: the plain chart), then the
    // trader's, with the volume moved to its own pane.
    browser.goto(&server.url("/")).await.unwrap();
    let plain = measure(&browser, &server, loads, seconds).await;
    // The session's cookies, as the sign-up set them (plain http: no
    // __Host- prefix), and the volume moved to its own pane.
    browser
        .execute(
            &format!(
                "document.cookie = 'inchart_csrf={CSRF}; path=/'; \
                 document.cookie = 'inchart_access={access}; path=/'; \
                 localStorage.setItem('inchart.chart.panes', JSON.stringify({{ volume: 'pane' }}));"
            ),
            vec![],
        )
        .await
        .unwrap();
    let loaded = measure(&browser, &server, loads, seconds).await;
    let _ = browser.clone().close().await;
    let _ = std::fs::remove_file(&database);

    println!("chart page, {loads} loads each (first not counted), {origin}");
    println!(
        "{:<8} {:>14} {:>14} {:>11} {:>11} {:>11} {:>12} {:>7}",
        "page", "first candle", "hydrated", "frame p50", "frame p95", "frame max", "long tasks", "panes"
    );
    for (name, figures) in [("plain", &plain), ("loaded", &loaded)] {
        println!(
            "{:<8} {:>11.1} ms {:>11.1} ms {:>8.1} ms {:>8.1} ms {:>8.1} ms {:>5} {:>4.0} ms {:>7}",
            name,
            figures.first_candle,
            figures.hydrated,
            figures.frame_p50,
            figures.frame_p95,
            figures.frame_max,
            figures.long_tasks,
            figures.long_task_ms,
            figures.panes,
        );
    }
    println!(
        "loaded / plain: first candle {:.2}x, hydrated {:.2}x, frame p95 {:.2}x",
        loaded.first_candle / plain.first_candle,
        loaded.hydrated / plain.hydrated,
        loaded.frame_p95 / plain.frame_p95,
    );
    assert_eq!(plain.panes, 0, "the plain page shows no panes");
    assert_eq!(loaded.panes, 4, "the loaded page shows four panes");
}

/// A page's figures: medians of the loads, and the frames of one live
/// stretch.
struct Figures {
    first_candle: f64,
    hydrated: f64,
    frame_p50: f64,
    frame_p95: f64,
    frame_max: f64,
    long_tasks: usize,
    long_task_ms: f64,
    panes: usize,
}

const MARKS: &str = r#"
const at = name => performance.getEntriesByName(name)[0]?.startTime ?? null;
const ready = at('inchart:chart-ready'), hydrated = at('inchart:hydrated');
return ready !== null && hydrated !== null ? [ready, hydrated] : null;
"#;

/// The panes on screen: the volume's (from the chart's own count) and the
/// scripts' (each drawn as an offchart overlay).
const PANES: &str = r#"
const chart = document.querySelector('[data-chart][data-state=ready] .chart-host')?.__inchartChart;
return chart ? chart.paneLayout().length : null;
"#;

fn frames_script(seconds: Duration) -> String {
    format!(
        r#"
return new Promise(done => {{
  const frames = [], longs = [];
  const observer = new PerformanceObserver(list => longs.push(...list.getEntries().map(e => e.duration)));
  observer.observe({{ type: 'longtask' }});
  const chart = document.querySelector('[data-chart] .chart-host').__inchartChart;
  const seen = new Set();
  let last = performance.now();
  const end = last + {ms};
  const frame = now => {{
    frames.push(now - last);
    last = now;
    const candle = chart.lastCandle();
    if (candle) seen.add(candle.join(','));
    if (now < end) requestAnimationFrame(frame);
    else {{ observer.disconnect(); done({{ frames, longs, updates: seen.size }}); }}
  }};
  requestAnimationFrame(frame);
}});
"#,
        ms = seconds.as_millis()
    )
}

async fn measure(browser: &Client, server: &Server, loads: usize, seconds: Duration) -> Figures {
    let mut ready = Vec::new();
    let mut hydrated = Vec::new();
    for load in 0..=loads {
        browser
            .goto(&server.url("/chart/BTCUSDT?interval=1m"))
            .await
            .unwrap();
        let marks = poll(browser, MARKS).await;
        if load > 0 {
            ready.push(marks[0].as_f64().unwrap());
            hydrated.push(marks[1].as_f64().unwrap());
        }
    }
    // The scripts' runs come after the candles; wait until all are drawn.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut panes = 0;
    while Instant::now() < deadline {
        panes = browser
            .execute(PANES, vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(0) as usize;
        if panes >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if panes < 4 {
        // The plain page has none: give it the same settling time it would
        // have had, no more.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let stretch = browser.execute(&frames_script(seconds), vec![]).await.unwrap();
    let mut frames: Vec<f64> = stretch["frames"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|f| f.as_f64().unwrap())
        .collect();
    frames.sort_by(f64::total_cmp);
    let longs: Vec<f64> = stretch["longs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_f64().unwrap())
        .collect();
    assert!(
        stretch["updates"].as_u64().unwrap() > seconds.as_secs(),
        "live updates arrived while frames were measured: {}",
        stretch["updates"]
    );
    Figures {
        first_candle: median(&mut ready),
        hydrated: median(&mut hydrated),
        frame_p50: quantile(&frames, 0.5),
        frame_p95: quantile(&frames, 0.95),
        frame_max: frames.last().copied().unwrap_or(0.0),
        long_tasks: longs.len(),
        // An empty sum is -0.0.
        long_task_ms: longs.iter().sum::<f64>() + 0.0,
        panes,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    quantile(values, 0.5)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn poll(browser: &Client, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = browser.execute(script, vec![]).await.unwrap();
        if !value.is_null() {
            return value;
        }
        assert!(Instant::now() < deadline, "the page never got there: {script}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sign_up(server: &Server) -> String {
    let response = reqwest::Client::new()
        .post(server.url("/signup"))
        .header("origin", server.url(""))
        .header("accept", "application/json")
        .header("cookie", format!("inchart_csrf={CSRF}"))
        .form(&[
            ("csrf", CSRF),
            ("email", "bench@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "sign-up: {}", response.status());
    cookie_value(&response, "inchart_access").unwrap()
}

/// A saved script, running live on BTCUSDT 1m, that has run once there.
async fn add_live_script(server: &Server, cookies: &str, name: &str, source: &str) {
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String| {
        client
            .request(method, server.url(&path))
            .header("origin", server.url(""))
            .header("x-csrf-token", CSRF)
            .header("cookie", cookies)
    };
    let created: Value = call(reqwest::Method::POST, "/api/v1/scripts".into())
        .json(&json!({ "name": name, "source": source }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let attached = call(
        reqwest::Method::PUT,
        format!("/api/v1/scripts/{id}/live/BTCUSDT/1m"),
    )
    .send()
    .await
    .unwrap();
    assert!(attached.status().is_success(), "attach: {}", attached.status());
    let run: Value = call(reqwest::Method::POST, format!("/api/v1/scripts/{id}/runs"))
        .json(&json!({ "symbol": "BTCUSDT", "interval": "1m" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(run["result"]["Ok"].is_object(), "{name}: {run}");
}

/// Ends chromedriver and its browser when dropped (found by its profile
/// directory, as the end-to-end tests do).
struct Driver {
    chromedriver: Child,
    profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = Command::new("pkill")
            .args([
                "-KILL",
                "-f",
                "--",
                &format!("--user-data-dir={}", self.profile.display()),
            ])
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

async fn start_browser() -> (Driver, Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let chromedriver = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts (scripts/setup.sh installs it)");
    let profile = std::env::temp_dir().join(format!("inchart-bench-chromium-{}", std::process::id()));
    let driver = Driver {
        chromedriver,
        profile,
    };
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", driver.profile.display()),
            ],
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(error) if Instant::now() > deadline => panic!("no browser: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
