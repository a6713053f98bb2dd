//! `candles`: one row per (symbol, interval, open time), the primary key, so
//! a series can hold neither a duplicate nor, read by key, an out-of-order
//! candle. On PostgreSQL with TimescaleDB loaded it becomes a hypertable
//! chunked by open time; elsewhere the primary key's index serves every
//! range read.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000001_create_candles"
    }
}

#[derive(DeriveIden)]
enum Candles {
    Table,
    Symbol,
    Interval,
    OpenTime,
    Open,
    High,
    Low,
    Close,
    Volume,
    Trades,
}

/// One week of open times in milliseconds: a TimescaleDB chunk.
const CHUNK_MILLIS: i64 = 7 * 24 * 60 * 60 * 1000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Candles::Table)
                    .col(ColumnDef::new(Candles::Symbol).string_len(20).not_null())
                    .col(ColumnDef::new(Candles::Interval).string_len(3).not_null())
                    // Milliseconds since the Unix epoch, as Binance sends them.
                    .col(ColumnDef::new(Candles::OpenTime).big_integer().not_null())
                    .col(ColumnDef::new(Candles::Open).double().not_null())
                    .col(ColumnDef::new(Candles::High).double().not_null())
                    .col(ColumnDef::new(Candles::Low).double().not_null())
                    .col(ColumnDef::new(Candles::Close).double().not_null())
                    .col(ColumnDef::new(Candles::Volume).double().not_null())
                    .col(ColumnDef::new(Candles::Trades).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Candles::Symbol)
                            .col(Candles::Interval)
                            .col(Candles::OpenTime),
                    )
                    .to_owned(),
            )
            .await?;

        if manager.get_database_backend() == DbBackend::Postgres && timescale_loaded(manager).await? {
            let db = manager.get_connection();
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS timescaledb")
                .await?;
            db.execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT create_hypertable('candles', 'open_time', chunk_time_interval => $1, migrate_data => true)",
                [CHUNK_MILLIS.into()],
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping a hypertable drops its chunks too; the extension stays,
        // as other databases on the server may use it.
        manager
            .drop_table(Table::drop().table(Candles::Table).to_owned())
            .await
    }
}

/// TimescaleDB is usable only when it is installed *and* preloaded by the
/// server; an installed but unloaded extension would fail to create.
async fn timescale_loaded(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let row = manager
        .get_connection()
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') \
             AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' AS loaded",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<bool>("", "loaded")?,
        None => false,
    })
}
