//! Where plan limits are enforced: every handler that does something a
//! plan limits asks [`Plans::check`] first, with the [`Action`] it is
//! about to take, and gets the [`Allowance`] (the plan, and the number it
//! may go up to) or the refusal the trader sees: 402 with where to upgrade
//! for a limit, 429 with `Retry-After` for a rate.
//!
//! Counted limits (saved scripts, live scripts, watched symbols, drawings) are held
//! by the store that keeps the things counted, in the same transaction
//! that adds one, so two requests at once cannot both take the last place;
//! the store is given [`Allowance::limit`] and, when it finds the account
//! full, the handler answers [`Allowance::refused`]. Rates (script runs a
//! minute) are counted here, in the shared cache, so that the count holds
//! across instances. What each plan allows is [`billing`](crate::billing)'s:
//! the plan follows from Stripe's subscriptions.

use std::time::Duration;

use app::billing::{Limits, PlanId};
use uuid::Uuid;

use crate::billing::Billing;
use crate::platform::cache::Cache;
use crate::web::ApiError;
use crate::web::error::describe_wait;

/// The span over which a plan's runs are counted.
const RUN_WINDOW: Duration = Duration::from_secs(60);
/// The span over which a plan's backtests are counted.
const BACKTEST_WINDOW: Duration = Duration::from_secs(3600);

/// Something a plan limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reading a chart's history (a visitor's is Free's).
    ReadHistory,
    /// Running a script over the newest `candles` candles (the plan's
    /// default when not given).
    ReadForRun { candles: Option<u32> },
    /// Keeping one more saved script.
    SaveScript,
    /// Running one more script live on closed candles.
    RunLive,
    /// Following one more symbol on the watchlist.
    Watch,
    /// Keeping one more drawing on the account's charts.
    Draw,
    /// Starting a script run (counted against the runs a minute; live
    /// runs on closed candles are not: the live scripts limit bounds them).
    StartRun,
    /// Backtesting over `candles` candles.
    Backtest { candles: u32 },
    /// Starting a backtest (counted against the backtests an hour).
    StartBacktest,
    /// Keeping one more alert active.
    KeepAlert,
    /// An alert that calls a webhook (a plan allows them or not).
    Webhook,
}

/// What a plan allows for an action.
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    pub plan: PlanId,
    /// The most the plan allows (candles, scripts, symbols, runs).
    pub limit: u32,
    /// Everything the plan allows, for work that needs more than the one
    /// limit (a run's CPU time beside its history).
    pub limits: Limits,
    action: Action,
    /// What Pro allows, when a Free account could buy it here.
    upgrade_to: Option<u32>,
}

impl Allowance {
    /// The refusal a trader at this limit sees.
    pub fn refused(&self) -> ApiError {
        let (plan, have) = (self.plan.name(), self.limit);
        let upgrade = |what: &str| {
            self.upgrade_to.map_or_else(String::new, |more| {
                format!(", or upgrade to Pro for {more}{what}")
            })
        };
        let (limit, message) = match self.action {
            Action::ReadHistory => (
                "history",
                format!("Your plan shows the newest {have} candles of a chart; upgrade for more history."),
            ),
            Action::ReadForRun { .. } => (
                "history",
                format!("Your {plan} plan reads at most {have} candles of history."),
            ),
            Action::SaveScript => (
                "scripts",
                format!(
                    "Your {plan} plan allows {have} saved scripts. Delete one to make room{}.",
                    upgrade("")
                ),
            ),
            Action::RunLive => (
                "live_scripts",
                format!(
                    "Your {plan} plan allows {have} scripts running live. Stop one first{}.",
                    upgrade("")
                ),
            ),
            Action::Watch => (
                "watchlist",
                format!("Your {plan} plan follows at most {have} symbols. Remove one, or upgrade for more."),
            ),
            Action::StartRun => (
                "runs",
                format!("Your {plan} plan starts at most {have} script runs a minute."),
            ),
            Action::Draw => (
                "drawings",
                format!(
                    "Your {plan} plan keeps {have} drawings; delete some{}.",
                    upgrade("")
                ),
            ),
            Action::Backtest { candles } => (
                "backtest_candles",
                format!(
                    "Your {plan} plan backtests over at most {} candles and this range has {}: \
                     choose a shorter range{}.",
                    app::pages::pricing::group_thousands(have),
                    app::pages::pricing::group_thousands(candles),
                    upgrade(" candles")
                ),
            ),
            Action::StartBacktest => (
                "backtests",
                format!("Your {plan} plan starts at most {have} backtests an hour."),
            ),
            Action::KeepAlert => (
                "alerts",
                format!(
                    "Your {plan} plan keeps {have} alerts active. Pause or delete one first{}.",
                    upgrade("")
                ),
            ),
            Action::Webhook => (
                "webhooks",
                format!(
                    "Webhooks are not on your {plan} plan: alerts go by email and browser push{}.",
                    self.upgrade_to
                        .map_or_else(String::new, |_| ", or upgrade to Pro for signed webhooks".into())
                ),
            ),
        };
        ApiError::PlanLimit { limit, message }
    }

    /// The refusal of a run past the runs a minute, or a backtest past
    /// the backtests an hour: when to try again, and what Pro allows when
    /// it is on sale.
    fn rate_spent(&self, retry_after: Duration) -> ApiError {
        let (limit, what, per) = match self.action {
            Action::StartBacktest => ("backtests", "backtests", "an hour"),
            _ => ("runs", "script runs", "a minute"),
        };
        let more = self
            .upgrade_to
            .map_or_else(String::new, |pro| format!(", or upgrade to Pro for {pro} {per}"));
        ApiError::PlanRate {
            limit,
            message: format!(
                "Your {} plan starts at most {} {what} {per}. Try again in {}{more}.",
                self.plan.name(),
                self.limit,
                describe_wait(retry_after),
            ),
            retry_after,
            upgrade: self.upgrade_to.is_some(),
        }
    }
}

/// The one gate for plan limits.
#[derive(Clone)]
pub struct Plans {
    billing: Billing,
    /// Where runs a minute are counted (Redis across instances).
    cache: Cache,
}

impl Plans {
    pub fn new(billing: Billing, cache: Cache) -> Self {
        Self { billing, cache }
    }

    /// The limits `user` is held to now; a visitor's are Free's.
    pub async fn limits_of(&self, user: Option<Uuid>) -> anyhow::Result<Limits> {
        self.billing.limits_of(user).await
    }

    /// Whether `user` (or a visitor) may take `action`, and up to what.
    /// [`Action::StartRun`] is counted here: call it once the run is one
    /// that would start, so that a typo does not spend the trader's minute.
    pub async fn check(&self, user: Option<Uuid>, action: Action) -> Result<Allowance, ApiError> {
        let plan = match user {
            Some(user) => self.billing.plan_of(user).await?,
            None => PlanId::Free,
        };
        let pick = |limits: Limits| match action {
            Action::ReadHistory | Action::ReadForRun { .. } => limits.history_candles,
            Action::SaveScript => limits.scripts,
            Action::RunLive => limits.live_scripts,
            Action::Watch => limits.watchlist,
            Action::StartRun => limits.runs_per_minute,
            Action::Draw => limits.drawings,
            Action::Backtest { .. } => limits.backtest_candles,
            Action::StartBacktest => limits.backtests_per_hour,
            Action::KeepAlert => limits.alerts,
            Action::Webhook => u32::from(limits.webhooks),
        };
        let limits = self.billing.limits(plan);
        let limit = pick(limits);
        let pro = pick(self.billing.limits(PlanId::Pro));
        let allowance = Allowance {
            plan,
            limit,
            limits,
            action,
            upgrade_to: (plan == PlanId::Free && self.billing.on() && pro > limit).then_some(pro),
        };
        match (action, user) {
            (
                Action::ReadForRun {
                    candles: Some(candles),
                },
                _,
            ) if candles > limit => Err(allowance.refused()),
            (Action::Backtest { candles }, _) if candles > limit => Err(allowance.refused()),
            (Action::Webhook, _) if limit == 0 => Err(allowance.refused()),
            (Action::StartRun, Some(user)) => self
                .count(&format!("scripts:runs:{user}"), RUN_WINDOW, &allowance)
                .await
                .map(|()| allowance),
            (Action::StartBacktest, Some(user)) => self
                .count(&format!("backtests:started:{user}"), BACKTEST_WINDOW, &allowance)
                .await
                .map(|()| allowance),
            _ => Ok(allowance),
        }
    }

    /// Counts a run (or backtest) a user starts under `key`, in fixed
    /// windows of `window` from the first; refused past the allowance.
    /// Every attempt counts, so asking again sooner does not help. A cache
    /// that cannot count lets it go (and is logged): runs and backtests
    /// are still bounded by the workers' fair queue.
    async fn count(&self, key: &str, window: Duration, allowance: &Allowance) -> Result<(), ApiError> {
        match self.cache.increment(key, window).await {
            Ok((count, left)) if count > u64::from(allowance.limit) => {
                Err(allowance.rate_spent(left.max(Duration::from_secs(1))))
            }
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), key, "a start was not counted");
                Ok(())
            }
        }
    }
}
