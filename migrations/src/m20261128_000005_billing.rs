//! Billing and the watchlist: each user's one Stripe customer
//! (`billing_customers`), their `subscriptions` and `invoices` as last
//! read from Stripe, the `stripe_events` already handled (each id once, so
//! a redelivered webhook changes nothing), and the `watchlist` of symbols
//! a trader follows, whose length the plan limits.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000005_billing"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BillingCustomers {
    Table,
    UserId,
    StripeCustomerId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    UserId,
    CustomerId,
    Status,
    PriceId,
    CancelAtPeriodEnd,
    CurrentPeriodEnd,
    EndedAt,
    CreatedAt,
    SyncedAt,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    UserId,
    SubscriptionId,
    Number,
    Status,
    AmountDue,
    AmountPaid,
    Currency,
    HostedUrl,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Id,
    Kind,
    CreatedAt,
    HandledAt,
}

#[derive(DeriveIden)]
enum Watchlist {
    Table,
    UserId,
    Symbol,
    AddedAt,
}

fn user_key<T: IntoIden + 'static>(table: T, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BillingCustomers::Table)
                    .col(
                        ColumnDef::new(BillingCustomers::UserId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(BillingCustomers::StripeCustomerId)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(BillingCustomers::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(&mut user_key(BillingCustomers::Table, BillingCustomers::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .col(
                        ColumnDef::new(Subscriptions::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Subscriptions::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(Subscriptions::CustomerId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Subscriptions::Status).string_len(24).not_null())
                    .col(ColumnDef::new(Subscriptions::PriceId).string_len(64).not_null())
                    .col(
                        ColumnDef::new(Subscriptions::CancelAtPeriodEnd)
                            .boolean()
                            .not_null(),
                    )
                    // Milliseconds since the Unix epoch, like every time here.
                    .col(
                        ColumnDef::new(Subscriptions::CurrentPeriodEnd)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Subscriptions::EndedAt).big_integer().null())
                    .col(ColumnDef::new(Subscriptions::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Subscriptions::SyncedAt).big_integer().not_null())
                    .foreign_key(&mut user_key(Subscriptions::Table, Subscriptions::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("subscriptions_user_id")
                    .table(Subscriptions::Table)
                    .col(Subscriptions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .col(
                        ColumnDef::new(Invoices::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Invoices::UserId).uuid().not_null())
                    .col(ColumnDef::new(Invoices::SubscriptionId).string_len(64).null())
                    .col(ColumnDef::new(Invoices::Number).string_len(64).null())
                    .col(ColumnDef::new(Invoices::Status).string_len(24).not_null())
                    .col(ColumnDef::new(Invoices::AmountDue).big_integer().not_null())
                    .col(ColumnDef::new(Invoices::AmountPaid).big_integer().not_null())
                    .col(ColumnDef::new(Invoices::Currency).string_len(8).not_null())
                    .col(ColumnDef::new(Invoices::HostedUrl).text().null())
                    .col(ColumnDef::new(Invoices::CreatedAt).big_integer().not_null())
                    .foreign_key(&mut user_key(Invoices::Table, Invoices::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invoices_user_id_created_at")
                    .table(Invoices::Table)
                    .col(Invoices::UserId)
                    .col(Invoices::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StripeEvents::Table)
                    .col(
                        ColumnDef::new(StripeEvents::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(StripeEvents::Kind).string_len(80).not_null())
                    .col(ColumnDef::new(StripeEvents::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(StripeEvents::HandledAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Watchlist::Table)
                    .col(ColumnDef::new(Watchlist::UserId).uuid().not_null())
                    .col(ColumnDef::new(Watchlist::Symbol).string_len(20).not_null())
                    .col(ColumnDef::new(Watchlist::AddedAt).big_integer().not_null())
                    .primary_key(Index::create().col(Watchlist::UserId).col(Watchlist::Symbol))
                    .foreign_key(&mut user_key(Watchlist::Table, Watchlist::UserId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Watchlist::Table.into_iden(),
            StripeEvents::Table.into_iden(),
            Invoices::Table.into_iden(),
            Subscriptions::Table.into_iden(),
            BillingCustomers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
