//! Quick Look news: Marketaux's articles about the carried coins, with
//! their sentiment.
//!
//! Policy: Marketaux's free plan allows about a hundred requests a day, so
//! a request is the scarce thing here.
//! - Every page of articles (per symbol, or all of them) is cached for
//!   `INCHART_NEWS_TTL` in the shared cache (Redis, or in-process), and kept
//!   a week longer to show when Marketaux cannot be asked.
//! - Readers of the same page share one request: one per process (a lock
//!   per page), one across instances (a short claim in the cache; the
//!   others wait for its answer).
//! - Each request is counted against the UTC day's budget
//!   (`INCHART_NEWS_DAILY_BUDGET`) before it is sent; pages past the first
//!   stop at [`DEEP_PAGE_SHARE`] of it, so the first pages, which the chart
//!   and the news pages read most, have the rest.
//! - A 429 stops every request for its `Retry-After` (doubling from a
//!   minute while they keep coming), a 402 until the next UTC day,
//!   anything else for half a minute. Meanwhile readers get the last good
//!   articles with their age and the reason, never an error.

pub mod marketaux;
pub mod pages;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::news::{Article, MAX_PAGES, NewsFeed, NewsPage, NewsView, StaleReason, marketaux_entity};
use inchart_api::market::Symbol;
use serde::{Deserialize, Serialize};

use crate::config::NewsSettings;
use crate::market::Symbols;
use crate::platform::cache::Cache;
use crate::platform::clock;
use crate::platform::metrics::{Collect, Exposition};
use marketaux::{Marketaux, MarketauxError, Query, parse_published_at};

/// How long a page is kept after it stops being fresh, to show when
/// Marketaux cannot be asked.
const RETAIN: Duration = Duration::from_secs(7 * 86_400);
/// How long one instance may hold a page's request before another tries.
const FLIGHT: Duration = Duration::from_secs(15);
/// How long a reader waits for another instance's request.
const FLIGHT_WAIT: Duration = Duration::from_secs(5);
/// The share of the day's budget pages past the first may use.
pub const DEEP_PAGE_SHARE: f64 = 0.7;
/// The first wait after a 429 without `Retry-After`, and the longest.
const RATE_LIMIT_FIRST: Duration = Duration::from_secs(60);
const RATE_LIMIT_MAX: Duration = Duration::from_secs(3600);
/// The wait after a refused token (a configuration problem).
const REFUSED_WAIT: Duration = Duration::from_secs(600);
/// The wait after any other failure.
const FAILURE_WAIT: Duration = Duration::from_secs(30);
/// Cache keys, versioned with what they hold.
const BACKOFF_KEY: &str = "news:backoff:v1";
const STRIKES_KEY: &str = "news:strikes";

/// The news service; clones share everything.
#[derive(Clone)]
pub struct News {
    inner: Arc<Inner>,
}

struct Inner {
    client: Option<Marketaux>,
    cache: Cache,
    settings: NewsSettings,
    symbols: Symbols,
    /// One lock per page being requested, so readers in this process
    /// share one request.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Requests sent to Marketaux, by how they ended ([`Outcome`]).
    sent: [AtomicU64; Outcome::ALL.len()],
    /// Requests not sent because the day's budget was spent.
    over_budget: AtomicU64,
}

/// How a request to Marketaux ended, for `/metrics`.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Ok,
    RateLimited,
    UsageLimit,
    Refused,
    Failed,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::RateLimited,
        Outcome::UsageLimit,
        Outcome::Refused,
        Outcome::Failed,
    ];

    fn of(answer: &Result<marketaux::NewsAnswer, MarketauxError>) -> Self {
        match answer {
            Ok(_) => Self::Ok,
            Err(MarketauxError::RateLimited { .. }) => Self::RateLimited,
            Err(MarketauxError::UsageLimit { .. }) => Self::UsageLimit,
            Err(MarketauxError::Refused { .. }) => Self::Refused,
            Err(MarketauxError::Api { .. } | MarketauxError::Transport(_)) => Self::Failed,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::RateLimited => "rate_limited",
            Self::UsageLimit => "usage_limit",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// A page as read from Marketaux, as the cache keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    fetched_at: i64,
    found: u64,
    limit: u32,
    articles: Vec<Article>,
}

/// Why no request may be sent now, and until when (seconds since epoch).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Backoff {
    until: i64,
    reason: StaleReason,
}

impl News {
    pub fn new(settings: NewsSettings, cache: Cache, symbols: Symbols) -> anyhow::Result<Self> {
        let client = settings
            .marketaux
            .as_ref()
            .map(|marketaux| Marketaux::new(&marketaux.api_base, marketaux.token.clone()))
            .transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                cache,
                settings,
                symbols,
                flights: Mutex::default(),
                sent: Default::default(),
                over_budget: AtomicU64::new(0),
            }),
        })
    }

    /// Whether a Marketaux API key is configured.
    pub fn on(&self) -> bool {
        self.inner.client.is_some()
    }

    /// Whether InChart carries `symbol` (only carried symbols have news).
    pub fn carries(&self, symbol: &Symbol) -> bool {
        self.inner.symbols.contains(symbol)
    }

    /// A page of `symbol`'s news, or of every carried symbol's.
    pub async fn page(&self, symbol: Option<&Symbol>, page: u32) -> NewsView {
        let now = clock::now_secs();
        let feed = match &self.inner.client {
            None => NewsFeed::NotConfigured,
            Some(client) => self.feed(client, symbol, page.clamp(1, MAX_PAGES), now).await,
        };
        NewsView {
            symbol: symbol.cloned(),
            feed,
            now: clock::now_secs(),
        }
    }

    async fn feed(&self, client: &Marketaux, symbol: Option<&Symbol>, page: u32, now: i64) -> NewsFeed {
        let key = format!(
            "news:v1:{}:{page}",
            symbol.map_or("all", |symbol| symbol.as_str())
        );
        let fresh = |stored: &Stored, now: i64| now - stored.fetched_at < self.ttl_secs();
        let cached = self.read(&key).await;
        if let Some(stored) = &cached
            && fresh(stored, now)
        {
            return self.answer(stored.clone(), page, None);
        }
        if let Some(backoff) = self.backoff(now).await {
            return self.fallback(cached, page, backoff.reason);
        }

        // One request per page in this process: whoever waited re-reads.
        let flight = self.flight(&key);
        let _turn = flight.lock().await;
        let cached = self.read(&key).await;
        if let Some(stored) = &cached
            && fresh(stored, clock::now_secs())
        {
            return self.answer(stored.clone(), page, None);
        }
        if let Some(backoff) = self.backoff(clock::now_secs()).await {
            return self.fallback(cached, page, backoff.reason);
        }
        // …and one across instances.
        let claim = format!("{key}:flight");
        if !self.inner.cache.claim(&claim, FLIGHT).await.unwrap_or(true) {
            return self.await_other(&key, cached, page).await;
        }
        let answer = self.fetch(client, symbol, page).await;
        let _ = self.inner.cache.delete(&claim).await;
        match answer {
            Ok(stored) => {
                match serde_json::to_vec(&stored) {
                    Ok(bytes) => {
                        if let Err(error) = self.inner.cache.set(&key, &bytes, self.retain()).await {
                            tracing::warn!(error = format!("{error:#}"), "could not cache news");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "could not encode news"),
                }
                self.answer(stored, page, None)
            }
            Err(reason) => self.fallback(cached, page, reason),
        }
    }

    /// Sends the request when the day's budget allows it, and notes any
    /// back-off Marketaux asks for.
    async fn fetch(
        &self,
        client: &Marketaux,
        symbol: Option<&Symbol>,
        page: u32,
    ) -> Result<Stored, StaleReason> {
        let settings = &self.inner.settings;
        let budget = u64::from(settings.daily_budget);
        let allowed = if page == 1 {
            budget
        } else {
            (budget as f64 * DEEP_PAGE_SHARE).floor() as u64
        };
        let now = clock::now_secs();
        let day = now.div_euclid(86_400);
        let budget_key = format!("news:budget:{day}");
        let (used, _) = self
            .inner
            .cache
            .counter(&budget_key)
            .await
            .unwrap_or((0, Duration::ZERO));
        if used >= allowed {
            self.inner.over_budget.fetch_add(1, Relaxed);
            return Err(StaleReason::BudgetSpent);
        }
        // Lives into the next day a little, whatever the clocks say.
        let until_tomorrow = Duration::from_secs(((day + 1) * 86_400 - now) as u64 + 3600);
        match self.inner.cache.increment(&budget_key, until_tomorrow).await {
            Ok((count, _)) if count > allowed => {
                self.inner.over_budget.fetch_add(1, Relaxed);
                return Err(StaleReason::BudgetSpent);
            }
            Ok(_) => {}
            // Without a counter the budget cannot be kept: ask nothing.
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "could not count the news budget");
                return Err(StaleReason::Unavailable);
            }
        }

        let symbols = match symbol {
            Some(symbol) => vec![marketaux_entity(symbol)],
            None => self.inner.symbols.iter().map(marketaux_entity).collect(),
        };
        let query = Query {
            symbols,
            filter_entities: true,
            language: settings.language.clone(),
            published_after: None,
            limit: settings.per_request,
            page,
        };
        let answer = client.news(&query).await;
        self.inner.sent[Outcome::of(&answer) as usize].fetch_add(1, Relaxed);
        match answer {
            Ok(answer) => {
                let _ = self.inner.cache.delete(STRIKES_KEY).await;
                Ok(Stored {
                    fetched_at: clock::now_secs(),
                    found: answer.meta.found,
                    limit: answer.meta.limit.max(1),
                    articles: answer
                        .data
                        .iter()
                        .filter_map(|article| self.article(article, symbol))
                        .collect(),
                })
            }
            Err(error) => {
                let (wait, reason) = self.wait_after(&error).await;
                tracing::warn!(%error, wait_secs = wait.as_secs(), "news paused");
                let until = clock::now_secs() + wait.as_secs() as i64;
                if let Ok(bytes) = serde_json::to_vec(&Backoff { until, reason }) {
                    let _ = self.inner.cache.set(BACKOFF_KEY, &bytes, wait).await;
                }
                Err(reason)
            }
        }
    }

    async fn wait_after(&self, error: &MarketauxError) -> (Duration, StaleReason) {
        match error {
            MarketauxError::RateLimited { retry_after, .. } => {
                let (strikes, _) = self
                    .inner
                    .cache
                    .increment(STRIKES_KEY, RATE_LIMIT_MAX * 2)
                    .await
                    .unwrap_or((1, Duration::ZERO));
                let doubled = RATE_LIMIT_FIRST.saturating_mul(1 << strikes.clamp(1, 7).saturating_sub(1));
                let wait = retry_after
                    .unwrap_or(doubled)
                    .clamp(Duration::from_secs(1), RATE_LIMIT_MAX);
                (wait, StaleReason::RateLimited)
            }
            MarketauxError::UsageLimit { .. } => {
                let now = clock::now_secs();
                let tomorrow = (now.div_euclid(86_400) + 1) * 86_400;
                (
                    Duration::from_secs((tomorrow - now).max(60) as u64),
                    StaleReason::BudgetSpent,
                )
            }
            MarketauxError::Refused { .. } => {
                tracing::error!(%error, "check INCHART_MARKETAUX_TOKEN");
                (REFUSED_WAIT, StaleReason::Unavailable)
            }
            MarketauxError::Api { .. } | MarketauxError::Transport(_) => {
                (FAILURE_WAIT, StaleReason::Unavailable)
            }
        }
    }

    /// Waits for another instance's request to land in the cache.
    async fn await_other(&self, key: &str, cached: Option<Stored>, page: u32) -> NewsFeed {
        let deadline = tokio::time::Instant::now() + FLIGHT_WAIT;
        let before = cached.as_ref().map(|stored| stored.fetched_at);
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(stored) = self.read(key).await
                && Some(stored.fetched_at) != before
            {
                return self.answer(stored, page, None);
            }
        }
        self.fallback(cached, page, StaleReason::Unavailable)
    }

    /// What a Marketaux article is on the page.
    fn article(&self, article: &marketaux::Article, symbol: Option<&Symbol>) -> Option<Article> {
        let published_at = parse_published_at(&article.published_at)?;
        let symbols: Vec<Symbol> = self
            .inner
            .symbols
            .iter()
            .filter(|carried| {
                let entity = marketaux_entity(carried);
                article.entities.iter().any(|found| found.symbol == entity)
            })
            .cloned()
            .collect();
        // The page's own coin's score; on the all-symbols page, the mean of
        // the carried coins the article names.
        let wanted: Vec<String> = match symbol {
            Some(symbol) => vec![marketaux_entity(symbol)],
            None => symbols.iter().map(marketaux_entity).collect(),
        };
        let scores: Vec<f64> = article
            .entities
            .iter()
            .filter(|entity| wanted.contains(&entity.symbol))
            .filter_map(|entity| entity.sentiment_score)
            .filter(|score| score.is_finite())
            .collect();
        let sentiment = (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
        let summary = article
            .description
            .clone()
            .filter(|text| !text.trim().is_empty())
            .or_else(|| article.snippet.clone())
            .unwrap_or_default();
        // Only links a reader can follow safely.
        let url = article.url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return None;
        }
        Some(Article {
            uuid: article.uuid.clone(),
            title: article.title.trim().to_string(),
            summary: summary.trim().to_string(),
            url: url.to_string(),
            source: article.source.clone(),
            published_at,
            sentiment: sentiment.map(|score| score.clamp(-1.0, 1.0)),
            symbols,
        })
    }

    fn answer(&self, stored: Stored, page: u32, stale: Option<StaleReason>) -> NewsFeed {
        let pages = stored
            .found
            .div_ceil(u64::from(stored.limit.max(1)))
            .clamp(1, u64::from(MAX_PAGES)) as u32;
        NewsFeed::Page(NewsPage {
            articles: stored.articles,
            page,
            pages,
            fetched_at: stored.fetched_at,
            stale,
        })
    }

    fn fallback(&self, cached: Option<Stored>, page: u32, reason: StaleReason) -> NewsFeed {
        match cached {
            Some(stored) => self.answer(stored, page, Some(reason)),
            None => NewsFeed::Unavailable { reason },
        }
    }

    async fn read(&self, key: &str) -> Option<Stored> {
        let bytes = self.inner.cache.get(key).await.ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    async fn backoff(&self, now: i64) -> Option<Backoff> {
        let bytes = self.inner.cache.get(BACKOFF_KEY).await.ok()??;
        serde_json::from_slice::<Backoff>(&bytes)
            .ok()
            .filter(|backoff| backoff.until > now)
    }

    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self
            .inner
            .flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        flights.entry(key.to_string()).or_default().clone()
    }

    fn ttl_secs(&self) -> i64 {
        self.inner.settings.ttl.as_secs() as i64
    }

    fn retain(&self) -> Duration {
        self.inner.settings.ttl + RETAIN
    }
}

impl Collect for News {
    fn collect(&self, out: &mut Exposition) {
        out.labelled_counter(
            "inchart_news_requests_total",
            "Requests sent to Marketaux, by outcome.",
            "outcome",
            Outcome::ALL.map(|outcome| (outcome.as_str(), self.inner.sent[outcome as usize].load(Relaxed))),
        );
        out.counter(
            "inchart_news_over_budget_total",
            "Requests not sent: the day's budget was spent.",
            self.inner.over_budget.load(Relaxed),
        );
    }
}
