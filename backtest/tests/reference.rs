//! The engine against backtesting.py (pinned in scripts/setup.sh's
//! `setup_reference`): the same candles, signals and settings go to both,
//! and every trade, the equity at every candle and every figure both define
//! must agree to 1e-9 (relative; absolute near zero).
//!
//! reference.py runs backtesting.py; its module doc says how the case is
//! handed over where the two differ by design (slippage on every fill, the
//! close at the end, the equity at a close that fills orders). Figures
//! defined differently on purpose (Sharpe, Sortino, Calmar, CAGR, the
//! profit factor) and the sizings backtesting.py rounds to whole units
//! (amount, share of equity) are held to hand-worked cases in figures.rs
//! and trading.rs instead.

// A test's helpers fail the test by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use backtest::{Candles, Simulation, simulate};
use inchart_api::backtests::{Direction, Fill, OrderSize, Position, Settings, SignalMeaning, Slippage};
use inchart_api::scripts::{Side, Signal};
use serde::Deserialize;

const MINUTE: i64 = 60_000;
const CANDLES: usize = 3_000;
const SETUP: &str = "source scripts/setup.sh; setup_python; setup_reference";

/// What reference.py prints.
#[derive(Debug, Deserialize)]
struct Reference {
    version: String,
    signals_ignored: u32,
    stats: Stats,
    trades: Vec<ReferenceTrade>,
    equity: Vec<f64>,
}

/// backtesting.py's statistics, under its own names.
#[derive(Debug, Deserialize)]
struct Stats {
    equity_final: f64,
    return_pct: f64,
    buy_and_hold_pct: f64,
    /// Negative.
    max_drawdown_pct: f64,
    max_drawdown_duration_ms: Option<i64>,
    trades: u32,
    win_rate_pct: Option<f64>,
    best_trade_pct: Option<f64>,
    worst_trade_pct: Option<f64>,
    avg_trade_pct: Option<f64>,
    expectancy_pct: Option<f64>,
    exposure_pct: f64,
    commissions: f64,
}

#[derive(Debug, Deserialize)]
struct ReferenceTrade {
    /// Negative for a short.
    size: i64,
    entry_bar: usize,
    exit_bar: usize,
    entry_price: f64,
    exit_price: f64,
    pnl: f64,
    /// A fraction, not percent.
    return_pct: f64,
    commission: f64,
}

/// A seeded random walk around 100 with candles one minute apart.
struct Series {
    time: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

impl Series {
    fn walk(seed: u64) -> Self {
        let mut random = SplitMix(seed);
        let mut series = Series {
            time: vec![],
            open: vec![],
            high: vec![],
            low: vec![],
            close: vec![],
        };
        let mut price = 100.0;
        for i in 0..CANDLES {
            // A gap between close and open now and then, as markets have.
            let open = price * (1.0 + random.between(-0.002, 0.002));
            let close = open * (1.0 + random.between(-0.01, 0.01));
            series.time.push(1_704_067_200_000 + i as i64 * MINUTE);
            series.open.push(open);
            series
                .high
                .push(open.max(close) * (1.0 + random.between(0.0, 0.003)));
            series
                .low
                .push(open.min(close) * (1.0 - random.between(0.0, 0.003)));
            series.close.push(close);
            price = close;
        }
        series
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

    /// A moving-average cross: `buy` where the fast average crosses above
    /// the slow one, `sell` where it crosses below; then, for the
    /// engine's rules to matter, a repeat of every fifth signal on its own
    /// candle (ignored), of every seventh two candles later (ignored, or
    /// under enter/exit an entry from flat), and a `sell` early on
    /// (ignored flat in long only, a short otherwise).
    /// Never on candle 0 (backtesting.py's strategy first runs on candle
    /// 1), nor on the last, nor two sides on one candle.
    fn cross(&self, fast: usize, slow: usize) -> Vec<Signal> {
        let average = |end: usize, length: usize| self.close[end + 1 - length..=end].iter().sum::<f64>();
        let mut signals = vec![Signal {
            index: 3,
            side: Side::Sell,
        }];
        let mut above = None;
        for i in slow - 1..CANDLES - 1 {
            let now = average(i, fast) / fast as f64 > average(i, slow) / slow as f64;
            if above.is_some_and(|was| was != now) {
                let side = if now { Side::Buy } else { Side::Sell };
                signals.push(Signal {
                    index: i as u32,
                    side,
                });
            }
            above = Some(now);
        }
        let crosses = signals.clone();
        for (n, signal) in crosses.iter().enumerate().skip(1) {
            if n % 5 == 0 {
                signals.push(*signal);
            }
            let later = signal.index + 2;
            let free = crosses.iter().all(|other| other.index != later);
            let next_cross = crosses.get(n + 1).map_or(u32::MAX, |next| next.index);
            if n % 7 == 0 && free && later < next_cross && (later as usize) < CANDLES - 1 {
                signals.push(Signal {
                    index: later,
                    side: signal.side,
                });
            }
        }
        signals.sort_by_key(|signal| signal.index);
        signals
    }
}

/// A small seeded generator (SplitMix64): the same walk on every machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (high - low)
    }
}

/// The Python that runs backtesting.py and where it is installed; a
/// missing setup fails the test, it is never skipped.
fn reference_python() -> (PathBuf, PathBuf) {
    let missing = |what: &str| -> ! {
        panic!("{what}: the reference test needs backtesting.py; run `{SETUP}` in the repository first")
    };
    let Some(site) = std::env::var_os("INCHART_REFERENCE_SITE") else {
        missing("INCHART_REFERENCE_SITE is not set")
    };
    let site = PathBuf::from(site);
    if !site.join(".inchart-complete").is_file() {
        missing(&format!("{} is not a complete reference install", site.display()))
    }
    let Some(python) = std::env::var_os("PYO3_PYTHON") else {
        missing("PYO3_PYTHON is not set")
    };
    (PathBuf::from(python), site)
}

fn run_reference(name: &str, series: &Series, signals: &[Signal], settings: &Settings) -> Reference {
    let (python, site) = reference_python();
    let case = serde_json::json!({
        "time": series.time,
        "open": series.open,
        "high": series.high,
        "low": series.low,
        "close": series.close,
        "interval_ms": MINUTE,
        "signals": signals,
        "settings": settings,
    });
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = std::env::temp_dir().join(format!("inchart-reference-{}-{slug}.json", std::process::id()));
    std::fs::write(&path, case.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&path)
        .env("PYTHONPATH", &site)
        .output();
    let _ = std::fs::remove_file(&path);
    let output = output.unwrap_or_else(|error| panic!("could not run {}: {error}", python.display()));
    assert!(
        output.status.success(),
        "{name}: reference.py failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{name}: reference.py's output is not the expected JSON: {error}"))
}

/// Disagreements, collected so that a failure shows them all.
struct Differences {
    case: &'static str,
    found: Vec<String>,
}

impl Differences {
    fn number(&mut self, what: impl std::fmt::Display, ours: f64, theirs: f64) {
        let scale = ours.abs().max(theirs.abs());
        let close = (ours - theirs).abs() <= 1e-9 * scale.max(1.0);
        if !close || ours.is_nan() || theirs.is_nan() {
            self.found
                .push(format!("{what}: ours {ours:?}, backtesting.py {theirs:?}"));
        }
    }

    fn maybe(&mut self, what: &str, ours: Option<f64>, theirs: Option<f64>) {
        match (ours, theirs) {
            (Some(ours), Some(theirs)) => self.number(what, ours, theirs),
            (None, None) => {}
            _ => self
                .found
                .push(format!("{what}: ours {ours:?}, backtesting.py {theirs:?}")),
        }
    }

    fn exactly<T: PartialEq + std::fmt::Debug>(&mut self, what: impl std::fmt::Display, ours: T, theirs: T) {
        if ours != theirs {
            self.found
                .push(format!("{what}: ours {ours:?}, backtesting.py {theirs:?}"));
        }
    }

    fn none(self) {
        let shown: Vec<_> = self.found.iter().take(40).cloned().collect();
        assert!(
            self.found.is_empty(),
            "{}: {} differences from backtesting.py:\n{}",
            self.case,
            self.found.len(),
            shown.join("\n")
        );
    }
}

/// Runs a case through both and compares everything both define.
fn compare(case: &'static str, series: &Series, signals: &[Signal], settings: &Settings) -> Simulation {
    let ours = simulate(&series.candles(), signals, settings, MINUTE).expect("valid settings");
    let theirs = run_reference(case, series, signals, settings);
    assert_eq!(theirs.version, "0.6.6", "the pinned backtesting.py");
    let mut differences = Differences { case, found: vec![] };
    let report = &ours.report;
    let stats = &theirs.stats;

    differences.exactly("trades", ours.trades.len(), theirs.trades.len());
    for (k, (trade, reference)) in ours.trades.iter().zip(&theirs.trades).enumerate() {
        let position = if reference.size > 0 {
            Position::Long
        } else {
            Position::Short
        };
        differences.exactly(format_args!("trade {k} position"), trade.position, position);
        differences.number(
            format_args!("trade {k} quantity"),
            trade.quantity,
            reference.size.abs() as f64,
        );
        let time = |bar: usize| series.time.get(bar).copied();
        differences.exactly(
            format_args!("trade {k} entry time"),
            Some(trade.entry_time),
            time(reference.entry_bar),
        );
        differences.exactly(
            format_args!("trade {k} exit time"),
            Some(trade.exit_time),
            time(reference.exit_bar),
        );
        differences.exactly(
            format_args!("trade {k} bars"),
            trade.bars as usize,
            reference.exit_bar - reference.entry_bar,
        );
        differences.number(
            format_args!("trade {k} entry price"),
            trade.entry_price,
            reference.entry_price,
        );
        differences.number(
            format_args!("trade {k} exit price"),
            trade.exit_price,
            reference.exit_price,
        );
        differences.number(format_args!("trade {k} pnl"), trade.pnl, reference.pnl);
        differences.number(
            format_args!("trade {k} pnl %"),
            trade.pnl_pct,
            reference.return_pct * 100.0,
        );
        differences.number(format_args!("trade {k} fees"), trade.fees, reference.commission);
    }

    differences.exactly("equity candles", ours.equity.len(), theirs.equity.len());
    for (at, (ours, theirs)) in ours.equity.iter().zip(&theirs.equity).enumerate() {
        differences.number(format_args!("equity at candle {at}"), *ours, *theirs);
    }

    differences.exactly("signals ignored", report.signals_ignored, theirs.signals_ignored);
    differences.number("Equity Final [$]", report.final_equity, stats.equity_final);
    differences.number("Return [%]", report.net_profit_pct, stats.return_pct);
    differences.number(
        "Buy & Hold Return [%]",
        report.buy_and_hold_pct,
        stats.buy_and_hold_pct,
    );
    differences.number(
        "Max. Drawdown [%]",
        report.max_drawdown_pct,
        -stats.max_drawdown_pct,
    );
    differences.exactly(
        "Max. Drawdown Duration",
        Some(report.max_drawdown_duration_ms),
        stats.max_drawdown_duration_ms,
    );
    differences.exactly("# Trades", report.trades, stats.trades);
    differences.maybe("Win Rate [%]", report.win_rate_pct, stats.win_rate_pct);
    differences.maybe("Best Trade [%]", report.best_trade_pct, stats.best_trade_pct);
    differences.maybe("Worst Trade [%]", report.worst_trade_pct, stats.worst_trade_pct);
    differences.maybe("Avg. Trade [%]", report.avg_trade_pct, stats.avg_trade_pct);
    differences.maybe("Expectancy [%]", report.expectancy_pct, stats.expectancy_pct);
    differences.number("Exposure Time [%]", report.exposure_pct, stats.exposure_pct);
    differences.number("Commissions [$]", report.fees_paid, stats.commissions);

    // Figures in money backtesting.py does not print, from its own trade
    // list and equity curve.
    let pnls: Vec<f64> = theirs.trades.iter().map(|trade| trade.pnl).collect();
    let wins: Vec<f64> = pnls.iter().copied().filter(|&pnl| pnl > 0.0).collect();
    let losses: Vec<f64> = pnls.iter().copied().filter(|&pnl| pnl < 0.0).collect();
    differences.number("gross profit", report.gross_profit, wins.iter().sum());
    differences.number("gross loss", report.gross_loss, losses.iter().sum());
    differences.exactly("winning", report.winning as usize, wins.len());
    differences.exactly("losing", report.losing as usize, losses.len());
    differences.maybe(
        "largest win",
        report.largest_win,
        wins.iter().copied().reduce(f64::max),
    );
    differences.maybe(
        "largest loss",
        report.largest_loss,
        losses.iter().copied().reduce(f64::min),
    );
    let mean =
        |values: &[f64]| (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    differences.maybe("average win", report.avg_win, mean(&wins));
    differences.maybe("average loss", report.avg_loss, mean(&losses));
    differences.maybe("expectancy", report.expectancy, mean(&pnls));
    let mut peak = f64::MIN;
    let deepest = theirs.equity.iter().fold(0.0, |deepest: f64, &value| {
        peak = peak.max(value);
        deepest.max(peak - value)
    });
    differences.number("max drawdown [$]", report.max_drawdown, deepest);
    differences.none();
    ours
}

fn quantity(units: f64) -> OrderSize {
    OrderSize::Quantity { quantity: units }
}

#[test]
fn long_only_with_fees_and_percent_slippage_at_the_next_open() {
    let series = Series::walk(1);
    let signals = series.cross(10, 30);
    let settings = Settings {
        capital: 10_000.0,
        size: quantity(10.0),
        fee_pct: 0.1,
        slippage: Slippage::Percent { percent: 0.05 },
        direction: Direction::LongOnly,
        meaning: SignalMeaning::EnterExit,
        fill: Fill::NextOpen,
    };
    let run = compare("long only, next open", &series, &signals, &settings);
    assert!(
        run.report.trades >= 20,
        "a case worth comparing: {} trades",
        run.report.trades
    );
    assert!(
        run.report.signals_ignored >= 10,
        "{} ignored",
        run.report.signals_ignored
    );
}

#[test]
fn long_and_short_reversing_with_tick_slippage_at_the_next_open() {
    let series = Series::walk(2);
    let signals = series.cross(5, 20);
    let settings = Settings {
        capital: 10_000.0,
        size: quantity(7.0),
        fee_pct: 0.075,
        slippage: Slippage::Ticks { ticks: 3, tick: 0.01 },
        direction: Direction::LongAndShort,
        meaning: SignalMeaning::Reverse,
        fill: Fill::NextOpen,
    };
    let run = compare(
        "long and short reversing, next open",
        &series,
        &signals,
        &settings,
    );
    assert!(run.trades.iter().any(|trade| trade.position == Position::Short));
    // Always in the market: the last trade is closed by the end.
    assert!(run.trades.last().is_some_and(|trade| trade.closed_at_end));
}

#[test]
fn long_and_short_enter_and_exit_at_the_signal_close() {
    let series = Series::walk(3);
    let signals = series.cross(8, 21);
    let settings = Settings {
        capital: 10_000.0,
        size: quantity(5.0),
        fee_pct: 0.1,
        slippage: Slippage::Percent { percent: 0.0 },
        direction: Direction::LongAndShort,
        meaning: SignalMeaning::EnterExit,
        fill: Fill::SignalClose,
    };
    let run = compare(
        "long and short enter/exit, signal close",
        &series,
        &signals,
        &settings,
    );
    assert!(run.trades.iter().any(|trade| trade.position == Position::Short));
    assert!(
        run.report.trades >= 20,
        "a case worth comparing: {} trades",
        run.report.trades
    );
}

#[test]
fn long_and_short_reversing_at_the_signal_close() {
    let series = Series::walk(4);
    let signals = series.cross(12, 40);
    let settings = Settings {
        capital: 10_000.0,
        size: quantity(20.0),
        fee_pct: 0.05,
        slippage: Slippage::Percent { percent: 0.0 },
        direction: Direction::LongAndShort,
        meaning: SignalMeaning::Reverse,
        fill: Fill::SignalClose,
    };
    let run = compare(
        "long and short reversing, signal close",
        &series,
        &signals,
        &settings,
    );
    assert!(run.trades.last().is_some_and(|trade| trade.closed_at_end));
}

#[test]
fn long_only_reversing_without_fees_at_the_next_open() {
    let series = Series::walk(5);
    let signals = series.cross(15, 50);
    let settings = Settings {
        capital: 10_000.0,
        size: quantity(50.0),
        fee_pct: 0.0,
        slippage: Slippage::Ticks {
            ticks: 10,
            tick: 0.001,
        },
        direction: Direction::LongOnly,
        meaning: SignalMeaning::Reverse,
        fill: Fill::NextOpen,
    };
    compare(
        "long only reversing, next open, no fees",
        &series,
        &signals,
        &settings,
    );
}
