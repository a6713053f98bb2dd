//! Signal scripts: traders' Python, run in sandboxed workers on a series'
//! candles, drawn on the chart as markers and lines.
//!
//! - [`store`]: scripts, their versions, runs and attachments, per owner.
//! - [`engine`]: the warm pool of sandboxed workers and its fair queue.
//! - [`live`]: attached scripts re-run on every closed candle; their
//!   signals reach the owner's charts over the WebSocket.
//! - [`handlers`]: the HTTP API.
//!
//! Runs a trader starts are counted against their plan's runs a minute
//! ([`Scripts::count_run`]), in the shared cache so that the count holds
//! across instances; live runs on closed candles are not counted (the
//! plan's live scripts bound them).

pub mod engine;
pub mod entity;
pub mod handlers;
pub mod live;
pub mod pages;
pub mod store;

use std::time::Duration;

use anyhow::Context;
use app::billing::Limits;
use app::scripts::SeriesRef;
use inchart_api::market::Candle;
use inchart_api::scripts::{RunView, Trigger};
use uuid::Uuid;
use worker_protocol::{Columns, Job};

use crate::auth::now_ms;
use crate::billing::Billing;
use crate::cache::Cache;
use crate::config::ScriptSettings;
use crate::market::live::{LiveMarket, SeriesKey};
use crate::market::store::{CandleRange, CandleStore};
use engine::{Engine, EngineError};
use store::{NewRun, ScriptStore};

/// Everything scripts need, cloned cheaply per request.
#[derive(Clone)]
pub struct Scripts {
    pub settings: ScriptSettings,
    pub store: ScriptStore,
    pub engine: Engine,
    pub bus: live::SignalBus,
    /// Each run's CPU time and history, and how many scripts an account
    /// keeps and runs live, are its plan's.
    pub billing: Billing,
    /// Where runs a minute are counted (Redis across instances).
    cache: Cache,
    candles: CandleStore,
    live: LiveMarket,
}

/// A run refused because the trader has started their plan's runs for
/// this minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunsSpent {
    /// Until the count starts again.
    pub retry_after: Duration,
}

/// The span over which a plan's runs are counted.
const RUN_WINDOW: Duration = Duration::from_secs(60);

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
        bus: live::SignalBus,
        candles: CandleStore,
        live: LiveMarket,
        billing: Billing,
        cache: Cache,
    ) -> Self {
        let engine = Engine::new(settings.clone());
        Self {
            settings,
            store,
            engine,
            bus,
            billing,
            cache,
            candles,
            live,
        }
    }

    /// Counts a run `user` starts against `limits`' runs a minute, in
    /// fixed one-minute windows from the first run; refused past it. Every
    /// attempt counts, so asking again sooner does not help. A cache that
    /// cannot count lets the run go (and is logged): runs are still bounded
    /// by the fair queue.
    pub async fn count_run(&self, user: Uuid, limits: &Limits) -> Result<(), RunsSpent> {
        match self
            .cache
            .increment(&format!("scripts:runs:{user}"), RUN_WINDOW)
            .await
        {
            Ok((count, left)) if count > u64::from(limits.runs_per_minute) => Err(RunsSpent {
                retry_after: left.max(Duration::from_secs(1)),
            }),
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "a script run was not counted");
                Ok(())
            }
        }
    }

    /// The feed's status now, for the pages.
    pub fn feed_status(&self) -> inchart_api::market::FeedStatus {
        self.live.current_status()
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

    /// Runs one version of a script on a series and records the run.
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
    ) -> Result<RunView, EngineError> {
        let limits = self.billing.limits_of(Some(user)).await.map_err(|error| {
            tracing::error!(error = format!("{error:#}"), "could not read a plan's limits");
            EngineError::Unavailable("Your plan could not be read; try again.".into())
        })?;
        let window = Window {
            count: window.count.min(limits.history_candles),
            ..window
        };
        let candles = self.closed_candles(series, window).await.map_err(|error| {
            tracing::error!(
                error = format!("{error:#}"),
                "could not read candles for a script"
            );
            EngineError::Unavailable("The candles could not be read; try again.".into())
        })?;
        // The job never leaves this process (the worker gets its payload),
        // and the engine judges the worker's answer against its candles.
        let job = Job {
            source,
            candles: columns(&candles),
            limits: self.engine.limits(limits.script_cpu_ms),
        };
        let report = self.engine.run(user, job).await?;
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
                EngineError::Unavailable("The run could not be saved; try again.".into())
            })?;
        Ok(run)
    }

    /// The newest closed candles of a series: from the live window when it
    /// holds them all without a gap, from the database otherwise, with the
    /// window's candles over the database's (the database may not have the
    /// candle that has just closed yet).
    async fn closed_candles(&self, series: &SeriesRef, window: Window) -> anyhow::Result<Vec<Candle>> {
        let wanted = window.count as usize;
        let key = SeriesKey::new(&series.symbol, series.interval);
        let recent: Vec<Candle> = self
            .live
            .recent(&key, None, wanted + 1)
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|c| serde_json::from_str::<Candle>(&c.json).ok())
            .filter(|c| c.closed && window.until.is_none_or(|until| c.open_time <= until))
            .collect();
        let step = series.interval.millis();
        let gapless = recent
            .windows(2)
            .all(|pair| pair[1].open_time - pair[0].open_time == step);
        let mut candles = if recent.len() >= wanted && gapless {
            recent
        } else {
            let stored = self
                .candles
                .range(
                    &series.symbol,
                    series.interval,
                    CandleRange {
                        start: None,
                        end: window.until,
                        limit: wanted as u64 + 1,
                    },
                )
                .await
                .context("while reading candles for a script")?;
            let mut merged: std::collections::BTreeMap<i64, Candle> = stored
                .into_iter()
                .filter(|c| c.closed)
                .map(|c| (c.open_time, c))
                .collect();
            merged.extend(recent.into_iter().map(|c| (c.open_time, c)));
            merged.into_values().collect()
        };
        let skip = candles.len().saturating_sub(wanted);
        candles.drain(..skip);
        Ok(candles)
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
