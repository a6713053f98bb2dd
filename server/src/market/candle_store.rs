//! Where candles are stored: the `candles` table, in PostgreSQL or SQLite,
//! and where each series begins on the exchange (`candle_listings`).
//!
//! Policy: one row per (symbol, interval, open time). Writes are upserts, so
//! writing the same candle twice (a forming candle, a replayed message, two
//! instances) leaves one row holding the furthest-along values; a closed
//! candle is final. Reads come back ascending by open time. Candles are
//! only ever deleted whole: all of them when the feed changes (the
//! exchange's and simulated candles never mix), or one simulated series
//! that fell out of date (drawn again on demand, identical). Deep history's
//! reads and writes take each backend's fastest path ([`bulk`]).

mod bulk;

use anyhow::Context;
use inchart_api::market::{Candle, FeedSource, Interval, Symbol};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set, TransactionTrait,
};

use crate::platform::clock::now_ms;

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

/// A series' candles as columns, ascending by open time: what a backtest
/// reads, a million at a time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandleColumns {
    /// Open times, in ms since the Unix epoch.
    pub time: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl CandleColumns {
    fn with_capacity(candles: usize) -> Self {
        Self {
            time: Vec::with_capacity(candles),
            open: Vec::with_capacity(candles),
            high: Vec::with_capacity(candles),
            low: Vec::with_capacity(candles),
            close: Vec::with_capacity(candles),
            volume: Vec::with_capacity(candles),
        }
    }

    fn push(&mut self, time: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) {
        self.time.push(time);
        self.open.push(open);
        self.high.push(high);
        self.low.push(low);
        self.close.push(close);
        self.volume.push(volume);
    }

    /// How many candles.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

/// The most columns' room reserved before a read: a wide range may hold
/// few candles, and growing past this costs only a few copies.
const RESERVE_AT_MOST: usize = 1 << 16;

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

    /// The candles of a series opening from `from` to `to` (inclusive), as
    /// columns ascending by open time; with `closed_only`, without the
    /// forming one. The fast read for a million candles (see [`bulk`]).
    pub async fn columns(
        &self,
        symbol: &Symbol,
        interval: Interval,
        from: i64,
        to: i64,
        closed_only: bool,
    ) -> anyhow::Result<CandleColumns> {
        if from > to {
            return Ok(CandleColumns::default());
        }
        let span = to.min(now_ms()).saturating_sub(from) / interval.millis() + 1;
        let room = usize::try_from(span).unwrap_or(0).min(RESERVE_AT_MOST);
        let read = match &self.db {
            DatabaseConnection::SqlxPostgresPoolConnection(_) => {
                bulk::postgres_columns(
                    self.db.get_postgres_connection_pool(),
                    symbol,
                    interval,
                    (from, to),
                    closed_only,
                    room,
                )
                .await
            }
            DatabaseConnection::SqlxSqlitePoolConnection(_) => {
                bulk::sqlite_columns(
                    self.db.get_sqlite_connection_pool(),
                    symbol,
                    interval,
                    (from, to),
                    closed_only,
                    room,
                )
                .await
            }
            _ => {
                self.columns_by_rows(symbol, interval, (from, to), closed_only)
                    .await
            }
        };
        read.with_context(|| format!("while reading {symbol} {interval} candles as columns"))
    }

    /// [`CandleStore::columns`] through sea-orm's rows, for a connection
    /// of no known backend.
    async fn columns_by_rows(
        &self,
        symbol: &Symbol,
        interval: Interval,
        (from, to): (i64, i64),
        closed_only: bool,
    ) -> anyhow::Result<CandleColumns> {
        let mut query = Candles::find()
            .filter(Column::Symbol.eq(symbol.as_str()))
            .filter(Column::Interval.eq(interval.as_str()))
            .filter(Column::OpenTime.between(from, to));
        if closed_only {
            query = query.filter(Column::Closed.eq(true));
        }
        let statement = query
            .select_only()
            .columns(CANDLE_COLUMNS[..6].iter().copied())
            .order_by_asc(Column::OpenTime)
            .build(self.db.get_database_backend());
        let rows = self.db.query_all(statement).await?;
        let mut columns = CandleColumns::with_capacity(rows.len());
        for row in &rows {
            columns.push(
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
                row.try_get_by_index(3)?,
                row.try_get_by_index(4)?,
                row.try_get_by_index(5)?,
            );
        }
        Ok(columns)
    }

    /// Writes a page of a series' older history (closed candles, any
    /// order) in one transaction, with the open time of the series' first
    /// candle when the page reaches it, but only while `source` still owns
    /// the store: a page fetched before a feed switch must not land among
    /// the other feed's candles. Answers whether it was written.
    pub async fn write_history(
        &self,
        source: FeedSource,
        symbol: &Symbol,
        interval: Interval,
        candles: &[Candle],
        listing: Option<i64>,
    ) -> anyhow::Result<bool> {
        let feed = feed::name(source);
        let written = match &self.db {
            DatabaseConnection::SqlxPostgresPoolConnection(_) => {
                bulk::postgres_write(
                    self.db.get_postgres_connection_pool(),
                    feed,
                    symbol,
                    interval,
                    candles,
                    listing,
                )
                .await
            }
            DatabaseConnection::SqlxSqlitePoolConnection(_) => {
                bulk::sqlite_write(
                    self.db.get_sqlite_connection_pool(),
                    feed,
                    symbol,
                    interval,
                    candles,
                    listing,
                )
                .await
            }
            _ => anyhow::bail!("deep history is stored in PostgreSQL or SQLite only"),
        };
        written.with_context(|| format!("while storing older {symbol} {interval} candles"))
    }

    /// The open time of the oldest stored candle of a series.
    pub async fn oldest_open_time(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<Option<i64>> {
        let oldest: Option<i64> = Candles::find()
            .select_only()
            .column(Column::OpenTime)
            .filter(Column::Symbol.eq(symbol.as_str()))
            .filter(Column::Interval.eq(interval.as_str()))
            .order_by_asc(Column::OpenTime)
            .into_tuple()
            .one(&self.db)
            .await
            .with_context(|| format!("while reading the oldest {symbol} {interval} candle"))?;
        Ok(oldest)
    }

    /// The open time of a series' first candle on the exchange, once a
    /// deep fetch has reached it (and the stored candles with it).
    pub async fn listing(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<Option<i64>> {
        let row = listing::Entity::find_by_id((symbol.to_string(), interval.as_str().to_string()))
            .one(&self.db)
            .await
            .with_context(|| format!("while reading where {symbol} {interval} begins"))?;
        Ok(row.map(|row| row.first_open_time))
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

    /// Deletes every candle of a series, and where it begins, in one
    /// transaction. Only for simulated series (see the module policy).
    pub async fn delete_series(&self, symbol: &Symbol, interval: Interval) -> anyhow::Result<u64> {
        let transaction = self
            .db
            .begin()
            .await
            .context("while starting to delete a series")?;
        let deleted = Candles::delete_many()
            .filter(Column::Symbol.eq(symbol.as_str()))
            .filter(Column::Interval.eq(interval.as_str()))
            .exec(&transaction)
            .await
            .with_context(|| format!("while deleting {symbol} {interval} candles"))?
            .rows_affected;
        listing::Entity::delete_by_id((symbol.to_string(), interval.as_str().to_string()))
            .exec(&transaction)
            .await
            .with_context(|| format!("while forgetting where {symbol} {interval} begins"))?;
        transaction.commit().await.context("while deleting a series")?;
        Ok(deleted)
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
        if self.db.get_database_backend() == sea_orm::DbBackend::Postgres {
            // Waits for history pages being written (which hold the row
            // shared), and makes later ones wait, then see the new feed.
            transaction
                .execute_unprepared("SELECT 1 FROM \"market_feed\" WHERE \"id\" = 1 FOR UPDATE")
                .await
                .context("while locking the feed")?;
        }
        let deleted = Candles::delete_many()
            .exec(&transaction)
            .await
            .context("while deleting the other feed's candles")?
            .rows_affected;
        listing::Entity::delete_many()
            .exec(&transaction)
            .await
            .context("while forgetting where the other feed's series begin")?;
        feed::Entity::insert(feed::ActiveModel {
            id: Set(feed::ROW),
            source: Set(feed::name(source).to_string()),
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

    /// A feed as the table names it.
    pub fn name(source: inchart_api::market::FeedSource) -> &'static str {
        match source {
            inchart_api::market::FeedSource::Simulated => "simulated",
            inchart_api::market::FeedSource::Binance => "binance",
        }
    }

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

/// The `candle_listings` table: where a series begins on the exchange.
mod listing {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "candle_listings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub symbol: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub interval: String,
        pub first_open_time: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::db::{Backend, scratch};

    fn btc() -> Symbol {
        Symbol::parse("BTCUSDT").unwrap_or_default()
    }

    /// `count` closed candles of 1m from `first`, each a little different.
    fn closed(first: i64, count: usize) -> Vec<Candle> {
        (0..count)
            .map(|index| {
                let price = 30_000.0 + (index % 977) as f64 * 0.25;
                Candle {
                    open_time: first + index as i64 * 60_000,
                    open: price,
                    high: price + 7.5,
                    low: price - 3.125,
                    close: price + 1.0,
                    volume: 12.345_678 + (index % 13) as f64,
                    trades: 100 + (index % 50) as i64,
                    closed: true,
                }
            })
            .collect()
    }

    fn as_columns(candles: &[Candle]) -> CandleColumns {
        let mut columns = CandleColumns::default();
        for c in candles {
            columns.push(c.open_time, c.open, c.high, c.low, c.close, c.volume);
        }
        columns
    }

    async fn history_is_written_and_read_as_columns(backend: Backend) -> anyhow::Result<()> {
        let scratch = scratch::fresh(backend).await?;
        let store = CandleStore::new(scratch.db.clone());
        let m1 = Interval::M1;
        store.claim_for(FeedSource::Binance, 0).await?;
        let start = 1_600_000_020_000 / 60_000 * 60_000;
        let all = closed(start, 2_500);
        // The live end: closed candles and a forming one, written by the feed.
        let mut forming = all[2_499];
        forming.closed = false;
        store.upsert(&btc(), m1, &all[2_000..2_499]).await?;
        store.upsert(&btc(), m1, &[forming]).await?;
        assert_eq!(
            store.oldest_open_time(&btc(), m1).await?,
            Some(all[2_000].open_time)
        );

        // Older pages, newest first, as a deep fetch writes them; the last
        // one reaches the listing.
        for (page, listing) in [(&all[1_000..2_000], None), (&all[..1_000], Some(start))] {
            assert!(
                store
                    .write_history(FeedSource::Binance, &btc(), m1, page, listing)
                    .await?
            );
        }
        assert_eq!(store.oldest_open_time(&btc(), m1).await?, Some(start));
        assert_eq!(store.listing(&btc(), m1).await?, Some(start));

        let every = store.columns(&btc(), m1, 0, i64::MAX, false).await?;
        let mut expected = as_columns(&all[..2_499]);
        expected.push(
            forming.open_time,
            forming.open,
            forming.high,
            forming.low,
            forming.close,
            forming.volume,
        );
        assert_eq!(every, expected);
        let closed_only = store.columns(&btc(), m1, 0, i64::MAX, true).await?;
        assert_eq!(closed_only, as_columns(&all[..2_499]), "without the forming one");
        let window = store
            .columns(&btc(), m1, all[10].open_time, all[19].open_time, true)
            .await?;
        assert_eq!(window, as_columns(&all[10..20]), "both ends included");
        assert!(store.columns(&btc(), m1, 5, 4, true).await?.is_empty());
        if backend == Backend::Sqlite {
            // In chunks, one ending on the last candle, one on the forming.
            let pool = scratch.db.get_sqlite_connection_pool();
            for chunk in [7, 2_499, 2_500] {
                let read = bulk::sqlite_columns_by(chunk, pool, &btc(), m1, (0, i64::MAX), false, 0).await?;
                assert_eq!(read, every, "{chunk} rows at a time");
            }
        }
        assert!(
            store
                .columns(&btc(), Interval::M5, 0, i64::MAX, false)
                .await?
                .is_empty()
        );

        // The store's rule holds for history pages too: a closed candle is
        // final, a forming one gives way to its closed version.
        let mut rewritten = all[5];
        rewritten.close += 100.0;
        let mut closing = forming;
        closing.closed = true;
        closing.close += 1.0;
        assert!(
            store
                .write_history(FeedSource::Binance, &btc(), m1, &[rewritten, closing], None)
                .await?
        );
        let read = store.columns(&btc(), m1, 0, i64::MAX, false).await?;
        assert_eq!(read.close[5], all[5].close);
        assert_eq!(read.close[2_499], closing.close);

        // A page fetched for another feed is not written.
        let elsewhere = closed(start - 1_000 * 60_000, 1_000);
        assert!(
            !store
                .write_history(
                    FeedSource::Simulated,
                    &btc(),
                    m1,
                    &elsewhere,
                    Some(elsewhere[0].open_time)
                )
                .await?
        );
        assert_eq!(store.oldest_open_time(&btc(), m1).await?, Some(start));
        assert_eq!(store.listing(&btc(), m1).await?, Some(start));

        // A series is deleted whole, with its listing; so is everything
        // when the feed changes.
        store
            .write_history(FeedSource::Binance, &btc(), Interval::H1, &[], Some(0))
            .await?;
        assert!(store.delete_series(&btc(), m1).await? >= 2_500);
        assert_eq!(store.listing(&btc(), m1).await?, None);
        assert_eq!(store.listing(&btc(), Interval::H1).await?, Some(0));
        store.claim_for(FeedSource::Simulated, 1).await?;
        assert_eq!(store.listing(&btc(), Interval::H1).await?, None);
        scratch.remove().await
    }

    #[tokio::test]
    async fn postgres_history_is_written_and_read_as_columns() -> anyhow::Result<()> {
        history_is_written_and_read_as_columns(Backend::Postgres).await
    }

    #[tokio::test]
    async fn sqlite_history_is_written_and_read_as_columns() -> anyhow::Result<()> {
        history_is_written_and_read_as_columns(Backend::Sqlite).await
    }

    /// The deep-history migration goes down and up again on both backends,
    /// keeping the candles; on SQLite it clusters them by key and back.
    async fn deep_history_migration_keeps_the_candles(backend: Backend) -> anyhow::Result<()> {
        use migrations::{Migrator, MigratorTrait};
        let scratch = scratch::fresh(backend).await?;
        let store = CandleStore::new(scratch.db.clone());
        let candles = closed(1_600_000_020_000 / 60_000 * 60_000, 1_200);
        store.upsert(&btc(), Interval::M1, &candles).await?;
        let names: Vec<String> = Migrator::migrations()
            .iter()
            .map(|migration| migration.name().to_string())
            .collect();
        let at = names
            .iter()
            .position(|name| name == "m20261204_000007_deep_history")
            .context("the migration is listed")?;
        let clustered = || async {
            let row = scratch
                .db
                .query_one(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "SELECT sql FROM sqlite_master WHERE name = 'candles'",
                ))
                .await?
                .context("the candles table exists")?;
            anyhow::Ok(row.try_get::<String>("", "sql")?.contains("WITHOUT ROWID"))
        };
        if backend == Backend::Sqlite {
            assert!(clustered().await?);
        }
        Migrator::down(&scratch.db, Some(u32::try_from(names.len() - at)?)).await?;
        assert_eq!(
            store
                .range(
                    &btc(),
                    Interval::M1,
                    CandleRange {
                        start: Some(0),
                        end: None,
                        limit: 5_000
                    }
                )
                .await?,
            candles
        );
        assert!(
            store.listing(&btc(), Interval::M1).await.is_err(),
            "no candle_listings table"
        );
        if backend == Backend::Sqlite {
            assert!(!clustered().await?);
        }
        Migrator::up(&scratch.db, None).await?;
        assert_eq!(
            store.columns(&btc(), Interval::M1, 0, i64::MAX, true).await?,
            as_columns(&candles)
        );
        if backend == Backend::Sqlite {
            assert!(clustered().await?);
        }
        scratch.remove().await
    }

    #[tokio::test]
    async fn postgres_deep_history_migration_keeps_the_candles() -> anyhow::Result<()> {
        deep_history_migration_keeps_the_candles(Backend::Postgres).await
    }

    #[tokio::test]
    async fn sqlite_deep_history_migration_keeps_the_candles() -> anyhow::Result<()> {
        deep_history_migration_keeps_the_candles(Backend::Sqlite).await
    }

    /// `cargo test -p server --lib candle_store::tests::figures -- --ignored --nocapture`:
    /// a million candles of one series, written as deep history writes
    /// them (1000-candle pages, newest first) and as the feed's upsert
    /// does, then read back as columns and as rows (BENCHMARKS.md).
    /// `INCHART_FIGURES_ROWS` changes the count.
    #[tokio::test]
    #[ignore = "prints figures; minutes in a debug build"]
    #[allow(clippy::print_stdout)]
    async fn figures() -> anyhow::Result<()> {
        let rows: usize = std::env::var("INCHART_FIGURES_ROWS")
            .ok()
            .and_then(|rows| rows.parse().ok())
            .unwrap_or(1_000_000);
        let eth = Symbol::parse("ETHUSDT")?;
        let all = closed(1_500_000_000_000 / 60_000 * 60_000, rows);
        let seconds = |since: std::time::Instant| since.elapsed().as_secs_f64();
        // This process's CPU time (every thread, SQLite's workers too), in
        // seconds: steadier than the wall clock on a busy machine.
        let cpu = || -> f64 {
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let ticks = |index: usize| {
                fields
                    .get(index)
                    .and_then(|t| t.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            (ticks(11) + ticks(12)) / 100.0
        };
        println!(
            "{rows} candles of one series, {} build",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
        for backend in [Backend::Postgres, Backend::Sqlite] {
            let scratch = scratch::fresh(backend).await?;
            let store = CandleStore::new(scratch.db.clone());
            store.claim_for(FeedSource::Binance, 0).await?;

            let started = std::time::Instant::now();
            for page in all.chunks(1_000).rev() {
                store
                    .write_history(FeedSource::Binance, &btc(), Interval::M1, page, None)
                    .await?;
            }
            println!(
                "{backend:?}: write_history, 1000-candle pages: {:.2} s",
                seconds(started)
            );
            let started = std::time::Instant::now();
            for page in all.chunks(1_000).rev() {
                store.upsert(&eth, Interval::M1, page).await?;
            }
            println!(
                "{backend:?}: upsert (the feed's write), 1000-candle pages: {:.2} s",
                seconds(started)
            );
            if backend == Backend::Postgres {
                scratch.db.execute_unprepared("VACUUM ANALYZE candles").await?;
            }
            let mut reads = Vec::new();
            for _ in 0..3 {
                let (started, cpu_before) = (std::time::Instant::now(), cpu());
                let columns = store.columns(&btc(), Interval::M1, 0, i64::MAX, true).await?;
                reads.push((seconds(started), cpu() - cpu_before));
                assert_eq!(columns.len(), rows);
            }
            reads.sort_by(|a, b| a.0.total_cmp(&b.0));
            println!(
                "{backend:?}: columns, best and worst of 3: {:.2} s, {:.2} s (this process's CPU: {:.2} s, {:.2} s)",
                reads[0].0, reads[2].0, reads[0].1, reads[2].1
            );
            let (started, cpu_before) = (std::time::Instant::now(), cpu());
            let by_rows = store
                .range(
                    &btc(),
                    Interval::M1,
                    CandleRange {
                        start: Some(0),
                        end: None,
                        limit: rows as u64,
                    },
                )
                .await?;
            println!(
                "{backend:?}: range (rows through sea-orm): {:.2} s (CPU {:.2} s)",
                seconds(started),
                cpu() - cpu_before
            );
            assert_eq!(by_rows.len(), rows);
            scratch.remove().await?;
        }
        Ok(())
    }
}
