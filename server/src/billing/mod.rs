//! Plans, their limits, and paying for Pro through Stripe.
//!
//! - An account's plan follows from its subscriptions as last read from
//!   Stripe: Pro while one that grants it (active, trialing, past due) has
//!   a Pro price; Free otherwise, and always when billing is off.
//! - Stripe's word is final. A webhook ([`webhook`]) names what changed; the handler
//!   re-reads that subscription (and invoice) from Stripe and stores what
//!   Stripe says now, so events that arrive late, twice or out of order
//!   still leave the state Stripe has. One event at a time is handled per
//!   instance, and under PostgreSQL one per customer across instances, so
//!   an older read never overwrites a newer one.
//! - An event id is recorded in the same transaction as its effect: a
//!   redelivered event changes nothing.

pub mod entity;
pub mod handlers;
pub mod store;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::platform::clock::now_ms;
use app::billing::{Cadence, Limits, PlanId, PlanView, PriceView, SubscriptionStatus};
use tokio::sync::Mutex;
use uuid::Uuid;

use self::store::BillingStore;
use self::stripe::{CallError, StripeApi};
use crate::config::{BillingSettings, StripeSettings};

/// How long the prices read from Stripe are shown before being read again.
const PRICES_FRESH: Duration = Duration::from_secs(3600);
/// After a failed read, how long pages go without the missing prices
/// rather than each waiting on Stripe again.
const PRICES_RETRY: Duration = Duration::from_secs(60);

/// Why a billing action could not be done.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("Billing is off on this server: every account is on Free.")]
    Off,
    #[error("You already have Pro; change or cancel it in Manage billing.")]
    AlreadySubscribed,
    #[error("There is nothing to manage yet: you have never subscribed.")]
    NoCustomer,
    #[error("That plan is not on sale.")]
    NoSuchPrice,
    #[error("Stripe could not be reached; try again in a minute.")]
    Stripe(#[from] CallError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Clone)]
pub struct Billing {
    inner: Arc<Inner>,
}

struct Inner {
    settings: BillingSettings,
    store: BillingStore,
    stripe: Option<StripeApi>,
    /// Where Checkout and the portal send the customer back to.
    public_url: String,
    /// One webhook at a time in this process.
    webhooks: Mutex<()>,
    /// The prices last read, and until when they stand.
    prices: Mutex<Option<(Instant, Vec<PriceView>)>>,
}

impl Billing {
    pub fn new(settings: BillingSettings, store: BillingStore, public_url: &str) -> anyhow::Result<Self> {
        let stripe = settings.stripe.as_ref().map(StripeApi::new).transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                store,
                stripe,
                public_url: public_url.trim_end_matches('/').to_string(),
                webhooks: Mutex::new(()),
                prices: Mutex::new(None),
            }),
        })
    }

    pub fn store(&self) -> &BillingStore {
        &self.inner.store
    }

    /// Whether Pro is on sale here.
    pub fn on(&self) -> bool {
        self.inner.stripe.is_some()
    }

    pub fn limits(&self, plan: PlanId) -> Limits {
        match plan {
            PlanId::Free => self.inner.settings.free,
            PlanId::Pro => self.inner.settings.pro,
        }
    }

    /// The plan a user is on now.
    pub async fn plan_of(&self, user: Uuid) -> anyhow::Result<PlanId> {
        let Some(stripe) = &self.inner.settings.stripe else {
            return Ok(PlanId::Free);
        };
        let subscriptions = self.inner.store.subscriptions_of(user).await?;
        let pro = subscriptions.iter().any(|subscription| {
            SubscriptionStatus::parse(&subscription.status).is_some_and(SubscriptionStatus::grants_plan)
                && cadence_of(stripe, &subscription.price_id).is_some()
        });
        Ok(if pro { PlanId::Pro } else { PlanId::Free })
    }

    /// The limits a user is held to now; a visitor's are Free's.
    pub async fn limits_of(&self, user: Option<Uuid>) -> anyhow::Result<Limits> {
        match user {
            Some(user) => Ok(self.limits(self.plan_of(user).await?)),
            None => Ok(self.limits(PlanId::Free)),
        }
    }

    /// The plans on the pricing page, with Pro's prices as Stripe has them.
    pub async fn plans(&self) -> Vec<PlanView> {
        let prices = self.prices().await;
        vec![
            PlanView {
                id: PlanId::Free,
                limits: self.limits(PlanId::Free),
                prices: Vec::new(),
            },
            PlanView {
                id: PlanId::Pro,
                limits: self.limits(PlanId::Pro),
                prices,
            },
        ]
    }

    /// Pro's prices, read from Stripe at most once an hour. A price that
    /// cannot be read is left out for a minute (the page still offers the
    /// plan, and says the price could not be read).
    async fn prices(&self) -> Vec<PriceView> {
        let (Some(api), Some(settings)) = (&self.inner.stripe, &self.inner.settings.stripe) else {
            return Vec::new();
        };
        let mut cached = self.inner.prices.lock().await;
        if let Some((until, prices)) = cached.as_ref()
            && Instant::now() < *until
        {
            return prices.clone();
        }
        let mut prices = Vec::new();
        let wanted = [
            (Cadence::Monthly, Some(&settings.price_monthly)),
            (Cadence::Yearly, settings.price_yearly.as_ref()),
        ];
        let mut complete = true;
        for (cadence, id) in wanted {
            let Some(id) = id else { continue };
            match api.price(id).await {
                Ok(price) => prices.push(PriceView {
                    cadence,
                    amount: price.amount,
                    currency: price.currency,
                }),
                Err(error) => {
                    complete = false;
                    tracing::warn!(%error, price = id.as_str(), "could not read a price from Stripe");
                }
            }
        }
        let fresh_for = if complete { PRICES_FRESH } else { PRICES_RETRY };
        *cached = Some((Instant::now() + fresh_for, prices.clone()));
        prices
    }

    /// Starts Checkout for Pro at `cadence`; returns where to send the
    /// customer.
    pub async fn checkout(&self, user: Uuid, email: &str, cadence: Cadence) -> Result<String, BillingError> {
        let (api, settings) = self.stripe()?;
        let price = match cadence {
            Cadence::Monthly => Some(&settings.price_monthly),
            Cadence::Yearly => settings.price_yearly.as_ref(),
        }
        .ok_or(BillingError::NoSuchPrice)?;
        if self.plan_of(user).await? == PlanId::Pro {
            return Err(BillingError::AlreadySubscribed);
        }
        let customer = self.customer(user, email).await?;
        // The same click twice in a minute is one Checkout Session.
        let minute = now_ms() / 60_000;
        let base = &self.inner.public_url;
        let url = api
            .create_checkout(
                &format!("checkout-{user}-{price}-{minute}"),
                &user.to_string(),
                &customer,
                price,
                &format!("{base}/billing/return?session_id={{CHECKOUT_SESSION_ID}}"),
                &format!("{base}/pricing"),
            )
            .await?;
        Ok(url)
    }

    /// Opens Stripe's customer portal; returns where to send the customer.
    pub async fn portal(&self, user: Uuid) -> Result<String, BillingError> {
        let (api, _) = self.stripe()?;
        let customer = self
            .inner
            .store
            .customer_of(user)
            .await?
            .ok_or(BillingError::NoCustomer)?;
        let key = format!("portal-{}", Uuid::new_v4());
        let url = api
            .create_portal(&key, &customer, &format!("{}/billing", self.inner.public_url))
            .await?;
        Ok(url)
    }

    /// The customer is back from Checkout: reads the session and its
    /// subscription now rather than waiting for the webhook. Returns
    /// whether the session was this user's and is complete.
    pub async fn returned_from_checkout(&self, user: Uuid, session: &str) -> Result<bool, BillingError> {
        let (api, _) = self.stripe()?;
        let facts = api.checkout_session(session).await?;
        let mine = facts.user.as_deref() == Some(user.to_string().as_str());
        let customer_matches = match (&facts.customer, self.inner.store.customer_of(user).await?) {
            (Some(theirs), Some(ours)) => *theirs == ours,
            _ => false,
        };
        if !(mine && customer_matches && facts.complete) {
            return Ok(false);
        }
        if let Some(subscription) = facts.subscription {
            let _one = self.inner.webhooks.lock().await;
            let facts = api.subscription(&subscription).await?;
            self.inner.store.save_subscription(user, facts, now_ms()).await?;
        }
        Ok(true)
    }

    /// Ends a user's paid subscriptions at Stripe (the account is being
    /// deleted), so nobody is charged for an account that is gone.
    pub async fn close_account(&self, user: Uuid) -> Result<(), BillingError> {
        let Some(api) = &self.inner.stripe else {
            return Ok(());
        };
        for subscription in self.inner.store.subscriptions_of(user).await? {
            let ended = matches!(subscription.status.as_str(), "canceled" | "incomplete_expired");
            if !ended {
                match api.cancel_subscription(&subscription.id).await {
                    Ok(_) | Err(CallError::Missing(_)) => {}
                    Err(error) => return Err(error.into()),
                }
            }
        }
        Ok(())
    }

    /// The user's Stripe customer, created on first need.
    async fn customer(&self, user: Uuid, email: &str) -> Result<String, BillingError> {
        if let Some(customer) = self.inner.store.customer_of(user).await? {
            return Ok(customer);
        }
        let (api, _) = self.stripe()?;
        let created = api.create_customer(&user.to_string(), email).await?;
        Ok(self.inner.store.link_customer(user, &created, now_ms()).await?)
    }

    fn stripe(&self) -> Result<(&StripeApi, &StripeSettings), BillingError> {
        match (&self.inner.stripe, &self.inner.settings.stripe) {
            (Some(api), Some(settings)) => Ok((api, settings)),
            _ => Err(BillingError::Off),
        }
    }

    /// Where pages' forms may redirect: Stripe's hosted pages, and the API
    /// base's origin when it is not Stripe's (a local stand-in serves its
    /// hosted pages there).
    pub fn form_targets(&self) -> app::FormTargets {
        let mut targets = app::FormTargets::default();
        if let Some(settings) = &self.inner.settings.stripe {
            let base = settings.api_base.trim_end_matches('/');
            let origin = match base
                .find("://")
                .and_then(|at| base[at + 3..].find('/').map(|end| at + 3 + end))
            {
                Some(end) => &base[..end],
                None => base,
            };
            if origin != "https://api.stripe.com" {
                targets.0.push(origin.to_string());
            }
        }
        targets
    }

    /// The cadence of a Pro price; `None` for a price that is not Pro's.
    pub fn cadence_of_price(&self, price: &str) -> Option<Cadence> {
        cadence_of(self.inner.settings.stripe.as_ref()?, price)
    }
}

fn cadence_of(settings: &StripeSettings, price: &str) -> Option<Cadence> {
    if settings.price_monthly == price {
        Some(Cadence::Monthly)
    } else if settings.price_yearly.as_deref() == Some(price) {
        Some(Cadence::Yearly)
    } else {
        None
    }
}

/// Deleting an account ends its subscription first: nobody is charged for
/// an account that is gone.
impl crate::auth::AccountCloser for Billing {
    fn close_account(&self, user: Uuid) -> futures::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            Billing::close_account(self, user).await.map_err(|error| {
                tracing::warn!(error = %error, "could not cancel a subscription before deleting an account");
                "Your subscription could not be canceled just now, so your account is kept. Try again in a minute."
                    .to_string()
            })
        })
    }
}
