//! Watchlists in the database. Adding a symbol counts the list in the
//! same transaction, so a plan's limit holds under concurrent requests.

use anyhow::Context;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use super::entity as watch;

#[derive(Clone)]
pub struct WatchlistStore {
    db: DatabaseConnection,
}

impl WatchlistStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The symbols a user watches, oldest first.
    pub async fn watchlist(&self, user: Uuid) -> anyhow::Result<Vec<String>> {
        Ok(watch::Entity::find()
            .filter(watch::Column::UserId.eq(user))
            .order_by_asc(watch::Column::AddedAt)
            .order_by_asc(watch::Column::Symbol)
            .all(&self.db)
            .await
            .context("while reading a watchlist")?
            .into_iter()
            .map(|row| row.symbol)
            .collect())
    }

    /// Adds a symbol unless the list holds `limit` already; adding one
    /// already there changes nothing. Returns whether it is on the list.
    pub async fn watch(&self, user: Uuid, symbol: &str, limit: u32, now: i64) -> anyhow::Result<bool> {
        let symbol = symbol.to_string();
        self.db
            .transaction::<_, bool, DbErr>(|txn| {
                Box::pin(async move {
                    let mine = watch::Entity::find().filter(watch::Column::UserId.eq(user));
                    if mine
                        .clone()
                        .filter(watch::Column::Symbol.eq(&symbol))
                        .count(txn)
                        .await?
                        > 0
                    {
                        return Ok(true);
                    }
                    if mine.count(txn).await? >= u64::from(limit) {
                        return Ok(false);
                    }
                    watch::Entity::insert(watch::ActiveModel {
                        user_id: Set(user),
                        symbol: Set(symbol),
                        added_at: Set(now),
                    })
                    .on_conflict(
                        OnConflict::columns([watch::Column::UserId, watch::Column::Symbol])
                            .do_nothing()
                            .to_owned(),
                    )
                    .exec_without_returning(txn)
                    .await?;
                    Ok(true)
                })
            })
            .await
            .context("while adding to a watchlist")
    }

    pub async fn unwatch(&self, user: Uuid, symbol: &str) -> anyhow::Result<()> {
        watch::Entity::delete_many()
            .filter(watch::Column::UserId.eq(user))
            .filter(watch::Column::Symbol.eq(symbol))
            .exec(&self.db)
            .await
            .context("while removing from a watchlist")?;
        Ok(())
    }
}
