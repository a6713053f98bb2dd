//! The backtests API. Every endpoint needs a signed-in user and answers
//! only about that user's scripts: anyone else's is "not found".
//!
//! | method and path | does |
//! | --- | --- |
//! | `POST /api/v1/scripts/{id}/backtests` | starts one (`BacktestRequest`): 202 with it; 402 past the plan's candles or backtests an hour; 429 with two running |
//! | `GET /api/v1/scripts/{id}/backtests` | the script's newest backtests |
//! | `GET /api/v1/scripts/{id}/backtests/{backtest}?wait_ms=` | one, with its outcome once done; waits up to `wait_ms` (at most 20 s) for it to move on |
//! | `GET /api/v1/scripts/{id}/backtest-settings?version=` | the settings saved with a version (or the script's newest, or the defaults) |

use std::time::Duration;

use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use inchart_api::backtests::{BacktestRequest, Settings};
use serde::Deserialize;
use uuid::Uuid;

use super::{AT_ONCE, Backtests, Start, resolve};
use crate::market::Symbols;
use crate::plans::{Action, Plans};
use crate::platform::clock::now_ms;
use crate::web::{ApiError, JsonBody, SignedIn};

/// Backtests listed by `GET …/backtests`.
const LISTED: u64 = 50;
/// The longest a `GET` waits for a backtest to move on.
const LONGEST_WAIT: Duration = Duration::from_secs(20);

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Backtests: FromRef<S>,
    Plans: FromRef<S>,
    Symbols: FromRef<S>,
{
    Router::new()
        .route("/api/v1/scripts/{id}/backtests", get(list).post(start))
        .route("/api/v1/scripts/{id}/backtests/{backtest}", get(one))
        .route("/api/v1/scripts/{id}/backtest-settings", get(settings))
}

fn script_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| script_not_found())
}

fn script_not_found() -> ApiError {
    ApiError::NotFound("There is no such script in your account.".into())
}

fn backtest_not_found() -> ApiError {
    ApiError::NotFound("There is no such backtest of this script.".into())
}

async fn start(
    State(backtests): State<Backtests>,
    State(plans): State<Plans>,
    State(symbols): State<Symbols>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    JsonBody(wanted): JsonBody<BacktestRequest>,
) -> Result<Response, ApiError> {
    let user = signed_in.user;
    let script = script_id(&id)?;
    let symbol = symbols.check(wanted.symbol, "symbol")?;
    if let Some(settings) = &wanted.settings {
        backtest::check(settings).map_err(|error| ApiError::invalid(error.field, error.message))?;
    }
    let runnable = backtests
        .scripts
        .runnable(user, script, wanted.version)
        .await?
        .ok_or_else(|| match wanted.version {
            Some(number) => ApiError::NotFound(format!("The script has no version {number}.")),
            None => script_not_found(),
        })?;
    let newest = backtests
        .newest_closed(&symbol, wanted.interval)
        .await?
        .ok_or_else(|| {
            ApiError::Unavailable("This series has no closed candles yet; try again soon.".into())
        })?;
    let reach = plans.check(Some(user), Action::Backtest { candles: 0 }).await?;
    let (first, last, count) = resolve(wanted.range, wanted.interval, newest, reach.limit)
        .map_err(|message| ApiError::invalid("range", message))?;
    plans
        .check(Some(user), Action::Backtest { candles: count })
        .await?;
    if backtests.unfinished(user).await? >= AT_ONCE {
        return Err(ApiError::Throttled {
            retry_after: Duration::from_secs(5),
            message: format!(
                "{AT_ONCE} backtests of yours are still running; start another once one is done."
            ),
        });
    }
    // Counted once it would start, so that a mistyped range does not
    // spend the trader's hour.
    plans.check(Some(user), Action::StartBacktest).await?;
    let settings = match wanted.settings {
        Some(settings) => {
            backtests
                .store
                .save_settings(script, runnable.version, &settings, now_ms())
                .await?;
            settings
        }
        None => backtests
            .store
            .settings(script, runnable.version)
            .await?
            .unwrap_or_default(),
    };
    let started = backtests
        .start(Start {
            user,
            script,
            runnable,
            symbol,
            interval: wanted.interval,
            first,
            last,
            asked: wanted.range,
            settings,
            limits: reach.limits,
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(started)).into_response())
}

async fn list(
    State(backtests): State<Backtests>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let script = script_id(&id)?;
    if backtests
        .scripts
        .runnable(signed_in.user, script, None)
        .await?
        .is_none()
    {
        return Err(script_not_found());
    }
    Ok(Json(backtests.store.list(signed_in.user, script, LISTED).await?).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Waiting {
    wait_ms: u64,
}

async fn one(
    State(backtests): State<Backtests>,
    signed_in: SignedIn,
    Path((id, backtest)): Path<(String, String)>,
    Query(waiting): Query<Waiting>,
) -> Result<Response, ApiError> {
    let script = script_id(&id)?;
    let backtest = Uuid::parse_str(&backtest).map_err(|_| backtest_not_found())?;
    let wait = Duration::from_millis(waiting.wait_ms).min(LONGEST_WAIT);
    let found = backtests
        .wait(signed_in.user, script, backtest, wait)
        .await?
        .ok_or_else(backtest_not_found)?;
    Ok(Json(found).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Version {
    version: Option<u32>,
}

async fn settings(
    State(backtests): State<Backtests>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Query(Version { version }): Query<Version>,
) -> Result<Response, ApiError> {
    let script = script_id(&id)?;
    let runnable = backtests
        .scripts
        .runnable(signed_in.user, script, version)
        .await?
        .ok_or_else(script_not_found)?;
    let saved: Settings = backtests
        .store
        .settings(script, runnable.version)
        .await?
        .unwrap_or_default();
    Ok(Json(saved).into_response())
}
