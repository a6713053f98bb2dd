//! The report's figures on series worked out by hand, above all those
//! whose definition differs from backtesting.py's (the reference test
//! covers the ones both define): Sharpe, Sortino, Calmar and CAGR
//! annualised from the candle length, the profit factor in money, the
//! averages in money.

// A test's helpers fail the test by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backtest::{Candles, Simulation, simulate};
use inchart_api::backtests::{Direction, Fill, OrderSize, Settings, SignalMeaning, Slippage};
use inchart_api::scripts::{Side, Signal};

const DAY: i64 = 86_400_000;

fn run(closes: &[f64], interval: i64, capital: f64, signals: &[Signal]) -> Simulation {
    let time: Vec<i64> = (0..closes.len() as i64).map(|i| i * interval).collect();
    let candles = Candles {
        time: &time,
        open: closes,
        high: closes,
        low: closes,
        close: closes,
    };
    let settings = Settings {
        capital,
        size: OrderSize::Quantity { quantity: 1.0 },
        fee_pct: 0.0,
        slippage: Slippage::Percent { percent: 0.0 },
        direction: Direction::LongAndShort,
        meaning: SignalMeaning::EnterExit,
        fill: Fill::SignalClose,
    };
    simulate(&candles, signals, &settings, interval).expect("valid settings")
}

fn signal(index: u32, side: Side) -> Signal {
    Signal { index, side }
}

#[track_caller]
fn assert_near(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("the figure is defined");
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{actual} is not {expected}"
    );
}

#[test]
fn ratios_are_annualised_from_the_candle_length() {
    // Five candles of 73 days: one year from the first open to the last
    // close, 5 candles a year. All of the capital in one unit, held from
    // the first close: the equity is the close.
    let interval = 73 * DAY;
    let closes = [100.0, 110.0, 99.0, 108.9, 119.79];
    let run = run(&closes, interval, 100.0, &[signal(0, Side::Buy)]);
    let report = &run.report;
    assert_eq!(run.equity, closes.to_vec());

    // Returns per candle: +10%, -10%, +10%, +10%. Mean 5%; deviations
    // 5, -15, 5, 5 (%), squares summing to 0.03, over n - 1 = 3: a
    // standard deviation of 10%. Downside: sqrt(0.1² / 4) = 5%.
    assert_near(report.sharpe, 0.05 / 0.10 * 5f64.sqrt());
    assert_near(report.sortino, 0.05 / 0.05 * 5f64.sqrt());
    // One year: CAGR is the return.
    assert_near(report.cagr_pct, 19.79);
    // From 110 down to 99.
    assert_near(Some(report.max_drawdown), 11.0);
    assert_near(Some(report.max_drawdown_pct), 10.0);
    assert_near(report.calmar, 19.79 / 10.0);
    // Peak on candle 1, back above it on candle 4.
    assert_eq!(report.max_drawdown_duration_ms, 3 * interval);
    assert_near(Some(report.buy_and_hold_pct), 19.79);
    assert_near(Some(report.buy_and_hold_profit), 19.79);
    assert_near(Some(report.net_profit_pct), 19.79);
    assert_eq!(report.exposure_pct, 100.0);
}

#[test]
fn the_same_returns_on_minute_candles_annualise_over_525600_candles() {
    let closes = [100.0, 110.0, 99.0, 108.9, 119.79];
    let run = run(&closes, 60_000, 100.0, &[signal(0, Side::Buy)]);
    assert_near(run.report.sharpe, 0.5 * 525_600f64.sqrt());
    assert_near(run.report.sortino, 525_600f64.sqrt());
    // Five minutes of the year: 1.1979^(525,600 / 5) overflows to
    // infinity, which is not a growth rate.
    assert_eq!(run.report.cagr_pct, None);
    assert_eq!(run.report.calmar, None);
}

#[test]
fn trade_figures_are_in_money_and_in_percent() {
    // +30 (30%), -10 (-7.69%), +20 (16.67%), one unit each, no costs.
    let closes = [100.0, 130.0, 130.0, 120.0, 120.0, 140.0, 140.0];
    let signals = [
        signal(0, Side::Buy),
        signal(1, Side::Sell),
        signal(2, Side::Buy),
        signal(3, Side::Sell),
        signal(4, Side::Buy),
        signal(5, Side::Sell),
    ];
    let run = run(&closes, DAY, 1_000.0, &signals);
    let report = &run.report;
    assert_eq!(
        run.equity,
        vec![1_000.0, 1_030.0, 1_030.0, 1_020.0, 1_020.0, 1_040.0, 1_040.0]
    );
    assert_eq!((report.trades, report.winning, report.losing), (3, 2, 1));
    assert_near(Some(report.gross_profit), 50.0);
    assert_near(Some(report.gross_loss), -10.0);
    // In money: 50 / 10. (backtesting.py sums returns instead:
    // (30% + 16.67%) / 7.69% = 6.07.)
    assert_near(report.profit_factor, 5.0);
    assert_near(report.win_rate_pct, 200.0 / 3.0);
    assert_near(report.avg_win, 25.0);
    assert_near(report.avg_loss, -10.0);
    assert_near(report.largest_win, 30.0);
    assert_near(report.largest_loss, -10.0);
    assert_near(report.best_trade_pct, 30.0);
    assert_near(report.worst_trade_pct, -100.0 / 13.0);
    assert_near(report.expectancy, 40.0 / 3.0);
    assert_near(report.expectancy_pct, (30.0 - 100.0 / 13.0 + 100.0 / 6.0) / 3.0);
    // Growth 1.3 × 12/13 × 7/6 = 1.4 over three trades.
    assert_near(report.avg_trade_pct, (1.4f64.cbrt() - 1.0) * 100.0);
    // From 1,030 (last on candle 2) to 1,020, back above on candle 5.
    assert_near(Some(report.max_drawdown), 10.0);
    assert_near(Some(report.max_drawdown_pct), 10.0 / 1_030.0 * 100.0);
    assert_eq!(report.max_drawdown_duration_ms, 3 * DAY);
    // Candles 0 to 5 of 7.
    assert_near(Some(report.exposure_pct), 600.0 / 7.0);
    assert_eq!(report.fees_paid, 0.0);
}

#[test]
fn a_trade_losing_more_than_it_staked_leaves_the_geometric_mean_undefined() {
    // A short of one unit from 100 to 250: -150, -150%.
    let closes = [100.0, 250.0, 250.0];
    let run = run(
        &closes,
        DAY,
        1_000.0,
        &[signal(0, Side::Sell), signal(1, Side::Buy)],
    );
    let report = &run.report;
    assert_near(report.worst_trade_pct, -150.0);
    assert_eq!(report.avg_trade_pct, None);
    // No profit against a loss: a factor of 0, defined.
    assert_eq!(report.profit_factor, Some(0.0));
    assert_eq!(report.win_rate_pct, Some(0.0));
    assert_eq!(report.avg_win, None);
}

#[test]
fn a_drawdown_still_open_at_the_end_lasts_to_the_last_candle() {
    let closes = [100.0, 120.0, 110.0, 115.0];
    let run = run(&closes, DAY, 100.0, &[signal(0, Side::Buy)]);
    assert_eq!(run.report.max_drawdown_duration_ms, 2 * DAY);
    // One candle below the peak, at the very end, is one candle long.
    let closes = [100.0, 120.0, 110.0];
    let run = self::run(&closes, DAY, 100.0, &[signal(0, Side::Buy)]);
    assert_eq!(run.report.max_drawdown_duration_ms, DAY);
}
