//! Where live runs are started: attached scripts re-run on every closed
//! candle of their series.
//!
//! Every instance hears of every closed candle. One of them runs each
//! attached script for it: the first to claim the run's key in the shared
//! cache. The result goes out on the [signal bus](super::signals).

use std::time::Duration;

use app::scripts::SeriesRef;
use inchart_api::scripts::Trigger;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::pool::PoolError;
use super::signals::SignalEvent;
use super::{Scripts, Window};
use crate::market::window::{LiveEvent, SeriesKey};
use crate::platform::cache::Cache;

/// How long a claim on a live run lasts: long enough that no other
/// instance runs it again, short enough to leave nothing behind.
const CLAIM_TTL: Duration = Duration::from_secs(600);

/// Runs attached scripts on every closed candle until the live market stops.
pub async fn rerun_attached(scripts: Scripts, cache: Cache, mut events: broadcast::Receiver<LiveEvent>) {
    loop {
        match events.recv().await {
            Ok(LiveEvent::Candle(change)) if change.candle.closed => {
                let scripts = scripts.clone();
                let cache = cache.clone();
                let key = change.key.clone();
                let open_time = change.candle.open_time;
                tokio::spawn(async move { on_close(scripts, cache, key, open_time).await });
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "live scripts fell behind and skipped candle changes");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn on_close(scripts: Scripts, cache: Cache, key: SeriesKey, open_time: i64) {
    let attached = match scripts.store.attached_to(&key.symbol, key.interval).await {
        Ok(attached) => attached,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "could not read attached scripts");
            return;
        }
    };
    for (script, user) in attached {
        let claim = format!(
            "scripts:live:{script}:{}:{}:{open_time}",
            key.symbol, key.interval
        );
        match cache.claim(&claim, CLAIM_TTL).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "could not claim a live run; skipping it"
                );
                continue;
            }
        }
        let scripts = scripts.clone();
        let series = SeriesRef {
            symbol: key.symbol.clone(),
            interval: key.interval,
        };
        tokio::spawn(async move {
            if let Err(error) = run_live(&scripts, user, script, &series, open_time).await {
                tracing::warn!(%script, error = format!("{error:#}"), "a live script run did not happen");
            }
        });
    }
}

async fn run_live(
    scripts: &Scripts,
    user: Uuid,
    script: Uuid,
    series: &SeriesRef,
    open_time: i64,
) -> anyhow::Result<()> {
    let Some(runnable) = scripts.store.runnable(user, script, None).await? else {
        return Ok(());
    };
    let limits = scripts.plans.limits_of(Some(user)).await?;
    if !scripts
        .store
        .runs_live(user, script, series, limits.live_scripts)
        .await?
    {
        tracing::debug!(%script, "past its owner's live limit; not run");
        return Ok(());
    }
    let window = Window {
        count: scripts.settings.candles,
        until: Some(open_time),
    };
    let run = match scripts
        .run(
            user,
            script,
            runnable.version,
            runnable.source,
            series,
            window,
            Trigger::Live,
            &limits,
        )
        .await
    {
        Ok(run) => run,
        Err(PoolError::Busy(reason) | PoolError::Unavailable(reason)) => anyhow::bail!(reason),
    };
    let markers = run.result.as_ref().map_or_else(
        |_| Vec::new(),
        |output| {
            output
                .markers
                .iter()
                .filter(|marker| marker.time == open_time)
                .cloned()
                .collect()
        },
    );
    scripts.tell_live_run(super::LiveRun {
        user,
        script,
        script_name: runnable.name.clone(),
        series: series.clone(),
        candle_time: open_time,
        markers,
    });
    scripts
        .bus
        .publish(SignalEvent {
            user,
            script_name: runnable.name,
            run,
        })
        .await
}
