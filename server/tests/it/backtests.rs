//! Strategy backtests over HTTP, against the real server, real sandboxed
//! workers and the simulated feed: a moving-average cross traded and
//! reported, its signals on the newest candles the same as a live run's,
//! a script that peeks at the future refused, plan limits, saved
//! settings, and owners.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::accounts::Visitor;
use crate::helpers::{CacheKind, Db, spawn_app_with};
use crate::scripts::{api, create, signed_up};

const HOUR: i64 = 3_600_000;

/// A Free plan that backtests a little more than the store holds, so the
/// older candles are loaded first.
const FREE: (&str, &str) = (
    "INCHART_FREE_LIMITS",
    "scripts=20,live=1,watchlist=10,history=2000,cpu=1s,backtest=1500,backtests=20,backtest_cpu=10s",
);

/// Starts a backtest and waits for it to end; the finished backtest.
async fn backtest(visitor: &Visitor, script: &str, body: Value) -> Value {
    let (status, started) = api(
        visitor,
        Method::POST,
        &format!("/api/v1/scripts/{script}/backtests"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, now) = api(
            visitor,
            Method::GET,
            &format!("/api/v1/scripts/{script}/backtests/{id}?wait_ms=5000"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{now}");
        match now["status"]["state"].as_str().unwrap() {
            "done" | "failed" => return now,
            _ => assert!(Instant::now() < deadline, "the backtest did not end: {now}"),
        }
    }
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test]
async fn a_moving_average_cross_is_traded_and_reported() {
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &[FREE]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let script = create(&ann, "cross", app::scripts::TEMPLATE).await;

    let done = backtest(&ann, &script, json!({ "symbol": "BTCUSDT", "interval": "1h" })).await;
    assert_eq!(done["status"]["state"], "done", "{done}");
    let outcome = &done["result"];
    let report = &outcome["report"];
    // The whole reach of the plan, older candles loaded on the way.
    assert_eq!(report["candles"], 1500, "{report}");
    assert_eq!(
        number(&report["last_candle"]) - number(&report["first_candle"]),
        1499.0 * HOUR as f64
    );
    let trades = outcome["trades"].as_array().unwrap();
    assert!(trades.len() >= 5, "a cross over 1500 hours trades: {report}");
    assert_eq!(report["trades"], trades.len());
    // Money adds up: every trade's P&L is the change in equity.
    let capital = number(&report["capital"]);
    assert_eq!(capital, 10_000.0);
    let pnl: f64 = trades.iter().map(|t| number(&t["pnl"])).sum();
    assert!(close(pnl, number(&report["net_profit"])), "{pnl} vs {report}");
    assert!(close(
        number(&report["final_equity"]) - capital,
        number(&report["net_profit"])
    ));
    for trade in trades {
        // Long only by default; filled at the open after the signal.
        assert_eq!(trade["position"], "long");
        assert_eq!(
            number(&trade["entry_time"]),
            number(&trade["signal_time"]) + HOUR as f64,
            "{trade}"
        );
        assert!(number(&trade["exit_time"]) > number(&trade["entry_time"]));
        let fees = number(&trade["fees"]);
        assert!(fees > 0.0, "0.1% a side by default: {trade}");
    }
    // The curves span the range; the drawdown is never above zero.
    let equity = outcome["equity"].as_array().unwrap();
    assert_eq!(equity[0][0], report["first_candle"]);
    assert_eq!(equity.last().unwrap()[0], report["last_candle"]);
    assert!(
        outcome["drawdown"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| number(&p[1]) <= 0.0)
    );
    let deepest = outcome["drawdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| number(&p[1]))
        .fold(0.0, f64::min);
    assert!(close(-deepest, number(&report["max_drawdown_pct"])), "{report}");

    // Re-opening shows it without running again.
    let (status, list) = api(
        &ann,
        Method::GET,
        &format!("/api/v1/scripts/{script}/backtests"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["id"], done["id"]);
    assert_eq!(list[0]["trades"], trades.len());
    let (_, again) = api(
        &ann,
        Method::GET,
        &format!(
            "/api/v1/scripts/{script}/backtests/{}",
            done["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(again, done);

    // Nobody else sees it.
    let bob = signed_up(&app, "bob@example.com").await;
    let (status, _) = api(
        &bob,
        Method::GET,
        &format!(
            "/api/v1/scripts/{script}/backtests/{}",
            done["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(
        &bob,
        Method::POST,
        &format!("/api/v1/scripts/{script}/backtests"),
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_signals_on_the_newest_candles_are_those_a_live_run_gives() {
    let app = spawn_app_with(Db::Postgres, CacheKind::Redis, &[FREE]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let script = create(&ann, "cross", app::scripts::TEMPLATE).await;

    // What a run on the chart marks on the newest candles...
    let (status, run) = api(
        &ann,
        Method::POST,
        &format!("/api/v1/scripts/{script}/runs"),
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{run}");
    let newest = number(&run["last_candle"]) as i64;
    let since = newest - 299 * HOUR;
    let mut marked: Vec<(i64, String)> = run["result"]["Ok"]["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["time"].as_i64().unwrap(),
                m["side"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(time, _)| *time >= since)
        .collect();
    assert!(
        marked.len() >= 4,
        "the cross marks the newest 300 hours: {marked:?}"
    );

    // ...is what the backtest trades there: filled at each signal's close,
    // long and short, reversing, so that every marker is an order.
    let done = backtest(
        &ann,
        &script,
        json!({
            "symbol": "BTCUSDT", "interval": "1h",
            "range": { "to": newest },
            "settings": {
                "capital": 10000.0, "size": { "kind": "percent_of_equity", "percent": 100.0 },
                "fee_pct": 0.1, "slippage": { "kind": "percent", "percent": 0.0 },
                "direction": "long_and_short", "meaning": "reverse", "fill": "signal_close"
            }
        }),
    )
    .await;
    assert_eq!(done["status"]["state"], "done", "{done}");
    let trades = done["result"]["trades"].as_array().unwrap();
    let mut traded: Vec<(i64, String)> = Vec::new();
    for trade in trades {
        let long = trade["position"] == "long";
        let entry = trade["entry_time"].as_i64().unwrap();
        traded.push((entry, if long { "buy" } else { "sell" }.to_string()));
    }
    traded.retain(|(time, _)| *time >= since);
    // The script lists its buys, then its sells; a marker of the side
    // the position already has would be ignored.
    marked.sort();
    marked.dedup_by(|a, b| a.1 == b.1);
    assert_eq!(traded, marked);
}

#[tokio::test]
async fn a_script_that_peeks_at_the_future_is_refused() {
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &[FREE]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let peeking = "from inchart import buy, sell\n\
        \n\
        def signals(c):\n    \
            out = []\n    \
            for i in range(len(c.close) - 1):\n        \
                if c.close[i + 1] > c.close[i] * 1.001:\n            \
                    out.append(buy(c.time[i], c.close[i]))\n        \
                elif c.close[i + 1] < c.close[i] * 0.999:\n            \
                    out.append(sell(c.time[i], c.close[i]))\n    \
            return out, {}\n";
    let script = create(&ann, "oracle", peeking).await;
    let done = backtest(&ann, &script, json!({ "symbol": "BTCUSDT", "interval": "1h" })).await;
    assert_eq!(done["status"]["state"], "failed", "{done}");
    let message = done["status"]["message"].as_str().unwrap();
    assert!(message.starts_with("Look-ahead"), "{message}");
    assert!(done["result"].is_null());

    // The same script's error surfaces as the trader's line.
    let broken = create(&ann, "broken", "def signals(c):\n    return 1 / 0\n").await;
    let done = backtest(&ann, &broken, json!({ "symbol": "BTCUSDT", "interval": "1h" })).await;
    assert_eq!(done["status"]["state"], "failed");
    let message = done["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("Line 2") && message.contains("ZeroDivisionError"),
        "{message}"
    );
}

#[tokio::test]
async fn plans_bound_backtests_and_settings_are_kept_with_the_version() {
    let app = spawn_app_with(
        Db::Sqlite,
        CacheKind::Memory,
        &[(
            "INCHART_FREE_LIMITS",
            "scripts=20,live=1,watchlist=10,history=2000,cpu=1s,backtest=500,backtests=2",
        )],
    )
    .await;
    let ann = signed_up(&app, "ann@example.com").await;
    let script = create(&ann, "cross", app::scripts::TEMPLATE).await;
    let path = format!("/api/v1/scripts/{script}/backtests");

    // Past the plan's candles: 402, and nothing is counted.
    let (status, body) = api(
        &ann,
        Method::POST,
        &path,
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h", "range": { "from": 0 } })),
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 500 candles"),
        "{body}"
    );
    // Settings a trader could not mean: 400 naming the field.
    let (status, body) = api(
        &ann,
        Method::POST,
        &path,
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h", "settings": { "fee_pct": 50.0 } })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Settings given are saved with the version and read back.
    let settings = json!({
        "capital": 2500.0, "size": { "kind": "amount", "amount": 1000.0 },
        "fee_pct": 0.075, "slippage": { "kind": "ticks", "ticks": 2, "tick": 0.01 },
        "direction": "long_and_short", "meaning": "enter_exit", "fill": "next_open"
    });
    let done = backtest(
        &ann,
        &script,
        json!({ "symbol": "BTCUSDT", "interval": "1h", "settings": settings }),
    )
    .await;
    assert_eq!(done["status"]["state"], "done", "{done}");
    assert_eq!(done["settings"], settings);
    assert_eq!(done["result"]["report"]["candles"], 500);
    let (_, saved) = api(
        &ann,
        Method::GET,
        &format!("/api/v1/scripts/{script}/backtest-settings"),
        None,
    )
    .await;
    assert_eq!(saved, settings);
    // A new version starts from the settings before it.
    let (status, _) = api(
        &ann,
        Method::PATCH,
        &format!("/api/v1/scripts/{script}"),
        Some(json!({ "source": format!("{}\n# v2\n", app::scripts::TEMPLATE) })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, saved) = api(
        &ann,
        Method::GET,
        &format!("/api/v1/scripts/{script}/backtest-settings?version=2"),
        None,
    )
    .await;
    assert_eq!(saved, settings);
    // A script nobody has: defaults are not leaked, it is not found.
    let (status, _) = api(
        &ann,
        Method::GET,
        "/api/v1/scripts/00000000-0000-0000-0000-000000000000/backtest-settings",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The second backtest of the hour runs; the third is refused with when.
    let second = backtest(&ann, &script, json!({ "symbol": "ETHUSDT", "interval": "1h" })).await;
    assert_eq!(second["status"]["state"], "done", "{second}");
    let (status, body) = api(
        &ann,
        Method::POST,
        &path,
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h" })),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 backtests an hour"),
        "{body}"
    );
}
