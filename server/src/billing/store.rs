//! Billing in the database. A webhook's effect and the
//! record that its event was handled are written in one transaction, so an
//! event is applied exactly once however often Stripe delivers it.

use anyhow::Context;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::entity::{customer, event, invoice, subscription};
use super::stripe::{InvoiceFacts, SubscriptionFacts};

/// A Stripe event, as recorded once handled.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: String,
    pub kind: String,
    /// Milliseconds since the Unix epoch.
    pub created: i64,
}

/// What an event changes, already re-read from Stripe.
#[derive(Debug, Default)]
pub struct Effect {
    pub subscription: Option<(Uuid, SubscriptionFacts)>,
    pub invoice: Option<(Uuid, InvoiceFacts)>,
}

#[derive(Clone)]
pub struct BillingStore {
    db: DatabaseConnection,
}

impl BillingStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn customer_of(&self, user: Uuid) -> anyhow::Result<Option<String>> {
        Ok(customer::Entity::find_by_id(user)
            .one(&self.db)
            .await
            .context("while reading a billing customer")?
            .map(|row| row.stripe_customer_id))
    }

    pub async fn user_of_customer(&self, customer_id: &str) -> anyhow::Result<Option<Uuid>> {
        Ok(customer::Entity::find()
            .filter(customer::Column::StripeCustomerId.eq(customer_id))
            .one(&self.db)
            .await
            .context("while reading a billing customer")?
            .map(|row| row.user_id))
    }

    /// Records the user's Stripe customer; the first one recorded stays.
    /// Returns the customer the user has now.
    pub async fn link_customer(&self, user: Uuid, customer_id: &str, now: i64) -> anyhow::Result<String> {
        customer::Entity::insert(customer::ActiveModel {
            user_id: Set(user),
            stripe_customer_id: Set(customer_id.to_string()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(customer::Column::UserId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .context("while recording a billing customer")?;
        self.customer_of(user)
            .await?
            .context("the billing customer just recorded is missing")
    }

    /// The user's subscriptions, newest first.
    pub async fn subscriptions_of(&self, user: Uuid) -> anyhow::Result<Vec<subscription::Model>> {
        subscription::Entity::find()
            .filter(subscription::Column::UserId.eq(user))
            .order_by_desc(subscription::Column::CreatedAt)
            .all(&self.db)
            .await
            .context("while reading subscriptions")
    }

    /// The user's newest invoices, newest first.
    pub async fn invoices_of(&self, user: Uuid, limit: u64) -> anyhow::Result<Vec<invoice::Model>> {
        invoice::Entity::find()
            .filter(invoice::Column::UserId.eq(user))
            .order_by_desc(invoice::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await
            .context("while reading invoices")
    }

    pub async fn event_handled(&self, id: &str) -> anyhow::Result<bool> {
        Ok(event::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await
            .context("while reading a Stripe event")?
            .is_some())
    }

    /// Records the event and applies its effect, in one transaction.
    /// Returns false, changing nothing, when the event was handled before.
    pub async fn apply(&self, record: EventRecord, effect: Effect, now: i64) -> anyhow::Result<bool> {
        self.db
            .transaction::<_, bool, DbErr>(|txn| Box::pin(Self::apply_in(txn, record, effect, now)))
            .await
            .context("while applying a Stripe event")
    }

    /// [`Self::apply`] inside the caller's transaction.
    pub async fn apply_in(
        txn: &impl ConnectionTrait,
        record: EventRecord,
        effect: Effect,
        now: i64,
    ) -> Result<bool, DbErr> {
        let inserted = event::Entity::insert(event::ActiveModel {
            id: Set(record.id),
            kind: Set(record.kind),
            created_at: Set(record.created),
            handled_at: Set(now),
        })
        .on_conflict(OnConflict::column(event::Column::Id).do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
        if inserted == 0 {
            return Ok(false);
        }
        if let Some((user, facts)) = effect.subscription {
            upsert_subscription(txn, user, facts, now).await?;
        }
        if let Some((user, facts)) = effect.invoice {
            upsert_invoice(txn, user, facts).await?;
        }
        Ok(true)
    }

    /// Stores a subscription read from Stripe outside any event (the
    /// return from Checkout, the cancellation of a deleted account).
    pub async fn save_subscription(
        &self,
        user: Uuid,
        facts: SubscriptionFacts,
        now: i64,
    ) -> anyhow::Result<()> {
        upsert_subscription(&self.db, user, facts, now)
            .await
            .context("while saving a subscription")
    }
}

async fn upsert_subscription(
    db: &impl ConnectionTrait,
    user: Uuid,
    facts: SubscriptionFacts,
    now: i64,
) -> Result<(), DbErr> {
    use subscription::Column as C;
    subscription::Entity::insert(subscription::ActiveModel {
        id: Set(facts.id),
        user_id: Set(user),
        customer_id: Set(facts.customer),
        status: Set(facts.status),
        price_id: Set(facts.price),
        cancel_at_period_end: Set(facts.cancel_at_period_end),
        current_period_end: Set(facts.current_period_end),
        ended_at: Set(facts.ended_at),
        created_at: Set(facts.created),
        synced_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(C::Id)
            .update_columns([
                C::Status,
                C::PriceId,
                C::CancelAtPeriodEnd,
                C::CurrentPeriodEnd,
                C::EndedAt,
                C::SyncedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn upsert_invoice(db: &impl ConnectionTrait, user: Uuid, facts: InvoiceFacts) -> Result<(), DbErr> {
    use invoice::Column as C;
    invoice::Entity::insert(invoice::ActiveModel {
        id: Set(facts.id),
        user_id: Set(user),
        subscription_id: Set(facts.subscription),
        number: Set(facts.number),
        status: Set(facts.status),
        amount_due: Set(facts.amount_due),
        amount_paid: Set(facts.amount_paid),
        currency: Set(facts.currency),
        hosted_url: Set(facts.hosted_url),
        created_at: Set(facts.created),
    })
    .on_conflict(
        OnConflict::column(C::Id)
            .update_columns([C::Number, C::Status, C::AmountDue, C::AmountPaid, C::HostedUrl])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
