//! Backtests and their saved settings in the database. Every backtest
//! query names its owner, so another user's backtest is, to anyone else,
//! one that does not exist. Settings are read and written only for a
//! script the caller has checked is the user's.

use anyhow::Context;
use inchart_api::backtests::{Backtest, BacktestSummary, Outcome, Range, Settings, Status};
use inchart_api::market::{Interval, Symbol};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::entity::{backtest, saved_settings};

#[derive(Clone)]
pub struct BacktestStore {
    db: DatabaseConnection,
}

/// A backtest about to start.
pub struct NewBacktest<'a> {
    pub id: Uuid,
    pub user: Uuid,
    pub script: Uuid,
    pub version: u32,
    pub symbol: &'a Symbol,
    pub interval: Interval,
    pub range: Range,
    pub settings: &'a Settings,
    pub now: i64,
}

fn state_name(status: &Status) -> &'static str {
    match status {
        Status::Loading { .. } => "loading",
        Status::Running => "running",
        Status::Done => "done",
        Status::Failed { .. } => "failed",
    }
}

fn status_of(state: &str, have: i64, want: i64, message: Option<String>) -> Status {
    match state {
        "loading" => Status::Loading {
            have: have.max(0) as u64,
            want: want.max(0) as u64,
        },
        "running" => Status::Running,
        "done" => Status::Done,
        _ => Status::Failed {
            message: message.unwrap_or_else(|| "The backtest failed.".into()),
        },
    }
}

/// A stored backtest as the API shows it; `None` when a row does not
/// read (a symbol or interval no longer known).
fn backtest_of(model: backtest::Model, with_outcome: bool) -> Option<Backtest> {
    let status = status_of(&model.state, model.have, model.want, model.message.clone());
    let result = if with_outcome && status == Status::Done {
        let outcome: Outcome = serde_json::from_str(model.outcome.as_deref()?).ok()?;
        Some(Box::new(outcome))
    } else {
        None
    };
    Some(Backtest {
        id: model.id.to_string(),
        script_id: model.script_id.to_string(),
        version: model.version as u32,
        symbol: Symbol::parse(&model.symbol).ok()?,
        interval: model.interval.parse().ok()?,
        settings: serde_json::from_str(&model.settings).ok()?,
        range: Range {
            from: model.range_from,
            to: model.range_to,
        },
        status,
        result,
        created_at: model.created_at,
    })
}

impl BacktestStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Records a backtest that is starting, as loading.
    pub async fn create(&self, new: NewBacktest<'_>) -> anyhow::Result<Backtest> {
        let model = backtest::Model {
            id: new.id,
            user_id: new.user,
            script_id: new.script,
            version: new.version as i32,
            symbol: new.symbol.to_string(),
            interval: new.interval.as_str().to_string(),
            range_from: new.range.from,
            range_to: new.range.to,
            settings: serde_json::to_string(new.settings).context("while encoding settings")?,
            state: "loading".into(),
            have: 0,
            want: 0,
            message: None,
            outcome: None,
            net_profit_pct: None,
            max_drawdown_pct: None,
            trades: None,
            created_at: new.now,
            updated_at: new.now,
        };
        backtest::Entity::insert(backtest::ActiveModel::from(model.clone()))
            .exec_without_returning(&self.db)
            .await
            .context("while recording a backtest")?;
        backtest_of(model, false).context("a new backtest does not read back")
    }

    /// Moves a backtest to `status` (with its outcome, once done).
    pub async fn set_status(
        &self,
        id: Uuid,
        status: &Status,
        outcome: Option<&Outcome>,
        now: i64,
    ) -> anyhow::Result<()> {
        let mut row = backtest::ActiveModel {
            id: Set(id),
            state: Set(state_name(status).into()),
            updated_at: Set(now),
            ..Default::default()
        };
        match status {
            Status::Loading { have, want } => {
                row.have = Set(*have as i64);
                row.want = Set(*want as i64);
            }
            Status::Failed { message } => row.message = Set(Some(message.clone())),
            Status::Running | Status::Done => {}
        }
        if let Some(outcome) = outcome {
            row.outcome = Set(Some(
                serde_json::to_string(outcome).context("while encoding a backtest's outcome")?,
            ));
            row.net_profit_pct = Set(Some(outcome.report.net_profit_pct));
            row.max_drawdown_pct = Set(Some(outcome.report.max_drawdown_pct));
            row.trades = Set(Some(outcome.report.trades as i32));
        }
        backtest::Entity::update(row)
            .exec(&self.db)
            .await
            .context("while updating a backtest")?;
        Ok(())
    }

    /// One of the user's backtests of a script, with its outcome, and when
    /// it last changed.
    pub async fn get(&self, user: Uuid, script: Uuid, id: Uuid) -> anyhow::Result<Option<(Backtest, i64)>> {
        let model = backtest::Entity::find_by_id(id)
            .filter(backtest::Column::UserId.eq(user))
            .filter(backtest::Column::ScriptId.eq(script))
            .one(&self.db)
            .await
            .context("while reading a backtest")?;
        Ok(model.and_then(|model| {
            let updated = model.updated_at;
            backtest_of(model, true).map(|backtest| (backtest, updated))
        }))
    }

    /// Where a backtest is, without its outcome, and when it last changed.
    pub async fn status(&self, id: Uuid) -> anyhow::Result<Option<(Status, i64)>> {
        let model = backtest::Entity::find_by_id(id)
            .select_only()
            .columns([
                backtest::Column::State,
                backtest::Column::Have,
                backtest::Column::Want,
                backtest::Column::Message,
                backtest::Column::UpdatedAt,
            ])
            .into_tuple::<(String, i64, i64, Option<String>, i64)>()
            .one(&self.db)
            .await
            .context("while reading a backtest's status")?;
        Ok(model
            .map(|(state, have, want, message, updated)| (status_of(&state, have, want, message), updated)))
    }

    /// The user's newest backtests of a script, newest first.
    pub async fn list(&self, user: Uuid, script: Uuid, limit: u64) -> anyhow::Result<Vec<BacktestSummary>> {
        let rows = backtest::Entity::find()
            .filter(backtest::Column::UserId.eq(user))
            .filter(backtest::Column::ScriptId.eq(script))
            .order_by_desc(backtest::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await
            .context("while listing backtests")?;
        Ok(rows
            .into_iter()
            .filter_map(|mut model| {
                model.outcome = None;
                let (net, drawdown, trades) = (model.net_profit_pct, model.max_drawdown_pct, model.trades);
                let backtest = backtest_of(model, false)?;
                Some(BacktestSummary {
                    id: backtest.id,
                    version: backtest.version,
                    symbol: backtest.symbol,
                    interval: backtest.interval,
                    range: backtest.range,
                    status: backtest.status,
                    net_profit_pct: net,
                    max_drawdown_pct: drawdown,
                    trades: trades.map(|n| n.max(0) as u32),
                    created_at: backtest.created_at,
                })
            })
            .collect())
    }

    /// How many of the user's backtests are loading or running and have
    /// moved since `since` (older ones were left by a stopped instance).
    pub async fn unfinished(&self, user: Uuid, since: i64) -> anyhow::Result<u64> {
        backtest::Entity::find()
            .filter(backtest::Column::UserId.eq(user))
            .filter(backtest::Column::State.is_in(["loading", "running"]))
            .filter(backtest::Column::UpdatedAt.gte(since))
            .count(&self.db)
            .await
            .context("while counting running backtests")
    }

    /// The settings saved with a version of a script, else with its
    /// newest version that has some before it.
    pub async fn settings(&self, script: Uuid, version: u32) -> anyhow::Result<Option<Settings>> {
        let row = saved_settings::Entity::find()
            .filter(saved_settings::Column::ScriptId.eq(script))
            .filter(saved_settings::Column::Version.lte(version as i32))
            .order_by_desc(saved_settings::Column::Version)
            .one(&self.db)
            .await
            .context("while reading backtest settings")?;
        Ok(row.and_then(|row| serde_json::from_str(&row.settings).ok()))
    }

    /// Saves `settings` with a version of a script.
    pub async fn save_settings(
        &self,
        script: Uuid,
        version: u32,
        settings: &Settings,
        now: i64,
    ) -> anyhow::Result<()> {
        let row = saved_settings::ActiveModel {
            script_id: Set(script),
            version: Set(version as i32),
            settings: Set(serde_json::to_string(settings).context("while encoding settings")?),
            updated_at: Set(now),
        };
        saved_settings::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([saved_settings::Column::ScriptId, saved_settings::Column::Version])
                    .update_columns([
                        saved_settings::Column::Settings,
                        saved_settings::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .context("while saving backtest settings")?;
        Ok(())
    }
}
