//! The scripts API. Every endpoint needs a signed-in user and answers only
//! about that user's scripts: anyone else's is "not found".
//!
//! | method and path | does |
//! | --- | --- |
//! | `GET /api/v1/scripts` | the user's scripts |
//! | `POST /api/v1/scripts` | creates one (`{name?, source?}`; the template by default) |
//! | `GET /api/v1/scripts/{id}` | one, with its newest source |
//! | `PATCH /api/v1/scripts/{id}` | renames it and/or saves a new version (`{name?, source?}`) |
//! | `DELETE /api/v1/scripts/{id}` | deletes it with its versions and runs |
//! | `GET /api/v1/scripts/{id}/versions[/{n}]` | the saved versions; one with its source |
//! | `POST /api/v1/scripts/{id}/runs` | runs it (`{symbol, interval, version?, candles?}`); 429 past the plan's runs a minute |
//! | `GET /api/v1/scripts/{id}/runs[/{run}]` | its newest runs; one run |
//! | `PUT`/`DELETE /api/v1/scripts/{id}/live/{symbol}/{interval}` | re-runs it on every closed candle, or stops |

use std::time::Duration;

use app::billing::PlanId;
use app::scripts::{RunRequest, ScriptChange, SeriesRef, TEMPLATE, check_name, check_source};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Form, Json, Router};
use inchart_api::market::{Interval, InvalidInterval, Symbol};
use inchart_api::scripts::Trigger;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::engine::EngineError;
use super::store::StoreError;
use super::{RunsSpent, Scripts, Window};
use crate::auth::handlers::Answer;
use crate::auth::session::RequestAuth;
use crate::auth::throttle::describe_wait;
use crate::auth::{Auth, now_ms};
use crate::billing::Billing;
use crate::error::ApiError;
use crate::startup::AppState;

/// Runs listed by `GET …/runs`.
const RUNS_LISTED: u64 = 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        // The pages' forms, for browsers without JavaScript.
        .route("/scripts", post(create_form))
        .route("/scripts/{id}/save", post(save_form))
        .route("/scripts/{id}/delete", post(delete_form))
        .route("/api/v1/scripts", get(list).post(create))
        .route("/api/v1/scripts/{id}", get(show).patch(change).delete(remove))
        .route("/api/v1/scripts/{id}/versions", get(versions))
        .route("/api/v1/scripts/{id}/versions/{version}", get(version))
        .route("/api/v1/scripts/{id}/runs", get(runs).post(run))
        .route("/api/v1/scripts/{id}/runs/{run}", get(one_run))
        .route(
            "/api/v1/scripts/{id}/live/{symbol}/{interval}",
            put(attach).delete(detach),
        )
}

/// The signed-in user, or 401.
pub(crate) fn user_of(request: &RequestAuth) -> Result<Uuid, ApiError> {
    request
        .signed_in
        .as_ref()
        .map(|signed_in| signed_in.user)
        .ok_or(ApiError::Unauthenticated)
}

fn script_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found())
}

fn not_found() -> ApiError {
    ApiError::NotFound("There is no such script in your account.".into())
}

/// A JSON body, with a message naming what is wrong when it is not one.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::invalid("body", format!("The request body is not right: {error}.")))
}

fn series(symbol: &str, interval: &str, carried: &[Symbol]) -> Result<SeriesRef, ApiError> {
    let symbol = Symbol::parse(symbol).map_err(|error| ApiError::invalid("symbol", error.to_string()))?;
    if !carried.contains(&symbol) {
        return Err(ApiError::unknown(
            "symbol",
            format!("{symbol} is not a symbol InChart carries."),
        ));
    }
    let interval: Interval = interval
        .parse()
        .map_err(|error: InvalidInterval| ApiError::invalid("interval", error.to_string()))?;
    Ok(SeriesRef { symbol, interval })
}

/// What a full account is told: its plan, the limit, and what Pro allows.
fn store_error(error: StoreError, plan: PlanId, billing: &Billing, limit: &'static str) -> ApiError {
    if let StoreError::Internal(error) = error {
        return ApiError::Internal(error);
    }
    let (mine, pro) = (billing.limits(plan), billing.limits(PlanId::Pro));
    let (have, more, what, fix) = match limit {
        "live_scripts" => (
            mine.live_scripts,
            pro.live_scripts,
            "scripts running live",
            "Stop one first",
        ),
        _ => (
            mine.scripts,
            pro.scripts,
            "saved scripts",
            "Delete one to make room",
        ),
    };
    let upgrade = if plan == PlanId::Free && billing.on() {
        format!(", or upgrade to Pro for {more}")
    } else {
        String::new()
    };
    ApiError::PlanLimit {
        limit,
        message: format!("Your {} plan allows {have} {what}. {fix}{upgrade}.", plan.name()),
    }
}

/// What a trader past their plan's runs a minute is told: the limit, when
/// to try again, and what Pro allows when it is on sale.
fn runs_spent(spent: RunsSpent, plan: PlanId, billing: &Billing) -> ApiError {
    let mine = billing.limits(plan).runs_per_minute;
    let pro = billing.limits(PlanId::Pro).runs_per_minute;
    let upgrade = plan == PlanId::Free && billing.on() && pro > mine;
    let more = if upgrade {
        format!(", or upgrade to Pro for {pro} a minute")
    } else {
        String::new()
    };
    ApiError::PlanRate {
        limit: "runs",
        message: format!(
            "Your {} plan starts at most {mine} script runs a minute. Try again in {}{more}.",
            plan.name(),
            describe_wait(spent.retry_after),
        ),
        retry_after: spent.retry_after,
        upgrade,
    }
}

async fn list(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    Ok(Json(scripts.store.list(user).await?).into_response())
}

async fn create(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let change: ScriptChange = if bytes.is_empty() {
        ScriptChange::default()
    } else {
        body(&bytes)?
    };
    let name = check_name(change.name.as_deref().unwrap_or("Moving-average cross"))
        .map_err(|message| ApiError::invalid("name", message))?;
    let source = change.source.unwrap_or_else(|| TEMPLATE.to_string());
    check_source(&source).map_err(|message| ApiError::invalid("source", message))?;
    let plan = scripts.billing.plan_of(user).await?;
    let created = scripts
        .store
        .create(
            user,
            &name,
            &source,
            now_ms(),
            scripts.billing.limits(plan).scripts,
        )
        .await
        .map_err(|error| store_error(error, plan, &scripts.billing, "scripts"))?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn show(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let detail = scripts
        .store
        .get(user, script_id(&id)?)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(detail).into_response())
}

async fn change(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let id = script_id(&id)?;
    let change: ScriptChange = body(&bytes)?;
    let name = change
        .name
        .as_deref()
        .map(check_name)
        .transpose()
        .map_err(|message| ApiError::invalid("name", message))?;
    if let Some(source) = &change.source {
        check_source(source).map_err(|message| ApiError::invalid("source", message))?;
    }
    let detail = scripts
        .store
        .update(user, id, name.as_deref(), change.source.as_deref(), now_ms())
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(detail).into_response())
}

async fn remove(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    if scripts.store.delete(user, script_id(&id)?).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found())
    }
}

async fn versions(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let versions = scripts
        .store
        .versions(user, script_id(&id)?)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(versions).into_response())
}

async fn version(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
    Path((id, number)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let version = scripts
        .store
        .version(user, script_id(&id)?, number)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("The script has no version {number}.")))?;
    Ok(Json(version).into_response())
}

async fn run(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let scripts = &state.scripts;
    let user = user_of(&request)?;
    let id = script_id(&id)?;
    let wanted: RunRequest = body(&bytes)?;
    if !state.symbols.contains(&wanted.symbol) {
        return Err(ApiError::unknown(
            "symbol",
            format!("{} is not a symbol InChart carries.", wanted.symbol),
        ));
    }
    let plan = scripts.billing.plan_of(user).await?;
    let limits = scripts.billing.limits(plan);
    let history = limits.history_candles;
    let count = wanted.candles.unwrap_or(scripts.settings.candles.min(history));
    if !(1..=5000).contains(&count) {
        return Err(ApiError::invalid("candles", "A run reads 1 to 5000 candles."));
    }
    if count > history {
        return Err(ApiError::PlanLimit {
            limit: "history",
            message: format!(
                "Your {} plan reads at most {history} candles of history.",
                plan.name()
            ),
        });
    }
    let runnable = scripts
        .store
        .runnable(user, id, wanted.version)
        .await?
        .ok_or_else(|| match wanted.version {
            Some(number) => ApiError::NotFound(format!("The script has no version {number}.")),
            None => not_found(),
        })?;
    // Counted once the request is one that would run, so a typo does not
    // spend the trader's minute.
    scripts
        .count_run(user, &limits)
        .await
        .map_err(|spent| runs_spent(spent, plan, &scripts.billing))?;
    let series = SeriesRef {
        symbol: wanted.symbol,
        interval: wanted.interval,
    };
    let window = Window { count, until: None };
    let run = scripts
        .run(
            user,
            id,
            runnable.version,
            runnable.source,
            &series,
            window,
            Trigger::Manual,
        )
        .await
        .map_err(|error| match error {
            EngineError::Busy(message) => ApiError::Throttled {
                retry_after: Duration::from_secs(1),
                message,
            },
            EngineError::Unavailable(message) => ApiError::Unavailable(message),
        })?;
    Ok(Json(run).into_response())
}

async fn runs(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let runs = scripts
        .store
        .runs(user, script_id(&id)?, RUNS_LISTED)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(runs).into_response())
}

async fn one_run(
    State(scripts): State<Scripts>,
    Extension(request): Extension<RequestAuth>,
    Path((id, run)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let run_id = Uuid::parse_str(&run).map_err(|_| not_found())?;
    let run = scripts
        .store
        .run(user, script_id(&id)?, run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("There is no such run of this script.".into()))?;
    Ok(Json(run).into_response())
}

async fn attach(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    Path((id, symbol, interval)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let series = series(&symbol, &interval, &state.symbols)?;
    let scripts = &state.scripts;
    let plan = scripts.billing.plan_of(user).await?;
    let found = scripts
        .store
        .attach(
            user,
            script_id(&id)?,
            &series,
            now_ms(),
            scripts.billing.limits(plan).live_scripts,
        )
        .await
        .map_err(|error| store_error(error, plan, &scripts.billing, "live_scripts"))?;
    if !found {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn detach(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    Path((id, symbol, interval)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let user = user_of(&request)?;
    let series = series(&symbol, &interval, &state.symbols)?;
    if !state.scripts.store.detach(user, script_id(&id)?, &series).await? {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A form's answer, as the account forms give it: onward when it worked,
/// back to `back` with the problem when it did not.
fn answer(auth: &Auth, headers: &HeaderMap, outcome: Result<String, ApiError>, back: &str) -> Response {
    match outcome {
        Ok(to) => Answer::new(headers).done(auth, &to, None),
        Err(error) => Answer::new(headers).failed(auth, "script", back, error, None),
    }
}

fn log_in_first(back: &str) -> Response {
    Redirect::to(&format!("/login?next={back}")).into_response()
}

async fn create_form(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    headers: HeaderMap,
) -> Response {
    let Ok(user) = user_of(&request) else {
        return log_in_first("/scripts");
    };
    let billing = &state.scripts.billing;
    let outcome = async {
        let plan = billing.plan_of(user).await?;
        let created = state
            .scripts
            .store
            .create(
                user,
                "Moving-average cross",
                TEMPLATE,
                now_ms(),
                billing.limits(plan).scripts,
            )
            .await
            .map_err(|error| store_error(error, plan, billing, "scripts"))?;
        Ok(format!("/scripts/{}", created.summary.id))
    }
    .await;
    answer(&state.auth, &headers, outcome, "/scripts")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SaveForm {
    name: String,
    source: String,
}

async fn save_form(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SaveForm>,
) -> Response {
    let page = format!("/scripts/{id}");
    let Ok(user) = user_of(&request) else {
        return log_in_first(&page);
    };
    let saved = async {
        let id = script_id(&id)?;
        let name = check_name(&form.name).map_err(|message| ApiError::invalid("name", message))?;
        // Browsers send a textarea's line ends as CRLF.
        let source = form.source.replace("\r\n", "\n");
        check_source(&source).map_err(|message| ApiError::invalid("source", message))?;
        state
            .scripts
            .store
            .update(user, id, Some(&name), Some(&source), now_ms())
            .await?
            .ok_or_else(not_found)
    };
    let outcome = saved.await.map(|_| page.clone());
    answer(&state.auth, &headers, outcome, &page)
}

async fn delete_form(
    State(state): State<AppState>,
    Extension(request): Extension<RequestAuth>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(user) = user_of(&request) else {
        return log_in_first("/scripts");
    };
    let deleted = async {
        if state.scripts.store.delete(user, script_id(&id)?).await? {
            Ok(())
        } else {
            Err(not_found())
        }
    };
    let outcome = deleted.await.map(|()| "/scripts".to_string());
    answer(&state.auth, &headers, outcome, "/scripts")
}
