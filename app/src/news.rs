//! Quick Look news: what the news pages and the chart's panel show, read
//! by the server from Marketaux (through its cache and daily budget).
//!
//! Policy: news is never in the way. Without an API key the pages say news
//! is not configured; when Marketaux fails or the day's budget is spent the
//! last good articles are shown with their age; only when there never were
//! any does the reader see why there are none.

use inchart_api::market::Symbol;
use serde::{Deserialize, Serialize};

/// One article as the pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Article {
    pub uuid: String,
    pub title: String,
    /// Marketaux's description, or its snippet when there is none.
    pub summary: String,
    pub url: String,
    /// The publisher's domain, e.g. `coindesk.com`.
    pub source: String,
    /// Seconds since the Unix epoch (UTC).
    pub published_at: i64,
    /// Marketaux's sentiment for the symbol's own entity (−1 to 1), when
    /// the article names it; `None` for an article about the market at large.
    pub sentiment: Option<f64>,
    /// The carried symbols the article is about, e.g. `BTCUSDT`.
    pub symbols: Vec<Symbol>,
}

/// Why the articles shown are not fresh from Marketaux.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleReason {
    /// Marketaux did not answer, or answered with an error.
    Unavailable,
    /// Marketaux asked us to slow down (429), or its daily allowance is
    /// spent (402).
    RateLimited,
    /// Today's request budget is spent; news refreshes tomorrow (UTC).
    BudgetSpent,
}

impl StaleReason {
    pub fn sentence(self) -> &'static str {
        match self {
            Self::Unavailable => "the news service is not answering",
            Self::RateLimited => "the news service asked us to slow down",
            Self::BudgetSpent => "today's news allowance is spent",
        }
    }
}

/// A page of news for one symbol, or for every carried symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsPage {
    pub articles: Vec<Article>,
    /// 1-based.
    pub page: u32,
    /// How many pages there are to read (Marketaux's count, capped).
    pub pages: u32,
    /// When these articles were read from Marketaux (seconds since epoch).
    pub fetched_at: i64,
    /// Set when the articles are older than the cache's time to live.
    pub stale: Option<StaleReason>,
}

/// What the news pages and the Quick Look panel are given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NewsFeed {
    /// No Marketaux API key on this server.
    NotConfigured,
    /// Nothing to show, and why.
    Unavailable { reason: StaleReason },
    /// Articles (possibly none) to show.
    Page(NewsPage),
}

/// A feed and the server's clock when it was read, so "time ago" reads the
/// same on the server and in the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsView {
    pub symbol: Option<Symbol>,
    pub feed: NewsFeed,
    pub now: i64,
}

/// What the pages say when there is no API key.
pub const NOT_CONFIGURED: &str = "News is not configured on this server.";

/// How a sentiment score reads at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    Positive,
    Neutral,
    Negative,
}

impl Mood {
    /// Marketaux scores run from −1 to 1; within ±0.15 an article is
    /// neither here nor there.
    pub fn of(score: f64) -> Self {
        if score >= 0.15 {
            Self::Positive
        } else if score <= -0.15 {
            Self::Negative
        } else {
            Self::Neutral
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Positive => "Positive",
            Self::Neutral => "Neutral",
            Self::Negative => "Negative",
        }
    }

    /// The badge's class: the chart's green and red, grey between.
    pub fn class(self) -> &'static str {
        match self {
            Self::Positive => "mood mood-up",
            Self::Neutral => "mood mood-flat",
            Self::Negative => "mood mood-down",
        }
    }
}

/// `+0.42`, `−0.31`, `0.00`: the score as the badge's title shows it.
pub fn format_score(score: f64) -> String {
    if score.abs() < 0.005 {
        "0.00".to_string()
    } else if score > 0.0 {
        format!("+{score:.2}")
    } else {
        format!("\u{2212}{:.2}", score.abs())
    }
}

/// "just now", "5 min ago", "3 h ago", "2 days ago".
pub fn time_ago(now: i64, then: i64) -> String {
    let seconds = (now - then).max(0);
    match seconds {
        0..60 => "just now".to_string(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        86_400..172_800 => "1 day ago".to_string(),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// The news pages' own addresses.
pub fn news_href(symbol: Option<&Symbol>, page: u32) -> String {
    let base = match symbol {
        Some(symbol) => format!("/news/{symbol}"),
        None => "/news".to_string(),
    };
    if page > 1 {
        format!("{base}?page={page}")
    } else {
        base
    }
}

/// Quote assets, longest first where one ends another.
const QUOTES: [&str; 10] = [
    "FDUSD", "USDT", "USDC", "TUSD", "BUSD", "EUR", "TRY", "BTC", "ETH", "BNB",
];

/// The base asset of a pair: `BTC` of `BTCUSDT`, `ETH` of `ETHBTC`.
pub fn base_asset(symbol: &Symbol) -> &str {
    let text = symbol.as_str();
    QUOTES
        .iter()
        .find_map(|quote| text.strip_suffix(quote).filter(|base| base.len() >= 2))
        .unwrap_or(text)
}

/// Marketaux's name for a pair's coin: crypto entities are `CC:<coin>`.
pub fn marketaux_entity(symbol: &Symbol) -> String {
    format!("CC:{}", base_asset(symbol))
}

/// The most pages the news pages link to: each is a Marketaux request,
/// and the free plan allows about a hundred a day.
pub const MAX_PAGES: u32 = 20;

#[cfg(feature = "ssr")]
pub use service::{NewsPages, NewsService};

#[cfg(feature = "ssr")]
mod service {
    use std::sync::Arc;

    use inchart_api::market::Symbol;

    use super::NewsView;

    use crate::PageAnswer as Answer;

    /// What the news pages and the Quick Look panel read, implemented by
    /// the server.
    pub trait NewsPages: Send + Sync {
        /// A page of `symbol`'s news, or of every carried symbol's.
        fn news(&self, symbol: Option<Symbol>, page: u32) -> Answer<NewsView>;
    }

    /// The server's [`NewsPages`], in each request's context.
    #[derive(Clone)]
    pub struct NewsService(pub Arc<dyn NewsPages>);
}

/// A page of news: `symbol`'s when given, every carried symbol's otherwise.
/// A GET: it changes nothing.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_news(symbol: Option<String>, page: u32) -> Result<NewsView, leptos::prelude::ServerFnError> {
    use leptos::prelude::{ServerFnError, use_context};
    let symbol = symbol
        .map(|symbol| Symbol::parse(&symbol))
        .transpose()
        .map_err(ServerFnError::new)?;
    let NewsService(news) = use_context::<NewsService>().ok_or_else(|| ServerFnError::new(NOT_CONFIGURED))?;
    news.news(symbol, page.clamp(1, MAX_PAGES))
        .await
        .map_err(|error| ServerFnError::new(error.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moods_split_at_a_sixth_or_so() {
        assert_eq!(Mood::of(0.6), Mood::Positive);
        assert_eq!(Mood::of(0.15), Mood::Positive);
        assert_eq!(Mood::of(0.149), Mood::Neutral);
        assert_eq!(Mood::of(0.0), Mood::Neutral);
        assert_eq!(Mood::of(-0.149), Mood::Neutral);
        assert_eq!(Mood::of(-0.15), Mood::Negative);
        assert_eq!(format_score(0.4215), "+0.42");
        assert_eq!(format_score(-0.31), "\u{2212}0.31");
        assert_eq!(format_score(0.001), "0.00");
    }

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        let now = 1_800_000_000;
        assert_eq!(time_ago(now, now + 30), "just now");
        assert_eq!(time_ago(now, now - 59), "just now");
        assert_eq!(time_ago(now, now - 60), "1 min ago");
        assert_eq!(time_ago(now, now - 3599), "59 min ago");
        assert_eq!(time_ago(now, now - 7200), "2 h ago");
        assert_eq!(time_ago(now, now - 90_000), "1 day ago");
        assert_eq!(time_ago(now, now - 3 * 86_400), "3 days ago");
    }

    #[test]
    fn pairs_map_to_marketaux_coins() {
        let entity = |raw: &str| marketaux_entity(&Symbol::parse(raw).unwrap());
        assert_eq!(entity("BTCUSDT"), "CC:BTC");
        assert_eq!(entity("ETHBTC"), "CC:ETH");
        assert_eq!(entity("SOLFDUSD"), "CC:SOL");
        assert_eq!(entity("DOGEUSDC"), "CC:DOGE");
        assert_eq!(entity("BTCEUR"), "CC:BTC");
        // Nothing left of a quote: the symbol is the coin.
        assert_eq!(entity("USDT"), "CC:USDT");
    }

    #[test]
    fn news_addresses_leave_out_the_first_page() {
        let btc = Symbol::parse("BTCUSDT").unwrap();
        assert_eq!(news_href(None, 1), "/news");
        assert_eq!(news_href(None, 2), "/news?page=2");
        assert_eq!(news_href(Some(&btc), 1), "/news/BTCUSDT");
        assert_eq!(news_href(Some(&btc), 3), "/news/BTCUSDT?page=3");
    }
}
