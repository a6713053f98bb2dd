//! The HTTP side: `GET /v1/news/all` and Marketaux's errors for everything else.
//!
//! Policies:
//! - One handler answers every method and path, so an unknown route gets
//!   Marketaux's JSON 404 (`invalid_api_endpoint`), never an empty body.
//! - The query is decoded leniently (a stray `%` does not fail it); a
//!   repeated parameter's last value is the one read. Parameters the fake
//!   does not implement (`sort`, `group_similar`, `countries`, `search`, ...)
//!   are accepted and ignored, as Marketaux ignores unknown ones.
//! - What the fake reads it reads strictly: `limit` and `page` are whole
//!   numbers of at least 1, booleans are `true`/`false`/`1`/`0`, dates are
//!   the shapes in [`super::dates`]; anything else is `malformed_parameters`.
//! - `published_after` keeps articles published at or after the time given
//!   (and `published_before` at or before it), so a client polling with its
//!   newest `published_at` must skip what it already has.
//! - `symbols` and `language` compare case-insensitively.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::{Article, ErrorCode, MarketauxRequest, NEWS_PATH, Shared, State, dates, lock};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(answer).with_state(shared)
}

/// An error answer: the code's status and `{"error": {"code", "message"}}`.
#[derive(Debug)]
struct Refusal {
    code: ErrorCode,
    message: String,
}

impl Refusal {
    fn of(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.message().to_owned(),
        }
    }

    fn malformed(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::MalformedParameters,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error": {"code": self.code.as_str(), "message": self.message}});
        (status, axum::Json(body)).into_response()
    }
}

/// The 200 body.
#[derive(Debug, Serialize)]
struct NewsPage<'a> {
    meta: Meta,
    data: Vec<Cow<'a, Article>>,
}

#[derive(Debug, Serialize)]
struct Meta {
    found: usize,
    returned: usize,
    limit: u64,
    page: u64,
}

async fn answer(AxumState(shared): AxumState<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    let delay = lock(&shared.state).delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let path = uri.path().to_owned();
    let params: Vec<(String, String)> = uri
        .query()
        .map(|query| form_urlencoded::parse(query.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut state = lock(&shared.state);
    let response = match decide(&shared, &mut state, &method, &path, &params) {
        Ok(body) => {
            let mut response = (StatusCode::OK, body).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(refusal) => refusal.into_response(),
    };
    state.requests.push(MarketauxRequest {
        method: method.to_string(),
        path,
        params,
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

/// The answer to one request, in the order the module's policy gives;
/// `Ok` holds the serialized 200 body.
fn decide(
    shared: &Shared,
    state: &mut State,
    method: &Method,
    path: &str,
    params: &[(String, String)],
) -> Result<Vec<u8>, Refusal> {
    if let Some(code) = state.faults.pop_front() {
        return Err(Refusal::of(code));
    }
    if *method != Method::GET || path != NEWS_PATH {
        return Err(Refusal {
            code: ErrorCode::InvalidApiEndpoint,
            message: format!("There is no endpoint {method} {path}; news is at GET {NEWS_PATH}."),
        });
    }
    match param(params, "api_token") {
        None => {
            return Err(Refusal {
                code: ErrorCode::InvalidApiToken,
                message: "No API token was given; send it as the api_token parameter.".to_owned(),
            });
        }
        Some(token) if token != shared.api_token => return Err(Refusal::of(ErrorCode::InvalidApiToken)),
        Some(_) => {}
    }
    if state.used_today >= shared.daily_allowance {
        return Err(Refusal {
            code: ErrorCode::UsageLimitReached,
            message: format!(
                "The daily limit of {} requests of your plan has been reached.",
                shared.daily_allowance
            ),
        });
    }
    let arrived = Instant::now();
    while state
        .window
        .front()
        .is_some_and(|at| arrived.duration_since(*at) >= shared.rate_window)
    {
        state.window.pop_front();
    }
    if state.window.len() >= usize::try_from(shared.per_minute).unwrap_or(usize::MAX) {
        return Err(Refusal::of(ErrorCode::RateLimitReached));
    }
    state.used_today += 1;
    state.window.push_back(arrived);

    let query = NewsQuery::read(params, shared.max_limit)?;
    let matching: Vec<&Article> = state
        .articles
        .iter()
        .filter(|article| query.selects(article))
        .collect();
    let skip =
        usize::try_from(query.page.saturating_sub(1).saturating_mul(query.limit)).unwrap_or(usize::MAX);
    let take = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let data: Vec<Cow<'_, Article>> = matching
        .iter()
        .skip(skip)
        .take(take)
        .map(|article| query.shape(article))
        .collect();
    let page = NewsPage {
        meta: Meta {
            found: matching.len(),
            returned: data.len(),
            limit: query.limit,
            page: query.page,
        },
        data,
    };
    serde_json::to_vec(&page).map_err(|error| {
        tracing::error!(%error, "fake marketaux: an article could not be written");
        Refusal::of(ErrorCode::ServerError)
    })
}

/// The last non-empty value sent for `name`.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

/// A comma list, trimmed, upper-cased, empty items dropped; `None` if absent or empty.
fn upper_list(params: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let items: Vec<String> = param(params, name)?
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    (!items.is_empty()).then_some(items)
}

fn boolean(params: &[(String, String)], name: &str) -> Result<bool, Refusal> {
    match param(params, name) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(Refusal::malformed(format!(
            "The {name} parameter must be true or false, not {other:?}."
        ))),
    }
}

/// A whole number of at least 1, if sent.
fn positive(params: &[(String, String)], name: &str) -> Result<Option<u64>, Refusal> {
    param(params, name)
        .map(|raw| {
            raw.parse::<u64>()
                .ok()
                .filter(|value| *value >= 1)
                .ok_or_else(|| {
                    Refusal::malformed(format!(
                        "The {name} parameter must be a whole number of at least 1, not {raw:?}."
                    ))
                })
        })
        .transpose()
}

fn date(params: &[(String, String)], name: &str) -> Result<Option<i64>, Refusal> {
    param(params, name)
        .map(|raw| {
            dates::parse_date_param(raw).ok_or_else(|| {
                Refusal::malformed(format!(
                    "The {name} parameter must be a UTC date as Y-m-d, Y-m-dTH:i or Y-m-dTH:i:s, not {raw:?}."
                ))
            })
        })
        .transpose()
}

/// What a `/v1/news/all` request asks for.
#[derive(Debug)]
struct NewsQuery {
    /// Upper case, e.g. `CC:BTC`.
    symbols: Option<Vec<String>>,
    filter_entities: bool,
    must_have_entities: bool,
    /// Upper case, e.g. `EN`.
    languages: Option<Vec<String>>,
    published_after: Option<i64>,
    published_before: Option<i64>,
    /// Already capped at the plan's maximum.
    limit: u64,
    page: u64,
}

impl NewsQuery {
    fn read(params: &[(String, String)], max_limit: u32) -> Result<Self, Refusal> {
        let max_limit = u64::from(max_limit);
        Ok(Self {
            symbols: upper_list(params, "symbols"),
            filter_entities: boolean(params, "filter_entities")?,
            must_have_entities: boolean(params, "must_have_entities")?,
            languages: upper_list(params, "language"),
            published_after: date(params, "published_after")?,
            published_before: date(params, "published_before")?,
            limit: positive(params, "limit")?.map_or(max_limit, |limit| limit.min(max_limit)),
            page: positive(params, "page")?.unwrap_or(1),
        })
    }

    fn wants_symbol(&self, symbol: &str) -> bool {
        self.symbols
            .as_ref()
            .is_none_or(|symbols| symbols.iter().any(|wanted| wanted.eq_ignore_ascii_case(symbol)))
    }

    fn selects(&self, article: &Article) -> bool {
        let about = self.symbols.is_none() || article.entities.iter().any(|e| self.wants_symbol(&e.symbol));
        let language = self.languages.as_ref().is_none_or(|languages| {
            languages
                .iter()
                .any(|language| language.eq_ignore_ascii_case(&article.language))
        });
        about
            && language
            && (!self.must_have_entities || !article.entities.is_empty())
            && self
                .published_after
                .is_none_or(|after| article.published_at >= after)
            && self
                .published_before
                .is_none_or(|before| article.published_at <= before)
    }

    /// The article as answered: with `filter_entities`, only the requested
    /// symbols' entities are kept.
    fn shape<'a>(&self, article: &'a Article) -> Cow<'a, Article> {
        if !self.filter_entities || self.symbols.is_none() {
            return Cow::Borrowed(article);
        }
        let mut shaped = article.clone();
        shaped.entities.retain(|entity| self.wants_symbol(&entity.symbol));
        Cow::Owned(shaped)
    }
}
