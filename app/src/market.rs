//! The market vocabulary shared by the server, the API and the browser:
//! symbols, intervals and candles.
//!
//! Policy: a `Symbol` or an `Interval` that exists is valid. Parsing is the
//! only way to make one, so code that holds one never re-checks it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A trading pair as Binance names it, e.g. `BTCUSDT`: 2 to 20 upper-case
/// ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

/// Why a string is not a symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a symbol is 2 to 20 letters and digits, like BTCUSDT")]
pub struct InvalidSymbol;

impl Symbol {
    /// Parses a symbol, accepting lower case (`btcusdt`) as traders type it.
    pub fn parse(raw: &str) -> Result<Self, InvalidSymbol> {
        let upper = raw.trim().to_ascii_uppercase();
        let valid_len = (2..=20).contains(&upper.len());
        if valid_len
            && upper
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            Ok(Self(upper))
        } else {
            Err(InvalidSymbol)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The symbol a new visitor sees first.
impl Default for Symbol {
    fn default() -> Self {
        Self("BTCUSDT".to_string())
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Symbol {
    type Err = InvalidSymbol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Symbol {
    type Error = InvalidSymbol;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Symbol> for String {
    fn from(value: Symbol) -> Self {
        value.0
    }
}

/// A candle width. The chart offers exactly these six.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Interval {
    #[serde(rename = "1m")]
    M1,
    #[serde(rename = "5m")]
    M5,
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "4h")]
    H4,
    #[serde(rename = "1d")]
    D1,
}

/// Why a string is not an interval.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interval must be one of 1m, 5m, 15m, 1h, 4h, 1d")]
pub struct InvalidInterval;

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Interval; 6] = [
        Interval::M1,
        Interval::M5,
        Interval::M15,
        Interval::H1,
        Interval::H4,
        Interval::D1,
    ];

    /// Binance's name for it (`1m` … `1d`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Interval::M1 => "1m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::H1 => "1h",
            Interval::H4 => "4h",
            Interval::D1 => "1d",
        }
    }

    /// The width of one candle in milliseconds.
    pub const fn millis(self) -> i64 {
        const MINUTE: i64 = 60_000;
        match self {
            Interval::M1 => MINUTE,
            Interval::M5 => 5 * MINUTE,
            Interval::M15 => 15 * MINUTE,
            Interval::H1 => 60 * MINUTE,
            Interval::H4 => 240 * MINUTE,
            Interval::D1 => 1_440 * MINUTE,
        }
    }

    /// The open time of the candle that contains `time_ms`. Candles are
    /// aligned to the Unix epoch, as Binance aligns them (UTC days).
    pub const fn open_time_of(self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.millis()) * self.millis()
    }
}

/// The interval a new visitor sees first.
impl Default for Interval {
    fn default() -> Self {
        Interval::H1
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interval {
    type Err = InvalidInterval;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interval::ALL
            .into_iter()
            .find(|interval| interval.as_str() == s)
            .ok_or(InvalidInterval)
    }
}

/// One OHLCV candle. `open_time` is in milliseconds since the Unix epoch
/// (UTC) and, with the symbol and interval, identifies the candle.
///
/// Prices are `f64`: they are chart coordinates here, never balances, and
/// Binance's quotes (at most 8 decimals, well under 16 significant digits)
/// survive the round trip through an `f64` unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub trades: i64,
    /// Whether the candle's time is over and its values are final. Only the
    /// newest candle of a series can be forming.
    #[serde(default)]
    pub closed: bool,
}

/// Where a series' candles come from; the chart labels simulated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedSource {
    Simulated,
    Binance,
}

/// How the live feed stands right now, as every chart shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedStatus {
    /// Binance's stream is connected and candles move as trades happen.
    Live,
    /// The stream dropped; the server is reconnecting and will fill the gap.
    Reconnecting,
    /// Binance cannot be reached; the candles are simulated.
    Simulated,
}

impl FeedStatus {
    /// Where candles come from in this state.
    pub const fn source(self) -> FeedSource {
        match self {
            FeedStatus::Live | FeedStatus::Reconnecting => FeedSource::Binance,
            FeedStatus::Simulated => FeedSource::Simulated,
        }
    }

    /// The word the status indicator shows.
    pub const fn label(self) -> &'static str {
        match self {
            FeedStatus::Live => "Live",
            FeedStatus::Reconnecting => "Reconnecting",
            FeedStatus::Simulated => "Simulated data",
        }
    }
}

/// One entry of `GET /api/v1/symbols`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolInfo {
    pub symbol: Symbol,
    pub base: String,
    pub quote: String,
    /// Whether InChart carries its candles (only carried symbols have charts).
    pub carried: bool,
}

/// The body of `GET /api/v1/symbols?q=&limit=`: matches, carried first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolList {
    pub symbols: Vec<SymbolInfo>,
}

/// The body of `GET /api/v1/candles`: a series, ascending by open time,
/// one candle per open time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandleSeries {
    pub symbol: Symbol,
    pub interval: Interval,
    pub source: FeedSource,
    pub candles: Vec<Candle>,
}

/// The body of every API error: a machine-readable kind, the offending
/// field when there is one, and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    /// Where to upgrade, when the account's plan is what stands in the way
    /// (`kind` is then `plan_limit` and `field` names the limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<String>,
}

/// What a chart page needs to know before it draws: where candles come
/// from and which symbols this deployment carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketOverview {
    pub source: FeedSource,
    pub status: FeedStatus,
    pub symbols: Vec<Symbol>,
}

/// The server's answer to [`get_market_overview`], put in each request's
/// context by the server.
#[derive(Debug, Clone)]
pub struct MarketDirectory(pub MarketOverview);

/// The feed source and the symbols on offer. A GET: it changes nothing,
/// so it needs no form token.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_market_overview() -> Result<MarketOverview, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<MarketDirectory>()
        .map(|MarketDirectory(overview)| overview)
        .ok_or_else(|| {
            leptos::prelude::ServerFnError::new("The market list is not configured on this server.")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_normalised_and_checked() {
        assert_eq!(Symbol::parse(" btcusdt ").unwrap().as_str(), "BTCUSDT");
        assert!(Symbol::parse("B").is_err());
        assert!(Symbol::parse("BTC-USDT").is_err());
        assert!(Symbol::parse(&"A".repeat(21)).is_err());
    }

    #[test]
    fn intervals_round_trip_and_align() {
        for interval in Interval::ALL {
            assert_eq!(interval.as_str().parse::<Interval>(), Ok(interval));
        }
        assert!("2h".parse::<Interval>().is_err());
        assert_eq!(Interval::H1.open_time_of(3_600_000 * 5 + 17), 3_600_000 * 5);
        assert_eq!(Interval::M1.open_time_of(-1), -60_000);
    }
}
