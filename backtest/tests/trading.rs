//! How signals become trades, on series short enough to work out by hand:
//! the fills, slippage, fees, sizing, directions, what is ignored, the
//! close at the end, and that nothing after a fill's candle changes it.

// A test's helpers fail the test by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backtest::{Candles, Simulation, simulate};
use inchart_api::backtests::{Direction, Fill, OrderSize, Position, Settings, SignalMeaning, Slippage};
use inchart_api::scripts::{Side, Signal};

const MINUTE: i64 = 60_000;

/// Candles one minute apart from their opens and closes.
struct Series {
    time: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

impl Series {
    fn new(open: &[f64], close: &[f64]) -> Self {
        Self {
            time: (0..open.len() as i64)
                .map(|i| 1_700_000_000_000 + i * MINUTE)
                .collect(),
            open: open.to_vec(),
            high: open.iter().zip(close).map(|(o, c)| o.max(*c) + 1.0).collect(),
            low: open.iter().zip(close).map(|(o, c)| o.min(*c) - 1.0).collect(),
            close: close.to_vec(),
        }
    }

    fn candles(&self) -> Candles<'_> {
        Candles {
            time: &self.time,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
        }
    }

    fn run(&self, signals: &[Signal], settings: &Settings) -> Simulation {
        simulate(&self.candles(), signals, settings, MINUTE).expect("these settings are valid")
    }
}

fn buy(index: u32) -> Signal {
    Signal {
        index,
        side: Side::Buy,
    }
}

fn sell(index: u32) -> Signal {
    Signal {
        index,
        side: Side::Sell,
    }
}

fn close_to(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0)
}

#[track_caller]
fn assert_close(actual: f64, expected: f64) {
    assert!(close_to(actual, expected), "{actual} is not {expected}");
}

fn settings() -> Settings {
    Settings {
        capital: 10_000.0,
        size: OrderSize::Quantity { quantity: 1.0 },
        fee_pct: 0.0,
        slippage: Slippage::Percent { percent: 0.0 },
        direction: Direction::LongOnly,
        meaning: SignalMeaning::EnterExit,
        fill: Fill::NextOpen,
    }
}

#[test]
fn a_long_fills_at_the_next_open_with_slippage_and_fees_on_both_sides() {
    let series = Series::new(
        &[100.0, 100.0, 120.0, 110.0, 105.0],
        &[100.0, 110.0, 115.0, 100.0, 108.0],
    );
    let settings = Settings {
        size: OrderSize::PercentOfEquity { percent: 50.0 },
        fee_pct: 0.1,
        slippage: Slippage::Percent { percent: 1.0 },
        ..settings()
    };
    let run = series.run(&[buy(0), sell(2)], &settings);

    // In at the open of candle 1, 1% worse; half the equity, fee included.
    let entry = 100.0 * 1.01;
    let quantity = 10_000.0 * 0.5 / (entry * 1.001);
    let entry_fee = quantity * entry * 0.001;
    let cash = 10_000.0 - quantity * entry - entry_fee;
    assert_close(cash, 5_000.0);
    // Out at the open of candle 3, 1% worse.
    let exit = 110.0 * 0.99;
    let exit_fee = quantity * exit * 0.001;
    let final_cash = cash + quantity * exit - exit_fee;

    assert_eq!(run.trades.len(), 1);
    let trade = &run.trades[0];
    assert_eq!(trade.position, Position::Long);
    assert_eq!(trade.signal_time, series.time[0]);
    assert_eq!(trade.entry_time, series.time[1]);
    assert_eq!(trade.exit_time, series.time[3]);
    assert_close(trade.entry_price, entry);
    assert_close(trade.exit_price, exit);
    assert_close(trade.quantity, quantity);
    assert_close(trade.fees, entry_fee + exit_fee);
    assert_close(trade.pnl, (exit - entry) * quantity - entry_fee - exit_fee);
    assert_close(trade.pnl, final_cash - 10_000.0);
    assert_close(trade.pnl_pct, trade.pnl / (quantity * entry) * 100.0);
    assert_eq!(trade.bars, 2);
    assert!(!trade.closed_at_end);

    let expected = [
        10_000.0,
        cash + quantity * 110.0,
        cash + quantity * 115.0,
        final_cash,
        final_cash,
    ];
    for (actual, expected) in run.equity.iter().zip(expected) {
        assert_close(*actual, expected);
    }
    let report = &run.report;
    assert_close(report.final_equity, final_cash);
    assert_close(report.fees_paid, entry_fee + exit_fee);
    // Candles 1 to 3 of 5.
    assert_close(report.exposure_pct, 60.0);
    assert_eq!(report.signals_ignored, 0);
}

#[test]
fn reversing_at_the_signal_close_with_tick_slippage() {
    let closes = [100.0, 90.0, 95.0, 80.0, 85.0];
    let series = Series::new(&closes, &closes);
    let settings = Settings {
        size: OrderSize::Quantity { quantity: 2.0 },
        slippage: Slippage::Ticks { ticks: 2, tick: 0.5 },
        direction: Direction::LongAndShort,
        meaning: SignalMeaning::Reverse,
        fill: Fill::SignalClose,
        ..settings()
    };
    let run = series.run(&[sell(0), buy(3)], &settings);

    // Short 2 at 100 - 1: credited 198.
    // Covered at 80 + 1 (P&L 36), long 2 at the same 81.
    // Closed at the end at 85 - 1 (P&L 6).
    assert_eq!(run.equity, vec![9_998.0, 10_018.0, 10_008.0, 10_034.0, 10_042.0]);
    assert_eq!(run.trades.len(), 2);
    let (short, long) = (&run.trades[0], &run.trades[1]);
    assert_eq!(short.position, Position::Short);
    assert_eq!(
        (short.entry_price, short.exit_price, short.pnl),
        (99.0, 81.0, 36.0)
    );
    assert_eq!(
        (short.entry_time, short.exit_time, short.bars),
        (series.time[0], series.time[3], 3)
    );
    assert_eq!(long.position, Position::Long);
    assert_eq!((long.entry_price, long.exit_price, long.pnl), (81.0, 84.0, 6.0));
    assert_eq!(long.signal_time, series.time[3]);
    assert!(long.closed_at_end && !short.closed_at_end);
    assert_eq!(run.report.final_equity, 10_042.0);
    assert_eq!(run.report.exposure_pct, 100.0);
}

#[test]
fn enter_exit_closes_without_opening_the_other_side_and_ignores_repeats() {
    let prices = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0];
    let series = Series::new(&prices, &prices);
    let settings = Settings {
        direction: Direction::LongAndShort,
        ..settings()
    };
    // Short at 1's open, the repeat ignored, covered at 3's; long at 4's,
    // the repeat on the same candle ignored, out at 6's; the sell on the
    // last candle has no next open.
    let signals = [sell(0), sell(1), buy(2), buy(3), buy(3), sell(5), sell(7)];
    let run = series.run(&signals, &settings);
    let sides: Vec<_> = run
        .trades
        .iter()
        .map(|t| (t.position, t.entry_price, t.exit_price, t.closed_at_end))
        .collect();
    assert_eq!(
        sides,
        vec![
            (Position::Short, 11.0, 13.0, false),
            (Position::Long, 14.0, 16.0, false)
        ]
    );
    assert_eq!(run.report.signals_ignored, 3);
}

#[test]
fn long_only_ignores_a_sell_while_flat_and_reverse_just_closes() {
    let prices = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0];
    let series = Series::new(&prices, &prices);
    for meaning in [SignalMeaning::EnterExit, SignalMeaning::Reverse] {
        let settings = Settings {
            meaning,
            ..settings()
        };
        let run = series.run(&[sell(0), buy(1), sell(3), sell(4)], &settings);
        let trades: Vec<_> = run
            .trades
            .iter()
            .map(|t| (t.position, t.entry_price, t.exit_price))
            .collect();
        assert_eq!(trades, vec![(Position::Long, 12.0, 14.0)], "{meaning:?}");
        assert_eq!(run.report.signals_ignored, 2, "{meaning:?}");
        assert_eq!(*run.equity.last().unwrap(), 10_002.0);
    }
}

#[test]
fn signals_are_taken_by_candle_in_the_order_given() {
    let prices = [10.0, 11.0, 12.0, 13.0, 14.0];
    let series = Series::new(&prices, &prices);
    let settings = Settings {
        direction: Direction::LongAndShort,
        ..settings()
    };
    // Out of order, and on candle 1 a buy before a sell: long then flat at
    // the same open.
    let run = series.run(&[buy(1), sell(3), sell(1)], &settings);
    let trades: Vec<_> = run
        .trades
        .iter()
        .map(|t| (t.position, t.entry_time, t.exit_time, t.bars))
        .collect();
    assert_eq!(
        trades,
        vec![
            (Position::Long, series.time[2], series.time[2], 0),
            (Position::Short, series.time[4], series.time[4], 0)
        ]
    );
    // The short opened at the last open is closed at the last close.
    assert!(run.trades[1].closed_at_end);
    assert_eq!(run.report.signals_ignored, 0);
    // Candles 2 and 4.
    assert_eq!(run.report.exposure_pct, 40.0);
}

#[test]
fn a_position_open_at_the_end_closes_at_the_last_close_with_costs() {
    let series = Series::new(&[100.0, 100.0, 100.0], &[100.0, 104.0, 110.0]);
    let settings = Settings {
        fee_pct: 0.5,
        slippage: Slippage::Percent { percent: 2.0 },
        ..settings()
    };
    let run = series.run(&[buy(0)], &settings);
    let trade = &run.trades[0];
    assert!(trade.closed_at_end);
    assert_eq!(trade.exit_time, series.time[2]);
    assert_close(trade.exit_price, 110.0 * 0.98);
    let fees = 102.0 * 0.005 + 110.0 * 0.98 * 0.005;
    assert_close(trade.fees, fees);
    assert_close(trade.pnl, 110.0 * 0.98 - 102.0 - fees);
    // The last equity is after the closing fill, and is the final equity.
    assert_close(run.equity[2], 10_000.0 + trade.pnl);
    assert_close(run.equity[1], 10_000.0 - 102.0 * 1.005 + 104.0);
    assert_eq!(run.report.final_equity, run.equity[2]);
}

#[test]
fn amounts_buy_their_value_and_unaffordable_entries_are_not_made() {
    let prices = [50.0, 50.0, 40.0, 40.0, 40.0];
    let series = Series::new(&prices, &prices);
    let by_amount = Settings {
        size: OrderSize::Amount { amount: 1_000.0 },
        ..settings()
    };
    let run = series.run(&[buy(0), sell(2)], &by_amount);
    assert_eq!(run.trades[0].quantity, 20.0);
    assert_eq!(run.trades[0].pnl, -200.0);

    // 250 × 40 = 10,000 plus a fee is more than 10,000: not made.
    let too_big = Settings {
        size: OrderSize::Quantity { quantity: 250.0 },
        fee_pct: 0.1,
        ..settings()
    };
    let run = series.run(&[buy(1)], &too_big);
    assert!(run.trades.is_empty());
    assert_eq!(run.report.signals_ignored, 1);
    assert!(run.equity.iter().all(|&e| e == 10_000.0));
    // Without the fee it is exactly affordable.
    let run = series.run(
        &[buy(1)],
        &Settings {
            fee_pct: 0.0,
            ..too_big
        },
    );
    assert_eq!(run.trades.len(), 1);
}

#[test]
fn all_of_the_equity_buys_what_it_pays_for_fee_included() {
    let prices = [80.0, 80.0, 100.0];
    let series = Series::new(&prices, &prices);
    let settings = Settings {
        size: OrderSize::PercentOfEquity { percent: 100.0 },
        fee_pct: 0.1,
        fill: Fill::SignalClose,
        ..settings()
    };
    let run = series.run(&[buy(0)], &settings);
    let quantity = 10_000.0 / (80.0 * 1.001);
    assert_close(run.trades[0].quantity, quantity);
    // Nothing left in cash: the equity is the holding.
    assert_close(run.equity[0], quantity * 80.0);
    assert_close(run.equity[1], quantity * 80.0);
    assert_close(run.equity[2], quantity * 100.0 * 0.999);
}

#[test]
fn no_signal_leaves_the_capital_untouched_and_ratios_undefined() {
    let prices = [10.0, 12.0, 9.0];
    let series = Series::new(&prices, &prices);
    let run = series.run(&[], &settings());
    let report = &run.report;
    assert_eq!(run.equity, vec![10_000.0; 3]);
    assert_eq!(
        (report.trades, report.net_profit, report.max_drawdown_pct),
        (0, 0.0, 0.0)
    );
    assert_eq!(report.max_drawdown_duration_ms, 0);
    assert_eq!(report.win_rate_pct, None);
    assert_eq!(report.profit_factor, None);
    assert_eq!(report.sharpe, None);
    assert_eq!(report.sortino, None);
    assert_eq!(report.calmar, None);
    assert_eq!(report.avg_trade_pct, None);
    assert_eq!(report.cagr_pct, Some(0.0));
    assert_close(report.buy_and_hold_pct, -10.0);
    assert_close(report.buy_and_hold_profit, -1_000.0);
}

#[test]
fn signals_past_the_series_are_ignored_not_a_panic() {
    let prices = [10.0, 11.0];
    let series = Series::new(&prices, &prices);
    let run = series.run(&[buy(5), sell(u32::MAX)], &settings());
    assert!(run.trades.is_empty());
    assert_eq!(run.report.signals_ignored, 2);
}

#[test]
fn a_series_that_cannot_be_traded_is_refused() {
    let series = Series::new(&[10.0, 11.0], &[10.0, 11.0]);
    let candles = series.candles();
    let refused =
        |candles: &Candles<'_>, interval| simulate(candles, &[], &settings(), interval).unwrap_err();
    assert_eq!(refused(&candles, 0).field, "interval");
    let short = Candles {
        close: &series.close[..1],
        ..candles
    };
    assert_eq!(refused(&short, MINUTE).field, "candles");
    let empty = Candles {
        time: &[],
        open: &[],
        high: &[],
        low: &[],
        close: &[],
    };
    assert_eq!(refused(&empty, MINUTE).field, "candles");
    let nan = [10.0, f64::NAN];
    assert_eq!(
        refused(
            &Candles {
                open: &nan,
                ..candles
            },
            MINUTE
        )
        .field,
        "candles"
    );
    let bad = Settings {
        capital: -1.0,
        ..settings()
    };
    assert_eq!(
        simulate(&candles, &[], &bad, MINUTE).unwrap_err().field,
        "capital"
    );
}

/// A seeded walk and a signal every few candles, for the look-ahead check.
fn walk(n: usize, seed: u64) -> (Series, Vec<Signal>) {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut price = 100.0;
    let (mut open, mut close, mut signals) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        open.push(price);
        price *= 1.0 + ((next() % 2001) as f64 - 1000.0) / 50_000.0;
        close.push(price);
        if next() % 7 == 0 {
            let side = if next() % 2 == 0 { Side::Buy } else { Side::Sell };
            signals.push(Signal {
                index: i as u32,
                side,
            });
        }
    }
    (Series::new(&open, &close), signals)
}

#[test]
fn nothing_after_a_fill_changes_it() {
    let (series, signals) = walk(400, 7);
    for fill in [Fill::NextOpen, Fill::SignalClose] {
        let settings = Settings {
            size: OrderSize::PercentOfEquity { percent: 80.0 },
            fee_pct: 0.1,
            slippage: Slippage::Percent { percent: 0.05 },
            direction: Direction::LongAndShort,
            meaning: SignalMeaning::Reverse,
            fill,
            ..settings()
        };
        let full = series.run(&signals, &settings);
        for cut in [50, 137, 250, 399] {
            // The series as it was when candle `cut - 1` had just closed,
            // then with a wild future appended instead of the real one.
            let mut future = Series::new(&series.open[..cut], &series.close[..cut]);
            let truncated = future.run(&signals, &settings);
            for at in cut..400 {
                future.time.push(series.time[at]);
                future.open.push(1_000.0);
                future.high.push(2_000.0);
                future.low.push(1.0);
                future.close.push(1.5);
            }
            let other = future.run(&signals, &settings);
            // Every candle before the cut's last (where the truncated run
            // closes what it holds) has the same equity in all three.
            assert_eq!(
                full.equity[..cut - 1],
                truncated.equity[..cut - 1],
                "{fill:?} cut at {cut}"
            );
            assert_eq!(
                full.equity[..cut - 1],
                other.equity[..cut - 1],
                "{fill:?} cut at {cut}"
            );
            // Trades done before the cut's last candle are the same.
            let done = |run: &Simulation| {
                run.trades
                    .iter()
                    .filter(|t| t.exit_time < series.time[cut - 1])
                    .cloned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(done(&full), done(&truncated), "{fill:?} cut at {cut}");
            assert_eq!(done(&full), done(&other), "{fill:?} cut at {cut}");
        }
    }
}
