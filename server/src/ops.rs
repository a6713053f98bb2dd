//! What an operator and a load balancer read. `/healthz`: the process
//! answers. `/readyz`: it can serve, meaning the database and (when
//! configured) Redis answer; a load balancer sends traffic only while this
//! is 200. It also tells how the market feed stands and whether this
//! instance ingests. `/metrics`: the metrics registry, in Prometheus's
//! text format.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::auth::Auth;
use crate::auth::session::device_of;
use crate::market::Market;
use crate::state::Ops;
use crate::stream::Hub;
use crate::web::ApiError;

pub async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(
    State(market): State<Market>,
    State(ops): State<Arc<Ops>>,
    State(hub): State<Arc<Hub>>,
) -> (StatusCode, Json<Value>) {
    let database = market.candles.ping().await;
    let cache = market.cache.ping().await;
    for (part, result) in [("database", &database), ("cache", &cache)] {
        if let Err(error) = result {
            tracing::warn!(part, error = format!("{error:#}"), "not ready");
        }
    }
    let word = |result: &anyhow::Result<()>| if result.is_ok() { "ok" } else { "unavailable" };
    let status = if database.is_ok() && cache.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "database": word(&database),
        "cache": { "kind": market.cache.kind(), "status": word(&cache) },
        "market": {
            "feed": market.status(),
            "ingesting": market.metrics.ingesting(),
            "filled": *ops.filled.borrow(),
            "chart_connections": hub.connected(),
        },
    });
    (status, Json(body))
}

/// `GET /metrics`. With `INCHART_METRICS_TOKEN` set, for requests that
/// carry it as a bearer token; without, for requests from this machine
/// only (behind a trusted proxy, the proxied client's address counts).
pub async fn metrics(State(ops): State<Arc<Ops>>, State(auth): State<Auth>, request: Request) -> Response {
    let allowed = match &ops.metrics_token {
        Some(token) => request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|presented| {
                let expected = token.expose_secret().as_bytes();
                presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected))
            }),
        None => {
            let device = device_of(&request, auth.settings.trust_proxy);
            device.ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    };
    if !allowed {
        return ApiError::forbidden(
            "authorization",
            "Metrics are for this machine, or for requests with INCHART_METRICS_TOKEN as a bearer token.",
        )
        .into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ops.metrics.render(),
    )
        .into_response()
}
