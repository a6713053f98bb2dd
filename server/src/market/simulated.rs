//! The simulated feed: believable candles when no exchange is connected,
//! always labelled "Simulated data" in the UI and `"source": "simulated"` in
//! the API.
//!
//! Every price is a pure function of (symbol, time): a sum of smoothly
//! interpolated random values at periods from a month down to 15 seconds,
//! with amplitudes growing like the square root of the period, as a random
//! walk's do. So the feed needs no state: any instance, before or after a
//! restart, draws the same candle for the same (symbol, interval, open
//! time), and a forming candle only ever grows towards its final shape.

use std::time::Duration;

use inchart_api::market::{Candle, Interval, Symbol};

use super::candle_store::{CandleStore, SeriesCandles};
use super::window::{LiveMarket, SeriesKey};
use crate::platform::clock::now_micros;
use crate::platform::clock::now_ms;

/// (period in minutes, amplitude of the log price).
const OCTAVES: [(f64, f64); 9] = [
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

/// Price samples per candle; the high and low are taken over them. A
/// forming candle moves from one sample to the next (every 15 s on 1h, 6
/// min on 1d), so that its high and low only ever widen.
const SAMPLES: i64 = 240;

/// The simulated feed for the configured symbols.
#[derive(Debug, Clone)]
pub struct SimulatedFeed {
    symbols: Vec<Symbol>,
    history: u32,
}

impl SimulatedFeed {
    pub fn new(symbols: Vec<Symbol>, history: u32) -> Self {
        Self { symbols, history }
    }

    /// Fills every series so that its last `history` candles up to `now`
    /// are stored, writing only what is missing since the newest stored
    /// candle (which is rewritten, as it may have been forming). A series
    /// whose newest candle is older than that is deleted first rather than
    /// left across a hole: its candles are drawn again, the same, when deep
    /// history asks for them.
    pub async fn fill(&self, store: &CandleStore, now_ms: i64) -> anyhow::Result<usize> {
        let mut written = 0;
        for symbol in &self.symbols {
            for interval in Interval::ALL {
                let current = interval.open_time_of(now_ms);
                let oldest = current - (i64::from(self.history) - 1) * interval.millis();
                let from = match store.latest_open_time(symbol, interval).await? {
                    Some(latest) if latest < oldest => {
                        let deleted = store.delete_series(symbol, interval).await?;
                        tracing::info!(%symbol, %interval, deleted, "the simulated series was out of date; drawn anew");
                        oldest
                    }
                    Some(latest) => latest.min(current),
                    None => oldest,
                };
                let candles = candles_between(symbol, interval, from, current, now_ms);
                store.upsert(symbol, interval, &candles).await?;
                written += candles.len();
            }
        }
        Ok(written)
    }

    /// Moves the forming candles every `tick` until the task is dropped,
    /// starting from the candles that were forming at `filled_at_ms` (the
    /// time of the last [`SimulatedFeed::fill`]). Each tick is written in
    /// one transaction, then published to the live market; a failed one is
    /// logged and redone on the next tick.
    pub async fn run(self, store: CandleStore, live: LiveMarket, tick: Duration, filled_at_ms: i64) {
        let mut since = filled_at_ms;
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let now = now_ms();
            // From the candle forming at the last good tick, so that every
            // candle that closed meanwhile is written in its final shape.
            let updates: Vec<(&Symbol, Interval, Vec<Candle>)> = self
                .symbols
                .iter()
                .flat_map(|symbol| Interval::ALL.into_iter().map(move |interval| (symbol, interval)))
                .map(|(symbol, interval)| {
                    let first = interval.open_time_of(since);
                    let candles = candles_between(symbol, interval, first, interval.open_time_of(now), now);
                    (symbol, interval, candles)
                })
                .collect();
            let series: Vec<SeriesCandles<'_>> = updates
                .iter()
                .map(|(symbol, interval, candles)| SeriesCandles {
                    symbol,
                    interval: *interval,
                    candles,
                })
                .collect();
            match store.upsert_all(&series).await {
                Ok(()) => since = now,
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "simulated tick not stored");
                    continue;
                }
            }
            let received_us = now_micros();
            for (symbol, interval, candles) in &updates {
                let key = SeriesKey::new(symbol, *interval);
                for candle in candles {
                    if let Err(error) = live.publish(&key, candle, now, received_us).await {
                        tracing::warn!(error = format!("{error:#}"), "simulated tick not published");
                    }
                }
            }
        }
    }
}

/// The candles opening from `first` to `last` (inclusive), as they stand at
/// `now_ms`.
pub fn candles_between(
    symbol: &Symbol,
    interval: Interval,
    first: i64,
    last: i64,
    now_ms: i64,
) -> Vec<Candle> {
    let step = interval.millis();
    let mut candles = Vec::with_capacity(usize::try_from((last - first) / step + 1).unwrap_or(0));
    let mut open_time = interval.open_time_of(first);
    while open_time <= last {
        candles.push(candle(symbol, interval, open_time, now_ms));
        open_time += step;
    }
    candles
}

/// The candle of `symbol` opening at `open_time`, as it stands at `now_ms`:
/// final once its interval has passed, forming before.
pub fn candle(symbol: &Symbol, interval: Interval, open_time: i64, now_ms: i64) -> Candle {
    let seed = seed_of(symbol);
    let base = base_price(symbol, seed);
    let close_time = open_time + interval.millis();
    let step = interval.millis() / SAMPLES;
    let until = open_time + (now_ms.clamp(open_time, close_time) - open_time) / step * step;
    let price = |t: i64| base * log_offset(seed, t).exp();

    let open = price(open_time);
    let close = price(until);
    let (mut high, mut low) = (open.max(close), open.min(close));
    let mut t = open_time + step;
    while t < until {
        let p = price(t);
        high = high.max(p);
        low = low.min(p);
        t += step;
    }

    let decimals = price_decimals(base);
    let elapsed = (until - open_time) as f64 / interval.millis() as f64;
    let minutes = interval.millis() as f64 / 60_000.0;
    let activity = 0.6 + 0.8 * unit(mix(&[seed, 7, open_time as u64])).abs();
    let movement = 1.0 + 40.0 * ((close - open) / open).abs();
    let volume = base_volume(base) * minutes * activity * movement * elapsed;
    Candle {
        open_time,
        open: round_to(open, decimals),
        high: round_to(high, decimals),
        low: round_to(low, decimals),
        close: round_to(close, decimals),
        volume: round_to(volume, 3),
        // From the elapsed share alone, so that a forming candle's count only
        // grows, as an exchange's does.
        trades: (minutes * activity * elapsed * 7.0).round() as i64 + 1,
        closed: now_ms >= close_time,
    }
}

fn log_offset(seed: u64, time_ms: i64) -> f64 {
    let minutes = time_ms as f64 / 60_000.0;
    OCTAVES
        .iter()
        .enumerate()
        .map(|(octave, (period, amplitude))| {
            amplitude * value_noise(mix(&[seed, octave as u64]), minutes / period)
        })
        .sum()
}

/// Smoothly interpolated random values at whole numbers.
fn value_noise(seed: u64, x: f64) -> f64 {
    let cell = x.floor();
    let fraction = x - cell;
    let left = unit(mix(&[seed, cell as i64 as u64]));
    let right = unit(mix(&[seed, (cell as i64 + 1) as u64]));
    let smooth = fraction * fraction * (3.0 - 2.0 * fraction);
    left + (right - left) * smooth
}

/// SplitMix64 over several words: a fast, well-mixed, portable hash.
fn mix(words: &[u64]) -> u64 {
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

/// A hash mapped onto [-1, 1).
fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1_u64 << 53) as f64 * 2.0 - 1.0
}

fn seed_of(symbol: &Symbol) -> u64 {
    symbol
        .as_str()
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
        })
}

/// Roughly where the pair trades, so the simulated chart reads plausibly.
fn base_price(symbol: &Symbol, seed: u64) -> f64 {
    match symbol.as_str() {
        "BTCUSDT" => 64_000.0,
        "ETHUSDT" => 3_100.0,
        "BNBUSDT" => 580.0,
        "SOLUSDT" => 150.0,
        "XRPUSDT" => 0.6,
        "DOGEUSDT" => 0.15,
        "ADAUSDT" => 0.45,
        "TRXUSDT" => 0.12,
        "AVAXUSDT" => 35.0,
        "LINKUSDT" => 15.0,
        _ => 10_f64.powf(unit(seed) * 2.5 + 1.0),
    }
}

fn base_volume(base: f64) -> f64 {
    // Roughly a constant quote volume per minute across pairs.
    250_000.0 / base
}

fn price_decimals(base: f64) -> i32 {
    match base {
        b if b >= 1_000.0 => 2,
        b if b >= 10.0 => 3,
        b if b >= 1.0 => 4,
        _ => 6,
    }
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> Symbol {
        Symbol::parse("BTCUSDT").unwrap()
    }

    #[test]
    fn the_same_candle_is_drawn_every_time() {
        let open = Interval::H1.open_time_of(1_764_000_000_000);
        let later = open + 10 * Interval::H1.millis();
        assert_eq!(
            candle(&btc(), Interval::H1, open, later),
            candle(&btc(), Interval::H1, open, later)
        );
    }

    #[test]
    fn candles_are_well_formed_and_continuous() {
        let now = 1_764_000_000_000;
        let last = Interval::M5.open_time_of(now);
        let series = candles_between(
            &btc(),
            Interval::M5,
            last - 999 * Interval::M5.millis(),
            last,
            now,
        );
        assert_eq!(series.len(), 1000);
        for pair in series.windows(2) {
            assert_eq!(pair[1].open_time - pair[0].open_time, Interval::M5.millis());
            assert_eq!(
                pair[1].open, pair[0].close,
                "each candle opens where the last closed"
            );
        }
        for c in &series {
            assert!(
                c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close),
                "{c:?}"
            );
            assert!(c.low > 0.0 && c.volume >= 0.0);
        }
        let closes: Vec<f64> = series.iter().map(|c| c.close).collect();
        let (min, max) = closes
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &c| (lo.min(c), hi.max(c)));
        assert!(max / min > 1.005, "the price moves");
        assert!(max / min < 2.0, "but like a market, not a lottery");
    }

    /// A series left out of date longer than the history kept is drawn
    /// anew rather than left across a hole; others are only topped up.
    #[tokio::test]
    async fn an_out_of_date_series_is_drawn_anew() -> anyhow::Result<()> {
        use crate::platform::db::{Backend, scratch};
        use inchart_api::market::FeedSource;

        let scratch = scratch::fresh(Backend::Sqlite).await?;
        let store = CandleStore::new(scratch.db.clone());
        let now = crate::platform::clock::now_ms();
        store.claim_for(FeedSource::Simulated, now).await?;
        let h1 = Interval::H1.millis();
        let current = Interval::H1.open_time_of(now);
        let stale = candles_between(&btc(), Interval::H1, current - 500 * h1, current - 300 * h1, now);
        store.upsert(&btc(), Interval::H1, &stale).await?;
        let recent = candles_between(&btc(), Interval::D1, current - 2 * 86_400_000, current, now);
        store.upsert(&btc(), Interval::D1, &recent).await?;

        SimulatedFeed::new(vec![btc()], 100).fill(&store, now).await?;
        let h1_times = store
            .columns(&btc(), Interval::H1, 0, i64::MAX, false)
            .await?
            .time;
        assert_eq!(
            h1_times.first(),
            Some(&(current - 99 * h1)),
            "the stale candles are gone"
        );
        assert_eq!(h1_times.len(), 100);
        let d1_times = store
            .columns(&btc(), Interval::D1, 0, i64::MAX, false)
            .await?
            .time;
        assert_eq!(
            d1_times.first(),
            recent.first().map(|candle| &candle.open_time),
            "kept"
        );
        scratch.remove().await
    }

    #[test]
    fn a_forming_candle_grows_into_the_closed_one() {
        let open = Interval::M15.open_time_of(1_764_000_000_000);
        let closed = candle(&btc(), Interval::M15, open, open + Interval::M15.millis() + 5);
        let mut previous: Option<Candle> = None;
        for minute in 1..=15 {
            let forming = candle(&btc(), Interval::M15, open, open + minute * 60_000);
            if let Some(previous) = previous {
                assert!(forming.high >= previous.high && forming.low <= previous.low);
                assert!(forming.volume >= previous.volume);
            }
            previous = Some(forming);
        }
        assert_eq!(previous, Some(closed));
    }
}
