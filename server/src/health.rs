//! `/healthz`: the process answers. `/readyz`: it can serve, meaning the
//! database and (when configured) Redis answer; a load balancer sends
//! traffic only while this is 200. It also tells how the market feed stands
//! and whether this instance ingests.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::startup::AppState;

pub async fn alive() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = state.candles.ping().await;
    let cache = state.cache.ping().await;
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
        "cache": { "kind": state.cache.kind(), "status": word(&cache) },
        "market": {
            "feed": state.live.current_status(),
            "ingesting": state.metrics.ingest_leader.load(std::sync::atomic::Ordering::Relaxed) == 1,
            "filled": *state.filled.borrow(),
            "chart_connections": state.hub.connected(),
        },
    });
    (status, Json(body))
}
