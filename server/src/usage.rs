//! An account's plan beside what it uses (saved and live scripts, watched
//! symbols): the billing page and `GET /api/v1/billing`. It reads billing,
//! scripts and the watchlist, so it sits above them all.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;
use crate::web::{ApiError, SignedIn};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/billing", get(overview))
}

/// `GET /api/v1/billing`: the billing page's content as JSON.
async fn overview(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, ApiError> {
    let view = crate::billing::pages::billing_view(
        &state.billing,
        &state.scripts.store,
        &state.watchlists,
        signed_in.user,
    )
    .await?;
    Ok(Json(view).into_response())
}
