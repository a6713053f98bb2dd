//! The alerts API. Every endpoint needs a signed-in user and answers only
//! about that user's alerts: anyone else's is "not found". The
//! unsubscribe link is the exception: it carries its own token and is
//! mounted outside the CSRF check, so a mail client's one-click POST
//! (RFC 8058) works.
//!
//! | method and path | does |
//! | --- | --- |
//! | `GET /api/v1/alerts?symbol=&interval=` | the user's alerts, newest first (of one series when given) |
//! | `POST /api/v1/alerts` | creates one (`AlertSpec`): 201 with it and its webhook secret, shown once; 402 past the plan's alerts or for webhooks on Free |
//! | `GET`, `PUT`, `PATCH`, `DELETE /api/v1/alerts/{id}` | reads, replaces (`AlertSpec`), pauses/resumes/moves (`AlertPatch`), deletes |
//! | `GET /api/v1/alerts/{id}/firings` | its newest firings, each delivery and attempt |
//! | `POST /api/v1/alerts/{id}/firings/{firing}/resend` | sends a firing again now: 202 |
//! | `GET /api/v1/push/key` | the VAPID public key browsers subscribe with |
//! | `POST`, `DELETE /api/v1/push/subscriptions` | keeps or forgets a browser's push subscription |
//! | `GET`, `POST /alerts/{id}/unsubscribe?token=` | the unsubscribe page, and turning the alert's email off |

use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use inchart_api::alerts::{AlertCreated, AlertPatch, AlertSpec, PushKey, PushSubscription};
use serde::Deserialize;
use uuid::Uuid;

use super::Alerts;
use crate::web::{ApiError, JsonBody, SignedIn};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Alerts: FromRef<S>,
{
    Router::new()
        .route("/api/v1/alerts", get(list).post(create))
        .route(
            "/api/v1/alerts/{id}",
            get(one).put(replace).patch(patch).delete(delete),
        )
        .route("/api/v1/alerts/{id}/firings", get(firings))
        .route("/api/v1/alerts/{id}/firings/{firing}/resend", post(resend))
        .route("/api/v1/push/key", get(push_key))
        .route("/api/v1/push/subscriptions", post(subscribe).delete(unsubscribe))
}

/// The unsubscribe link, outside the CSRF check: its token is its proof.
pub fn unsubscribe_routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Alerts: FromRef<S>,
{
    Router::new().route(
        "/alerts/{id}/unsubscribe",
        get(unsubscribe_page).post(unsubscribe_email),
    )
}

fn alert_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("There is no such alert in your account.".into()))
}

#[derive(Deserialize)]
struct SeriesQuery {
    symbol: Option<String>,
    interval: Option<String>,
}

async fn list(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    Query(query): Query<SeriesQuery>,
) -> Result<Response, ApiError> {
    let series = match (&query.symbol, &query.interval) {
        (Some(symbol), Some(interval)) => Some((symbol.as_str(), interval.as_str())),
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid(
                "interval",
                "Give both symbol and interval, or neither.",
            ));
        }
    };
    Ok(Json(alerts.list(signed_in.user, series).await?).into_response())
}

async fn create(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    JsonBody(spec): JsonBody<AlertSpec>,
) -> Result<Response, ApiError> {
    let (alert, webhook_secret) = alerts.create(signed_in.user, spec).await?;
    Ok((
        StatusCode::CREATED,
        Json(AlertCreated {
            alert,
            webhook_secret,
        }),
    )
        .into_response())
}

async fn one(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(alerts.get(signed_in.user, alert_id(&id)?).await?).into_response())
}

async fn replace(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<AlertSpec>,
) -> Result<Response, ApiError> {
    let (alert, webhook_secret) = alerts.replace(signed_in.user, alert_id(&id)?, spec).await?;
    Ok(Json(AlertCreated {
        alert,
        webhook_secret,
    })
    .into_response())
}

async fn patch(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<AlertPatch>,
) -> Result<Response, ApiError> {
    Ok(Json(alerts.patch(signed_in.user, alert_id(&id)?, change).await?).into_response())
}

async fn delete(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    alerts.delete(signed_in.user, alert_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn firings(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(alerts.firings(signed_in.user, alert_id(&id)?).await?).into_response())
}

async fn resend(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    Path((id, firing)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let firing =
        Uuid::parse_str(&firing).map_err(|_| ApiError::NotFound("This alert has no such firing.".into()))?;
    let firing = alerts.resend(signed_in.user, alert_id(&id)?, firing).await?;
    Ok((StatusCode::ACCEPTED, Json(firing)).into_response())
}

async fn push_key(State(alerts): State<Alerts>) -> Json<PushKey> {
    Json(PushKey {
        public_key: alerts.push_key(),
    })
}

async fn subscribe(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    JsonBody(subscription): JsonBody<PushSubscription>,
) -> Result<Response, ApiError> {
    alerts.subscribe_push(signed_in.user, &subscription).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn unsubscribe(
    State(alerts): State<Alerts>,
    signed_in: SignedIn,
    JsonBody(subscription): JsonBody<PushSubscription>,
) -> Result<Response, ApiError> {
    alerts
        .unsubscribe_push(signed_in.user, &subscription.endpoint)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// A small page of its own: a mail client may open it without the app.
fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title} · InChart</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;\
         color:#e6e9ef;background:#0f1218}}a{{color:#6ea8fe}}button{{font:inherit;padding:.5rem 1rem;\
         border-radius:6px;border:1px solid #3a4150;background:#1f6feb;color:#fff;cursor:pointer}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn unsubscribe_page(Path(id): Path<String>, Query(query): Query<TokenQuery>) -> Response {
    // The page only asks: a link scanner that opens it changes nothing.
    page(
        "Stop emails for this alert?",
        &format!(
            "<p>You will no longer get email when this alert fires. Webhooks and browser notifications, \
             if any, go on.</p><form method=\"post\" action=\"/alerts/{}/unsubscribe?token={}\">\
             <button type=\"submit\">Stop these emails</button></form>\
             <p><a href=\"/alerts\">All your alerts</a></p>",
            escape(&id),
            escape(&query.token)
        ),
    )
    .into_response()
}

async fn unsubscribe_email(
    State(alerts): State<Alerts>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let done = match Uuid::parse_str(&id) {
        Ok(id) => alerts.unsubscribe_email(id, &query.token).await,
        Err(_) => Ok(None),
    };
    match done {
        Ok(Some(what)) => page(
            "Emails stopped",
            &format!(
                "<p>No more email for your alert <strong>{}</strong>. Turn it back on at \
                 <a href=\"/alerts\">your alerts</a>.</p>",
                escape(&what)
            ),
        )
        .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            page(
                "This link does not work",
                "<p>The alert is gone or the link is not whole. Manage your alerts at <a href=\"/alerts\">your alerts</a>.</p>",
            ),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "could not unsubscribe");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                page("Please try again", "<p>InChart could not do this just now.</p>"),
            )
                .into_response()
        }
    }
}
