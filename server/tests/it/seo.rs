//! What a search engine reads: every page the sitemap lists is complete
//! HTML with its own title and description, an absolute canonical address,
//! Open Graph and Twitter card tags and valid structured data; robots.txt
//! points at the sitemap; addresses that name nothing are 404s.

use std::collections::{BTreeSet, HashMap};

use scraper::{Html, Selector};

use crate::helpers::{CacheKind, Db, SYMBOLS, TestApp, spawn_app};

/// What a page's head says about it.
#[derive(Debug)]
struct Head {
    title: String,
    description: String,
    canonical: String,
    og: HashMap<String, String>,
    twitter: HashMap<String, String>,
    structured: Vec<serde_json::Value>,
    h1: usize,
    lang: String,
}

fn select(selector: &str) -> Selector {
    Selector::parse(selector).unwrap()
}

fn read_head(html: &str) -> Head {
    let document = Html::parse_document(html);
    let titles: Vec<String> = document
        .select(&select("head title"))
        .map(|title| title.text().collect::<String>())
        .collect();
    assert_eq!(titles.len(), 1, "one <title> in the head: {titles:?}");
    let metas = |attribute: &str, prefix: &str| -> HashMap<String, String> {
        document
            .select(&select(&format!("head meta[{attribute}]")))
            .filter_map(|meta| {
                let key = meta.value().attr(attribute)?;
                key.starts_with(prefix).then(|| {
                    (
                        key.to_string(),
                        meta.value().attr("content").unwrap_or_default().to_string(),
                    )
                })
            })
            .collect()
    };
    let descriptions: Vec<&str> = document
        .select(&select("head meta[name=description]"))
        .filter_map(|meta| meta.value().attr("content"))
        .collect();
    assert_eq!(descriptions.len(), 1, "one description: {descriptions:?}");
    let canonicals: Vec<&str> = document
        .select(&select("head link[rel=canonical]"))
        .filter_map(|link| link.value().attr("href"))
        .collect();
    assert_eq!(canonicals.len(), 1, "one canonical link: {canonicals:?}");
    let structured = document
        .select(&select("script[type=\"application/ld+json\"]"))
        .map(|script| {
            let text: String = script.text().collect();
            serde_json::from_str(&text).unwrap_or_else(|error| panic!("JSON-LD is JSON ({error}): {text}"))
        })
        .collect();
    Head {
        title: titles[0].clone(),
        description: descriptions[0].to_string(),
        canonical: canonicals[0].to_string(),
        og: metas("property", "og:"),
        twitter: metas("name", "twitter:"),
        structured,
        h1: document.select(&select("h1")).count(),
        lang: document
            .select(&select("html"))
            .next()
            .and_then(|html| html.value().attr("lang"))
            .unwrap_or_default()
            .to_string(),
    }
}

async fn sitemap(app: &TestApp) -> Vec<String> {
    let response = app.get("/sitemap.xml").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let xml = response.text().await.unwrap();
    assert!(
        xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#));
    xml.split("<loc>")
        .skip(1)
        .map(|rest| rest.split("</loc>").next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_public_page_is_listed_and_complete_for_search_engines() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    let base = app.address.clone();

    let robots = app.get("/robots.txt").await;
    assert_eq!(robots.status(), 200);
    let robots = robots.text().await.unwrap();
    assert!(robots.contains("User-agent: *\nAllow: /\n"), "{robots}");
    for private in [
        "Disallow: /api/",
        "Disallow: /account",
        "Disallow: /billing",
        "Disallow: /scripts",
    ] {
        assert!(robots.contains(private), "{robots}");
    }
    assert!(
        robots.contains(&format!("Sitemap: {base}/sitemap.xml")),
        "{robots}"
    );

    let listed = sitemap(&app).await;
    let mut expected: BTreeSet<String> = ["/", "/features", "/pricing", "/markets", "/news"]
        .iter()
        .map(|path| format!("{base}{path}"))
        .collect();
    for symbol in SYMBOLS.split(',') {
        for section in ["markets", "news", "chart"] {
            expected.insert(format!("{base}/{section}/{symbol}"));
        }
    }
    assert_eq!(listed.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(listed.len(), expected.len(), "each page once");

    let (mut titles, mut descriptions) = (BTreeSet::new(), BTreeSet::new());
    for url in &listed {
        let path = url.strip_prefix(&base).unwrap();
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        let head = read_head(&html);
        assert_eq!(head.lang, "en", "{path}");
        assert_eq!(
            &head.canonical, url,
            "{path}: the canonical address is the listed one"
        );
        assert!(
            head.title.ends_with("InChart") || head.title.starts_with("InChart"),
            "{path}: {}",
            head.title
        );
        assert!(
            (50..=200).contains(&head.description.len()),
            "{path}: a description of a sentence or two: {:?}",
            head.description
        );
        assert!(
            titles.insert(head.title.clone()),
            "{path}: the title {:?} is another page's",
            head.title
        );
        assert!(
            descriptions.insert(head.description.clone()),
            "{path}: the description is another page's"
        );
        assert_eq!(head.og["og:title"], head.title, "{path}");
        assert_eq!(head.og["og:description"], head.description, "{path}");
        assert_eq!(&head.og["og:url"], url, "{path}");
        assert_eq!(head.og["og:site_name"], "InChart");
        assert!(
            ["website", "article"].contains(&head.og["og:type"].as_str()),
            "{path}"
        );
        assert_eq!(head.twitter["twitter:card"], "summary", "{path}");
        assert_eq!(head.twitter["twitter:title"], head.title, "{path}");
        assert_eq!(head.h1, 1, "{path}: one main heading");
        for data in &head.structured {
            assert_eq!(data["@context"], "https://schema.org", "{path}: {data}");
        }
        // Where structured data fits, it is there and names real addresses.
        let kinds: Vec<String> = head
            .structured
            .iter()
            .flat_map(|data| {
                let graph = data["@graph"]
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![data.clone()]);
                graph
                    .into_iter()
                    .map(|node| node["@type"].as_str().unwrap_or_default().to_string())
            })
            .collect();
        let wanted = match path {
            "/" => Some("WebSite"),
            "/features" => Some("SoftwareApplication"),
            p if p.starts_with("/markets/") => Some("BreadcrumbList"),
            p if p.starts_with("/news") => Some("CollectionPage"),
            _ => None,
        };
        if let Some(kind) = wanted {
            assert!(kinds.iter().any(|k| k == kind), "{path}: {kind} in {kinds:?}");
        }
        if path.starts_with("/markets/") {
            let crumbs = &head.structured[0]["itemListElement"];
            assert_eq!(crumbs[2]["item"], url.as_str(), "{path}");
        }
    }
}

#[tokio::test]
async fn addresses_that_name_nothing_are_404_pages() {
    let app = spawn_app(Db::Sqlite, CacheKind::Memory).await;
    for path in [
        "/markets/NOPEUSDT",
        "/markets/not-a-symbol",
        "/news/NOPEUSDT",
        "/news?page=0",
        "/news?page=99",
        "/news?page=two",
        "/chart/NOPEUSDT",
        "/chart/not-a-symbol",
        "/no/such/page",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let html = response.text().await.unwrap();
        let document = Html::parse_document(&html);
        let robots: Vec<&str> = document
            .select(&select("head meta[name=robots]"))
            .filter_map(|meta| meta.value().attr("content"))
            .collect();
        assert!(robots.contains(&"noindex"), "{path}: {robots:?}");
        assert!(
            ["Page not found", "does not carry", "is not a symbol"]
                .iter()
                .any(|sentence| html.contains(sentence)),
            "{path}: says what is missing"
        );
    }
    // A known symbol's page is there, with its price.
    let page = app.get("/markets/BTCUSDT").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("BTC price"), "{html}");
    assert!(html.contains("<svg"), "the price line is drawn on the server");
    assert!(html.contains("Simulated data"), "the feed is simulated here");
}
