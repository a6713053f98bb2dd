//! Where a webhook changes a plan: Stripe's events, verified on the raw
//! body, applied once each (see the policy in [`super`]).

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
use secrecy::ExposeSecret as _;
use stripe_webhook::{EventObject, Webhook, WebhookError};
use uuid::Uuid;

use super::Billing;
use super::store::BillingStore;
use super::store::{Effect, EventRecord};
use super::stripe::{self, CallError, StripeApi};
use crate::platform::clock::now_ms;

/// Where Stripe posts its events.
pub const WEBHOOK_PATH: &str = "/webhooks/stripe";

/// What became of a webhook delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Applied,
    /// Handled before: nothing changed.
    Duplicate,
}

/// Why a webhook delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Not from Stripe, too old, or not an event: 400, never retried into success.
    #[error("{0}")]
    Rejected(String),
    /// Billing is off: nobody should be sending events here.
    #[error("billing is off")]
    Off,
    /// Stripe or the database failed: 5xx, so Stripe delivers it again.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// The webhook's route, which the router mounts outside the session
/// middleware and the CSRF check.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S>
where
    Billing: axum::extract::FromRef<S>,
{
    Router::new().route(WEBHOOK_PATH, post(receive))
}

/// `POST /webhooks/stripe`: Stripe's events, verified on the raw body.
async fn receive(State(billing): State<Billing>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let Ok(payload) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "the body is not UTF-8").into_response();
    };
    match billing.deliver(payload, signature).await {
        Ok(Delivery::Applied) => (StatusCode::OK, "applied").into_response(),
        Ok(Delivery::Duplicate) => (StatusCode::OK, "already handled").into_response(),
        Err(DeliveryError::Rejected(why)) => {
            tracing::warn!(why = why.as_str(), "a webhook delivery was refused");
            (StatusCode::BAD_REQUEST, why).into_response()
        }
        Err(DeliveryError::Off) => (StatusCode::NOT_FOUND, "billing is off").into_response(),
        Err(DeliveryError::Failed(error)) => {
            tracing::error!(
                error = format!("{error:#}"),
                "a webhook could not be applied; Stripe will retry"
            );
            (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
        }
    }
}

impl Billing {
    /// Verifies a webhook delivery and applies its event.
    pub async fn deliver(&self, payload: &str, signature: &str) -> Result<Delivery, DeliveryError> {
        let (Some(api), Some(settings)) = (&self.inner.stripe, &self.inner.settings.stripe) else {
            return Err(DeliveryError::Off);
        };
        let event = Webhook::construct_event(payload, signature, settings.webhook_secret.expose_secret())
            .map_err(|error| DeliveryError::Rejected(rejection(&error)))?;
        let record = EventRecord {
            id: event.id.to_string(),
            kind: event.type_.as_str().to_string(),
            created: event.created * 1000,
        };
        let store = &self.inner.store;
        if store.event_handled(&record.id).await? {
            return Ok(Delivery::Duplicate);
        }
        let (subscription, invoice, user_hint) = match &event.data.object {
            EventObject::CheckoutSessionCompleted(session) => (
                session.subscription.as_ref().map(|s| s.id().to_string()),
                None,
                session.client_reference_id.clone(),
            ),
            EventObject::CustomerSubscriptionCreated(s)
            | EventObject::CustomerSubscriptionUpdated(s)
            | EventObject::CustomerSubscriptionDeleted(s) => (Some(s.id.to_string()), None, None),
            EventObject::InvoicePaid(invoice) | EventObject::InvoicePaymentFailed(invoice) => {
                let facts = stripe::invoice_facts(invoice);
                (
                    facts.as_ref().and_then(|facts| facts.subscription.clone()),
                    facts.map(|facts| facts.id),
                    None,
                )
            }
            _ => (None, None, None),
        };

        let _one = self.inner.webhooks.lock().await;
        let db = store.connection();
        let lock_name = subscription
            .clone()
            .or_else(|| invoice.clone())
            .unwrap_or_else(|| record.id.clone());
        let applied = if db.get_database_backend() == DatabaseBackend::Postgres {
            // Across instances: one event per subscription at a time, from
            // the re-read to the commit, so an older read never lands last.
            let txn = db.begin().await.context("while starting a transaction")?;
            txn.execute(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [lock_key(&lock_name).into()],
            ))
            .await
            .context("while waiting for a subscription's lock")?;
            let effect = self
                .effect(api, subscription.as_deref(), invoice.as_deref(), user_hint)
                .await?;
            let applied = BillingStore::apply_in(&txn, record, effect, now_ms())
                .await
                .context("while applying a Stripe event")?;
            txn.commit().await.context("while committing a Stripe event")?;
            applied
        } else {
            // SQLite has one writer, and this process is the only one.
            let effect = self
                .effect(api, subscription.as_deref(), invoice.as_deref(), user_hint)
                .await?;
            store.apply(record, effect, now_ms()).await?
        };
        Ok(if applied {
            Delivery::Applied
        } else {
            Delivery::Duplicate
        })
    }

    /// What an event changes: its subscription and invoice as Stripe has
    /// them now.
    async fn effect(
        &self,
        api: &StripeApi,
        subscription: Option<&str>,
        invoice: Option<&str>,
        user_hint: Option<String>,
    ) -> anyhow::Result<Effect> {
        let mut effect = Effect::default();
        if let Some(id) = subscription {
            match api.subscription(id).await {
                Ok(facts) => {
                    let named = facts.user.clone().or(user_hint);
                    match self.owner(&facts.customer, named.as_deref()).await? {
                        Some(user) => effect.subscription = Some((user, facts)),
                        None => tracing::warn!(subscription = id, "a subscription of no known user"),
                    }
                }
                Err(CallError::Missing(_)) => {}
                Err(CallError::Failed(error)) => {
                    anyhow::bail!("could not re-read subscription {id}: {error}")
                }
            }
        }
        if let Some(id) = invoice {
            match api.invoice(id).await {
                Ok(facts) => match self.owner(&facts.customer, None).await? {
                    Some(user) => effect.invoice = Some((user, facts)),
                    None => tracing::warn!(invoice = id, "an invoice of no known user"),
                },
                Err(CallError::Missing(_)) => {}
                Err(CallError::Failed(error)) => anyhow::bail!("could not re-read invoice {id}: {error}"),
            }
        }
        Ok(effect)
    }

    /// The user a Stripe customer belongs to: the one recorded, or the one
    /// named in the metadata of what was bought (linked then).
    async fn owner(&self, customer: &str, named: Option<&str>) -> anyhow::Result<Option<Uuid>> {
        let store = &self.inner.store;
        if let Some(user) = store.user_of_customer(customer).await? {
            return Ok(Some(user));
        }
        let Some(user) = named.and_then(|named| Uuid::parse_str(named).ok()) else {
            return Ok(None);
        };
        if store.customer_of(user).await?.is_some() {
            // That user has another customer: do not guess.
            return Ok(None);
        }
        let linked = store.link_customer(user, customer, now_ms()).await;
        Ok(linked.ok().filter(|linked| linked == customer).map(|_| user))
    }
}

/// What a refused delivery is told (and logged).
fn rejection(error: &WebhookError) -> String {
    match error {
        WebhookError::BadTimestamp(_) => "the signature's timestamp is outside the tolerance".into(),
        WebhookError::BadSignature | WebhookError::BadHeader(_) | WebhookError::BadKey => {
            "the Stripe-Signature does not match".into()
        }
        WebhookError::BadParse(message) => format!("not a Stripe event: {message}"),
    }
}

/// The advisory lock of a subscription (or whatever an event is about).
fn lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("inchart-billing:{name}"));
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}
