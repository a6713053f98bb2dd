//! A backtest's trades on a [`Chart`] (`js/src/trades.js`): each trade's
//! entry and exit as markers on the price chart, joined by a dashed line,
//! green for a win and red for a loss; one trade drawn stronger; and the
//! view moved to a time.
//!
//! Like the panes, trades cross as plain numbers in a type of this crate
//! ([`TradeMark`]), so that chart-bridge does not depend on the API's types.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::{Chart, JsChart, js_object};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(method, js_name = setTrades)]
    fn set_trades(this: &JsChart, trades: &Array);

    #[wasm_bindgen(method, js_name = highlightTrade)]
    fn highlight_trade(this: &JsChart, index: &JsValue);

    #[wasm_bindgen(method, js_name = goTo)]
    fn go_to(this: &JsChart, time: f64);
}

/// Long or short, as the entry's marker shows it (▲ or ▼).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeSide {
    Long,
    Short,
}

/// One round trip as the chart draws it. Times are ms, prices in the
/// quote currency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeMark {
    pub side: TradeSide,
    pub entry_time: i64,
    pub entry_price: f64,
    pub exit_time: i64,
    pub exit_price: f64,
    /// Above zero a win (green), below a loss (red).
    pub pnl: f64,
    /// The range ended with the trade open: its exit is a ring, not a cross.
    pub closed_at_end: bool,
}

impl Chart {
    /// Replaces the trades drawn on the price chart (`&[]` removes them).
    /// They stay through candle updates, scrolling and theme changes.
    pub fn set_trades(&self, trades: &[TradeMark]) {
        let list = trades
            .iter()
            .map(|trade| {
                let side = match trade.side {
                    TradeSide::Long => "long",
                    TradeSide::Short => "short",
                };
                js_object(&[
                    ("side", side.into()),
                    ("entryTime", (trade.entry_time as f64).into()),
                    ("entryPrice", trade.entry_price.into()),
                    ("exitTime", (trade.exit_time as f64).into()),
                    ("exitPrice", trade.exit_price.into()),
                    ("pnl", trade.pnl.into()),
                    ("closedAtEnd", trade.closed_at_end.into()),
                ])
            })
            .collect::<Array>();
        self.inner.set_trades(&list);
    }

    /// Draws the trade at `index` of the last [`Chart::set_trades`] list
    /// stronger, its time span shaded; `None` draws them all alike.
    pub fn highlight_trade(&self, index: Option<usize>) {
        let value = index.map_or(JsValue::NULL, |index| JsValue::from(index as f64));
        self.inner.highlight_trade(&value);
    }

    /// Moves the view so that `time` (ms) is in its middle, keeping the
    /// zoom. Unlike [`Chart::set_range`] this is reported to
    /// [`Chart::on_range_change`], as a scroll would be, so that the
    /// chart's owner loads older candles when `time` is before them.
    pub fn go_to(&self, time: i64) {
        self.inner.go_to(time as f64);
    }
}
