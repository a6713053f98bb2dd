//! Strategy backtests: a trader's script run once over a range of a
//! series in the same sandbox and fair pool as live runs, its signals
//! traded by the [`backtest`] engine with the trader's settings, and the
//! report, trades and equity kept per script version and range.
//!
//! How a backtest goes: the range is checked against the plan (candles a
//! backtest reaches, backtests an hour, two at once per account); older
//! candles the store lacks are fetched from the exchange first
//! ([`crate::market::deep_history`], one fetch per series however many
//! ask); then the worker runs the script over every closed candle of the
//! range and re-checks its signals the way live runs see them (the
//! newest candle being the signal's own, with the window a live run
//! reads): a signal the script does not give then is look-ahead, and the
//! backtest fails saying where, rather than trade on the future. Orders
//! fill at the next candle's open by default, never earlier than a live
//! order could.
//!
//! - [`store`]: backtests and the settings saved with script versions.
//! - [`handlers`]: the HTTP API.
//!
//! A backtest belongs to the instance that started it; its status is
//! written to the database as it moves, so every instance answers for it
//! and one left behind by a stopped instance reads as interrupted.

pub mod entity;
pub mod handlers;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::billing::Limits;
use inchart_api::backtests::{Backtest, MAX_CURVE_POINTS, Outcome, Range, Settings, Status};
use inchart_api::market::{Interval, Symbol};
use tokio::sync::watch;
use uuid::Uuid;
use worker_protocol::utc::minute;
use worker_protocol::{BacktestReport, Columns, Job, Mode, RunError, Signal, Signals};

use crate::market::Market;
use crate::market::deep_history::{Loading, Progress};
use crate::platform::clock::now_ms;
use crate::scripts::Runnable;
use crate::scripts::Scripts;
use crate::scripts::pool::PoolError;
use store::{BacktestStore, NewBacktest};

/// The earliest candle a backtest reaches: Binance's first trading day.
pub const EARLIEST: i64 = 1_500_000_000_000; // 2017-07-14
/// Signals re-checked as live runs see them, at most, per backtest.
pub const CONFIRM_MAX: u32 = 1_000;
/// A backtest's memory on top of the warm interpreter: a million candles
/// are 48 MB as the worker gets them and again as numpy arrays.
pub const MEMORY_BYTES: u64 = 1 << 30;
/// The largest answer a backtest's script may give (its signals).
pub const OUTPUT_BYTES: u64 = 16 << 20;
/// Backtests of one account loading or running at once.
pub const AT_ONCE: u64 = 2;
/// A backtest whose status has not moved for this long was left by an
/// instance that stopped.
pub const STALE_MS: i64 = 10 * 60 * 1000;
/// How often a loading backtest's progress is written down.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Everything backtests need, cloned cheaply per request.
#[derive(Clone)]
pub struct Backtests {
    pub store: BacktestStore,
    scripts: Scripts,
    market: Market,
    /// Backtests this instance runs, with where each is.
    running: Arc<Mutex<HashMap<Uuid, watch::Sender<Status>>>>,
}

/// A backtest about to start, checked.
pub struct Start {
    pub user: Uuid,
    pub script: Uuid,
    pub runnable: Runnable,
    pub symbol: Symbol,
    pub interval: Interval,
    /// Open times of the first and last candle, resolved.
    pub first: i64,
    pub last: i64,
    /// The range as asked for, kept with the backtest.
    pub asked: Range,
    pub settings: Settings,
    pub limits: Limits,
}

/// The candles a range covers, resolved against the newest closed candle
/// and the plan's reach: `(first, last, count)`, or why not.
pub fn resolve(
    range: Range,
    interval: Interval,
    newest_closed: i64,
    reach: u32,
) -> Result<(i64, i64, u32), String> {
    let step = interval.millis();
    let last = range
        .to
        .map_or(newest_closed, |to| interval.open_time_of(to.min(newest_closed)));
    let first = match range.from {
        // A range that starts within a candle starts at the next one.
        Some(from) => {
            let start = interval.open_time_of(from);
            if start < from { start + step } else { start }
        }
        None => last.saturating_sub(i64::from(reach.saturating_sub(1)) * step),
    }
    .max(interval.open_time_of(EARLIEST) + step);
    if first > last {
        return Err("The range holds no closed candle: its start is after its end.".into());
    }
    let count = (last - first) / step + 1;
    Ok((first, last, u32::try_from(count).unwrap_or(u32::MAX)))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Backtests {
    pub fn new(store: BacktestStore, scripts: Scripts, market: Market) -> Self {
        Self {
            store,
            scripts,
            market,
            running: Arc::default(),
        }
    }

    /// The open time of the newest closed candle of a series.
    pub async fn newest_closed(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<Option<i64>> {
        let newest = self.market.newest.closed(symbol, interval, 1, None).await?;
        Ok(newest.last().map(|candle| candle.open_time))
    }

    /// How many of the user's backtests are loading or running now.
    pub async fn unfinished(&self, user: Uuid) -> anyhow::Result<u64> {
        self.store.unfinished(user, now_ms() - STALE_MS).await
    }

    /// Records the backtest and starts it in the background.
    pub async fn start(&self, start: Start) -> anyhow::Result<Backtest> {
        let id = Uuid::new_v4();
        let backtest = self
            .store
            .create(NewBacktest {
                id,
                user: start.user,
                script: start.script,
                version: start.runnable.version,
                symbol: &start.symbol,
                interval: start.interval,
                range: start.asked,
                settings: &start.settings,
                now: now_ms(),
            })
            .await?;
        let (status, _) = watch::channel(backtest.status.clone());
        lock(&self.running).insert(id, status.clone());
        let this = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let ended = this.work(id, &start, &status, started).await;
            let (ended, outcome) = match ended {
                Ok(outcome) => (Status::Done, Some(outcome)),
                Err(message) => (Status::Failed { message }, None),
            };
            if let Err(error) = this
                .store
                .set_status(id, &ended, outcome.as_ref(), now_ms())
                .await
            {
                tracing::error!(error = format!("{error:#}"), %id, "a backtest's end was not recorded");
            }
            status.send_replace(ended);
            lock(&this.running).remove(&id);
        });
        Ok(backtest)
    }

    /// Loads, runs and trades; the trader's reason when it cannot.
    async fn work(
        &self,
        id: Uuid,
        start: &Start,
        status: &watch::Sender<Status>,
        started: Instant,
    ) -> Result<Outcome, String> {
        self.load(id, start, status).await?;
        let candles = self
            .market
            .candles
            .columns(&start.symbol, start.interval, start.first, start.last, true)
            .await
            .map_err(|error| {
                tracing::error!(
                    error = format!("{error:#}"),
                    "could not read a backtest's candles"
                );
                "The candles could not be read; try again.".to_string()
            })?;
        if candles.time.is_empty() {
            return Err("There are no closed candles in this range.".into());
        }
        self.move_to(id, status, Status::Running).await;
        let columns = Columns {
            time: candles.time,
            open: candles.open,
            high: candles.high,
            low: candles.low,
            close: candles.close,
            volume: candles.volume,
        };
        let window = self.scripts.settings.candles.min(start.limits.history_candles);
        let job = Job {
            source: start.runnable.source.clone(),
            // The engine trades on the same candles once the worker is done.
            candles: columns.clone(),
            limits: worker_protocol::Limits {
                cpu_ms: u64::from(start.limits.backtest_cpu_ms),
                wall_ms: u64::from(start.limits.backtest_cpu_ms) * 2 + 5_000,
                memory_bytes: MEMORY_BYTES,
                output_bytes: OUTPUT_BYTES,
            },
            mode: Mode::Backtest {
                window,
                confirm_max: CONFIRM_MAX,
            },
        };
        let report = self
            .scripts
            .pool
            .backtest(start.user, job)
            .await
            .map_err(|error| match error {
                PoolError::Busy(message) | PoolError::Unavailable(message) => message,
            })?;
        let BacktestReport {
            result, log, cpu_ms, ..
        } = report;
        let signals = result.map_err(|error| script_failed(&error))?;
        check_live(&signals, &columns.time, window)?;
        // A million candles take tens of milliseconds to trade and thin:
        // off the threads that answer requests.
        let (settings, step) = (start.settings, start.interval.millis());
        let traded = tokio::task::spawn_blocking(move || {
            let simulation = backtest::simulate(
                &backtest::Candles {
                    time: &columns.time,
                    open: &columns.open,
                    high: &columns.high,
                    low: &columns.low,
                    close: &columns.close,
                },
                &signals.signals,
                &settings,
                step,
            )?;
            let (equity, drawdown) = backtest::curves(&columns.time, &simulation.equity, MAX_CURVE_POINTS);
            Ok::<_, backtest::SettingsError>((simulation, equity, drawdown))
        })
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "a backtest's trading stopped");
            "The backtest stopped unexpectedly; try again.".to_string()
        })?;
        let (simulation, equity, drawdown) = traded.map_err(|error| error.message)?;
        Ok(Outcome {
            report: simulation.report,
            trades: simulation.trades,
            equity,
            drawdown,
            log,
            cpu_ms,
            wall_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Makes sure the store holds the range's older candles, reporting
    /// the fetch's progress as it goes.
    async fn load(&self, id: Uuid, start: &Start, status: &watch::Sender<Status>) -> Result<(), String> {
        let mut progress = self
            .market
            .history
            .ensure(&start.symbol, start.interval, start.first)
            .await
            .map_err(|error| {
                tracing::error!(
                    error = format!("{error:#}"),
                    "could not load a backtest's history"
                );
                "The older candles could not be loaded; try again.".to_string()
            })?;
        let mut written = Instant::now() - PROGRESS_EVERY;
        loop {
            let now: Progress = progress.borrow_and_update().clone();
            match now.state {
                Loading::Done => return Ok(()),
                Loading::Failed(message) => return Err(message),
                Loading::Fetching => {}
            }
            let loading = Status::Loading {
                have: now.have,
                want: now.want,
            };
            status.send_replace(loading.clone());
            if written.elapsed() >= PROGRESS_EVERY {
                written = Instant::now();
                self.move_to(id, status, loading).await;
            }
            if progress.changed().await.is_err() {
                // The fetch ended without a last word: the store decides.
                return Ok(());
            }
        }
    }

    /// Tells this instance's waiters and writes it down for the others.
    async fn move_to(&self, id: Uuid, status: &watch::Sender<Status>, to: Status) {
        status.send_replace(to.clone());
        if let Err(error) = self.store.set_status(id, &to, None, now_ms()).await {
            tracing::warn!(error = format!("{error:#}"), %id, "a backtest's progress was not recorded");
        }
    }

    /// One of the user's backtests, once it has moved on from where it
    /// was or `wait` has passed, whichever is first.
    pub async fn wait(
        &self,
        user: Uuid,
        script: Uuid,
        id: Uuid,
        wait: Duration,
    ) -> anyhow::Result<Option<Backtest>> {
        let Some((backtest, updated)) = self.store.get(user, script, id).await? else {
            return Ok(None);
        };
        let local = lock(&self.running).get(&id).map(watch::Sender::subscribe);
        if finished(&backtest.status) || wait.is_zero() {
            return Ok(Some(self.current(backtest, updated, local.as_ref())));
        }
        let deadline = tokio::time::Instant::now() + wait;
        match local {
            Some(mut status) => {
                // This instance runs it: its own status is newer than the
                // database's (progress is written down once a second).
                let was = status.borrow_and_update().clone();
                let _ = tokio::time::timeout_at(deadline, status.wait_for(|now| *now != was)).await;
            }
            None => loop {
                // Another instance runs it: its status is in the database.
                let was = &backtest.status;
                tokio::time::sleep_until(
                    deadline.min(tokio::time::Instant::now() + Duration::from_millis(250)),
                )
                .await;
                let moved = self
                    .store
                    .status(id)
                    .await?
                    .is_none_or(|(status, updated)| status != *was || updated < now_ms() - STALE_MS);
                if moved || tokio::time::Instant::now() >= deadline {
                    break;
                }
            },
        }
        let Some((backtest, updated)) = self.store.get(user, script, id).await? else {
            return Ok(None);
        };
        let local = lock(&self.running).get(&id).map(watch::Sender::subscribe);
        Ok(Some(self.current(backtest, updated, local.as_ref())))
    }

    /// A stored backtest with where it is now: this instance's own status
    /// while it runs it here (an end is taken from the database, which
    /// has it first, with the outcome); interrupted when it was left by
    /// an instance that stopped.
    fn current(
        &self,
        mut backtest: Backtest,
        updated: i64,
        local: Option<&watch::Receiver<Status>>,
    ) -> Backtest {
        match local {
            Some(status) => {
                let now = status.borrow().clone();
                if !finished(&backtest.status) && !finished(&now) {
                    backtest.status = now;
                }
                backtest
            }
            None => interrupted(backtest, updated),
        }
    }
}

/// A backtest left loading or running by an instance that stopped reads
/// as failed.
fn interrupted(mut backtest: Backtest, updated: i64) -> Backtest {
    if !finished(&backtest.status) && updated < now_ms() - STALE_MS {
        backtest.status = Status::Failed {
            message: "This backtest was interrupted (the server restarted); run it again.".into(),
        };
    }
    backtest
}

fn finished(status: &Status) -> bool {
    matches!(status, Status::Done | Status::Failed { .. })
}

/// A script's error, as the trader reads it above the report.
fn script_failed(error: &RunError) -> String {
    match error.line {
        Some(line) => format!("Line {line}: {}", error.message),
        None => error.message.clone(),
    }
}

/// Refuses a backtest whose script gives signals it would not give live.
fn check_live(signals: &Signals, times: &[i64], window: u32) -> Result<(), String> {
    let Some(first) = signals.unconfirmed.first() else {
        return Ok(());
    };
    let Signal { index, side } = *first;
    let when = times
        .get(index as usize)
        .map_or_else(|| "a candle".to_string(), |&time| minute(time));
    let side = match side {
        worker_protocol::Side::Buy => "buy",
        worker_protocol::Side::Sell => "sell",
    };
    Err(format!(
        "Look-ahead: the script's {side} at {when} is not given when that candle is the newest \
         of the {window} a live run reads, so it uses later candles (or older history than a live \
         run has). {} of the {} signals checked differ. Make each signal depend only on its own \
         candle and those before it; the backtest does not trade on the future.",
        signals.unconfirmed.len(),
        signals.checked,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn a_range_resolves_to_whole_closed_candles_within_reach() {
        let newest = 1_700_000_000_000 / HOUR * HOUR;
        // All the plan reaches, up to the newest closed candle.
        assert_eq!(
            resolve(Range::default(), Interval::H1, newest, 100),
            Ok((newest - 99 * HOUR, newest, 100))
        );
        // A start within a candle starts at the next; an end past the
        // newest closed candle stops there.
        let asked = Range {
            from: Some(newest - 10 * HOUR - 1),
            to: Some(newest + 5 * HOUR),
        };
        assert_eq!(
            resolve(asked, Interval::H1, newest, 100),
            Ok((newest - 10 * HOUR, newest, 11))
        );
        let backwards = Range {
            from: Some(newest),
            to: Some(newest - HOUR),
        };
        assert!(resolve(backwards, Interval::H1, newest, 100).is_err());
        // Nothing before the exchange opened.
        let (first, _, _) = resolve(
            Range {
                from: Some(0),
                to: None,
            },
            Interval::H1,
            newest,
            100,
        )
        .unwrap();
        assert!(first > EARLIEST);
    }

    #[test]
    fn look_ahead_is_refused_naming_the_signal() {
        let times: Vec<i64> = (0..10).map(|i| i * HOUR).collect();
        let honest = Signals {
            signals: vec![Signal {
                index: 3,
                side: worker_protocol::Side::Buy,
            }],
            checked: 1,
            unconfirmed: Vec::new(),
        };
        assert!(check_live(&honest, &times, 1000).is_ok());
        let peeking = Signals {
            unconfirmed: honest.signals.clone(),
            ..honest
        };
        let message = check_live(&peeking, &times, 1000).unwrap_err();
        assert!(
            message.starts_with("Look-ahead: the script's buy at 1970-01-01 03:00"),
            "{message}"
        );
        assert!(message.contains("1 of the 1 signals"), "{message}");
    }
}
