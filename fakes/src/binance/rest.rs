//! The REST side: `/api/v3/ping`, `/api/v3/time`, `/api/v3/klines` and
//! `/api/v3/exchangeInfo`, with Binance's request weights, weight headers,
//! 429 + `Retry-After` when over the limit, and 418 for a client that keeps
//! asking while told to back off.
//!
//! Policies:
//! - Every request is weighed and logged, whatever it is answered, so a test
//!   can assert on exactly what a client sent and when.
//! - The weight window is the current minute of the fake's clock (so
//!   `advance` starts a new one), or the configured `weight_window`,
//!   stated in `exchangeInfo` and named in the `X-MBX-USED-WEIGHT-<window>`
//!   header as Binance names its windows (`1m`, `10s`); back-off windows
//!   are real time, because clients sleep in real time. A 418 does not
//!   lengthen the back-off.
//! - Klines are served from the listing on: `startTime` and `endTime`
//!   (either, both or neither) pick the candles as Binance does, deep
//!   history drawn on demand.
//! - Stricter than Binance where a client would be wrong to rely on more:
//!   klines are served for the configured symbols only (other listed symbols
//!   answer -1121) and for InChart's six intervals only (others answer -1120);
//!   `limit` outside 1..=1000 answers -1130.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use inchart_api::market::{Interval, Symbol};
use serde_json::{Value, json};

use super::{RestRequest, Shared, exchange_info, lock};

/// Binance's legal ranges, quoted in its -1100 errors.
const LONG: &str = "^[0-9]{1,20}$";
const SYMBOL_LIST: &str = r#"^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$"#;

const USED_WEIGHT: HeaderName = HeaderName::from_static("x-mbx-used-weight");

/// A weight window as Binance states it: `("MINUTE", 1)` and `1m` for a
/// minute, `("SECOND", 10)` and `10s` for ten seconds.
pub(super) fn window_names(window_ms: i64) -> (&'static str, i64, String) {
    let secs = (window_ms / 1000).max(1);
    let (interval, letter, unit) = if secs % 86_400 == 0 {
        ("DAY", 'd', 86_400)
    } else if secs % 3_600 == 0 {
        ("HOUR", 'h', 3_600)
    } else if secs % 60 == 0 {
        ("MINUTE", 'm', 60)
    } else {
        ("SECOND", 's', 1)
    };
    (interval, secs / unit, format!("{}{letter}", secs / unit))
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v3/ping", get(ping))
        .route("/api/v3/time", get(time))
        .route("/api/v3/klines", get(klines))
        .route("/api/v3/exchangeInfo", get(exchange_info))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), weigh))
        .with_state(shared)
}

/// Binance's REQUEST_WEIGHT of an endpoint.
fn weight_of(path: &str) -> u32 {
    match path {
        "/api/v3/klines" => 2,
        "/api/v3/exchangeInfo" => 20,
        _ => 1,
    }
}

/// A Binance error: an HTTP status and `{"code":..,"msg":..}`.
#[derive(Debug)]
pub(super) struct BinanceError {
    status: StatusCode,
    code: i32,
    msg: String,
}

impl BinanceError {
    fn bad_request(code: i32, msg: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            msg: msg.into(),
        }
    }

    fn mandatory(param: &str) -> Self {
        Self::bad_request(
            -1102,
            format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed."),
        )
    }

    fn illegal_chars(param: &str, legal: &str) -> Self {
        Self::bad_request(
            -1100,
            format!("Illegal characters found in parameter '{param}'; legal range is '{legal}'."),
        )
    }

    fn invalid_symbol() -> Self {
        Self::bad_request(-1121, "Invalid symbol.")
    }
}

impl IntoResponse for BinanceError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"code": self.code, "msg": self.msg}))).into_response()
    }
}

enum Verdict {
    Serve,
    TooManyRequests { retry_after_secs: u64 },
    Banned { until: Instant, until_ms: i64 },
}

fn ceil_secs(duration: Duration) -> u64 {
    duration
        .as_millis()
        .div_ceil(1000)
        .try_into()
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Weighs, limits and logs every REST request.
async fn weigh(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let at = Instant::now();
    let now_ms = shared.now_ms();
    let limit = shared.config.weight_limit_1m;
    let window_ms = shared.weight_window_ms();
    let (verdict, used) = {
        let mut rest = lock(&shared.rest);
        let window = now_ms.div_euclid(window_ms);
        if rest.window != window {
            rest.window = window;
            rest.used_weight = 0;
        }
        rest.used_weight = rest.used_weight.saturating_add(weight_of(&path));
        let verdict = match rest.backoff_until {
            Some(until) if at < until => {
                let left = i64::try_from((until - at).as_millis()).unwrap_or(i64::MAX);
                Verdict::Banned {
                    until,
                    until_ms: now_ms.saturating_add(left),
                }
            }
            _ if rest.forced_429 > 0 => {
                rest.forced_429 -= 1;
                let retry_after_secs = ceil_secs(rest.forced_retry_after);
                rest.backoff_until = at.checked_add(Duration::from_secs(retry_after_secs));
                Verdict::TooManyRequests { retry_after_secs }
            }
            _ if rest.used_weight > limit => {
                let to_next_window = (window + 1) * window_ms - now_ms;
                let retry_after_secs =
                    ceil_secs(Duration::from_millis(u64::try_from(to_next_window).unwrap_or(1)));
                rest.backoff_until = at.checked_add(Duration::from_secs(retry_after_secs));
                Verdict::TooManyRequests { retry_after_secs }
            }
            _ => Verdict::Serve,
        };
        (verdict, rest.used_weight)
    };
    let mut response = match verdict {
        Verdict::Serve => next.run(request).await,
        Verdict::TooManyRequests { retry_after_secs } => {
            let msg = format!(
                "Too many requests; current limit of IP(127.0.0.1) is {limit} requests per minute. \
                 Please use the websocket for live updates to avoid polling the API."
            );
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({"code": -1003, "msg": msg})),
            )
                .into_response();
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after_secs));
            response
        }
        Verdict::Banned { until, until_ms } => {
            let msg = format!(
                "Way too much request weight used; IP banned until {until_ms}. \
                 Please use WebSocket Streams for live updates to avoid bans."
            );
            let status = StatusCode::IM_A_TEAPOT;
            let mut response = (status, Json(json!({"code": -1003, "msg": msg}))).into_response();
            let retry_after_secs = ceil_secs(until.saturating_duration_since(at));
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after_secs));
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(USED_WEIGHT, HeaderValue::from(used));
    let (_, _, label) = window_names(window_ms);
    if let Ok(name) = HeaderName::from_bytes(format!("x-mbx-used-weight-{label}").as_bytes()) {
        headers.insert(name, HeaderValue::from(used));
    }
    let status = response.status().as_u16();
    lock(&shared.rest).log.push(RestRequest {
        path,
        query,
        status,
        at,
        used_weight: used,
    });
    response
}

async fn ping() -> Json<Value> {
    Json(json!({}))
}

async fn time(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"serverTime": shared.now_ms()}))
}

async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// The first value of `name`, if sent and not empty.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

fn long_param(params: &[(String, String)], name: &str) -> Result<Option<i64>, BinanceError> {
    param(params, name)
        .map(|raw| {
            if raw.len() <= 20 && raw.bytes().all(|b| b.is_ascii_digit()) {
                raw.parse::<i64>()
                    .map_err(|_| BinanceError::illegal_chars(name, LONG))
            } else {
                Err(BinanceError::illegal_chars(name, LONG))
            }
        })
        .transpose()
}

async fn klines(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, BinanceError> {
    let raw_symbol = param(&params, "symbol").ok_or_else(|| BinanceError::mandatory("symbol"))?;
    let raw_interval = param(&params, "interval").ok_or_else(|| BinanceError::mandatory("interval"))?;
    // Binance's symbols are upper case; `btcusdt` is as invalid as `NOPE`.
    let symbol = Symbol::parse(raw_symbol)
        .ok()
        .filter(|symbol| symbol.as_str() == raw_symbol && shared.is_configured(symbol))
        .ok_or_else(BinanceError::invalid_symbol)?;
    let interval: Interval = raw_interval
        .parse()
        .map_err(|_| BinanceError::bad_request(-1120, "Invalid interval."))?;
    let start = long_param(&params, "startTime")?;
    let end = long_param(&params, "endTime")?;
    let limit = long_param(&params, "limit")?.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(BinanceError::bad_request(
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ));
    }
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(BinanceError::bad_request(
            -1023,
            "Start time is greater than end time.",
        ));
    }
    let limit = usize::try_from(limit).unwrap_or(500);
    let rows = shared
        .with_series(&symbol, interval, |series| {
            series
                .between(start, end, limit)
                .iter()
                .map(|kline| kline.rest_row())
                .collect::<Vec<_>>()
        })
        .ok_or_else(BinanceError::invalid_symbol)?;
    Ok(Json(Value::Array(rows)))
}

async fn exchange_info(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, BinanceError> {
    let mut symbols = exchange_info::catalog(&shared.config.symbols);
    let wanted: Option<Vec<String>> = match (param(&params, "symbol"), param(&params, "symbols")) {
        (Some(one), _) => Some(vec![one.to_owned()]),
        (None, Some(list)) => Some(
            serde_json::from_str::<Vec<String>>(list)
                .map_err(|_| BinanceError::illegal_chars("symbols", SYMBOL_LIST))?,
        ),
        (None, None) => None,
    };
    if let Some(wanted) = wanted {
        if wanted
            .iter()
            .any(|name| !symbols.iter().any(|s| s.symbol == *name))
        {
            return Err(BinanceError::invalid_symbol());
        }
        symbols.retain(|s| wanted.contains(&s.symbol));
    }
    Ok(Json(exchange_info::body(
        shared.now_ms(),
        shared.config.weight_limit_1m,
        shared.weight_window_ms(),
        &symbols,
    )))
}
