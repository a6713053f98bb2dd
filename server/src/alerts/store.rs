//! Alerts, firings, deliveries, attempts and push subscriptions in the
//! database. Every query a trader's request leads to names its owner, so
//! another trader's alert is, to anyone else, one that does not exist.
//!
//! Firing is where "once per alert and candle" holds: firings of a batch
//! are inserted with `ON CONFLICT DO NOTHING` on the unique
//! `(alert_id, candle_time)`, and only the rows this call inserted (their
//! ids are new UUIDs) get deliveries, in the same transaction. Two
//! instances that see the same close both try; one inserts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use inchart_api::alerts::{Attempt, Channel, Delivery, DeliveryState, Firing, PushKeys, PushSubscription};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::entity::{alert, attempt, delivery, firing, push_subscription, server_key};

/// Rows written in one statement, at most (SQLite's bound on variables).
const CHUNK: usize = 400;

/// How many active alerts `user` has.
async fn active_alerts(db: &impl ConnectionTrait, user: Uuid) -> anyhow::Result<u64> {
    alert::Entity::find()
        .filter(alert::Column::UserId.eq(user))
        .filter(alert::Column::State.eq("active"))
        .count(db)
        .await
        .context("while counting alerts")
}

#[derive(Clone)]
pub struct AlertStore {
    db: DatabaseConnection,
    /// On SQLite, one write transaction at a time: a transaction that
    /// reads first and then writes fails at once (`SQLITE_BUSY`) when
    /// another wrote meanwhile, and sixty series closing together would
    /// make that the rule. PostgreSQL needs none.
    writes: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// Why an alert was not added.
pub enum Added {
    Yes,
    /// The account has its plan's active alerts already.
    Full,
}

/// A firing about to be inserted.
#[derive(Debug, Clone)]
pub struct NewFiring {
    pub id: Uuid,
    pub alert: Uuid,
    pub user: Uuid,
    pub candle_time: i64,
    pub price: f64,
    pub side: Option<String>,
    pub label: Option<String>,
    /// The message as JSON.
    pub message: String,
    pub channels: Vec<Channel>,
    pub once: bool,
    /// The most firings the owner may have today.
    pub daily_limit: u32,
}

/// A delivery this instance holds the lease on, with what it carries.
#[derive(Debug, Clone)]
pub struct Due {
    pub delivery: delivery::Model,
    pub message: String,
    pub fired_at: i64,
}

/// What an attempt came to.
#[derive(Debug, Clone)]
pub struct Tried {
    pub delivery: Uuid,
    pub alert: Uuid,
    pub channel: Channel,
    pub attempt: Attempt,
    /// The delivery's state after it, and when to try again if pending.
    pub state: DeliveryState,
    pub next_at: i64,
}

impl AlertStore {
    pub fn new(db: DatabaseConnection) -> Self {
        let writes = (db.get_database_backend() == DatabaseBackend::Sqlite).then(Arc::default);
        Self { db, writes }
    }

    /// Holds the SQLite write lock, when there is one.
    async fn writing(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writes {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    /// Adds `model` unless its owner already has `limit` active alerts.
    pub async fn add(&self, model: alert::Model, limit: u32) -> anyhow::Result<Added> {
        let _writing = self.writing().await;
        let txn = self.db.begin().await.context("while starting a transaction")?;
        if model.state == "active" && active_alerts(&txn, model.user_id).await? >= u64::from(limit) {
            return Ok(Added::Full);
        }
        alert::Entity::insert(alert::ActiveModel::from(model))
            .exec_without_returning(&txn)
            .await
            .context("while adding an alert")?;
        txn.commit().await.context("while committing an alert")?;
        Ok(Added::Yes)
    }

    /// Replaces an alert the user owns; `false` when there is none. Made
    /// active, it counts against `limit` like a new one.
    pub async fn replace(&self, model: alert::Model, limit: u32) -> anyhow::Result<Option<Added>> {
        let _writing = self.writing().await;
        let txn = self.db.begin().await.context("while starting a transaction")?;
        let Some(old) = alert::Entity::find_by_id(model.id)
            .filter(alert::Column::UserId.eq(model.user_id))
            .one(&txn)
            .await
            .context("while reading an alert")?
        else {
            return Ok(None);
        };
        if model.state == "active"
            && old.state != "active"
            && active_alerts(&txn, model.user_id).await? >= u64::from(limit)
        {
            return Ok(Some(Added::Full));
        }
        alert::Entity::update(alert::ActiveModel::from(model).reset_all())
            .exec(&txn)
            .await
            .context("while changing an alert")?;
        txn.commit().await.context("while committing an alert")?;
        Ok(Some(Added::Yes))
    }

    pub async fn get(&self, user: Uuid, id: Uuid) -> anyhow::Result<Option<alert::Model>> {
        alert::Entity::find_by_id(id)
            .filter(alert::Column::UserId.eq(user))
            .one(&self.db)
            .await
            .context("while reading an alert")
    }

    /// An alert by id alone: for the unsubscribe link, which carries its
    /// own token, and for deliveries.
    pub async fn by_id(&self, id: Uuid) -> anyhow::Result<Option<alert::Model>> {
        alert::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .context("while reading an alert")
    }

    /// The user's alerts, newest first, of one series when given.
    pub async fn list(&self, user: Uuid, series: Option<(&str, &str)>) -> anyhow::Result<Vec<alert::Model>> {
        let mut query = alert::Entity::find().filter(alert::Column::UserId.eq(user));
        if let Some((symbol, interval)) = series {
            query = query
                .filter(alert::Column::Symbol.eq(symbol))
                .filter(alert::Column::Interval.eq(interval));
        }
        query
            .order_by_desc(alert::Column::CreatedAt)
            .limit(1000)
            .all(&self.db)
            .await
            .context("while listing alerts")
    }

    /// How many active alerts the user has.
    pub async fn active_count(&self, user: Uuid) -> anyhow::Result<u32> {
        Ok(active_alerts(&self.db, user).await? as u32)
    }

    pub async fn delete(&self, user: Uuid, id: Uuid) -> anyhow::Result<bool> {
        let deleted = alert::Entity::delete_many()
            .filter(alert::Column::Id.eq(id))
            .filter(alert::Column::UserId.eq(user))
            .exec(&self.db)
            .await
            .context("while deleting an alert")?;
        Ok(deleted.rows_affected == 1)
    }

    /// Every active alert on a series.
    pub async fn active_on(&self, symbol: &str, interval: &str) -> anyhow::Result<Vec<alert::Model>> {
        alert::Entity::find()
            .filter(alert::Column::Symbol.eq(symbol))
            .filter(alert::Column::Interval.eq(interval))
            .filter(alert::Column::State.eq("active"))
            .all(&self.db)
            .await
            .context("while reading a series' alerts")
    }

    /// Marks active alerts past their expiry as expired.
    pub async fn expire(&self, now: i64) -> anyhow::Result<u64> {
        let expired = alert::Entity::update_many()
            .col_expr(alert::Column::State, Expr::value("expired"))
            .col_expr(alert::Column::UpdatedAt, Expr::value(now))
            .filter(alert::Column::State.eq("active"))
            .filter(alert::Column::ExpiresAt.lte(now))
            .exec(&self.db)
            .await
            .context("while expiring alerts")?;
        Ok(expired.rows_affected)
    }

    /// Pauses an alert, saying why.
    pub async fn pause(&self, id: Uuid, reason: &str, now: i64) -> anyhow::Result<bool> {
        let paused = alert::Entity::update_many()
            .col_expr(alert::Column::State, Expr::value("paused"))
            .col_expr(alert::Column::PausedReason, Expr::value(reason))
            .col_expr(alert::Column::UpdatedAt, Expr::value(now))
            .filter(alert::Column::Id.eq(id))
            .filter(alert::Column::State.eq("active"))
            .exec(&self.db)
            .await
            .context("while pausing an alert")?;
        Ok(paused.rows_affected == 1)
    }

    /// Turns an alert's email off (its unsubscribe link).
    pub async fn unsubscribe(&self, id: Uuid, now: i64) -> anyhow::Result<()> {
        alert::Entity::update_many()
            .col_expr(alert::Column::Email, Expr::value(false))
            .col_expr(alert::Column::UpdatedAt, Expr::value(now))
            .filter(alert::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .context("while turning an alert's email off")?;
        Ok(())
    }

    /// Inserts the firings of one batch that no instance has inserted yet,
    /// for alerts still active and owners under their day's firings, each
    /// with a delivery per channel leased to the caller until
    /// `lease_until`. Answers the firings inserted, with their deliveries.
    pub async fn fire(
        &self,
        batch: Vec<NewFiring>,
        now: i64,
        day_start: i64,
        lease_until: i64,
    ) -> anyhow::Result<Vec<(NewFiring, Vec<delivery::Model>)>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let _writing = self.writing().await;
        let txn = self.db.begin().await.context("while starting a transaction")?;
        let alert_ids: Vec<Uuid> = batch.iter().map(|new| new.alert).collect();
        let mut active: HashSet<Uuid> = HashSet::new();
        for chunk in alert_ids.chunks(CHUNK) {
            let ids: Vec<Uuid> = alert::Entity::find()
                .select_only()
                .column(alert::Column::Id)
                .filter(alert::Column::Id.is_in(chunk.iter().copied()))
                .filter(alert::Column::State.eq("active"))
                .into_tuple()
                .all(&txn)
                .await
                .context("while checking alerts are active")?;
            active.extend(ids);
        }
        let users: HashSet<Uuid> = batch.iter().map(|new| new.user).collect();
        let mut today: HashMap<Uuid, u64> = HashMap::new();
        let users: Vec<Uuid> = users.into_iter().collect();
        for chunk in users.chunks(CHUNK) {
            let counts: Vec<(Uuid, i64)> = firing::Entity::find()
                .select_only()
                .column(firing::Column::UserId)
                .column_as(firing::Column::Id.count(), "count")
                .filter(firing::Column::UserId.is_in(chunk.iter().copied()))
                .filter(firing::Column::FiredAt.gte(day_start))
                .group_by(firing::Column::UserId)
                .into_tuple()
                .all(&txn)
                .await
                .context("while counting today's firings")?;
            today.extend(
                counts
                    .into_iter()
                    .map(|(user, count)| (user, count.max(0) as u64)),
            );
        }
        let mut wanted = Vec::new();
        for new in batch {
            if !active.contains(&new.alert) {
                continue;
            }
            let count = today.entry(new.user).or_default();
            if *count >= u64::from(new.daily_limit) {
                tracing::info!(alert = %new.alert, "past its owner's firings a day; not fired");
                continue;
            }
            *count += 1;
            wanted.push(new);
        }
        let mut inserted: HashSet<Uuid> = HashSet::new();
        for chunk in wanted.chunks(CHUNK) {
            let rows = chunk.iter().map(|new| firing::ActiveModel {
                id: Set(new.id),
                alert_id: Set(new.alert),
                user_id: Set(new.user),
                candle_time: Set(new.candle_time),
                fired_at: Set(now),
                price: Set(new.price),
                side: Set(new.side.clone()),
                label: Set(new.label.clone()),
                message: Set(new.message.clone()),
            });
            firing::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([firing::Column::AlertId, firing::Column::CandleTime])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .context("while recording firings")?;
            let ids: Vec<Uuid> = firing::Entity::find()
                .select_only()
                .column(firing::Column::Id)
                .filter(firing::Column::Id.is_in(chunk.iter().map(|new| new.id)))
                .into_tuple()
                .all(&txn)
                .await
                .context("while reading firings back")?;
            inserted.extend(ids);
        }
        let fired: Vec<NewFiring> = wanted
            .into_iter()
            .filter(|new| inserted.contains(&new.id))
            .collect();
        let mut out = Vec::with_capacity(fired.len());
        let mut deliveries = Vec::new();
        for new in fired {
            let made: Vec<delivery::Model> = new
                .channels
                .iter()
                .map(|channel| delivery::Model {
                    id: Uuid::new_v4(),
                    firing_id: new.id,
                    alert_id: new.alert,
                    channel: channel.as_str().to_string(),
                    state: DeliveryState::Pending.as_str().to_string(),
                    attempts: 0,
                    next_at: now,
                    lease_until,
                    created_at: now,
                })
                .collect();
            deliveries.extend(made.iter().cloned());
            out.push((new, made));
        }
        for chunk in deliveries.chunks(CHUNK) {
            delivery::Entity::insert_many(chunk.iter().cloned().map(delivery::ActiveModel::from))
                .exec_without_returning(&txn)
                .await
                .context("while recording deliveries")?;
        }
        for (once, ids) in [
            (
                true,
                out.iter()
                    .filter(|(new, _)| new.once)
                    .map(|(new, _)| new.alert)
                    .collect::<Vec<_>>(),
            ),
            (
                false,
                out.iter()
                    .filter(|(new, _)| !new.once)
                    .map(|(new, _)| new.alert)
                    .collect(),
            ),
        ] {
            for chunk in ids.chunks(CHUNK) {
                let mut update = alert::Entity::update_many()
                    .col_expr(alert::Column::Firings, Expr::col(alert::Column::Firings).add(1))
                    .col_expr(alert::Column::LastFiredAt, Expr::value(now))
                    .col_expr(alert::Column::UpdatedAt, Expr::value(now));
                if once {
                    update = update.col_expr(alert::Column::State, Expr::value("triggered"));
                }
                update
                    .filter(alert::Column::Id.is_in(chunk.iter().copied()))
                    .exec(&txn)
                    .await
                    .context("while counting firings")?;
            }
        }
        txn.commit().await.context("while committing firings")?;
        Ok(out)
    }

    /// Pending deliveries due by `now` that no instance holds, taken for
    /// this one until `lease_until`: at most `limit`.
    pub async fn take_due(&self, now: i64, lease_until: i64, limit: u64) -> anyhow::Result<Vec<Due>> {
        let candidates = delivery::Entity::find()
            .filter(delivery::Column::State.eq(DeliveryState::Pending.as_str()))
            .filter(delivery::Column::NextAt.lte(now))
            .filter(delivery::Column::LeaseUntil.lte(now))
            .order_by_asc(delivery::Column::NextAt)
            .limit(limit)
            .all(&self.db)
            .await
            .context("while reading due deliveries")?;
        let mut taken = Vec::new();
        for candidate in candidates {
            // Taken only when no other instance took it meanwhile.
            let claimed = delivery::Entity::update_many()
                .col_expr(delivery::Column::LeaseUntil, Expr::value(lease_until))
                .filter(delivery::Column::Id.eq(candidate.id))
                .filter(delivery::Column::State.eq(DeliveryState::Pending.as_str()))
                .filter(delivery::Column::LeaseUntil.lte(now))
                .exec(&self.db)
                .await
                .context("while taking a delivery")?;
            if claimed.rows_affected == 1 {
                taken.push(candidate);
            }
        }
        self.with_messages(taken).await
    }

    /// The messages of deliveries this instance holds.
    pub async fn with_messages(&self, deliveries: Vec<delivery::Model>) -> anyhow::Result<Vec<Due>> {
        let mut messages: HashMap<Uuid, (String, i64)> = HashMap::new();
        let ids: Vec<Uuid> = deliveries.iter().map(|d| d.firing_id).collect();
        for chunk in ids.chunks(CHUNK) {
            let rows: Vec<(Uuid, String, i64)> = firing::Entity::find()
                .select_only()
                .column(firing::Column::Id)
                .column(firing::Column::Message)
                .column(firing::Column::FiredAt)
                .filter(firing::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&self.db)
                .await
                .context("while reading firings")?;
            messages.extend(rows.into_iter().map(|(id, message, at)| (id, (message, at))));
        }
        Ok(deliveries
            .into_iter()
            .filter_map(|delivery| {
                let (message, fired_at) = messages.get(&delivery.firing_id)?.clone();
                Some(Due {
                    delivery,
                    message,
                    fired_at,
                })
            })
            .collect())
    }

    /// Records attempts and where their deliveries stand, in one
    /// transaction; and per alert, webhook failures in a row (reset by a
    /// webhook delivered). Answers the alerts whose webhook failures in a
    /// row reached `pause_after`.
    pub async fn record(&self, tried: &[Tried], pause_after: i32) -> anyhow::Result<Vec<Uuid>> {
        if tried.is_empty() {
            return Ok(Vec::new());
        }
        let _writing = self.writing().await;
        let txn = self.db.begin().await.context("while starting a transaction")?;
        for chunk in tried.chunks(CHUNK) {
            attempt::Entity::insert_many(chunk.iter().map(|tried| attempt::ActiveModel {
                id: Set(Uuid::new_v4()),
                delivery_id: Set(tried.delivery),
                at: Set(tried.attempt.at),
                status: Set(tried.attempt.status.map(i32::from)),
                outcome: Set(tried.attempt.outcome.clone()),
                ok: Set(tried.attempt.ok),
                latency_ms: Set(tried.attempt.latency_ms.min(i32::MAX as u32) as i32),
            }))
            .exec_without_returning(&txn)
            .await
            .context("while recording attempts")?;
        }
        let delivered: Vec<Uuid> = tried
            .iter()
            .filter(|t| t.state == DeliveryState::Delivered)
            .map(|t| t.delivery)
            .collect();
        for chunk in delivered.chunks(CHUNK) {
            delivery::Entity::update_many()
                .col_expr(
                    delivery::Column::State,
                    Expr::value(DeliveryState::Delivered.as_str()),
                )
                .col_expr(
                    delivery::Column::Attempts,
                    Expr::col(delivery::Column::Attempts).add(1),
                )
                .col_expr(delivery::Column::LeaseUntil, Expr::value(0))
                .filter(delivery::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await
                .context("while recording deliveries")?;
        }
        for tried in tried.iter().filter(|t| t.state != DeliveryState::Delivered) {
            delivery::Entity::update_many()
                .col_expr(delivery::Column::State, Expr::value(tried.state.as_str()))
                .col_expr(
                    delivery::Column::Attempts,
                    Expr::col(delivery::Column::Attempts).add(1),
                )
                .col_expr(delivery::Column::NextAt, Expr::value(tried.next_at))
                .col_expr(delivery::Column::LeaseUntil, Expr::value(0))
                .filter(delivery::Column::Id.eq(tried.delivery))
                .exec(&txn)
                .await
                .context("while recording a delivery")?;
        }
        let webhooks_ok: Vec<Uuid> = tried
            .iter()
            .filter(|t| t.channel == Channel::Webhook && t.state == DeliveryState::Delivered)
            .map(|t| t.alert)
            .collect();
        for chunk in webhooks_ok.chunks(CHUNK) {
            alert::Entity::update_many()
                .col_expr(alert::Column::Failures, Expr::value(0))
                .filter(alert::Column::Id.is_in(chunk.iter().copied()))
                .filter(alert::Column::Failures.ne(0))
                .exec(&txn)
                .await
                .context("while resetting webhook failures")?;
        }
        let mut failing = Vec::new();
        for tried in tried
            .iter()
            .filter(|t| t.channel == Channel::Webhook && t.state == DeliveryState::Failed)
        {
            alert::Entity::update_many()
                .col_expr(alert::Column::Failures, Expr::col(alert::Column::Failures).add(1))
                .filter(alert::Column::Id.eq(tried.alert))
                .exec(&txn)
                .await
                .context("while counting webhook failures")?;
            let failures: Option<i32> = alert::Entity::find_by_id(tried.alert)
                .select_only()
                .column(alert::Column::Failures)
                .into_tuple()
                .one(&txn)
                .await
                .context("while reading webhook failures")?;
            if failures.is_some_and(|failures| failures >= pause_after) {
                failing.push(tried.alert);
            }
        }
        txn.commit().await.context("while committing attempts")?;
        Ok(failing)
    }

    /// The newest firings of an alert the user owns, with every delivery
    /// and attempt.
    pub async fn firings(&self, alert_id: Uuid, limit: u64) -> anyhow::Result<Vec<Firing>> {
        let firings = firing::Entity::find()
            .filter(firing::Column::AlertId.eq(alert_id))
            .order_by_desc(firing::Column::FiredAt)
            .order_by_desc(firing::Column::CandleTime)
            .limit(limit)
            .all(&self.db)
            .await
            .context("while reading firings")?;
        self.firings_with_deliveries(firings).await
    }

    /// One firing of an alert.
    pub async fn firing(&self, alert_id: Uuid, id: Uuid) -> anyhow::Result<Option<Firing>> {
        let found = firing::Entity::find_by_id(id)
            .filter(firing::Column::AlertId.eq(alert_id))
            .all(&self.db)
            .await
            .context("while reading a firing")?;
        Ok(self.firings_with_deliveries(found).await?.into_iter().next())
    }

    async fn firings_with_deliveries(&self, firings: Vec<firing::Model>) -> anyhow::Result<Vec<Firing>> {
        let ids: Vec<Uuid> = firings.iter().map(|f| f.id).collect();
        let deliveries = if ids.is_empty() {
            Vec::new()
        } else {
            delivery::Entity::find()
                .filter(delivery::Column::FiringId.is_in(ids))
                .all(&self.db)
                .await
                .context("while reading deliveries")?
        };
        let delivery_ids: Vec<Uuid> = deliveries.iter().map(|d| d.id).collect();
        let attempts = if delivery_ids.is_empty() {
            Vec::new()
        } else {
            attempt::Entity::find()
                .filter(attempt::Column::DeliveryId.is_in(delivery_ids))
                .order_by_asc(attempt::Column::At)
                .all(&self.db)
                .await
                .context("while reading attempts")?
        };
        let mut attempts_of: HashMap<Uuid, Vec<Attempt>> = HashMap::new();
        for row in attempts {
            attempts_of.entry(row.delivery_id).or_default().push(Attempt {
                at: row.at,
                status: row.status.and_then(|status| u16::try_from(status).ok()),
                outcome: row.outcome,
                ok: row.ok,
                latency_ms: row.latency_ms.max(0) as u32,
            });
        }
        let mut deliveries_of: HashMap<Uuid, Vec<Delivery>> = HashMap::new();
        for row in deliveries {
            let (Some(channel), Some(state)) =
                (Channel::parse(&row.channel), DeliveryState::parse(&row.state))
            else {
                continue;
            };
            deliveries_of.entry(row.firing_id).or_default().push(Delivery {
                channel,
                state,
                next_attempt_at: (state == DeliveryState::Pending).then_some(row.next_at),
                attempts: attempts_of.remove(&row.id).unwrap_or_default(),
            });
        }
        Ok(firings
            .into_iter()
            .map(|row| {
                let mut deliveries = deliveries_of.remove(&row.id).unwrap_or_default();
                deliveries.sort_by_key(|d| d.channel.as_str());
                Firing {
                    id: row.id.to_string(),
                    alert_id: row.alert_id.to_string(),
                    candle_time: row.candle_time,
                    fired_at: row.fired_at,
                    price: row.price,
                    side: row.side.as_deref().and_then(|side| match side {
                        "buy" => Some(worker_protocol::Side::Buy),
                        "sell" => Some(worker_protocol::Side::Sell),
                        _ => None,
                    }),
                    label: row.label,
                    deliveries,
                }
            })
            .collect())
    }

    /// Puts a firing's deliveries back in the queue to go now ("send
    /// again"), each channel the alert has now, even those delivered.
    pub async fn resend(
        &self,
        alert: &alert::Model,
        firing_id: Uuid,
        channels: &[Channel],
        now: i64,
    ) -> anyhow::Result<()> {
        let _writing = self.writing().await;
        let txn = self.db.begin().await.context("while starting a transaction")?;
        for channel in channels {
            let existing = delivery::Entity::find()
                .filter(delivery::Column::FiringId.eq(firing_id))
                .filter(delivery::Column::Channel.eq(channel.as_str()))
                .one(&txn)
                .await
                .context("while reading a delivery")?;
            match existing {
                Some(existing) => {
                    delivery::Entity::update_many()
                        .col_expr(
                            delivery::Column::State,
                            Expr::value(DeliveryState::Pending.as_str()),
                        )
                        .col_expr(delivery::Column::NextAt, Expr::value(now))
                        .col_expr(delivery::Column::LeaseUntil, Expr::value(0))
                        .col_expr(delivery::Column::CreatedAt, Expr::value(now))
                        .filter(delivery::Column::Id.eq(existing.id))
                        .exec(&txn)
                        .await
                        .context("while queueing a delivery again")?;
                }
                None => {
                    delivery::Entity::insert(delivery::ActiveModel::from(delivery::Model {
                        id: Uuid::new_v4(),
                        firing_id,
                        alert_id: alert.id,
                        channel: channel.as_str().to_string(),
                        state: DeliveryState::Pending.as_str().to_string(),
                        attempts: 0,
                        next_at: now,
                        lease_until: 0,
                        created_at: now,
                    }))
                    .exec_without_returning(&txn)
                    .await
                    .context("while queueing a delivery")?;
                }
            }
        }
        txn.commit().await.context("while committing a resend")?;
        Ok(())
    }

    /// Keeps a browser's push subscription for the user (moving it from
    /// another account that had it on this browser).
    pub async fn subscribe(
        &self,
        user: Uuid,
        subscription: &PushSubscription,
        now: i64,
    ) -> anyhow::Result<()> {
        let txn = self.db.begin().await.context("while starting a transaction")?;
        push_subscription::Entity::delete_many()
            .filter(push_subscription::Column::Endpoint.eq(&subscription.endpoint))
            .exec(&txn)
            .await
            .context("while replacing a push subscription")?;
        push_subscription::Entity::insert(push_subscription::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user),
            endpoint: Set(subscription.endpoint.clone()),
            p256dh: Set(subscription.keys.p256dh.clone()),
            auth: Set(subscription.keys.auth.clone()),
            created_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await
        .context("while keeping a push subscription")?;
        txn.commit()
            .await
            .context("while committing a push subscription")?;
        Ok(())
    }

    /// Forgets a subscription: the user's own (`Some`), or an expired one.
    pub async fn unsubscribe_push(&self, user: Option<Uuid>, endpoint: &str) -> anyhow::Result<bool> {
        let mut query =
            push_subscription::Entity::delete_many().filter(push_subscription::Column::Endpoint.eq(endpoint));
        if let Some(user) = user {
            query = query.filter(push_subscription::Column::UserId.eq(user));
        }
        let deleted = query
            .exec(&self.db)
            .await
            .context("while forgetting a push subscription")?;
        Ok(deleted.rows_affected > 0)
    }

    /// Every browser the user turned push on in.
    pub async fn push_subscriptions(&self, user: Uuid) -> anyhow::Result<Vec<PushSubscription>> {
        let rows = push_subscription::Entity::find()
            .filter(push_subscription::Column::UserId.eq(user))
            .all(&self.db)
            .await
            .context("while reading push subscriptions")?;
        Ok(rows
            .into_iter()
            .map(|row| PushSubscription {
                endpoint: row.endpoint,
                keys: PushKeys {
                    p256dh: row.p256dh,
                    auth: row.auth,
                },
            })
            .collect())
    }

    /// The server key named `name`, made by `make` and kept the first
    /// time any instance asks.
    pub async fn server_key(
        &self,
        name: &str,
        make: impl FnOnce() -> String,
        now: i64,
    ) -> anyhow::Result<String> {
        server_key::Entity::insert(server_key::ActiveModel {
            name: Set(name.to_string()),
            value: Set(make()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(server_key::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .context("while keeping a server key")?;
        server_key::Entity::find_by_id(name.to_string())
            .one(&self.db)
            .await
            .context("while reading a server key")?
            .map(|row| row.value)
            .context("a server key does not read back")
    }

    /// Alerts of a script that fire on its markers.
    pub async fn on_script(&self, script: Uuid) -> anyhow::Result<Vec<alert::Model>> {
        alert::Entity::find()
            .filter(alert::Column::ScriptId.eq(script))
            .filter(alert::Column::State.eq("active"))
            .all(&self.db)
            .await
            .context("while reading a script's alerts")
    }
}
