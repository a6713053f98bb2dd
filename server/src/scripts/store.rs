//! Scripts in the database. Every query names the owner, so one user's
//! script is, to anyone else, a script that does not exist.

use anyhow::Context;
use app::scripts::{ScriptDetail, ScriptSummary, SeriesRef, VersionInfo};
use inchart_api::charts::Layer;
use inchart_api::market::{Interval, Symbol};
use inchart_api::scripts::{RunView, Trigger};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;
use worker_protocol::Report;

use super::entity::{attachment, layer, run, script, version};

/// How many runs of a script are kept; older ones are deleted by the
/// hourly housekeeping.
pub const RUNS_KEPT: u64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The account holds as many as its plan allows.
    #[error("the plan's limit is reached")]
    Full,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct ScriptStore {
    db: DatabaseConnection,
}

/// A run to record.
pub struct NewRun<'a> {
    pub script: Uuid,
    pub user: Uuid,
    pub version: u32,
    pub series: &'a SeriesRef,
    pub trigger: Trigger,
    pub first_candle: Option<i64>,
    pub last_candle: Option<i64>,
    pub candles: u32,
    pub report: Report,
    pub now: i64,
}

/// The source of one version of a script, ready to run.
pub struct Runnable {
    pub name: String,
    pub version: u32,
    pub source: String,
}

impl ScriptStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The user's scripts, most recently changed first.
    pub async fn list(&self, user: Uuid) -> anyhow::Result<Vec<ScriptSummary>> {
        let scripts = script::Entity::find()
            .filter(script::Column::UserId.eq(user))
            .order_by_desc(script::Column::UpdatedAt)
            .all(&self.db)
            .await
            .context("while listing scripts")?;
        let attachments = attachment::Entity::find()
            .filter(attachment::Column::UserId.eq(user))
            .all(&self.db)
            .await
            .context("while listing attachments")?;
        Ok(scripts
            .into_iter()
            .map(|model| {
                let attached = attachments
                    .iter()
                    .filter(|a| a.script_id == model.id)
                    .filter_map(series_of)
                    .collect();
                summary(model, attached)
            })
            .collect())
    }

    pub async fn create(
        &self,
        user: Uuid,
        name: &str,
        source: &str,
        now: i64,
        max_scripts: u32,
    ) -> Result<ScriptDetail, StoreError> {
        let owned = script::Entity::find()
            .filter(script::Column::UserId.eq(user))
            .count(&self.db)
            .await
            .context("while counting scripts")?;
        if owned >= u64::from(max_scripts) {
            return Err(StoreError::Full);
        }
        let id = Uuid::new_v4();
        let name = name.to_string();
        let text = source.to_string();
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    script::Entity::insert(script::ActiveModel {
                        id: Set(id),
                        user_id: Set(user),
                        name: Set(name),
                        latest_version: Set(1),
                        created_at: Set(now),
                        updated_at: Set(now),
                    })
                    .exec_without_returning(txn)
                    .await?;
                    version::Entity::insert(version::ActiveModel {
                        script_id: Set(id),
                        version: Set(1),
                        source: Set(text),
                        created_at: Set(now),
                    })
                    .exec_without_returning(txn)
                    .await?;
                    Ok(())
                })
            })
            .await
            .context("while creating a script")?;
        self.get(user, id)
            .await?
            .context("a script vanished as it was created")
            .map_err(StoreError::Internal)
    }

    /// The script with its newest source, if the user owns it.
    pub async fn get(&self, user: Uuid, id: Uuid) -> anyhow::Result<Option<ScriptDetail>> {
        let Some(model) = self.owned(user, id).await? else {
            return Ok(None);
        };
        let source = version::Entity::find_by_id((id, model.latest_version))
            .one(&self.db)
            .await
            .context("while reading a script's source")?
            .map(|v| v.source)
            .unwrap_or_default();
        let attached = self.attached(id).await?;
        Ok(Some(ScriptDetail {
            summary: summary(model, attached),
            source,
        }))
    }

    async fn owned(&self, user: Uuid, id: Uuid) -> anyhow::Result<Option<script::Model>> {
        script::Entity::find_by_id(id)
            .filter(script::Column::UserId.eq(user))
            .one(&self.db)
            .await
            .context("while reading a script")
    }

    async fn attached(&self, id: Uuid) -> anyhow::Result<Vec<SeriesRef>> {
        Ok(attachment::Entity::find()
            .filter(attachment::Column::ScriptId.eq(id))
            .all(&self.db)
            .await
            .context("while reading a script's attachments")?
            .iter()
            .filter_map(series_of)
            .collect())
    }

    /// Renames the script and/or saves a new version of its source. A
    /// source equal to the newest version's saves nothing new.
    pub async fn update(
        &self,
        user: Uuid,
        id: Uuid,
        name: Option<&str>,
        source: Option<&str>,
        now: i64,
    ) -> anyhow::Result<Option<ScriptDetail>> {
        let Some(current) = self.get(user, id).await? else {
            return Ok(None);
        };
        let new_source = source.filter(|text| *text != current.source).map(str::to_string);
        let new_name = name
            .filter(|text| *text != current.summary.name)
            .map(str::to_string);
        if new_source.is_none() && new_name.is_none() {
            return Ok(Some(current));
        }
        let next = current.summary.version as i32 + 1;
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    let mut update = script::Entity::update_many()
                        .col_expr(script::Column::UpdatedAt, Expr::value(now))
                        .filter(script::Column::Id.eq(id))
                        .filter(script::Column::UserId.eq(user));
                    if let Some(name) = new_name {
                        update = update.col_expr(script::Column::Name, Expr::value(name));
                    }
                    if let Some(source) = new_source {
                        update = update.col_expr(script::Column::LatestVersion, Expr::value(next));
                        version::Entity::insert(version::ActiveModel {
                            script_id: Set(id),
                            version: Set(next),
                            source: Set(source),
                            created_at: Set(now),
                        })
                        .exec_without_returning(txn)
                        .await?;
                    }
                    update.exec(txn).await?;
                    Ok(())
                })
            })
            .await
            .context("while saving a script")?;
        self.get(user, id).await
    }

    /// Deletes the script with its versions, runs and attachments.
    pub async fn delete(&self, user: Uuid, id: Uuid) -> anyhow::Result<bool> {
        if self.owned(user, id).await?.is_none() {
            return Ok(false);
        }
        self.db
            .transaction::<_, _, DbErr>(|txn| {
                Box::pin(async move {
                    layer::Entity::delete_many()
                        .filter(layer::Column::ScriptId.eq(id))
                        .exec(txn)
                        .await?;
                    attachment::Entity::delete_many()
                        .filter(attachment::Column::ScriptId.eq(id))
                        .exec(txn)
                        .await?;
                    run::Entity::delete_many()
                        .filter(run::Column::ScriptId.eq(id))
                        .exec(txn)
                        .await?;
                    version::Entity::delete_many()
                        .filter(version::Column::ScriptId.eq(id))
                        .exec(txn)
                        .await?;
                    script::Entity::delete_by_id(id).exec(txn).await?;
                    Ok(())
                })
            })
            .await
            .context("while deleting a script")?;
        Ok(true)
    }

    /// Every saved version, newest first.
    pub async fn versions(&self, user: Uuid, id: Uuid) -> anyhow::Result<Option<Vec<VersionInfo>>> {
        if self.owned(user, id).await?.is_none() {
            return Ok(None);
        }
        let versions = version::Entity::find()
            .select_only()
            .column(version::Column::Version)
            .column(version::Column::CreatedAt)
            .filter(version::Column::ScriptId.eq(id))
            .order_by_desc(version::Column::Version)
            .into_tuple::<(i32, i64)>()
            .all(&self.db)
            .await
            .context("while listing versions")?;
        Ok(Some(
            versions
                .into_iter()
                .map(|(version, created_at)| VersionInfo {
                    version: version as u32,
                    created_at,
                    source: None,
                })
                .collect(),
        ))
    }

    /// One version with its source; the newest when `wanted` is `None`.
    pub async fn runnable(
        &self,
        user: Uuid,
        id: Uuid,
        wanted: Option<u32>,
    ) -> anyhow::Result<Option<Runnable>> {
        let Some(model) = self.owned(user, id).await? else {
            return Ok(None);
        };
        let number = wanted.map_or(model.latest_version, |v| v as i32);
        Ok(version::Entity::find_by_id((id, number))
            .one(&self.db)
            .await
            .context("while reading a version")?
            .map(|v| Runnable {
                name: model.name,
                version: v.version as u32,
                source: v.source,
            }))
    }

    pub async fn version(&self, user: Uuid, id: Uuid, number: u32) -> anyhow::Result<Option<VersionInfo>> {
        if self.owned(user, id).await?.is_none() {
            return Ok(None);
        }
        Ok(version::Entity::find_by_id((id, number as i32))
            .one(&self.db)
            .await
            .context("while reading a version")?
            .map(|v| VersionInfo {
                version: v.version as u32,
                created_at: v.created_at,
                source: Some(v.source),
            }))
    }

    pub async fn record_run(&self, new: NewRun<'_>) -> anyhow::Result<RunView> {
        let id = Uuid::new_v4();
        let outcome = match &new.report.result {
            Ok(_) => "ok".to_string(),
            Err(error) => serde_json::to_value(error.kind)
                .ok()
                .and_then(|value| value.as_str().map(str::to_string))
                .unwrap_or_else(|| "error".into()),
        };
        let result = serde_json::to_string(&new.report.result).context("while encoding a run's result")?;
        run::Entity::insert(run::ActiveModel {
            id: Set(id),
            script_id: Set(new.script),
            user_id: Set(new.user),
            version: Set(new.version as i32),
            symbol: Set(new.series.symbol.to_string()),
            interval: Set(new.series.interval.as_str().to_string()),
            trigger: Set(new.trigger.as_str().to_string()),
            outcome: Set(outcome),
            first_candle: Set(new.first_candle),
            last_candle: Set(new.last_candle),
            candles: Set(new.candles as i32),
            result: Set(result),
            log: Set(new.report.log.clone()),
            cpu_ms: Set(new.report.cpu_ms as i64),
            wall_ms: Set(new.report.wall_ms as i64),
            created_at: Set(new.now),
        })
        .exec_without_returning(&self.db)
        .await
        .context("while recording a run")?;
        Ok(RunView {
            id: id.to_string(),
            script_id: new.script.to_string(),
            version: new.version,
            symbol: new.series.symbol.clone(),
            interval: new.series.interval,
            trigger: new.trigger,
            first_candle: new.first_candle,
            last_candle: new.last_candle,
            candles: new.candles,
            result: new.report.result,
            log: new.report.log,
            cpu_ms: new.report.cpu_ms,
            wall_ms: new.report.wall_ms,
            created_at: new.now,
        })
    }

    /// The newest runs of a script, newest first.
    pub async fn runs(&self, user: Uuid, id: Uuid, limit: u64) -> anyhow::Result<Option<Vec<RunView>>> {
        if self.owned(user, id).await?.is_none() {
            return Ok(None);
        }
        let runs = run::Entity::find()
            .filter(run::Column::ScriptId.eq(id))
            .order_by_desc(run::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await
            .context("while listing runs")?;
        Ok(Some(runs.into_iter().filter_map(run_view).collect()))
    }

    pub async fn run(&self, user: Uuid, id: Uuid, run_id: Uuid) -> anyhow::Result<Option<RunView>> {
        Ok(run::Entity::find_by_id(run_id)
            .filter(run::Column::ScriptId.eq(id))
            .filter(run::Column::UserId.eq(user))
            .one(&self.db)
            .await
            .context("while reading a run")?
            .and_then(run_view))
    }

    /// Re-runs the script on every closed candle of `series`. Answers
    /// whether the script exists for this user.
    pub async fn attach(
        &self,
        user: Uuid,
        id: Uuid,
        series: &SeriesRef,
        now: i64,
        max: u32,
    ) -> Result<bool, StoreError> {
        if self.owned(user, id).await?.is_none() {
            return Ok(false);
        }
        let existing = attachment::Entity::find()
            .filter(attachment::Column::UserId.eq(user))
            .all(&self.db)
            .await
            .context("while reading attachments")?;
        let symbol = series.symbol.to_string();
        let interval = series.interval.as_str();
        if existing
            .iter()
            .any(|a| a.script_id == id && a.symbol == symbol && a.interval == interval)
        {
            return Ok(true);
        }
        if existing.len() >= max as usize {
            return Err(StoreError::Full);
        }
        attachment::Entity::insert(attachment::ActiveModel {
            script_id: Set(id),
            symbol: Set(symbol),
            interval: Set(interval.to_string()),
            user_id: Set(user),
            created_at: Set(now),
        })
        .exec_without_returning(&self.db)
        .await
        .context("while attaching a script")?;
        Ok(true)
    }

    pub async fn detach(&self, user: Uuid, id: Uuid, series: &SeriesRef) -> anyhow::Result<bool> {
        if self.owned(user, id).await?.is_none() {
            return Ok(false);
        }
        attachment::Entity::delete_many()
            .filter(attachment::Column::ScriptId.eq(id))
            .filter(attachment::Column::Symbol.eq(series.symbol.as_str()))
            .filter(attachment::Column::Interval.eq(series.interval.as_str()))
            .exec(&self.db)
            .await
            .context("while detaching a script")?;
        Ok(true)
    }

    /// The scripts attached to a series, with their owners.
    pub async fn attached_to(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> anyhow::Result<Vec<(Uuid, Uuid)>> {
        Ok(attachment::Entity::find()
            .filter(attachment::Column::Symbol.eq(symbol.as_str()))
            .filter(attachment::Column::Interval.eq(interval.as_str()))
            .all(&self.db)
            .await
            .context("while reading a series' attachments")?
            .into_iter()
            .map(|a| (a.script_id, a.user_id))
            .collect())
    }

    /// Whether a script's attachment to a series is among the first
    /// `allowed` of its owner's (oldest first): after a downgrade, the
    /// newest attachments past the plan's limit stop running.
    pub async fn runs_live(
        &self,
        user: Uuid,
        script: Uuid,
        series: &SeriesRef,
        allowed: u32,
    ) -> anyhow::Result<bool> {
        let first = attachment::Entity::find()
            .filter(attachment::Column::UserId.eq(user))
            .order_by_asc(attachment::Column::CreatedAt)
            .order_by_asc(attachment::Column::ScriptId)
            .order_by_asc(attachment::Column::Symbol)
            .order_by_asc(attachment::Column::Interval)
            .limit(u64::from(allowed))
            .all(&self.db)
            .await
            .context("while reading attachments")?;
        Ok(first.iter().any(|a| {
            a.script_id == script
                && a.symbol == series.symbol.as_str()
                && a.interval == series.interval.as_str()
        }))
    }

    /// Every script of the user as a series' chart lists it: whether it
    /// runs live there, whether the chart shows it (the stored choice, or
    /// shown when it runs live), and its newest run there. Four queries
    /// whatever the number of scripts.
    pub async fn layers(&self, user: Uuid, series: &SeriesRef) -> anyhow::Result<Vec<Layer>> {
        let symbol = series.symbol.as_str();
        let interval = series.interval.as_str();
        let scripts = script::Entity::find()
            .filter(script::Column::UserId.eq(user))
            .order_by_asc(script::Column::CreatedAt)
            .order_by_asc(script::Column::Id)
            .all(&self.db)
            .await
            .context("while listing scripts")?;
        if scripts.is_empty() {
            return Ok(Vec::new());
        }
        let live: std::collections::HashSet<Uuid> = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::ScriptId)
            .filter(attachment::Column::UserId.eq(user))
            .filter(attachment::Column::Symbol.eq(symbol))
            .filter(attachment::Column::Interval.eq(interval))
            .into_tuple::<Uuid>()
            .all(&self.db)
            .await
            .context("while reading a series' attachments")?
            .into_iter()
            .collect();
        let choices: std::collections::HashMap<Uuid, bool> = layer::Entity::find()
            .filter(layer::Column::UserId.eq(user))
            .filter(layer::Column::Symbol.eq(symbol))
            .filter(layer::Column::Interval.eq(interval))
            .all(&self.db)
            .await
            .context("while reading a chart's layers")?
            .into_iter()
            .map(|choice| (choice.script_id, choice.shown))
            .collect();
        // Each script's newest run on the series, in one query: the
        // subquery reads the (script, time) index of that script's runs.
        let older = Alias::new("older");
        let newest = Query::select()
            .expr(Expr::col((older.clone(), run::Column::CreatedAt)).max())
            .from_as(run::Entity, older.clone())
            .and_where(
                Expr::col((older.clone(), run::Column::ScriptId))
                    .equals((run::Entity, run::Column::ScriptId)),
            )
            .and_where(Expr::col((older.clone(), run::Column::Symbol)).eq(symbol))
            .and_where(Expr::col((older, run::Column::Interval)).eq(interval))
            .to_owned();
        let mut runs: std::collections::HashMap<Uuid, RunView> = std::collections::HashMap::new();
        for model in run::Entity::find()
            .filter(run::Column::ScriptId.is_in(scripts.iter().map(|s| s.id)))
            .filter(run::Column::Symbol.eq(symbol))
            .filter(run::Column::Interval.eq(interval))
            .filter(Expr::col((run::Entity, run::Column::CreatedAt)).in_subquery(newest))
            .order_by_desc(run::Column::Id)
            .all(&self.db)
            .await
            .context("while reading the newest runs on a series")?
        {
            let script = model.script_id;
            if !runs.contains_key(&script)
                && let Some(view) = run_view(model)
            {
                runs.insert(script, view);
            }
        }
        Ok(scripts
            .into_iter()
            .map(|model| {
                let live = live.contains(&model.id);
                Layer {
                    script_id: model.id.to_string(),
                    name: model.name,
                    live,
                    shown: choices.get(&model.id).copied().unwrap_or(live),
                    run: runs.remove(&model.id).map(Box::new),
                }
            })
            .collect())
    }

    /// Shows or hides the script's output on a series' chart. Answers
    /// whether the script exists for this user.
    pub async fn choose_layer(
        &self,
        user: Uuid,
        id: Uuid,
        series: &SeriesRef,
        shown: bool,
        now: i64,
    ) -> anyhow::Result<bool> {
        if self.owned(user, id).await?.is_none() {
            return Ok(false);
        }
        layer::Entity::insert(layer::ActiveModel {
            user_id: Set(user),
            symbol: Set(series.symbol.to_string()),
            interval: Set(series.interval.as_str().to_string()),
            script_id: Set(id),
            shown: Set(shown),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                layer::Column::UserId,
                layer::Column::Symbol,
                layer::Column::Interval,
                layer::Column::ScriptId,
            ])
            .update_columns([layer::Column::Shown, layer::Column::UpdatedAt])
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .context("while choosing a chart's layer")?;
        Ok(true)
    }

    /// Deletes the runs past the newest [`RUNS_KEPT`] of each script.
    pub async fn purge_runs(&self) -> anyhow::Result<u64> {
        let scripts: Vec<Uuid> = run::Entity::find()
            .select_only()
            .column(run::Column::ScriptId)
            .group_by(run::Column::ScriptId)
            .having(Expr::expr(Expr::col(run::Column::Id).count()).gt(RUNS_KEPT))
            .into_tuple()
            .all(&self.db)
            .await
            .context("while finding scripts with many runs")?;
        let mut deleted = 0;
        for id in scripts {
            let cutoff: Option<i64> = run::Entity::find()
                .select_only()
                .column(run::Column::CreatedAt)
                .filter(run::Column::ScriptId.eq(id))
                .order_by_desc(run::Column::CreatedAt)
                .offset(RUNS_KEPT - 1)
                .into_tuple()
                .one(&self.db)
                .await
                .context("while finding the oldest run to keep")?;
            if let Some(cutoff) = cutoff {
                deleted += run::Entity::delete_many()
                    .filter(run::Column::ScriptId.eq(id))
                    .filter(run::Column::CreatedAt.lt(cutoff))
                    .exec(&self.db)
                    .await
                    .context("while deleting old runs")?
                    .rows_affected;
            }
        }
        Ok(deleted)
    }
}

fn series_of(model: &attachment::Model) -> Option<SeriesRef> {
    Some(SeriesRef {
        symbol: Symbol::parse(&model.symbol).ok()?,
        interval: model.interval.parse().ok()?,
    })
}

fn summary(model: script::Model, attached: Vec<SeriesRef>) -> ScriptSummary {
    ScriptSummary {
        id: model.id.to_string(),
        name: model.name,
        version: model.latest_version as u32,
        created_at: model.created_at,
        updated_at: model.updated_at,
        attached,
    }
}

fn run_view(model: run::Model) -> Option<RunView> {
    Some(RunView {
        id: model.id.to_string(),
        script_id: model.script_id.to_string(),
        version: model.version as u32,
        symbol: Symbol::parse(&model.symbol).ok()?,
        interval: model.interval.parse().ok()?,
        trigger: if model.trigger == "live" {
            Trigger::Live
        } else {
            Trigger::Manual
        },
        first_candle: model.first_candle,
        last_candle: model.last_candle,
        candles: model.candles as u32,
        result: serde_json::from_str(&model.result).ok()?,
        log: model.log,
        cpu_ms: model.cpu_ms as u64,
        wall_ms: model.wall_ms as u64,
        created_at: model.created_at,
    })
}
