//! The last day of a carried symbol, for its public page.

use app::markets::{MarketPages, MarketSummary};
use inchart_api::market::{Interval, Symbol};

use super::candle_store::{CandleRange, CandleStore};

/// Hourly candles the page's price line shows: two days.
const HOURS_DRAWN: u64 = 48;

pub struct MarketReader {
    pub candles: CandleStore,
    pub symbols: crate::market::Symbols,
}

use app::PageAnswer as Answer;

use crate::web::error::page_error;

impl MarketPages for MarketReader {
    fn summary(&self, symbol: Symbol) -> Answer<Option<MarketSummary>> {
        let candles = self.candles.clone();
        let carried = self.symbols.contains(&symbol);
        Box::pin(async move {
            if !carried {
                return Ok(None);
            }
            read_summary(&candles, symbol)
                .await
                .map_err(|cause| page_error(cause, "The market could not be read; please reload."))
        })
    }

    fn summaries(&self) -> Answer<Vec<MarketSummary>> {
        let (candles, symbols) = (self.candles.clone(), self.symbols.clone());
        Box::pin(async move {
            let mut summaries = Vec::with_capacity(symbols.len());
            for symbol in symbols.iter() {
                let read = read_summary(&candles, symbol.clone()).await;
                if let Some(summary) =
                    read.map_err(|cause| page_error(cause, "The markets could not be read; please reload."))?
                {
                    summaries.push(summary);
                }
            }
            Ok(summaries)
        })
    }
}

/// A carried symbol's summary from its hourly candles; `None` without any.
async fn read_summary(candles: &CandleStore, symbol: Symbol) -> anyhow::Result<Option<MarketSummary>> {
    let source = candles.feed_source().await?;
    let hourly = candles
        .range(
            &symbol,
            Interval::H1,
            CandleRange {
                start: None,
                end: None,
                limit: HOURS_DRAWN,
            },
        )
        .await?;
    Ok(summarise(symbol, source, &hourly))
}

/// The last 24 hourly candles' open, range and volume, and the closes
/// drawn; `None` without candles.
fn summarise(
    symbol: Symbol,
    source: Option<inchart_api::market::FeedSource>,
    hourly: &[inchart_api::market::Candle],
) -> Option<MarketSummary> {
    let newest = hourly.last()?;
    let day = &hourly[hourly.len().saturating_sub(24)..];
    Some(MarketSummary {
        symbol,
        source: source.unwrap_or(inchart_api::market::FeedSource::Simulated),
        last: newest.close,
        open_24h: day[0].open,
        high_24h: day.iter().map(|c| c.high).fold(f64::NEG_INFINITY, f64::max),
        low_24h: day.iter().map(|c| c.low).fold(f64::INFINITY, f64::min),
        volume_24h: day.iter().map(|c| c.volume).sum(),
        closes: hourly.iter().map(|c| c.close).collect(),
        as_of: newest.open_time,
    })
}

#[cfg(test)]
mod tests {
    use inchart_api::market::{Candle, FeedSource};

    use super::*;

    fn candle(hour: i64, open: f64, close: f64) -> Candle {
        Candle {
            open_time: hour * 3_600_000,
            open,
            high: open.max(close) + 1.0,
            low: open.min(close) - 1.0,
            close,
            volume: 2.0,
            trades: 10,
            closed: true,
        }
    }

    #[test]
    fn a_day_is_the_newest_24_hours() {
        let hourly: Vec<Candle> = (0..30)
            .map(|h| candle(h, 100.0 + h as f64, 101.0 + h as f64))
            .collect();
        let summary = summarise(Symbol::default(), Some(FeedSource::Binance), &hourly).unwrap();
        assert_eq!(summary.last, 130.0);
        assert_eq!(summary.open_24h, 106.0);
        assert_eq!((summary.low_24h, summary.high_24h), (105.0, 131.0));
        assert_eq!(summary.volume_24h, 48.0);
        assert_eq!(summary.closes.len(), 30);
        assert_eq!(summary.as_of, 29 * 3_600_000);
        assert!(summarise(Symbol::default(), None, &[]).is_none());
    }
}
