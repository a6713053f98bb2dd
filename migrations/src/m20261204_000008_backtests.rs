//! Strategy backtests: each backtest a script's owner asked for (its
//! version, series, range and settings, where it is, and once done its
//! outcome as JSON), and the settings the trader saved with each version
//! of a script. Both go with the script (and so with the account) through
//! cascading foreign keys.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000008_backtests"
    }
}

#[derive(DeriveIden)]
enum Scripts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Backtests {
    Table,
    Id,
    UserId,
    ScriptId,
    Version,
    Symbol,
    Interval,
    RangeFrom,
    RangeTo,
    Settings,
    State,
    Have,
    Want,
    Message,
    Outcome,
    NetProfitPct,
    MaxDrawdownPct,
    Trades,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BacktestSettings {
    Table,
    ScriptId,
    Version,
    Settings,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Backtests::Table)
                    .col(ColumnDef::new(Backtests::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Backtests::UserId).uuid().not_null())
                    .col(ColumnDef::new(Backtests::ScriptId).uuid().not_null())
                    .col(ColumnDef::new(Backtests::Version).integer().not_null())
                    .col(ColumnDef::new(Backtests::Symbol).string_len(20).not_null())
                    .col(ColumnDef::new(Backtests::Interval).string_len(4).not_null())
                    .col(ColumnDef::new(Backtests::RangeFrom).big_integer().null())
                    .col(ColumnDef::new(Backtests::RangeTo).big_integer().null())
                    // The `Settings` as JSON.
                    .col(ColumnDef::new(Backtests::Settings).text().not_null())
                    // loading, running, done or failed.
                    .col(ColumnDef::new(Backtests::State).string_len(8).not_null())
                    .col(
                        ColumnDef::new(Backtests::Have)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Backtests::Want)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    // Why it failed, for the trader.
                    .col(ColumnDef::new(Backtests::Message).text().null())
                    // The `Outcome` as JSON, once done.
                    .col(ColumnDef::new(Backtests::Outcome).text().null())
                    // The figures a list shows, beside the outcome.
                    .col(ColumnDef::new(Backtests::NetProfitPct).double().null())
                    .col(ColumnDef::new(Backtests::MaxDrawdownPct).double().null())
                    .col(ColumnDef::new(Backtests::Trades).integer().null())
                    .col(ColumnDef::new(Backtests::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Backtests::UpdatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Backtests::Table, Backtests::ScriptId)
                            .to(Scripts::Table, Scripts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("backtests_script_created")
                    .table(Backtests::Table)
                    .col(Backtests::ScriptId)
                    .col(Backtests::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("backtests_user_created")
                    .table(Backtests::Table)
                    .col(Backtests::UserId)
                    .col(Backtests::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BacktestSettings::Table)
                    .col(ColumnDef::new(BacktestSettings::ScriptId).uuid().not_null())
                    .col(ColumnDef::new(BacktestSettings::Version).integer().not_null())
                    .col(ColumnDef::new(BacktestSettings::Settings).text().not_null())
                    .col(
                        ColumnDef::new(BacktestSettings::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(BacktestSettings::ScriptId)
                            .col(BacktestSettings::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BacktestSettings::Table, BacktestSettings::ScriptId)
                            .to(Scripts::Table, Scripts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [BacktestSettings::Table.into_iden(), Backtests::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
