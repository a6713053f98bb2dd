//! Attached scripts re-run on every closed candle of their series, and
//! what they produce reaches their owner's open charts.
//!
//! Every instance hears of every closed candle. One of them runs each
//! attached script for it: the first to claim the run's key in the shared
//! cache. The run's result goes out on the signal bus (a Redis channel, or
//! in process without Redis), and every instance hands it to the owner's
//! chart connections that follow the series.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use app::scripts::{RunView, SeriesRef, Trigger};
use futures::StreamExt;
use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::engine::EngineError;
use super::{Scripts, Window};
use crate::cache::Cache;
use crate::market::live::{LiveEvent, SeriesKey};

/// How long a claim on a live run lasts: long enough that no other
/// instance runs it again, short enough to leave nothing behind.
const CLAIM_TTL: Duration = Duration::from_secs(600);
/// Signals an instance's connections may fall behind before they skip.
const BACKLOG: usize = 1024;

/// A run's result, for its owner's charts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignalEvent {
    pub user: Uuid,
    pub script_name: String,
    pub run: RunView,
}

#[derive(Clone)]
pub struct SignalBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    local: broadcast::Sender<Arc<SignalEvent>>,
    redis: Option<(redis::Client, ConnectionManager)>,
    channel: String,
}

impl SignalBus {
    pub async fn connect(url: Option<&SecretString>, prefix: &str) -> anyhow::Result<Self> {
        let redis = match url {
            Some(url) => {
                let client =
                    redis::Client::open(url.expose_secret()).context("REDIS_URL is not a Redis URL")?;
                let manager = ConnectionManager::new(client.clone())
                    .await
                    .context("while connecting to Redis for signals")?;
                Some((client, manager))
            }
            None => None,
        };
        Ok(Self {
            inner: Arc::new(BusInner {
                local: broadcast::channel(BACKLOG).0,
                redis,
                channel: format!("{prefix}:signals"),
            }),
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SignalEvent>> {
        self.inner.local.subscribe()
    }

    /// Tells every instance.
    pub async fn publish(&self, event: SignalEvent) -> anyhow::Result<()> {
        match &self.inner.redis {
            Some((_, manager)) => {
                let payload = serde_json::to_string(&event).context("while encoding signals")?;
                let mut connection = manager.clone();
                let _: i64 = redis::cmd("PUBLISH")
                    .arg(&self.inner.channel)
                    .arg(payload)
                    .query_async(&mut connection)
                    .await
                    .context("while publishing signals")?;
            }
            None => {
                let _ = self.inner.local.send(Arc::new(event));
            }
        }
        Ok(())
    }

    /// Hands what other instances publish to this one's connections
    /// (Redis only), subscribing again when Redis drops.
    pub async fn listen(self) {
        let Some((client, _)) = &self.inner.redis else {
            return std::future::pending().await;
        };
        loop {
            if let Err(error) = self.listen_once(client).await {
                tracing::warn!(error = format!("{error:#}"), "the signal subscription failed");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen_once(&self, client: &redis::Client) -> anyhow::Result<()> {
        let mut pubsub = client
            .get_async_pubsub()
            .await
            .context("while opening a subscription")?;
        pubsub
            .subscribe(&self.inner.channel)
            .await
            .context("while subscribing to signals")?;
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            match serde_json::from_slice::<SignalEvent>(message.get_payload_bytes()) {
                Ok(event) => {
                    let _ = self.inner.local.send(Arc::new(event));
                }
                Err(error) => tracing::warn!(%error, "skipped an unreadable signal message"),
            }
        }
        Ok(())
    }
}

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
    let allowed = scripts.billing.limits_of(Some(user)).await?.live_scripts;
    if !scripts.store.runs_live(user, script, series, allowed).await? {
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
        )
        .await
    {
        Ok(run) => run,
        Err(EngineError::Busy(reason) | EngineError::Unavailable(reason)) => anyhow::bail!(reason),
    };
    scripts
        .bus
        .publish(SignalEvent {
            user,
            script_name: runnable.name,
            run,
        })
        .await
}
