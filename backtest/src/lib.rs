//! The strategy backtest engine: a script's signals traded over a series
//! of candles with the trader's [`Settings`], giving every round trip, the
//! equity at each candle's close and the [`Report`]. Pure computation: no
//! I/O, no clock, no allocation per candle, so that a million candles take
//! milliseconds.
//!
//! Modules, in the order they depend on each other: [`settings`] (what a
//! trader may ask for) ← `trading` (signals into fills, positions and
//! cash) ← `report` (the figures) and [`mod@curves`] (what the chart draws).
//!
//! # How signals are traded
//! - **No look-ahead.** With [`Fill::NextOpen`] a signal on candle `i`
//!   fills at the open of candle `i + 1`; a signal on the last candle has
//!   no next open and is ignored. With [`Fill::SignalClose`] it fills at
//!   the close of candle `i`. Nothing after the fill's candle is read to
//!   decide or price a fill.
//! - **Order.** Signals are taken by candle index; signals of one candle
//!   in the order given. Each acts on the position the ones before it
//!   left, even when they fill at the same price.
//! - **Long only.** `buy` opens a long when flat; `sell` closes a long;
//!   a `sell` while flat and a `buy` while long are ignored. `buy` and
//!   `sell` mean the same under both [`SignalMeaning`]s.
//! - **Long and short, [`SignalMeaning::EnterExit`].** Flat, `buy` opens a
//!   long and `sell` a short; in a position the opposite signal closes it
//!   and opens nothing; a signal of the position's own side is ignored.
//! - **Long and short, [`SignalMeaning::Reverse`].** `buy` closes a short
//!   (if any) and opens a long, `sell` closes a long (if any) and opens a
//!   short, both at the same fill price; a signal of the position's own
//!   side is ignored.
//! - **Slippage** makes every fill worse, entries and exits, longs and
//!   shorts: a buy fills at `price × (1 + s)` or `price + ticks × tick`,
//!   a sell at `price × (1 − s)` or `price − ticks × tick` (never below
//!   zero).
//! - **Fees**: `fee_pct` percent of the traded value (fill price ×
//!   quantity) on every fill, paid from cash; a trade's P&L includes its
//!   entry and exit fees.
//! - **Sizing.** [`OrderSize::Quantity`] buys that quantity;
//!   [`OrderSize::Amount`] `amount / fill price`;
//!   [`OrderSize::PercentOfEquity`] the quantity whose value plus entry fee
//!   is that share of the equity at the fill (`q × price × (1 + fee) =
//!   equity × p / 100`). Entries are always made flat, so that equity is
//!   the cash. A long pays `q × price + fee`; a short is credited
//!   `q × price − fee` and its equity is `cash − q × close`. No leverage:
//!   an entry whose value plus fee is above the equity at the fill, whose
//!   quantity is not positive, or whose fill price is not positive is not
//!   made, and its signal counts as ignored.
//! - **The end.** A position still open on the last candle is closed at
//!   that candle's close (slippage and fee apply) and marked
//!   `closed_at_end`.
//! - **Equity** is recorded at each candle's close, after that candle's
//!   fills: `cash + q × close` long, `cash − q × close` short, the cash
//!   flat. An account whose equity falls to zero or below keeps its
//!   position until a signal or the end closes it, and opens nothing more.
//!
//! Every figure of the [`Report`] is defined on its field in
//! `inchart_api::backtests`; the tests hold them to backtesting.py's where
//! both define one, and to hand-computed cases where ours differ.

pub mod curves;
mod report;
pub mod settings;
mod trading;

use inchart_api::backtests::{Report, Settings, Trade};
use inchart_api::scripts::Signal;

#[cfg(doc)]
use inchart_api::backtests::{Fill, OrderSize, SignalMeaning};

pub use curves::{Curve, curves};
pub use settings::{SettingsError, check};

/// A series of candles as columns, oldest first, all of one length.
#[derive(Debug, Clone, Copy)]
pub struct Candles<'a> {
    /// Open times, milliseconds since the Unix epoch.
    pub time: &'a [i64],
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
}

/// What a backtest found.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub report: Report,
    /// Every round trip, oldest first.
    pub trades: Vec<Trade>,
    /// The equity at each candle's close.
    pub equity: Vec<f64>,
}

/// Trades `signals` over `candles` with `settings`.
///
/// `signals` are taken by candle index (stable: signals of one candle in
/// the order given; unsorted input is sorted first). `interval_ms` is the
/// series' candle length, used to annualise the ratios and to find the
/// last candle's close time.
///
/// Fails when the settings do not pass [`check`], when there are no
/// candles, when the columns differ in length or an open or close is not
/// a positive number, or when `interval_ms` is not positive. High and low
/// are not read.
pub fn simulate(
    candles: &Candles<'_>,
    signals: &[Signal],
    settings: &Settings,
    interval_ms: i64,
) -> Result<Simulation, SettingsError> {
    check(settings)?;
    settings::check_candles(candles, interval_ms)?;
    let traded = trading::trade(candles, signals, settings);
    let report = report::report(candles, &traded, settings.capital, interval_ms);
    Ok(Simulation {
        report,
        trades: traded.trades,
        equity: traded.equity,
    })
}
