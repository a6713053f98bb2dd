//! A backtest on the chart: its trades over the candles (entry and exit
//! markers joined by a dashed line, green for a win, red for a loss), its
//! equity and drawdown in two panes under them on the same time axis, the
//! trade the trader points at drawn stronger, and the chart moved to a
//! trade.
//!
//! Two panes rather than one with two lines: the equity is money in the
//! thousands and the drawdown a few percent below zero, and one scale for
//! both would flatten the drawdown into a line at zero.

use std::sync::Arc;

use chart_bridge::{Pane, PaneLevel, PaneSeries, SeriesStyle, TradeMark, TradeSide};
use inchart_api::market::{Interval, Symbol};
use leptos::prelude::*;

use super::chart_panes::LINE_COLOURS;
use crate::backtests::{Backtest, Position, Status};

/// The equity pane's name, as its legend and the pane controls show it.
pub const EQUITY_PANE: &str = "Equity";
/// The drawdown pane's name.
pub const DRAWDOWN_PANE: &str = "Drawdown %";

/// The drawdown's bars: the dark theme's down colour (the light theme's
/// differs by a shade).
const DRAWDOWN_COLOUR: &str = "#FF453A";

/// A request to bring a time into view. `seq` counts the requests, so that
/// a second click on the same trade moves the chart back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Focus {
    pub time: i64,
    pub seq: u32,
}

/// What a page tells its chart about a backtest.
#[derive(Debug, Clone, Copy)]
pub struct BacktestLayer {
    /// The backtest on show; drawn once done, and only on the series it
    /// ran on.
    pub shown: Signal<Option<Arc<Backtest>>>,
    /// Where the chart should look.
    pub focus: Signal<Option<Focus>>,
    /// The trade (its index in the backtest's list) drawn stronger.
    pub highlight: Signal<Option<usize>>,
}

/// Whether `backtest` is done and ran on `symbol` at `interval`.
pub fn drawn_on(backtest: &Backtest, symbol: &Symbol, interval: Interval) -> bool {
    backtest.status == Status::Done
        && backtest.result.is_some()
        && &backtest.symbol == symbol
        && backtest.interval == interval
}

/// The trades as the chart draws them, in the backtest's order (so that an
/// index is the same in the trade list and on the chart).
pub fn trade_marks(backtest: &Backtest) -> Vec<TradeMark> {
    let Some(outcome) = &backtest.result else {
        return Vec::new();
    };
    outcome
        .trades
        .iter()
        .map(|trade| TradeMark {
            side: match trade.position {
                Position::Long => TradeSide::Long,
                Position::Short => TradeSide::Short,
            },
            entry_time: trade.entry_time,
            entry_price: trade.entry_price,
            exit_time: trade.exit_time,
            exit_price: trade.exit_price,
            pnl: trade.pnl,
            closed_at_end: trade.closed_at_end,
        })
        .collect()
}

/// The equity (a line, with the starting capital as a level) and the
/// drawdown (bars down from zero, in the loss colour) panes.
pub fn backtest_panes(backtest: &Backtest) -> Vec<Pane> {
    let Some(outcome) = &backtest.result else {
        return Vec::new();
    };
    vec![
        Pane {
            name: EQUITY_PANE.into(),
            series: vec![PaneSeries {
                name: "Equity".into(),
                style: SeriesStyle::Line,
                color: LINE_COLOURS[0].into(),
                points: outcome.equity.clone(),
            }],
            levels: vec![PaneLevel {
                name: "Start".into(),
                value: backtest.settings.capital,
                color: None,
            }],
        },
        Pane {
            name: DRAWDOWN_PANE.into(),
            series: vec![PaneSeries {
                name: "Drawdown".into(),
                style: SeriesStyle::Histogram,
                // The chart's loss red; a coloured histogram draws its
                // negative bars dimmer, which keeps a long drawdown calm.
                color: DRAWDOWN_COLOUR.into(),
                points: outcome.drawdown.clone(),
            }],
            levels: Vec::new(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtests::tests_support::backtest as sample;

    #[test]
    fn trades_keep_their_order_side_and_result() {
        let marks = trade_marks(&sample());
        assert_eq!(marks.len(), 2);
        assert_eq!(marks[0].side, TradeSide::Long);
        assert_eq!(marks[1].side, TradeSide::Short);
        assert_eq!(marks[1].pnl, -2.0);
        assert_eq!(marks[0].exit_time - marks[0].entry_time, 3 * 3_600_000);
    }

    #[test]
    fn equity_and_drawdown_get_a_pane_each_with_the_capital_as_a_level() {
        let panes = backtest_panes(&sample());
        let names: Vec<_> = panes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, [EQUITY_PANE, DRAWDOWN_PANE]);
        assert_eq!(panes[0].levels[0].value, 10_000.0);
        assert_eq!(panes[0].series[0].points.len(), 3);
        assert_eq!(panes[1].series[0].style, SeriesStyle::Histogram);
    }

    #[test]
    fn a_backtest_is_drawn_only_on_its_own_series_once_done() {
        let done = sample();
        let btc = Symbol::parse("BTCUSDT").unwrap();
        assert!(drawn_on(&done, &btc, Interval::H1));
        assert!(!drawn_on(&done, &btc, Interval::H4));
        assert!(!drawn_on(&done, &Symbol::parse("ETHUSDT").unwrap(), Interval::H1));
        let running = Backtest {
            status: Status::Running,
            result: None,
            ..done
        };
        assert!(!drawn_on(&running, &btc, Interval::H1));
        assert!(trade_marks(&running).is_empty() && backtest_panes(&running).is_empty());
    }
}
