//! The watchlist over HTTP: the JSON API, and the chart page's star as a
//! form for browsers without JavaScript.

use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use serde::Deserialize;

use super::Watchlists;
use crate::web::{Answer, ApiError, Cookies, SignedIn};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Watchlists: FromRef<S>,
    Cookies: FromRef<S>,
{
    Router::new()
        .route("/watchlist", post(watch_form))
        .route("/api/v1/watchlist", get(watchlist))
        .route("/api/v1/watchlist/{symbol}", put(watch).delete(unwatch))
}

async fn watchlist(State(lists): State<Watchlists>, signed_in: SignedIn) -> Result<Response, ApiError> {
    Ok(Json(lists.of(signed_in.user).await?).into_response())
}

async fn watch(
    State(lists): State<Watchlists>,
    signed_in: SignedIn,
    Path(symbol): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(lists.add(signed_in.user, &symbol).await?).into_response())
}

async fn unwatch(
    State(lists): State<Watchlists>,
    signed_in: SignedIn,
    Path(symbol): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(lists.remove(signed_in.user, &symbol).await?).into_response())
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
    State(lists): State<Watchlists>,
    signed_in: Option<SignedIn>,
    answer: Answer,
    Form(form): Form<WatchForm>,
) -> Response {
    let back = app::account::safe_next(form.next.as_deref()).unwrap_or_else(|| "/".to_string());
    let Some(signed_in) = signed_in else {
        return answer.log_in_first(&back);
    };
    let result = match form.action.as_str() {
        "add" => lists.add(signed_in.user, &form.symbol).await,
        "remove" => lists.remove(signed_in.user, &form.symbol).await,
        _ => Err(ApiError::invalid("action", "Add or remove.")),
    };
    match (result, answer.json()) {
        (Ok(list), true) => Json(list).into_response(),
        (Err(error), true) => error.into_response(),
        (Ok(_), false) => Redirect::to(&back).into_response(),
        (Err(error), false) => answer.failed("watchlist", &back, error, None),
    }
}
