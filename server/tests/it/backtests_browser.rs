//! A trader backtests a script in a real headless Chromium: the report's
//! figures, the equity and drawdown panes and the trades on the chart, the
//! trade list moving the chart to a trade, the report again on reopening,
//! and two backtests compared. Screenshots go to `target/e2e/`, on a
//! desktop and on a phone, in both themes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::browser::{CHART_COUNT, HYDRATED, click, run, sign_up_as_ann, start_browser, wait_for};
use crate::helpers::{CacheKind, Db, spawn_app};

fn out_dir() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&out).unwrap();
    out
}

async fn screenshot(client: &Client, name: &str) {
    std::fs::write(out_dir().join(name), client.screenshot().await.unwrap()).unwrap();
}

/// Like `wait_for`, for a backtest: it may first load older candles.
async fn wait_long(client: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let value = run(client, script).await;
        if !value.is_null() && value != Value::Bool(false) {
            return value;
        }
        if Instant::now() > deadline {
            let panel = run(
                client,
                "return document.querySelector('.backtest-panel')?.outerHTML ?? document.body.innerHTML;",
            )
            .await;
            panic!("timed out waiting for {what}; the panel holds: {panel}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The mounted chart's handle, in a script.
const CHART: &str = "document.querySelector('[data-chart][data-state=ready] .chart-host')?.__inchartChart";

/// The backtest on show, once done: its id and the number of trade rows.
const DONE: &str = "const report = document.querySelector('.backtest-panel[data-backtest-state=done] .report'); \
     return report ? { id: report.dataset.report, rows: document.querySelectorAll('.trades tbody tr[data-trade]').length } : null;";

/// The figure `id`'s value as shown.
fn figure(id: &str) -> String {
    format!("return document.querySelector('[data-figure={id}] .figure-value')?.textContent ?? null;")
}

async fn switch_theme(client: &Client, theme: &str) {
    run(
        client,
        &format!(
            "if (document.documentElement.dataset.theme !== '{theme}') document.querySelector('.theme-toggle').click(); \
             return new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(null))));"
        ),
    )
    .await;
}

#[tokio::test]
async fn a_trader_backtests_a_script_and_walks_its_trades_on_the_chart() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let (_driver, client) = start_browser().await;
    sign_up_as_ann(&client, &app).await;

    // A new script: the template's moving-average cross.
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
    let workbench = run(&client, "return location.pathname;").await;

    // The settings are stated before anything runs, folded.
    let sentence = run(
        &client,
        "const d = document.querySelector('.backtest-settings'); \
         return { open: d.open, text: d.querySelector('.settings-sentence').textContent };",
    )
    .await;
    assert_eq!(sentence["open"], false, "{sentence}");
    let text = sentence["text"].as_str().unwrap();
    for words in [
        "10,000 USDT",
        "100% of equity",
        "0.1% fee per side",
        "no slippage",
        "long only",
    ] {
        assert!(text.contains(words), "{words:?} in {text:?}");
    }

    // Backtest: progress, then the report.
    click(&client, "button[data-backtest]").await;
    let done = wait_long(&client, "the backtest's report", DONE).await;
    let first_id = done["id"].as_str().unwrap().to_string();
    let rows = done["rows"].as_u64().unwrap();
    assert!(rows > 0, "the template's crosses made trades: {done}");

    // The figures are numbers (or a dash where a ratio is undefined).
    let net = run(&client, &figure("net_profit")).await;
    assert!(
        net.as_str()
            .is_some_and(|v| v.chars().any(|c| c.is_ascii_digit()) && v.contains('.')),
        "net profit: {net}"
    );
    let trades = run(&client, &figure("trades")).await;
    let trades: u64 = trades.as_str().unwrap().replace(',', "").parse().unwrap();
    assert_eq!(
        rows,
        trades.min(200),
        "the list holds the report's trades (200 at first)"
    );
    for id in [
        "max_drawdown",
        "win_rate",
        "profit_factor",
        "sharpe",
        "buy_and_hold",
        "cagr",
        "exposure",
    ] {
        let shown = run(&client, &figure(id)).await;
        assert!(
            shown.as_str().is_some_and(|v| !v.is_empty()),
            "{id} is shown: {shown}"
        );
    }

    // On the chart: equity and drawdown panes, and every trade.
    let drawn = wait_for(
        &client,
        "the equity pane and the trades on the chart",
        &format!(
            "const chart = {CHART}; if (!chart) return null; \
             const panes = chart.panes().map(p => p.name); \
             return panes.includes('Equity') && chart.trades().length > 0 ? {{ panes, trades: chart.trades().length }} : null;"
        ),
    )
    .await;
    assert!(
        drawn["panes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "Drawdown %"),
        "{drawn}"
    );
    assert_eq!(drawn["trades"].as_u64(), Some(trades), "{drawn}");
    screenshot(&client, "backtest-report.png").await;

    // A click on the oldest trade brings it into view and draws it
    // stronger; Enter on another row does the same.
    let entry = run(&client, &format!("return {CHART}.trades()[0].entryTime;")).await;
    let entry = entry.as_f64().unwrap();
    client
        .find(Locator::Css(".trades tbody tr[data-trade='0']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let range = wait_for(
        &client,
        "the chart at the first trade",
        &format!(
            "const r = {CHART}.visibleRange(); \
             return r && r[0] <= {entry} && {entry} <= r[1] ? r : null;"
        ),
    )
    .await;
    let highlighted = run(&client, &format!("return {CHART}.highlightedTrade();")).await;
    assert_eq!(
        highlighted, 0,
        "the clicked trade is drawn stronger (range {range})"
    );
    if rows > 1 {
        let last = rows.min(200) - 1;
        let entry = run(&client, &format!("return {CHART}.trades()[{last}].entryTime;")).await;
        let entry = entry.as_f64().unwrap();
        run(
            &client,
            &format!(
                "const row = document.querySelector(\".trades tbody tr[data-trade='{last}']\"); row.focus(); \
                 row.dispatchEvent(new KeyboardEvent('keydown', {{ key: 'Enter', bubbles: true }})); return null;"
            ),
        )
        .await;
        wait_for(
            &client,
            "the chart at the last trade",
            &format!(
                "const r = {CHART}.visibleRange(); \
                 return r && r[0] <= {entry} && {entry} <= r[1] ? r : null;"
            ),
        )
        .await;
    }
    switch_theme(&client, "dark").await;
    screenshot(&client, "backtest-desktop-dark.png").await;
    switch_theme(&client, "light").await;
    screenshot(&client, "backtest-desktop-light.png").await;

    // Reopening shows the same report without running again.
    client.refresh().await.unwrap();
    wait_for(&client, "the page to hydrate", HYDRATED).await;
    let again = wait_long(&client, "the report on reopening", DONE).await;
    assert_eq!(again["id"], first_id.as_str(), "the newest finished backtest");

    // A second backtest with another fee, then the two compared.
    run(
        &client,
        "document.querySelector('.backtest-settings').open = true; return null;",
    )
    .await;
    let fee = client.find(Locator::Css("#bt-fee")).await.unwrap();
    fee.clear().await.unwrap();
    fee.send_keys("0.5").await.unwrap();
    click(&client, "button[data-backtest]").await;
    let second = wait_long(
        &client,
        "the second report",
        &format!("const d = (() => {{ {DONE} }})(); return d && d.id !== '{first_id}' ? d : null;"),
    )
    .await;
    assert_ne!(second["id"], first_id.as_str());
    click(&client, "button[data-compare]").await;
    let compared = wait_long(
        &client,
        "the two backtests side by side",
        "const rows = [...document.querySelectorAll('.compare-table tbody tr[data-figure]')]; \
         return rows.length ? { rows: rows.length, better: document.querySelectorAll('.compare-table td.better').length, \
           fees: document.querySelector('.compare-table tr[data-figure=fees]')?.innerText } : null;",
    )
    .await;
    assert!(compared["better"].as_u64().unwrap() > 0, "{compared}");
    screenshot(&client, "backtest-compare.png").await;
    click(&client, "button[data-compare]").await;

    // A phone: the report wraps, the trade list scrolls on its own.
    client.set_window_size(390, 844).await.unwrap();
    client
        .goto(&format!("{}{}", app.address, workbench.as_str().unwrap()))
        .await
        .unwrap();
    wait_long(&client, "the report on a phone", DONE).await;
    let phone = run(
        &client,
        "const page = document.documentElement; \
         const list = document.querySelector('.trades-wrap'); \
         const grid = document.querySelector('.figures.headline'); \
         return { sideways: page.scrollWidth - page.clientWidth, \
                  listScrolls: getComputedStyle(list).overflowY === 'auto' && list.clientHeight <= innerHeight, \
                  gridWidth: grid.getBoundingClientRect().width };",
    )
    .await;
    assert!(
        phone["sideways"].as_f64().unwrap() <= 1.0,
        "no sideways scrolling: {phone}"
    );
    assert!(phone["listScrolls"].as_bool().unwrap(), "{phone}");
    assert!(phone["gridWidth"].as_f64().unwrap() <= 390.0, "{phone}");
    run(
        &client,
        "document.querySelector('.backtest-panel').scrollIntoView(); return null;",
    )
    .await;
    screenshot(&client, "backtest-phone.png").await;
    client
        .find(Locator::Css(".trades tbody tr[data-trade='0']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let entry = run(&client, &format!("return {CHART}.trades()[0].entryTime;")).await;
    let entry = entry.as_f64().unwrap();
    wait_for(
        &client,
        "the chart at the first trade on a phone",
        &format!(
            "const r = {CHART}.visibleRange(); \
             return r && r[0] <= {entry} && {entry} <= r[1] ? r : null;"
        ),
    )
    .await;
    screenshot(&client, "backtest-phone-trade.png").await;
}
