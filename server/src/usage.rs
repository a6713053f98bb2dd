//! An account's plan beside what it uses (saved and live scripts, watched
//! symbols, drawings): the pricing and billing pages, and
//! `GET /api/v1/billing`. It reads billing, scripts, the watchlist and the
//! charts, so it sits above them all.

use app::PageAnswer as Answer;
use app::billing::{
    BillingPages, BillingView, InvoiceView, Pricing, SubscriptionStatus, SubscriptionView, Usage,
};
use app::ids::UserId;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use uuid::Uuid;

use crate::alerts::Alerts;
use crate::billing::Billing;
use crate::charts::Charts;
use crate::scripts::Scripts;
use crate::scripts::store::ScriptStore;
use crate::state::AppState;
use crate::watchlist::Watchlists;
use crate::web::error::page_error;
use crate::web::{ApiError, SignedIn};

/// Invoices the billing page lists.
const INVOICES_LISTED: u64 = 12;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/billing", get(overview))
}

/// `GET /api/v1/billing`: the billing page's content as JSON.
async fn overview(
    State(billing): State<Billing>,
    State(scripts): State<Scripts>,
    State(watchlists): State<Watchlists>,
    State(charts): State<Charts>,
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
) -> Result<Response, ApiError> {
    let view = billing_view(
        &billing,
        &scripts.store,
        &watchlists,
        &charts,
        &alerts,
        signed_in.user,
    )
    .await?;
    Ok(Json(view).into_response())
}

/// What the pricing and billing pages read.
pub struct BillingReader {
    pub billing: Billing,
    pub scripts: ScriptStore,
    pub watchlists: Watchlists,
    pub charts: Charts,
    pub alerts: Alerts,
}

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
        let (billing, scripts, watchlists, charts, alerts) = (
            self.billing.clone(),
            self.scripts.clone(),
            self.watchlists.clone(),
            self.charts.clone(),
            self.alerts.clone(),
        );
        Box::pin(async move {
            billing_view(&billing, &scripts, &watchlists, &charts, &alerts, user.uuid())
                .await
                .map_err(|cause| page_error(cause, "Your plan could not be read; please reload."))
        })
    }
}

/// The billing page of a user.
pub async fn billing_view(
    billing: &Billing,
    scripts: &ScriptStore,
    watchlists: &Watchlists,
    charts: &Charts,
    alerts: &Alerts,
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
        watchlist: watchlists.len_of(user).await?,
        drawings: charts.count(user).await?,
        alerts: alerts.active_count(user).await?,
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
