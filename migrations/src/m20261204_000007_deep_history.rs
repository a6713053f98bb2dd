//! Deep history: years of candles per series, read whole by backtests.
//!
//! `candle_listings`: where a series begins on the exchange (the open time
//! of its first candle), once a deep fetch has reached it, so that nobody
//! asks the exchange for older candles again.
//!
//! On SQLite, `candles` is rebuilt `WITHOUT ROWID`: the rows then sit in
//! the primary key's own B-tree, ordered by (symbol, interval, open time),
//! so a series' range is one sequential scan instead of an index walk plus
//! a table lookup per row (half the time for a million rows), and a write
//! updates one B-tree instead of two. PostgreSQL keeps its heap and primary
//! key (a range scan of the key serves the reads; TimescaleDB, when the
//! first migration found it, chunks the table by open time).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000007_deep_history"
    }
}

#[derive(DeriveIden)]
enum CandleListings {
    Table,
    Symbol,
    Interval,
    FirstOpenTime,
}

/// The candle columns, as `m20261124_000001` and `m20261125_000002` made them.
const CANDLE_COLUMNS: &str = "\"symbol\" varchar(20) NOT NULL, \"interval\" varchar(3) NOT NULL, \
     \"open_time\" bigint NOT NULL, \"open\" double NOT NULL, \"high\" double NOT NULL, \
     \"low\" double NOT NULL, \"close\" double NOT NULL, \"volume\" double NOT NULL, \
     \"trades\" bigint NOT NULL, \"closed\" boolean NOT NULL DEFAULT FALSE, \
     PRIMARY KEY (\"symbol\", \"interval\", \"open_time\")";

const COLUMN_NAMES: &str = "\"symbol\", \"interval\", \"open_time\", \"open\", \"high\", \"low\", \"close\", \
     \"volume\", \"trades\", \"closed\"";

/// Rebuilds SQLite's `candles` with `table_options` after its columns
/// (`WITHOUT ROWID`, or nothing for an ordinary table), keeping its rows.
async fn rebuild_sqlite_candles(manager: &SchemaManager<'_>, table_options: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!(
        "CREATE TABLE \"candles_rebuilt\" ({CANDLE_COLUMNS}) {table_options}"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO \"candles_rebuilt\" ({COLUMN_NAMES}) SELECT {COLUMN_NAMES} FROM \"candles\" \
         ORDER BY \"symbol\", \"interval\", \"open_time\""
    ))
    .await?;
    db.execute_unprepared("DROP TABLE \"candles\"").await?;
    db.execute_unprepared("ALTER TABLE \"candles_rebuilt\" RENAME TO \"candles\"")
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CandleListings::Table)
                    .col(ColumnDef::new(CandleListings::Symbol).string_len(20).not_null())
                    .col(ColumnDef::new(CandleListings::Interval).string_len(3).not_null())
                    // Milliseconds since the Unix epoch, as Binance sends them.
                    .col(
                        ColumnDef::new(CandleListings::FirstOpenTime)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(CandleListings::Symbol)
                            .col(CandleListings::Interval),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Sqlite {
            rebuild_sqlite_candles(manager, "WITHOUT ROWID").await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Sqlite {
            rebuild_sqlite_candles(manager, "").await?;
        }
        manager
            .drop_table(Table::drop().table(CandleListings::Table).to_owned())
            .await
    }
}
