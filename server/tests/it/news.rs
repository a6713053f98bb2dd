//! Quick Look news against the local fake Marketaux, which answers with
//! Marketaux's JSON, its error bodies and its limits: the pages show the
//! articles with their sentiment, readers share requests, the day's budget
//! is kept, and when Marketaux fails the last good news is shown with its
//! age.

use std::time::Duration;

use inchart_fakes::marketaux::{Article, Entity, ErrorCode, FakeMarketaux, FakeMarketauxConfig};

use crate::helpers::{CacheKind, Db, TestApp, redis_url, spawn_app, spawn_app_with};

const HOUR: i64 = 3600;

fn article(id: u32, title: &str, published_at: i64, entities: Vec<Entity>) -> Article {
    Article {
        uuid: format!("00000000-0000-4000-8000-{id:012}"),
        title: title.to_string(),
        description: format!("{title}, in a sentence."),
        keywords: String::new(),
        snippet: format!("{title}. More follows."),
        url: format!("https://news.example/{id}"),
        image_url: format!("https://news.example/{id}.jpg"),
        language: "en".to_string(),
        published_at,
        source: "coindesk.com".to_string(),
        relevance_score: None,
        entities,
        similar: Vec::new(),
    }
}

/// A fake whose corpus is four BTC articles, one of them also about ETH,
/// and one ETH article.
async fn fake() -> FakeMarketaux {
    let fake = FakeMarketaux::start(FakeMarketauxConfig::default())
        .await
        .unwrap();
    let now = fake.now();
    fake.set_articles(vec![
        article(
            1,
            "Bitcoin funds take in a record week",
            now - 2 * HOUR,
            vec![Entity::crypto("BTC", 0.61)],
        ),
        article(
            2,
            "Exchange outage rattles bitcoin and ether traders",
            now - 5 * HOUR,
            vec![Entity::crypto("BTC", -0.42), Entity::crypto("ETH", 0.3)],
        ),
        article(
            3,
            "Ether upgrade date is set",
            now - 7 * HOUR,
            vec![Entity::crypto("ETH", 0.05)],
        ),
        article(
            4,
            "Miners hold their coins",
            now - 30 * HOUR,
            vec![Entity::crypto("BTC", 0.0)],
        ),
        article(
            5,
            "Bitcoin's oldest wallets stir",
            now - 80 * HOUR,
            vec![Entity::crypto("BTC", 0.2)],
        ),
    ]);
    fake
}

async fn news_app(fake: &FakeMarketaux, db: Db, cache: CacheKind, extra: &[(&str, &str)]) -> TestApp {
    let base = fake.base_url();
    let mut env = vec![
        ("INCHART_MARKETAUX_TOKEN", fake.api_token()),
        ("INCHART_MARKETAUX_API_BASE", base.as_str()),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(db, cache, &env).await
}

async fn page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn news_pages_show_marketaux_articles_with_their_sentiment() {
    let fake = fake().await;
    let app = news_app(&fake, Db::Postgres, CacheKind::Redis, &[]).await;

    let html = page(&app, "/news/BTCUSDT").await;
    for shown in [
        "<title>BTCUSDT news and sentiment · InChart</title>",
        "Bitcoin funds take in a record week",
        "Exchange outage rattles bitcoin and ether traders",
        "Miners hold their coins",
        "coindesk.com",
        "2 h ago",
        "5 h ago",
        "1 day ago",
        // BTC's own sentiment in each, not ETH's.
        r#"data-score="0.61""#,
        r#"data-score="-0.42""#,
        "Positive",
        "Negative",
        "Neutral",
        r#"href="https://news.example/1""#,
        "Page 1 of 2",
        r#"href="/news/BTCUSDT?page=2" rel="next external""#,
    ] {
        assert!(html.contains(shown), "{shown} in {html}");
    }
    assert!(!html.contains("Ether upgrade date is set"), "only BTC's news");

    // Exactly the request Marketaux's free plan wants.
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v1/news/all");
    for (key, value) in [
        ("api_token", fake.api_token()),
        ("symbols", "CC:BTC"),
        ("filter_entities", "true"),
        ("language", "en"),
        ("limit", "3"),
        ("page", "1"),
    ] {
        assert_eq!(request.param(key), Some(value), "{key}");
    }

    // The page is cached: the market page's news and a second look ask nothing.
    page(&app, "/news/BTCUSDT").await;
    let market = page(&app, "/markets/BTCUSDT").await;
    assert!(market.contains("Bitcoin funds take in a record week"), "{market}");
    assert_eq!(fake.request_count(), 1);

    // Page 2 is Marketaux's page 2; past the end is a 404.
    let second = page(&app, "/news/BTCUSDT?page=2").await;
    assert!(
        second.contains("Bitcoin&#x27;s oldest wallets stir")
            || second.contains("Bitcoin's oldest wallets stir")
    );
    assert!(
        second.contains(r#"href="/news/BTCUSDT" rel="prev external""#),
        "{second}"
    );
    assert_eq!(fake.requests()[1].param("page"), Some("2"));
    assert_eq!(app.get("/news/BTCUSDT?page=3").await.status(), 404);

    // Every carried coin at once; an article's badge is its coins' mean.
    let all = page(&app, "/news").await;
    assert_eq!(
        fake.requests().last().unwrap().param("symbols"),
        Some("CC:BTC,CC:ETH")
    );
    assert!(all.contains("Ether upgrade date is set"), "{all}");
    assert!(
        all.contains(r#"data-score="-0.06""#),
        "(−0.42 + 0.3) / 2 in {all}"
    );
}

#[tokio::test]
async fn readers_share_one_request_and_the_days_budget_is_kept() {
    let fake = fake().await;
    fake.set_delay(Duration::from_millis(400));
    let app = news_app(
        &fake,
        Db::Sqlite,
        CacheKind::Memory,
        &[("INCHART_NEWS_DAILY_BUDGET", "3")],
    )
    .await;

    let readers: Vec<_> = (0..12)
        .map(|_| {
            let (client, url) = (app.client.clone(), format!("{}/news/ETHUSDT", app.address));
            tokio::spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() })
        })
        .collect();
    for reader in readers {
        assert!(reader.await.unwrap().contains("Ether upgrade date is set"));
    }
    assert_eq!(fake.request_count(), 1, "twelve readers, one request");
    fake.set_delay(Duration::ZERO);

    // Two more first pages spend the budget of three…
    page(&app, "/news/BTCUSDT").await;
    page(&app, "/news").await;
    assert_eq!(fake.request_count(), 3);
    // …so a deeper page is not asked for, and says why.
    let deeper = page(&app, "/news/BTCUSDT?page=2").await;
    assert!(
        deeper.contains("No news to show: today&#x27;s news allowance is spent.")
            || deeper.contains("No news to show: today's news allowance is spent."),
        "{deeper}"
    );
    assert_eq!(fake.request_count(), 3, "nothing past the budget");
    // What was read stays readable.
    assert!(
        page(&app, "/news/ETHUSDT")
            .await
            .contains("Ether upgrade date is set")
    );
    assert_eq!(fake.request_count(), 3);

    // An operator sees it.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for line in [
        r#"inchart_news_requests_total{outcome="ok"} 3"#,
        r#"inchart_news_requests_total{outcome="rate_limited"} 0"#,
        "inchart_news_over_budget_total 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

/// Makes the cached first page of `symbol` look `age` seconds old.
async fn age_cached_page(prefix: &str, symbol: &str, age: i64) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{prefix}:news:v1:{symbol}:1");
    let stored: String = redis::cmd("GET").arg(&key).query_async(&mut redis).await.unwrap();
    let mut stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    stored["fetched_at"] = (stored["fetched_at"].as_i64().unwrap() - age).into();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(stored.to_string())
        .arg("KEEPTTL")
        .query_async(&mut redis)
        .await
        .unwrap();
}

/// Ends any pause Marketaux's last answer started.
async fn end_pause(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}:news:backoff:v1"))
        .query_async(&mut redis)
        .await
        .unwrap();
}

fn says(html: &str, sentence: &str) -> bool {
    html.contains(sentence) || html.contains(&sentence.replace('\'', "&#x27;"))
}

#[tokio::test]
async fn when_marketaux_fails_the_last_good_news_is_shown_with_its_age() {
    let fake = fake().await;
    let prefix = format!("inchart-news-{}", uuid::Uuid::new_v4().simple());
    let app = news_app(
        &fake,
        Db::Sqlite,
        CacheKind::Redis,
        &[("INCHART_CACHE_PREFIX", prefix.as_str())],
    )
    .await;
    let fresh = page(&app, "/news/BTCUSDT").await;
    assert!(!fresh.contains("Showing news from"));
    age_cached_page(&prefix, "BTCUSDT", 2 * HOUR).await;

    // 429: the old articles, their age and why; then a pause.
    fake.fail_next(1, ErrorCode::RateLimitReached);
    let html = page(&app, "/news/BTCUSDT").await;
    assert!(html.contains("Bitcoin funds take in a record week"));
    assert!(
        says(
            &html,
            "Showing news from 2 h ago: the news service asked us to slow down."
        ),
        "{html}"
    );
    assert_eq!(fake.request_count(), 2);
    page(&app, "/news/BTCUSDT").await;
    page(&app, "/news/ETHUSDT").await;
    assert_eq!(fake.request_count(), 2, "nothing is asked while paused");

    // 402: the plan's day is over.
    end_pause(&prefix).await;
    fake.fail_next(1, ErrorCode::UsageLimitReached);
    let html = page(&app, "/news/BTCUSDT").await;
    assert!(
        says(
            &html,
            "Showing news from 2 h ago: today's news allowance is spent."
        ),
        "{html}"
    );
    assert_eq!(fake.request_count(), 3);

    // Any other error: not answering. With nothing cached, nothing to show.
    for (symbol, code) in [
        ("BTCUSDT", ErrorCode::ServerError),
        ("ETHUSDT", ErrorCode::MaintenanceMode),
    ] {
        end_pause(&prefix).await;
        fake.fail_next(1, code);
        let html = page(&app, &format!("/news/{symbol}")).await;
        let expected = if symbol == "BTCUSDT" {
            "Showing news from 2 h ago: the news service is not answering."
        } else {
            "No news to show: the news service is not answering. Try again later."
        };
        assert!(says(&html, expected), "{code:?}: {html}");
    }
    assert_eq!(fake.request_count(), 5);

    // Once Marketaux answers again, the news is fresh.
    end_pause(&prefix).await;
    let html = page(&app, "/news/BTCUSDT").await;
    assert!(!html.contains("Showing news from"), "{html}");
    assert_eq!(fake.request_count(), 6);
}

#[tokio::test]
async fn a_refused_token_shows_no_news_and_says_so() {
    let fake = fake().await;
    let base = fake.base_url();
    let app = spawn_app_with(
        Db::Sqlite,
        CacheKind::Memory,
        &[
            ("INCHART_MARKETAUX_TOKEN", "not-the-token"),
            ("INCHART_MARKETAUX_API_BASE", base.as_str()),
        ],
    )
    .await;
    let html = page(&app, "/news/BTCUSDT").await;
    assert!(
        says(&html, "No news to show: the news service is not answering."),
        "{html}"
    );
    assert_eq!(fake.requests()[0].status, 401);
    page(&app, "/news").await;
    assert_eq!(fake.request_count(), 1, "a refused token pauses news");
}

#[tokio::test]
async fn without_an_api_key_news_says_it_is_not_configured() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    for path in ["/news", "/news/BTCUSDT", "/markets/BTCUSDT"] {
        let html = page(&app, path).await;
        assert!(
            html.contains("News is not configured on this server."),
            "{path}: {html}"
        );
    }
}
