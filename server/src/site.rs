//! What search engines read first: `/robots.txt` and `/sitemap.xml`.
//!
//! The sitemap lists every public page: the landing, features, pricing,
//! markets and news pages, and each carried symbol's market, news and chart pages.
//! Account, billing and script pages are private and kept out.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use std::sync::Arc;

use app::seo::SiteUrl;

use crate::market::Symbols;

/// Paths no search engine needs: the API, private pages, one-time links.
const PRIVATE: [&str; 9] = [
    "/api/",
    "/account",
    "/billing",
    "/scripts",
    "/watchlist",
    "/webhooks/",
    "/ws",
    "/reset-password",
    "/verify-email",
];

pub async fn robots(State(site): State<Arc<SiteUrl>>) -> impl IntoResponse {
    let SiteUrl(base) = site.as_ref();
    let mut body = String::from("User-agent: *\nAllow: /\n");
    for path in PRIVATE {
        body.push_str(&format!("Disallow: {path}\n"));
    }
    body.push_str(&format!("\nSitemap: {base}/sitemap.xml\n"));
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}

pub async fn sitemap(State(site): State<Arc<SiteUrl>>, State(symbols): State<Symbols>) -> impl IntoResponse {
    let SiteUrl(base) = site.as_ref();
    let mut paths: Vec<String> = ["/", "/features", "/pricing", "/markets", "/news"]
        .iter()
        .map(|path| path.to_string())
        .collect();
    for symbol in symbols.iter() {
        paths.push(format!("/markets/{symbol}"));
        paths.push(format!("/news/{symbol}"));
        paths.push(format!("/chart/{symbol}"));
    }
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for path in paths {
        // Symbols are letters and digits and the base is a URL the
        // operator set: only `&` could need escaping.
        let location = format!("{base}{path}").replace('&', "&amp;");
        body.push_str(&format!("  <url><loc>{location}</loc></url>\n"));
    }
    body.push_str("</urlset>\n");
    ([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body)
}
