//! `candles.closed`: whether a candle is final. A closed candle is never
//! overwritten, so a late or replayed message cannot undo it.
//!
//! `market_feed`: one row saying which feed wrote the stored candles
//! (`simulated` or `binance`), so that simulated candles are never mistaken
//! for the exchange's: the feed that takes over clears the other's.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000002_candle_closed_and_feed"
    }
}

#[derive(DeriveIden)]
enum Candles {
    Table,
    Closed,
}

#[derive(DeriveIden)]
enum MarketFeed {
    Table,
    Id,
    Source,
    ChangedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Candles::Table)
                    .add_column(
                        ColumnDef::new(Candles::Closed)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MarketFeed::Table)
                    // Always 1: the table holds one row.
                    .col(ColumnDef::new(MarketFeed::Id).integer().not_null().primary_key())
                    .col(ColumnDef::new(MarketFeed::Source).string_len(16).not_null())
                    // Milliseconds since the Unix epoch.
                    .col(ColumnDef::new(MarketFeed::ChangedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MarketFeed::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Candles::Table)
                    .drop_column(Candles::Closed)
                    .to_owned(),
            )
            .await
    }
}
