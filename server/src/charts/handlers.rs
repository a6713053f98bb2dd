//! The chart API. Every endpoint needs a signed-in user and answers only
//! about that user's drawings and layout.
//!
//! | method and path | does |
//! | --- | --- |
//! | `GET /api/v1/drawings?symbol=` | the drawings on a symbol, with the plan's limit and how many are kept (`DrawingList`) |
//! | `PUT /api/v1/drawings/{id}` | draws (201) or changes (200) one; the body is the `Drawing`, its id the path's; 402 past the plan's drawings |
//! | `DELETE /api/v1/drawings/{id}` | deletes one (204) |
//! | `POST /api/v1/drawings/import` | keeps a visitor's drawings (`DrawingImport`, at most 500) in the account: `ImportOutcome` |
//! | `GET /api/v1/chart/layout` | the saved `Layout`, or `null` when none is saved (the page then shows the charts its address names, or one chart) |
//! | `PUT /api/v1/chart/layout` | saves the `Layout` (204) |
//!
//! Every change to a drawing is also sent, as a `drawing` message, to all
//! of the user's `/ws` connections, this tab's included.

use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use inchart_api::charts::{Drawing, Layout};
use serde::Deserialize;

use super::{Charts, Drawn};
use crate::web::{ApiError, JsonBody, SignedIn};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Charts: FromRef<S>,
{
    Router::new()
        .route("/api/v1/drawings", get(drawings))
        .route("/api/v1/drawings/import", post(import))
        .route("/api/v1/drawings/{id}", put(draw).delete(erase))
        .route("/api/v1/chart/layout", get(layout).put(save_layout))
}

/// The raw query, so a missing symbol gets its own message.
#[derive(Debug, Deserialize)]
struct DrawingQuery {
    symbol: Option<String>,
}

async fn drawings(
    State(charts): State<Charts>,
    signed_in: SignedIn,
    Query(query): Query<DrawingQuery>,
) -> Result<Response, ApiError> {
    let symbol = query
        .symbol
        .ok_or_else(|| ApiError::invalid("symbol", "Name the symbol whose drawings to read."))?;
    Ok(Json(charts.drawings(signed_in.user, &symbol).await?).into_response())
}

async fn draw(
    State(charts): State<Charts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    JsonBody(drawing): JsonBody<Drawing>,
) -> Result<Response, ApiError> {
    Ok(match charts.put(signed_in.user, &id, drawing).await? {
        Drawn::Created(drawing) => (StatusCode::CREATED, Json(drawing)).into_response(),
        Drawn::Updated(drawing) => Json(drawing).into_response(),
    })
}

async fn erase(
    State(charts): State<Charts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    charts.delete(signed_in.user, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DrawingImport`, each drawing read on its own so that one this server
/// cannot read is refused, not the whole import.
#[derive(Debug, Deserialize)]
struct RawImport {
    drawings: Vec<serde_json::Value>,
}

async fn import(
    State(charts): State<Charts>,
    signed_in: SignedIn,
    JsonBody(import): JsonBody<RawImport>,
) -> Result<Response, ApiError> {
    Ok(Json(charts.import(signed_in.user, import.drawings).await?).into_response())
}

async fn layout(State(charts): State<Charts>, signed_in: SignedIn) -> Result<Response, ApiError> {
    Ok(Json(charts.layout(signed_in.user).await?).into_response())
}

async fn save_layout(
    State(charts): State<Charts>,
    signed_in: SignedIn,
    JsonBody(layout): JsonBody<Layout>,
) -> Result<Response, ApiError> {
    charts.set_layout(signed_in.user, layout).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
