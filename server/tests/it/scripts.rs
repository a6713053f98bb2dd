//! Signal scripts over HTTP and the WebSocket, against the real server and
//! real sandboxed workers (`inchart-worker`, built with the workspace):
//! ownership and versions, a moving-average cross checked against an
//! independent computation, precise errors, hostile scripts that must not
//! slow a well-behaved user, and live runs on closed candles.

use std::time::{Duration, Instant};

use futures::StreamExt;
use inchart_api::market::{CandleSeries, Interval};
use inchart_api::stream::ServerMessage;
use inchart_fakes::binance::FakeBinanceConfig;
use reqwest::header::{COOKIE, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::accounts::Visitor;
use crate::billing::{billing_app, fake_stripe};
use crate::helpers::{CacheKind, Db, TestApp, spawn_app_with, start_app_with};
use crate::live::{btc, fake_binance, send, spawn_live};

/// A Free plan with room for the many small scripts these tests save.
const ROOMY_FREE: (&str, &str) = (
    "INCHART_FREE_LIMITS",
    "scripts=20,live=1,watchlist=10,history=2000,cpu=1s",
);

/// A JSON request from the page's script: its status and body.
pub async fn api(visitor: &Visitor, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = visitor
        .client
        .request(method, format!("{}{path}", visitor.base))
        .header(ORIGIN, &visitor.base)
        .header("x-csrf-token", visitor.csrf());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) async fn signed_up(app: &TestApp, email: &str) -> Visitor {
    let visitor = Visitor::new(app).await;
    let response = visitor.sign_up(email).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    visitor
}

pub(crate) async fn create(visitor: &Visitor, name: &str, source: &str) -> String {
    let (status, body) = api(
        visitor,
        Method::POST,
        "/api/v1/scripts",
        Some(json!({ "name": name, "source": source })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn run(visitor: &Visitor, id: &str) -> (StatusCode, Value) {
    api(
        visitor,
        Method::POST,
        &format!("/api/v1/scripts/{id}/runs"),
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h" })),
    )
    .await
}

/// Runs a script once and returns the run, which must have happened.
async fn run_source(visitor: &Visitor, source: &str) -> Value {
    let id = create(visitor, "probe", source).await;
    let (status, body) = run(visitor, &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn error_kind(run: &Value) -> &str {
    run["result"]["Err"]["kind"].as_str().unwrap_or("none")
}

#[tokio::test]
async fn scripts_belong_to_their_owner_and_every_save_is_kept() {
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let bob = signed_up(&app, "bob@example.com").await;

    // Signed out, nothing is there.
    let stranger = Visitor::new(&app).await;
    assert_eq!(
        api(&stranger, Method::GET, "/api/v1/scripts", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A new script starts from the template.
    let (status, created) = api(&ann, Method::POST, "/api/v1/scripts", Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["source"], app::scripts::TEMPLATE);
    assert_eq!(created["version"], 1);
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/scripts/{id}");

    // Saving a new source is a new version; the same source is not.
    let v2 = "from inchart import buy\n\ndef signals(c):\n    return [buy(c.time[-1], c.close[-1])], {}\n";
    let (status, saved) = api(
        &ann,
        Method::PATCH,
        &path,
        Some(json!({ "source": v2, "name": "Last candle" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        (saved["version"].as_u64(), saved["name"].as_str()),
        (Some(2), Some("Last candle"))
    );
    let (_, again) = api(&ann, Method::PATCH, &path, Some(json!({ "source": v2 }))).await;
    assert_eq!(again["version"], 2);
    let (_, versions) = api(&ann, Method::GET, &format!("{path}/versions"), None).await;
    let numbers: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    let (_, first) = api(&ann, Method::GET, &format!("{path}/versions/1"), None).await;
    assert_eq!(first["source"], app::scripts::TEMPLATE);

    // A run records the version that produced its signals.
    let (status, old_run) = api(
        &ann,
        Method::POST,
        &format!("{path}/runs"),
        Some(json!({ "symbol": "BTCUSDT", "interval": "1h", "version": 1 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{old_run}");
    assert_eq!(old_run["version"], 1);
    assert!(old_run["result"]["Ok"]["lines"].as_array().unwrap().len() == 3);
    let (_, new_run) = run(&ann, &id).await;
    assert_eq!(new_run["version"], 2);
    assert_eq!(new_run["result"]["Ok"]["markers"].as_array().unwrap().len(), 1);
    let (_, runs) = api(&ann, Method::GET, &format!("{path}/runs"), None).await;
    assert_eq!(runs.as_array().unwrap().len(), 2);
    let run_path = format!("{path}/runs/{}", old_run["id"].as_str().unwrap());
    assert_eq!(api(&ann, Method::GET, &run_path, None).await.0, StatusCode::OK);

    // Bob can neither see, change, run, attach nor delete Ann's script:
    // to him it does not exist.
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({ "source": "x = 1" }))),
        (Method::DELETE, "", None),
        (Method::GET, "/versions", None),
        (Method::GET, "/versions/1", None),
        (Method::GET, "/runs", None),
        (
            Method::POST,
            "/runs",
            Some(json!({ "symbol": "BTCUSDT", "interval": "1h" })),
        ),
        (Method::PUT, "/live/BTCUSDT/1h", None),
    ] {
        let (status, body) = api(&bob, method.clone(), &format!("{path}{suffix}"), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {suffix}: {body}");
    }
    assert_eq!(
        api(&bob, Method::GET, &run_path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, bobs) = api(&bob, Method::GET, "/api/v1/scripts", None).await;
    assert_eq!(bobs, json!([]));
    // Nor through the pages.
    let page = bob.html(&format!("/scripts/{id}")).await;
    assert!(page.contains("No such script") && !page.contains("Last candle"));
    let page = ann.html(&format!("/scripts/{id}")).await;
    assert!(page.contains("Last candle") && page.contains("def signals"));

    // The owner deletes it, with its versions and runs.
    assert_eq!(
        api(&ann, Method::DELETE, &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api(&ann, Method::GET, &path, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api(&ann, Method::GET, "/api/v1/scripts", None).await.1, json!([]));
}

/// Simple moving average, `None` until `n` values are in.
fn sma(values: &[f64], n: usize) -> Vec<Option<f64>> {
    (0..values.len())
        .map(|i| (i + 1 >= n).then(|| values[i + 1 - n..=i].iter().sum::<f64>() / n as f64))
        .collect()
}

#[tokio::test]
async fn a_moving_average_cross_marks_the_candles_where_the_averages_cross() {
    let app = spawn_app_with(Db::Postgres, CacheKind::Redis, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let run = run_source(&ann, app::scripts::TEMPLATE).await;
    let output = &run["result"]["Ok"];
    assert!(output.is_object(), "{run}");

    // The same candles, read from the API, and the crosses computed here.
    let (first, last) = (
        run["first_candle"].as_i64().unwrap(),
        run["last_candle"].as_i64().unwrap(),
    );
    let series: CandleSeries = app
        .get(&format!(
            "/api/v1/candles?symbol=BTCUSDT&interval=1h&start={first}&end={last}&limit=1000"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(series.candles.len() as u64, run["candles"].as_u64().unwrap());
    assert!(
        series.candles.iter().all(|c| c.closed),
        "runs see closed candles only"
    );
    let closes: Vec<f64> = series.candles.iter().map(|c| c.close).collect();
    let (fast, slow) = (sma(&closes, 9), sma(&closes, 21));
    let mut expected = Vec::new();
    for i in 1..closes.len() {
        if let (Some(f0), Some(s0), Some(f1), Some(s1)) = (fast[i - 1], slow[i - 1], fast[i], slow[i]) {
            if f0 <= s0 && f1 > s1 {
                expected.push((series.candles[i].open_time, "buy", closes[i]));
            }
            if f0 >= s0 && f1 < s1 {
                expected.push((series.candles[i].open_time, "sell", closes[i]));
            }
        }
    }
    expected.sort_by_key(|m| m.0);
    let mut markers: Vec<(i64, &str, f64)> = output["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["time"].as_i64().unwrap(),
                m["side"].as_str().unwrap(),
                m["price"].as_f64().unwrap(),
            )
        })
        .collect();
    markers.sort_by_key(|m| m.0);
    assert!(
        expected.len() >= 4,
        "a random walk of {} candles crosses",
        closes.len()
    );
    assert_eq!(markers, expected);

    // The lines are the averages, from the first candle each has a value,
    // over the candles, and the RSI in a pane of its own with its 70 and 30.
    let lines = output["lines"].as_array().unwrap();
    let names: Vec<(&str, Option<&str>)> = lines
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), l["pane"].as_str()))
        .collect();
    assert_eq!(
        names,
        [("SMA 9", None), ("SMA 21", None), ("RSI 14", Some("RSI"))]
    );
    let levels: Vec<(&str, f64, Option<&str>)> = output["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap(),
                l["value"].as_f64().unwrap(),
                l["pane"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [("Overbought", 70.0, Some("RSI")), ("Oversold", 30.0, Some("RSI"))]
    );
    let points = lines[1]["points"].as_array().unwrap();
    assert_eq!(points.len(), closes.len() - 20);
    let (time, value) = (points[0][0].as_i64().unwrap(), points[0][1].as_f64().unwrap());
    assert_eq!(time, series.candles[20].open_time);
    assert!((value - slow[20].unwrap()).abs() < 1e-9 * value.abs());
}

#[tokio::test]
async fn errors_say_what_went_wrong_and_where() {
    let app = spawn_app_with(Db::Sqlite, CacheKind::Memory, &[ROOMY_FREE]).await;
    let ann = signed_up(&app, "ann@example.com").await;

    let syntax = run_source(
        &ann,
        "def signals(c):\n    x = 1\n    return (x +\n\nprint('never')\n",
    )
    .await;
    assert_eq!(error_kind(&syntax), "syntax", "{syntax}");
    assert_eq!(syntax["result"]["Err"]["line"], 3, "{syntax}");

    let deep = "def ratio(a, b):\n    return a / b\n\ndef middle(c):\n    return ratio(1, 0)\n\ndef signals(c):\n    middle(c)\n";
    let raised = run_source(&ann, deep).await;
    let error = &raised["result"]["Err"];
    assert_eq!(error_kind(&raised), "exception");
    assert_eq!(error["line"], 2);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("ZeroDivisionError"),
        "{error}"
    );
    let frames: Vec<(u64, &str)> = error["traceback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["line"].as_u64().unwrap(), f["function"].as_str().unwrap()))
        .collect();
    // Only the script's own frames, outermost first.
    assert_eq!(frames, [(8, "signals"), (5, "middle"), (2, "ratio")]);

    let wrong_time = run_source(
        &ann,
        "from inchart import buy\ndef signals(c):\n    return [buy(c.time[-1] + 1, 1.0)], {}\n",
    )
    .await;
    assert_eq!(error_kind(&wrong_time), "invalid_output");
    assert!(
        wrong_time["result"]["Err"]["message"]
            .as_str()
            .unwrap()
            .contains("not the open time of a candle"),
        "{wrong_time}"
    );
    let no_function = run_source(&ann, "x = 1\n").await;
    assert!(
        no_function["result"]["Err"]["message"]
            .as_str()
            .unwrap()
            .contains("signals"),
        "{no_function}"
    );

    // Printing is kept, beside the result.
    let printed = run_source(
        &ann,
        "def signals(c):\n    print('candles:', len(c.close))\n    return [], {}\n",
    )
    .await;
    assert!(
        printed["log"].as_str().unwrap().starts_with("candles: "),
        "{printed}"
    );
}

#[tokio::test]
async fn hostile_scripts_end_in_clear_errors_and_do_not_slow_a_well_behaved_user() {
    let app = spawn_app_with(
        Db::Postgres,
        CacheKind::Redis,
        &[
            ("INCHART_SCRIPT_WORKERS", "2"),
            ("INCHART_SCRIPT_USER_WORKERS", "1"),
            ("INCHART_SCRIPT_WALL", "5s"),
            ("INCHART_SCRIPT_QUEUE", "3"),
            ROOMY_FREE,
        ],
    )
    .await;
    let ann = signed_up(&app, "ann@example.com").await;
    let mallory = signed_up(&app, "mallory@example.com").await;
    let good = create(&ann, "cross", app::scripts::TEMPLATE).await;

    // Ann's normal latency, alone (the first run also starts the workers).
    run(&ann, &good).await;
    let mut alone = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (status, body) = run(&ann, &good).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["result"]["Ok"].is_object(), "{body}");
        alone.push(started.elapsed());
    }

    let hostile = [
        ("while True:\n    pass\n", "cpu_limit"),
        ("x = bytearray(10**10)\n", "memory_limit"),
        ("import time\ntime.sleep(1000)\n", "time_limit"),
        ("import os\nos.fork()\n", "exception"),
        (
            "import socket\nsocket.create_connection(('127.0.0.1', 5432))\n",
            "exception",
        ),
        ("print(open('/etc/passwd').read())\n", "exception"),
        (
            "import subprocess\nsubprocess.run(['/bin/sh', '-c', 'id'])\n",
            "exception",
        ),
    ];
    let mut ids = Vec::new();
    for (source, _) in hostile {
        ids.push(
            create(
                &mallory,
                "bad",
                &format!("{source}def signals(c):\n    return [], {{}}\n"),
            )
            .await,
        );
    }
    // Mallory floods: every hostile script at once, twice over. Past her
    // queue's quota she is told to wait.
    let floods = ids.iter().chain(ids.iter()).map(|id| {
        let id = id.clone();
        let mallory = &mallory;
        async move { (id.clone(), run(mallory, &id).await) }
    });
    let ann_runs = async {
        // Once Mallory's runs are queued.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut during = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let (status, body) = run(&ann, &good).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(body["result"]["Ok"].is_object(), "{body}");
            during.push(started.elapsed());
        }
        during
    };
    let (answers, during) = tokio::join!(futures::future::join_all(floods), ann_runs);

    let mut refused = 0;
    for (id, (status, body)) in &answers {
        if *status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
            continue;
        }
        assert_eq!(*status, StatusCode::OK, "{body}");
        let expected = hostile[ids.iter().position(|i| i == id).unwrap()].1;
        assert_eq!(error_kind(body), expected, "{body}");
    }
    assert!(refused > 0, "a flood past the quota is refused");
    // Every one of Ann's runs took her normal time, well under one hostile
    // run's CPU limit: she never waited behind Mallory.
    let worst = *during.iter().max().unwrap();
    eprintln!("ann alone: {alone:?}; during the flood: {during:?}");
    assert!(
        worst < Duration::from_millis(900),
        "Ann waited {worst:?} during the flood"
    );

    // The workers are still there for the next run.
    let (status, body) = run(&ann, &good).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["result"]["Ok"].is_object(), "{body}");
}

#[tokio::test]
async fn attached_scripts_run_on_every_closed_candle_and_reach_only_their_owner() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = spawn_live(Db::Postgres, CacheKind::Redis, &fake, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let bob = signed_up(&app, "bob@example.com").await;
    let id = create(&ann, "cross", app::scripts::TEMPLATE).await;
    let (status, body) = api(
        &ann,
        Method::PUT,
        &format!("/api/v1/scripts/{id}/live/BTCUSDT/1m"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, listed) = api(&ann, Method::GET, "/api/v1/scripts", None).await;
    assert_eq!(
        listed[0]["attached"],
        json!([{ "symbol": "BTCUSDT", "interval": "1m" }])
    );

    let mut ann_ws = connect_as(&ann).await;
    let mut bob_ws = connect_as(&bob).await;
    for ws in [&mut ann_ws, &mut bob_ws] {
        send(
            ws,
            &inchart_api::stream::ClientMessage::Subscribe {
                symbol: btc(),
                interval: Interval::M1,
                since: None,
            },
        )
        .await;
    }
    let forming = fake.candles(&btc(), Interval::M1).last().unwrap().open_time;
    fake.advance(Duration::from_secs(60));

    let (name, run) = next_signals(&mut ann_ws, Duration::from_secs(30))
        .await
        .expect("Ann's chart hears her run");
    assert_eq!(name, "cross");
    assert_eq!(run.trigger, inchart_api::scripts::Trigger::Live);
    assert_eq!(
        run.last_candle,
        Some(forming),
        "the run saw the candle that just closed"
    );
    assert!(run.result.is_ok(), "{:?}", run.result);
    assert!(
        next_signals(&mut bob_ws, Duration::from_secs(2)).await.is_none(),
        "Bob's chart hears nothing of Ann's script"
    );
    // The run is recorded with the script.
    let (_, runs) = api(&ann, Method::GET, &format!("/api/v1/scripts/{id}/runs"), None).await;
    assert_eq!(runs[0]["trigger"], "live");
}

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect_as(visitor: &Visitor) -> Ws {
    connect_to(visitor, &visitor.base).await
}

/// `visitor`'s chart connection (their cookies, their site's origin) to the
/// instance at `address` (their own site's, when it is another instance).
pub(crate) async fn connect_to(visitor: &Visitor, address: &str) -> Ws {
    use reqwest::cookie::CookieStore;
    let url = format!("{}/ws", address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    let cookies = visitor.jar.cookies(&visitor.base.parse().unwrap()).unwrap();
    request
        .headers_mut()
        .insert(COOKIE, cookies.to_str().unwrap().parse().unwrap());
    request
        .headers_mut()
        .insert(ORIGIN, visitor.base.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws
}

async fn next_signals(ws: &mut Ws, wait: Duration) -> Option<(String, inchart_api::scripts::RunView)> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(frame))) => frame,
            _ => return None,
        };
        if let Message::Text(text) = frame
            && let Ok(ServerMessage::Signals { script_name, run }) = serde_json::from_str(&text)
        {
            return Some((script_name, *run));
        }
    }
}

#[tokio::test]
async fn without_a_worker_runs_are_refused_and_nothing_else_breaks() {
    let app = spawn_app_with(
        Db::Sqlite,
        CacheKind::Memory,
        &[("INCHART_WORKER_BIN", "/nonexistent/inchart-worker")],
    )
    .await;
    let ann = signed_up(&app, "ann@example.com").await;
    let id = create(&ann, "cross", app::scripts::TEMPLATE).await;
    let (status, body) = run(&ann, &id).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("cannot run") && !message.contains("nonexistent"),
        "{message}"
    );
    // Scripts are still saved and listed, and the chart still answers.
    assert_eq!(
        api(&ann, Method::GET, "/api/v1/scripts", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/candles?symbol=BTCUSDT&interval=1h")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn runs_past_the_plans_minute_wait_on_every_instance_while_others_run_on() {
    // Two instances of one deployment: one database, Redis prefix, session
    // key and public address; Pro is on sale.
    let fake = fake_stripe(true).await;
    let prefix = format!("inchart-test-{}", uuid::Uuid::new_v4().simple());
    let deployment = [
        (
            "INCHART_FREE_LIMITS",
            "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,runs=2",
        ),
        ("INCHART_CACHE_PREFIX", prefix.as_str()),
        (
            "INCHART_JWT_SECRET",
            "one key that both instances sign sessions with",
        ),
    ];
    let first = billing_app(Db::Postgres, CacheKind::Redis, &fake, &deployment).await;
    let mut same_site = deployment.to_vec();
    same_site.push(("DATABASE_URL", first.database_url.as_str()));
    same_site.push(("INCHART_PUBLIC_URL", first.address.as_str()));
    // The first instance fills the market data for both.
    let second = start_app_with(Db::Postgres, CacheKind::Redis, &same_site).await;

    let ann = signed_up(&first, "ann@example.com").await;
    let bob = signed_up(&first, "bob@example.com").await;
    let id = create(&ann, "cross", app::scripts::TEMPLATE).await;
    // Two runs on the second instance...
    for _ in 0..2 {
        let response = run_at(&ann, &second.address, &id).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    // ...and her third this minute, on the first, waits.
    let response = run_at(&ann, &first.address, &id).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "plan_limit", "{body}");
    assert_eq!(body["error"]["field"], "runs", "{body}");
    assert_eq!(body["error"]["upgrade"], "/pricing", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Your Free plan starts at most 2 script runs a minute. Try again in ")
            && message.ends_with(", or upgrade to Pro for 120 a minute."),
        "{message}"
    );
    // Nothing ran: the script's runs are the first two.
    let (_, runs) = api(&ann, Method::GET, &format!("/api/v1/scripts/{id}/runs"), None).await;
    assert_eq!(runs.as_array().map(Vec::len), Some(2), "{runs}");

    // Bob's minute is his own.
    let bobs = create(&bob, "cross", app::scripts::TEMPLATE).await;
    let (status, body) = run(&bob, &bobs).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// `POST …/runs` from the site's page, to the instance at `instance`.
async fn run_at(visitor: &Visitor, instance: &str, id: &str) -> reqwest::Response {
    visitor
        .client
        .post(format!("{instance}/api/v1/scripts/{id}/runs"))
        .header(ORIGIN, &visitor.base)
        .header("x-csrf-token", visitor.csrf())
        .json(&json!({ "symbol": "BTCUSDT", "interval": "1h" }))
        .send()
        .await
        .unwrap()
}
