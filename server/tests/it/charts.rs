//! The trader's chart over HTTP and the WebSocket: drawings (checked,
//! owned, limited by the plan, imported from a visitor's browser and
//! synchronised to the trader's other connections, on every instance),
//! the scripts a chart shows, and the layout of several charts.

use std::time::Duration;

use futures::StreamExt;
use inchart_api::charts::DrawingChange;
use inchart_api::stream::ServerMessage;
use inchart_fakes::binance::FakeBinanceConfig;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::accounts::{PASSWORD, Visitor};
use crate::helpers::{CacheKind, Db, TestApp, spawn_app_with, start_app_with};
use crate::live::{fake_binance, spawn_live};
use crate::scripts::{Ws, api, connect_as, connect_to, create};

/// 2024-05-01 00:00 UTC, in milliseconds.
const MAY: i64 = 1_714_521_600_000;
const HOUR: i64 = 3_600_000;

async fn signed_up(app: &TestApp, email: &str) -> Visitor {
    let visitor = Visitor::new(app).await;
    let response = visitor.sign_up(email).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    visitor
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn trend(id: &str, symbol: &str, from: f64, to: f64) -> Value {
    json!({
        "id": id,
        "symbol": symbol,
        "kind": "trend",
        "points": [{ "time": MAY, "price": from }, { "time": MAY + 5 * HOUR, "price": to }],
        "color": "#22aa88",
    })
}

fn note(id: &str, text: &str) -> Value {
    json!({
        "id": id,
        "symbol": "BTCUSDT",
        "kind": "note",
        "points": [{ "time": MAY, "price": 61_000.5 }],
        "text": text,
    })
}

async fn put(visitor: &Visitor, drawing: &Value) -> (StatusCode, Value) {
    let id = drawing["id"].as_str().unwrap();
    api(
        visitor,
        Method::PUT,
        &format!("/api/v1/drawings/{id}"),
        Some(drawing.clone()),
    )
    .await
}

async fn listed(visitor: &Visitor, symbol: &str) -> Value {
    let (status, body) = api(
        visitor,
        Method::GET,
        &format!("/api/v1/drawings?symbol={symbol}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn ids(list: &Value) -> Vec<&str> {
    list["drawings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect()
}

async fn drawings_are_checked_and_kept_for_their_owner_only(db: Db, cache: CacheKind) {
    let app = spawn_app_with(db, cache, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let bob = signed_up(&app, "bob@example.com").await;

    let stranger = Visitor::new(&app).await;
    let (status, _) = api(&stranger, Method::GET, "/api/v1/drawings?symbol=BTCUSDT", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A new drawing is created, then changed in place.
    let line = new_id();
    let (status, body) = put(&ann, &trend(&line, "BTCUSDT", 60_000.0, 62_500.25)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, trend(&line, "BTCUSDT", 60_000.0, 62_500.25));
    let moved = trend(&line, "BTCUSDT", 59_000.0, 63_000.0);
    let (status, body) = put(&ann, &moved).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let label = new_id();
    let (status, body) = put(&ann, &note(&label, "  breakout?  ")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["text"], "breakout?", "a note is kept trimmed");
    let (status, _) = put(&ann, &trend(&new_id(), "ETHUSDT", 3000.0, 3100.0)).await;
    assert_eq!(status, StatusCode::CREATED);

    let list = listed(&ann, "BTCUSDT").await;
    assert_eq!(ids(&list), [line.as_str(), label.as_str()]);
    assert_eq!(list["drawings"][0], moved);
    assert_eq!(
        (list["limit"].as_u64(), list["used"].as_u64()),
        (Some(50), Some(3))
    );
    assert_eq!(ids(&listed(&ann, "ETHUSDT").await).len(), 1);
    assert!(ids(&listed(&bob, "BTCUSDT").await).is_empty());

    // Every malformed drawing is refused, naming what is wrong, and
    // nothing is stored.
    let id = new_id();
    let mut one_point_trend = trend(&id, "BTCUSDT", 1.0, 2.0);
    one_point_trend["points"] = json!([{ "time": MAY, "price": 1.0 }]);
    let mut ancient = trend(&id, "BTCUSDT", 1.0, 2.0);
    ancient["points"][0]["time"] = json!(1_000);
    let mut far_future = trend(&id, "BTCUSDT", 1.0, 2.0);
    far_future["points"][1]["time"] = json!(9_000_000_000_000_i64);
    let mut texted_trend = trend(&id, "BTCUSDT", 1.0, 2.0);
    texted_trend["text"] = json!("hello");
    let mut named_colour = trend(&id, "BTCUSDT", 1.0, 2.0);
    named_colour["color"] = json!("red");
    let mut not_a_uuid = trend("line-1", "BTCUSDT", 1.0, 2.0);
    not_a_uuid["id"] = json!("line-1");
    let mut unknown_kind = note(&id, "x");
    unknown_kind["kind"] = json!("pitchfork");
    for (drawing, field) in [
        (one_point_trend, "points"),
        (ancient, "points"),
        (far_future, "points"),
        (note(&id, ""), "text"),
        (note(&id, &"x".repeat(281)), "text"),
        (note(&id, "two\nlines"), "text"),
        (texted_trend, "text"),
        (named_colour, "color"),
        (trend(&id, "SOLUSDT", 1.0, 2.0), "symbol"),
        (unknown_kind, "body"),
    ] {
        let (status, body) = api(
            &ann,
            Method::PUT,
            &format!("/api/v1/drawings/{id}"),
            Some(drawing.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{drawing}: {body}");
        assert_eq!(body["error"]["field"], field, "{drawing}: {body}");
    }
    let (status, body) = put(&ann, &not_a_uuid).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a path that is no drawing's id: {body}"
    );
    let (status, body) = api(
        &ann,
        Method::PUT,
        &format!("/api/v1/drawings/{}", new_id()),
        Some(trend(&id, "BTCUSDT", 1.0, 2.0)),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("id")),
        "{body}"
    );
    let (status, body) = put(&ann, &trend(&line, "ETHUSDT", 1.0, 2.0)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("symbol")),
        "a drawing stays on its symbol: {body}"
    );
    let (status, body) = api(&ann, Method::GET, "/api/v1/drawings", None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("symbol"))
    );
    assert_eq!(listed(&ann, "BTCUSDT").await["used"], 3);

    // Bob cannot overwrite, delete or see Ann's drawing: to him it does not exist.
    let (status, _) = put(&bob, &trend(&line, "BTCUSDT", 1.0, 2.0)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api(&bob, Method::DELETE, &format!("/api/v1/drawings/{line}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(listed(&ann, "BTCUSDT").await["drawings"][0], moved);
    assert!(ids(&listed(&bob, "BTCUSDT").await).is_empty());

    // Ann deletes hers, once.
    let path = format!("/api/v1/drawings/{line}");
    assert_eq!(
        api(&ann, Method::DELETE, &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api(&ann, Method::DELETE, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(ids(&listed(&ann, "BTCUSDT").await), [label.as_str()]);
}

#[tokio::test]
async fn drawings_are_checked_and_kept_for_their_owner_only_on_postgres() {
    drawings_are_checked_and_kept_for_their_owner_only(Db::Postgres, CacheKind::Redis).await;
}

#[tokio::test]
async fn drawings_are_checked_and_kept_for_their_owner_only_on_sqlite() {
    drawings_are_checked_and_kept_for_their_owner_only(Db::Sqlite, CacheKind::Memory).await;
}

async fn the_plan_limits_drawings_and_an_import_keeps_what_fits(db: Db, cache: CacheKind) {
    let app = spawn_app_with(
        db,
        cache,
        &[(
            "INCHART_FREE_LIMITS",
            "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,drawings=3",
        )],
    )
    .await;
    let ann = signed_up(&app, "ann@example.com").await;
    let bob = signed_up(&app, "bob@example.com").await;
    let kept: Vec<String> = (0..3).map(|_| new_id()).collect();
    for id in &kept {
        let (status, body) = put(&ann, &trend(id, "BTCUSDT", 1.0, 2.0)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The fourth is refused with the plan's words; a change is not.
    let (status, body) = put(&ann, &trend(&new_id(), "ETHUSDT", 1.0, 2.0)).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["field"], "drawings");
    assert_eq!(
        body["error"]["message"],
        "Your Free plan keeps 3 drawings; delete some."
    );
    let (status, _) = put(&ann, &trend(&kept[0], "BTCUSDT", 5.0, 6.0)).await;
    assert_eq!(status, StatusCode::OK);
    let list = listed(&ann, "BTCUSDT").await;
    assert_eq!(
        (list["limit"].as_u64(), list["used"].as_u64()),
        (Some(3), Some(3))
    );

    // Room is made by deleting.
    for id in &kept[1..] {
        let (status, _) = api(&ann, Method::DELETE, &format!("/api/v1/drawings/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let bobs = new_id();
    assert_eq!(
        put(&bob, &trend(&bobs, "BTCUSDT", 7.0, 8.0)).await.0,
        StatusCode::CREATED
    );

    // A visitor's drawings move in: her own (changed), two new ones (the
    // room left), the rest refused: one past the limit, one malformed,
    // one this server cannot read, and Bob's id.
    let new: Vec<String> = (0..3).map(|_| new_id()).collect();
    let import = json!({ "drawings": [
        trend(&kept[0], "BTCUSDT", 9.0, 10.0),
        trend(&new[0], "BTCUSDT", 1.0, 2.0),
        note(&new[1], "from my visit"),
        trend(&new[2], "ETHUSDT", 1.0, 2.0),
        note(&new_id(), ""),
        { "id": new_id(), "kind": "pitchfork" },
        trend(&bobs, "BTCUSDT", 0.0, 0.0),
    ]});
    let (status, outcome) = api(&ann, Method::POST, "/api/v1/drawings/import", Some(import)).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome, json!({ "imported": 3, "refused": 4 }));
    let list = listed(&ann, "BTCUSDT").await;
    let mut imported = ids(&list)[1..].to_vec();
    imported.sort_unstable();
    let mut wanted = [new[0].as_str(), new[1].as_str()];
    wanted.sort_unstable();
    assert_eq!((ids(&list)[0], imported), (kept[0].as_str(), wanted.to_vec()));
    assert_eq!(list["drawings"][0]["points"][0]["price"], 9.0);
    assert_eq!(list["used"], 3);
    assert_eq!(
        listed(&bob, "BTCUSDT").await["drawings"][0]["points"][0]["price"],
        7.0
    );

    // An import is at most 500 drawings.
    let many: Vec<Value> = (0..501).map(|_| trend(&new_id(), "BTCUSDT", 1.0, 2.0)).collect();
    let (status, body) = api(
        &ann,
        Method::POST,
        "/api/v1/drawings/import",
        Some(json!({ "drawings": many })),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("drawings"))
    );
}

#[tokio::test]
async fn the_plan_limits_drawings_and_an_import_keeps_what_fits_on_postgres() {
    the_plan_limits_drawings_and_an_import_keeps_what_fits(Db::Postgres, CacheKind::Redis).await;
}

#[tokio::test]
async fn the_plan_limits_drawings_and_an_import_keeps_what_fits_on_sqlite() {
    the_plan_limits_drawings_and_an_import_keeps_what_fits(Db::Sqlite, CacheKind::Memory).await;
}

#[tokio::test]
async fn concurrent_drawings_do_not_pass_the_plans_limit() {
    let app = spawn_app_with(
        Db::Postgres,
        CacheKind::Redis,
        &[(
            "INCHART_FREE_LIMITS",
            "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,drawings=3",
        )],
    )
    .await;
    let ann = signed_up(&app, "ann@example.com").await;
    let drawings: Vec<Value> = (0..12).map(|_| trend(&new_id(), "BTCUSDT", 1.0, 2.0)).collect();
    let answers = futures::future::join_all(drawings.iter().map(|d| put(&ann, d))).await;
    let created = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(created, 3, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::PAYMENT_REQUIRED),
        "{answers:?}"
    );
    assert_eq!(listed(&ann, "BTCUSDT").await["used"], 3);
}

/// The next drawing change a connection hears, within `wait`.
async fn next_change(ws: &mut Ws, wait: Duration) -> Option<DrawingChange> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(frame))) => frame,
            _ => return None,
        };
        if let Message::Text(text) = frame
            && let Ok(ServerMessage::Drawing { change }) = serde_json::from_str(&text)
        {
            return Some(change);
        }
    }
}

/// The first status frame: the connection is registered with its hub.
async fn opened(ws: &mut Ws) {
    let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a first frame")
        .unwrap()
        .unwrap();
    assert!(frame.to_text().unwrap().contains("\"status\""), "{frame:?}");
}

#[tokio::test]
async fn every_connection_of_the_drawer_hears_a_change_on_every_instance_and_nobody_else_does() {
    // Two instances of one deployment: one database, Redis prefix, session
    // key and public address.
    let prefix = format!("inchart-test-{}", uuid::Uuid::new_v4().simple());
    let deployment = [
        ("INCHART_CACHE_PREFIX", prefix.as_str()),
        (
            "INCHART_JWT_SECRET",
            "one key that both instances sign sessions with",
        ),
    ];
    let first = spawn_app_with(Db::Postgres, CacheKind::Redis, &deployment).await;
    let mut same_site = deployment.to_vec();
    same_site.push(("DATABASE_URL", first.database_url.as_str()));
    same_site.push(("INCHART_PUBLIC_URL", first.address.as_str()));
    let second = start_app_with(Db::Postgres, CacheKind::Redis, &same_site).await;

    let ann = signed_up(&first, "ann@example.com").await;
    let bob = signed_up(&first, "bob@example.com").await;
    let mut ann_here = connect_as(&ann).await;
    let mut ann_there = connect_to(&ann, &second.address).await;
    let mut bob_ws = connect_as(&bob).await;
    for ws in [&mut ann_here, &mut ann_there, &mut bob_ws] {
        opened(ws).await;
    }

    let id = new_id();
    let drawing = trend(&id, "BTCUSDT", 60_000.0, 61_000.0);
    assert_eq!(put(&ann, &drawing).await.0, StatusCode::CREATED);
    for ws in [&mut ann_here, &mut ann_there] {
        let change = next_change(ws, Duration::from_secs(10))
            .await
            .expect("each of Ann's connections hears her drawing");
        let DrawingChange::Put { drawing: heard } = change else {
            panic!("a put: {change:?}")
        };
        assert_eq!(serde_json::to_value(&heard).unwrap(), drawing);
    }
    let path = format!("/api/v1/drawings/{id}");
    assert_eq!(
        api(&ann, Method::DELETE, &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    for ws in [&mut ann_here, &mut ann_there] {
        let change = next_change(ws, Duration::from_secs(10)).await;
        assert_eq!(
            change,
            Some(DrawingChange::Delete {
                symbol: inchart_api::market::Symbol::parse("BTCUSDT").unwrap(),
                id: id.clone(),
            })
        );
    }
    // An import is heard too, drawing by drawing.
    let imported = new_id();
    let (status, _) = api(
        &ann,
        Method::POST,
        "/api/v1/drawings/import",
        Some(json!({ "drawings": [note(&imported, "kept from my visit")] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    match next_change(&mut ann_there, Duration::from_secs(10)).await {
        Some(DrawingChange::Put { drawing }) => assert_eq!(drawing.id, imported),
        other => panic!("the import's drawing: {other:?}"),
    }
    assert_eq!(
        next_change(&mut bob_ws, Duration::from_secs(2)).await,
        None,
        "Bob hears nothing of Ann's drawings"
    );
}

#[tokio::test]
async fn a_chart_lists_every_script_with_its_live_state_choice_and_newest_run() {
    let fake = fake_binance(FakeBinanceConfig::default()).await;
    let app = spawn_live(Db::Postgres, CacheKind::Redis, &fake, &[]).await;
    layers_hold(&app, &fake).await;
}

async fn layers_of(visitor: &Visitor, series: &str) -> Value {
    let (status, body) = api(
        visitor,
        Method::GET,
        &format!("/api/v1/chart/layers?{series}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn layer<'a>(layers: &'a Value, id: &str) -> &'a Value {
    layers["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|layer| layer["script_id"] == id)
        .unwrap_or_else(|| panic!("{id} in {layers}"))
}

async fn layers_hold(app: &TestApp, fake: &inchart_fakes::binance::FakeBinance) {
    let ann = signed_up(app, "ann@example.com").await;
    let bob = signed_up(app, "bob@example.com").await;
    let live = create(&ann, "live cross", app::scripts::TEMPLATE).await;
    let idle = create(&ann, "idle", app::scripts::TEMPLATE).await;
    let (status, body) = api(
        &ann,
        Method::PUT,
        &format!("/api/v1/scripts/{live}/live/BTCUSDT/1m"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let one_minute = "symbol=BTCUSDT&interval=1m";
    let layers = layers_of(&ann, one_minute).await;
    assert_eq!(
        (layers["symbol"].as_str(), layers["interval"].as_str()),
        (Some("BTCUSDT"), Some("1m"))
    );
    assert_eq!(
        layer(&layers, &live),
        &json!({ "script_id": live, "name": "live cross", "live": true, "shown": true })
    );
    assert_eq!(
        layer(&layers, &idle),
        &json!({ "script_id": idle, "name": "idle", "live": false, "shown": false })
    );

    // A closed candle runs the live script: the chart gets its newest run.
    fake.advance(Duration::from_secs(60));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let run = loop {
        let layers = layers_of(&ann, one_minute).await;
        let run = layer(&layers, &live)["run"].clone();
        if !run.is_null() {
            break run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no live run reached the chart: {layers}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (run["trigger"].as_str(), run["interval"].as_str()),
        (Some("live"), Some("1m"))
    );
    assert_eq!(layer(&layers_of(&ann, one_minute).await, &live)["shown"], true);

    // Hidden, and shown again: the choice is kept per series.
    let choose = |shown: bool| json!({ "symbol": "BTCUSDT", "interval": "1m", "shown": shown });
    let path = format!("/api/v1/chart/layers/{live}");
    assert_eq!(
        api(&ann, Method::PUT, &path, Some(choose(false))).await.0,
        StatusCode::NO_CONTENT
    );
    let hidden = layer(&layers_of(&ann, one_minute).await, &live).clone();
    assert_eq!(
        (hidden["live"].as_bool(), hidden["shown"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(hidden["run"]["id"], run["id"], "a hidden layer keeps its run");
    assert_eq!(
        layer(&layers_of(&ann, "symbol=BTCUSDT&interval=1h").await, &live)["shown"],
        false
    );
    assert_eq!(
        api(&ann, Method::PUT, &path, Some(choose(true))).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(layer(&layers_of(&ann, one_minute).await, &live)["shown"], true);

    // A manual run on a series shows the script there, with that run.
    let (status, manual) = api(
        &ann,
        Method::POST,
        &format!("/api/v1/scripts/{idle}/runs"),
        Some(json!({ "symbol": "ETHUSDT", "interval": "1h" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{manual}");
    let eth = layers_of(&ann, "symbol=ETHUSDT&interval=1h").await;
    let shown = layer(&eth, &idle);
    assert_eq!(
        (shown["live"].as_bool(), shown["shown"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(shown["run"]["id"], manual["id"]);
    assert!(layer(&eth, &live)["run"].is_null(), "runs are per series");
    assert_eq!(layer(&layers_of(&ann, one_minute).await, &idle)["shown"], false);

    // Bob sees none of Ann's scripts, and cannot choose them.
    assert_eq!(layers_of(&bob, one_minute).await["layers"], json!([]));
    assert_eq!(
        api(&bob, Method::PUT, &path, Some(choose(false))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(layer(&layers_of(&ann, one_minute).await, &live)["shown"], true);

    // Bad series are refused, naming the part.
    for (query, field) in [
        ("symbol=BTCUSDT", "interval"),
        ("symbol=SOLUSDT&interval=1m", "symbol"),
        ("symbol=BTCUSDT&interval=7m", "interval"),
    ] {
        let (status, body) = api(&ann, Method::GET, &format!("/api/v1/chart/layers?{query}"), None).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{query}: {body}"
        );
    }
}

async fn layouts_are_saved_whole(db: Db, cache: CacheKind) {
    let app = spawn_app_with(db, cache, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let bob = signed_up(&app, "bob@example.com").await;
    // None saved: the page shows what its address names.
    let (status, body) = api(&ann, Method::GET, "/api/v1/chart/layout", None).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));

    let two = json!({
        "charts": [
            { "symbol": "BTCUSDT", "interval": "1h" },
            { "symbol": "ETHUSDT", "interval": "15m" },
        ],
        "sync_crosshair": true,
        "sync_time": false,
    });
    let (status, body) = api(&ann, Method::PUT, "/api/v1/chart/layout", Some(two.clone())).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(api(&ann, Method::GET, "/api/v1/chart/layout", None).await.1, two);
    assert_eq!(
        api(&bob, Method::GET, "/api/v1/chart/layout", None).await.1,
        Value::Null
    );

    let chart = json!({ "symbol": "BTCUSDT", "interval": "1h" });
    for (layout, field) in [
        (json!({ "charts": [chart, chart, chart] }), "charts"),
        (json!({ "charts": [] }), "charts"),
        (
            json!({ "charts": [{ "symbol": "SOLUSDT", "interval": "1h" }] }),
            "charts",
        ),
        (
            json!({ "charts": [{ "symbol": "BTCUSDT", "interval": "7h" }] }),
            "body",
        ),
    ] {
        let (status, body) = api(&ann, Method::PUT, "/api/v1/chart/layout", Some(layout.clone())).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{layout}: {body}"
        );
    }
    // A refused layout changes nothing; a new one replaces the old.
    assert_eq!(api(&ann, Method::GET, "/api/v1/chart/layout", None).await.1, two);
    let one = json!({ "charts": [chart], "sync_crosshair": false, "sync_time": true });
    assert_eq!(
        api(&ann, Method::PUT, "/api/v1/chart/layout", Some(one.clone()))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api(&ann, Method::GET, "/api/v1/chart/layout", None).await.1, one);
    let stranger = Visitor::new(&app).await;
    assert_eq!(
        api(&stranger, Method::GET, "/api/v1/chart/layout", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn layouts_are_saved_whole_on_postgres() {
    layouts_are_saved_whole(Db::Postgres, CacheKind::Redis).await;
}

#[tokio::test]
async fn layouts_are_saved_whole_on_sqlite() {
    layouts_are_saved_whole(Db::Sqlite, CacheKind::Memory).await;
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn deleting_an_account_deletes_its_charts(db: Db, cache: CacheKind) {
    let app = spawn_app_with(db, cache, &[]).await;
    let ann = signed_up(&app, "ann@example.com").await;
    let bob = signed_up(&app, "bob@example.com").await;
    for visitor in [&ann, &bob] {
        assert_eq!(
            put(visitor, &trend(&new_id(), "BTCUSDT", 1.0, 2.0)).await.0,
            StatusCode::CREATED
        );
        let layout = json!({ "charts": [{ "symbol": "BTCUSDT", "interval": "1h" }] });
        assert_eq!(
            api(visitor, Method::PUT, "/api/v1/chart/layout", Some(layout))
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        let script = create(visitor, "shown", app::scripts::TEMPLATE).await;
        let choice = json!({ "symbol": "BTCUSDT", "interval": "1h", "shown": true });
        assert_eq!(
            api(
                visitor,
                Method::PUT,
                &format!("/api/v1/chart/layers/{script}"),
                Some(choice)
            )
            .await
            .0,
            StatusCode::NO_CONTENT
        );
    }
    let db = Database::connect(&app.database_url).await.unwrap();
    for table in ["drawings", "chart_layouts", "chart_layers"] {
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) AS n FROM {table}")).await,
            2,
            "{table}"
        );
    }

    let deleted = ann.form("/account/delete", &[("current", PASSWORD)]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let bobs = "(SELECT id FROM users WHERE email = 'bob@example.com')";
    for table in ["drawings", "chart_layouts", "chart_layers"] {
        assert_eq!(
            count(
                &db,
                &format!("SELECT COUNT(*) AS n FROM {table} WHERE user_id NOT IN {bobs}")
            )
            .await,
            0,
            "{table}"
        );
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) AS n FROM {table}")).await,
            1,
            "Bob's {table} stays"
        );
    }
    assert_eq!(ids(&listed(&bob, "BTCUSDT").await).len(), 1);
}

#[tokio::test]
async fn deleting_an_account_deletes_its_charts_on_postgres() {
    deleting_an_account_deletes_its_charts(Db::Postgres, CacheKind::Redis).await;
}

#[tokio::test]
async fn deleting_an_account_deletes_its_charts_on_sqlite() {
    deleting_an_account_deletes_its_charts(Db::Sqlite, CacheKind::Memory).await;
}
