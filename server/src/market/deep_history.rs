//! Deep history: years of a series' candles, loaded on demand into the
//! candle store for backtests, from Binance's REST klines (or drawn by the
//! simulated feed when that is what the store holds), with progress as it
//! loads.
//!
//! Policies:
//! - One fetch per series, however many ask. Within an instance, concurrent
//!   [`DeepHistory::ensure`] calls for a series share one task and its
//!   progress channel (a call for older candles moves the running fetch's
//!   goal back). Across instances, the fetch runs where the series' Redis
//!   lease is held (`<prefix>:history:<SYMBOL>:<interval>`, `SET NX PX`,
//!   renewed like the ingestion lease); the holder publishes its progress
//!   (`…:progress`), and the other instances report it, polling, until the
//!   stored range covers what they were asked for, or take the lease over
//!   when it is free and they still need older candles. Without Redis
//!   there is one instance, and this happens in process.
//! - The stored range stays contiguous: pages are read backwards from the
//!   oldest stored candle, 1000 at a time, and each is written in its own
//!   transaction as it comes (the next page is read meanwhile), so a fetch
//!   cut short leaves no hole and the next one resumes from the oldest
//!   stored candle.
//! - Where Binance has nothing older (the series' listing), that is
//!   recorded in the store, and nothing older is asked for again.
//! - Within Binance's limits: the exchange's weight limit is adopted
//!   before a fetch, and deep reads use at most half of it, leaving the
//!   rest to the live feed (`RestClient::klines_until`).
//! - The simulated feed's older candles are drawn (deterministically, the
//!   same candles every time), paged and reported the same way, back to
//!   Binance's opening day.
//! - A failure reaches the trader as a sentence ([`Loading::Failed`]); the
//!   cause goes to the log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use inchart_api::market::{Candle, FeedSource, Interval, Symbol};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::binance::rest::{KLINES_PER_REQUEST, Refused, RestClient};
use super::candle_store::CandleStore;
use super::lease::Lease;
use super::metrics::FeedMetrics;
use super::simulated;
use super::window::SeriesKey;
use crate::platform::clock::now_ms;
use crate::platform::redis::Redis;

/// How far a deep-history load has come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Candles fetched (and stored) so far.
    pub have: u64,
    /// Candles from the asked-for start to the oldest stored one when the
    /// load began (fewer once the series' listing turns out to be later).
    pub want: u64,
    pub state: Loading,
}

/// Where a deep-history load stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Loading {
    Fetching,
    /// Every candle from the asked-for start (or the series' listing) up
    /// to the stored ones is in the store.
    Done,
    /// The load stopped; a sentence for the trader.
    Failed(String),
}

impl Progress {
    fn done() -> Self {
        Self {
            have: 0,
            want: 0,
            state: Loading::Done,
        }
    }
}

/// Timing of the cross-instance coordination.
#[derive(Debug, Clone, Copy)]
pub struct HistorySettings {
    /// The series lease's time to live (renewed every third of it).
    pub lease_ttl: Duration,
    /// How often an instance waiting for another's fetch looks again.
    pub poll: Duration,
}

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            lease_ttl: Duration::from_secs(10),
            poll: Duration::from_millis(250),
        }
    }
}

/// Binance opened on 2017-07-14 (UTC): the simulated feed's listing.
const SIMULATED_LISTING_MS: i64 = 1_499_990_400_000;
/// Tries of one page (read or write) before the load fails.
const ATTEMPTS: u32 = 3;
/// What the trader reads when a load fails.
const FAILED: &str = "The older candles could not be loaded from the exchange; try again in a few minutes.";
const FEED_CHANGED: &str = "The market's data source changed while older candles were loading; try again.";

/// Deep history, as every request handler holds it (cheap to clone).
#[derive(Clone)]
pub struct DeepHistory {
    shared: Arc<Shared>,
}

struct Shared {
    store: CandleStore,
    rest: RestClient,
    redis: Option<Redis>,
    prefix: String,
    settings: HistorySettings,
    metrics: Arc<FeedMetrics>,
    /// This instance's load of each series, while one runs.
    running: Mutex<HashMap<SeriesKey, Running>>,
}

struct Running {
    progress: watch::Sender<Progress>,
    /// The oldest open time asked for so far.
    goal: Arc<AtomicI64>,
}

/// How far back a series is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reach {
    oldest: Option<i64>,
    /// The series' first candle, once the stored range reaches it.
    listing: Option<i64>,
}

impl Reach {
    fn covers(&self, goal: i64) -> bool {
        self.listing.is_some() || self.oldest.is_some_and(|oldest| oldest <= goal)
    }

    /// Where the next page ends: the oldest stored candle, or the forming
    /// one when none is stored.
    fn anchor(&self, interval: Interval) -> i64 {
        self.oldest.unwrap_or_else(|| interval.open_time_of(now_ms()))
    }
}

/// Candles of `interval` from `goal` up to (not including) `anchor`.
fn between(goal: i64, anchor: i64, interval: Interval) -> u64 {
    u64::try_from((anchor - goal).max(0) / interval.millis()).unwrap_or(0)
}

/// The progress published in Redis by the instance that fetches.
#[derive(Debug, Serialize, Deserialize)]
struct Published {
    have: u64,
    want: u64,
    goal: i64,
}

/// A page read (or drawn), not yet written.
struct Page {
    candles: Vec<Candle>,
    /// The series' first candle, when this page reaches it.
    listing: Option<i64>,
    /// Where the next page ends: this page's oldest open time.
    next: i64,
}

/// Why a fetch stopped early, in the trader's words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Stopped(&'static str);

impl DeepHistory {
    pub fn new(
        store: CandleStore,
        rest: RestClient,
        redis: Option<&Redis>,
        prefix: &str,
        settings: HistorySettings,
        metrics: Arc<FeedMetrics>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                rest,
                redis: redis.cloned(),
                prefix: prefix.to_string(),
                settings,
                metrics,
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Makes sure every candle of the series from `from` (or from its
    /// listing, if later) up to the stored ones is in the candle store.
    /// The receiver follows the load until it is `Done` or `Failed`; when
    /// nothing is missing it holds `Done` already.
    pub async fn ensure(
        &self,
        symbol: &Symbol,
        interval: Interval,
        from: i64,
    ) -> anyhow::Result<watch::Receiver<Progress>> {
        let from = interval.open_time_of(from);
        let key = SeriesKey::new(symbol, interval);
        if let Some(progress) = self.join(&key, from) {
            return Ok(progress);
        }
        let reach = self.reach(symbol, interval).await?;
        if reach.covers(from) {
            return Ok(watch::channel(Progress::done()).1);
        }
        if self.shared.store.feed_source().await?.is_none() {
            bail!("no market data is stored yet, so there is no history to extend");
        }
        let mut running = self.lock();
        if let Some(joined) = running.get(&key) {
            // Another call started the load meanwhile.
            return Ok(Self::joined(joined, from, interval));
        }
        let (sender, receiver) = watch::channel(Progress {
            have: 0,
            want: between(from, reach.anchor(interval), interval),
            state: Loading::Fetching,
        });
        let goal = Arc::new(AtomicI64::new(from));
        running.insert(
            key.clone(),
            Running {
                progress: sender.clone(),
                goal: goal.clone(),
            },
        );
        drop(running);
        tokio::spawn(self.clone().run(key, sender, goal));
        Ok(receiver)
    }

    /// Follows this instance's load of the series, if one runs, moving its
    /// goal back to `from`.
    fn join(&self, key: &SeriesKey, from: i64) -> Option<watch::Receiver<Progress>> {
        let running = self.lock();
        running
            .get(key)
            .map(|running| Self::joined(running, from, key.interval))
    }

    fn joined(running: &Running, from: i64, interval: Interval) -> watch::Receiver<Progress> {
        let before = running.goal.fetch_min(from, Ordering::SeqCst);
        if from < before {
            running
                .progress
                .send_modify(|progress| progress.want += between(from, before, interval));
        }
        running.progress.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SeriesKey, Running>> {
        self.shared.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn reach(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<Reach> {
        Ok(Reach {
            oldest: self.shared.store.oldest_open_time(symbol, interval).await?,
            listing: self.shared.store.listing(symbol, interval).await?,
        })
    }

    /// The load of one series: until its goal is covered, even if the goal
    /// moves back meanwhile.
    async fn run(self, key: SeriesKey, progress: watch::Sender<Progress>, goal: Arc<AtomicI64>) {
        let mut ending = Ending {
            history: &self,
            key: &key,
            progress: &progress,
            ended: false,
        };
        loop {
            let result = self.load(&key, &progress, &goal).await;
            if ending.end(result, &goal) {
                return;
            }
        }
    }

    /// Brings the series' stored range back to the goal: fetching while
    /// this instance holds the series' lease, following the holder's
    /// progress while another does.
    async fn load(
        &self,
        key: &SeriesKey,
        progress: &watch::Sender<Progress>,
        goal: &AtomicI64,
    ) -> anyhow::Result<Reach> {
        let (symbol, interval) = (&key.symbol, key.interval);
        let settings = self.shared.settings;
        let lease = Lease::for_key(
            self.shared.redis.as_ref(),
            self.lease_key(key),
            "deep history",
            settings.lease_ttl,
        );
        let mut redis_failing_since: Option<Instant> = None;
        loop {
            let reach = self.reach(symbol, interval).await?;
            if reach.covers(goal.load(Ordering::SeqCst)) {
                return Ok(reach);
            }
            match lease.acquire().await {
                Ok(true) => {
                    redis_failing_since = None;
                    let fetched = tokio::select! {
                        fetched = self.fetch(key, progress, goal) => Some(fetched),
                        () = lease.hold() => None,
                    };
                    lease.release().await;
                    match fetched {
                        Some(result) => result?,
                        None => tracing::warn!(%symbol, %interval, "lost the deep-history lease; following"),
                    }
                }
                Ok(false) => {
                    redis_failing_since = None;
                    self.follow(key, progress, goal.load(Ordering::SeqCst)).await;
                    tokio::time::sleep(settings.poll).await;
                }
                Err(error) => {
                    let since = *redis_failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= settings.lease_ttl {
                        return Err(error.context("Redis did not answer for the deep-history lease"));
                    }
                    tokio::time::sleep(settings.poll).await;
                }
            }
        }
    }

    fn lease_key(&self, key: &SeriesKey) -> String {
        format!(
            "{}:history:{}:{}",
            self.shared.prefix,
            key.symbol.as_str(),
            key.interval.as_str()
        )
    }

    fn progress_key(&self, key: &SeriesKey) -> String {
        format!("{}:progress", self.lease_key(key))
    }

    /// Reports the fetching instance's progress as this load's.
    async fn follow(&self, key: &SeriesKey, progress: &watch::Sender<Progress>, goal: i64) {
        let Some(redis) = &self.shared.redis else {
            return;
        };
        let mut connection = redis.connection();
        let read: redis::RedisResult<Option<String>> = connection.get(self.progress_key(key)).await;
        let published = match read {
            Ok(Some(text)) => serde_json::from_str::<Published>(&text).ok(),
            Ok(None) => None,
            Err(error) => {
                tracing::debug!(%error, "could not read another instance's deep-history progress");
                None
            }
        };
        if let Some(published) = published {
            // The holder may stop short of this load's goal; the rest is
            // still wanted (this instance fetches it when the lease frees).
            let beyond = between(goal, published.goal, key.interval);
            progress.send_modify(|progress| {
                progress.have = published.have;
                progress.want = published.want + beyond;
            });
        }
    }

    /// Tells this instance's waiters, and the other instances, how far the
    /// fetch has come.
    async fn publish(&self, key: &SeriesKey, progress: &watch::Sender<Progress>, goal: i64) {
        let now = progress.borrow().clone();
        let Some(redis) = &self.shared.redis else {
            return;
        };
        let published = Published {
            have: now.have,
            want: now.want,
            goal,
        };
        let Ok(text) = serde_json::to_string(&published) else {
            return;
        };
        let ttl = u64::try_from(self.shared.settings.lease_ttl.as_millis() * 3).unwrap_or(u64::MAX);
        let mut connection = redis.connection();
        let written: redis::RedisResult<()> = redis::cmd("SET")
            .arg(self.progress_key(key))
            .arg(text)
            .arg("PX")
            .arg(ttl.max(1))
            .query_async(&mut connection)
            .await;
        if let Err(error) = written {
            tracing::debug!(%error, "could not publish deep-history progress");
        }
    }

    /// Fetches pages back to the goal (or the listing), writing each as
    /// the next is read.
    async fn fetch(
        &self,
        key: &SeriesKey,
        progress: &watch::Sender<Progress>,
        goal: &AtomicI64,
    ) -> anyhow::Result<()> {
        let (symbol, interval) = (&key.symbol, key.interval);
        let source = self
            .shared
            .store
            .feed_source()
            .await?
            .context("no feed owns the candle store")?;
        if source == FeedSource::Binance {
            self.shared.rest.learn_limits().await;
        }
        let reach = self.reach(symbol, interval).await?;
        let mut anchor = reach.anchor(interval);
        let mut listing_reached = reach.listing.is_some();
        let _running = Gauge::up(&self.shared.metrics);
        let started = Instant::now();
        tracing::info!(%symbol, %interval, ?source, anchor, goal = goal.load(Ordering::SeqCst), "fetching older candles");
        // Replaces any earlier fetch's progress for the others to follow.
        self.publish(key, progress, goal.load(Ordering::SeqCst)).await;
        let mut fetched_total = 0_usize;
        let mut pending: Option<Page> = None;
        loop {
            let target = goal.load(Ordering::SeqCst);
            let read_next = !listing_reached && anchor > target;
            let write = async {
                match pending.take() {
                    Some(page) => self.write(source, symbol, interval, page).await.map(Some),
                    None => Ok(None),
                }
            };
            let read = async {
                if read_next {
                    self.read(source, symbol, interval, anchor).await.map(Some)
                } else {
                    Ok(None)
                }
            };
            let (written, read) = tokio::join!(write, read);
            if let Some(page) = written? {
                fetched_total += page.candles.len();
                let counted = page
                    .candles
                    .iter()
                    .filter(|candle| candle.open_time >= target)
                    .count() as u64;
                self.shared
                    .metrics
                    .history_candles
                    .fetch_add(page.candles.len() as u64, Ordering::Relaxed);
                progress.send_modify(|progress| {
                    progress.have += counted;
                    progress.want = progress.have + between(target, anchor, interval);
                });
                self.publish(key, progress, target).await;
            }
            match read? {
                Some(page) => {
                    listing_reached = page.listing.is_some();
                    anchor = page.next.min(anchor);
                    pending = Some(page);
                }
                None if pending.is_none() => break,
                None => {}
            }
        }
        tracing::info!(
            %symbol,
            %interval,
            fetched = fetched_total,
            listing_reached,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "older candles stored"
        );
        Ok(())
    }

    /// The page of closed candles opening before `anchor`.
    async fn read(
        &self,
        source: FeedSource,
        symbol: &Symbol,
        interval: Interval,
        anchor: i64,
    ) -> anyhow::Result<Page> {
        match source {
            FeedSource::Binance => {
                let page = retrying(|| self.shared.rest.history_before(symbol, interval, anchor)).await?;
                let oldest_kept = page.candles.first().map(|first| first.open_time);
                let listing = page.reached_listing.then(|| oldest_kept.unwrap_or(anchor));
                // Past rows that were refused too (a hole where Binance
                // sent nonsense), rather than asking for them forever.
                let next = oldest_kept
                    .into_iter()
                    .chain(page.oldest_row)
                    .min()
                    .unwrap_or(anchor);
                if listing.is_none() && next >= anchor {
                    bail!("Binance sent a full page of klines none older than {anchor}");
                }
                Ok(Page {
                    candles: page.candles,
                    listing,
                    next,
                })
            }
            FeedSource::Simulated => {
                let (symbol, now) = (symbol.clone(), now_ms());
                tokio::task::spawn_blocking(move || simulated_page(&symbol, interval, anchor, now))
                    .await
                    .context("the simulated history task stopped")
            }
        }
    }

    /// Writes a page (and the listing, when it reaches it), if the feed
    /// that produced it still owns the store.
    async fn write(
        &self,
        source: FeedSource,
        symbol: &Symbol,
        interval: Interval,
        page: Page,
    ) -> anyhow::Result<Page> {
        let written = retrying(|| {
            self.shared
                .store
                .write_history(source, symbol, interval, &page.candles, page.listing)
        })
        .await?;
        if !written {
            return Err(Stopped(FEED_CHANGED).into());
        }
        Ok(page)
    }
}

/// The simulated feed's page of candles opening before `anchor`, back to
/// its listing.
fn simulated_page(symbol: &Symbol, interval: Interval, anchor: i64, now_ms: i64) -> Page {
    let step = interval.millis();
    let listing = interval.open_time_of(SIMULATED_LISTING_MS + step - 1);
    let first = (anchor - KLINES_PER_REQUEST as i64 * step).max(listing);
    let candles = if first < anchor {
        simulated::candles_between(symbol, interval, first, anchor - step, now_ms)
    } else {
        Vec::new()
    };
    Page {
        candles,
        listing: (first <= listing).then_some(listing.min(anchor)),
        next: first.min(anchor),
    }
}

/// Runs `attempt` up to [`ATTEMPTS`] times, a second and then two apart,
/// unless Binance refuses the request itself.
async fn retrying<T, F, Fut>(mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if tries < ATTEMPTS && !error.chain().any(|cause| cause.is::<Refused>()) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    tries,
                    "a deep-history page failed; trying again"
                );
                tokio::time::sleep(Duration::from_secs(u64::from(tries))).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Ends a load: when its goal is covered (or it failed), removes it from
/// the running loads and sends the last word, under the lock that `ensure`
/// joins under, so that no caller joins a load that has just ended. Also
/// on a panic or an abort, as a failure.
struct Ending<'a> {
    history: &'a DeepHistory,
    key: &'a SeriesKey,
    progress: &'a watch::Sender<Progress>,
    ended: bool,
}

impl Ending<'_> {
    /// Answers whether the load is over.
    fn end(&mut self, result: anyhow::Result<Reach>, goal: &AtomicI64) -> bool {
        let mut running = self.history.lock();
        let state = match result {
            // A call for older candles came in since the last look.
            Ok(reach) if !reach.covers(goal.load(Ordering::SeqCst)) => return false,
            Ok(_) => Loading::Done,
            Err(error) => {
                let (symbol, interval) = (&self.key.symbol, self.key.interval);
                tracing::error!(error = format!("{error:#}"), %symbol, %interval, "deep history could not be loaded");
                let sentence = error
                    .chain()
                    .find_map(|cause| cause.downcast_ref::<Stopped>())
                    .map_or(FAILED, |stopped| stopped.0);
                Loading::Failed(sentence.to_string())
            }
        };
        running.remove(self.key);
        self.progress.send_modify(|progress| {
            if state == Loading::Done {
                progress.want = progress.have;
            }
            progress.state = state;
        });
        self.ended = true;
        true
    }
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.history.lock().remove(self.key);
            self.progress
                .send_modify(|progress| progress.state = Loading::Failed(FAILED.to_string()));
        }
    }
}

/// Counts a fetch in progress while it lives.
struct Gauge<'a>(&'a FeedMetrics);

impl<'a> Gauge<'a> {
    fn up(metrics: &'a FeedMetrics) -> Self {
        metrics.history_fetches.fetch_add(1, Ordering::Relaxed);
        Self(metrics)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.history_fetches.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig, RestRequest};
    use secrecy::SecretString;

    use super::*;
    use crate::market::candle_store::CandleColumns;
    use crate::platform::db::{Backend, scratch};

    const DAY_MS: i64 = 86_400_000;

    fn btc() -> Symbol {
        Symbol::parse("BTCUSDT").unwrap_or_default()
    }

    async fn redis() -> anyhow::Result<Redis> {
        let url = std::env::var("INCHART_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        Redis::connect(&SecretString::from(url)).await
    }

    fn prefix() -> String {
        format!("inchart-test-{:016x}", fastrand::u64(..))
    }

    async fn fake(config: FakeBinanceConfig) -> anyhow::Result<FakeBinance> {
        FakeBinance::start(FakeBinanceConfig {
            symbols: vec![btc()],
            ..config
        })
        .await
    }

    /// An instance's deep history: its own Binance client and metrics, the
    /// shared store and Redis.
    fn instance(store: &CandleStore, fake: &FakeBinance, redis: Option<&Redis>, prefix: &str) -> DeepHistory {
        let metrics = Arc::new(FeedMetrics::default());
        let rest =
            RestClient::new(&fake.rest_url(), metrics.clone()).unwrap_or_else(|error| panic!("{error:#}"));
        DeepHistory::new(
            store.clone(),
            rest,
            redis,
            prefix,
            HistorySettings {
                lease_ttl: Duration::from_secs(2),
                poll: Duration::from_millis(50),
            },
            metrics,
        )
    }

    /// The store as the ingester leaves it: Binance's, holding the fake's
    /// closed candles of the series from `from` on.
    async fn ingested(
        store: &CandleStore,
        fake: &FakeBinance,
        interval: Interval,
        from: i64,
    ) -> anyhow::Result<i64> {
        store.claim_for(FeedSource::Binance, now_ms()).await?;
        let stored: Vec<Candle> = fake
            .history(&btc(), interval, from, now_ms())
            .into_iter()
            .filter(|candle| candle.closed)
            .collect();
        store.upsert(&btc(), interval, &stored).await?;
        Ok(stored[0].open_time)
    }

    async fn finished(mut progress: watch::Receiver<Progress>) -> Progress {
        let waited = tokio::time::timeout(Duration::from_secs(300), async {
            let _ = progress
                .wait_for(|progress| progress.state != Loading::Fetching)
                .await;
        })
        .await;
        let last = progress.borrow().clone();
        assert!(waited.is_ok(), "the load did not finish: {last:?}");
        last
    }

    fn klines(requests: &[RestRequest]) -> Vec<&RestRequest> {
        requests.iter().filter(|r| r.path == "/api/v3/klines").collect()
    }

    fn end_time(request: &RestRequest) -> Option<i64> {
        request
            .query
            .split('&')
            .find_map(|pair| pair.strip_prefix("endTime="))
            .and_then(|value| value.parse().ok())
    }

    fn as_columns(candles: &[Candle]) -> CandleColumns {
        let mut columns = CandleColumns::default();
        for c in candles {
            columns.time.push(c.open_time);
            columns.open.push(c.open);
            columns.high.push(c.high);
            columns.low.push(c.low);
            columns.close.push(c.close);
            columns.volume.push(c.volume);
        }
        columns
    }

    /// 2023-01-01 and 2024-01-01, UTC.
    const YEAR_2023: (i64, i64) = (1_672_531_200_000, 1_704_067_200_000);

    /// Two traders on two instances (and a third request on one of them)
    /// ask for BTCUSDT 1m of 2023 at once: the exchange is asked for each
    /// page once, and every candle of 2023 is stored, as Binance has it.
    #[tokio::test]
    async fn two_traders_asking_for_the_same_year_cause_one_fetch() -> anyhow::Result<()> {
        let fake = fake(FakeBinanceConfig {
            listed_at: Some(YEAR_2023.0 - 400 * DAY_MS),
            ..FakeBinanceConfig::default()
        })
        .await?;
        let scratch = scratch::fresh(Backend::Postgres).await?;
        let store = CandleStore::new(scratch.db.clone());
        // What the feed had stored: from 2024 on (the last day of it, and
        // a stretch at 2024's start, stand for the rest).
        store.claim_for(FeedSource::Binance, now_ms()).await?;
        let start_2024 = fake.history(&btc(), Interval::M1, YEAR_2023.1, YEAR_2023.1 + 9 * 60_000);
        store.upsert(&btc(), Interval::M1, &start_2024).await?;
        let (redis, prefix) = (redis().await?, prefix());
        let (one, two) = (
            instance(&store, &fake, Some(&redis), &prefix),
            instance(&store, &fake, Some(&redis), &prefix),
        );

        let symbol = btc();
        let (a, b, c) = tokio::join!(
            one.ensure(&symbol, Interval::M1, YEAR_2023.0),
            two.ensure(&symbol, Interval::M1, YEAR_2023.0),
            one.ensure(&symbol, Interval::M1, YEAR_2023.0 + 30 * DAY_MS),
        );
        let (a, b, c) = (a?, b?, c?);
        let year: usize = 365 * 1440;
        assert_eq!(a.borrow().want, year as u64);
        let (a, b, c) = tokio::join!(finished(a), finished(b), finished(c));
        for progress in [&a, &b, &c] {
            assert_eq!(progress.state, Loading::Done, "{progress:?}");
        }

        let requests = fake.requests();
        let pages = klines(&requests);
        assert_eq!(pages.len(), year.div_ceil(1000), "each page asked for once");
        let ends: BTreeSet<Option<i64>> = pages.iter().map(|request| end_time(request)).collect();
        assert_eq!(ends.len(), pages.len());
        assert!(requests.iter().all(|request| request.status == 200));
        let stored = store
            .columns(&btc(), Interval::M1, YEAR_2023.0, YEAR_2023.1 - 1, true)
            .await?;
        assert_eq!(stored.len(), year);
        assert_eq!(
            stored,
            as_columns(&fake.history(&btc(), Interval::M1, YEAR_2023.0, YEAR_2023.1 - 1))
        );
        // Asked again: stored already, nothing fetched.
        let again = finished(two.ensure(&btc(), Interval::M1, YEAR_2023.0 + DAY_MS).await?).await;
        assert_eq!(again.state, Loading::Done);
        assert_eq!(klines(&fake.requests()).len(), pages.len());
        scratch.remove().await
    }

    /// While one instance fetches, a request there for older candles moves
    /// its goal back, and another instance, asking for older still,
    /// reports the fetch's progress and then carries on from where it
    /// stopped: every page is asked for once.
    #[tokio::test]
    async fn later_requests_for_older_candles_extend_the_one_fetch() -> anyhow::Result<()> {
        let now = now_ms();
        let fake = fake(FakeBinanceConfig {
            listed_at: Some(now - 400 * DAY_MS),
            ..FakeBinanceConfig::default()
        })
        .await?;
        let scratch = scratch::fresh(Backend::Postgres).await?;
        let store = CandleStore::new(scratch.db.clone());
        let oldest = ingested(&store, &fake, Interval::M5, now - DAY_MS).await?;
        let (redis, prefix) = (redis().await?, prefix());
        let (one, two) = (
            instance(&store, &fake, Some(&redis), &prefix),
            instance(&store, &fake, Some(&redis), &prefix),
        );
        let step = Interval::M5.millis();
        let (near, far, farther) = (
            oldest - 10_000 * step,
            oldest - 20_000 * step,
            oldest - 30_000 * step,
        );

        let mut first = one.ensure(&btc(), Interval::M5, near).await?;
        first.wait_for(|progress| progress.have > 0).await?;
        let second = one.ensure(&btc(), Interval::M5, far).await?;
        assert_eq!(second.borrow().want, 20_000, "the running load's goal moved back");
        let mut third = two.ensure(&btc(), Interval::M5, farther).await?;
        let watched = tokio::spawn(async move {
            let mut seen = Vec::new();
            while third.changed().await.is_ok() {
                let now = third.borrow_and_update().clone();
                seen.push(now.clone());
                if now.state != Loading::Fetching {
                    break;
                }
            }
            seen
        });
        let (first, second) = (finished(first).await, finished(second).await);
        assert_eq!((first.state, second.state), (Loading::Done, Loading::Done));
        let seen = watched.await?;
        assert_eq!(seen.last().map(|progress| &progress.state), Some(&Loading::Done));
        assert!(
            seen.iter()
                .any(|progress| progress.state == Loading::Fetching && progress.have > 0),
            "the other instance's progress is reported: {seen:?}"
        );

        let requests = fake.requests();
        let ends: Vec<i64> = klines(&requests)
            .iter()
            .filter_map(|request| end_time(request))
            .collect();
        assert_eq!(ends.len(), 30, "{ends:?}");
        assert_eq!(ends.iter().collect::<BTreeSet<_>>().len(), 30, "{ends:?}");
        let stored = store
            .columns(&btc(), Interval::M5, farther, oldest - 1, true)
            .await?;
        assert_eq!(
            stored,
            as_columns(&fake.history(&btc(), Interval::M5, farther, oldest - 1))
        );
        scratch.remove().await
    }

    /// Asked for more than the exchange has: the load stops at the listing,
    /// remembers it, and is never asked for again.
    #[tokio::test]
    async fn the_listing_is_reached_and_remembered() -> anyhow::Result<()> {
        let now = now_ms();
        let fake = fake(FakeBinanceConfig {
            listed_at: Some(now - 200 * DAY_MS),
            ..FakeBinanceConfig::default()
        })
        .await?;
        let scratch = scratch::fresh(Backend::Sqlite).await?;
        let store = CandleStore::new(scratch.db.clone());
        let oldest = ingested(&store, &fake, Interval::H1, now - 10 * DAY_MS).await?;
        let history = instance(&store, &fake, None, &prefix());

        let mut progress = history.ensure(&btc(), Interval::H1, 0).await?;
        let asked = progress.borrow_and_update().clone();
        assert_eq!(
            asked.want,
            between(0, oldest, Interval::H1),
            "from the epoch, as far as anyone knows"
        );
        let done = finished(progress).await;
        assert_eq!(done.state, Loading::Done);
        let listing = fake.first_open_time(&btc(), Interval::H1);
        assert_eq!(store.listing(&btc(), Interval::H1).await?, listing);
        let expected = between(listing.unwrap_or_default(), oldest, Interval::H1);
        assert_eq!((done.have, done.want), (expected, expected));
        let every = store.columns(&btc(), Interval::H1, 0, i64::MAX, true).await?;
        assert_eq!(every.time.first().copied(), listing);
        assert!(
            every
                .time
                .windows(2)
                .all(|pair| pair[1] - pair[0] == Interval::H1.millis())
        );

        let asked_before = fake.requests().len();
        let again = history.ensure(&btc(), Interval::H1, 0).await?;
        assert_eq!(again.borrow().state, Loading::Done, "known at once");
        assert_eq!(fake.requests().len(), asked_before, "Binance is not asked again");
        assert_eq!(
            history.shared.metrics.history_candles.load(Ordering::Relaxed),
            expected
        );
        assert_eq!(history.shared.metrics.history_fetches.load(Ordering::Relaxed), 0);
        scratch.remove().await
    }

    /// A fetch cut short (Binance goes away) fails with a sentence and
    /// leaves a contiguous range; the next one resumes from its oldest
    /// candle, asking for no page twice.
    #[tokio::test]
    async fn an_interrupted_fetch_resumes_from_its_oldest_candle() -> anyhow::Result<()> {
        let now = now_ms();
        let fake = fake(FakeBinanceConfig {
            listed_at: Some(now - 400 * DAY_MS),
            ..FakeBinanceConfig::default()
        })
        .await?;
        let scratch = scratch::fresh(Backend::Sqlite).await?;
        let store = CandleStore::new(scratch.db.clone());
        let oldest = ingested(&store, &fake, Interval::M15, now - DAY_MS).await?;
        let history = instance(&store, &fake, None, &prefix());
        let from = oldest - 30_000 * Interval::M15.millis();

        let mut progress = history.ensure(&btc(), Interval::M15, from).await?;
        progress.wait_for(|progress| progress.have >= 5_000).await?;
        fake.set_offline(true);
        let failed = finished(progress).await;
        assert_eq!(failed.state, Loading::Failed(FAILED.to_string()));
        let kept = store.columns(&btc(), Interval::M15, 0, i64::MAX, true).await?;
        assert!(kept.len() > 5_000 && kept.time[0] > from);
        assert!(
            kept.time
                .windows(2)
                .all(|pair| pair[1] - pair[0] == Interval::M15.millis())
        );

        fake.set_offline(false);
        let done = finished(history.ensure(&btc(), Interval::M15, from).await?).await;
        assert_eq!(done.state, Loading::Done);
        let pages = fake.requests();
        let ends: Vec<i64> = klines(&pages)
            .iter()
            .filter_map(|request| end_time(request))
            .collect();
        let distinct: BTreeSet<i64> = ends.iter().copied().collect();
        assert_eq!(distinct.len(), ends.len(), "no page asked for twice: {ends:?}");
        let stored = store
            .columns(&btc(), Interval::M15, from, oldest - 1, true)
            .await?;
        assert_eq!(
            stored,
            as_columns(&fake.history(&btc(), Interval::M15, from, oldest - 1))
        );
        scratch.remove().await
    }

    /// Simulated candles are drawn, not fetched: the same candles the
    /// simulated feed draws, back to its listing, paged and reported alike.
    #[tokio::test]
    async fn simulated_history_is_drawn_the_same_way() -> anyhow::Result<()> {
        let now = now_ms();
        let scratch = scratch::fresh(Backend::Sqlite).await?;
        let store = CandleStore::new(scratch.db.clone());
        store.claim_for(FeedSource::Simulated, now).await?;
        let current = Interval::D1.open_time_of(now);
        let recent = simulated::candles_between(&btc(), Interval::D1, current - 20 * DAY_MS, current, now);
        store.upsert(&btc(), Interval::D1, &recent).await?;
        // Binance is never asked: nothing listens there.
        let fake = fake(FakeBinanceConfig::default()).await?;
        fake.set_offline(true);
        let history = instance(&store, &fake, None, &prefix());

        let done = finished(history.ensure(&btc(), Interval::D1, 0).await?).await;
        assert_eq!(done.state, Loading::Done);
        let listing = SIMULATED_LISTING_MS;
        assert_eq!(store.listing(&btc(), Interval::D1).await?, Some(listing));
        let drawn = simulated::candles_between(&btc(), Interval::D1, listing, current - 21 * DAY_MS, now);
        assert!(drawn.len() > 3_000, "more than three pages");
        assert_eq!(done.have, drawn.len() as u64);
        assert_eq!(
            store
                .columns(&btc(), Interval::D1, 0, current - 21 * DAY_MS, true)
                .await?,
            as_columns(&drawn)
        );
        assert!(fake.requests().is_empty());
        scratch.remove().await
    }

    /// A deep fetch within Binance's limits: no weight window ever goes
    /// over `limit`, and the exchange never has to say 429. With a small
    /// limit and a short window the budget is what paces the fetch: half
    /// the limit a window (the rest is the live feed's).
    async fn stays_within_the_weight_limit(candles: i64, limit: u32, window: Duration) -> anyhow::Result<()> {
        let now = now_ms();
        let fake = fake(FakeBinanceConfig {
            listed_at: Some(now - (candles + 10_000) * 60_000),
            weight_limit_1m: limit,
            weight_window: window,
            ..FakeBinanceConfig::default()
        })
        .await?;
        let scratch = scratch::fresh(Backend::Postgres).await?;
        let store = CandleStore::new(scratch.db.clone());
        let oldest = ingested(&store, &fake, Interval::M1, now - DAY_MS / 24).await?;
        let history = instance(&store, &fake, None, &prefix());
        let from = oldest - candles * 60_000;

        let started = Instant::now();
        let done = finished(history.ensure(&btc(), Interval::M1, from).await?).await;
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(done.state, Loading::Done);
        assert_eq!(done.have, candles as u64);
        let requests = fake.requests();
        let worst = requests
            .iter()
            .map(|request| request.used_weight)
            .max()
            .unwrap_or(0);
        assert!(worst <= limit, "a window used {worst} of {limit}");
        assert!(requests.iter().all(|request| request.status == 200));
        let pages = klines(&requests).len();
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{candles} candles in {pages} requests, {seconds:.1} s: {:.0} requests ({:.0} weight) a minute, \
                 at most {worst} of {limit} weight in a {} s window",
                pages as f64 / seconds * 60.0,
                pages as f64 * 2.0 / seconds * 60.0,
                window.as_secs()
            );
        }
        // Deep history's half of the limit, in pages of weight 2.
        let pages_a_window = f64::from(limit / 2 / 2);
        assert!(seconds >= (pages as f64 / pages_a_window - 1.0) * window.as_secs_f64());
        scratch.remove().await
    }

    #[tokio::test]
    async fn a_deep_fetch_stays_within_the_weight_limit() -> anyhow::Result<()> {
        stays_within_the_weight_limit(60_000, 100, Duration::from_secs(2)).await
    }

    /// `cargo test -p server --lib deep_history::tests::a_million -- --ignored --nocapture`
    #[tokio::test]
    #[ignore = "a million candles: minutes in a debug build"]
    async fn a_million_candles_stay_within_the_weight_limit() -> anyhow::Result<()> {
        stays_within_the_weight_limit(1_000_000, 100, Duration::from_secs(2)).await
    }

    /// The same at Binance's own limit (6000 a minute): how fast a million
    /// candles come when the budget does not hold them back.
    #[tokio::test]
    #[ignore = "a million candles: minutes in a debug build"]
    async fn a_million_candles_at_binances_limit() -> anyhow::Result<()> {
        stays_within_the_weight_limit(1_000_000, 6_000, Duration::from_secs(60)).await
    }
}
