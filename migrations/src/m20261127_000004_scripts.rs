//! Signal scripts: each user's `scripts`, every saved `script_versions` of
//! them, the `script_runs` that record which version produced which
//! signals on which series, and the `script_attachments` that re-run a
//! script on every closed candle of a series.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000004_scripts"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Scripts {
    Table,
    Id,
    UserId,
    Name,
    LatestVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScriptVersions {
    Table,
    ScriptId,
    Version,
    Source,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScriptRuns {
    Table,
    Id,
    ScriptId,
    UserId,
    Version,
    Symbol,
    Interval,
    Trigger,
    Outcome,
    FirstCandle,
    LastCandle,
    Candles,
    Result,
    Log,
    CpuMs,
    WallMs,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScriptAttachments {
    Table,
    ScriptId,
    Symbol,
    Interval,
    UserId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Scripts::Table)
                    .col(ColumnDef::new(Scripts::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Scripts::UserId).uuid().not_null())
                    .col(ColumnDef::new(Scripts::Name).string_len(80).not_null())
                    .col(ColumnDef::new(Scripts::LatestVersion).integer().not_null())
                    .col(ColumnDef::new(Scripts::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Scripts::UpdatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Scripts::Table, Scripts::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("scripts_user_id")
                    .table(Scripts::Table)
                    .col(Scripts::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScriptVersions::Table)
                    .col(ColumnDef::new(ScriptVersions::ScriptId).uuid().not_null())
                    .col(ColumnDef::new(ScriptVersions::Version).integer().not_null())
                    .col(ColumnDef::new(ScriptVersions::Source).text().not_null())
                    .col(ColumnDef::new(ScriptVersions::CreatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ScriptVersions::ScriptId)
                            .col(ScriptVersions::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScriptVersions::Table, ScriptVersions::ScriptId)
                            .to(Scripts::Table, Scripts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScriptRuns::Table)
                    .col(ColumnDef::new(ScriptRuns::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ScriptRuns::ScriptId).uuid().not_null())
                    .col(ColumnDef::new(ScriptRuns::UserId).uuid().not_null())
                    .col(ColumnDef::new(ScriptRuns::Version).integer().not_null())
                    .col(ColumnDef::new(ScriptRuns::Symbol).string_len(20).not_null())
                    .col(ColumnDef::new(ScriptRuns::Interval).string_len(4).not_null())
                    // `manual` (the editor's button or the API) or `live` (a closed candle).
                    .col(ColumnDef::new(ScriptRuns::Trigger).string_len(8).not_null())
                    // `ok`, or the error's kind (`syntax`, `cpu_limit`, …).
                    .col(ColumnDef::new(ScriptRuns::Outcome).string_len(20).not_null())
                    .col(ColumnDef::new(ScriptRuns::FirstCandle).big_integer().null())
                    .col(ColumnDef::new(ScriptRuns::LastCandle).big_integer().null())
                    .col(ColumnDef::new(ScriptRuns::Candles).integer().not_null())
                    // The signals (markers and lines) or the error, as JSON.
                    .col(ColumnDef::new(ScriptRuns::Result).text().not_null())
                    .col(ColumnDef::new(ScriptRuns::Log).text().not_null())
                    .col(ColumnDef::new(ScriptRuns::CpuMs).big_integer().not_null())
                    .col(ColumnDef::new(ScriptRuns::WallMs).big_integer().not_null())
                    .col(ColumnDef::new(ScriptRuns::CreatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScriptRuns::Table, ScriptRuns::ScriptId)
                            .to(Scripts::Table, Scripts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("script_runs_script_created")
                    .table(ScriptRuns::Table)
                    .col(ScriptRuns::ScriptId)
                    .col(ScriptRuns::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScriptAttachments::Table)
                    .col(ColumnDef::new(ScriptAttachments::ScriptId).uuid().not_null())
                    .col(
                        ColumnDef::new(ScriptAttachments::Symbol)
                            .string_len(20)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ScriptAttachments::Interval)
                            .string_len(4)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ScriptAttachments::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(ScriptAttachments::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ScriptAttachments::ScriptId)
                            .col(ScriptAttachments::Symbol)
                            .col(ScriptAttachments::Interval),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScriptAttachments::Table, ScriptAttachments::ScriptId)
                            .to(Scripts::Table, Scripts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("script_attachments_series")
                    .table(ScriptAttachments::Table)
                    .col(ScriptAttachments::Symbol)
                    .col(ScriptAttachments::Interval)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ScriptAttachments::Table.into_iden(),
            ScriptRuns::Table.into_iden(),
            ScriptVersions::Table.into_iden(),
            Scripts::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
