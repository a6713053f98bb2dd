//! Ingestion: the instance holding the lease ([`super::lease`]) fills the
//! store and the live market, from Binance when it answers and from the
//! simulated feed when it does not.
//!
//! Policy: the stored series has no gap, and nothing stored is deleted
//! (deep history, fetched on demand, sits before the configured depth).
//! Before the stream's frames are applied, every series is read from REST
//! from its newest stored candle on (from the configured depth when the
//! store is empty or holds a hole within it; from the newest stored candle
//! however old, when it is older than the depth), and
//! the stream is connected *before* that read, its frames waiting in their
//! channel, so nothing falls between the two. The same happens after every
//! reconnect and when an instance takes the lease over from a dead one. A
//! connection is replaced before Binance's 24-hour limit or its
//! `serverShutdown`, the new one opened before the old one closes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use inchart_api::market::{Candle, FeedSource, FeedStatus, Interval, Symbol};
use tokio::sync::{mpsc, oneshot, watch};

use super::binance::rest::{Refused, RestClient};
use super::binance::stream::{self, StreamItem};
use super::binance::wire::{KlineUpdate, StreamEvent, parse_stream_frame};
use super::candle_store::{CandleRange, CandleStore, SeriesCandles};
use super::lease::Lease;
use super::simulated::SimulatedFeed;
use super::window::{LiveMarket, SeriesKey};
use crate::config::FeedChoice;
use crate::market::metrics::FeedMetrics as Metrics;
use crate::platform::clock::now_ms;

/// The ingestion settings (see `config`).
#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub feed: FeedChoice,
    pub stream_url: String,
    /// How far back the store is filled on an empty start.
    pub backfill: Duration,
    /// How long one stream connection is used before it is replaced.
    pub rollover: Duration,
    /// The longest wait between reconnection attempts, and how often the
    /// simulated feed asks whether Binance answers yet.
    pub retry: Duration,
    /// Recent candles kept per series in the live market.
    pub window: usize,
}

/// Series read from REST at once while filling.
const PARALLEL_READS: usize = 4;
/// How often buffered stream candles are written to the database.
const WRITE_EVERY: Duration = Duration::from_millis(250);
/// After a gap, this many of its newest candles are also sent to charts
/// (older ones they read from the API when they see the hole).
const GAP_TAIL: usize = 8;

pub struct Ingestor {
    pub symbols: Vec<Symbol>,
    pub settings: IngestSettings,
    pub store: CandleStore,
    pub live: LiveMarket,
    pub rest: RestClient,
    pub lease: Arc<Lease>,
    pub simulated: SimulatedFeed,
    pub sim_tick: Duration,
    pub metrics: Arc<Metrics>,
    /// Set once this instance has filled the store.
    pub filled: watch::Sender<bool>,
}

impl Ingestor {
    /// Takes the lease whenever it is free and ingests while holding it.
    pub async fn run(self) {
        loop {
            match self.lease.acquire().await {
                Ok(true) => {
                    tracing::info!("this instance holds the ingestion lease");
                    self.metrics.ingest_leader.store(1, Relaxed);
                    tokio::select! {
                        () = self.lease.hold() => {}
                        () = self.lead() => {}
                    }
                    self.metrics.ingest_leader.store(0, Relaxed);
                    tracing::warn!("this instance stopped ingesting");
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "could not ask for the ingestion lease"
                ),
            }
            tokio::time::sleep(self.lease.ttl() / 3).await;
        }
    }

    async fn lead(&self) {
        match self.settings.feed {
            FeedChoice::Simulated => self.simulate(false).await,
            FeedChoice::Binance => self.stream_binance().await,
            FeedChoice::Auto => {
                if let Err(error) = self.rest.ping().await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "Binance cannot be reached; running the simulated feed until it can"
                    );
                    self.simulate(true).await;
                }
                self.stream_binance().await;
            }
        }
    }

    /// Runs the simulated feed; with `until_binance`, returns once Binance
    /// answers a ping.
    async fn simulate(&self, until_binance: bool) {
        let filled_at = loop {
            match self.fill_simulated().await {
                Ok(at) => break at,
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "could not fill the simulated feed; retrying"
                    );
                    tokio::time::sleep(self.settings.retry).await;
                }
            }
        };
        let run = self
            .simulated
            .clone()
            .run(self.store.clone(), self.live.clone(), self.sim_tick, filled_at);
        let probe = async {
            if !until_binance {
                return std::future::pending().await;
            }
            loop {
                tokio::time::sleep(self.settings.retry).await;
                if self.rest.ping().await.is_ok() {
                    tracing::info!("Binance answers; switching to live data");
                    return;
                }
            }
        };
        tokio::select! {
            () = run => {}
            () = probe => {}
        }
    }

    async fn fill_simulated(&self) -> anyhow::Result<i64> {
        let now = now_ms();
        self.store.claim_for(FeedSource::Simulated, now).await?;
        let written = self.simulated.fill(&self.store, now).await?;
        self.seed_windows().await?;
        self.set_status(FeedStatus::Simulated).await;
        self.filled.send_replace(true);
        tracing::info!(written, "simulated market data is filled up to now");
        Ok(now)
    }

    async fn seed_windows(&self) -> anyhow::Result<()> {
        for symbol in &self.symbols {
            for interval in Interval::ALL {
                self.seed_window(symbol, interval).await?;
            }
        }
        Ok(())
    }

    async fn seed_window(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<()> {
        let range = CandleRange {
            start: None,
            end: None,
            limit: self.settings.window as u64,
        };
        let recent = self.store.range(symbol, interval, range).await?;
        self.live.seed(&SeriesKey::new(symbol, interval), &recent).await
    }

    async fn set_status(&self, status: FeedStatus) {
        if let Err(error) = self.live.set_status(status).await {
            tracing::warn!(error = format!("{error:#}"), "could not publish the feed status");
        }
    }

    /// Streams Binance for as long as this instance ingests.
    async fn stream_binance(&self) {
        if let Err(error) = self.store.claim_for(FeedSource::Binance, now_ms()).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "could not switch the store to Binance's data"
            );
        }
        let writer = CandleWriter::start(self.store.clone());
        let url = stream::stream_url(&self.settings.stream_url, &self.symbols);
        let mut failures: u32 = 0;
        loop {
            let mut connection = match stream::connect(&url).await {
                Ok(connection) => connection,
                Err(error) => {
                    failures += 1;
                    self.metrics.binance_reconnects.fetch_add(1, Relaxed);
                    self.set_status(FeedStatus::Reconnecting).await;
                    let wait = backoff(failures, self.settings.retry);
                    tracing::warn!(
                        error = format!("{error:#}"),
                        wait_ms = wait.as_millis() as u64,
                        "Binance's stream cannot be reached"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            let mut connected_at = Instant::now();
            // The stream's frames wait in their channel while the gap fills.
            writer.flush().await;
            if let Err(error) = self.fill_from_rest().await {
                failures += 1;
                let wait = backoff(failures, self.settings.retry);
                tracing::warn!(
                    error = format!("{error:#}"),
                    wait_ms = wait.as_millis() as u64,
                    "could not fill the gap from Binance's REST API"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            failures = 0;
            self.filled.send_replace(true);
            self.set_status(FeedStatus::Live).await;
            tracing::info!("live: Binance's stream is applied");

            let reason = loop {
                let replace_at = tokio::time::Instant::from_std(connected_at + self.settings.rollover);
                let item = tokio::select! {
                    item = connection.recv() => item,
                    () = tokio::time::sleep_until(replace_at) => {
                        tracing::info!("replacing the stream connection before Binance's 24-hour limit");
                        match self.replace(&url, &mut connection, &writer).await {
                            Ok(()) => { connected_at = Instant::now(); continue; }
                            Err(error) => break format!("{error:#}"),
                        }
                    }
                };
                match item {
                    Some(StreamItem::Frame { text, received_us }) => {
                        if self.apply_frame(&text, received_us, &writer).await {
                            tracing::info!("Binance announced a server shutdown; moving to a new connection");
                            match self.replace(&url, &mut connection, &writer).await {
                                Ok(()) => connected_at = Instant::now(),
                                Err(error) => break format!("{error:#}"),
                            }
                        }
                    }
                    Some(StreamItem::Ended(reason)) => break reason,
                    None => break "the reader stopped".to_string(),
                }
            };
            tracing::warn!(reason, "Binance's stream ended; reconnecting");
            self.metrics.binance_reconnects.fetch_add(1, Relaxed);
            self.set_status(FeedStatus::Reconnecting).await;
            tokio::time::sleep(backoff(1, self.settings.retry)).await;
        }
    }

    /// Opens a new connection, applies what the old one still holds, then
    /// closes the old one: make before break, so no frame is missed.
    async fn replace(
        &self,
        url: &str,
        connection: &mut mpsc::Receiver<StreamItem>,
        writer: &CandleWriter,
    ) -> anyhow::Result<()> {
        let next = stream::connect(url).await?;
        let old = std::mem::replace(connection, next);
        let mut old = old;
        while let Ok(item) = old.try_recv() {
            if let StreamItem::Frame { text, received_us } = item {
                self.apply_frame(&text, received_us, writer).await;
            }
        }
        Ok(())
    }

    /// Applies one stream frame; answers whether it announced a shutdown.
    async fn apply_frame(&self, text: &str, received_us: i64, writer: &CandleWriter) -> bool {
        self.metrics.binance_messages.fetch_add(1, Relaxed);
        match parse_stream_frame(text, &self.symbols) {
            Ok(StreamEvent::Kline(update)) => {
                self.apply(update, received_us, writer).await;
                false
            }
            Ok(StreamEvent::ServerShutdown) => true,
            Err(rejection) => {
                self.metrics.binance_rejected_with(rejection, text);
                false
            }
        }
    }

    async fn apply(&self, update: KlineUpdate<'_>, received_us: i64, writer: &CandleWriter) {
        let key = SeriesKey::new(update.symbol, update.interval);
        match self
            .live
            .publish(&key, &update.candle, update.event_time, received_us)
            .await
        {
            Ok(true) => writer.write(key, update.candle),
            // The live market holds a newer version: a repeat or a reorder.
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "could not publish a candle; storing it"
                );
                writer.write(key, update.candle);
            }
        }
    }

    /// Reads every series from REST up to now (see the module policy).
    async fn fill_from_rest(&self) -> anyhow::Result<()> {
        let series: Vec<(&Symbol, Interval)> = self
            .symbols
            .iter()
            .flat_map(|symbol| Interval::ALL.into_iter().map(move |interval| (symbol, interval)))
            .collect();
        let started = Instant::now();
        // Made up front: a stream that borrows `self` in a closure would
        // not be provably `Send`.
        let reads: Vec<_> = series
            .into_iter()
            .map(|(symbol, interval)| self.fill_series(symbol, interval))
            .collect();
        let mut results = futures::stream::iter(reads).buffer_unordered(PARALLEL_READS);
        let mut read = 0;
        while let Some(result) = results.next().await {
            match result {
                Ok(count) => read += count,
                // One series Binance refuses (a delisted symbol) must not
                // keep every other series from going live.
                Err(error) if error.chain().any(|cause| cause.is::<Refused>()) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "Binance refuses this series; it is not ingested"
                    );
                }
                Err(error) => return Err(error),
            }
        }
        tracing::info!(
            read,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "filled every series from Binance"
        );
        Ok(())
    }

    async fn fill_series(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<usize> {
        let now = now_ms();
        let depth = i64::try_from(self.settings.backfill.as_millis()).unwrap_or(i64::MAX);
        let oldest = interval.open_time_of(now.saturating_sub(depth));
        let latest = self.store.latest_open_time(symbol, interval).await?;
        let start = match latest {
            // Older than the depth (the feed was off a long time): read on
            // from it, so that the series, and the history before it, has
            // no hole.
            Some(latest) if latest < oldest => latest,
            Some(latest) => {
                let held = self.store.count_between(symbol, interval, oldest, latest).await?;
                let expected = (latest - oldest) / interval.millis() + 1;
                if held == expected as u64 {
                    let forming = self.store.oldest_forming(symbol, interval).await?;
                    forming.map_or(latest, |forming| forming.clamp(oldest, latest))
                } else {
                    tracing::info!(%symbol, %interval, held, expected, "the stored series has a hole; reading it again");
                    oldest
                }
            }
            None => oldest,
        };
        let candles = self
            .rest
            .candles_since(symbol, interval, start)
            .await
            .with_context(|| format!("while reading {symbol} {interval} from Binance"))?;
        self.store.upsert(symbol, interval, &candles).await?;
        let key = SeriesKey::new(symbol, interval);
        if let Some(latest) = latest {
            let gap: Vec<&Candle> = candles
                .iter()
                .filter(|candle| candle.open_time >= latest)
                .collect();
            for candle in &gap[gap.len().saturating_sub(GAP_TAIL)..] {
                self.live
                    .publish(&key, candle, now, crate::platform::clock::now_micros())
                    .await?;
            }
        }
        self.seed_window(symbol, interval).await?;
        Ok(candles.len())
    }
}

/// Exponential back-off with full jitter, capped at `cap`.
fn backoff(failures: u32, cap: Duration) -> Duration {
    let base = Duration::from_millis(250).saturating_mul(1 << failures.min(16));
    let ceiling = base.min(cap).max(Duration::from_millis(50));
    ceiling.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// Writes stream candles to the database in batches, every
/// [`WRITE_EVERY`], keeping only the furthest-along version of each candle.
/// A failed batch is kept and written with the next.
struct CandleWriter {
    commands: mpsc::UnboundedSender<WriterCommand>,
    task: tokio::task::JoinHandle<()>,
}

enum WriterCommand {
    Write(SeriesKey, Candle),
    Flush(oneshot::Sender<()>),
}

impl CandleWriter {
    fn start(store: CandleStore) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_batches(store, receiver));
        Self { commands, task }
    }

    fn write(&self, key: SeriesKey, candle: Candle) {
        let _ = self.commands.send(WriterCommand::Write(key, candle));
    }

    /// Waits until everything sent so far is written (or failed).
    async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(WriterCommand::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

impl Drop for CandleWriter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn write_batches(store: CandleStore, mut commands: mpsc::UnboundedReceiver<WriterCommand>) {
    let mut pending: HashMap<(SeriesKey, i64), Candle> = HashMap::new();
    let mut ticker = tokio::time::interval(WRITE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(WriterCommand::Write(key, candle)) => {
                    let entry = pending.entry((key, candle.open_time)).or_insert(candle);
                    if super::window::supersedes(&candle, entry) {
                        *entry = candle;
                    }
                }
                Some(WriterCommand::Flush(done)) => {
                    write_pending(&store, &mut pending).await;
                    let _ = done.send(());
                }
                None => {
                    write_pending(&store, &mut pending).await;
                    return;
                }
            },
            _ = ticker.tick() => write_pending(&store, &mut pending).await,
        }
    }
}

async fn write_pending(store: &CandleStore, pending: &mut HashMap<(SeriesKey, i64), Candle>) {
    if pending.is_empty() {
        return;
    }
    let result = {
        let mut by_series: HashMap<&SeriesKey, Vec<Candle>> = HashMap::new();
        for ((key, _), candle) in pending.iter() {
            by_series.entry(key).or_default().push(*candle);
        }
        let series: Vec<SeriesCandles<'_>> = by_series
            .iter_mut()
            .map(|(key, candles)| {
                candles.sort_by_key(|candle| candle.open_time);
                SeriesCandles {
                    symbol: &key.symbol,
                    interval: key.interval,
                    candles,
                }
            })
            .collect();
        store.upsert_all(&series).await
    };
    match result {
        Ok(()) => pending.clear(),
        Err(error) => tracing::warn!(
            error = format!("{error:#}"),
            held = pending.len(),
            "could not store stream candles; retrying with the next batch"
        ),
    }
}

#[cfg(test)]
mod tests {
    use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig};

    use super::*;
    use crate::platform::db::{Backend, scratch};

    const DAY_MS: i64 = 86_400_000;

    /// The feed was off for longer than the fill depth: the series is read
    /// on from its newest stored candle, and the deep history before it
    /// stays.
    #[tokio::test]
    async fn a_long_outage_leaves_no_hole_and_deletes_nothing() -> anyhow::Result<()> {
        let btc = Symbol::parse("BTCUSDT")?;
        let now = now_ms();
        let fake = FakeBinance::start(FakeBinanceConfig {
            symbols: vec![btc.clone()],
            listed_at: Some(now - 100 * DAY_MS),
            ..FakeBinanceConfig::default()
        })
        .await?;
        let scratch = scratch::fresh(Backend::Sqlite).await?;
        let store = CandleStore::new(scratch.db.clone());
        store.claim_for(FeedSource::Binance, now).await?;
        // Deep history and what the feed stored, up to ten days ago.
        let stored = fake.history(&btc, Interval::H1, now - 60 * DAY_MS, now - 10 * DAY_MS);
        store.upsert(&btc, Interval::H1, &stored).await?;

        let metrics = Arc::new(Metrics::default());
        let ingestor = Ingestor {
            symbols: vec![btc.clone()],
            settings: IngestSettings {
                feed: FeedChoice::Binance,
                stream_url: fake.ws_url(),
                backfill: Duration::from_secs(2 * 86_400),
                rollover: Duration::from_secs(3_600),
                retry: Duration::from_secs(1),
                window: 10,
            },
            store: store.clone(),
            live: LiveMarket::new(None, "test", 10),
            rest: RestClient::new(&fake.rest_url(), metrics.clone())?,
            lease: Arc::new(Lease::new(None, "test", Duration::from_secs(1))),
            simulated: SimulatedFeed::new(vec![btc.clone()], 10),
            sim_tick: Duration::from_secs(1),
            metrics,
            filled: watch::channel(false).0,
        };
        ingestor.fill_series(&btc, Interval::H1).await?;

        let every = store.columns(&btc, Interval::H1, 0, i64::MAX, true).await?;
        assert_eq!(every.time.first(), stored.first().map(|candle| &candle.open_time));
        assert!(
            every
                .time
                .windows(2)
                .all(|pair| pair[1] - pair[0] == Interval::H1.millis()),
            "no hole"
        );
        let truth = fake.candles(&btc, Interval::H1);
        let newest_closed = truth
            .iter()
            .rev()
            .find(|candle| candle.closed)
            .map(|candle| candle.open_time);
        assert_eq!(every.time.last().copied(), newest_closed);
        scratch.remove().await
    }
}
