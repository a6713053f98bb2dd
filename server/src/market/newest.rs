//! The newest candles of a series, read one way by every reader (a
//! chart's first read, a script's run): from the live window when it holds
//! all of them without a gap, from the candle store otherwise, with the
//! window's candles over the store's (the store may not have the candle
//! that has just closed yet).

use std::collections::BTreeMap;

use anyhow::Context;
use inchart_api::market::{Candle, Interval, Symbol};

use super::candle_store::{CandleRange, CandleStore};
use super::window::{LiveMarket, SeriesKey, WindowCandle};

#[derive(Clone)]
pub struct NewestCandles {
    window: LiveMarket,
    store: CandleStore,
}

/// Whether `times` (ascending open times) are at least `count` candles
/// one `step` apart, with no gap.
fn whole(times: &[i64], count: usize, step: i64) -> bool {
    times.len() >= count && times.windows(2).all(|pair| pair[1] - pair[0] == step)
}

impl NewestCandles {
    pub fn new(window: LiveMarket, store: CandleStore) -> Self {
        Self { window, store }
    }

    /// The window's newest `count` candles (the forming one included), as
    /// their JSON text, when it holds `count` without a gap; `None`
    /// otherwise, or when the window cannot be read (logged).
    pub async fn from_window(&self, key: &SeriesKey, count: usize) -> Option<Vec<WindowCandle>> {
        let candles = match self.window.recent(key, None, count).await {
            Ok(candles) => candles,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "window read failed; reading the database"
                );
                return None;
            }
        };
        let times: Vec<i64> = candles.iter().map(|c| c.open_time).collect();
        whole(&times, count, key.interval.millis()).then_some(candles)
    }

    /// The newest `count` closed candles, up to and including the one
    /// that opened at `until` when given, ascending.
    pub async fn closed(
        &self,
        symbol: &Symbol,
        interval: Interval,
        count: usize,
        until: Option<i64>,
    ) -> anyhow::Result<Vec<Candle>> {
        let key = SeriesKey::new(symbol, interval);
        let recent: Vec<Candle> = self
            .window
            .recent(&key, None, count + 1)
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|c| serde_json::from_str::<Candle>(&c.json).ok())
            .filter(|c| c.closed && until.is_none_or(|until| c.open_time <= until))
            .collect();
        let times: Vec<i64> = recent.iter().map(|c| c.open_time).collect();
        let mut candles = if whole(&times, count, interval.millis()) {
            recent
        } else {
            let stored = self
                .store
                .range(
                    symbol,
                    interval,
                    CandleRange {
                        start: None,
                        end: until,
                        limit: count as u64 + 1,
                    },
                )
                .await
                .context("while reading the newest candles")?;
            let mut merged: BTreeMap<i64, Candle> = stored
                .into_iter()
                .filter(|c| c.closed)
                .map(|c| (c.open_time, c))
                .collect();
            merged.extend(recent.into_iter().map(|c| (c.open_time, c)));
            merged.into_values().collect()
        };
        let skip = candles.len().saturating_sub(count);
        candles.drain(..skip);
        Ok(candles)
    }
}

#[cfg(test)]
mod tests {
    use super::whole;

    #[test]
    fn a_window_is_whole_only_without_gaps() {
        assert!(whole(&[0, 60, 120], 3, 60));
        assert!(whole(&[0, 60, 120], 2, 60));
        assert!(!whole(&[0, 60, 180], 3, 60));
        assert!(!whole(&[0, 60], 3, 60));
    }
}
