//! The fake Marketaux as a client sees it: reqwest against
//! `/v1/news/all`, checking Marketaux's JSON field for field, its filters
//! and pagination, its error objects, and the plan's limits and faults a
//! test can steer.

// A test's helpers fail the test by panicking, like its assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use inchart_fakes::marketaux::{
    Article, DEFAULT_BASES, Entity, ErrorCode, FakeMarketaux, FakeMarketauxConfig, NEWS_PATH,
};
use serde_json::Value;

const TOKEN: &str = "fake-marketaux-token";
/// 2026-11-24T16:05:00Z.
const NOW: i64 = 1_795_536_300;
const DAY: i64 = 86_400;

fn config() -> FakeMarketauxConfig {
    FakeMarketauxConfig {
        now: Some(NOW),
        ..FakeMarketauxConfig::default()
    }
}

async fn start() -> FakeMarketaux {
    FakeMarketaux::start(config()).await.unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// GET `path` with exactly `query`; the status and the JSON body.
async fn get(fake: &FakeMarketaux, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .get(format!("{}{path}", fake.base_url()))
        .query(query)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{status}: {content_type}"
    );
    (status, response.json().await.unwrap())
}

/// `/v1/news/all` with the right token and `query`.
async fn news(fake: &FakeMarketaux, query: &[(&str, &str)]) -> (u16, Value) {
    let mut with_token = vec![("api_token", TOKEN)];
    with_token.extend_from_slice(query);
    get(fake, NEWS_PATH, &with_token).await
}

/// `/v1/news/all` answered 200: its body.
async fn ok_news(fake: &FakeMarketaux, query: &[(&str, &str)]) -> Value {
    let (status, body) = news(fake, query).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn articles_of(body: &Value) -> Vec<Article> {
    serde_json::from_value(body["data"].clone()).unwrap()
}

fn found(body: &Value) -> u64 {
    body["meta"]["found"].as_u64().unwrap()
}

fn names(article: &Article) -> Vec<&str> {
    article.entities.iter().map(|e| e.symbol.as_str()).collect()
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Asserts Marketaux's error answer: the code's status and exactly
/// `{"error": {"code": ..., "message": "<a sentence>"}}`.
fn assert_error(status: u16, body: &Value, code: ErrorCode) {
    assert_eq!(status, code.status(), "{body}");
    assert_eq!(keys(body), BTreeSet::from(["error"]), "{body}");
    assert_eq!(
        keys(&body["error"]),
        BTreeSet::from(["code", "message"]),
        "{body}"
    );
    assert_eq!(body["error"]["code"], code.as_str(), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.len() > 10 && message.ends_with('.'), "{message:?}");
}

/// A one-entity-or-more English article at `published_at`.
fn article(id: u32, published_at: i64, language: &str, entities: &[(&str, f64)]) -> Article {
    Article {
        uuid: format!("00000000-0000-4000-8000-{id:012}"),
        title: format!("Test article {id}"),
        description: "A test article.".to_owned(),
        keywords: "test".to_owned(),
        snippet: "A test article, in full.".to_owned(),
        url: format!("https://example.com/{id}"),
        image_url: format!("https://example.com/{id}.jpg"),
        language: language.to_owned(),
        published_at,
        source: "example.com".to_owned(),
        relevance_score: None,
        entities: entities
            .iter()
            .map(|(base, sentiment)| Entity::crypto(base, *sentiment))
            .collect(),
        similar: Vec::new(),
    }
}

#[tokio::test]
async fn an_answer_has_every_field_marketaux_sends() {
    let fake = start().await;
    assert!(
        fake.base_url().starts_with("http://127.0.0.1:"),
        "{}",
        fake.base_url()
    );
    assert_eq!(fake.news_url(), format!("{}/v1/news/all", fake.base_url()));
    let body = ok_news(&fake, &[("symbols", "CC:BTC")]).await;

    assert_eq!(keys(&body), BTreeSet::from(["data", "meta"]));
    let meta = &body["meta"];
    assert_eq!(keys(meta), BTreeSet::from(["found", "limit", "page", "returned"]));
    assert!(meta["found"].as_u64().unwrap() >= 20, "{meta}");
    assert_eq!(meta["returned"], 3);
    assert_eq!(meta["limit"], 3);
    assert_eq!(meta["page"], 1);

    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for article in data {
        assert_eq!(
            keys(article),
            BTreeSet::from([
                "description",
                "entities",
                "image_url",
                "keywords",
                "language",
                "published_at",
                "relevance_score",
                "similar",
                "snippet",
                "source",
                "title",
                "url",
                "uuid",
            ]),
        );
        let uuid = article["uuid"].as_str().unwrap();
        assert_eq!(uuid.len(), 36, "{uuid}");
        assert_eq!(uuid.matches('-').count(), 4, "{uuid}");
        for text in [
            "title",
            "description",
            "keywords",
            "snippet",
            "source",
            "language",
        ] {
            assert!(!article[text].as_str().unwrap().is_empty(), "{text}: {article}");
        }
        assert!(article["url"].as_str().unwrap().starts_with("https://"));
        assert!(article["image_url"].as_str().unwrap().starts_with("https://"));
        // 2026-11-24T16:05:00.000000Z
        let published_at = article["published_at"].as_str().unwrap();
        assert_eq!(published_at.len(), 27, "{published_at}");
        assert!(published_at.ends_with(".000000Z"), "{published_at}");
        assert_eq!(&published_at[10..11], "T", "{published_at}");
        assert!(article["relevance_score"].is_null());
        assert_eq!(article["similar"], Value::Array(Vec::new()));

        let entities = article["entities"].as_array().unwrap();
        assert!(!entities.is_empty());
        assert!(
            entities.iter().any(|entity| entity["symbol"] == "CC:BTC"),
            "{article}"
        );
        for entity in entities {
            assert_eq!(
                keys(entity),
                BTreeSet::from([
                    "country",
                    "exchange",
                    "exchange_long",
                    "highlights",
                    "industry",
                    "match_score",
                    "name",
                    "sentiment_score",
                    "symbol",
                    "type",
                ]),
            );
            assert!(entity["symbol"].as_str().unwrap().starts_with("CC:"));
            assert!(!entity["name"].as_str().unwrap().is_empty());
            assert!(entity["exchange"].is_null());
            assert!(entity["exchange_long"].is_null());
            assert_eq!(entity["country"], "global");
            assert_eq!(entity["type"], "cryptocurrency");
            assert_eq!(entity["industry"], "N/A");
            assert!(entity["match_score"].as_f64().unwrap() > 0.0);
            let sentiment = entity["sentiment_score"].as_f64().unwrap();
            assert!((-1.0..=1.0).contains(&sentiment), "{sentiment}");
            let highlights = entity["highlights"].as_array().unwrap();
            assert!(!highlights.is_empty());
            for highlight in highlights {
                assert_eq!(
                    keys(highlight),
                    BTreeSet::from(["highlight", "highlighted_in", "sentiment"])
                );
                assert!(highlight["highlight"].as_str().unwrap().contains("<em>"));
                assert!((-1.0..=1.0).contains(&highlight["sentiment"].as_f64().unwrap()));
                let place = highlight["highlighted_in"].as_str().unwrap();
                assert!(place == "main_text" || place == "title", "{place}");
            }
        }
    }

    // Field for field what the fake holds: its newest three about Bitcoin.
    let expected: Vec<Article> = fake
        .articles()
        .into_iter()
        .filter(|article| names(article).contains(&"CC:BTC"))
        .take(3)
        .collect();
    assert_eq!(articles_of(&body), expected);
    assert_eq!(
        data[0]["published_at"],
        serde_json::to_value(&expected[0]).unwrap()["published_at"]
    );
}

#[tokio::test]
async fn the_seeded_corpus_covers_each_base_and_mood() {
    let fake = start().await;
    let articles = fake.articles();
    for base in DEFAULT_BASES {
        let symbol = format!("CC:{base}");
        let about = articles
            .iter()
            .filter(|article| names(article).contains(&symbol.as_str()))
            .count();
        assert!(about >= 20, "{about} articles about {symbol}");
    }
    assert!(
        articles
            .iter()
            .all(|a| a.published_at < NOW && a.published_at > NOW - 7 * DAY)
    );
    let days: HashSet<i64> = articles.iter().map(|a| a.published_at.div_euclid(DAY)).collect();
    assert!(days.len() >= 5, "spread over {} days", days.len());
    assert!(
        articles
            .windows(2)
            .all(|pair| pair[0].published_at >= pair[1].published_at)
    );

    let scores: Vec<f64> = articles
        .iter()
        .flat_map(|a| a.entities.iter().map(|e| e.sentiment_score))
        .collect();
    assert!(scores.iter().all(|s| (-1.0..=1.0).contains(s)));
    assert!(scores.iter().any(|s| *s > 0.2));
    assert!(scores.contains(&0.0), "no neutral entity");
    assert!(scores.iter().any(|s| *s < -0.2));
    assert!(articles.iter().any(|a| a.entities.len() == 2));

    let sources: HashSet<&str> = articles.iter().map(|a| a.source.as_str()).collect();
    for source in ["coindesk.com", "cointelegraph.com", "reuters.com"] {
        assert!(sources.contains(source), "{sources:?}");
    }
    let uuids: HashSet<&str> = articles.iter().map(|a| a.uuid.as_str()).collect();
    assert_eq!(uuids.len(), articles.len());

    // The same "now" seeds the same corpus.
    let twin = start().await;
    assert_eq!(twin.articles(), articles);
}

#[tokio::test]
async fn symbols_select_the_articles_naming_them() {
    let fake = start().await;
    let all = fake.articles();
    let naming = |wanted: &[&str]| {
        all.iter()
            .filter(|a| names(a).iter().any(|symbol| wanted.contains(symbol)))
            .count() as u64
    };

    let body = ok_news(&fake, &[("symbols", "CC:ETH")]).await;
    assert_eq!(found(&body), naming(&["CC:ETH"]));
    for article in articles_of(&body) {
        assert!(names(&article).contains(&"CC:ETH"), "{:?}", names(&article));
    }

    let both = ok_news(&fake, &[("symbols", "CC:BTC,CC:ETH")]).await;
    assert_eq!(found(&both), naming(&["CC:BTC", "CC:ETH"]));
    assert!(found(&both) > found(&body));

    let lower_case = ok_news(&fake, &[("symbols", "cc:eth")]).await;
    assert_eq!(found(&lower_case), found(&body));

    let none = ok_news(&fake, &[("symbols", "CC:NOPE")]).await;
    assert_eq!(found(&none), 0);
    assert_eq!(none["data"], Value::Array(Vec::new()));

    let everything = ok_news(&fake, &[]).await;
    assert_eq!(found(&everything), all.len() as u64);
}

#[tokio::test]
async fn filter_entities_keeps_only_the_requested_entities() {
    let fake = start().await;
    fake.set_articles(vec![
        article(1, NOW - 60, "en", &[("BTC", 0.6), ("ETH", -0.4)]),
        article(2, NOW - 120, "en", &[("SOL", 0.0)]),
    ]);

    let filtered = ok_news(&fake, &[("symbols", "CC:BTC"), ("filter_entities", "true")]).await;
    let filtered = articles_of(&filtered);
    assert_eq!(filtered.len(), 1);
    assert_eq!(names(&filtered[0]), ["CC:BTC"]);
    assert_eq!(filtered[0].entities[0].sentiment_score, 0.6);

    let unfiltered = ok_news(&fake, &[("symbols", "CC:BTC"), ("filter_entities", "false")]).await;
    assert_eq!(names(&articles_of(&unfiltered)[0]), ["CC:BTC", "CC:ETH"]);
    let by_default = ok_news(&fake, &[("symbols", "CC:BTC")]).await;
    assert_eq!(names(&articles_of(&by_default)[0]), ["CC:BTC", "CC:ETH"]);

    let two = ok_news(
        &fake,
        &[("symbols", "CC:ETH,CC:SOL"), ("filter_entities", "true")],
    )
    .await;
    let two = articles_of(&two);
    assert_eq!(two.len(), 2);
    assert_eq!(names(&two[0]), ["CC:ETH"]);
    assert_eq!(names(&two[1]), ["CC:SOL"]);

    // On the seeded corpus too.
    let seeded = start().await;
    let body = ok_news(&seeded, &[("symbols", "CC:AVAX"), ("filter_entities", "true")]).await;
    for article in articles_of(&body) {
        assert_eq!(names(&article), ["CC:AVAX"]);
    }
}

#[tokio::test]
async fn limit_is_capped_at_the_plan_maximum() {
    let fake = start().await;
    for (asked, answered) in [
        (Some("50"), 3),
        (None, 3),
        (Some("3"), 3),
        (Some("2"), 2),
        (Some("1"), 1),
    ] {
        let mut query = vec![("symbols", "CC:BTC")];
        query.extend(asked.map(|limit| ("limit", limit)));
        let body = ok_news(&fake, &query).await;
        assert_eq!(body["meta"]["limit"], answered, "limit {asked:?}");
        assert_eq!(body["meta"]["returned"], answered, "limit {asked:?}");
        assert_eq!(body["data"].as_array().unwrap().len(), answered as usize);
    }

    let paid = FakeMarketaux::start(FakeMarketauxConfig {
        max_limit: 10,
        ..config()
    })
    .await
    .unwrap();
    let body = ok_news(&paid, &[("limit", "50")]).await;
    assert_eq!(body["meta"]["limit"], 10);
    assert_eq!(body["data"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn pages_are_disjoint_newest_first_and_end_empty() {
    let fake = start().await;
    let first = ok_news(&fake, &[("symbols", "CC:SOL")]).await;
    let total = found(&first);
    let pages = total.div_ceil(3);
    assert!(pages >= 5, "{total} articles");

    let mut seen: Vec<Article> = Vec::new();
    for page in 1..=pages {
        let number = page.to_string();
        let body = ok_news(&fake, &[("symbols", "CC:SOL"), ("page", &number)]).await;
        assert_eq!(found(&body), total, "page {page}");
        assert_eq!(body["meta"]["page"], page);
        let articles = articles_of(&body);
        assert_eq!(body["meta"]["returned"], articles.len());
        assert_eq!(articles.len() as u64, (total - (page - 1) * 3).min(3));
        seen.extend(articles);
    }
    let uuids: HashSet<&str> = seen.iter().map(|a| a.uuid.as_str()).collect();
    assert_eq!(uuids.len() as u64, total, "pages overlap");
    assert!(
        seen.windows(2)
            .all(|pair| pair[0].published_at >= pair[1].published_at)
    );
    let expected: Vec<Article> = fake
        .articles()
        .into_iter()
        .filter(|a| names(a).contains(&"CC:SOL"))
        .collect();
    assert_eq!(seen, expected);

    let past = (pages + 1).to_string();
    let beyond = ok_news(&fake, &[("symbols", "CC:SOL"), ("page", &past)]).await;
    assert_eq!(found(&beyond), total);
    assert_eq!(beyond["meta"]["returned"], 0);
    assert_eq!(beyond["data"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn published_after_keeps_the_newer_articles() {
    let fake = start().await;
    let all = fake.articles();
    let midnight = NOW - 2 * DAY - (16 * 3600 + 5 * 60);
    for (raw, cutoff) in [
        ("2026-11-22", midnight),
        ("2026-11-22T16:05", NOW - 2 * DAY),
        ("2026-11-22T16:05:30", NOW - 2 * DAY + 30),
    ] {
        let body = ok_news(&fake, &[("published_after", raw)]).await;
        let expected = all.iter().filter(|a| a.published_at >= cutoff).count() as u64;
        assert!(expected > 0 && expected < all.len() as u64, "{raw}");
        assert_eq!(found(&body), expected, "{raw}");
        for article in articles_of(&body) {
            assert!(article.published_at >= cutoff, "{raw}");
        }
    }

    // An article published at the very second asked for is included.
    fake.set_articles(vec![
        article(1, NOW - 61, "en", &[("BTC", 0.1)]),
        article(2, NOW - 60, "en", &[("BTC", 0.2)]),
        article(3, NOW - 59, "en", &[("BTC", 0.3)]),
    ]);
    let body = ok_news(&fake, &[("published_after", "2026-11-24T16:04:00")]).await;
    let uuids: Vec<String> = articles_of(&body).into_iter().map(|a| a.uuid).collect();
    assert_eq!(
        uuids,
        [
            "00000000-0000-4000-8000-000000000003",
            "00000000-0000-4000-8000-000000000002"
        ]
    );
}

#[tokio::test]
async fn language_selects_the_articles_in_it() {
    let fake = start().await;
    let all = fake.articles();
    let in_languages = |wanted: &[&str]| {
        all.iter()
            .filter(|a| wanted.contains(&a.language.as_str()))
            .count() as u64
    };
    let mut total = 0;
    for language in ["en", "de", "es"] {
        let body = ok_news(&fake, &[("language", language)]).await;
        assert!(found(&body) > 0, "{language}");
        assert_eq!(found(&body), in_languages(&[language]));
        for article in articles_of(&body) {
            assert_eq!(article.language, language);
        }
        total += found(&body);
    }
    assert_eq!(total, all.len() as u64);
    let two = ok_news(&fake, &[("language", "de,es")]).await;
    assert_eq!(found(&two), in_languages(&["de", "es"]));
    let none = ok_news(&fake, &[("language", "fr")]).await;
    assert_eq!(found(&none), 0);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused() {
    let fake = start().await;
    let (status, body) = get(&fake, NEWS_PATH, &[("symbols", "CC:BTC")]).await;
    assert_error(status, &body, ErrorCode::InvalidApiToken);
    let (status, body) = get(&fake, NEWS_PATH, &[("api_token", "")]).await;
    assert_error(status, &body, ErrorCode::InvalidApiToken);
    let (status, body) = get(&fake, NEWS_PATH, &[("api_token", "not-the-token")]).await;
    assert_error(status, &body, ErrorCode::InvalidApiToken);
    // Refused requests do not spend the allowance.
    assert_eq!(fake.used_today(), 0);
}

#[tokio::test]
async fn unreadable_parameters_are_malformed() {
    let fake = start().await;
    for (name, value) in [
        ("limit", "abc"),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "2.5"),
        ("page", "0"),
        ("page", "two"),
        ("published_after", "yesterday"),
        ("published_after", "2026-02-30"),
        ("published_after", "2026-11-24 16:05"),
        ("published_after", "1795536300"),
        ("filter_entities", "maybe"),
    ] {
        let (status, body) = news(&fake, &[(name, value)]).await;
        assert_error(status, &body, ErrorCode::MalformedParameters);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(name), "{name}={value}: {message}");
    }
    // Known Marketaux parameters the fake does not implement are accepted.
    ok_news(
        &fake,
        &[
            ("must_have_entities", "true"),
            ("group_similar", "false"),
            ("sort", "published_desc"),
        ],
    )
    .await;
}

#[tokio::test]
async fn any_other_path_is_an_invalid_endpoint() {
    let fake = start().await;
    for path in [
        "/",
        "/v1/news",
        "/v1/news/allx",
        "/v1/news/all/",
        "/v2/news/all",
        "/v1/entity/stats",
    ] {
        let (status, body) = get(&fake, path, &[("api_token", TOKEN)]).await;
        assert_error(status, &body, ErrorCode::InvalidApiEndpoint);
    }
    let response = http()
        .post(fake.news_url())
        .query(&[("api_token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.unwrap();
    assert_error(404, &body, ErrorCode::InvalidApiEndpoint);
}

#[tokio::test]
async fn fail_next_answers_each_error_kind_then_recovers() {
    let fake = start().await;
    for code in ErrorCode::ALL {
        fake.fail_next(1, code);
        let (status, body) = news(&fake, &[("symbols", "CC:BTC")]).await;
        assert_error(status, &body, code);
        ok_news(&fake, &[("symbols", "CC:BTC")]).await;
    }

    fake.fail_next(2, ErrorCode::ServerError);
    fake.fail_next(1, ErrorCode::MaintenanceMode);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(news(&fake, &[]).await.0);
    }
    assert_eq!(statuses, [500, 500, 503, 200]);

    // A fault comes first, whatever the request.
    fake.fail_next(1, ErrorCode::EndpointAccessRestricted);
    let (status, body) = get(&fake, "/nope", &[]).await;
    assert_error(status, &body, ErrorCode::EndpointAccessRestricted);

    // Faults spend nothing: only the 8 + 1 good requests counted.
    assert_eq!(fake.used_today(), 9);
}

#[tokio::test]
async fn the_per_minute_limit_answers_429() {
    let fake = FakeMarketaux::start(FakeMarketauxConfig {
        per_minute: 3,
        ..config()
    })
    .await
    .unwrap();
    for _ in 0..3 {
        ok_news(&fake, &[]).await;
    }
    for _ in 0..2 {
        let (status, body) = news(&fake, &[]).await;
        assert_error(status, &body, ErrorCode::RateLimitReached);
    }
    // The token is checked before the rate.
    let (status, body) = get(&fake, NEWS_PATH, &[("api_token", "wrong")]).await;
    assert_error(status, &body, ErrorCode::InvalidApiToken);
    assert_eq!(fake.used_today(), 3);

    // Once the window has slid past, requests are served again.
    let short = FakeMarketaux::start(FakeMarketauxConfig {
        per_minute: 2,
        rate_window: Duration::from_millis(300),
        ..config()
    })
    .await
    .unwrap();
    ok_news(&short, &[]).await;
    ok_news(&short, &[]).await;
    assert_eq!(news(&short, &[]).await.0, 429);
    tokio::time::sleep(Duration::from_millis(400)).await;
    ok_news(&short, &[]).await;
}

#[tokio::test]
async fn the_daily_allowance_answers_402_until_a_new_day() {
    let fake = FakeMarketaux::start(FakeMarketauxConfig {
        daily_allowance: 3,
        ..config()
    })
    .await
    .unwrap();
    ok_news(&fake, &[]).await;
    // An authorised request counts even when its parameters are refused.
    assert_eq!(news(&fake, &[("limit", "x")]).await.0, 400);
    ok_news(&fake, &[]).await;
    assert_eq!(fake.used_today(), 3);
    for _ in 0..2 {
        let (status, body) = news(&fake, &[]).await;
        assert_error(status, &body, ErrorCode::UsageLimitReached);
    }
    assert_eq!(fake.used_today(), 3);

    fake.reset_day();
    assert_eq!(fake.used_today(), 0);
    ok_news(&fake, &[]).await;
}

#[tokio::test]
async fn a_delay_holds_every_answer() {
    let fake = start().await;
    let delay = Duration::from_millis(300);
    fake.set_delay(delay);
    let started = Instant::now();
    let (one, two) = tokio::join!(news(&fake, &[]), news(&fake, &[("symbols", "CC:ETH")]));
    assert_eq!((one.0, two.0), (200, 200));
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(fake.request_count(), 2);

    fake.set_delay(Duration::ZERO);
    ok_news(&fake, &[]).await;
    assert_eq!(fake.request_count(), 3);
}

#[tokio::test]
async fn every_request_is_recorded_with_its_answer() {
    let fake = start().await;
    ok_news(
        &fake,
        &[("symbols", "CC:BTC,CC:ETH"), ("language", "en"), ("limit", "3")],
    )
    .await;
    news(&fake, &[("page", "0")]).await;
    get(&fake, "/v1/other", &[]).await;

    let requests = fake.requests();
    assert_eq!(fake.request_count(), 3);
    let first = &requests[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, NEWS_PATH);
    assert_eq!(first.param("api_token"), Some(TOKEN));
    assert_eq!(first.param("symbols"), Some("CC:BTC,CC:ETH"));
    assert_eq!(first.param("language"), Some("en"));
    assert_eq!(first.param("published_after"), None);
    assert_eq!(first.params.len(), 4);
    let statuses: Vec<u16> = requests.iter().map(|request| request.status).collect();
    assert_eq!(statuses, [200, 400, 404]);
    assert_eq!(requests[2].path, "/v1/other");
}

#[tokio::test]
async fn a_pushed_article_is_served_in_its_place() {
    let fake = start().await;
    let newest = article(7, NOW, "en", &[("LINK", -0.75)]);
    fake.push_article(newest.clone());
    let body = ok_news(&fake, &[("symbols", "CC:LINK")]).await;
    assert_eq!(articles_of(&body)[0], newest);
    assert_eq!(body["data"][0]["published_at"], "2026-11-24T16:05:00.000000Z");
    assert_eq!(fake.articles()[0], newest);
}

#[tokio::test]
async fn it_listens_on_localhost_only() {
    let refused = FakeMarketaux::start_on(config(), "0.0.0.0:0".parse().unwrap()).await;
    assert!(refused.is_err());
    let fake = start().await;
    let url = fake.base_url();
    fake.shutdown().await;
    assert!(http().get(format!("{url}{NEWS_PATH}")).send().await.is_err());
}
