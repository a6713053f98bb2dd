//! Alerts: what each alert watches and where it goes, every firing (one
//! per alert and candle: the unique key is what makes a firing happen
//! once across instances), every delivery of a firing on a channel (an
//! outbox that any instance works through, with a lease so that a
//! delivery is tried by one instance at a time), every attempt, the
//! browsers a trader turned push notifications on in, and the server's
//! own keys (the VAPID key that signs browser pushes). Everything a
//! trader owns goes with the account through cascading foreign keys.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000009_alerts"
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
enum Alerts {
    Table,
    Id,
    UserId,
    Symbol,
    Interval,
    Condition,
    ScriptId,
    Source,
    Repeat,
    ExpiresAt,
    WebhookUrl,
    WebhookTemplate,
    WebhookSecret,
    Email,
    Push,
    State,
    PausedReason,
    Failures,
    UnsubscribeToken,
    Firings,
    LastFiredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AlertFirings {
    Table,
    Id,
    AlertId,
    UserId,
    CandleTime,
    FiredAt,
    Price,
    Side,
    Label,
    Message,
}

#[derive(DeriveIden)]
enum AlertDeliveries {
    Table,
    Id,
    FiringId,
    AlertId,
    Channel,
    State,
    Attempts,
    NextAt,
    LeaseUntil,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AlertAttempts {
    Table,
    Id,
    DeliveryId,
    At,
    Status,
    Outcome,
    Ok,
    LatencyMs,
}

#[derive(DeriveIden)]
enum PushSubscriptions {
    Table,
    Id,
    UserId,
    Endpoint,
    P256dh,
    Auth,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ServerKeys {
    Table,
    Name,
    Value,
    CreatedAt,
}

fn cascade(
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .col(ColumnDef::new(Alerts::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Alerts::UserId).uuid().not_null())
                    .col(ColumnDef::new(Alerts::Symbol).string_len(20).not_null())
                    .col(ColumnDef::new(Alerts::Interval).string_len(4).not_null())
                    // The `Condition` as JSON.
                    .col(ColumnDef::new(Alerts::Condition).text().not_null())
                    .col(ColumnDef::new(Alerts::ScriptId).uuid().null())
                    // close or forming.
                    .col(ColumnDef::new(Alerts::Source).string_len(8).not_null())
                    // once or every_time.
                    .col(ColumnDef::new(Alerts::Repeat).string_len(10).not_null())
                    .col(ColumnDef::new(Alerts::ExpiresAt).big_integer().null())
                    .col(ColumnDef::new(Alerts::WebhookUrl).text().null())
                    .col(ColumnDef::new(Alerts::WebhookTemplate).text().null())
                    .col(ColumnDef::new(Alerts::WebhookSecret).text().null())
                    .col(ColumnDef::new(Alerts::Email).boolean().not_null())
                    .col(ColumnDef::new(Alerts::Push).boolean().not_null())
                    // active, paused, triggered or expired.
                    .col(ColumnDef::new(Alerts::State).string_len(10).not_null())
                    .col(ColumnDef::new(Alerts::PausedReason).text().null())
                    // Webhook deliveries that failed in a row.
                    .col(ColumnDef::new(Alerts::Failures).integer().not_null().default(0))
                    .col(ColumnDef::new(Alerts::UnsubscribeToken).string_len(64).not_null())
                    .col(ColumnDef::new(Alerts::Firings).integer().not_null().default(0))
                    .col(ColumnDef::new(Alerts::LastFiredAt).big_integer().null())
                    .col(ColumnDef::new(Alerts::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Alerts::UpdatedAt).big_integer().not_null())
                    .foreign_key(&mut cascade(
                        (Alerts::Table, Alerts::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (Alerts::Table, Alerts::ScriptId),
                        (Scripts::Table, Scripts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alerts_series_state")
                    .table(Alerts::Table)
                    .col(Alerts::Symbol)
                    .col(Alerts::Interval)
                    .col(Alerts::State)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alerts_user_created")
                    .table(Alerts::Table)
                    .col(Alerts::UserId)
                    .col(Alerts::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertFirings::Table)
                    .col(ColumnDef::new(AlertFirings::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(AlertFirings::AlertId).uuid().not_null())
                    .col(ColumnDef::new(AlertFirings::UserId).uuid().not_null())
                    .col(ColumnDef::new(AlertFirings::CandleTime).big_integer().not_null())
                    .col(ColumnDef::new(AlertFirings::FiredAt).big_integer().not_null())
                    .col(ColumnDef::new(AlertFirings::Price).double().not_null())
                    .col(ColumnDef::new(AlertFirings::Side).string_len(4).null())
                    .col(ColumnDef::new(AlertFirings::Label).text().null())
                    // What the deliveries say, as JSON, fixed at the firing.
                    .col(ColumnDef::new(AlertFirings::Message).text().not_null())
                    .foreign_key(&mut cascade(
                        (AlertFirings::Table, AlertFirings::AlertId),
                        (Alerts::Table, Alerts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_firings_once_per_candle")
                    .table(AlertFirings::Table)
                    .col(AlertFirings::AlertId)
                    .col(AlertFirings::CandleTime)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_firings_user_fired")
                    .table(AlertFirings::Table)
                    .col(AlertFirings::UserId)
                    .col(AlertFirings::FiredAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertDeliveries::Table)
                    .col(
                        ColumnDef::new(AlertDeliveries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AlertDeliveries::FiringId).uuid().not_null())
                    .col(ColumnDef::new(AlertDeliveries::AlertId).uuid().not_null())
                    // webhook, email or push.
                    .col(ColumnDef::new(AlertDeliveries::Channel).string_len(8).not_null())
                    // pending, delivered or failed.
                    .col(ColumnDef::new(AlertDeliveries::State).string_len(10).not_null())
                    .col(
                        ColumnDef::new(AlertDeliveries::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(AlertDeliveries::NextAt).big_integer().not_null())
                    .col(
                        ColumnDef::new(AlertDeliveries::LeaseUntil)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlertDeliveries::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(&mut cascade(
                        (AlertDeliveries::Table, AlertDeliveries::FiringId),
                        (AlertFirings::Table, AlertFirings::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_deliveries_firing_channel")
                    .table(AlertDeliveries::Table)
                    .col(AlertDeliveries::FiringId)
                    .col(AlertDeliveries::Channel)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_deliveries_due")
                    .table(AlertDeliveries::Table)
                    .col(AlertDeliveries::State)
                    .col(AlertDeliveries::NextAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertAttempts::Table)
                    .col(ColumnDef::new(AlertAttempts::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(AlertAttempts::DeliveryId).uuid().not_null())
                    .col(ColumnDef::new(AlertAttempts::At).big_integer().not_null())
                    .col(ColumnDef::new(AlertAttempts::Status).integer().null())
                    .col(ColumnDef::new(AlertAttempts::Outcome).text().not_null())
                    .col(ColumnDef::new(AlertAttempts::Ok).boolean().not_null())
                    .col(ColumnDef::new(AlertAttempts::LatencyMs).integer().not_null())
                    .foreign_key(&mut cascade(
                        (AlertAttempts::Table, AlertAttempts::DeliveryId),
                        (AlertDeliveries::Table, AlertDeliveries::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("alert_attempts_delivery_at")
                    .table(AlertAttempts::Table)
                    .col(AlertAttempts::DeliveryId)
                    .col(AlertAttempts::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PushSubscriptions::Table)
                    .col(
                        ColumnDef::new(PushSubscriptions::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PushSubscriptions::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(PushSubscriptions::Endpoint)
                            .string_len(1024)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PushSubscriptions::P256dh)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(PushSubscriptions::Auth).string_len(64).not_null())
                    .col(
                        ColumnDef::new(PushSubscriptions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(&mut cascade(
                        (PushSubscriptions::Table, PushSubscriptions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("push_subscriptions_endpoint")
                    .table(PushSubscriptions::Table)
                    .col(PushSubscriptions::Endpoint)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("push_subscriptions_user")
                    .table(PushSubscriptions::Table)
                    .col(PushSubscriptions::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ServerKeys::Table)
                    .col(
                        ColumnDef::new(ServerKeys::Name)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ServerKeys::Value).text().not_null())
                    .col(ColumnDef::new(ServerKeys::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ServerKeys::Table.into_iden(),
            PushSubscriptions::Table.into_iden(),
            AlertAttempts::Table.into_iden(),
            AlertDeliveries::Table.into_iden(),
            AlertFirings::Table.into_iden(),
            Alerts::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
