//! How long the engine takes over a million one-minute candles (about two
//! years) and 50,000 signals, the size of a Pro backtest. Prints the
//! fastest and the median of several runs, and the curves' cut too:
//!
//! ```sh
//! cargo run --release -p backtest --example speed
//! ```

// A bench binary's figures are its output.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use backtest::{Candles, curves, simulate};
use inchart_api::backtests::{Direction, MAX_CURVE_POINTS, Settings, SignalMeaning, Slippage};
use inchart_api::scripts::{Side, Signal};

const CANDLES: usize = 1_000_000;
const SIGNALS: usize = 50_000;
const RUNS: usize = 15;
const MINUTE: i64 = 60_000;

fn main() {
    let mut seed = 42u64;
    let mut random = move || {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let time: Vec<i64> = (0..CANDLES as i64)
        .map(|i| 1_600_000_000_000 + i * MINUTE)
        .collect();
    let (mut open, mut high, mut low, mut close) = (vec![], vec![], vec![], vec![]);
    let mut price = 30_000.0;
    for _ in 0..CANDLES {
        let next = price * (1.0 + ((random() % 2001) as f64 - 1000.0) / 1_000_000.0);
        open.push(price);
        high.push(price.max(next) * 1.0005);
        low.push(price.min(next) * 0.9995);
        close.push(next);
        price = next;
    }
    let mut signals: Vec<Signal> = (0..SIGNALS)
        .map(|_| Signal {
            index: (random() % CANDLES as u64) as u32,
            side: if random() % 2 == 0 { Side::Buy } else { Side::Sell },
        })
        .collect();
    signals.sort_by_key(|signal| signal.index);
    let candles = Candles {
        time: &time,
        open: &open,
        high: &high,
        low: &low,
        close: &close,
    };
    let settings = Settings {
        slippage: Slippage::Percent { percent: 0.02 },
        direction: Direction::LongAndShort,
        meaning: SignalMeaning::Reverse,
        ..Settings::default()
    };

    let mut simulations = Vec::with_capacity(RUNS);
    let mut cuts = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let Ok(simulation) = simulate(&candles, &signals, &settings, MINUTE) else {
            println!("the settings were refused");
            return;
        };
        simulations.push(started.elapsed());
        let started = Instant::now();
        let drawn = curves(&time, &simulation.equity, MAX_CURVE_POINTS);
        cuts.push(started.elapsed());
        last = Some((simulation, drawn.0.len()));
    }
    let Some((simulation, points)) = last else { return };
    let report = &simulation.report;
    println!(
        "{CANDLES} candles, {SIGNALS} signals: {} trades, {} ignored, net {:.2}%, max drawdown {:.2}%",
        report.trades, report.signals_ignored, report.net_profit_pct, report.max_drawdown_pct
    );
    println!(
        "simulate: fastest {:?}, median {:?} ({RUNS} runs)",
        fastest(&simulations),
        median(&mut simulations)
    );
    println!(
        "curves ({points} points): fastest {:?}, median {:?}",
        fastest(&cuts),
        median(&mut cuts)
    );
}

fn fastest(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}
