//! Signal scripts: traders' Python, run in sandboxed workers on a series'
//! candles, drawn on the chart as markers and lines.
//!
//! - [`store`]: scripts, their versions, runs and attachments, per owner.
//! - [`fair_queue`]: the order runs are taken in, fair between traders.
//! - [`pool`]: the warm pool of sandboxed workers that take them.
//! - [`on_close`]: attached scripts re-run on every closed candle.
//! - [`signals`]: the bus that takes a live run's signals to the owner's
//!   charts, on every instance.
//! - [`layers`]: which scripts each series' chart shows.
//! - [`handlers`] (the HTTP API) and [`pages`] (what the pages read).
//!
//! What a plan allows (saved and live scripts, runs a minute, CPU time,
//! history) is checked by [`crate::plans`].

pub mod entity;
pub mod fair_queue;
pub mod handlers;
pub mod layers;
pub mod on_close;
pub mod pages;
pub mod pool;
pub mod signals;
pub mod store;

use std::sync::Arc;

use app::billing::Limits;
use app::scripts::SeriesRef;
use inchart_api::market::Candle;
use inchart_api::scripts::{RunView, Trigger};
use uuid::Uuid;
use worker_protocol::{Columns, Job, Mode};

use crate::config::ScriptSettings;
use crate::market::newest::NewestCandles;
use crate::market::window::LiveMarket;
use crate::plans::Plans;
use crate::platform::clock::now_ms;
use pool::{PoolError, WorkerPool};
use signals::SignalBus;
pub use store::Runnable;
use store::{NewRun, ScriptStore};

/// Everything scripts need, cloned cheaply per request.
#[derive(Clone)]
pub struct Scripts {
    /// Shared: the scripts' state is cloned for every request.
    pub settings: Arc<ScriptSettings>,
    pub store: ScriptStore,
    pub pool: WorkerPool,
    pub bus: SignalBus,
    /// A live run's limits are its owner's plan's.
    pub plans: Plans,
    newest: NewestCandles,
    window: LiveMarket,
    /// Live runs this instance made, for whoever acts on their signals
    /// (alerts): each run is made by one instance, which tells its own.
    live_runs: tokio::sync::broadcast::Sender<Arc<LiveRun>>,
}

/// A live run on a closed candle, as this instance made it.
#[derive(Debug)]
pub struct LiveRun {
    pub user: Uuid,
    pub script: Uuid,
    pub script_name: String,
    pub series: SeriesRef,
    /// The open time of the closed candle it ran on.
    pub candle_time: i64,
    /// Its markers on that candle: the new ones.
    pub markers: Vec<inchart_api::scripts::Marker>,
}

/// Which candles a run sees: the newest `count` closed candles, up to and
/// including the one that opened at `until` when given.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub count: u32,
    pub until: Option<i64>,
}

impl Scripts {
    pub fn new(
        settings: ScriptSettings,
        store: ScriptStore,
        bus: SignalBus,
        plans: Plans,
        newest: NewestCandles,
        window: LiveMarket,
    ) -> Self {
        let pool = WorkerPool::new(settings.clone());
        let (live_runs, _) = tokio::sync::broadcast::channel(1024);
        Self {
            live_runs,
            settings: Arc::new(settings),
            store,
            pool,
            bus,
            plans,
            newest,
            window,
        }
    }

    /// A version of one of the user's scripts, ready to run: the newest
    /// when `version` is `None`; `None` when there is no such script or
    /// version.
    pub async fn runnable(
        &self,
        user: Uuid,
        id: Uuid,
        version: Option<u32>,
    ) -> anyhow::Result<Option<Runnable>> {
        self.store.runnable(user, id, version).await
    }

    /// Every live run this instance makes from now on.
    pub fn live_runs(&self) -> tokio::sync::broadcast::Receiver<Arc<LiveRun>> {
        self.live_runs.subscribe()
    }

    /// Tells this instance's listeners of a live run.
    pub(crate) fn tell_live_run(&self, run: LiveRun) {
        // No listener (alerts off) is not a fault.
        let _ = self.live_runs.send(Arc::new(run));
    }

    /// The names of the user's scripts, by id.
    pub async fn names_of(&self, user: Uuid) -> anyhow::Result<std::collections::HashMap<Uuid, String>> {
        Ok(self
            .store
            .list(user)
            .await?
            .into_iter()
            .filter_map(|script| Some((Uuid::parse_str(&script.id).ok()?, script.name)))
            .collect())
    }

    /// The feed's status now, for the pages.
    pub fn feed_status(&self) -> inchart_api::market::FeedStatus {
        self.window.current_status()
    }

    /// Deletes old runs every hour, keeping each script's newest.
    pub async fn housekeeping(self) {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match self.store.purge_runs().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "old script runs deleted"),
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "could not delete old script runs")
                }
            }
        }
    }

    /// Runs one version of a script on a series within `limits` (the
    /// owner's plan's, as the caller read them) and records the run.
    #[allow(clippy::too_many_arguments)]
    pub async fn run(
        &self,
        user: Uuid,
        script: Uuid,
        version: u32,
        source: String,
        series: &SeriesRef,
        window: Window,
        trigger: Trigger,
        limits: &Limits,
    ) -> Result<RunView, PoolError> {
        let window = Window {
            count: window.count.min(limits.history_candles),
            ..window
        };
        let candles = self
            .newest
            .closed(
                &series.symbol,
                series.interval,
                window.count as usize,
                window.until,
            )
            .await
            .map_err(|error| {
                tracing::error!(
                    error = format!("{error:#}"),
                    "could not read candles for a script"
                );
                PoolError::Unavailable("The candles could not be read; try again.".into())
            })?;
        // The job never leaves this process (the worker gets its payload),
        // and the pool judges the worker's answer against its candles.
        let job = Job {
            source,
            candles: columns(&candles),
            limits: self.pool.limits(limits.script_cpu_ms),
            mode: Mode::Chart,
        };
        let report = self.pool.run(user, job).await?;
        let times: Vec<i64> = candles.iter().map(|c| c.open_time).collect();
        let run = self
            .store
            .record_run(NewRun {
                script,
                user,
                version,
                series,
                trigger,
                first_candle: times.first().copied(),
                last_candle: times.last().copied(),
                candles: times.len() as u32,
                report,
                now: now_ms(),
            })
            .await
            .map_err(|error| {
                tracing::error!(error = format!("{error:#}"), "could not record a run");
                PoolError::Unavailable("The run could not be saved; try again.".into())
            })?;
        Ok(run)
    }
}

fn columns(candles: &[Candle]) -> Columns {
    Columns {
        time: candles.iter().map(|c| c.open_time).collect(),
        open: candles.iter().map(|c| c.open).collect(),
        high: candles.iter().map(|c| c.high).collect(),
        low: candles.iter().map(|c| c.low).collect(),
        close: candles.iter().map(|c| c.close).collect(),
        volume: candles.iter().map(|c| c.volume).collect(),
    }
}
