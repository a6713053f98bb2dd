//! The fake's market: one seeded random walk per series (symbol × interval),
//! its candles from the start of history to the forming one, and the kline
//! JSON Binance would send for them.
//!
//! Policy: prices and volumes are stored already rounded to the decimals they
//! go out with, so a client that parses the wire format gets back exactly the
//! `f64`s that [`Series::candles`] returns.

use inchart_api::market::{Candle, Interval, Symbol};
use serde_json::{Value, json};

use crate::seeded::{Rng, round_to};

/// Random-walk steps simulated for a candle that passed while nobody ticked.
const STEPS_PER_CANDLE: u32 = 12;

/// Binance's decimal strings: always 8 decimals, like `"0.01634790"`.
pub(crate) fn decimal(value: f64) -> String {
    format!("{value:.8}")
}

/// Where a symbol's price starts: realistic levels for well-known bases,
/// a seeded level between 1 and 600 for anything else.
pub(crate) fn reference_price(symbol: &Symbol) -> f64 {
    let name = symbol.as_str();
    let usd_of = |base: &str| -> Option<f64> {
        Some(match base {
            "BTC" => 60_000.0,
            "ETH" => 3_000.0,
            "BNB" => 550.0,
            "SOL" => 150.0,
            "XRP" => 0.55,
            "DOGE" => 0.15,
            "ADA" => 0.45,
            "AVAX" => 35.0,
            "LINK" => 15.0,
            "DOT" => 7.0,
            "LTC" => 80.0,
            "TRX" => 0.12,
            _ => return None,
        })
    };
    let quote_usd = [
        ("USDT", 1.0),
        ("FDUSD", 1.0),
        ("USDC", 1.0),
        ("BTC", 60_000.0),
        ("ETH", 3_000.0),
    ];
    for (quote, quote_price) in quote_usd {
        if let Some(base) = name.strip_suffix(quote)
            && let Some(base_usd) = usd_of(base)
        {
            return base_usd / quote_price;
        }
    }
    Rng::seeded(name).between(1.0, 600.0)
}

/// Price decimals (the tick size) for a price level, roughly as Binance sets them.
fn price_decimals(level: f64) -> i32 {
    match level {
        l if l >= 100.0 => 2,
        l if l >= 1.0 => 4,
        l if l >= 0.01 => 6,
        _ => 8,
    }
}

/// Quantity decimals (the lot size) for a price level.
fn quantity_decimals(level: f64) -> i32 {
    match level {
        l if l >= 1_000.0 => 5,
        l if l >= 10.0 => 3,
        l if l >= 1.0 => 2,
        _ => 0,
    }
}

/// One kline as Binance keeps it: the shared [`Candle`] plus the fields only
/// the wire format carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kline {
    pub candle: Candle,
    pub close_time: i64,
    pub quote_volume: f64,
    pub taker_buy_base: f64,
    pub taker_buy_quote: f64,
    pub first_trade_id: i64,
    pub last_trade_id: i64,
}

impl Kline {
    /// The REST form: `[openTime, "open", "high", "low", "close", "volume",
    /// closeTime, "quoteAssetVolume", trades, "takerBuyBase", "takerBuyQuote", "0"]`.
    pub(crate) fn rest_row(&self) -> Value {
        let c = &self.candle;
        json!([
            c.open_time,
            decimal(c.open),
            decimal(c.high),
            decimal(c.low),
            decimal(c.close),
            decimal(c.volume),
            self.close_time,
            decimal(self.quote_volume),
            c.trades,
            decimal(self.taker_buy_base),
            decimal(self.taker_buy_quote),
            "0"
        ])
    }

    /// The `k` object of a kline stream event.
    pub(crate) fn stream_k(&self, symbol: &Symbol, interval: Interval) -> Value {
        let c = &self.candle;
        json!({
            "t": c.open_time,
            "T": self.close_time,
            "s": symbol.as_str(),
            "i": interval.as_str(),
            "f": self.first_trade_id,
            "L": self.last_trade_id,
            "o": decimal(c.open),
            "c": decimal(c.close),
            "h": decimal(c.high),
            "l": decimal(c.low),
            "v": decimal(c.volume),
            "n": c.trades,
            "x": c.closed,
            "q": decimal(self.quote_volume),
            "V": decimal(self.taker_buy_base),
            "Q": decimal(self.taker_buy_quote),
            "B": "0"
        })
    }

    /// The whole raw kline event (`/ws/<stream>` sends exactly this).
    pub(crate) fn stream_event(&self, symbol: &Symbol, interval: Interval, event_time: i64) -> Value {
        json!({
            "e": "kline",
            "E": event_time,
            "s": symbol.as_str(),
            "k": self.stream_k(symbol, interval),
        })
    }
}

/// One series: a symbol at one interval, its history and its forming candle.
#[derive(Debug)]
pub(crate) struct Series {
    pub symbol: Symbol,
    pub interval: Interval,
    rng: Rng,
    /// The walk's unrounded price; candles hold it rounded to the tick.
    level: f64,
    price_decimals: i32,
    quantity_decimals: i32,
    /// Relative standard deviation of one random-walk step.
    step_volatility: f64,
    /// Typical quote-asset value traded per step.
    step_notional: f64,
    next_trade_id: i64,
    /// Ascending by open time, gap-free; the last one is forming.
    klines: Vec<Kline>,
}

impl Series {
    /// A series whose history starts with the candle containing `from_ms`
    /// and runs, gap-free, up to the forming candle containing `now_ms`.
    pub(crate) fn generate(symbol: Symbol, interval: Interval, from_ms: i64, now_ms: i64) -> Self {
        let mut rng = Rng::seeded(&format!("{}@{}", symbol.as_str(), interval.as_str()));
        let level = reference_price(&symbol) * rng.between(0.97, 1.03);
        let minutes = (interval.millis() / 60_000) as f64;
        let mut series = Self {
            price_decimals: price_decimals(level),
            quantity_decimals: quantity_decimals(level),
            step_volatility: 0.0005 * minutes.sqrt() / f64::from(STEPS_PER_CANDLE).sqrt(),
            step_notional: 150_000.0 * minutes.powf(0.8) / f64::from(STEPS_PER_CANDLE),
            next_trade_id: i64::try_from(rng.next_u64() % 1_000_000_000).unwrap_or(0) + 1_000_000_000,
            symbol,
            interval,
            rng,
            level,
            klines: Vec::new(),
        };
        let first_open = interval.open_time_of(from_ms);
        series.open_candle(first_open);
        let mut ignored = Vec::new();
        series.catch_up(now_ms, &mut ignored, false);
        series
    }

    pub(crate) fn candles(&self) -> Vec<Candle> {
        self.klines.iter().map(|k| k.candle).collect()
    }

    pub(crate) fn klines(&self) -> &[Kline] {
        &self.klines
    }

    pub(crate) fn forming(&self) -> Option<&Kline> {
        self.klines.last()
    }

    /// Moves the forming candle one step: a price step, one or more trades.
    /// Returns the candle as it now stands.
    pub(crate) fn step(&mut self) -> Option<&Kline> {
        let factor = 1.0 + self.step_volatility * self.rng.normal();
        // Never more than 10% in one step, and never down to zero.
        self.level = (self.level * factor.clamp(0.9, 1.1)).max(10f64.powi(-self.price_decimals) * 10.0);
        let price = round_to(self.level, self.price_decimals);
        let added_trades = self.rng.count(1, 3 + (self.interval.millis() / 60_000).min(60));
        let base = round_to(
            self.step_notional * self.rng.between(0.3, 1.7) / self.level,
            self.quantity_decimals,
        )
        .max(10f64.powi(-self.quantity_decimals));
        let buy_share = self.rng.between(0.3, 0.7);
        let kline = self.klines.last_mut()?;
        let c = &mut kline.candle;
        c.close = price;
        c.high = c.high.max(price);
        c.low = c.low.min(price);
        c.volume = round_to(c.volume + base, self.quantity_decimals);
        c.trades += added_trades;
        kline.quote_volume = round_to(kline.quote_volume + base * price, 8);
        kline.taker_buy_base =
            round_to(kline.taker_buy_base + base * buy_share, self.quantity_decimals).min(c.volume);
        kline.taker_buy_quote = round_to(kline.taker_buy_quote + base * buy_share * price, 8);
        kline.last_trade_id += added_trades;
        self.next_trade_id = kline.last_trade_id + 1;
        Some(kline)
    }

    /// Finalises every candle whose close time is before `now_ms` and opens
    /// the next, until the forming candle contains `now_ms`. Candles that
    /// pass entirely are filled with simulated trades, so history has no gaps.
    /// When `emit` is set, pushes each finalised candle (x=true) and each
    /// opened candle (first event, x=false) to `events`, in that order.
    pub(crate) fn catch_up(&mut self, now_ms: i64, events: &mut Vec<Kline>, emit: bool) {
        loop {
            let Some(forming) = self.klines.last_mut() else {
                return;
            };
            if forming.close_time >= now_ms {
                return;
            }
            forming.candle.closed = true;
            if emit {
                events.push(forming.clone());
            }
            let next_open = forming.candle.open_time + self.interval.millis();
            self.open_candle(next_open);
            if emit && let Some(opened) = self.klines.last() {
                events.push(opened.clone());
            }
            let passes_entirely = next_open + self.interval.millis() <= now_ms;
            if passes_entirely {
                for _ in 0..STEPS_PER_CANDLE {
                    self.step();
                }
            }
        }
    }

    /// Opens a candle at `open_time` with its first trade at the last price.
    fn open_candle(&mut self, open_time: i64) {
        let price = round_to(self.level, self.price_decimals);
        let base = round_to(self.step_notional * 0.1 / self.level, self.quantity_decimals)
            .max(10f64.powi(-self.quantity_decimals));
        let trade_id = self.next_trade_id;
        self.next_trade_id += 1;
        self.klines.push(Kline {
            candle: Candle {
                open_time,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: base,
                trades: 1,
                closed: false,
            },
            close_time: open_time + self.interval.millis() - 1,
            quote_volume: round_to(base * price, 8),
            taker_buy_base: 0.0,
            taker_buy_quote: 0.0,
            first_trade_id: trade_id,
            last_trade_id: trade_id,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> Symbol {
        Symbol::parse("BTCUSDT").unwrap()
    }

    #[test]
    fn history_is_gap_free_consistent_and_ends_forming() {
        let now = 1_700_000_123_456;
        let series = Series::generate(btc(), Interval::M5, now - 86_400_000, now);
        let candles = series.candles();
        assert!(candles.len() >= 288);
        for pair in candles.windows(2) {
            assert_eq!(pair[1].open_time - pair[0].open_time, Interval::M5.millis());
            assert!(pair[0].closed);
        }
        let last = candles.last().unwrap();
        assert!(!last.closed);
        assert_eq!(last.open_time, Interval::M5.open_time_of(now));
        for c in &candles {
            assert!(
                c.low <= c.open.min(c.close) && c.open.max(c.close) <= c.high,
                "{c:?}"
            );
            assert!(c.volume > 0.0 && c.trades > 0);
            assert!((30_000.0..120_000.0).contains(&c.close), "{c:?}");
        }
    }

    #[test]
    fn the_same_series_is_the_same_market_every_time() {
        let now = 1_700_000_000_000;
        let a = Series::generate(btc(), Interval::H1, now - 86_400_000, now).candles();
        let b = Series::generate(btc(), Interval::H1, now - 86_400_000, now).candles();
        assert_eq!(a, b);
        let other = Series::generate(btc(), Interval::M15, now - 86_400_000, now).candles();
        assert_ne!(a.last().map(|c| c.close), other.last().map(|c| c.close));
    }

    #[test]
    fn wire_decimals_round_trip_exactly() {
        let now = 1_700_000_000_000;
        let series = Series::generate(btc(), Interval::M1, now - 3_600_000, now);
        for k in series.klines() {
            let row = k.rest_row();
            let open: f64 = row[1].as_str().unwrap().parse().unwrap();
            let volume: f64 = row[5].as_str().unwrap().parse().unwrap();
            assert_eq!(open, k.candle.open);
            assert_eq!(volume, k.candle.volume);
            assert_eq!(row[1].as_str().unwrap().split('.').nth(1).unwrap().len(), 8);
        }
    }

    #[test]
    fn reference_prices_are_plausible() {
        assert_eq!(reference_price(&btc()), 60_000.0);
        assert_eq!(reference_price(&Symbol::parse("ETHUSDT").unwrap()), 3_000.0);
        let other = reference_price(&Symbol::parse("ZZZUSDT").unwrap());
        assert!((1.0..600.0).contains(&other));
    }
}
