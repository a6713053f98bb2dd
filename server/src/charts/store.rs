//! Drawings and layouts in the database. Every query names the owner, so
//! another user's drawing is, to anyone else, one that does not exist (and
//! is never overwritten). Adding a drawing counts the account's drawings
//! in the same transaction, under a per-account lock on PostgreSQL, so
//! that a plan's limit holds under concurrent requests.

use anyhow::Context;
use inchart_api::charts::{Anchor, Drawing, DrawingKind, Layout};
use inchart_api::market::Symbol;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::{drawing, layout};

/// The advisory-lock class of "one account's drawings are being added".
const DRAWINGS_LOCK: i32 = 0x4472_6177; // "Draw"

#[derive(Clone)]
pub struct ChartStore {
    db: DatabaseConnection,
}

/// What became of a drawing put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Created,
    Updated,
    /// The id is another user's drawing: nothing changed.
    NotYours,
    /// The id is the user's drawing on another symbol: nothing changed.
    OtherSymbol,
    /// A new drawing past the plan's limit: nothing changed.
    Full,
}

/// A drawing's stored body: what is not a column.
#[derive(Serialize, Deserialize)]
struct Body {
    points: Vec<Anchor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    color: Option<String>,
}

fn kind_name(kind: DrawingKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn drawing_of(model: drawing::Model) -> Option<Drawing> {
    let body: Body = serde_json::from_str(&model.body).ok()?;
    Some(Drawing {
        id: model.id.to_string(),
        symbol: Symbol::parse(&model.symbol).ok()?,
        kind: serde_json::from_value(serde_json::Value::String(model.kind)).ok()?,
        points: body.points,
        text: body.text,
        color: body.color,
    })
}

/// The account's drawings, counted and locked for adding: the rest of the
/// transaction may add up to the limit.
async fn lock_account(txn: &DatabaseTransaction, user: Uuid) -> Result<u64, DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        // Two requests of one account that both count before either adds
        // would both take the last place under READ COMMITTED; the lock
        // (held to the transaction's end) makes the second count after
        // the first has added. SQLite has one writer at a time anyway.
        let key = i32::from_be_bytes(user.as_bytes()[..4].try_into().unwrap_or_default());
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, $2)",
            [DRAWINGS_LOCK.into(), key.into()],
        ))
        .await?;
    }
    drawing::Entity::find()
        .filter(drawing::Column::UserId.eq(user))
        .count(txn)
        .await
}

/// Writes `drawing` (already checked) for `user`, given what the id holds.
async fn write(
    txn: &DatabaseTransaction,
    user: Uuid,
    id: Uuid,
    drawing: &Drawing,
    existing: Option<&drawing::Model>,
    now: i64,
) -> Result<(), DbErr> {
    let body = serde_json::to_string(&Body {
        points: drawing.points.clone(),
        text: drawing.text.clone(),
        color: drawing.color.clone(),
    })
    .map_err(|error| DbErr::Custom(format!("while encoding a drawing: {error}")))?;
    match existing {
        Some(_) => {
            drawing::Entity::update_many()
                .col_expr(drawing::Column::Kind, kind_name(drawing.kind).into())
                .col_expr(drawing::Column::Body, body.into())
                .col_expr(drawing::Column::UpdatedAt, now.into())
                .filter(drawing::Column::Id.eq(id))
                .filter(drawing::Column::UserId.eq(user))
                .exec(txn)
                .await?;
        }
        None => {
            drawing::Entity::insert(drawing::ActiveModel {
                id: Set(id),
                user_id: Set(user),
                symbol: Set(drawing.symbol.to_string()),
                kind: Set(kind_name(drawing.kind)),
                body: Set(body),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec_without_returning(txn)
            .await?;
        }
    }
    Ok(())
}

/// Whether a drawing may go where `existing` is: `None` when it may.
fn clash(user: Uuid, drawing: &Drawing, existing: Option<&drawing::Model>) -> Option<Put> {
    match existing {
        Some(model) if model.user_id != user => Some(Put::NotYours),
        Some(model) if model.symbol != drawing.symbol.as_str() => Some(Put::OtherSymbol),
        _ => None,
    }
}

impl ChartStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The user's drawings on a symbol, oldest first.
    pub async fn drawings(&self, user: Uuid, symbol: &Symbol) -> anyhow::Result<Vec<Drawing>> {
        Ok(drawing::Entity::find()
            .filter(drawing::Column::UserId.eq(user))
            .filter(drawing::Column::Symbol.eq(symbol.as_str()))
            .order_by_asc(drawing::Column::CreatedAt)
            .order_by_asc(drawing::Column::Id)
            .all(&self.db)
            .await
            .context("while reading drawings")?
            .into_iter()
            .filter_map(drawing_of)
            .collect())
    }

    /// How many drawings the user keeps, on every symbol.
    pub async fn count(&self, user: Uuid) -> anyhow::Result<u32> {
        let count = drawing::Entity::find()
            .filter(drawing::Column::UserId.eq(user))
            .count(&self.db)
            .await
            .context("while counting drawings")?;
        Ok(count as u32)
    }

    /// Draws or changes one (checked) drawing; a new one only while the
    /// account keeps fewer than `limit`.
    pub async fn put(
        &self,
        user: Uuid,
        id: Uuid,
        drawing: Drawing,
        limit: u32,
        now: i64,
    ) -> anyhow::Result<Put> {
        self.db
            .transaction::<_, Put, DbErr>(|txn| {
                Box::pin(async move {
                    let existing = drawing::Entity::find_by_id(id).one(txn).await?;
                    if let Some(refused) = clash(user, &drawing, existing.as_ref()) {
                        return Ok(refused);
                    }
                    if existing.is_none() && lock_account(txn, user).await? >= u64::from(limit) {
                        return Ok(Put::Full);
                    }
                    write(txn, user, id, &drawing, existing.as_ref(), now).await?;
                    Ok(if existing.is_some() {
                        Put::Updated
                    } else {
                        Put::Created
                    })
                })
            })
            .await
            .context("while saving a drawing")
    }

    /// Keeps as many of `drawings` (checked, each with its id) as the
    /// plan's `limit` allows, in one transaction: the user's own are
    /// changed, new ones added while there is room; another user's id and
    /// a drawing past the limit are left out. Returns those kept.
    pub async fn import(
        &self,
        user: Uuid,
        drawings: Vec<(Uuid, Drawing)>,
        limit: u32,
        now: i64,
    ) -> anyhow::Result<Vec<Drawing>> {
        if drawings.is_empty() {
            return Ok(Vec::new());
        }
        self.db
            .transaction::<_, Vec<Drawing>, DbErr>(|txn| {
                Box::pin(async move {
                    let mut kept_count = lock_account(txn, user).await?;
                    let ids: Vec<Uuid> = drawings.iter().map(|(id, _)| *id).collect();
                    let mut existing: std::collections::HashMap<Uuid, drawing::Model> =
                        drawing::Entity::find()
                            .filter(drawing::Column::Id.is_in(ids))
                            .all(txn)
                            .await?
                            .into_iter()
                            .map(|model| (model.id, model))
                            .collect();
                    let mut kept = Vec::new();
                    for (id, drawing) in drawings {
                        let old = existing.get(&id);
                        if clash(user, &drawing, old).is_some() {
                            continue;
                        }
                        if old.is_none() {
                            if kept_count >= u64::from(limit) {
                                continue;
                            }
                            kept_count += 1;
                        }
                        write(txn, user, id, &drawing, old, now).await?;
                        // A later drawing with the same id changes this one.
                        existing.entry(id).or_insert_with(|| drawing::Model {
                            id,
                            user_id: user,
                            symbol: drawing.symbol.to_string(),
                            kind: String::new(),
                            body: String::new(),
                            created_at: now,
                            updated_at: now,
                        });
                        kept.push(drawing);
                    }
                    Ok(kept)
                })
            })
            .await
            .context("while importing drawings")
    }

    /// Deletes the user's drawing; answers its symbol, or `None` when the
    /// user has no such drawing.
    pub async fn delete(&self, user: Uuid, id: Uuid) -> anyhow::Result<Option<Symbol>> {
        let Some(model) = drawing::Entity::find_by_id(id)
            .filter(drawing::Column::UserId.eq(user))
            .one(&self.db)
            .await
            .context("while reading a drawing")?
        else {
            return Ok(None);
        };
        drawing::Entity::delete_many()
            .filter(drawing::Column::Id.eq(id))
            .filter(drawing::Column::UserId.eq(user))
            .exec(&self.db)
            .await
            .context("while deleting a drawing")?;
        Ok(Symbol::parse(&model.symbol).ok())
    }

    /// The user's saved layout, if any.
    pub async fn layout(&self, user: Uuid) -> anyhow::Result<Option<Layout>> {
        let Some(model) = layout::Entity::find_by_id(user)
            .one(&self.db)
            .await
            .context("while reading a layout")?
        else {
            return Ok(None);
        };
        // A layout this version cannot read is as good as none.
        Ok(serde_json::from_str(&model.body).ok())
    }

    pub async fn set_layout(&self, user: Uuid, value: &Layout, now: i64) -> anyhow::Result<()> {
        let body = serde_json::to_string(value).context("while encoding a layout")?;
        layout::Entity::insert(layout::ActiveModel {
            user_id: Set(user),
            body: Set(body),
            updated_at: Set(now),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(layout::Column::UserId)
                .update_columns([layout::Column::Body, layout::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .context("while saving a layout")?;
        Ok(())
    }
}
