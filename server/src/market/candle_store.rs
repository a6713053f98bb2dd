//! Where candles are stored: the `candles` table, in PostgreSQL or SQLite.
//!
//! Policy: one row per (symbol, interval, open time). Writes are upserts, so
//! writing the same candle twice (a forming candle, a replayed message, two
//! instances) leaves one row holding the furthest-along values; a closed
//! candle is final. Reads come back ascending by open time.

use anyhow::Context;
use inchart_api::market::{Candle, FeedSource, Interval, Symbol};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set, TransactionTrait,
};

use super::entity::{self, Column, Entity as Candles};

/// Rows per INSERT: 9 values a row stays far below SQLite's and
/// PostgreSQL's bound-parameter limits.
const WRITE_BATCH: usize = 500;

/// Which candles of a series to read, Binance's way: from `start` forwards
/// when it is given, otherwise the most recent ones up to `end` (or now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandleRange {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub limit: u64,
}

/// When a stored candle may be overwritten: never once closed, and while
/// forming only by a version at least as far along (trades only grow within
/// a candle). So a late, replayed or reordered message cannot undo a newer
/// one, whatever order writes arrive in.
const ONLY_NEWER: &str = "NOT \"candles\".\"closed\" AND \
     (\"excluded\".\"closed\" OR \"excluded\".\"trades\" >= \"candles\".\"trades\")";

/// The columns of a [`Candle`], in its fields' order.
const CANDLE_COLUMNS: [Column; 8] = [
    Column::OpenTime,
    Column::Open,
    Column::High,
    Column::Low,
    Column::Close,
    Column::Volume,
    Column::Trades,
    Column::Closed,
];

/// Candles of one series, for [`CandleStore::upsert_all`].
#[derive(Debug, Clone, Copy)]
pub struct SeriesCandles<'a> {
    pub symbol: &'a Symbol,
    pub interval: Interval,
    pub candles: &'a [Candle],
}

#[derive(Clone)]
pub struct CandleStore {
    db: DatabaseConnection,
}

impl CandleStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Inserts or updates `candles` of one series, all in one transaction.
    pub async fn upsert(
        &self,
        symbol: &Symbol,
        interval: Interval,
        candles: &[Candle],
    ) -> anyhow::Result<()> {
        self.upsert_all(&[SeriesCandles {
            symbol,
            interval,
            candles,
        }])
        .await
    }

    /// Inserts or updates candles of several series, all in one transaction:
    /// either every series is written or none is.
    pub async fn upsert_all(&self, series: &[SeriesCandles<'_>]) -> anyhow::Result<()> {
        if series.iter().all(|one| one.candles.is_empty()) {
            return Ok(());
        }
        let transaction = self.db.begin().await.context("while starting a candle write")?;
        for SeriesCandles {
            symbol,
            interval,
            candles,
        } in series
        {
            for batch in candles.chunks(WRITE_BATCH) {
                let rows = batch.iter().map(|candle| entity::ActiveModel {
                    symbol: Set(symbol.to_string()),
                    interval: Set(interval.as_str().to_string()),
                    open_time: Set(candle.open_time),
                    open: Set(candle.open),
                    high: Set(candle.high),
                    low: Set(candle.low),
                    close: Set(candle.close),
                    volume: Set(candle.volume),
                    trades: Set(candle.trades),
                    closed: Set(candle.closed),
                });
                Candles::insert_many(rows)
                    .on_conflict(
                        OnConflict::columns([Column::Symbol, Column::Interval, Column::OpenTime])
                            // Every candle column but the open time, a key.
                            .update_columns(CANDLE_COLUMNS[1..].iter().copied())
                            .action_and_where(Expr::cust(ONLY_NEWER))
                            .to_owned(),
                    )
                    .exec_without_returning(&transaction)
                    .await
                    .with_context(|| format!("while writing {symbol} {interval} candles"))?;
            }
        }
        transaction.commit().await.context("while committing candles")?;
        Ok(())
    }

    /// Reads candles of one series, ascending by open time.
    pub async fn range(
        &self,
        symbol: &Symbol,
        interval: Interval,
        range: CandleRange,
    ) -> anyhow::Result<Vec<Candle>> {
        let mut query = Candles::find()
            .filter(Column::Symbol.eq(symbol.as_str()))
            .filter(Column::Interval.eq(interval.as_str()));
        if let Some(start) = range.start {
            query = query.filter(Column::OpenTime.gte(start));
        }
        if let Some(end) = range.end {
            query = query.filter(Column::OpenTime.lte(end));
        }
        let newest_first = range.start.is_none();
        let order = if newest_first {
            sea_orm::Order::Desc
        } else {
            sea_orm::Order::Asc
        };
        // Only the candle's columns, read by position: decoding rows by
        // column name into whole models was most of a read's time.
        let statement = query
            .select_only()
            .columns(CANDLE_COLUMNS)
            .order_by(Column::OpenTime, order)
            .limit(range.limit)
            .build(self.db.get_database_backend());
        let rows = self
            .db
            .query_all(statement)
            .await
            .with_context(|| format!("while reading {symbol} {interval} candles"))?;
        let mut candles = rows
            .iter()
            .map(|row| {
                Ok(Candle {
                    open_time: row.try_get_by_index(0)?,
                    open: row.try_get_by_index(1)?,
                    high: row.try_get_by_index(2)?,
                    low: row.try_get_by_index(3)?,
                    close: row.try_get_by_index(4)?,
                    volume: row.try_get_by_index(5)?,
                    trades: row.try_get_by_index(6)?,
                    closed: row.try_get_by_index(7)?,
                })
            })
            .collect::<Result<Vec<_>, sea_orm::DbErr>>()
            .with_context(|| format!("while decoding {symbol} {interval} candles"))?;
        if newest_first {
            candles.reverse();
        }
        Ok(candles)
    }

    /// The open time of the newest stored candle of a series.
    pub async fn latest_open_time(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<Option<i64>> {
        let newest = Candles::find()
            .filter(Column::Symbol.eq(symbol.as_str()))
            .filter(Column::Interval.eq(interval.as_str()))
            .order_by_desc(Column::OpenTime)
            .one(&self.db)
            .await
            .with_context(|| format!("while reading the newest {symbol} {interval} candle"))?;
        Ok(newest.map(|row| row.open_time))
    }

    /// The open time of the oldest candle of a series not yet closed: a
    /// close may have been missed there (a disconnect), so reading resumes
    /// from it.
    pub async fn oldest_forming(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<Option<i64>> {
        let oldest = Candles::find()
            .filter(Column::Symbol.eq(symbol.as_str()))
            .filter(Column::Interval.eq(interval.as_str()))
            .filter(Column::Closed.eq(false))
            .order_by_asc(Column::OpenTime)
            .one(&self.db)
            .await
            .with_context(|| format!("while reading the oldest forming {symbol} {interval} candle"))?;
        Ok(oldest.map(|row| row.open_time))
    }

    /// How many candles of a series open from `first` to `last` (inclusive).
    pub async fn count_between(
        &self,
        symbol: &Symbol,
        interval: Interval,
        first: i64,
        last: i64,
    ) -> anyhow::Result<u64> {
        Candles::find()
            .filter(Column::Symbol.eq(symbol.as_str()))
            .filter(Column::Interval.eq(interval.as_str()))
            .filter(Column::OpenTime.between(first, last))
            .count(&self.db)
            .await
            .with_context(|| format!("while counting {symbol} {interval} candles"))
    }

    /// Deletes the candles of a series opening before `open_time`.
    pub async fn delete_before(
        &self,
        symbol: &Symbol,
        interval: Interval,
        open_time: i64,
    ) -> anyhow::Result<u64> {
        let result = Candles::delete_many()
            .filter(Column::Symbol.eq(symbol.as_str()))
            .filter(Column::Interval.eq(interval.as_str()))
            .filter(Column::OpenTime.lt(open_time))
            .exec(&self.db)
            .await
            .with_context(|| format!("while deleting old {symbol} {interval} candles"))?;
        Ok(result.rows_affected)
    }

    /// The feed that wrote the stored candles, if any has.
    pub async fn feed_source(&self) -> anyhow::Result<Option<FeedSource>> {
        let row = feed::Entity::find_by_id(feed::ROW)
            .one(&self.db)
            .await
            .context("while reading which feed wrote the candles")?;
        Ok(row.and_then(|row| match row.source.as_str() {
            "simulated" => Some(FeedSource::Simulated),
            "binance" => Some(FeedSource::Binance),
            _ => None,
        }))
    }

    /// Makes `source` the writer of the stored candles. When another feed
    /// wrote them, they are deleted first, in the same transaction: the
    /// exchange's candles and simulated ones never mix in a series.
    /// Answers whether anything was deleted.
    pub async fn claim_for(&self, source: FeedSource, now_ms: i64) -> anyhow::Result<bool> {
        if self.feed_source().await? == Some(source) {
            return Ok(false);
        }
        let transaction = self.db.begin().await.context("while switching feeds")?;
        let deleted = Candles::delete_many()
            .exec(&transaction)
            .await
            .context("while deleting the other feed's candles")?
            .rows_affected;
        let name = match source {
            FeedSource::Simulated => "simulated",
            FeedSource::Binance => "binance",
        };
        feed::Entity::insert(feed::ActiveModel {
            id: Set(feed::ROW),
            source: Set(name.to_string()),
            changed_at: Set(now_ms),
        })
        .on_conflict(
            OnConflict::column(feed::Column::Id)
                .update_columns([feed::Column::Source, feed::Column::ChangedAt])
                .to_owned(),
        )
        .exec_without_returning(&transaction)
        .await
        .context("while recording the feed")?;
        transaction.commit().await.context("while switching feeds")?;
        Ok(deleted > 0)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.db.ping().await.context("the database did not answer")
    }
}

/// The one-row `market_feed` table.
mod feed {
    use sea_orm::entity::prelude::*;

    pub const ROW: i32 = 1;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "market_feed")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub source: String,
        pub changed_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
