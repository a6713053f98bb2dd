//! Which of a trader's scripts a series' chart shows: the chart's layers
//! menu. It reads the scripts store, so it is the scripts domain's.
//!
//! | method and path | does |
//! | --- | --- |
//! | `GET /api/v1/chart/layers?symbol=&interval=` | every saved script as a `Layer` of that series (`Layers`) |
//! | `PUT /api/v1/chart/layers/{script_id}` | shows or hides it there (`LayerChoice`; 204, 404 for another's script) |
//!
//! A script is shown on a series when the trader chose so, or, with no
//! choice stored, when it runs live there. A manual run on a series
//! (`POST /api/v1/scripts/{id}/runs`, the menu's "run on this chart" and
//! the workbench's "Run on chart") shows it there.

use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use inchart_api::charts::{LayerChoice, Layers};
use serde::Deserialize;

use super::Scripts;
use super::handlers::{not_found, script_id, series};
use crate::market::Symbols;
use crate::platform::clock::now_ms;
use crate::web::{ApiError, JsonBody, SignedIn};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Scripts: FromRef<S>,
    Symbols: FromRef<S>,
{
    Router::new()
        .route("/api/v1/chart/layers", get(layers))
        .route("/api/v1/chart/layers/{script_id}", put(choose))
}

/// The raw query, so each missing part gets its own message.
#[derive(Debug, Deserialize)]
struct SeriesQuery {
    symbol: Option<String>,
    interval: Option<String>,
}

async fn layers(
    State(scripts): State<Scripts>,
    State(symbols): State<Symbols>,
    signed_in: SignedIn,
    Query(query): Query<SeriesQuery>,
) -> Result<Response, ApiError> {
    let symbol = query
        .symbol
        .ok_or_else(|| ApiError::invalid("symbol", "Name the chart's symbol."))?;
    let interval = query
        .interval
        .ok_or_else(|| ApiError::invalid("interval", "Name the chart's interval."))?;
    let series = series(&symbol, &interval, &symbols)?;
    let layers = scripts.store.layers(signed_in.user, &series).await?;
    Ok(Json(Layers {
        symbol: series.symbol,
        interval: series.interval,
        layers,
    })
    .into_response())
}

async fn choose(
    State(scripts): State<Scripts>,
    State(symbols): State<Symbols>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    JsonBody(choice): JsonBody<LayerChoice>,
) -> Result<Response, ApiError> {
    let id = script_id(&id)?;
    let series = app::scripts::SeriesRef {
        symbol: symbols.check(choice.symbol, "symbol")?,
        interval: choice.interval,
    };
    if !scripts
        .store
        .choose_layer(signed_in.user, id, &series, choice.shown, now_ms())
        .await?
    {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
