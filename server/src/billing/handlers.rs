//! Billing over HTTP: the pricing page's checkout form, the billing page's
//! portal form, the return from Checkout, Stripe's webhook, and the
//! watchlist (whose length the plan limits).

use app::billing::Cadence;
use app::watchlist::Watchlist;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Form, Json, Router};
use inchart_api::market::Symbol;
use serde::Deserialize;
use uuid::Uuid;

use super::{Billing, BillingError, Delivery, DeliveryError, now_ms};
use crate::auth::Auth;
use crate::auth::handlers::Answer;
use crate::auth::session::RequestAuth;
use crate::error::ApiError;
use crate::scripts::handlers::user_of;
use crate::startup::AppState;

/// Where Stripe posts its events.
pub const WEBHOOK_PATH: &str = "/webhooks/stripe";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/billing/checkout", post(checkout))
        .route("/billing/portal", post(portal))
        .route("/billing/return", get(returned))
        .route("/api/v1/billing", get(overview))
        .route(WEBHOOK_PATH, post(webhook))
        .route("/watchlist", post(watch_form))
        .route("/api/v1/watchlist", get(watchlist))
        .route("/api/v1/watchlist/{symbol}", put(watch).delete(unwatch))
}

fn billing_error(error: BillingError) -> ApiError {
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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CheckoutForm {
    price: String,
}

/// `POST /billing/checkout`: off to Stripe Checkout (303), or back to
/// `/pricing` with why not.
async fn checkout(
    State(auth): State<Auth>,
    State(billing): State<Billing>,
    Extension(request): Extension<RequestAuth>,
    headers: HeaderMap,
    Form(form): Form<CheckoutForm>,
) -> Response {
    let answer = Answer::new(&headers);
    let Some(signed_in) = &request.signed_in else {
        return answer.done(&auth, "/login?next=/pricing", None);
    };
    let result = async {
        let cadence = Cadence::parse(&form.price)
            .ok_or_else(|| ApiError::invalid("price", "Choose monthly or yearly."))?;
        billing
            .checkout(signed_in.user, &signed_in.email, cadence)
            .await
            .map_err(billing_error)
    }
    .await;
    match result {
        Ok(url) => answer.done(&auth, &url, None),
        Err(error) => answer.failed(&auth, "billing", "/pricing", error, None),
    }
}

/// `POST /billing/portal`: off to Stripe's customer portal.
async fn portal(
    State(auth): State<Auth>,
    State(billing): State<Billing>,
    Extension(request): Extension<RequestAuth>,
    headers: HeaderMap,
) -> Response {
    let answer = Answer::new(&headers);
    let Some(signed_in) = &request.signed_in else {
        return answer.done(&auth, "/login?next=/billing", None);
    };
    match billing.portal(signed_in.user).await.map_err(billing_error) {
        Ok(url) => answer.done(&auth, &url, None),
        Err(error) => answer.failed(&auth, "billing", "/billing", error, None),
    }
}

#[derive(Debug, Deserialize)]
struct Returned {
    session_id: Option<String>,
}

/// `GET /billing/return?session_id=…`: Checkout's success URL. The
/// subscription is read from Stripe here, so the billing page shows Pro at
/// once rather than when the webhook arrives.
async fn returned(
    State(auth): State<Auth>,
    State(billing): State<Billing>,
    Extension(request): Extension<RequestAuth>,
    Query(query): Query<Returned>,
) -> Response {
    let Some(signed_in) = &request.signed_in else {
        return Redirect::to("/login?next=/billing").into_response();
    };
    let answer = Answer::new(&HeaderMap::new());
    let Some(session) = query.session_id.filter(|id| id.starts_with("cs_")) else {
        return Redirect::to("/billing").into_response();
    };
    match billing.returned_from_checkout(signed_in.user, &session).await {
        Ok(true) => answer.done(
            &auth,
            "/billing",
            Some((
                "billing",
                "Welcome to Pro! Your new limits apply now.".to_string(),
            )),
        ),
        Ok(false) => answer.done(
            &auth,
            "/billing",
            Some((
                "billing",
                "Your payment is being confirmed; your plan changes as soon as Stripe tells us.".to_string(),
            )),
        ),
        Err(error) => answer.failed(&auth, "billing", "/billing", billing_error(error), None),
    }
}

/// `GET /api/v1/billing`: the billing page's content as JSON.
async fn overview(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let view = super::pages::billing_view(&state.billing, &state.scripts.store, user).await?;
    Ok(Json(view).into_response())
}

/// `POST /webhooks/stripe`: Stripe's events, verified on the raw body.
async fn webhook(State(billing): State<Billing>, headers: HeaderMap, body: Bytes) -> Response {
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

/// The user's watchlist, with the limit of their plan.
pub async fn read_watchlist(billing: &Billing, user: Uuid) -> anyhow::Result<Watchlist> {
    let limit = billing.limits_of(Some(user)).await?.watchlist;
    let symbols = billing
        .store()
        .watchlist(user)
        .await?
        .iter()
        .filter_map(|name| Symbol::parse(name).ok())
        .collect();
    Ok(Watchlist { symbols, limit })
}

/// Adds a carried symbol to the watchlist, within the plan's limit.
async fn add_to_watchlist(state: &AppState, user: Uuid, symbol: &str) -> Result<Watchlist, ApiError> {
    let symbol = carried(state, symbol)?;
    let plan = state.billing.plan_of(user).await?;
    let limit = state.billing.limits(plan).watchlist;
    if !state
        .billing
        .store()
        .watch(user, symbol.as_str(), limit, now_ms())
        .await?
    {
        return Err(ApiError::PlanLimit {
            limit: "watchlist",
            message: format!(
                "Your {} plan follows at most {limit} symbols. Remove one, or upgrade for more.",
                plan.name()
            ),
        });
    }
    Ok(read_watchlist(&state.billing, user).await?)
}

fn carried(state: &AppState, symbol: &str) -> Result<Symbol, ApiError> {
    let symbol = Symbol::parse(symbol).map_err(|error| ApiError::invalid("symbol", error.to_string()))?;
    if !state.symbols.contains(&symbol) {
        return Err(ApiError::unknown(
            "symbol",
            format!("{symbol} is not a symbol InChart carries."),
        ));
    }
    Ok(symbol)
}

async fn watchlist(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    Ok(Json(read_watchlist(&state.billing, user).await?).into_response())
}

async fn watch(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    Path(symbol): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    Ok(Json(add_to_watchlist(&state, user, &symbol).await?).into_response())
}

async fn unwatch(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    Path(symbol): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let symbol = Symbol::parse(&symbol).map_err(|error| ApiError::invalid("symbol", error.to_string()))?;
    state.billing.store().unwatch(user, symbol.as_str()).await?;
    Ok(Json(read_watchlist(&state.billing, user).await?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WatchForm {
    symbol: String,
    action: String,
    next: Option<String>,
}

/// `POST /watchlist`: the chart page's star, without JavaScript (303 back
/// to `next`) or with it (`Accept: application/json`: the new list).
async fn watch_form(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    headers: HeaderMap,
    Form(form): Form<WatchForm>,
) -> Response {
    let json = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    let back = app::account::safe_next(form.next.as_deref()).unwrap_or_else(|| "/".to_string());
    let result = async {
        let user = user_of(&request)?;
        match form.action.as_str() {
            "add" => add_to_watchlist(&state, user, &form.symbol).await,
            "remove" => {
                let symbol = Symbol::parse(&form.symbol)
                    .map_err(|error| ApiError::invalid("symbol", error.to_string()))?;
                state.billing.store().unwatch(user, symbol.as_str()).await?;
                Ok(read_watchlist(&state.billing, user).await?)
            }
            _ => Err(ApiError::invalid("action", "Add or remove.")),
        }
    }
    .await;
    match (result, json) {
        (Ok(list), true) => Json(list).into_response(),
        (Err(error), true) => error.into_response(),
        (Ok(_), false) => Redirect::to(&back).into_response(),
        (Err(error), false) => Answer::new(&headers).failed(&state.auth, "watchlist", &back, error, None),
    }
}
