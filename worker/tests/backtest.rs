//! Backtests: the script once over a long series, its signals as candle
//! indices, and each re-checked as a live run would have given it (only
//! the window of candles up to its own), so a script that peeks at later
//! candles is caught.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use worker_protocol::{Columns, ErrorKind, Marker, Side, Signal};

/// A chart run's markers as a backtest's signals: candle indices, sorted
/// stably (the script's order kept on one candle).
fn as_signals(candles: &Columns, markers: &[Marker]) -> Vec<Signal> {
    let mut signals: Vec<Signal> = markers
        .iter()
        .map(|m| Signal {
            index: candles.time.iter().position(|&t| t == m.time).unwrap() as u32,
            side: m.side,
        })
        .collect();
    signals.sort_by_key(|s| s.index);
    signals
}

/// Buys on a rising next candle: it needs the candle after its own.
const PEEKS: &str = r#"
from inchart import buy
def signals(c):
    close = c.close
    return [buy(c.time[i], close[i]) for i in range(len(c) - 1) if close[i + 1] > close[i]], {}
"#;

#[test]
fn a_backtest_gives_the_chart_runs_markers_as_candle_indices() {
    for mut worker in [Worker::start(), Worker::start_without_numpy()] {
        let candles = series(1000);
        let chart = worker.run(&job(MA_CROSS, candles.clone(), generous()));
        let expected = as_signals(&candles, &ok(&chart).markers);
        assert!(expected.len() >= 20, "{}", expected.len());
        assert!(expected.windows(2).all(|w| w[0].index < w[1].index));

        // A live run sees 100 candles: plenty for the 21-candle average.
        let report = worker.backtest(&backtest_job(MA_CROSS, candles, backtest_limits(), 100, 10_000));
        let got = signals(&report);
        assert_eq!(got.signals, expected);
        assert_eq!(got.checked as usize, expected.len());
        assert!(got.unconfirmed.is_empty(), "{:?}", got.unconfirmed);
    }
}

#[test]
fn signals_on_one_candle_keep_the_scripts_order() {
    let mut worker = Worker::start();
    let source = r#"
from inchart import buy, sell
def signals(c):
    t, p = c.time, c.close
    given = [(5, sell), (2, buy), (5, buy), (2, sell), (5, sell)]
    return [side(t[i], p[i]) for i, side in given if i < len(c)], {}
"#;
    let report = worker.backtest(&backtest_job(source, series(10), backtest_limits(), 10, 10));
    let signal = |index, side| Signal { index, side };
    assert_eq!(
        signals(&report).signals,
        vec![
            signal(2, Side::Buy),
            signal(2, Side::Sell),
            signal(5, Side::Sell),
            signal(5, Side::Buy),
            signal(5, Side::Sell),
        ]
    );
    assert_eq!(signals(&report).checked, 5);
    assert!(signals(&report).unconfirmed.is_empty());
}

#[test]
fn a_script_that_peeks_at_the_next_candle_has_its_signals_unconfirmed() {
    let mut worker = Worker::start();
    let candles = series(1000);
    let report = worker.backtest(&backtest_job(PEEKS, candles.clone(), backtest_limits(), 1000, 40));
    let got = signals(&report);
    let distinct = got.signals.len();
    assert!(distinct > 300, "{distinct}");
    // One signal a candle: 40 candles re-checked, none of them given again.
    assert_eq!(got.checked, 40);
    assert_eq!(got.unconfirmed.len(), 40);
    assert!(got.unconfirmed.iter().all(|s| got.signals.contains(s)));
    // The newest ten signals are among them, the rest spread over the series.
    let newest: Vec<Signal> = got.signals[distinct - 10..].to_vec();
    assert_eq!(got.unconfirmed[30..], newest[..]);
    assert!(got.unconfirmed[0].index < 50, "{:?}", got.unconfirmed[0]);
    assert!(got.unconfirmed[29].index > 850, "{:?}", got.unconfirmed[29]);
    // Chosen the same way every time.
    let again = worker.backtest(&backtest_job(PEEKS, candles, backtest_limits(), 1000, 40));
    assert_eq!(signals(&again), got);
}

#[test]
fn only_the_signals_that_look_ahead_are_unconfirmed() {
    let mut worker = Worker::start();
    let source = r#"
from inchart import sma, crossover, buy, sell
def signals(c):
    close = c.close
    fast, slow = sma(close, 9), sma(close, 21)
    honest = [buy(c.time[i], close[i]) for i in crossover(fast, slow)]
    peeking = [sell(c.time[i], close[i]) for i in range(len(c) - 1) if close[i + 1] < close[i] - 1.0]
    return honest + peeking, {}
"#;
    let report = worker.backtest(&backtest_job(
        source,
        series(1000),
        backtest_limits(),
        200,
        100_000,
    ));
    let got = signals(&report);
    let sells: Vec<Signal> = got
        .signals
        .iter()
        .copied()
        .filter(|s| s.side == Side::Sell)
        .collect();
    assert!(sells.len() >= 5 && sells.len() < got.signals.len(), "{got:?}");
    assert_eq!(got.checked as usize, got.signals.len());
    assert_eq!(got.unconfirmed, sells);
}

#[test]
fn a_result_the_first_call_cached_cannot_confirm_a_later_one() {
    let mut worker = Worker::start();
    // Peeks once, over all the candles, and keeps the answer: a live run
    // starts afresh every time, and so does each re-check.
    let source = r#"
from inchart import buy
SEEN = []
def signals(c, memo={}):
    if not SEEN:
        close = c.close
        SEEN.extend(int(c.time[i]) for i in range(len(c) - 1) if close[i + 1] > close[i])
        memo["seen"] = list(SEEN)
    return [buy(t, 1.0) for t in memo["seen"] if c.time[0] <= t <= c.time[-1]], {}
"#;
    let report = worker.backtest(&backtest_job(source, series(500), backtest_limits(), 500, 20));
    let got = signals(&report);
    assert_eq!(got.checked, 20);
    assert_eq!(got.unconfirmed.len(), 20);
}

#[test]
fn the_log_is_the_first_calls() {
    let mut worker = Worker::start();
    let source = r#"
print("loaded")
def signals(c):
    print("called with", len(c), "candles")
    return [{"time": int(c.time[i]), "side": "buy", "price": 1.0} for i in (10, 20) if i < len(c)], {}
"#;
    let report = worker.backtest(&backtest_job(source, series(100), backtest_limits(), 50, 10));
    assert_eq!(signals(&report).checked, 2);
    assert_eq!(report.log, "loaded\ncalled with 100 candles\n");
}

#[test]
fn each_call_gets_fresh_candles_whatever_the_last_one_did_to_its_own() {
    let mut worker = Worker::start();
    let source = r#"
from inchart import buy
def signals(c):
    assert (c.close > 0).all() and (c.time > 0).all(), "saw candles a previous call changed"
    markers = [buy(c.time[i], c.close[i]) for i in range(0, len(c), 50)]
    c.close[:] = -1.0
    c.time[:] = 0
    return markers, {}
"#;
    let report = worker.backtest(&backtest_job(source, series(1000), backtest_limits(), 1000, 100));
    let got = signals(&report);
    assert_eq!(got.signals.len(), 20);
    assert_eq!(got.checked, 20);
    assert!(got.unconfirmed.is_empty());
}

#[test]
fn an_exception_in_a_re_check_names_the_newest_candle_it_had() {
    let mut worker = Worker::start();
    let source = "\
from inchart import buy

def signals(c):
    if len(c) < 300:
        raise ValueError(f'needs 300 candles, got {len(c)}')
    return [buy(c.time[i], c.close[i]) for i in range(0, len(c), 100)], {}
";
    let candles = series(1000);
    let report = worker.backtest(&backtest_job(
        source,
        candles.clone(),
        backtest_limits(),
        500,
        100,
    ));
    let error = err_of(&report);
    assert_eq!(error.kind, ErrorKind::Exception);
    // The first candle re-checked is the oldest signal's, candle 0.
    let newest = worker_protocol::utc::minute(candles.time[0]);
    assert_eq!(
        error.message,
        format!("With the candles up to {newest} as the newest: ValueError: needs 300 candles, got 1")
    );
    assert_eq!(error.line, Some(5));
    assert_eq!(
        error.traceback.last().unwrap().text,
        "raise ValueError(f'needs 300 candles, got {len(c)}')"
    );
}

#[test]
fn the_first_calls_errors_are_a_chart_runs() {
    let mut worker = Worker::start();
    let limits = backtest_limits();
    let report = worker.backtest(&backtest_job(
        "def signals(c):\n    return 1 / 0\n",
        series(50),
        limits,
        10,
        10,
    ));
    let error = err_of(&report);
    assert_eq!(
        (error.kind, error.message.as_str(), error.line),
        (
            ErrorKind::Exception,
            "ZeroDivisionError: division by zero",
            Some(2)
        )
    );
    let report = worker.backtest(&backtest_job(
        "def signals(c) return\n",
        series(50),
        limits,
        10,
        10,
    ));
    assert_eq!(err_of(&report).kind, ErrorKind::Syntax);
    let report = worker.backtest(&backtest_job("x = 1\n", series(50), limits, 10, 10));
    assert_eq!(err_of(&report).message, "define a function signals(candles)");
}

#[test]
fn markers_are_checked_as_a_chart_runs_but_lines_are_not_read() {
    let mut worker = Worker::start();
    let limits = backtest_limits();
    let run = |worker: &mut Worker, body: &str| {
        let source = format!("from inchart import buy, sell, line\ndef signals(c):\n{body}");
        worker.backtest(&backtest_job(&source, series(100), limits, 100, 10))
    };
    // Lines no chart would take are never read: a backtest only trades.
    let report = run(
        &mut worker,
        "    return [buy(c.time[3], 1.0)], {'bad': 'not a line', 'x' * 100: [float('inf')]}\n",
    );
    assert_eq!(
        signals(&report).signals,
        vec![Signal {
            index: 3,
            side: Side::Buy
        }]
    );
    // More markers than a chart takes.
    let report = run(
        &mut worker,
        "    return [buy(t, 1.0) for t in c.time for _ in range(150)], None\n",
    );
    assert_eq!(signals(&report).signals.len(), 15_000);

    for (body, message) in [
        (
            "    return [buy(c.time[3] + 1, 1.0)], {}\n",
            format!(
                "marker 0: time {} is not the open time of a candle (use c.time[i])",
                T0 + 3 * MINUTE + 1
            ),
        ),
        (
            "    return [buy(10**30, 1.0)], {}\n",
            format!(
                "marker 0: time {} is not the open time of a candle (use c.time[i])",
                "1".to_owned() + &"0".repeat(30)
            ),
        ),
        (
            "    return [{'time': int(c.time[0]), 'side': 'hold', 'price': 1.0}], {}\n",
            "marker 0: side must be 'buy' or 'sell', got 'hold'".to_owned(),
        ),
        (
            "    return [sell(c.time[0], float('nan'))], {}\n",
            format!("marker 0 (sell at {T0}): price is NaN"),
        ),
        (
            "    return [buy(c.time[0], 1.0)]\n",
            "signals() returned a list of 1 items, expected (markers, lines)".to_owned(),
        ),
        (
            "    return [buy(t, 1.0) for t in c.time for _ in range(10_001)], {}\n",
            "1000100 signals: at most 1000000 in a backtest".to_owned(),
        ),
    ] {
        let report = run(&mut worker, body);
        let error = err_of(&report);
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::InvalidOutput, message.as_str()),
            "{body}"
        );
    }

    // A marker a live run could not have given: after its newest candle.
    let report = run(
        &mut worker,
        "    return [buy(c.time[-1] + 60_000, 1.0)] if len(c) < 100 else [buy(c.time[50], 1.0)], {}\n",
    );
    let error = err_of(&report);
    assert_eq!(error.kind, ErrorKind::InvalidOutput);
    let newest = worker_protocol::utc::minute(T0 + 50 * MINUTE);
    assert_eq!(
        error.message,
        format!(
            "With the candles up to {newest} as the newest: marker 0: time {} is not the open time of a candle (use c.time[i])",
            T0 + 51 * MINUTE
        )
    );
    assert_still_serves(&mut worker);
}

#[test]
fn forged_signals_are_refused_by_the_judge() {
    let mut worker = Worker::start();
    let send = r#"
import json, os
def send(answer):
    data = json.dumps(answer).encode()
    frame = b"R" + len(data).to_bytes(4, "little") + data
    while frame:
        frame = frame[os.write(3, frame):]
    os._exit(0)
"#;
    for (answer, kind) in [
        // An index past the series.
        (
            "{'Ok': {'index': [len(c)], 'side': 'b', 'checked': 0, 'unconfirmed': []}}",
            ErrorKind::InvalidOutput,
        ),
        (
            "{'Ok': {'index': [2, 1], 'side': 'bb', 'checked': 0, 'unconfirmed': []}}",
            ErrorKind::InvalidOutput,
        ),
        (
            "{'Ok': {'index': [1], 'side': 'b', 'checked': 1, 'unconfirmed': [5]}}",
            ErrorKind::InvalidOutput,
        ),
        // Over the signal cap, within the output allowance.
        (
            "{'Ok': {'index': [0] * 1_000_001, 'side': 'b' * 1_000_001, 'checked': 0, 'unconfirmed': []}}",
            ErrorKind::InvalidOutput,
        ),
        // Past the output allowance.
        (
            "{'Ok': {'index': [0] * 20_000_000, 'side': '', 'checked': 0, 'unconfirmed': []}}",
            ErrorKind::OutputTooLarge,
        ),
        // A verdict only the supervisor may give.
        (
            "{'Err': {'kind': 'cpu_limit', 'message': 'FORGED'}}",
            ErrorKind::InvalidOutput,
        ),
    ] {
        let source = format!("{send}\ndef signals(c):\n    send({answer})\n");
        let report = worker.backtest(&backtest_job(&source, series(100), backtest_limits(), 100, 10));
        let error = err_of(&report);
        assert_eq!(error.kind, kind, "{answer}: {error:?}");
        assert!(!error.message.contains("FORGED"));
    }
    assert_still_serves(&mut worker);
}

#[test]
fn a_backtest_over_a_million_candles_runs_within_a_backtests_limits() {
    let mut worker = Worker::start();
    let n = 1_000_000;
    let candles = series(n);
    let report = worker.backtest(&backtest_job(
        MA_CROSS,
        candles.clone(),
        backtest_limits(),
        1000,
        2000,
    ));
    let got = signals(&report).clone();
    assert!(got.signals.len() > 10_000, "{}", got.signals.len());
    assert!(got.checked >= 2000);
    assert!(
        got.unconfirmed.is_empty(),
        "{:?}",
        &got.unconfirmed[..got.unconfirmed.len().min(10)]
    );
    eprintln!(
        "1M candles, MA cross: {} signals, {} re-checked, cpu {} ms, wall {} ms",
        got.signals.len(),
        got.checked,
        report.cpu_ms,
        report.wall_ms
    );

    // Its signals on the last 1000 candles are what a live run over them gives.
    let window = 1000;
    let last = Columns {
        time: candles.time[n - window..].to_vec(),
        open: candles.open[n - window..].to_vec(),
        high: candles.high[n - window..].to_vec(),
        low: candles.low[n - window..].to_vec(),
        close: candles.close[n - window..].to_vec(),
        volume: candles.volume[n - window..].to_vec(),
    };
    let live = worker.run(&job(MA_CROSS, last.clone(), generous()));
    let live: Vec<Signal> = as_signals(&last, &ok(&live).markers)
        .into_iter()
        .map(|s| Signal {
            index: s.index + (n - window) as u32,
            side: s.side,
        })
        .collect();
    // A live run's averages start 21 candles into its window.
    let from = (n - window + 21) as u32;
    let backtest: Vec<Signal> = got.signals.iter().copied().filter(|s| s.index >= from).collect();
    assert!(!live.is_empty());
    assert_eq!(backtest, live);
}

#[test]
fn markers_are_found_on_a_series_whose_times_do_not_ascend() {
    // Not what the server sends, but nothing here depends on it.
    let mut candles = series(50);
    candles.time.reverse();
    let source = "from inchart import buy\ndef signals(c):\n    return [buy(c.time[i], 1.0) for i in (3, 40) if i < len(c)], {}\n";
    for mut worker in [Worker::start(), Worker::start_without_numpy()] {
        let report = worker.backtest(&backtest_job(source, candles.clone(), backtest_limits(), 50, 10));
        let got = signals(&report);
        let at = |index| Signal {
            index,
            side: Side::Buy,
        };
        assert_eq!(got.signals, vec![at(3), at(40)]);
        assert!(got.unconfirmed.is_empty());
    }
}

#[test]
fn a_higher_interval_from_the_helper_never_looks_ahead_and_a_naive_one_does() {
    let mut worker = Worker::start();
    // Minute candles from Monday 2024-01-01 00:00 UTC, on whole minutes.
    let mut candles = series(3000);
    candles.time = (0..3000).map(|i| 1_704_067_200_000 + i * MINUTE).collect();
    // Trades each hour as it closes, up or down.
    let helper = r#"
import math
from inchart import higher, buy, sell
def signals(c):
    h = higher(c, "1h")
    closed = [i for i in range(1, len(c)) if h.time[i] != h.time[i - 1] and not math.isnan(h.close[i])]
    return [(buy if h.close[i] > h.open[i] else sell)(c.time[i], c.close[i]) for i in closed], {}
"#;
    let report = worker.backtest(&backtest_job(
        helper,
        candles.clone(),
        backtest_limits(),
        1000,
        1000,
    ));
    let got = signals(&report);
    assert!(got.signals.len() >= 45, "{}", got.signals.len());
    assert_eq!(got.checked as usize, got.signals.len());
    assert!(got.unconfirmed.is_empty(), "{:?}", got.unconfirmed);

    // Trades at each hour's first candle on how that hour will close.
    let naive = r#"
from inchart import buy, sell
def signals(c):
    hour = c.time // 3_600_000
    close_of = {int(h): x for h, x in zip(hour, c.close)}
    starts = [i for i in range(1, len(c)) if hour[i] != hour[i - 1]]
    return [(buy if close_of[int(hour[i])] > c.close[i] else sell)(c.time[i], c.close[i]) for i in starts], {}
"#;
    let report = worker.backtest(&backtest_job(naive, candles, backtest_limits(), 1000, 1000));
    let got = signals(&report);
    let buys: Vec<Signal> = got
        .signals
        .iter()
        .copied()
        .filter(|s| s.side == Side::Buy)
        .collect();
    assert!(!buys.is_empty());
    assert_eq!(got.unconfirmed, buys);
}
