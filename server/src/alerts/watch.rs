//! Which alerts fire: every instance hears every candle change (through
//! the live market) and every live run it makes itself (a run is made by
//! one instance), and fires the alerts that hold. The store keeps each
//! firing to once per alert and candle, whichever instances try.
//!
//! Each series' active price alerts are read from the database at most
//! every [`INDEX_TTL`] (and again at once after a change on this
//! instance), so a change made on another instance is seen within it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use inchart_api::alerts::{Condition, PriceSource, Sides};
use inchart_api::market::Interval;
use inchart_api::scripts::Side;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::entity::alert;
use super::rules::{Message, crossed};
use super::store::NewFiring;
use super::{Alerts, channels_of, spec_of};
use crate::market::window::{LiveEvent, SeriesKey};
use crate::platform::clock::now_ms;
use crate::scripts::LiveRun;

/// How long a series' alerts are read from memory before the database.
pub const INDEX_TTL: Duration = Duration::from_secs(1);
/// A day, in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// A series' slot in the index: empty until first read, and again once
/// forgotten.
pub type Slot = Arc<tokio::sync::Mutex<Option<Indexed>>>;

/// A series' active price alerts, as read at `loaded`.
#[derive(Clone)]
pub struct Indexed {
    loaded: Instant,
    alerts: Arc<Vec<Watched>>,
}

/// An active alert, read for deciding.
pub struct Watched {
    pub model: Arc<alert::Model>,
    pub condition: Condition,
    pub forming: bool,
}

/// An alert that holds on a candle.
pub struct Candidate {
    pub model: Arc<alert::Model>,
    pub condition: Condition,
    pub candle_time: i64,
    pub price: f64,
    pub side: Option<Side>,
    pub label: Option<String>,
    pub script: Option<String>,
}

impl Alerts {
    /// Forgets what this instance read of a series' alerts.
    pub(crate) fn forget_index(&self, symbol: &str, interval: Interval) {
        let Ok(symbol) = inchart_api::market::Symbol::parse(symbol) else {
            return;
        };
        self.inner
            .index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&SeriesKey::new(&symbol, interval));
    }

    /// The active price alerts of a series. One read at a time per
    /// series: changes that arrive while it is read wait for it and share
    /// its answer, so a burst of changes is one query, not one each.
    async fn watched(&self, key: &SeriesKey) -> anyhow::Result<Arc<Vec<Watched>>> {
        let slot = self
            .inner
            .index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(indexed) = slot.as_ref()
            && indexed.loaded.elapsed() < INDEX_TTL
        {
            return Ok(indexed.alerts.clone());
        }
        let loaded = Instant::now();
        let rows = self
            .inner
            .store
            .active_on(key.symbol.as_str(), key.interval.as_str())
            .await?;
        let alerts: Arc<Vec<Watched>> = Arc::new(
            rows.into_iter()
                .filter_map(|model| {
                    let spec = spec_of(&model)?;
                    spec.condition.is_price().then(|| Watched {
                        forming: spec.source == PriceSource::Forming,
                        condition: spec.condition,
                        model: Arc::new(model),
                    })
                })
                .collect(),
        );
        *slot = Some(Indexed {
            loaded,
            alerts: alerts.clone(),
        });
        Ok(alerts)
    }

    /// Decides which price alerts of a series a change fires: `forming`
    /// is the price heard before this change, `close` the previous
    /// candle's close (for closed candles).
    async fn on_price(self, key: SeriesKey, candle: inchart_api::market::Candle, forming: f64, close: f64) {
        let watched = match self.watched(&key).await {
            Ok(watched) => watched,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "could not read a series' alerts");
                return;
            }
        };
        let now = now_ms();
        let candidates: Vec<Candidate> = watched
            .iter()
            .filter(|w| w.model.expires_at.is_none_or(|at| at > now))
            .filter_map(|w| {
                let before = if w.forming {
                    forming
                } else if candle.closed {
                    close
                } else {
                    return None;
                };
                crossed(&w.condition, before, candle.close).then(|| Candidate {
                    model: w.model.clone(),
                    condition: w.condition.clone(),
                    candle_time: candle.open_time,
                    price: candle.close,
                    side: None,
                    label: None,
                    script: None,
                })
            })
            .collect();
        if !candidates.is_empty() {
            self.fire(candidates).await;
        }
    }

    /// Fires a script's alerts on its run's new markers.
    async fn on_run(self, run: Arc<LiveRun>) {
        if run.markers.is_empty() {
            return;
        }
        let alerts = match self.inner.store.on_script(run.script).await {
            Ok(alerts) => alerts,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "could not read a script's alerts");
                return;
            }
        };
        let now = now_ms();
        let candidates: Vec<Candidate> = alerts
            .into_iter()
            .filter(|model| {
                model.user_id == run.user
                    && model.symbol == run.series.symbol.as_str()
                    && model.interval == run.series.interval.as_str()
                    && model.expires_at.is_none_or(|at| at > now)
            })
            .filter_map(|model| {
                let spec = spec_of(&model)?;
                let Condition::Script { sides, .. } = spec.condition else {
                    return None;
                };
                let marker = run.markers.iter().find(|marker| match sides {
                    Sides::Both => true,
                    Sides::Buy => marker.side == Side::Buy,
                    Sides::Sell => marker.side == Side::Sell,
                })?;
                Some(Candidate {
                    model: Arc::new(model),
                    condition: spec.condition.clone(),
                    candle_time: run.candle_time,
                    price: marker.price,
                    side: Some(marker.side),
                    label: marker.label.clone(),
                    script: Some(run.script_name.clone()),
                })
            })
            .collect();
        if !candidates.is_empty() {
            self.fire(candidates).await;
        }
    }

    /// Records the candidates' firings (those no instance recorded yet)
    /// and delivers them at once.
    pub(crate) async fn fire(&self, candidates: Vec<Candidate>) {
        let now = now_ms();
        let mut daily: HashMap<Uuid, u32> = HashMap::new();
        let mut batch = Vec::with_capacity(candidates.len());
        let mut models: HashMap<Uuid, Arc<alert::Model>> = HashMap::new();
        for candidate in candidates {
            let model = candidate.model;
            let daily_limit = match daily.get(&model.user_id) {
                Some(limit) => *limit,
                None => match self.inner.plans.limits_of(Some(model.user_id)).await {
                    Ok(limits) => {
                        daily.insert(model.user_id, limits.alert_firings_per_day);
                        limits.alert_firings_per_day
                    }
                    Err(error) => {
                        tracing::warn!(
                            error = format!("{error:#}"),
                            "could not read a plan; the alert waits"
                        );
                        continue;
                    }
                },
            };
            let id = Uuid::new_v4();
            let side = candidate.side.map(|side| match side {
                Side::Buy => "buy".to_string(),
                Side::Sell => "sell".to_string(),
            });
            let summary = match &candidate.script {
                Some(script) => format!(
                    "{} {} {}: {} {}",
                    model.symbol,
                    model.interval,
                    script,
                    side.as_deref().unwrap_or("signal"),
                    candidate.label.as_deref().unwrap_or("")
                )
                .trim_end()
                .to_string(),
                None => format!(
                    "{} {} {}",
                    model.symbol,
                    model.interval,
                    candidate.condition.describe()
                ),
            };
            let message = Message {
                alert_id: model.id.to_string(),
                firing_id: id.to_string(),
                symbol: model.symbol.clone(),
                interval: model.interval.clone(),
                time: candidate.candle_time,
                price: candidate.price,
                side: side.clone(),
                label: candidate.label.clone(),
                script: candidate.script.clone(),
                summary,
            };
            let Ok(message) = serde_json::to_string(&message) else {
                continue;
            };
            batch.push(NewFiring {
                id,
                alert: model.id,
                user: model.user_id,
                candle_time: candidate.candle_time,
                price: candidate.price,
                side,
                label: candidate.label,
                message,
                channels: channels_of(&model),
                once: model.repeat != "every_time",
                daily_limit,
            });
            models.insert(model.id, model);
        }
        let lease_until = now + super::deliver::LEASE.as_millis() as i64;
        match self
            .inner
            .store
            .fire(batch, now, now - now.rem_euclid(DAY_MS), lease_until)
            .await
        {
            Ok(fired) => {
                let once: Vec<&Arc<alert::Model>> = fired
                    .iter()
                    .filter(|(new, _)| new.once)
                    .filter_map(|(new, _)| models.get(&new.alert))
                    .collect();
                for model in once {
                    self.forget_index(&model.symbol, model.interval.parse().unwrap_or(Interval::M1));
                }
                let mut dues = Vec::new();
                for (new, deliveries) in fired {
                    let model = models.get(&new.alert).cloned();
                    for delivery in deliveries {
                        dues.push((
                            super::store::Due {
                                delivery,
                                message: new.message.clone(),
                                fired_at: now,
                            },
                            model.clone(),
                        ));
                    }
                }
                self.deliver(dues);
            }
            Err(error) => {
                // Another instance that saw the same change fires them; on
                // a database outage the next change tries again.
                tracing::error!(error = format!("{error:#}"), "could not record firings");
            }
        }
    }
}

/// Fires price alerts on every candle change, and script alerts on every
/// live run this instance makes, until the market stops.
pub async fn watch(
    alerts: Alerts,
    mut events: broadcast::Receiver<LiveEvent>,
    mut runs: broadcast::Receiver<Arc<LiveRun>>,
) {
    // The price heard last, and the last close, per series.
    let mut last_price: HashMap<SeriesKey, f64> = HashMap::new();
    let mut last_close: HashMap<SeriesKey, (i64, f64)> = HashMap::new();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(LiveEvent::Candle(change)) => {
                    let candle = change.candle;
                    let key = change.key.clone();
                    let forming = last_price.insert(key.clone(), candle.close).unwrap_or(candle.open);
                    let close = match last_close.get(&key) {
                        Some(&(time, close)) if time < candle.open_time => close,
                        _ => candle.open,
                    };
                    if candle.closed {
                        last_close.insert(key.clone(), (candle.open_time, candle.close));
                    }
                    tokio::spawn(alerts.clone().on_price(key, candle, forming, close));
                }
                Ok(LiveEvent::Status(_)) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "alerts fell behind and skipped candle changes");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            run = runs.recv() => match run {
                Ok(run) => {
                    tokio::spawn(alerts.clone().on_run(run));
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "alerts fell behind and skipped live runs");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
