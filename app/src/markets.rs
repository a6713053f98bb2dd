//! What the market pages and the chart ask the server for: the market
//! overview (the feed's source and status, the symbols on offer), and the
//! public page of each carried symbol (`/markets/:symbol`): its price over
//! the last day, drawn on the server, and its latest news. The vocabulary
//! itself (symbols, intervals, candles) is [`inchart_api::market`].

use inchart_api::market::{FeedSource, MarketOverview, Symbol};
use serde::{Deserialize, Serialize};

/// A symbol's last day, from its hourly candles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketSummary {
    pub symbol: Symbol,
    pub source: FeedSource,
    /// The newest close (the forming candle's price).
    pub last: f64,
    /// The open 24 hours before the newest candle's close.
    pub open_24h: f64,
    pub high_24h: f64,
    pub low_24h: f64,
    /// In the base asset.
    pub volume_24h: f64,
    /// Hourly closes, oldest first, for the price line.
    pub closes: Vec<f64>,
    /// Milliseconds since the epoch of the newest candle's open.
    pub as_of: i64,
}

impl MarketSummary {
    /// The change over the day as a fraction (0.012 is +1.2 %).
    pub fn change(&self) -> f64 {
        if self.open_24h > 0.0 {
            self.last / self.open_24h - 1.0
        } else {
            0.0
        }
    }
}

/// A price with as many decimals as its size needs: `97,412.50`,
/// `3.4521`, `0.082514`.
pub fn format_price(price: f64) -> String {
    let decimals = match price.abs() {
        p if p >= 1000.0 => 2,
        p if p >= 1.0 => 4,
        p if p >= 0.01 => 6,
        _ => 8,
    };
    group_thousands(&format!("{price:.decimals$}"))
}

/// `1,234,567.8` of `1234567.8`.
pub fn group_thousands(text: &str) -> String {
    let (sign, digits) = text.strip_prefix('-').map_or(("", text), |rest| ("-", rest));
    let (whole, fraction) = digits
        .split_once('.')
        .map_or((digits, None), |(w, f)| (w, Some(f)));
    let mut grouped = String::with_capacity(text.len() + whole.len() / 3);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `+1.24 %`, `−0.80 %`.
pub fn format_change(change: f64) -> String {
    let percent = change * 100.0;
    if percent.abs() < 0.005 {
        "0.00 %".to_string()
    } else if percent > 0.0 {
        format!("+{percent:.2} %")
    } else {
        format!("\u{2212}{:.2} %", percent.abs())
    }
}

/// `1.2K`, `35.4M`: volumes at a glance.
pub fn format_volume(volume: f64) -> String {
    match volume.abs() {
        v if v >= 1e9 => format!("{:.2}B", volume / 1e9),
        v if v >= 1e6 => format!("{:.2}M", volume / 1e6),
        v if v >= 1e3 => format!("{:.2}K", volume / 1e3),
        _ => format!("{volume:.2}"),
    }
}

/// The SVG path of `values` drawn across `width` × `height` (y grows
/// down), with `pad` units kept free above and below.
pub fn line_path(values: &[f64], width: f64, height: f64, pad: f64) -> String {
    if values.is_empty() {
        return String::new();
    }
    let (low, high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &v| {
            (low.min(v), high.max(v))
        });
    let step = if values.len() > 1 {
        width / (values.len() - 1) as f64
    } else {
        0.0
    };
    let mut path = String::with_capacity(values.len() * 14);
    for (index, value) in values.iter().enumerate() {
        let x = index as f64 * step;
        // A flat day is a level line across the middle.
        let y = if high > low {
            pad + (high - value) / (high - low) * (height - 2.0 * pad)
        } else {
            height / 2.0
        };
        let command = if index == 0 { 'M' } else { 'L' };
        path.push_str(&format!("{command}{x:.1} {y:.1}"));
    }
    path
}

#[cfg(feature = "ssr")]
pub use service::{MarketPages, MarketService};

#[cfg(feature = "ssr")]
mod service {
    use std::sync::Arc;

    use inchart_api::market::Symbol;

    use super::MarketSummary;

    use crate::PageAnswer as Answer;

    /// What the market pages read, implemented by the server.
    pub trait MarketPages: Send + Sync {
        /// `None` when `symbol` is not carried, or has no candles yet.
        fn summary(&self, symbol: Symbol) -> Answer<Option<MarketSummary>>;
        /// Every carried symbol's that has candles, in the carried order.
        fn summaries(&self) -> Answer<Vec<MarketSummary>>;
    }

    /// The server's [`MarketPages`], in each request's context.
    #[derive(Clone)]
    pub struct MarketService(pub Arc<dyn MarketPages>);
}

/// A carried symbol's last day; `None` when it is not carried.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_market_summary(
    symbol: String,
) -> Result<Option<MarketSummary>, leptos::prelude::ServerFnError> {
    use leptos::prelude::{ServerFnError, use_context};
    let Ok(symbol) = Symbol::parse(&symbol) else {
        return Ok(None);
    };
    let MarketService(markets) = use_context::<MarketService>()
        .ok_or_else(|| ServerFnError::new("Markets are not configured on this server."))?;
    markets
        .summary(symbol)
        .await
        .map_err(|error| ServerFnError::new(error.message()))
}

/// Every carried symbol's last day.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_market_summaries() -> Result<Vec<MarketSummary>, leptos::prelude::ServerFnError> {
    use leptos::prelude::{ServerFnError, use_context};
    let MarketService(markets) = use_context::<MarketService>()
        .ok_or_else(|| ServerFnError::new("Markets are not configured on this server."))?;
    markets
        .summaries()
        .await
        .map_err(|error| ServerFnError::new(error.message()))
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
    fn prices_keep_the_decimals_their_size_needs() {
        assert_eq!(format_price(97_412.5), "97,412.50");
        assert_eq!(format_price(1_234_567.891), "1,234,567.89");
        assert_eq!(format_price(3.45213), "3.4521");
        assert_eq!(format_price(0.0825141), "0.082514");
        assert_eq!(format_price(0.00001234), "0.00001234");
        assert_eq!(format_price(-1500.0), "-1,500.00");
        assert_eq!(format_change(0.01236), "+1.24 %");
        assert_eq!(format_change(-0.008), "\u{2212}0.80 %");
        assert_eq!(format_change(0.0), "0.00 %");
        assert_eq!(format_volume(35_412_000.0), "35.41M");
        assert_eq!(format_volume(950.0), "950.00");
    }

    #[test]
    fn the_price_line_spans_the_box() {
        assert_eq!(
            line_path(&[1.0, 3.0, 2.0], 100.0, 50.0, 5.0),
            "M0.0 45.0L50.0 5.0L100.0 25.0"
        );
        assert_eq!(line_path(&[2.0, 2.0], 100.0, 50.0, 5.0), "M0.0 25.0L100.0 25.0");
        assert_eq!(line_path(&[], 100.0, 50.0, 5.0), "");
    }
}
