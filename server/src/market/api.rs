//! `GET /api/v1/candles?symbol=&interval=&start=&end=&limit=`.
//!
//! Answers a series ascending by open time, one candle per open time, like
//! Binance's klines: from `start` forwards when it is given, otherwise the
//! most recent `limit` candles up to `end` (or now). Every bad parameter is
//! a 400 naming the field. A read made only of closed, gap-free candles
//! never changes, so it is kept in the cache and served from there. A read
//! of the newest candles is served from the live window when it holds them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use inchart_api::market::{Candle, CandleSeries, Interval, Symbol};
use serde::Deserialize;

use super::candle_store::CandleRange;
use super::window::SeriesKey;
use super::{Market, Symbols};
use crate::auth::Auth;
use crate::plans::{Action, Plans};
use crate::platform::clock::now_ms;
use crate::web::ApiError;

pub const DEFAULT_LIMIT: u64 = 500;
pub const MAX_LIMIT: u64 = 1000;
/// How long a closed, complete read stays cached.
const CLOSED_READ_TTL: Duration = Duration::from_secs(600);
/// The response header that tells whether the cache answered.
pub const CACHE_HEADER: &str = "x-inchart-cache";

/// The raw query: everything arrives as text so that each bad value gets
/// its own message naming its field.
#[derive(Debug, Deserialize)]
pub struct CandleQuery {
    symbol: Option<String>,
    interval: Option<String>,
    start: Option<String>,
    end: Option<String>,
    limit: Option<String>,
}

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CandleRequest {
    symbol: Symbol,
    interval: Interval,
    range: CandleRange,
}

pub async fn candles(
    State(market): State<Market>,
    State(auth): State<Auth>,
    State(plans): State<Plans>,
    headers: HeaderMap,
    Query(query): Query<CandleQuery>,
) -> Result<Response, ApiError> {
    let mut request = validate(query, &market.symbols)?;
    // A public path: the session middleware leaves it alone, so a
    // signed-in reader's plan is found from the access cookie here.
    let user = auth.user_of_public_request(&headers).await;
    let history = plans.check(user, Action::ReadHistory).await?;
    let earliest = within_history(&mut request, history.limit, now_ms()).map_err(|()| history.refused())?;
    let mut response = read_candles(&market, request).await?;
    response
        .headers_mut()
        .insert("x-inchart-history-start", HeaderValue::from(earliest));
    Ok(response)
}

/// Keeps a read within the plan's history: the newest `depth` candles.
/// A read that starts earlier starts at the first of them; one that ends
/// before them is refused (`Err`). Returns the earliest open time the plan
/// reaches.
fn within_history(request: &mut CandleRequest, depth: u32, now: i64) -> Result<i64, ()> {
    let step = request.interval.millis();
    let earliest = request.interval.open_time_of(now) - (i64::from(depth) - 1) * step;
    if request.range.end.is_some_and(|end| end < earliest) {
        return Err(());
    }
    let range = &mut request.range;
    range.limit = range.limit.min(u64::from(depth));
    match (range.start, range.end) {
        (Some(start), _) => range.start = Some(start.max(earliest)),
        // Read backwards from `end`: no further than the earliest candle.
        (None, Some(end)) => {
            let reachable = (request.interval.open_time_of(end) - earliest) / step + 1;
            range.limit = range.limit.min(reachable as u64);
        }
        (None, None) => {}
    }
    Ok(earliest)
}

async fn read_candles(state: &Market, request: CandleRequest) -> Result<Response, ApiError> {
    if let Some(body) = from_window(state, &request).await {
        return Ok(json_response(body, "window"));
    }
    let now = now_ms();
    let cache_key = cacheable(&request, now).then(|| cache_key(&request));

    if let Some(key) = &cache_key {
        match state.cache.get(key).await {
            Ok(Some(body)) => return Ok(json_response(body, "hit")),
            Ok(None) => {}
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "cache read failed; reading the database"
            ),
        }
    }

    let candles = state
        .candles
        .range(&request.symbol, request.interval, request.range)
        .await?;
    let complete = is_complete(&request, &candles);
    let series = CandleSeries {
        symbol: request.symbol,
        interval: request.interval,
        source: state.status().source(),
        candles,
    };
    let body = serde_json::to_vec(&series).context("while encoding candles")?;

    if let Some(key) = cache_key.filter(|_| complete)
        && let Err(error) = state.cache.set(&key, &body, CLOSED_READ_TTL).await
    {
        tracing::warn!(error = format!("{error:#}"), "cache write failed");
    }
    Ok(json_response(body, "miss"))
}

/// The newest candles of a series straight from the live window, already
/// encoded, when the window holds all of them without a gap. Only reads of
/// the latest candles (no `start`, no `end`) qualify: the chart's first read.
async fn from_window(state: &Market, request: &CandleRequest) -> Option<Bytes> {
    if request.range.start.is_some() || request.range.end.is_some() {
        return None;
    }
    let key = SeriesKey::new(&request.symbol, request.interval);
    let limit = usize::try_from(request.range.limit).ok()?;
    // Read before the window: a change landing meanwhile makes the body
    // older than its version says, so it is rebuilt on the next read.
    let version = state.window.version(&key);
    if let Some(body) = state.latest_reads.get(&key, limit, version) {
        return Some(body);
    }
    let candles = state.newest.from_window(&key, limit).await?;
    let source = serde_json::to_string(&state.status().source()).ok()?;
    let mut body = Vec::with_capacity(96 + candles.iter().map(|c| c.json.len() + 1).sum::<usize>());
    body.extend_from_slice(br#"{"symbol":""#);
    body.extend_from_slice(request.symbol.as_str().as_bytes());
    body.extend_from_slice(br#"","interval":""#);
    body.extend_from_slice(request.interval.as_str().as_bytes());
    body.extend_from_slice(br#"","source":"#);
    body.extend_from_slice(source.as_bytes());
    body.extend_from_slice(br#","candles":["#);
    for (index, candle) in candles.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(candle.json.as_bytes());
    }
    body.extend_from_slice(b"]}");
    let body = Bytes::from(body);
    state.latest_reads.keep(key, limit, version, body.clone());
    Some(body)
}

/// The encoded answers to the chart's usual reads of the newest candles
/// (500 or 1000 of them), kept until their series changes: thousands of
/// charts opening at once cost one window read a series and a change.
/// An answer is also dropped after [`LATEST_READ_AGE`], in case this
/// instance stops hearing of changes.
#[derive(Default)]
pub struct LatestReads {
    bodies: std::sync::Mutex<HashMap<(SeriesKey, usize), KeptRead>>,
}

/// An answer with the series version it was built at and when.
type KeptRead = (u64, Instant, Bytes);

const LATEST_READ_AGE: Duration = Duration::from_secs(1);

impl LatestReads {
    fn get(&self, key: &SeriesKey, limit: usize, version: u64) -> Option<Bytes> {
        let bodies = self
            .bodies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (kept_version, kept_at, body) = bodies.get(&(key.clone(), limit))?;
        (*kept_version == version && kept_at.elapsed() < LATEST_READ_AGE).then(|| body.clone())
    }

    fn keep(&self, key: SeriesKey, limit: usize, version: u64, body: Bytes) {
        if limit == DEFAULT_LIMIT as usize || limit == MAX_LIMIT as usize {
            let mut bodies = self
                .bodies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            bodies.insert((key, limit), (version, Instant::now(), body));
        }
    }
}

fn json_response(body: impl Into<Bytes>, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                header::HeaderName::from_static(CACHE_HEADER),
                HeaderValue::from_static(cache),
            ),
        ],
        body.into(),
    )
        .into_response()
}

fn validate(query: CandleQuery, carried: &Symbols) -> Result<CandleRequest, ApiError> {
    let symbol = carried.carried(&required(query.symbol, "symbol")?, "symbol")?;
    let interval = required(query.interval, "interval")?
        .parse::<Interval>()
        .map_err(|error| ApiError::invalid("interval", error.to_string()))?;
    let start = optional_time(query.start, "start")?;
    let end = optional_time(query.end, "end")?;
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(ApiError::invalid("end", "end must not be before start"));
    }
    let limit = match query.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<u64>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                return Err(ApiError::invalid(
                    "limit",
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    Ok(CandleRequest {
        symbol,
        interval,
        range: CandleRange { start, end, limit },
    })
}

fn required(value: Option<String>, field: &'static str) -> Result<String, ApiError> {
    value
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))
}

fn optional_time(value: Option<String>, field: &'static str) -> Result<Option<i64>, ApiError> {
    match value.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(millis) if millis >= 0 => Ok(Some(millis)),
            _ => Err(ApiError::invalid(
                field,
                format!("{field} must be a time in milliseconds since 1970-01-01 UTC, like 1700000000000"),
            )),
        },
    }
}

/// Only reads that end before the forming candle can be final.
fn cacheable(request: &CandleRequest, now_ms: i64) -> bool {
    request
        .range
        .end
        .is_some_and(|end| end < request.interval.open_time_of(now_ms))
}

/// A read is complete when it holds `limit` candles with no gap, starting
/// at `start` (or ending at `end`): then no later write can change it.
fn is_complete(request: &CandleRequest, candles: &[Candle]) -> bool {
    let step = request.interval.millis();
    let (Some(first), Some(last)) = (candles.first(), candles.last()) else {
        return false;
    };
    let full = candles.len() as u64 == request.range.limit;
    let contiguous = candles
        .windows(2)
        .all(|pair| pair[1].open_time - pair[0].open_time == step);
    let anchored = match (request.range.start, request.range.end) {
        (Some(start), _) => first.open_time == request.interval.open_time_of(start + step - 1),
        (None, Some(end)) => last.open_time == request.interval.open_time_of(end),
        (None, None) => false,
    };
    full && contiguous && anchored
}

fn cache_key(request: &CandleRequest) -> String {
    let CandleRange { start, end, limit } = request.range;
    let part = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
    format!(
        "candles:v1:{}:{}:{}:{}:{limit}",
        request.symbol,
        request.interval,
        part(start),
        part(end)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> CandleQuery {
        let get = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        CandleQuery {
            symbol: get("symbol"),
            interval: get("interval"),
            start: get("start"),
            end: get("end"),
            limit: get("limit"),
        }
    }

    fn request(start: Option<i64>, end: Option<i64>, limit: u64) -> CandleRequest {
        CandleRequest {
            symbol: Symbol::parse("BTCUSDT").unwrap(),
            interval: Interval::M1,
            range: CandleRange { start, end, limit },
        }
    }

    fn candle(open_time: i64) -> Candle {
        Candle {
            open_time,
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 1.0,
            trades: 1,
            closed: true,
        }
    }

    #[test]
    fn lower_case_symbols_and_defaults_are_accepted() {
        let carried = Symbols::new(vec![Symbol::parse("BTCUSDT").unwrap()]);
        let checked = validate(query(&[("symbol", "btcusdt"), ("interval", "1m")]), &carried).unwrap();
        assert_eq!(checked, request(None, None, DEFAULT_LIMIT));
    }

    #[test]
    fn only_full_gap_free_anchored_reads_are_complete() {
        let minute = Interval::M1.millis();
        let three = [candle(0), candle(minute), candle(2 * minute)];
        assert!(is_complete(&request(Some(0), Some(10 * minute), 3), &three));
        assert!(is_complete(&request(None, Some(2 * minute + 5), 3), &three));
        assert!(!is_complete(&request(Some(0), None, 4), &three), "short");
        let gap = [candle(0), candle(2 * minute), candle(3 * minute)];
        assert!(!is_complete(&request(Some(0), None, 3), &gap), "gap");
        assert!(!is_complete(&request(Some(1), None, 3), &three), "starts late");
        assert!(!is_complete(&request(None, None, 3), &three), "open-ended");
    }

    #[test]
    fn reads_reaching_the_forming_candle_are_not_cached() {
        let now = 10 * Interval::M1.millis() + 30_000;
        assert!(cacheable(&request(None, Some(9 * Interval::M1.millis()), 5), now));
        assert!(!cacheable(
            &request(None, Some(10 * Interval::M1.millis()), 5),
            now
        ));
        assert!(!cacheable(&request(Some(0), None, 5), now));
    }
}
