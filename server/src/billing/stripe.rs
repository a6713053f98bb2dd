//! The Stripe calls InChart makes, through `async-stripe`, at a
//! configurable API base. Every POST carries an idempotency key, so a
//! retried request (ours, or a user's double click) is done once.
//!
//! Answers are turned into the few facts InChart keeps ([`SubscriptionFacts`],
//! [`InvoiceFacts`]), so the rest of the server does not depend on the
//! library's types.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use stripe::{Client, ClientBuilder, StripeError};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::RetrieveInvoice;
use stripe_billing::subscription::{CancelSubscription, RetrieveSubscription};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    RetrieveCheckoutSession,
};
use stripe_client_core::{IdempotencyKey, RequestStrategy, StripeRequest as _};
use stripe_core::customer::CreateCustomer;
use stripe_product::price::RetrievePrice;
use stripe_shared::{CheckoutSessionMode, Invoice, Subscription};

use crate::config::StripeSettings;

/// How long one call to Stripe may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A subscription, as InChart keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFacts {
    pub id: String,
    pub customer: String,
    /// Stripe's status (`active`, `past_due`, …).
    pub status: String,
    /// The price of its first item.
    pub price: String,
    pub cancel_at_period_end: bool,
    /// Milliseconds since the Unix epoch.
    pub current_period_end: Option<i64>,
    pub ended_at: Option<i64>,
    pub created: i64,
    /// The InChart user it was bought for (`metadata.user_id`).
    pub user: Option<String>,
}

/// An invoice, as InChart keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceFacts {
    pub id: String,
    pub customer: String,
    pub subscription: Option<String>,
    pub number: Option<String>,
    pub status: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub currency: String,
    pub hosted_url: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created: i64,
}

/// A completed (or not yet completed) Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutFacts {
    pub id: String,
    pub user: Option<String>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub complete: bool,
}

/// A price's amount and how often it is charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceFacts {
    pub amount: i64,
    pub currency: String,
    /// `month` or `year`.
    pub interval: Option<String>,
}

/// Why a Stripe call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Stripe answered that the object does not exist.
    #[error("Stripe has no such object: {0}")]
    Missing(String),
    /// Anything else: unreachable, refused, or an answer not understood.
    #[error("Stripe call failed: {0}")]
    Failed(String),
}

impl From<StripeError> for CallError {
    fn from(error: StripeError) -> Self {
        match error {
            StripeError::Stripe(errors, 404) => Self::Missing(errors.message.clone().unwrap_or_default()),
            StripeError::Stripe(errors, status) => Self::Failed(format!(
                "{status}: {}",
                errors.message.clone().unwrap_or_else(|| "no message".into())
            )),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// Stripe, as InChart calls it.
#[derive(Clone)]
pub struct StripeApi {
    client: Client,
}

impl StripeApi {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let client = ClientBuilder::new(settings.secret_key.expose_secret())
            .url(settings.api_base.clone())
            .timeout(CALL_TIMEOUT)
            .app_info("InChart", Some(env!("CARGO_PKG_VERSION").to_string()), None)
            .build()
            .context("while setting up the Stripe client")?;
        Ok(Self { client })
    }

    /// Creates the Stripe customer of a user. The key is the user's id, so
    /// two requests racing for the same user get the same customer.
    pub async fn create_customer(&self, user: &str, email: &str) -> Result<String, CallError> {
        let customer = CreateCustomer::new()
            .email(email)
            .metadata(HashMap::from([("user_id".to_string(), user.to_string())]))
            .customize()
            .request_strategy(idempotent(&format!("customer-{user}"))?)
            .send(&self.client)
            .await?;
        Ok(customer.id.to_string())
    }

    /// Starts a Checkout Session for a subscription to `price`; returns its
    /// URL. `key` makes a repeated click the same session.
    pub async fn create_checkout(
        &self,
        key: &str,
        user: &str,
        customer: &str,
        price: &str,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<String, CallError> {
        let metadata = HashMap::from([("user_id".to_string(), user.to_string())]);
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(price.to_string());
        item.quantity = Some(1);
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(metadata.clone());
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(customer)
            .client_reference_id(user)
            .line_items(vec![item])
            .subscription_data(subscription)
            .metadata(metadata)
            .success_url(success_url)
            .cancel_url(cancel_url)
            .customize()
            .request_strategy(idempotent(key)?)
            .send(&self.client)
            .await?;
        session
            .url
            .ok_or_else(|| CallError::Failed("the Checkout Session has no URL".into()))
    }

    pub async fn checkout_session(&self, id: &str) -> Result<CheckoutFacts, CallError> {
        let session = RetrieveCheckoutSession::new(id).send(&self.client).await?;
        Ok(CheckoutFacts {
            id: session.id.to_string(),
            user: session.client_reference_id,
            customer: session.customer.map(|customer| customer.id().to_string()),
            subscription: session
                .subscription
                .map(|subscription| subscription.id().to_string()),
            complete: session.status.is_some_and(|status| status.as_str() == "complete"),
        })
    }

    /// Opens the customer portal for `customer`; returns its URL.
    pub async fn create_portal(
        &self,
        key: &str,
        customer: &str,
        return_url: &str,
    ) -> Result<String, CallError> {
        let session = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .customize()
            .request_strategy(idempotent(key)?)
            .send(&self.client)
            .await?;
        Ok(session.url)
    }

    pub async fn subscription(&self, id: &str) -> Result<SubscriptionFacts, CallError> {
        let subscription = RetrieveSubscription::new(id).send(&self.client).await?;
        Ok(subscription_facts(&subscription))
    }

    /// Cancels a subscription at once (the account is being deleted).
    pub async fn cancel_subscription(&self, id: &str) -> Result<SubscriptionFacts, CallError> {
        let subscription = CancelSubscription::new(id).send(&self.client).await?;
        Ok(subscription_facts(&subscription))
    }

    pub async fn invoice(&self, id: &str) -> Result<InvoiceFacts, CallError> {
        let invoice = RetrieveInvoice::new(id).send(&self.client).await?;
        invoice_facts(&invoice).ok_or_else(|| CallError::Failed("the invoice has no id or customer".into()))
    }

    pub async fn price(&self, id: &str) -> Result<PriceFacts, CallError> {
        let price = RetrievePrice::new(id).send(&self.client).await?;
        Ok(PriceFacts {
            amount: price.unit_amount.unwrap_or_default(),
            currency: price.currency.to_string(),
            interval: price
                .recurring
                .map(|recurring| recurring.interval.as_str().to_string()),
        })
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, CallError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|error| CallError::Failed(format!("bad idempotency key: {error}")))
}

pub fn subscription_facts(subscription: &Subscription) -> SubscriptionFacts {
    let item = subscription.items.data.first();
    SubscriptionFacts {
        id: subscription.id.to_string(),
        customer: subscription.customer.id().to_string(),
        status: subscription.status.as_str().to_string(),
        price: item.map(|item| item.price.id.to_string()).unwrap_or_default(),
        cancel_at_period_end: subscription.cancel_at_period_end || subscription.cancel_at.is_some(),
        // Since API version 2025-03-31 the period is the items'.
        current_period_end: item.map(|item| item.current_period_end * 1000),
        ended_at: subscription.ended_at.map(|at| at * 1000),
        created: subscription.created * 1000,
        user: subscription.metadata.get("user_id").cloned(),
    }
}

pub fn invoice_facts(invoice: &Invoice) -> Option<InvoiceFacts> {
    let subscription = invoice
        .parent
        .as_ref()
        .and_then(|parent| parent.subscription_details.as_ref())
        .map(|details| details.subscription.id().to_string());
    Some(InvoiceFacts {
        id: invoice.id.as_ref()?.to_string(),
        customer: invoice.customer.as_ref()?.id().to_string(),
        subscription,
        number: invoice.number.clone(),
        status: invoice
            .status
            .as_ref()
            .map_or("draft", |status| status.as_str())
            .to_string(),
        amount_due: invoice.amount_due,
        amount_paid: invoice.amount_paid,
        currency: invoice.currency.to_string(),
        hosted_url: invoice.hosted_invoice_url.clone(),
        created: invoice.created * 1000,
    })
}
