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
//! | `POST /api/v1/scripts/{id}/runs` | runs it (`{symbol, interval, version?, candles?}`) and shows it on that series' chart ([`super::layers`]); 429 past the plan's runs a minute |
//! | `GET /api/v1/scripts/{id}/runs[/{run}]` | its newest runs; one run |
//! | `PUT`/`DELETE /api/v1/scripts/{id}/live/{symbol}/{interval}` | re-runs it on every closed candle, or stops |

use std::time::Duration;

use app::scripts::{RunRequest, ScriptChange, SeriesRef, TEMPLATE, check_name, check_source};
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use inchart_api::market::{Interval, InvalidInterval};
use inchart_api::scripts::Trigger;
use serde::Deserialize;
use uuid::Uuid;

use super::pool::PoolError;
use super::store::StoreError;
use super::{Scripts, Window};
use crate::market::Symbols;
use crate::plans::{Action, Allowance, Plans};
use crate::platform::clock::now_ms;
use crate::web::extract::OptionalJsonBody;
use crate::web::{Answer, ApiError, Cookies, JsonBody, SignedIn};

/// Runs listed by `GET …/runs`.
const RUNS_LISTED: u64 = 20;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Scripts: FromRef<S>,
    Plans: FromRef<S>,
    Symbols: FromRef<S>,
    Cookies: FromRef<S>,
{
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

pub(super) fn script_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_found())
}

pub(super) fn not_found() -> ApiError {
    ApiError::NotFound("There is no such script in your account.".into())
}

pub(super) fn series(symbol: &str, interval: &str, carried: &Symbols) -> Result<SeriesRef, ApiError> {
    let symbol = carried.carried(symbol, "symbol")?;
    let interval: Interval = interval
        .parse()
        .map_err(|error: InvalidInterval| ApiError::invalid("interval", error.to_string()))?;
    Ok(SeriesRef { symbol, interval })
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Internal(error) => ApiError::Internal(error),
            // Only a store given a limit answers `Full`, and its caller
            // answers with its allowance's refusal instead.
            StoreError::Full => ApiError::Internal(anyhow::anyhow!("a store was full without a limit")),
        }
    }
}

/// A store's answer to adding one within `allowance`: full is the plan's
/// refusal.
fn within<T>(allowance: &Allowance, result: Result<T, StoreError>) -> Result<T, ApiError> {
    match result {
        Err(StoreError::Full) => Err(allowance.refused()),
        other => Ok(other?),
    }
}

impl From<PoolError> for ApiError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Busy(message) => ApiError::Throttled {
                retry_after: Duration::from_secs(1),
                message,
            },
            PoolError::Unavailable(message) => ApiError::Unavailable(message),
        }
    }
}

async fn list(State(scripts): State<Scripts>, signed_in: SignedIn) -> Result<Response, ApiError> {
    Ok(Json(scripts.store.list(signed_in.user).await?).into_response())
}

async fn create(
    State(scripts): State<Scripts>,
    State(plans): State<Plans>,
    signed_in: SignedIn,
    OptionalJsonBody(change): OptionalJsonBody<ScriptChange>,
) -> Result<Response, ApiError> {
    let change = change.unwrap_or_default();
    let name = check_name(change.name.as_deref().unwrap_or("Moving-average cross"))
        .map_err(|message| ApiError::invalid("name", message))?;
    let source = change.source.unwrap_or_else(|| TEMPLATE.to_string());
    check_source(&source).map_err(|message| ApiError::invalid("source", message))?;
    let created = create_script(&scripts, &plans, signed_in.user, &name, &source).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Saves a new script within the plan's saved scripts.
async fn create_script(
    scripts: &Scripts,
    plans: &Plans,
    user: Uuid,
    name: &str,
    source: &str,
) -> Result<app::scripts::ScriptDetail, ApiError> {
    let allowance = plans.check(Some(user), Action::SaveScript).await?;
    let created = scripts
        .store
        .create(user, name, source, now_ms(), allowance.limit)
        .await;
    within(&allowance, created)
}

async fn show(
    State(scripts): State<Scripts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = scripts
        .store
        .get(signed_in.user, script_id(&id)?)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(detail).into_response())
}

async fn change(
    State(scripts): State<Scripts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<ScriptChange>,
) -> Result<Response, ApiError> {
    let id = script_id(&id)?;
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
        .update(
            signed_in.user,
            id,
            name.as_deref(),
            change.source.as_deref(),
            now_ms(),
        )
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(detail).into_response())
}

async fn remove(
    State(scripts): State<Scripts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if scripts.store.delete(signed_in.user, script_id(&id)?).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found())
    }
}

async fn versions(
    State(scripts): State<Scripts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let versions = scripts
        .store
        .versions(signed_in.user, script_id(&id)?)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(versions).into_response())
}

async fn version(
    State(scripts): State<Scripts>,
    signed_in: SignedIn,
    Path((id, number)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    let version = scripts
        .store
        .version(signed_in.user, script_id(&id)?, number)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("The script has no version {number}.")))?;
    Ok(Json(version).into_response())
}

async fn run(
    State(scripts): State<Scripts>,
    State(plans): State<Plans>,
    State(symbols): State<Symbols>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    JsonBody(wanted): JsonBody<RunRequest>,
) -> Result<Response, ApiError> {
    let user = signed_in.user;
    let id = script_id(&id)?;
    let symbol = symbols.check(wanted.symbol, "symbol")?;
    if wanted.candles.is_some_and(|count| !(1..=5000).contains(&count)) {
        return Err(ApiError::invalid("candles", "A run reads 1 to 5000 candles."));
    }
    let history = plans
        .check(
            Some(user),
            Action::ReadForRun {
                candles: wanted.candles,
            },
        )
        .await?;
    let count = wanted
        .candles
        .unwrap_or(scripts.settings.candles.min(history.limit));
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
    plans.check(Some(user), Action::StartRun).await?;
    let series = SeriesRef {
        symbol,
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
            &history.limits,
        )
        .await?;
    // The run is recorded: a chart of the series shows it from now on. A
    // choice that is not saved costs the trader a click, not the run.
    if let Err(error) = scripts
        .store
        .choose_layer(user, id, &series, true, now_ms())
        .await
    {
        tracing::warn!(
            error = format!("{error:#}"),
            "a run's script was not shown on its chart"
        );
    }
    Ok(Json(run).into_response())
}

async fn runs(
    State(scripts): State<Scripts>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let runs = scripts
        .store
        .runs(signed_in.user, script_id(&id)?, RUNS_LISTED)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(runs).into_response())
}

async fn one_run(
    State(scripts): State<Scripts>,
    signed_in: SignedIn,
    Path((id, run)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let run_id = Uuid::parse_str(&run).map_err(|_| not_found())?;
    let run = scripts
        .store
        .run(signed_in.user, script_id(&id)?, run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("There is no such run of this script.".into()))?;
    Ok(Json(run).into_response())
}

async fn attach(
    State(scripts): State<Scripts>,
    State(plans): State<Plans>,
    State(symbols): State<Symbols>,
    signed_in: SignedIn,
    Path((id, symbol, interval)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let user = signed_in.user;
    let series = series(&symbol, &interval, &symbols)?;
    let allowance = plans.check(Some(user), Action::RunLive).await?;
    let attached = scripts
        .store
        .attach(user, script_id(&id)?, &series, now_ms(), allowance.limit)
        .await;
    if !within(&allowance, attached)? {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn detach(
    State(scripts): State<Scripts>,
    State(symbols): State<Symbols>,
    signed_in: SignedIn,
    Path((id, symbol, interval)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let series = series(&symbol, &interval, &symbols)?;
    if !scripts
        .store
        .detach(signed_in.user, script_id(&id)?, &series)
        .await?
    {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn create_form(
    State(scripts): State<Scripts>,
    State(plans): State<Plans>,
    signed_in: Option<SignedIn>,
    answer: Answer,
) -> Response {
    let Some(signed_in) = signed_in else {
        return answer.log_in_first("/scripts");
    };
    let outcome = create_script(&scripts, &plans, signed_in.user, "Moving-average cross", TEMPLATE)
        .await
        .map(|created| format!("/scripts/{}", created.summary.id));
    answer.outcome(outcome, "script", "/scripts")
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SaveForm {
    name: String,
    source: String,
}

async fn save_form(
    State(scripts): State<Scripts>,
    signed_in: Option<SignedIn>,
    Path(id): Path<String>,
    answer: Answer,
    Form(form): Form<SaveForm>,
) -> Response {
    let page = format!("/scripts/{id}");
    let Some(signed_in) = signed_in else {
        return answer.log_in_first(&page);
    };
    let saved = async {
        let id = script_id(&id)?;
        let name = check_name(&form.name).map_err(|message| ApiError::invalid("name", message))?;
        // Browsers send a textarea's line ends as CRLF.
        let source = form.source.replace("\r\n", "\n");
        check_source(&source).map_err(|message| ApiError::invalid("source", message))?;
        scripts
            .store
            .update(signed_in.user, id, Some(&name), Some(&source), now_ms())
            .await?
            .ok_or_else(not_found)
    };
    let outcome = saved.await.map(|_| page.clone());
    answer.outcome(outcome, "script", &page)
}

async fn delete_form(
    State(scripts): State<Scripts>,
    signed_in: Option<SignedIn>,
    Path(id): Path<String>,
    answer: Answer,
) -> Response {
    let Some(signed_in) = signed_in else {
        return answer.log_in_first("/scripts");
    };
    let deleted = async {
        if scripts.store.delete(signed_in.user, script_id(&id)?).await? {
            Ok("/scripts".to_string())
        } else {
            Err(not_found())
        }
    };
    answer.outcome(deleted.await, "script", "/scripts")
}
