//! Paying for Pro over HTTP: the pricing page's checkout form, the billing
//! page's portal form, and the return from Checkout. Stripe's webhook is
//! [`super::webhook`]'s.

use app::billing::Cadence;
use axum::extract::{FromRef, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::{Billing, BillingError};
use crate::web::{Answer, ApiError, Cookies, SignedIn};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Billing: FromRef<S>,
    Cookies: FromRef<S>,
{
    Router::new()
        .route("/billing/checkout", post(checkout))
        .route("/billing/portal", post(portal))
        .route("/billing/return", get(returned))
}

impl From<BillingError> for ApiError {
    fn from(error: BillingError) -> Self {
        match error {
            BillingError::Off => ApiError::forbidden("billing", error.to_string()),
            BillingError::AlreadySubscribed => ApiError::conflict("price", error.to_string()),
            BillingError::NoCustomer => ApiError::forbidden("billing", error.to_string()),
            BillingError::NoSuchPrice => ApiError::unknown("price", error.to_string()),
            BillingError::Stripe(cause) => {
                tracing::warn!(error = %cause, "a Stripe call failed");
                ApiError::Unavailable(BillingError::Stripe(cause).to_string())
            }
            BillingError::Internal(error) => ApiError::Internal(error),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CheckoutForm {
    price: String,
}

/// `POST /billing/checkout`: off to Stripe Checkout (303), or back to
/// `/pricing` with why not.
async fn checkout(
    State(billing): State<Billing>,
    signed_in: Option<SignedIn>,
    answer: Answer,
    Form(form): Form<CheckoutForm>,
) -> Response {
    let Some(signed_in) = signed_in else {
        return answer.log_in_first("/pricing");
    };
    let result = async {
        let cadence = Cadence::parse(&form.price)
            .ok_or_else(|| ApiError::invalid("price", "Choose monthly or yearly."))?;
        billing
            .checkout(signed_in.user, &signed_in.email, cadence)
            .await
            .map_err(ApiError::from)
    }
    .await;
    answer.outcome(result, "billing", "/pricing")
}

/// `POST /billing/portal`: off to Stripe's customer portal.
async fn portal(State(billing): State<Billing>, signed_in: Option<SignedIn>, answer: Answer) -> Response {
    let Some(signed_in) = signed_in else {
        return answer.log_in_first("/billing");
    };
    let portal = billing.portal(signed_in.user).await.map_err(ApiError::from);
    answer.outcome(portal, "billing", "/billing")
}

#[derive(Debug, Deserialize)]
struct Returned {
    session_id: Option<String>,
}

/// `GET /billing/return?session_id=…`: Checkout's success URL. The
/// subscription is read from Stripe here, so the billing page shows Pro at
/// once rather than when the webhook arrives.
async fn returned(
    State(billing): State<Billing>,
    signed_in: Option<SignedIn>,
    answer: Answer,
    Query(query): Query<Returned>,
) -> Response {
    let Some(signed_in) = signed_in else {
        return answer.log_in_first("/billing");
    };
    let Some(session) = query.session_id.filter(|id| id.starts_with("cs_")) else {
        return Redirect::to("/billing").into_response();
    };
    match billing.returned_from_checkout(signed_in.user, &session).await {
        Ok(true) => answer.done(
            "/billing",
            Some((
                "billing",
                "Welcome to Pro! Your new limits apply now.".to_string(),
            )),
        ),
        Ok(false) => answer.done(
            "/billing",
            Some((
                "billing",
                "Your payment is being confirmed; your plan changes as soon as Stripe tells us.".to_string(),
            )),
        ),
        Err(error) => answer.failed("billing", "/billing", error.into(), None),
    }
}
