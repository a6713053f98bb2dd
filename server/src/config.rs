//! Typed settings, read once from the environment at start-up.
//!
//! Every setting has a default that runs InChart on one machine with nothing
//! installed (SQLite under `data/`, in-process cache, simulated feed). The
//! README's table lists them all. Secrets (`DATABASE_URL`, `REDIS_URL`) are
//! wrapped so that they never reach a log line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use app::billing::Limits;
use inchart_api::market::Symbol;
use secrecy::{ExposeSecret, SecretString};

/// The ten largest USDT pairs: what a fresh deployment offers.
pub const DEFAULT_SYMBOLS: &str =
    "BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,TRXUSDT,AVAXUSDT,LINKUSDT";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/inchart.db?mode=rwc";

/// How log lines are written.
/// Which feed an instance runs when it ingests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedChoice {
    /// Binance when it answers, the simulated feed until it does.
    Auto,
    /// Binance only, retrying until it answers.
    Binance,
    /// The simulated feed only.
    Simulated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything the server can be told.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `INCHART_LISTEN`: the address to serve HTTP on.
    pub listen: SocketAddr,
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…`.
    pub database_url: SecretString,
    /// `REDIS_URL`: when unset, an in-process cache stands in.
    pub redis_url: Option<SecretString>,
    /// `INCHART_CACHE_PREFIX`: the prefix of every cache key, so that
    /// several deployments (or tests) can share one Redis.
    pub cache_prefix: String,
    /// `INCHART_SYMBOLS`: the symbols on offer, comma-separated.
    pub symbols: Vec<Symbol>,
    /// `INCHART_SIM_HISTORY`: how many candles of each series the simulated
    /// feed keeps filled up to now.
    pub sim_history: u32,
    /// `INCHART_SIM_TICK_MS`: how often the simulated forming candles move.
    pub sim_tick: Duration,
    /// `INCHART_FEED`: `auto` (Binance when it answers, simulated until
    /// then), `binance` or `simulated`.
    pub feed: FeedChoice,
    /// `INCHART_BINANCE_REST_URL`: Binance's REST base.
    pub binance_rest_url: String,
    /// `INCHART_BINANCE_WS_URL`: Binance's stream base.
    pub binance_ws_url: String,
    /// `INCHART_BACKFILL`: how far back an empty store is filled (`30d`).
    pub backfill: Duration,
    /// `INCHART_STREAM_ROLLOVER`: how long one Binance connection is used
    /// before it is replaced (Binance closes them at 24 h).
    pub stream_rollover: Duration,
    /// `INCHART_RETRY_MAX`: the longest wait between attempts to reach
    /// Binance.
    pub retry_max: Duration,
    /// `INCHART_LIVE_WINDOW`: recent candles kept per series for fast reads.
    pub live_window: usize,
    /// `INCHART_LEASE_TTL`: how long the ingestion lease lasts unrenewed;
    /// another instance takes over within it when the holder dies.
    pub lease_ttl: Duration,
    /// `INCHART_WS_MAX_CLIENTS`: the most chart connections one instance
    /// holds.
    pub ws_max_clients: usize,
    /// `LEPTOS_SITE_ROOT`: the folder cargo-leptos built (`pkg/`, `vendor/`,
    /// `favicon.svg` …).
    pub site_root: PathBuf,
    /// `INCHART_LOG_FORMAT`: `pretty` or `json`.
    pub log_format: LogFormat,
    /// `INCHART_METRICS_TOKEN`: the bearer token `/metrics` asks for.
    /// Unset, `/metrics` answers only to this machine.
    pub metrics_token: Option<SecretString>,
    /// Accounts, sessions and mail.
    pub auth: AuthSettings,
    /// Signal scripts and their sandboxed workers.
    pub scripts: ScriptSettings,
    /// Plans, their limits, and Stripe.
    pub billing: BillingSettings,
    /// Quick Look news from Marketaux.
    pub news: NewsSettings,
    /// Alerts: webhooks, retries and browser push.
    pub alerts: AlertSettings,
}

/// How alerts are delivered.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// `INCHART_ALERTS_ALLOW_LOOPBACK`: `yes` lets webhooks reach this
    /// machine (tests, self-hosting); private and link-local addresses
    /// stay refused.
    pub allow_loopback: bool,
    /// `INCHART_WEBHOOK_TIMEOUT`: the longest a webhook may take to answer.
    pub webhook_timeout: Duration,
    /// `INCHART_ALERT_RETRY_BASE`: the wait before the first retry,
    /// doubled on every further one (with jitter), up to an hour.
    pub retry_base: Duration,
    /// `INCHART_ALERT_RETRY_FOR`: how long a delivery is retried.
    pub retry_for: Duration,
    /// `INCHART_VAPID_PRIVATE_KEY`: the key that signs browser pushes (a
    /// P-256 scalar, base64url). Unset, one is made and kept in the
    /// database, shared by every instance.
    pub vapid_private_key: Option<SecretString>,
    /// `INCHART_VAPID_SUBJECT`: who push services may contact
    /// (`mailto:` the mail sender by default).
    pub vapid_subject: String,
}

impl AlertSettings {
    fn read(
        get: &impl Fn(&str) -> Option<String>,
        duration: &impl Fn(&str, &str) -> anyhow::Result<Duration>,
        mail_from: &str,
    ) -> anyhow::Result<Self> {
        let allow_loopback = match get("INCHART_ALERTS_ALLOW_LOOPBACK").as_deref() {
            None | Some("no") => false,
            Some("yes") => true,
            Some(other) => bail!("INCHART_ALERTS_ALLOW_LOOPBACK must be yes or no (got {other:?})"),
        };
        let webhook_timeout = duration("INCHART_WEBHOOK_TIMEOUT", "5s")?;
        if !(Duration::from_millis(100)..=Duration::from_secs(30)).contains(&webhook_timeout) {
            bail!("INCHART_WEBHOOK_TIMEOUT must be between 100ms and 30s");
        }
        let retry_base = duration("INCHART_ALERT_RETRY_BASE", "10s")?;
        if !(Duration::from_millis(50)..=Duration::from_secs(3600)).contains(&retry_base) {
            bail!("INCHART_ALERT_RETRY_BASE must be between 50ms and 1h");
        }
        let retry_for = duration("INCHART_ALERT_RETRY_FOR", "24h")?;
        let address = mail_from
            .rsplit_once('<')
            .map_or(mail_from, |(_, rest)| rest.trim_end_matches('>'))
            .trim();
        Ok(Self {
            allow_loopback,
            webhook_timeout,
            retry_base,
            retry_for,
            vapid_private_key: get("INCHART_VAPID_PRIVATE_KEY").map(SecretString::from),
            vapid_subject: get("INCHART_VAPID_SUBJECT").unwrap_or_else(|| format!("mailto:{address}")),
        })
    }
}

/// Where news comes from and how sparingly it is asked for.
#[derive(Debug, Clone)]
pub struct NewsSettings {
    /// Marketaux, when `INCHART_MARKETAUX_TOKEN` is set; news is off
    /// without it.
    pub marketaux: Option<MarketauxSettings>,
    /// `INCHART_NEWS_TTL`: how long a page of articles is fresh (`30m`).
    pub ttl: Duration,
    /// `INCHART_NEWS_DAILY_BUDGET`: Marketaux requests per UTC day, across
    /// every instance (`90`: the free plan allows 100).
    pub daily_budget: u32,
    /// `INCHART_NEWS_PER_REQUEST`: articles asked for per request (`3`,
    /// the free plan's most; paid plans allow more).
    pub per_request: u32,
    /// `INCHART_NEWS_LANGUAGE`: Marketaux's language codes (`en`).
    pub language: String,
}

/// How InChart talks to Marketaux.
#[derive(Debug, Clone)]
pub struct MarketauxSettings {
    /// `INCHART_MARKETAUX_TOKEN`: the API token.
    pub token: SecretString,
    /// `INCHART_MARKETAUX_API_BASE`: `https://api.marketaux.com`; tests
    /// point it at a local fake.
    pub api_base: String,
}

/// How signal scripts run. These apply to every run; the account's plan
/// sets its CPU time, history and how many scripts it keeps.
#[derive(Debug, Clone)]
pub struct ScriptSettings {
    /// `INCHART_WORKER_BIN`: the sandboxed Python worker. Defaults to
    /// `inchart-worker` beside the server's own binary.
    pub worker_bin: PathBuf,
    /// `INCHART_WORKER_SITE`: the folder holding numpy for the workers.
    /// Unset, scripts get candles as lists and no numpy.
    pub worker_site: Option<PathBuf>,
    /// `INCHART_SCRIPT_WORKERS`: warm workers, each running one script at
    /// a time (default: the number of cores, at least 2).
    pub workers: usize,
    /// `INCHART_SCRIPT_WARM`: start the workers with the server (`true`),
    /// or each on the first run it is needed for (`false`: tests, and
    /// machines that rarely run scripts).
    pub warm: bool,
    /// `INCHART_SCRIPT_USER_WORKERS`: the most workers one user's runs hold
    /// at once (default: half of them), so one user cannot take them all.
    pub user_workers: usize,
    /// `INCHART_SCRIPT_QUEUE`: the most runs one user may have waiting.
    pub user_queue: usize,
    /// `INCHART_SCRIPT_WALL`: time per run from start to answer (`5s`).
    pub wall: Duration,
    /// `INCHART_SCRIPT_MEMORY_MB`: memory a run may allocate (`256`).
    pub memory_mb: u32,
    /// `INCHART_SCRIPT_CANDLES`: candles a run reads by default (`1000`).
    pub candles: u32,
    /// `INCHART_SCRIPT_ALLOW_MISSING`: confinement layers the workers may
    /// run without where this machine lacks them (`cgroups`, `landlock`);
    /// by default a worker without every layer refuses to start.
    pub allow_missing: Vec<String>,
    /// `INCHART_SCRIPT_SANDBOX_UID`: the host uid scripts run as (the
    /// worker's default, 65534, when unset).
    pub sandbox_uid: Option<u32>,
}

/// What each plan allows, and how Stripe is reached. Free works without
/// Stripe; Pro is on sale only when Stripe is configured.
#[derive(Debug, Clone)]
pub struct BillingSettings {
    /// `INCHART_FREE_LIMITS`: `scripts=3,live=1,watchlist=10,history=2000,cpu=1s,runs=20,drawings=50,`
    /// `backtest=2000,backtests=10,backtest_cpu=10s,alerts=5,firings=100,webhooks=no` (candles a
    /// backtest trades over, backtests an hour, a backtest's CPU time, active alerts, alert firings
    /// a day, whether alerts call webhooks).
    pub free: Limits,
    /// `INCHART_PRO_LIMITS`: `scripts=50,live=10,watchlist=100,history=20000,cpu=4s,runs=120,drawings=2000,`
    /// `backtest=1100000,backtests=120,backtest_cpu=60s,alerts=500,firings=10000,webhooks=yes`.
    pub pro: Limits,
    /// Stripe, when `INCHART_STRIPE_SECRET_KEY` is set.
    pub stripe: Option<StripeSettings>,
}

/// How InChart talks to Stripe.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    /// `INCHART_STRIPE_SECRET_KEY`: the API key (`sk_live_…`, `sk_test_…`,
    /// or a restricted `rk_…`).
    pub secret_key: SecretString,
    /// `INCHART_STRIPE_WEBHOOK_SECRET`: the signing secret of the
    /// `/webhooks/stripe` endpoint (`whsec_…`).
    pub webhook_secret: SecretString,
    /// `INCHART_STRIPE_API_BASE`: Stripe's API (`https://api.stripe.com/`);
    /// tests point it at a local fake.
    pub api_base: String,
    /// `INCHART_STRIPE_PRICE_MONTHLY`: the Pro monthly price (`price_…`).
    pub price_monthly: String,
    /// `INCHART_STRIPE_PRICE_YEARLY`: the Pro yearly price, if sold.
    pub price_yearly: Option<String>,
}

/// How accounts and sessions behave.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `INCHART_PUBLIC_URL`: where users reach InChart (`https://inchart.example`),
    /// for the links in mail and the origin forms must come from. Defaults
    /// to `http://` and the listen address.
    pub public_url: String,
    /// `INCHART_COOKIE_SECURE`: whether cookies are `Secure` (and so named
    /// `__Host-…`). On by default when the public URL is `https://`; turn
    /// it off only for plain-http local development.
    pub cookie_secure: bool,
    /// `INCHART_JWT_SECRET`: the key access tokens are signed with, at least
    /// 32 bytes. Unset, each process makes its own: sessions survive a
    /// restart through their refresh tokens, but several instances must
    /// share one.
    pub jwt_secret: Option<SecretString>,
    /// `INCHART_ACCESS_TTL`: how long an access token is good for (`15m`).
    pub access_ttl: Duration,
    /// `INCHART_SESSION_TTL`: how long a session lasts unused (`30d`).
    pub session_ttl: Duration,
    /// `INCHART_REFRESH_GRACE`: how long after a refresh token is used a
    /// second use still counts as the same browser racing itself (two tabs
    /// at once) rather than a stolen token (`10s`; `0s` turns it off).
    pub refresh_grace: Duration,
    /// `INCHART_SMTP_URL`: `smtp://user:pass@host:587?tls=required`,
    /// `smtps://…`, or `smtp://host:port` for a plain local relay. Unset,
    /// mail is not sent and its links are written to the log.
    pub smtp_url: Option<SecretString>,
    /// `INCHART_MAIL_FROM`: the sender of InChart's mail.
    pub mail_from: String,
    /// `INCHART_LOGIN_LIMIT`: failed logins allowed per account per window.
    pub login_limit_account: u32,
    /// `INCHART_LOGIN_IP_LIMIT`: failed logins allowed per IP per window.
    pub login_limit_ip: u32,
    /// `INCHART_SIGNUP_LIMIT`: sign-ups allowed per client address per hour.
    pub signup_limit: u32,
    /// `INCHART_LOGIN_WINDOW`: the throttling window (`15m`).
    pub login_window: Duration,
    /// `INCHART_TRUST_PROXY`: take the client's address from the last
    /// `X-Forwarded-For` hop (set it behind Caddy or Nginx, never without).
    pub trust_proxy: bool,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own
    /// environment without touching the process's.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let listen = get("INCHART_LISTEN")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .context("INCHART_LISTEN must be an address like 127.0.0.1:3000")?;
        let symbols = parse_symbols(&get("INCHART_SYMBOLS").unwrap_or_else(|| DEFAULT_SYMBOLS.into()))?;
        let sim_history = parse_number(get("INCHART_SIM_HISTORY"), "INCHART_SIM_HISTORY", 1000)?;
        if !(1..=100_000).contains(&sim_history) {
            bail!("INCHART_SIM_HISTORY must be between 1 and 100000 candles (got {sim_history})");
        }
        let sim_tick_ms = parse_number(get("INCHART_SIM_TICK_MS"), "INCHART_SIM_TICK_MS", 1000)?;
        if sim_tick_ms < 50 {
            bail!("INCHART_SIM_TICK_MS must be at least 50 (got {sim_tick_ms})");
        }
        let log_format = match get("INCHART_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("INCHART_LOG_FORMAT must be pretty or json (got {other})"),
        };

        let feed = match get("INCHART_FEED").as_deref() {
            None | Some("auto") => FeedChoice::Auto,
            Some("binance") => FeedChoice::Binance,
            Some("simulated") => FeedChoice::Simulated,
            Some(other) => bail!("INCHART_FEED must be auto, binance or simulated (got {other})"),
        };
        let duration = |name: &str, default: &str| -> anyhow::Result<Duration> {
            let text = get(name).unwrap_or_else(|| default.to_string());
            parse_duration(&text).with_context(|| {
                format!("{name} must be a duration like 30d, 12h, 90s or 500ms (got {text:?})")
            })
        };
        let live_window = parse_number(get("INCHART_LIVE_WINDOW"), "INCHART_LIVE_WINDOW", 1000)?;
        if !(10..=100_000).contains(&live_window) {
            bail!("INCHART_LIVE_WINDOW must be between 10 and 100000 candles (got {live_window})");
        }
        let ws_max_clients = parse_number(get("INCHART_WS_MAX_CLIENTS"), "INCHART_WS_MAX_CLIENTS", 50_000)?;
        let lease_ttl = duration("INCHART_LEASE_TTL", "10s")?;
        if lease_ttl < Duration::from_millis(300) {
            bail!("INCHART_LEASE_TTL must be at least 300ms");
        }

        Self {
            feed,
            binance_rest_url: get("INCHART_BINANCE_REST_URL")
                .unwrap_or_else(|| "https://api.binance.com".into()),
            binance_ws_url: get("INCHART_BINANCE_WS_URL")
                .unwrap_or_else(|| "wss://stream.binance.com:9443".into()),
            backfill: duration("INCHART_BACKFILL", "30d")?,
            stream_rollover: duration("INCHART_STREAM_ROLLOVER", "23h")?,
            retry_max: duration("INCHART_RETRY_MAX", "30s")?,
            live_window: live_window as usize,
            lease_ttl,
            ws_max_clients: ws_max_clients as usize,
            listen,
            database_url: SecretString::from(
                get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            ),
            redis_url: get("REDIS_URL").map(SecretString::from),
            cache_prefix: get("INCHART_CACHE_PREFIX").unwrap_or_else(|| "inchart".into()),
            symbols,
            sim_history,
            sim_tick: Duration::from_millis(u64::from(sim_tick_ms)),
            site_root: get("LEPTOS_SITE_ROOT")
                .unwrap_or_else(|| "target/site".into())
                .into(),
            log_format,
            metrics_token: get("INCHART_METRICS_TOKEN").map(SecretString::from),
            alerts: {
                let from = get("INCHART_MAIL_FROM").unwrap_or_else(|| "InChart <no-reply@localhost>".into());
                AlertSettings::read(&get, &duration, &from)?
            },
            auth: AuthSettings::read(&get, &duration, listen)?,
            scripts: ScriptSettings::read(&get, &duration)?,
            billing: BillingSettings::read(&get)?,
            news: NewsSettings::read(&get, &duration)?,
        }
        .checked()
    }
}

impl ScriptSettings {
    fn read(
        get: &impl Fn(&str) -> Option<String>,
        duration: &impl Fn(&str, &str) -> anyhow::Result<Duration>,
    ) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = parse_number(
            get("INCHART_SCRIPT_WORKERS"),
            "INCHART_SCRIPT_WORKERS",
            cores.max(2) as u32,
        )?;
        if !(1..=256).contains(&workers) {
            bail!("INCHART_SCRIPT_WORKERS must be between 1 and 256 (got {workers})");
        }
        let user_workers = parse_number(
            get("INCHART_SCRIPT_USER_WORKERS"),
            "INCHART_SCRIPT_USER_WORKERS",
            (workers / 2).max(1),
        )?
        .clamp(1, workers);
        let wall = duration("INCHART_SCRIPT_WALL", "5s")?;
        if wall < Duration::from_millis(100) {
            bail!("INCHART_SCRIPT_WALL must be at least 100ms");
        }
        let candles = parse_number(get("INCHART_SCRIPT_CANDLES"), "INCHART_SCRIPT_CANDLES", 1000)?;
        if !(10..=5000).contains(&candles) {
            bail!("INCHART_SCRIPT_CANDLES must be between 10 and 5000 (got {candles})");
        }
        let warm = match get("INCHART_SCRIPT_WARM").as_deref() {
            None | Some("true" | "1" | "on") => true,
            Some("false" | "0" | "off") => false,
            Some(other) => bail!("INCHART_SCRIPT_WARM must be true or false (got {other})"),
        };
        let worker_bin = match get("INCHART_WORKER_BIN") {
            Some(path) => PathBuf::from(path),
            None => default_worker_bin(),
        };
        let allow_missing: Vec<String> = get("INCHART_SCRIPT_ALLOW_MISSING")
            .unwrap_or_default()
            .split(',')
            .map(|layer| layer.trim().to_owned())
            .filter(|layer| !layer.is_empty())
            .collect();
        if let Some(other) = allow_missing
            .iter()
            .find(|layer| !matches!(layer.as_str(), "cgroups" | "landlock"))
        {
            bail!("INCHART_SCRIPT_ALLOW_MISSING: unknown layer {other:?} (cgroups, landlock)");
        }
        let sandbox_uid = match get("INCHART_SCRIPT_SANDBOX_UID") {
            None => None,
            Some(uid) => match uid.parse::<u32>() {
                Ok(uid) if uid != 0 => Some(uid),
                _ => bail!("INCHART_SCRIPT_SANDBOX_UID must be a uid other than 0 (got {uid:?})"),
            },
        };
        Ok(Self {
            worker_bin,
            worker_site: get("INCHART_WORKER_SITE").map(PathBuf::from),
            workers: workers as usize,
            warm,
            user_workers: user_workers as usize,
            user_queue: parse_number(get("INCHART_SCRIPT_QUEUE"), "INCHART_SCRIPT_QUEUE", 4)?.max(1) as usize,
            wall,
            memory_mb: parse_number(get("INCHART_SCRIPT_MEMORY_MB"), "INCHART_SCRIPT_MEMORY_MB", 256)?
                .max(16),
            candles,
            allow_missing,
            sandbox_uid,
        })
    }
}

impl Settings {
    /// Refuses settings that disagree with each other.
    fn checked(self) -> anyhow::Result<Self> {
        for (name, limits) in [
            ("INCHART_FREE_LIMITS", &self.billing.free),
            ("INCHART_PRO_LIMITS", &self.billing.pro),
        ] {
            if Duration::from_millis(limits.script_cpu_ms.into()) > self.scripts.wall {
                bail!(
                    "{name}: cpu must be at most INCHART_SCRIPT_WALL ({:?})",
                    self.scripts.wall
                );
            }
        }
        Ok(self)
    }
}

impl BillingSettings {
    pub const FREE: &str = "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,runs=20,drawings=50,\
                            backtest=2000,backtests=10,backtest_cpu=10s,alerts=5,firings=100,webhooks=no";
    pub const PRO: &str = "scripts=50,live=10,watchlist=100,history=20000,cpu=4s,runs=120,drawings=2000,\
                           backtest=1100000,backtests=120,backtest_cpu=60s,alerts=500,firings=10000,webhooks=yes";

    fn read(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        // `runs`, `drawings` and the backtests' came later: a setting
        // written without them keeps the plan's default.
        let limits = |name: &str, default: &str| {
            let defaults = parse_limits(default, None)?;
            parse_limits(&get(name).unwrap_or_else(|| default.to_string()), Some(defaults))
                .with_context(|| name.to_string())
        };
        let stripe = match get("INCHART_STRIPE_SECRET_KEY") {
            None => {
                for name in [
                    "INCHART_STRIPE_WEBHOOK_SECRET",
                    "INCHART_STRIPE_PRICE_MONTHLY",
                    "INCHART_STRIPE_PRICE_YEARLY",
                ] {
                    if get(name).is_some() {
                        bail!(
                            "{name} is set but INCHART_STRIPE_SECRET_KEY is not: set both, or neither to turn billing off"
                        );
                    }
                }
                None
            }
            Some(secret_key) => {
                let need = |name: &str| {
                    get(name)
                        .with_context(|| format!("INCHART_STRIPE_SECRET_KEY is set, so {name} must be too"))
                };
                let webhook_secret = need("INCHART_STRIPE_WEBHOOK_SECRET")?;
                let price_monthly = need("INCHART_STRIPE_PRICE_MONTHLY")?;
                let api_base =
                    get("INCHART_STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com/".into());
                if !api_base.starts_with("https://") && !api_base.starts_with("http://") {
                    bail!("INCHART_STRIPE_API_BASE must be an http(s) URL (got {api_base:?})");
                }
                Some(StripeSettings {
                    secret_key: SecretString::from(secret_key),
                    webhook_secret: SecretString::from(webhook_secret),
                    api_base,
                    price_monthly,
                    price_yearly: get("INCHART_STRIPE_PRICE_YEARLY"),
                })
            }
        };
        Ok(Self {
            free: limits("INCHART_FREE_LIMITS", Self::FREE)?,
            pro: limits("INCHART_PRO_LIMITS", Self::PRO)?,
            stripe,
        })
    }
}

impl NewsSettings {
    fn read(
        get: &impl Fn(&str) -> Option<String>,
        duration: &impl Fn(&str, &str) -> anyhow::Result<Duration>,
    ) -> anyhow::Result<Self> {
        let marketaux = match get("INCHART_MARKETAUX_TOKEN") {
            None => None,
            Some(token) => {
                let api_base =
                    get("INCHART_MARKETAUX_API_BASE").unwrap_or_else(|| "https://api.marketaux.com".into());
                if !api_base.starts_with("https://") && !api_base.starts_with("http://") {
                    bail!("INCHART_MARKETAUX_API_BASE must be an http(s) URL (got {api_base:?})");
                }
                Some(MarketauxSettings {
                    token: SecretString::from(token),
                    api_base,
                })
            }
        };
        let ttl = duration("INCHART_NEWS_TTL", "30m")?;
        if ttl < Duration::from_secs(60) {
            bail!("INCHART_NEWS_TTL must be at least 1m: Marketaux allows few requests");
        }
        let daily_budget = parse_number(get("INCHART_NEWS_DAILY_BUDGET"), "INCHART_NEWS_DAILY_BUDGET", 90)?;
        if daily_budget == 0 {
            bail!(
                "INCHART_NEWS_DAILY_BUDGET must be at least 1 (unset INCHART_MARKETAUX_TOKEN to turn news off)"
            );
        }
        let per_request = parse_number(get("INCHART_NEWS_PER_REQUEST"), "INCHART_NEWS_PER_REQUEST", 3)?;
        if !(1..=100).contains(&per_request) {
            bail!("INCHART_NEWS_PER_REQUEST must be between 1 and 100 (got {per_request})");
        }
        let language = get("INCHART_NEWS_LANGUAGE").unwrap_or_else(|| "en".into());
        if !language
            .split(',')
            .all(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase()))
        {
            bail!("INCHART_NEWS_LANGUAGE must be language codes like en or en,de (got {language:?})");
        }
        Ok(Self {
            marketaux,
            ttl,
            daily_budget,
            per_request,
            language,
        })
    }
}

/// `scripts=3,live=1,watchlist=10,history=2000,cpu=1s,runs=20,drawings=50`:
/// the first five keys always, `runs` (script runs a minute), `drawings`
/// (kept per account), `backtest` (candles a backtest trades over),
/// `backtests` (an hour), `backtest_cpu`, `alerts` (active at once),
/// `firings` (alert firings a day) and `webhooks` (`yes` or `no`) unless
/// `defaults` stand in for them.
fn parse_limits(text: &str, defaults: Option<Limits>) -> anyhow::Result<Limits> {
    let (mut scripts, mut live, mut watchlist, mut history, mut cpu) = (None, None, None, None, None);
    let (mut runs, mut drawings) = (None, None);
    let (mut backtest, mut backtests, mut backtest_cpu) = (None, None, None);
    let (mut alerts, mut firings, mut webhooks) = (None, None, None);
    for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .with_context(|| format!("{part:?} is not key=value"))?;
        let number = || -> anyhow::Result<u32> {
            value
                .trim()
                .parse()
                .with_context(|| format!("{key} must be a whole number (got {value:?})"))
        };
        let slot = match key.trim() {
            "scripts" => &mut scripts,
            "live" => &mut live,
            "watchlist" => &mut watchlist,
            "history" => &mut history,
            "runs" => &mut runs,
            "drawings" => &mut drawings,
            "backtest" => &mut backtest,
            "backtests" => &mut backtests,
            "alerts" => &mut alerts,
            "firings" => &mut firings,
            "webhooks" => {
                webhooks = Some(match value.trim() {
                    "yes" => true,
                    "no" => false,
                    other => bail!("webhooks must be yes or no (got {other:?})"),
                });
                continue;
            }
            "backtest_cpu" => {
                let millis = parse_duration(value)
                    .with_context(|| format!("backtest_cpu must be a duration like 10s (got {value:?})"))?
                    .as_millis();
                if !(100..=600_000).contains(&millis) {
                    bail!("backtest_cpu must be between 100ms and 10m (got {value})");
                }
                backtest_cpu = Some(millis as u32);
                continue;
            }
            "cpu" => {
                let millis = parse_duration(value)
                    .with_context(|| format!("cpu must be a duration like 1s (got {value:?})"))?
                    .as_millis();
                if !(100..=60_000).contains(&millis) {
                    bail!("cpu must be between 100ms and 60s (got {value})");
                }
                cpu = Some(millis as u32);
                continue;
            }
            other => {
                bail!(
                    "unknown limit {other:?} (scripts, live, watchlist, history, cpu, runs, drawings, \
                     backtest, backtests, backtest_cpu, alerts, firings, webhooks)"
                )
            }
        };
        *slot = Some(number()?);
    }
    let history_candles = history.context("history is missing")?;
    if !(10..=1_000_000).contains(&history_candles) {
        bail!("history must be between 10 and 1000000 candles (got {history_candles})");
    }
    let runs_per_minute = runs
        .or(defaults.map(|limits| limits.runs_per_minute))
        .context("runs is missing")?;
    if !(1..=10_000).contains(&runs_per_minute) {
        bail!("runs must be between 1 and 10000 a minute (got {runs_per_minute})");
    }
    let drawings = drawings
        .or(defaults.map(|limits| limits.drawings))
        .context("drawings is missing")?;
    if drawings > 1_000_000 {
        bail!("drawings must be at most 1000000 (got {drawings})");
    }
    let backtest_candles = backtest
        .or(defaults.map(|limits| limits.backtest_candles))
        .context("backtest is missing")?;
    if !(10..=5_000_000).contains(&backtest_candles) {
        bail!("backtest must be between 10 and 5000000 candles (got {backtest_candles})");
    }
    let backtests_per_hour = backtests
        .or(defaults.map(|limits| limits.backtests_per_hour))
        .context("backtests is missing")?;
    if !(1..=100_000).contains(&backtests_per_hour) {
        bail!("backtests must be between 1 and 100000 an hour (got {backtests_per_hour})");
    }
    let backtest_cpu_ms = backtest_cpu
        .or(defaults.map(|limits| limits.backtest_cpu_ms))
        .context("backtest_cpu is missing")?;
    let alerts = alerts
        .or(defaults.map(|limits| limits.alerts))
        .context("alerts is missing")?;
    if alerts > 1_000_000 {
        bail!("alerts must be at most 1000000 (got {alerts})");
    }
    let alert_firings_per_day = firings
        .or(defaults.map(|limits| limits.alert_firings_per_day))
        .context("firings is missing")?;
    let webhooks = webhooks
        .or(defaults.map(|limits| limits.webhooks))
        .context("webhooks is missing")?;
    Ok(Limits {
        scripts: scripts.context("scripts is missing")?,
        live_scripts: live.context("live is missing")?,
        watchlist: watchlist.context("watchlist is missing")?,
        history_candles,
        script_cpu_ms: cpu.context("cpu is missing")?,
        runs_per_minute,
        drawings,
        backtest_candles,
        backtests_per_hour,
        backtest_cpu_ms,
        alerts,
        alert_firings_per_day,
        webhooks,
    })
}

/// `inchart-worker` beside the running binary; test binaries live one
/// folder further down (`target/debug/deps`), so their parent is tried too.
fn default_worker_bin() -> PathBuf {
    let name = "inchart-worker";
    let Ok(exe) = std::env::current_exe() else {
        return PathBuf::from(name);
    };
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| exe.with_file_name(name))
}

impl AuthSettings {
    fn read(
        get: &impl Fn(&str) -> Option<String>,
        duration: &impl Fn(&str, &str) -> anyhow::Result<Duration>,
        listen: SocketAddr,
    ) -> anyhow::Result<Self> {
        let public_url = get("INCHART_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        let https = public_url.starts_with("https://");
        if !https && !public_url.starts_with("http://") {
            bail!("INCHART_PUBLIC_URL must start with https:// or http:// (got {public_url:?})");
        }
        let cookie_secure = match get("INCHART_COOKIE_SECURE").as_deref() {
            None => https,
            Some("true" | "1" | "on") => true,
            Some("false" | "0" | "off") => false,
            Some(other) => bail!("INCHART_COOKIE_SECURE must be true or false (got {other})"),
        };
        let jwt_secret = get("INCHART_JWT_SECRET").map(SecretString::from);
        if let Some(secret) = &jwt_secret
            && secret.expose_secret().len() < 32
        {
            bail!("INCHART_JWT_SECRET must be at least 32 bytes; `openssl rand -base64 48` makes one");
        }
        let limit = |name: &str, default: u32| -> anyhow::Result<u32> {
            let value = parse_number(get(name), name, default)?;
            if value == 0 {
                bail!("{name} must be at least 1");
            }
            Ok(value)
        };
        let trust_proxy = match get("INCHART_TRUST_PROXY").as_deref() {
            None | Some("false" | "0" | "off") => false,
            Some("true" | "1" | "on") => true,
            Some(other) => bail!("INCHART_TRUST_PROXY must be true or false (got {other})"),
        };
        let access_ttl = duration("INCHART_ACCESS_TTL", "15m")?;
        if access_ttl < Duration::from_secs(1) {
            bail!("INCHART_ACCESS_TTL must be at least 1s");
        }
        Ok(Self {
            public_url,
            cookie_secure,
            jwt_secret,
            access_ttl,
            session_ttl: duration("INCHART_SESSION_TTL", "30d")?,
            refresh_grace: duration("INCHART_REFRESH_GRACE", "10s")?,
            smtp_url: get("INCHART_SMTP_URL").map(SecretString::from),
            mail_from: get("INCHART_MAIL_FROM").unwrap_or_else(|| "InChart <no-reply@localhost>".into()),
            login_limit_account: limit("INCHART_LOGIN_LIMIT", 5)?,
            login_limit_ip: limit("INCHART_LOGIN_IP_LIMIT", 30)?,
            signup_limit: limit("INCHART_SIGNUP_LIMIT", 20)?,
            login_window: duration("INCHART_LOGIN_WINDOW", "15m")?,
            trust_proxy,
        })
    }
}

fn parse_symbols(raw: &str) -> anyhow::Result<Vec<Symbol>> {
    let mut symbols = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|part| !part.is_empty()) {
        let symbol =
            Symbol::parse(part).with_context(|| format!("INCHART_SYMBOLS: {part:?} is not a symbol"))?;
        if !symbols.contains(&symbol) {
            symbols.push(symbol);
        }
    }
    if symbols.is_empty() {
        bail!("INCHART_SYMBOLS must name at least one symbol, like BTCUSDT");
    }
    Ok(symbols)
}

/// `30d`, `12h`, `15m`, `90s` or `500ms`.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| anyhow::anyhow!("no unit"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().context("no number")?;
    let millis = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("unknown unit {unit:?}"),
    };
    Ok(Duration::from_millis(number.saturating_mul(millis)))
}

fn parse_number(raw: Option<String>, name: &str, default: u32) -> anyhow::Result<u32> {
    match raw {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{name} must be a whole number (got {text:?})")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn script_limits_have_safe_defaults_and_bad_values_are_refused() {
        let defaults = settings(&[]).unwrap().scripts;
        assert!(defaults.warm && defaults.workers >= 2);
        assert_eq!(defaults.user_workers, defaults.workers / 2);
        assert_eq!(defaults.wall, Duration::from_secs(5));
        assert_eq!(
            (defaults.memory_mb, defaults.candles, defaults.user_queue),
            (256, 1000, 4)
        );
        for bad in [
            ("INCHART_SCRIPT_WARM", "flase"),
            ("INCHART_SCRIPT_WORKERS", "0"),
            ("INCHART_SCRIPT_CANDLES", "9000"),
            ("INCHART_SCRIPT_WALL", "10ms"),
        ] {
            let error = settings(&[bad]).unwrap_err().to_string();
            assert!(error.contains(bad.0), "{bad:?}: {error}");
        }
        let lazy = settings(&[
            ("INCHART_SCRIPT_WARM", "false"),
            ("INCHART_SCRIPT_USER_WORKERS", "99"),
        ])
        .unwrap()
        .scripts;
        assert!(!lazy.warm);
        assert_eq!(
            lazy.user_workers, lazy.workers,
            "a user holds at most every worker"
        );
    }

    #[test]
    fn plans_read_their_limits_and_billing_is_off_without_stripe() {
        let billing = settings(&[]).unwrap().billing;
        assert!(billing.stripe.is_none());
        assert_eq!(
            billing.free,
            Limits {
                scripts: 3,
                live_scripts: 1,
                watchlist: 10,
                history_candles: 2000,
                script_cpu_ms: 1000,
                runs_per_minute: 20,
                drawings: 50,
                backtest_candles: 2000,
                backtests_per_hour: 10,
                backtest_cpu_ms: 10_000,
                alerts: 5,
                alert_firings_per_day: 100,
                webhooks: false,
            }
        );
        assert!(billing.pro.scripts > billing.free.scripts);
        assert_eq!((billing.pro.runs_per_minute, billing.pro.drawings), (120, 2000));
        // Settings written before `runs` existed keep each plan's default.
        let custom = settings(&[
            (
                "INCHART_FREE_LIMITS",
                "cpu=500ms, history=100,scripts=1,live=0,watchlist=2",
            ),
            (
                "INCHART_PRO_LIMITS",
                "scripts=50,live=10,watchlist=100,history=20000,cpu=4s",
            ),
        ])
        .unwrap()
        .billing;
        assert_eq!(
            (
                custom.free.scripts,
                custom.free.live_scripts,
                custom.free.script_cpu_ms,
                custom.free.runs_per_minute,
                custom.pro.runs_per_minute,
                custom.free.drawings,
                custom.pro.drawings,
            ),
            (1, 0, 500, 20, 120, 50, 2000)
        );
        let tight = settings(&[(
            "INCHART_FREE_LIMITS",
            "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,runs=2",
        )])
        .unwrap()
        .billing;
        assert_eq!((tight.free.runs_per_minute, tight.pro.runs_per_minute), (2, 120));
        let few = settings(&[(
            "INCHART_FREE_LIMITS",
            "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,drawings=3",
        )])
        .unwrap()
        .billing;
        assert_eq!((few.free.drawings, few.free.runs_per_minute), (3, 20));
        for (name, value, says) in [
            ("INCHART_FREE_LIMITS", "scripts=3", "is missing"),
            (
                "INCHART_FREE_LIMITS",
                "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,disk=9",
                "unknown limit",
            ),
            (
                "INCHART_PRO_LIMITS",
                "scripts=x,live=1,watchlist=10,history=2000,cpu=1s",
                "whole number",
            ),
            (
                "INCHART_PRO_LIMITS",
                "scripts=3,live=1,watchlist=10,history=2000,cpu=9s",
                "INCHART_SCRIPT_WALL",
            ),
            (
                "INCHART_FREE_LIMITS",
                "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,runs=0",
                "runs must be between 1 and 10000",
            ),
            (
                "INCHART_PRO_LIMITS",
                "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,runs=many",
                "runs must be a whole number",
            ),
            (
                "INCHART_FREE_LIMITS",
                "scripts=3,live=1,watchlist=10,history=2000,cpu=1s,drawings=lots",
                "drawings must be a whole number",
            ),
        ] {
            let error = format!("{:#}", settings(&[(name, value)]).unwrap_err());
            assert!(error.contains(name) && error.contains(says), "{value}: {error}");
        }
    }

    #[test]
    fn news_is_off_without_a_token_and_frugal_with_one() {
        let news = settings(&[]).unwrap().news;
        assert!(news.marketaux.is_none());
        assert_eq!(
            (news.ttl, news.daily_budget, news.per_request),
            (Duration::from_secs(1800), 90, 3)
        );
        let news = settings(&[("INCHART_MARKETAUX_TOKEN", "t0ken")]).unwrap().news;
        assert_eq!(news.marketaux.unwrap().api_base, "https://api.marketaux.com");
        for (name, value) in [
            ("INCHART_NEWS_TTL", "10s"),
            ("INCHART_NEWS_DAILY_BUDGET", "0"),
            ("INCHART_NEWS_PER_REQUEST", "500"),
            ("INCHART_NEWS_LANGUAGE", "english"),
            ("INCHART_MARKETAUX_API_BASE", "api.marketaux.com"),
        ] {
            let error = settings(&[("INCHART_MARKETAUX_TOKEN", "t0ken"), (name, value)]).unwrap_err();
            assert!(format!("{error:#}").contains(name), "{name}: {error:#}");
        }
    }

    #[test]
    fn stripe_is_all_or_nothing() {
        let error = format!(
            "{:#}",
            settings(&[("INCHART_STRIPE_PRICE_MONTHLY", "price_1")]).unwrap_err()
        );
        assert!(error.contains("INCHART_STRIPE_SECRET_KEY"), "{error}");
        let error = format!(
            "{:#}",
            settings(&[("INCHART_STRIPE_SECRET_KEY", "sk_test_1")]).unwrap_err()
        );
        assert!(error.contains("INCHART_STRIPE_WEBHOOK_SECRET"), "{error}");
        let stripe = settings(&[
            ("INCHART_STRIPE_SECRET_KEY", "sk_test_1"),
            ("INCHART_STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("INCHART_STRIPE_PRICE_MONTHLY", "price_m"),
        ])
        .unwrap()
        .billing
        .stripe
        .unwrap();
        assert_eq!(stripe.api_base, "https://api.stripe.com/");
        assert_eq!(
            (stripe.price_monthly.as_str(), stripe.price_yearly),
            ("price_m", None)
        );
    }

    #[test]
    fn defaults_run_on_one_machine() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(settings.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert!(settings.redis_url.is_none());
        assert_eq!(settings.symbols.len(), 10);
        assert_eq!(settings.sim_history, 1000);
        assert_eq!(settings.feed, FeedChoice::Auto);
        assert_eq!(settings.backfill, Duration::from_secs(30 * 86_400));
        assert_eq!(settings.binance_rest_url, "https://api.binance.com");
    }

    #[test]
    fn durations_read_with_their_units() {
        let read = settings(&[("INCHART_BACKFILL", "2h"), ("INCHART_LEASE_TTL", "1500ms")]).unwrap();
        assert_eq!(read.backfill, Duration::from_secs(7200));
        assert_eq!(read.lease_ttl, Duration::from_millis(1500));
        let error = settings(&[("INCHART_BACKFILL", "2 weeks")]).unwrap_err();
        assert!(format!("{error:#}").contains("INCHART_BACKFILL must be a duration"));
    }

    #[test]
    fn symbols_are_normalised_and_deduplicated() {
        let settings = settings(&[("INCHART_SYMBOLS", "btcusdt, ETHUSDT,BTCUSDT")]).unwrap();
        let names: Vec<_> = settings.symbols.iter().map(Symbol::as_str).collect();
        assert_eq!(names, ["BTCUSDT", "ETHUSDT"]);
    }

    #[test]
    fn bad_values_say_which_setting_and_how_to_fix_it() {
        let error = settings(&[("INCHART_SYMBOLS", "BTC/USDT")]).unwrap_err();
        assert!(format!("{error:#}").contains("INCHART_SYMBOLS"));
        let error = settings(&[("INCHART_SIM_HISTORY", "lots")]).unwrap_err();
        assert!(format!("{error:#}").contains("INCHART_SIM_HISTORY must be a whole number"));
        let error = settings(&[("INCHART_LOG_FORMAT", "xml")]).unwrap_err();
        assert!(error.to_string().contains("pretty or json"));
    }

    #[test]
    fn cookies_are_secure_behind_https_and_the_jwt_key_is_long() {
        let local = settings(&[]).unwrap().auth;
        assert_eq!(local.public_url, "http://127.0.0.1:3000");
        assert!(!local.cookie_secure);
        let public = settings(&[("INCHART_PUBLIC_URL", "https://inchart.example/")])
            .unwrap()
            .auth;
        assert_eq!(public.public_url, "https://inchart.example");
        assert!(public.cookie_secure);
        let error = settings(&[("INCHART_JWT_SECRET", "short")]).unwrap_err();
        assert!(error.to_string().contains("at least 32 bytes"));
    }

    #[test]
    fn secrets_never_print() {
        let settings = settings(&[("DATABASE_URL", "postgres://inchart:hunter2@db/inchart")]).unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
