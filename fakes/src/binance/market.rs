//! The fake's market: one seeded random walk per series (symbol × interval),
//! its candles from the start of history to the forming one, the deep
//! history before them back to the listing, and the kline JSON Binance
//! would send for them.
//!
//! Policies:
//! - Prices and volumes are stored already rounded to the decimals they go
//!   out with, so a client that parses the wire format gets back exactly the
//!   `f64`s that [`Series::candles`] returns.
//! - Deep history is never stored: a candle before the walk is a pure
//!   function of (series, open time), a smooth path of several periods
//!   that ends exactly at the walk's first open price, so years of 1m
//!   candles cost nothing until a request reaches them, and every request
//!   for one gets the same candle.

use inchart_api::market::{Candle, Interval, Symbol};
use serde_json::{Value, json};

use crate::seeded::{Rng, round_to};

/// Random-walk steps simulated for a candle that passed while nobody ticked.
const STEPS_PER_CANDLE: u32 = 12;

/// The deep history's path: (period in minutes, amplitude of the log
/// price), from a month down to a quarter of a minute, amplitudes growing
/// like the square root of the period, as a random walk's do.
const DEEP_OCTAVES: [(f64, f64); 9] = [
    (43_200.0, 0.20),
    (10_080.0, 0.09),
    (1_440.0, 0.035),
    (240.0, 0.014),
    (60.0, 0.007),
    (15.0, 0.0035),
    (4.0, 0.0018),
    (1.0, 0.0009),
    (0.25, 0.000_45),
];

/// Points of the path read inside a deep candle for its high and low.
const DEEP_SAMPLES: i64 = 4;

/// Trade ids a deep candle may use: ids fall by this much per candle back
/// from the walk's first trade, so they never overlap.
const DEEP_TRADES_MAX: i64 = 40;

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
    /// The open time of the first candle served (the listing); deep
    /// history fills the time from it to the walk's first candle.
    listing_open: i64,
    /// The deep path's seed and its log offset at the walk's first open,
    /// where it must meet the walk's first price.
    deep_seed: u64,
    deep_offset: f64,
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
            listing_open: 0,
            deep_seed: 0,
            deep_offset: 0.0,
        };
        let first_open = interval.open_time_of(from_ms);
        series.listing_open = first_open;
        series.deep_seed =
            hash_words(&[
                Rng::seeded(&format!("deep:{}@{}", series.symbol.as_str(), interval.as_str())).next_u64(),
            ]);
        series.deep_offset = series.deep_log_offset(first_open);
        series.open_candle(first_open);
        let mut ignored = Vec::new();
        series.catch_up(now_ms, &mut ignored, false);
        series
    }

    /// The same series, listed at `listed_at_ms` (when that is before its
    /// walk): REST serves deep history from the listing's candle on.
    pub(crate) fn listed_at(mut self, listed_at_ms: i64) -> Self {
        self.listing_open = self
            .interval
            .open_time_of(listed_at_ms)
            .min(self.walk_first_open());
        self
    }

    /// The open time of the first candle served.
    pub(crate) fn first_open_time(&self) -> i64 {
        self.listing_open
    }

    fn walk_first_open(&self) -> i64 {
        self.klines
            .first()
            .map_or(self.listing_open, |kline| kline.candle.open_time)
    }

    /// The klines Binance's `GET /api/v3/klines` picks: those opening from
    /// `start` (rounded up to the grid) to `end`, the first `limit` when a
    /// start is given, otherwise the most recent `limit`.
    pub(crate) fn between(&self, start: Option<i64>, end: Option<i64>, limit: usize) -> Vec<Kline> {
        let step = self.interval.millis();
        let Some(last) = self.klines.last().map(|kline| kline.candle.open_time) else {
            return Vec::new();
        };
        let up_to_grid = |time: i64| {
            let open = self.interval.open_time_of(time);
            if open < time { open + step } else { open }
        };
        let low = start.map_or(self.listing_open, |start| {
            up_to_grid(start).max(self.listing_open)
        });
        let high = end.map_or(last, |end| self.interval.open_time_of(end).min(last));
        if low > high || limit == 0 {
            return Vec::new();
        }
        let span = usize::try_from((high - low) / step + 1).unwrap_or(usize::MAX);
        let count = span.min(limit);
        let first = if start.is_some() {
            low
        } else {
            high - (i64::try_from(count).unwrap_or(i64::MAX) - 1) * step
        };
        (0..count)
            .filter_map(|index| self.kline_at(first + i64::try_from(index).ok()? * step))
            .collect()
    }

    /// The kline opening at `open_time` (on the grid, from the listing to
    /// the forming one): from the walk, or drawn from the deep path.
    fn kline_at(&self, open_time: i64) -> Option<Kline> {
        let walk_first = self.walk_first_open();
        if open_time < walk_first {
            return (open_time >= self.listing_open).then(|| self.deep_kline(open_time, walk_first));
        }
        let index = usize::try_from((open_time - walk_first) / self.interval.millis()).ok()?;
        self.klines.get(index).cloned()
    }

    /// The deep path's log price at `time_ms`.
    fn deep_log_offset(&self, time_ms: i64) -> f64 {
        let minutes = time_ms as f64 / 60_000.0;
        DEEP_OCTAVES
            .iter()
            .zip(0_u64..)
            .map(|((period, amplitude), octave)| {
                amplitude * value_noise(hash_words(&[self.deep_seed, octave]), minutes / period)
            })
            .sum()
    }

    /// A deep candle: its open, close, high and low read off the deep path,
    /// which meets the walk's first open price at `walk_first`.
    fn deep_kline(&self, open_time: i64, walk_first: i64) -> Kline {
        let step = self.interval.millis();
        let anchor = self.klines.first().map_or(self.level, |kline| kline.candle.open);
        let tick = 10f64.powi(-self.price_decimals);
        let price = |time: i64| {
            let relative = (self.deep_log_offset(time) - self.deep_offset).exp();
            round_to(anchor * relative, self.price_decimals).max(tick)
        };
        let open = price(open_time);
        let close = price(open_time + step);
        let (mut high, mut low) = (open.max(close), open.min(close));
        for sample in 1..DEEP_SAMPLES {
            let inside = price(open_time + step * sample / DEEP_SAMPLES);
            high = high.max(inside);
            low = low.min(inside);
        }
        let mut rng = Rng::from_state(hash_words(&[self.deep_seed, open_time as u64]));
        let mid = (open + close) / 2.0;
        let min_quantity = 10f64.powi(-self.quantity_decimals);
        let volume = round_to(
            self.step_notional * f64::from(STEPS_PER_CANDLE) * rng.between(0.3, 1.7) / mid,
            self.quantity_decimals,
        )
        .max(min_quantity);
        let trades = rng.count(1, DEEP_TRADES_MAX);
        let buy_share = rng.between(0.3, 0.7);
        let candles_back = (walk_first - open_time) / step;
        let walk_first_trade = self
            .klines
            .first()
            .map_or(self.next_trade_id, |kline| kline.first_trade_id);
        let last_trade_id = walk_first_trade - 1 - (candles_back - 1) * DEEP_TRADES_MAX;
        Kline {
            candle: Candle {
                open_time,
                open,
                high,
                low,
                close,
                volume,
                trades,
                closed: true,
            },
            close_time: open_time + step - 1,
            quote_volume: round_to(volume * mid, 8),
            taker_buy_base: round_to(volume * buy_share, self.quantity_decimals).min(volume),
            taker_buy_quote: round_to(volume * buy_share * mid, 8),
            first_trade_id: last_trade_id - trades + 1,
            last_trade_id,
        }
    }

    pub(crate) fn candles(&self) -> Vec<Candle> {
        self.klines.iter().map(|k| k.candle).collect()
    }

    #[cfg(test)]
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

/// SplitMix64 over several words: a fast, well-mixed, portable hash.
fn hash_words(words: &[u64]) -> u64 {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for word in words {
        state = state.wrapping_add(*word).wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        state = z ^ (z >> 31);
    }
    state
}

/// Smoothly interpolated random values in [-1, 1) at whole numbers.
fn value_noise(seed: u64, x: f64) -> f64 {
    let cell = x.floor();
    let fraction = x - cell;
    let at =
        |cell: f64| (hash_words(&[seed, cell as i64 as u64]) >> 11) as f64 / (1_u64 << 53) as f64 * 2.0 - 1.0;
    let (left, right) = (at(cell), at(cell + 1.0));
    let smooth = fraction * fraction * (3.0 - 2.0 * fraction);
    left + (right - left) * smooth
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE_MS: i64 = 60_000;

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
    fn deep_history_is_continuous_well_formed_and_meets_the_walk() {
        let now = 1_700_000_000_000;
        let year = 365 * 86_400_000;
        let series = Series::generate(btc(), Interval::M1, now - 86_400_000, now).listed_at(now - year);
        let walk_first = series.klines()[0].candle.open_time;
        assert_eq!(series.first_open_time(), Interval::M1.open_time_of(now - year));
        let deep = series.between(Some(walk_first - 5_000 * MINUTE_MS), Some(walk_first), usize::MAX);
        assert_eq!(deep.len(), 5_001);
        assert_eq!(deep.last().map(|k| k.candle), Some(series.klines()[0].candle));
        for pair in deep.windows(2) {
            assert_eq!(pair[1].candle.open_time - pair[0].candle.open_time, MINUTE_MS);
            assert_eq!(
                pair[1].candle.open, pair[0].candle.close,
                "each candle opens where the last closed"
            );
            assert!(pair[0].candle.closed);
        }
        for kline in &deep {
            let c = kline.candle;
            assert!(
                c.low <= c.open.min(c.close) && c.open.max(c.close) <= c.high,
                "{c:?}"
            );
            assert!(c.low > 0.0 && c.volume > 0.0 && c.trades > 0);
            assert!(kline.first_trade_id <= kline.last_trade_id);
        }
        for pair in deep.windows(2).take(4_999) {
            assert!(pair[0].last_trade_id < pair[1].first_trade_id);
        }
        // A year back the price still reads like the market it is.
        let oldest = series.between(None, Some(now - year), 1);
        assert_eq!(oldest[0].candle.open_time, series.first_open_time());
        assert!(
            (20_000.0..200_000.0).contains(&oldest[0].candle.close),
            "{:?}",
            oldest[0].candle
        );
        // Nothing before the listing.
        assert!(
            series
                .between(None, Some(now - year - MINUTE_MS), 1000)
                .is_empty()
        );
        // Drawn again, the same candles.
        let again = Series::generate(btc(), Interval::M1, now - 86_400_000, now).listed_at(now - year);
        assert_eq!(
            again.between(Some(now - year), None, 1000),
            series.between(Some(now - year), None, 1000)
        );
    }

    #[test]
    fn reference_prices_are_plausible() {
        assert_eq!(reference_price(&btc()), 60_000.0);
        assert_eq!(reference_price(&Symbol::parse("ETHUSDT").unwrap()), 3_000.0);
        let other = reference_price(&Symbol::parse("ZZZUSDT").unwrap());
        assert!((1.0..600.0).contains(&other));
    }
}
