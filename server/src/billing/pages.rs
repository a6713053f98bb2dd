//! What the pricing, billing and chart pages read of plans, billing and
//! watchlists.

use std::sync::Arc;

use app::billing::{
    BillingPages, BillingView, InvoiceView, Pricing, SubscriptionStatus, SubscriptionView, Usage,
};
use app::watchlist::{Watchlist, WatchlistPages};
use uuid::Uuid;

use super::Billing;
use super::handlers::read_watchlist;
use crate::scripts::store::ScriptStore;

/// Invoices the billing page lists.
const INVOICES_LISTED: u64 = 12;

pub struct BillingReader {
    pub billing: Billing,
    pub scripts: ScriptStore,
}

use app::PageAnswer as Answer;
use app::ids::UserId;

use crate::error::page_error;

impl BillingPages for BillingReader {
    fn pricing(&self, user: Option<UserId>) -> Answer<Pricing> {
        let billing = self.billing.clone();
        Box::pin(async move {
            let current = match user {
                Some(user) => Some(
                    billing
                        .plan_of(user.uuid())
                        .await
                        .map_err(|cause| page_error(cause, "The plans could not be read; please reload."))?,
                ),
                None => None,
            };
            Ok(Pricing {
                billing_on: billing.on(),
                plans: billing.plans().await,
                current,
            })
        })
    }

    fn billing(&self, user: UserId) -> Answer<BillingView> {
        let (billing, scripts) = (self.billing.clone(), self.scripts.clone());
        Box::pin(async move {
            billing_view(&billing, &scripts, user.uuid())
                .await
                .map_err(|cause| page_error(cause, "Your plan could not be read; please reload."))
        })
    }
}

impl WatchlistPages for BillingReader {
    fn watchlist(&self, user: UserId) -> Answer<Watchlist> {
        let billing = self.billing.clone();
        Box::pin(async move {
            read_watchlist(&billing, user.uuid())
                .await
                .map_err(|cause| page_error(cause, "Your watchlist could not be read; please reload."))
        })
    }
}

/// The billing page of a user.
pub async fn billing_view(
    billing: &Billing,
    scripts: &ScriptStore,
    user: Uuid,
) -> anyhow::Result<BillingView> {
    let store = billing.store();
    let plan = billing.plan_of(user).await?;
    let subscriptions = store.subscriptions_of(user).await?;
    // The one that gives the plan, else the newest.
    let shown = subscriptions
        .iter()
        .find(|s| SubscriptionStatus::parse(&s.status).is_some_and(SubscriptionStatus::grants_plan))
        .or_else(|| subscriptions.first());
    let subscription = shown.map(|s| SubscriptionView {
        status: SubscriptionStatus::parse(&s.status).unwrap_or(SubscriptionStatus::Incomplete),
        cadence: billing.cadence_of_price(&s.price_id),
        cancel_at_period_end: s.cancel_at_period_end,
        current_period_end: s.current_period_end,
        ended_at: s.ended_at,
    });
    let invoices = store
        .invoices_of(user, INVOICES_LISTED)
        .await?
        .into_iter()
        .map(|invoice| InvoiceView {
            number: invoice.number,
            created: invoice.created_at,
            amount: if invoice.status == "paid" {
                invoice.amount_paid
            } else {
                invoice.amount_due
            },
            currency: invoice.currency,
            status: invoice.status,
            url: invoice.hosted_url,
        })
        .collect();
    let owned = scripts.list(user).await?;
    let usage = Usage {
        scripts: owned.len() as u32,
        live_scripts: owned.iter().map(|script| script.attached.len() as u32).sum(),
        watchlist: store.watchlist(user).await?.len() as u32,
    };
    Ok(BillingView {
        billing_on: billing.on(),
        plan,
        limits: billing.limits(plan),
        usage,
        subscription,
        invoices,
        can_manage: billing.on() && store.customer_of(user).await?.is_some(),
    })
}

/// The services the pages get, for the router's context.
pub fn services(reader: BillingReader) -> (app::billing::BillingService, app::watchlist::WatchlistService) {
    let reader = Arc::new(reader);
    (
        app::billing::BillingService(reader.clone()),
        app::watchlist::WatchlistService(reader),
    )
}
