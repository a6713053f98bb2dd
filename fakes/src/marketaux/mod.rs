//! A local fake of the Marketaux news API (v1) as InChart uses it:
//! `GET /v1/news/all` with Marketaux's query parameters, answers and error
//! objects, over a seeded corpus of crypto news (entities `CC:<BASE>`, each
//! with a sentiment score in [-1, 1]).
//!
//! How a test steers it:
//! - the corpus: seeded at start from [`FakeMarketauxConfig`] (bases,
//!   articles per base, history, and the corpus's "now"), then replaced or
//!   extended with [`FakeMarketaux::set_articles`] / [`FakeMarketaux::push_article`];
//! - the plan: the accepted token, the page-size cap (`max_limit`, 3 like
//!   the free plan), the daily allowance (402 once spent, until
//!   [`FakeMarketaux::reset_day`]) and the per-minute rate limit (429);
//! - faults: [`FakeMarketaux::fail_next`] answers the next requests with any
//!   of Marketaux's errors, and [`FakeMarketaux::set_delay`] holds every
//!   answer, so a test can see concurrent readers share one request;
//! - and it observes every request ([`FakeMarketaux::requests`]).
//!
//! Policies:
//! - It binds 127.0.0.1 only.
//! - A request is answered by the first of these that applies: a fault
//!   queued by `fail_next`; 404 `invalid_api_endpoint` for anything but
//!   `GET /v1/news/all`; 401 `invalid_api_token`; 402 `usage_limit_reached`;
//!   429 `rate_limit_reached`; 400 `malformed_parameters`; the news.
//! - Each request that passes the token, allowance and rate checks counts
//!   against both the daily allowance and the per-minute window (even if its
//!   parameters are then refused); refused ones count against neither.
//! - The rate window slides over real time, because clients wait in real time.
//! - Everything a test can observe is updated before the answer goes out.

mod api;
mod article;
mod corpus;
mod dates;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::task::JoinHandle;

pub use self::article::{Article, Entity, Highlight, crypto_name};

/// The path of the one endpoint the fake serves.
pub const NEWS_PATH: &str = "/v1/news/all";

/// The crypto bases of InChart's default symbols (`server::config::DEFAULT_SYMBOLS`
/// without `USDT`), which the default corpus is about.
pub const DEFAULT_BASES: [&str; 10] = [
    "BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "ADA", "TRX", "AVAX", "LINK",
];

/// How the fake behaves; the defaults are Marketaux's free plan.
#[derive(Debug, Clone)]
pub struct FakeMarketauxConfig {
    /// The only `api_token` accepted.
    pub api_token: String,
    /// Articles per page at most (free plan: 3); a larger `limit` is capped.
    pub max_limit: u32,
    /// Requests a day (free plan: 100); then 402 until [`FakeMarketaux::reset_day`].
    pub daily_allowance: u32,
    /// Requests per `rate_window`; one more is answered 429.
    pub per_minute: u32,
    /// The rate limit's sliding window (Marketaux: 60 s).
    pub rate_window: Duration,
    /// The corpus's "now", Unix seconds; `None`: the real time at start.
    pub now: Option<i64>,
    /// The crypto bases the seeded corpus is about (`BTC` → entity `CC:BTC`).
    pub bases: Vec<String>,
    /// Seeded articles about each base.
    pub articles_per_base: usize,
    /// How far before "now" the seeded articles go.
    pub history: Duration,
}

impl Default for FakeMarketauxConfig {
    /// Token `fake-marketaux-token`, 3 articles a page, 100 requests a day,
    /// 60 a minute, and 30 articles on each of [`DEFAULT_BASES`] over the
    /// week before the real time at start.
    fn default() -> Self {
        Self {
            api_token: "fake-marketaux-token".to_owned(),
            max_limit: 3,
            daily_allowance: 100,
            per_minute: 60,
            rate_window: Duration::from_secs(60),
            now: None,
            bases: DEFAULT_BASES.iter().map(|base| (*base).to_owned()).collect(),
            articles_per_base: 30,
            history: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Marketaux's error codes (`{"error": {"code": ..., "message": ...}}`),
/// each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: a parameter could not be read.
    MalformedParameters,
    /// 401: the `api_token` is missing or wrong.
    InvalidApiToken,
    /// 402: the plan's daily requests are spent.
    UsageLimitReached,
    /// 403: the plan does not include the endpoint.
    EndpointAccessRestricted,
    /// 404: no such endpoint.
    InvalidApiEndpoint,
    /// 429: too many requests within 60 seconds.
    RateLimitReached,
    /// 500.
    ServerError,
    /// 503.
    MaintenanceMode,
}

impl ErrorCode {
    /// Every code, in status order.
    pub const ALL: [ErrorCode; 8] = [
        ErrorCode::MalformedParameters,
        ErrorCode::InvalidApiToken,
        ErrorCode::UsageLimitReached,
        ErrorCode::EndpointAccessRestricted,
        ErrorCode::InvalidApiEndpoint,
        ErrorCode::RateLimitReached,
        ErrorCode::ServerError,
        ErrorCode::MaintenanceMode,
    ];

    /// The `code` on the wire, e.g. `usage_limit_reached`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedParameters => "malformed_parameters",
            Self::InvalidApiToken => "invalid_api_token",
            Self::UsageLimitReached => "usage_limit_reached",
            Self::EndpointAccessRestricted => "endpoint_access_restricted",
            Self::InvalidApiEndpoint => "invalid_api_endpoint",
            Self::RateLimitReached => "rate_limit_reached",
            Self::ServerError => "server_error",
            Self::MaintenanceMode => "maintenance_mode",
        }
    }

    /// The HTTP status it comes with.
    pub fn status(self) -> u16 {
        match self {
            Self::MalformedParameters => 400,
            Self::InvalidApiToken => 401,
            Self::UsageLimitReached => 402,
            Self::EndpointAccessRestricted => 403,
            Self::InvalidApiEndpoint => 404,
            Self::RateLimitReached => 429,
            Self::ServerError => 500,
            Self::MaintenanceMode => 503,
        }
    }

    /// The sentence answered when nothing more specific is known.
    pub fn message(self) -> &'static str {
        match self {
            Self::MalformedParameters => "One or more parameters could not be read.",
            Self::InvalidApiToken => "The API token is missing or not valid.",
            Self::UsageLimitReached => "The daily request limit of your plan has been reached.",
            Self::EndpointAccessRestricted => "Your plan does not include access to this endpoint.",
            Self::InvalidApiEndpoint => "This API endpoint does not exist.",
            Self::RateLimitReached => "Too many requests were made within the last 60 seconds.",
            Self::ServerError => "An error occurred on the server; please try again later.",
            Self::MaintenanceMode => "The service is down for maintenance; please try again later.",
        }
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketauxRequest {
    /// `GET`, usually.
    pub method: String,
    /// E.g. `/v1/news/all`.
    pub path: String,
    /// The query's pairs, decoded, in the order sent (the token included).
    pub params: Vec<(String, String)>,
    /// The HTTP status answered.
    pub status: u16,
    /// When the answer went out.
    pub at: Instant,
}

impl MarketauxRequest {
    /// The value the fake read for `key`: the last one sent, as Marketaux
    /// reads a repeated parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// Takes a lock even if a panicking test thread poisoned it: the fake's state
/// stays usable, and the panic itself is what the test reports.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What changes while the fake runs, behind one lock.
#[derive(Debug)]
struct State {
    /// Newest first.
    articles: Vec<Article>,
    /// Answers `fail_next` queued, first out next.
    faults: VecDeque<ErrorCode>,
    delay: Duration,
    /// Requests counted against the daily allowance since the last reset.
    used_today: u32,
    /// When each request counted in the rate window arrived, oldest first.
    window: VecDeque<Instant>,
    requests: Vec<MarketauxRequest>,
}

/// State shared by the handle and the HTTP handler.
#[derive(Debug)]
struct Shared {
    api_token: String,
    max_limit: u32,
    daily_allowance: u32,
    per_minute: u32,
    rate_window: Duration,
    now: i64,
    base_url: String,
    state: Mutex<State>,
}

/// A running fake Marketaux. Dropping it (or [`FakeMarketaux::shutdown`])
/// stops the server.
#[derive(Debug)]
pub struct FakeMarketaux {
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
}

impl FakeMarketaux {
    /// Starts the fake on 127.0.0.1 on a free port.
    pub async fn start(config: FakeMarketauxConfig) -> anyhow::Result<FakeMarketaux> {
        Self::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts the fake on `listen`, which must be on 127.0.0.1 (port 0 picks
    /// a free one). For the `fake-marketaux` binary and fixed-port setups.
    pub async fn start_on(config: FakeMarketauxConfig, listen: SocketAddr) -> anyhow::Result<FakeMarketaux> {
        anyhow::ensure!(
            listen.ip() == Ipv4Addr::LOCALHOST,
            "the fake Marketaux listens on 127.0.0.1 only, not {listen}; use 127.0.0.1:{}",
            listen.port()
        );
        anyhow::ensure!(
            !config.api_token.is_empty(),
            "the fake Marketaux needs an api_token to accept"
        );
        anyhow::ensure!(config.max_limit >= 1, "max_limit must be at least 1");
        anyhow::ensure!(
            !config.rate_window.is_zero(),
            "rate_window must be longer than zero"
        );
        for base in &config.bases {
            anyhow::ensure!(
                !base.is_empty() && base.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
                "a base is upper-case letters and digits, like BTC, not {base:?}"
            );
        }
        let now = match config.now {
            Some(now) => now,
            None => {
                let since = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .context("while reading the system clock")?;
                i64::try_from(since.as_secs()).context("while reading the system clock")?
            }
        };
        let history = i64::try_from(config.history.as_secs()).context("history is too long")?;
        anyhow::ensure!(history >= 120, "history must be at least two minutes");
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("while binding {listen}"))?;
        let addr = listener.local_addr().context("while reading the bound address")?;
        let articles = corpus::generate(&config.bases, config.articles_per_base, history, now);
        let shared = Arc::new(Shared {
            api_token: config.api_token,
            max_limit: config.max_limit,
            daily_allowance: config.daily_allowance,
            per_minute: config.per_minute,
            rate_window: config.rate_window,
            now,
            base_url: format!("http://{addr}"),
            state: Mutex::new(State {
                articles,
                faults: VecDeque::new(),
                delay: Duration::ZERO,
                used_today: 0,
                window: VecDeque::new(),
                requests: Vec::new(),
            }),
        });
        let router = api::router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "fake marketaux: the server stopped");
            }
        });
        tracing::debug!(%addr, "fake marketaux started");
        Ok(FakeMarketaux {
            shared,
            server: Some(server),
        })
    }

    /// The API base, `http://127.0.0.1:PORT`; a client appends [`NEWS_PATH`].
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The news endpoint, `http://127.0.0.1:PORT/v1/news/all`.
    pub fn news_url(&self) -> String {
        format!("{}{NEWS_PATH}", self.shared.base_url)
    }

    /// The `api_token` the fake accepts.
    pub fn api_token(&self) -> &str {
        &self.shared.api_token
    }

    /// The corpus's "now", Unix seconds: every seeded article is older.
    pub fn now(&self) -> i64 {
        self.shared.now
    }

    /// Every article the fake serves, newest first.
    pub fn articles(&self) -> Vec<Article> {
        lock(&self.shared.state).articles.clone()
    }

    /// Replaces the corpus.
    pub fn set_articles(&self, mut articles: Vec<Article>) {
        corpus::sort_newest_first(&mut articles);
        lock(&self.shared.state).articles = articles;
    }

    /// Adds one article (served in its place by `published_at`).
    pub fn push_article(&self, article: Article) {
        let mut state = lock(&self.shared.state);
        state.articles.push(article);
        corpus::sort_newest_first(&mut state.articles);
    }

    /// The next `n` requests, whatever they are, are answered with `code`
    /// (its status and Marketaux's error body); they count against neither
    /// the allowance nor the rate limit. Calls queue up in order.
    pub fn fail_next(&self, n: usize, code: ErrorCode) {
        lock(&self.shared.state)
            .faults
            .extend(std::iter::repeat_n(code, n));
    }

    /// Every answer waits `delay` before it is decided and sent (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.shared.state).delay = delay;
    }

    /// A new day: the daily allowance is whole again.
    pub fn reset_day(&self) {
        lock(&self.shared.state).used_today = 0;
    }

    /// Requests counted against the daily allowance since the last reset.
    pub fn used_today(&self) -> u32 {
        lock(&self.shared.state).used_today
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<MarketauxRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// How many requests were answered so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.state).requests.len()
    }

    /// Stops the server and waits for it to end.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for FakeMarketaux {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
