//! The trader's charts: their `drawings` (kept per symbol, shown on every
//! interval), which scripts each series shows (`chart_layers`), and the
//! layout of several charts (`chart_layouts`). Everything here is the
//! user's and goes with the account through cascading foreign keys; a
//! layer also goes with its script.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000006_charts"
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
}

#[derive(DeriveIden)]
enum Drawings {
    Table,
    Id,
    UserId,
    Symbol,
    Kind,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChartLayers {
    Table,
    UserId,
    Symbol,
    Interval,
    ScriptId,
    Shown,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ChartLayouts {
    Table,
    UserId,
    Body,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Drawings::Table)
                    // Named by the browser when drawn (a UUID).
                    .col(ColumnDef::new(Drawings::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Drawings::UserId).uuid().not_null())
                    .col(ColumnDef::new(Drawings::Symbol).string_len(20).not_null())
                    .col(ColumnDef::new(Drawings::Kind).string_len(16).not_null())
                    // `{points, text?, color?}` as JSON.
                    .col(ColumnDef::new(Drawings::Body).text().not_null())
                    .col(ColumnDef::new(Drawings::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Drawings::UpdatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Drawings::Table, Drawings::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("drawings_user_symbol")
                    .table(Drawings::Table)
                    .col(Drawings::UserId)
                    .col(Drawings::Symbol)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChartLayers::Table)
                    .col(ColumnDef::new(ChartLayers::UserId).uuid().not_null())
                    .col(ColumnDef::new(ChartLayers::Symbol).string_len(20).not_null())
                    .col(ColumnDef::new(ChartLayers::Interval).string_len(4).not_null())
                    .col(ColumnDef::new(ChartLayers::ScriptId).uuid().not_null())
                    .col(ColumnDef::new(ChartLayers::Shown).boolean().not_null())
                    .col(ColumnDef::new(ChartLayers::UpdatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ChartLayers::UserId)
                            .col(ChartLayers::Symbol)
                            .col(ChartLayers::Interval)
                            .col(ChartLayers::ScriptId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChartLayers::Table, ChartLayers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChartLayers::Table, ChartLayers::ScriptId)
                            .to(Scripts::Table, Scripts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ChartLayouts::Table)
                    .col(
                        ColumnDef::new(ChartLayouts::UserId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    // The `Layout` as JSON.
                    .col(ColumnDef::new(ChartLayouts::Body).text().not_null())
                    .col(ColumnDef::new(ChartLayouts::UpdatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ChartLayouts::Table, ChartLayouts::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ChartLayouts::Table.into_iden(),
            ChartLayers::Table.into_iden(),
            Drawings::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
