//! What a search engine or a reader with JavaScript off receives: complete
//! HTML from the server.

use crate::helpers::{CacheKind, Db, spawn_app};

#[tokio::test]
async fn the_landing_page_is_complete_html() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    for (header, expected) in [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY")] {
        assert_eq!(response.headers()[header], expected);
    }
    assert!(response.headers().contains_key("content-security-policy"));
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<title>InChart — live crypto charts with Python signals</title>"),
        "{html}"
    );
    assert!(html.contains(r#"<meta name="description" content="Live crypto candlestick charts"#));
    assert!(html.contains("Charts that think with you."));
    assert!(html.contains(r#"href="/chart/BTCUSDT?interval=1h""#));
}

#[tokio::test]
async fn inline_scripts_run_only_with_the_pages_nonce() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let page = app.get("/login").await;
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let script_src = policy
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("script-src"))
        .unwrap()
        .to_string();
    assert!(!script_src.contains("unsafe-inline"), "{policy}");
    let nonce = script_src
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the policy names a nonce");
    let html = page.text().await.unwrap();
    let inline_scripts = html.matches("<script").count() - html.matches("<script src").count();
    assert!(
        inline_scripts >= 2,
        "the theme script and the hydration bootstrap"
    );
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        inline_scripts,
        "{html}"
    );

    let another = app.get("/login").await;
    assert!(
        !another.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(nonce),
        "a nonce per page"
    );
    let api = app.get("/api/v1/symbols").await;
    assert!(
        !api.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("nonce")
    );
}

#[tokio::test]
async fn the_chart_page_is_rendered_before_any_script_runs() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let html = app.get("/chart/BTCUSDT?interval=4h").await.text().await.unwrap();
    assert!(
        html.contains("<title>BTCUSDT 4h chart · InChart</title>"),
        "{html}"
    );
    assert!(html.contains("data-chart"), "the chart container is in the HTML");
    assert!(html.contains("Simulated data"), "the simulated feed is labelled");
    assert!(
        html.contains(r#"href="/chart/ETHUSDT?interval=4h""#),
        "the symbol switcher keeps the interval"
    );
    assert!(
        html.contains(&format!(
            r#"<link href="{}/chart/BTCUSDT" rel="canonical">"#,
            app.address
        )),
        "one canonical address per symbol, absolute"
    );
    assert_eq!(
        html.matches(r#"aria-current="page""#).count(),
        2,
        "one symbol and one interval are current"
    );
}

#[tokio::test]
async fn bad_addresses_get_clear_pages() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;

    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));

    let not_a_symbol = app.get("/chart/BTC-USDT").await.text().await.unwrap();
    assert!(not_a_symbol.contains("is not a symbol"), "{not_a_symbol}");

    let not_carried = app.get("/chart/DOGEBTC").await.text().await.unwrap();
    assert!(not_carried.contains("does not carry DOGEBTC"), "{not_carried}");

    let bad_interval = app.get("/chart/BTCUSDT?interval=2h").await.text().await.unwrap();
    assert!(bad_interval.contains("is not an interval"), "{bad_interval}");
}

#[tokio::test]
async fn site_assets_are_served_compressed_and_revalidated() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let css = app
        .client
        .get(format!("{}/pkg/inchart.css", app.address))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200, "the site is built (scripts/test.sh builds it)");
    assert_eq!(css.headers()["cache-control"], "no-cache");
    assert_eq!(css.headers()["content-encoding"], "gzip");
}
