//! Binance's JSON, read strictly: a kline event from the combined stream, a
//! row of `GET /api/v3/klines`, and the parts of `exchangeInfo` we use.
//!
//! Policy: nothing from the wire reaches the store unchecked. A message that
//! does not parse, or parses to a candle that cannot be (a negative price, a
//! high below the low, an open time off the interval's grid, a series we did
//! not ask for), is refused with a [`Rejection`] saying which kind it is, so
//! the caller can count it and skip it.

use inchart_api::market::{Candle, Interval, Symbol};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A change to one candle, as the exchange announced it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KlineUpdate<'a> {
    pub symbol: &'a Symbol,
    pub interval: Interval,
    pub candle: Candle,
    /// When the exchange produced the event, in ms since the Unix epoch.
    pub event_time: i64,
}

/// What one frame of the combined stream says.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent<'a> {
    Kline(KlineUpdate<'a>),
    /// The server is about to go away: connect anew before it does.
    ServerShutdown,
}

/// Why a frame or a row was refused; each kind is counted and logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Not JSON, or JSON of another shape.
    Malformed,
    /// An event type we did not subscribe to.
    UnknownEvent,
    /// A symbol or interval we do not carry.
    UnknownSeries,
    /// A price or amount that is not a finite, non-negative number, or a
    /// price of zero.
    BadNumber,
    /// Open, high, low and close that cannot belong to one candle.
    BadRange,
    /// An open or close time off the interval's grid.
    BadTime,
}

impl Rejection {
    pub const ALL: [Rejection; 6] = [
        Rejection::Malformed,
        Rejection::UnknownEvent,
        Rejection::UnknownSeries,
        Rejection::BadNumber,
        Rejection::BadRange,
        Rejection::BadTime,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::UnknownEvent => "unknown_event",
            Rejection::UnknownSeries => "unknown_series",
            Rejection::BadNumber => "bad_number",
            Rejection::BadRange => "bad_range",
            Rejection::BadTime => "bad_time",
        }
    }
}

/// `{"stream":"btcusdt@kline_1m","data":{…}}`; Binance also sends some
/// events (`serverShutdown`) unwrapped.
#[derive(Deserialize)]
struct Combined<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct EventHead<'a> {
    #[serde(rename = "e", borrow)]
    kind: &'a str,
}

#[derive(Deserialize)]
struct KlineEvent<'a> {
    #[serde(rename = "E")]
    event_time: i64,
    #[serde(rename = "k", borrow)]
    kline: KlineBody<'a>,
}

#[derive(Deserialize)]
struct KlineBody<'a> {
    #[serde(rename = "t")]
    open_time: i64,
    #[serde(rename = "T")]
    close_time: i64,
    #[serde(rename = "s")]
    symbol: &'a str,
    #[serde(rename = "i")]
    interval: &'a str,
    #[serde(rename = "o")]
    open: &'a str,
    #[serde(rename = "h")]
    high: &'a str,
    #[serde(rename = "l")]
    low: &'a str,
    #[serde(rename = "c")]
    close: &'a str,
    #[serde(rename = "v")]
    volume: &'a str,
    #[serde(rename = "n")]
    trades: i64,
    #[serde(rename = "x")]
    closed: bool,
}

/// Reads one text frame of the combined stream. `carried` are the symbols
/// we subscribed to; the returned update borrows the matching one.
pub fn parse_stream_frame<'s>(text: &str, carried: &'s [Symbol]) -> Result<StreamEvent<'s>, Rejection> {
    let data = match serde_json::from_str::<Combined<'_>>(text) {
        Ok(combined) => combined.data.get(),
        Err(_) => text,
    };
    let head: EventHead<'_> = serde_json::from_str(data).map_err(|_| Rejection::Malformed)?;
    match head.kind {
        "kline" => {
            let event: KlineEvent<'_> = serde_json::from_str(data).map_err(|_| Rejection::Malformed)?;
            let body = event.kline;
            let (symbol, interval) = series_of(body.symbol, body.interval, carried)?;
            if body.close_time != body.open_time + interval.millis() - 1 {
                return Err(Rejection::BadTime);
            }
            let candle = checked_candle(
                interval,
                body.open_time,
                [body.open, body.high, body.low, body.close, body.volume],
                body.trades,
                body.closed,
            )?;
            Ok(StreamEvent::Kline(KlineUpdate {
                symbol,
                interval,
                candle,
                event_time: event.event_time,
            }))
        }
        "serverShutdown" => Ok(StreamEvent::ServerShutdown),
        _ => Err(Rejection::UnknownEvent),
    }
}

/// One row of `GET /api/v3/klines`: `[openTime, "open", "high", "low",
/// "close", "volume", closeTime, "quoteVolume", trades, …]`.
#[derive(Deserialize)]
pub struct KlineRow(
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    serde::de::IgnoredAny,
    i64,
    #[serde(default)] serde::de::IgnoredAny,
    #[serde(default)] serde::de::IgnoredAny,
    #[serde(default)] serde::de::IgnoredAny,
);

impl KlineRow {
    pub fn open_time(&self) -> i64 {
        self.0
    }

    /// The row as a candle of `interval`; `closed` is the caller's to say,
    /// as a REST row does not tell.
    pub fn to_candle(&self, interval: Interval, closed: bool) -> Result<Candle, Rejection> {
        if self.6 != self.0 + interval.millis() - 1 {
            return Err(Rejection::BadTime);
        }
        checked_candle(
            interval,
            self.0,
            [&self.1, &self.2, &self.3, &self.4, &self.5],
            self.8,
            closed,
        )
    }
}

/// The part of `GET /api/v3/exchangeInfo` we read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo {
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
    pub symbols: Vec<ExchangeSymbol>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub rate_limit_type: String,
    pub interval: String,
    pub interval_num: u32,
    pub limit: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeSymbol {
    pub symbol: String,
    pub status: String,
    pub base_asset: String,
    pub quote_asset: String,
}

/// The request weight allowed per window, as the exchange states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightLimit {
    pub limit: u32,
    pub window: std::time::Duration,
}

impl WeightLimit {
    /// Binance's default: 6000 a minute.
    pub const DEFAULT: WeightLimit = WeightLimit {
        limit: 6000,
        window: std::time::Duration::from_secs(60),
    };

    /// The header that reports the weight used in this window:
    /// `x-mbx-used-weight-1m` for a minute, `…-10s` for ten seconds.
    pub fn used_weight_header(&self) -> String {
        let secs = self.window.as_secs().max(1);
        let (unit, letter) = [(86_400, 'd'), (3_600, 'h'), (60, 'm'), (1, 's')]
            .into_iter()
            .find(|(unit, _)| secs.is_multiple_of(*unit))
            .unwrap_or((1, 's'));
        format!("x-mbx-used-weight-{}{letter}", secs / unit)
    }
}

impl ExchangeInfo {
    /// The request weight limit, when the exchange states one (the
    /// shortest window, if it states several).
    pub fn weight_limit(&self) -> Option<WeightLimit> {
        self.rate_limits
            .iter()
            .filter(|limit| limit.rate_limit_type == "REQUEST_WEIGHT" && limit.interval_num > 0)
            .filter_map(|limit| {
                let unit = match limit.interval.as_str() {
                    "SECOND" => 1,
                    "MINUTE" => 60,
                    "HOUR" => 3_600,
                    "DAY" => 86_400,
                    _ => return None,
                };
                Some(WeightLimit {
                    limit: limit.limit,
                    window: std::time::Duration::from_secs(unit * u64::from(limit.interval_num)),
                })
            })
            .min_by_key(|limit| limit.window)
    }
}

fn series_of<'s>(
    symbol: &str,
    interval: &str,
    carried: &'s [Symbol],
) -> Result<(&'s Symbol, Interval), Rejection> {
    let symbol = carried
        .iter()
        .find(|known| known.as_str() == symbol)
        .ok_or(Rejection::UnknownSeries)?;
    let interval = interval
        .parse::<Interval>()
        .map_err(|_| Rejection::UnknownSeries)?;
    Ok((symbol, interval))
}

fn checked_candle(
    interval: Interval,
    open_time: i64,
    [open, high, low, close, volume]: [&str; 5],
    trades: i64,
    closed: bool,
) -> Result<Candle, Rejection> {
    if open_time < 0 || interval.open_time_of(open_time) != open_time {
        return Err(Rejection::BadTime);
    }
    let price = |text: &str| match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(Rejection::BadNumber),
    };
    let (open, high, low, close) = (price(open)?, price(high)?, price(low)?, price(close)?);
    let volume = match volume.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => value,
        _ => return Err(Rejection::BadNumber),
    };
    if trades < 0 {
        return Err(Rejection::BadNumber);
    }
    if low > open.min(close) || high < open.max(close) {
        return Err(Rejection::BadRange);
    }
    Ok(Candle {
        open_time,
        open,
        high,
        low,
        close,
        volume,
        trades,
        closed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carried() -> Vec<Symbol> {
        vec![Symbol::parse("BTCUSDT").unwrap()]
    }

    fn frame(k: &str) -> String {
        format!(
            r#"{{"stream":"btcusdt@kline_1m","data":{{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{k}}}}}"#
        )
    }

    const GOOD: &str = r#"{"t":1672515780000,"T":1672515839999,"s":"BTCUSDT","i":"1m","f":100,"L":200,
        "o":"16500.10000000","c":"16510.00000000","h":"16520.00000000","l":"16490.00000000",
        "v":"12.50000000","n":101,"x":false,"q":"1.0","V":"0.5","Q":"0.5","B":"123456"}"#;

    #[test]
    fn a_kline_event_reads_as_a_candle() {
        let carried = carried();
        let StreamEvent::Kline(update) = parse_stream_frame(&frame(GOOD), &carried).unwrap() else {
            panic!("not a kline");
        };
        assert_eq!(update.symbol.as_str(), "BTCUSDT");
        assert_eq!(update.interval, Interval::M1);
        assert_eq!(update.event_time, 1_672_515_782_136);
        assert_eq!(update.candle.open_time, 1_672_515_780_000);
        assert_eq!(update.candle.high, 16_520.0);
        assert_eq!(update.candle.trades, 101);
        assert!(!update.candle.closed);
    }

    #[test]
    fn server_shutdown_is_understood_wrapped_or_not() {
        let carried = carried();
        let raw = r#"{"e":"serverShutdown","E":1672515782136}"#;
        assert_eq!(parse_stream_frame(raw, &carried), Ok(StreamEvent::ServerShutdown));
        let wrapped = format!(r#"{{"stream":"btcusdt@kline_1m","data":{raw}}}"#);
        assert_eq!(
            parse_stream_frame(&wrapped, &carried),
            Ok(StreamEvent::ServerShutdown)
        );
    }

    #[test]
    fn impossible_candles_are_refused_by_kind() {
        let carried = carried();
        let cases = [
            ("not json", Rejection::Malformed),
            (r#"{"stream":"x","data":{"e":"kline"}}"#, Rejection::Malformed),
            (r#"{"e":"trade","E":1}"#, Rejection::UnknownEvent),
            (
                &frame(&GOOD.replace("\"o\":\"16500.10000000\"", "\"o\":16500.1")),
                Rejection::Malformed,
            ),
            (
                &frame(&GOOD.replace("16490.00000000", "-1")),
                Rejection::BadNumber,
            ),
            (
                &frame(&GOOD.replace("16490.00000000", "NaN")),
                Rejection::BadNumber,
            ),
            (
                &frame(&GOOD.replace("16520.00000000", "16000")),
                Rejection::BadRange,
            ),
            (
                &frame(&GOOD.replace("\"s\":\"BTCUSDT\"", "\"s\":\"DOGEBTC\"")),
                Rejection::UnknownSeries,
            ),
            (
                &frame(&GOOD.replace("\"i\":\"1m\"", "\"i\":\"3m\"")),
                Rejection::UnknownSeries,
            ),
            (
                &frame(&GOOD.replace("1672515780000", "1672515781000")),
                Rejection::BadTime,
            ),
            (
                &frame(&GOOD.replace("1672515839999", "1672515899999")),
                Rejection::BadTime,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_stream_frame(text, &carried), Err(expected), "{text}");
        }
    }

    #[test]
    fn the_weight_limit_and_its_header_are_read_from_exchange_info() {
        let info: ExchangeInfo = serde_json::from_str(
            r#"{"rateLimits":[
                {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":100},
                {"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000}],
                "symbols":[]}"#,
        )
        .unwrap();
        let limit = info.weight_limit().unwrap();
        assert_eq!(limit, WeightLimit::DEFAULT);
        assert_eq!(limit.used_weight_header(), "x-mbx-used-weight-1m");
        let short = WeightLimit {
            limit: 10,
            window: std::time::Duration::from_secs(2),
        };
        assert_eq!(short.used_weight_header(), "x-mbx-used-weight-2s");
        let none: ExchangeInfo = serde_json::from_str(r#"{"symbols":[]}"#).unwrap();
        assert_eq!(none.weight_limit(), None);
    }

    #[test]
    fn a_rest_row_reads_as_a_candle() {
        let rows: Vec<KlineRow> = serde_json::from_str(
            r#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",
                1499040059999,"2434.19055334",308,"1756.87402397","28.46694368","0"]]"#,
        )
        .unwrap();
        let candle = rows[0].to_candle(Interval::M1, true).unwrap();
        assert_eq!(candle.open, 0.0163479);
        assert_eq!(candle.trades, 308);
        assert!(candle.closed);
        assert_eq!(rows[0].to_candle(Interval::M5, true), Err(Rejection::BadTime));
    }
}
