//! Binance's REST market data: klines and exchange info.
//!
//! Policy: never risk an IP ban. Every request's weight is counted against
//! the weight window's budget (a minute on Binance; the limit and window
//! are adopted from `exchangeInfo`, and the count refreshed from
//! `X-MBX-USED-WEIGHT-1M` on every answer); past [`BUDGET_SHARE`] of the
//! limit the client waits for the next window rather than send, and deep
//! history's reads wait already past [`BACKGROUND_SHARE`], so that the live
//! feed always finds weight left. A 429 or 418 stops every request until
//! its `Retry-After` has passed, and the call is tried again after it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use inchart_api::market::{Candle, Interval, Symbol};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::wire::{ExchangeInfo, KlineRow, Rejection, WeightLimit};
use crate::market::metrics::FeedMetrics as Metrics;
use crate::platform::clock::now_ms;

/// The share of the window's weight the client allows itself, leaving room
/// for clocks that disagree on when the window starts.
const BUDGET_SHARE: f64 = 0.8;
/// The share deep history's reads may use: the rest is the live feed's.
const BACKGROUND_SHARE: f64 = 0.5;
/// Rows per klines request: Binance's maximum.
pub const KLINES_PER_REQUEST: usize = 1000;
const KLINES_WEIGHT: u32 = 2;
const EXCHANGE_INFO_WEIGHT: u32 = 20;
/// How far our clock may be ahead of Binance's before a candle we think is
/// over might still be forming.
const CLOCK_SLACK_MS: i64 = 5_000;
/// How often one call is tried when told to back off.
const ATTEMPTS: u32 = 5;

/// A Binance REST client; clones share one weight budget.
#[derive(Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: Arc<str>,
    gate: Arc<Mutex<Gate>>,
    /// One request in flight at a time: a request already on its way when
    /// a 429 comes back would arrive during the back-off, which is what
    /// gets an IP banned.
    in_flight: Arc<tokio::sync::Semaphore>,
    /// Whether the exchange's own limit has been read from `exchangeInfo`.
    limits_known: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

/// The window's weight and any back-off the exchange asked for.
#[derive(Debug)]
struct Gate {
    limit: WeightLimit,
    /// The header reporting the window's weight (`x-mbx-used-weight-1m`).
    used_header: String,
    /// Which window `used` counts: the Unix time divided by its length.
    window: i64,
    used: u32,
    blocked_until: Option<Instant>,
}

impl Gate {
    fn window_ms(&self) -> i64 {
        i64::try_from(self.limit.window.as_millis())
            .unwrap_or(60_000)
            .max(1)
    }
}

/// One page of a series' older history ([`RestClient::history_before`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// Closed candles, checked, ascending.
    pub candles: Vec<Candle>,
    /// The open time of the oldest row Binance sent (kept or not): where
    /// the next page ends.
    pub oldest_row: Option<i64>,
    /// Binance sent less than a full page: it has nothing older, this
    /// is the series' beginning (its listing).
    pub reached_listing: bool,
}

impl RestClient {
    pub fn new(base: &str, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("inchart/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("while building the Binance HTTP client")?;
        Ok(Self {
            http,
            base: Arc::from(base.trim_end_matches('/')),
            gate: Arc::new(Mutex::new(Gate {
                limit: WeightLimit::DEFAULT,
                used_header: WeightLimit::DEFAULT.used_weight_header(),
                window: now_ms() / 60_000,
                used: 0,
                blocked_until: None,
            })),
            in_flight: Arc::new(tokio::sync::Semaphore::new(1)),
            limits_known: Arc::new(AtomicBool::new(false)),
            metrics,
        })
    }

    /// The exchange's symbols and limits; also adopts its weight limit.
    pub async fn exchange_info(&self) -> anyhow::Result<ExchangeInfo> {
        let body = self
            .get("/api/v3/exchangeInfo", &[], EXCHANGE_INFO_WEIGHT)
            .await?;
        let info: ExchangeInfo =
            serde_json::from_slice(&body).context("exchangeInfo is not in Binance's shape")?;
        if let Some(limit) = info.weight_limit() {
            let mut gate = self.lock();
            if gate.limit != limit {
                tracing::info!(
                    limit = limit.limit,
                    window_ms = limit.window.as_millis() as u64,
                    "adopting Binance's request weight limit"
                );
                gate.limit = limit;
                gate.used_header = limit.used_weight_header();
                gate.window = now_ms() / gate.window_ms();
            }
            self.limits_known.store(true, Ordering::Relaxed);
        }
        Ok(info)
    }

    /// Reads the exchange's weight limit once (before a long run of
    /// requests); until it answers, Binance's default is assumed.
    pub async fn learn_limits(&self) {
        if self.limits_known.load(Ordering::Relaxed) {
            return;
        }
        if let Err(error) = self.exchange_info().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "could not read Binance's weight limit; assuming its default"
            );
        }
    }

    /// Up to [`KLINES_PER_REQUEST`] klines of a series from `start` on,
    /// ascending. Rows that fail the checks are dropped and counted.
    pub async fn klines_from(
        &self,
        symbol: &Symbol,
        interval: Interval,
        start: i64,
    ) -> anyhow::Result<Vec<KlineRow>> {
        let query = [
            ("symbol", symbol.to_string()),
            ("interval", interval.as_str().to_string()),
            ("startTime", start.to_string()),
            ("limit", KLINES_PER_REQUEST.to_string()),
        ];
        let body = self.get("/api/v3/klines", &query, KLINES_WEIGHT).await?;
        serde_json::from_slice(&body)
            .with_context(|| format!("{symbol} {interval} klines are not in Binance's shape"))
    }

    /// Up to [`KLINES_PER_REQUEST`] klines of a series opening at or before
    /// `end`, the most recent of them, ascending (`endTime` without
    /// `startTime`). A background read: it leaves weight to the live feed.
    pub async fn klines_until(
        &self,
        symbol: &Symbol,
        interval: Interval,
        end: i64,
    ) -> anyhow::Result<Vec<KlineRow>> {
        let query = [
            ("symbol", symbol.to_string()),
            ("interval", interval.as_str().to_string()),
            ("endTime", end.to_string()),
            ("limit", KLINES_PER_REQUEST.to_string()),
        ];
        let body = self
            .get_with_share("/api/v3/klines", &query, KLINES_WEIGHT, BACKGROUND_SHARE)
            .await?;
        serde_json::from_slice(&body)
            .with_context(|| format!("{symbol} {interval} klines are not in Binance's shape"))
    }

    /// One page of a series' history opening before `before`, read
    /// backwards ([`RestClient::klines_until`]). Rows that fail the checks,
    /// that are out of order, or whose time is not over yet are dropped
    /// (the bad ones counted).
    pub async fn history_before(
        &self,
        symbol: &Symbol,
        interval: Interval,
        before: i64,
    ) -> anyhow::Result<HistoryPage> {
        let rows = self.klines_until(symbol, interval, before - 1).await?;
        let over_by = now_ms() - CLOCK_SLACK_MS;
        let mut candles: Vec<Candle> = Vec::with_capacity(rows.len());
        for row in &rows {
            let in_order = candles.last().is_none_or(|last| row.open_time() > last.open_time);
            if !in_order || row.open_time() >= before {
                self.metrics.binance_rejected(Rejection::BadTime);
                continue;
            }
            match row.to_candle(interval, true) {
                Ok(candle) if candle.open_time + interval.millis() <= over_by => candles.push(candle),
                Ok(_) => {}
                Err(rejection) => self.metrics.binance_rejected(rejection),
            }
        }
        Ok(HistoryPage {
            candles,
            oldest_row: rows.iter().map(KlineRow::open_time).min(),
            reached_listing: rows.len() < KLINES_PER_REQUEST,
        })
    }

    /// Every candle of a series from `start` up to the forming one. A row
    /// followed by a newer one is closed; the newest is closed only when its
    /// time is well over (otherwise its close arrives on the stream).
    pub async fn candles_since(
        &self,
        symbol: &Symbol,
        interval: Interval,
        start: i64,
    ) -> anyhow::Result<Vec<Candle>> {
        let mut candles: Vec<Candle> = Vec::new();
        let mut from = start;
        loop {
            let rows = self.klines_from(symbol, interval, from).await?;
            let full = rows.len() >= KLINES_PER_REQUEST;
            for row in &rows {
                if candles
                    .last()
                    .is_some_and(|last| row.open_time() <= last.open_time)
                {
                    self.metrics.binance_rejected(Rejection::BadTime);
                    continue;
                }
                match row.to_candle(interval, true) {
                    Ok(candle) => candles.push(candle),
                    Err(rejection) => self.metrics.binance_rejected(rejection),
                }
            }
            match (full, candles.last()) {
                (true, Some(last)) => from = last.open_time + interval.millis(),
                _ => break,
            }
        }
        if let Some(newest) = candles.last_mut() {
            // Long over by our clock (with room for clocks that disagree),
            // it is closed; otherwise its close comes on the stream.
            let over = newest.open_time + interval.millis() + CLOCK_SLACK_MS <= now_ms();
            newest.closed = over;
        }
        Ok(candles)
    }

    /// Whether Binance answers at all (weight 1).
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.get("/api/v3/ping", &[], 1).await.map(drop)
    }

    async fn get(&self, path: &str, query: &[(&str, String)], weight: u32) -> anyhow::Result<Vec<u8>> {
        self.get_with_share(path, query, weight, BUDGET_SHARE).await
    }

    /// A request that waits for the next window once `share` of this one's
    /// weight is used.
    async fn get_with_share(
        &self,
        path: &str,
        query: &[(&str, String)],
        weight: u32,
        share: f64,
    ) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        for attempt in 1..=ATTEMPTS {
            let _turn = self
                .in_flight
                .acquire()
                .await
                .context("the Binance client is shut down")?;
            self.wait_for_budget(weight, share).await;
            self.metrics.binance_rest_request();
            let response = self
                .http
                .get(&url)
                .query(query)
                .send()
                .await
                .with_context(|| format!("while calling Binance {path}"))?;
            let status = response.status();
            self.note_weight(response.headers());
            if status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 418 {
                let wait = retry_after(response.headers());
                self.metrics.binance_rate_limited();
                tracing::warn!(
                    %status,
                    wait_ms = wait.as_millis() as u64,
                    attempt,
                    "Binance asked us to back off; every request waits"
                );
                self.block_for(wait);
                continue;
            }
            let body = response
                .bytes()
                .await
                .with_context(|| format!("while reading Binance {path}"))?;
            if status.is_client_error() {
                return Err(Refused {
                    path: path.to_string(),
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
                }
                .into());
            }
            if !status.is_success() {
                bail!(
                    "Binance {path} answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                );
            }
            return Ok(body.to_vec());
        }
        bail!("Binance {path} kept asking us to back off ({ATTEMPTS} attempts)")
    }

    /// Sleeps until a request of `weight` fits in `share` of the window's
    /// limit: after any back-off, and in the next window when this one's
    /// budget is spent. Then counts it.
    async fn wait_for_budget(&self, weight: u32, share: f64) {
        loop {
            let wait = {
                let mut gate = self.lock();
                let now = Instant::now();
                let now_ms = now_ms();
                let window_ms = gate.window_ms();
                let window = now_ms / window_ms;
                if window != gate.window {
                    gate.window = window;
                    gate.used = 0;
                }
                let budget = (f64::from(gate.limit.limit) * share) as u32;
                match gate.blocked_until {
                    Some(until) if until > now => until - now,
                    _ if gate.used + weight > budget => {
                        let to_next = (window + 1) * window_ms - now_ms;
                        Duration::from_millis(u64::try_from(to_next).unwrap_or(0)) + Duration::from_millis(50)
                    }
                    _ => {
                        gate.blocked_until = None;
                        gate.used += weight;
                        return;
                    }
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    fn note_weight(&self, headers: &HeaderMap) {
        let mut gate = self.lock();
        let used = headers
            .get(gate.used_header.as_str())
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse::<u32>().ok());
        if let Some(used) = used {
            gate.window = now_ms() / gate.window_ms();
            gate.used = used;
        }
    }

    fn block_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut gate = self.lock();
        gate.blocked_until = Some(gate.blocked_until.map_or(until, |at| at.max(until)));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gate> {
        self.gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Binance refused the request itself (a 4xx other than a rate limit, such
/// as `-1121 Invalid symbol`): asking again will not help.
#[derive(Debug, thiserror::Error)]
#[error("Binance {path} refused the request ({status}): {body}")]
pub struct Refused {
    pub path: String,
    pub status: u16,
    pub body: String,
}

/// `Retry-After` in seconds; a minute when it is missing, as Binance's
/// weight window is a minute.
fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(60), Duration::from_secs)
}
