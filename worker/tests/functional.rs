//! What a trader's script gets: the right markers and lines, the helper
//! module's indicators, precise errors for broken scripts and outputs,
//! and its printed log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use worker_protocol::{Columns, ErrorKind, Frame, Level, Line, LineStyle, Marker, Side};

/// The simple moving average, computed window by window (not the helper
/// module's running sum).
fn sma(x: &[f64], n: usize) -> Vec<Option<f64>> {
    (0..x.len())
        .map(|i| (i + 1 >= n).then(|| x[i + 1 - n..=i].iter().sum::<f64>() / n as f64))
        .collect()
}

/// The markers and lines the README's moving-average cross must produce.
fn expected_ma_cross(candles: &Columns) -> (Vec<Marker>, Vec<Line>) {
    let (fast, slow) = (sma(&candles.close, 9), sma(&candles.close, 21));
    let mut ups = Vec::new();
    let mut downs = Vec::new();
    for i in 1..candles.len() {
        let (Some(f0), Some(s0), Some(f1), Some(s1)) = (fast[i - 1], slow[i - 1], fast[i], slow[i]) else {
            continue;
        };
        // The test series has no near-ties that rounding could flip.
        assert!(
            (f1 - s1).abs() > 1e-9 && (f0 - s0).abs() > 1e-9,
            "near-tie at {i}"
        );
        if f0 <= s0 && f1 > s1 {
            ups.push(i);
        }
        if f0 >= s0 && f1 < s1 {
            downs.push(i);
        }
    }
    let marker = |i: usize, side| Marker {
        time: candles.time[i],
        side,
        price: candles.close[i],
        label: None,
    };
    let mut markers: Vec<Marker> = ups.iter().map(|&i| marker(i, Side::Buy)).collect();
    markers.extend(downs.iter().map(|&i| marker(i, Side::Sell)));
    let line = |name: &str, values: &[Option<f64>]| Line {
        name: name.into(),
        color: None,
        points: values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (candles.time[i], v)))
            .collect(),
        pane: None,
        style: Default::default(),
    };
    (markers, vec![line("SMA 9", &fast), line("SMA 21", &slow)])
}

fn assert_lines_close(got: &[Line], expected: &[Line]) {
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(expected) {
        assert_eq!((&g.name, &g.color), (&e.name, &e.color));
        assert_eq!(g.points.len(), e.points.len(), "line {}", g.name);
        for ((gt, gv), (et, ev)) in g.points.iter().zip(&e.points) {
            assert_eq!(gt, et, "line {}", g.name);
            assert!((gv - ev).abs() < 1e-9, "line {} at {gt}: {gv} != {ev}", g.name);
        }
    }
}

#[test]
fn moving_average_cross_gives_exactly_the_expected_markers() {
    let mut worker = Worker::start();
    assert!(
        matches!(&worker.ready, worker_protocol::FromWorker::Ready { numpy: Some(v), .. } if v.starts_with('2'))
    );
    let candles = series(1000);
    let report = worker.run(&job(MA_CROSS, candles.clone(), generous()));
    let output = ok(&report);
    let (markers, lines) = expected_ma_cross(&candles);
    assert!(
        markers.len() >= 10,
        "the series should cross often: {}",
        markers.len()
    );
    assert_eq!(output.markers, markers);
    assert_lines_close(&output.lines, &lines);
    assert!(report.cpu_ms < 30_000 && report.wall_ms < 60_000);
}

#[test]
fn without_a_site_directory_candles_are_lists_and_the_answer_is_the_same() {
    let mut worker = Worker::start_without_numpy();
    assert!(matches!(
        &worker.ready,
        worker_protocol::FromWorker::Ready { numpy: None, .. }
    ));
    let report = worker.run_script(
        r#"
def signals(c):
    assert type(c.close) is list and type(c.time) is list and type(c.time[0]) is int, type(c.close)
    assert len(c) == len(c.close) == 200
    try:
        import numpy
    except ImportError:
        return [], {}
    raise AssertionError("numpy imported without --site")
"#,
    );
    ok(&report);
    let candles = series(1000);
    let report = worker.run(&job(MA_CROSS, candles.clone(), generous()));
    let (markers, lines) = expected_ma_cross(&candles);
    assert_eq!(ok(&report).markers, markers);
    assert_lines_close(&ok(&report).lines, &lines);
}

#[test]
fn numpy_candles_are_float64_arrays_with_int64_times() {
    let mut worker = Worker::start();
    let report = worker.run_script(
        r#"
import numpy as np
def signals(c):
    for name in ("open", "high", "low", "close", "volume"):
        column = getattr(c, name)
        assert isinstance(column, np.ndarray) and column.dtype == np.float64, (name, column.dtype)
    assert c.time.dtype == np.int64 and len(c) == 200
    assert c.time[1] - c.time[0] == 60_000
    c.close[0] = -1  # writable, the script's own copy
    return [], {}
"#,
    );
    ok(&report);
}

#[test]
fn helper_indicators_match_values_worked_out_by_hand() {
    let source = include_str!("../python/test_inchart.py");
    for mut worker in [Worker::start(), Worker::start_without_numpy()] {
        let report = worker.run_script(source);
        ok(&report);
    }
}

#[test]
fn a_syntax_error_reports_its_line_and_column() {
    let mut worker = Worker::start();
    let report = worker.run_script("def signals(c):\n    return [], {}\nx = 1 +* 2\n");
    let error = err(&report);
    assert_eq!(error.kind, ErrorKind::Syntax);
    assert_eq!(error.message, "SyntaxError: invalid syntax");
    // `*` is the 8th character of `x = 1 +* 2`.
    assert_eq!((error.line, error.column), (Some(3), Some(8)));
    assert_eq!(
        error.traceback,
        vec![Frame {
            line: 3,
            function: "<module>".into(),
            text: "x = 1 +* 2".into()
        }]
    );

    let report = worker.run_script("def signals(c):\nreturn 1\n");
    let error = err(&report);
    assert_eq!(error.kind, ErrorKind::Syntax);
    assert_eq!(
        error.message,
        "IndentationError: expected an indented block after function definition on line 1"
    );
    assert_eq!((error.line, error.column), (Some(2), Some(1)));

    let report = worker.run_script("def signals(c):\n    print(\"a\"\n    return 1\n");
    assert_eq!(err(&report).message, "SyntaxError: '(' was never closed");
    assert_eq!((err(&report).line, err(&report).column), (Some(2), Some(10)));
}

#[test]
fn an_exception_three_calls_deep_shows_only_the_scripts_frames() {
    let mut worker = Worker::start();
    let source = "\
from inchart import sma

def smooth(x, n):
    return sma(x, n)

def average(x):
    return smooth(x, 0)

def pick(c):
    return average(c.close)

def signals(c):
    pick(c)
    return [], {}
";
    let report = worker.run_script(source);
    let error = err(&report);
    assert_eq!(error.kind, ErrorKind::Exception);
    assert_eq!(error.message, "ValueError: sma: n must be at least 1, got 0");
    assert_eq!(error.line, Some(4));
    let frames: Vec<(u32, &str, &str)> = error
        .traceback
        .iter()
        .map(|f| (f.line, f.function.as_str(), f.text.as_str()))
        .collect();
    assert_eq!(
        frames,
        vec![
            (13, "signals", "pick(c)"),
            (10, "pick", "return average(c.close)"),
            (7, "average", "return smooth(x, 0)"),
            (4, "smooth", "return sma(x, n)"),
        ]
    );

    let report = worker.run_script("def signals(c):\n    return 1 / 0\n");
    let error = err(&report);
    assert_eq!(error.message, "ZeroDivisionError: division by zero");
    assert_eq!(error.line, Some(2));

    let report = worker.run_script("x = {}['missing']\n");
    assert_error(&report, ErrorKind::Exception, "KeyError: 'missing'");
    assert_eq!(err(&report).line, Some(1));
    assert_eq!(err(&report).traceback[0].function, "<module>");

    let report = worker.run_script("def strategy(c):\n    return [], {}\n");
    assert_error(
        &report,
        ErrorKind::Exception,
        "define a function signals(candles)",
    );
}

#[test]
fn both_return_shapes_labels_and_colours_work() {
    let mut worker = Worker::start();
    let report = worker.run(&job(
        r##"
from inchart import sma, buy, sell, line
def signals(c):
    return {
        "markers": [buy(c.time[3], c.low[3], "dip"), {"time": int(c.time[5]), "side": "sell", "price": 101}],
        "lines": {"SMA 3": line(sma(c.close, 3), color="#f0b90b"), "raw": list(c.close)},
    }
"##,
        series(10),
        generous(),
    ));
    let output = ok(&report);
    let candles = series(10);
    assert_eq!(
        output.markers,
        vec![
            Marker {
                time: candles.time[3],
                side: Side::Buy,
                price: candles.low[3],
                label: Some("dip".into())
            },
            Marker {
                time: candles.time[5],
                side: Side::Sell,
                price: 101.0,
                label: None
            },
        ]
    );
    assert_eq!(output.lines[0].name, "SMA 3");
    assert_eq!(output.lines[0].color.as_deref(), Some("#f0b90b"));
    assert_eq!(
        output.lines[0].points.len(),
        8,
        "the first two candles have no average yet"
    );
    assert_eq!(output.lines[1].points.len(), 10);

    // A tuple with a None for "no lines", a list for markers.
    let report = worker.run_script("def signals(c):\n    return [], None\n");
    assert_eq!(ok(&report).lines, vec![]);
}

/// The issue's RSI, invisible beside the price, in a pane of its own with
/// its 30 and 70; a MACD with its signal line and histogram in another.
const OSCILLATORS: &str = r##"
from inchart import sma, rsi, macd, line, histogram, level

def signals(c):
    macd_, signal, hist = macd(c.close)
    return [], {
        "SMA 9": sma(c.close, 9),
        "RSI 14": line(rsi(c.close, 14), pane="RSI"),
        "Overbought": level(70, color="#ef5350"),
        "Oversold": level(30, color="#26a69a"),
        "MACD": line(macd_, pane="MACD"),
        "Signal": line(signal, color="#f0b90b", pane="MACD"),
        "Histogram": histogram(hist, pane="MACD"),
        "Zero": level(0),
    }
"##;

#[test]
fn oscillators_are_drawn_in_panes_with_their_levels() {
    let candles = series(200);
    for mut worker in [Worker::start(), Worker::start_without_numpy()] {
        let report = worker.run(&job(OSCILLATORS, candles.clone(), generous()));
        let output = ok(&report);
        let drawn: Vec<_> = output
            .lines
            .iter()
            .map(|l| {
                (
                    l.name.as_str(),
                    l.pane.as_deref(),
                    l.style,
                    l.color.as_deref(),
                    l.points.len(),
                )
            })
            .collect();
        // Warm-ups: RSI 14 from candle 14, MACD from 25 (its slow EMA),
        // the signal and histogram 8 candles later.
        assert_eq!(
            drawn,
            vec![
                ("SMA 9", None, LineStyle::Line, None, 192),
                ("RSI 14", Some("RSI"), LineStyle::Line, None, 186),
                ("MACD", Some("MACD"), LineStyle::Line, None, 175),
                ("Signal", Some("MACD"), LineStyle::Line, Some("#f0b90b"), 167),
                ("Histogram", Some("MACD"), LineStyle::Histogram, None, 167),
            ]
        );
        let level = |name: &str, value: f64, pane: &str, color: Option<&str>| Level {
            name: name.into(),
            value,
            pane: Some(pane.into()),
            color: color.map(str::to_string),
        };
        // Levels without a pane join the entry before them.
        assert_eq!(
            output.levels,
            vec![
                level("Overbought", 70.0, "RSI", Some("#ef5350")),
                level("Oversold", 30.0, "RSI", Some("#26a69a")),
                level("Zero", 0.0, "MACD", None),
            ]
        );
        let rsi = &output.lines[1];
        assert!(rsi.points.iter().all(|&(_, v)| (0.0..=100.0).contains(&v)));
        assert_eq!(rsi.points[0].0, candles.time[14]);
        let (macd_, signal, hist) = (&output.lines[2], &output.lines[3], &output.lines[4]);
        for (i, &(time, bar)) in hist.points.iter().enumerate() {
            let line = macd_.points.iter().find(|p| p.0 == time).unwrap().1;
            assert_eq!(signal.points[i].0, time);
            assert!((bar - (line - signal.points[i].1)).abs() < 1e-9, "at {time}");
        }
        assert!(hist.points.iter().any(|p| p.1 < 0.0) && hist.points.iter().any(|p| p.1 > 0.0));
    }
}

#[test]
fn bad_outputs_get_precise_messages() {
    let mut worker = Worker::start();
    let cases: &[(&str, &str)] = &[
        ("'hello'", "signals() returned a str, expected (markers, lines)"),
        ("None", "signals() returned a NoneType, expected (markers, lines)"),
        (
            "([], {}, [])",
            "signals() returned a tuple of 3 items, expected (markers, lines)",
        ),
        (
            "{'marks': []}",
            "signals() returned a dict with key 'marks'; the keys are 'markers' and 'lines'",
        ),
        (
            "([], {'SMA 9': sma(c.close, 9)[1:]})",
            "line 'SMA 9': 199 values for 200 candles",
        ),
        (
            "([], {'x': 'abc'})",
            "line 'x': values must be a list or array aligned with the candles, got str",
        ),
        (
            "([], [line(sma(c.close, 9))])",
            "lines must be a dict of name: values, got list",
        ),
        ("([], {3: c.close})", "line names must be str, got int 3"),
        (
            "([], {'x': line(c.close, color='red')})",
            "line 'x': colour 'red' is not '#rrggbb'",
        ),
        (
            "([], {'x': [1.0] * 199 + [float('inf')]})",
            "line 'x': the value at candle 199 is infinite",
        ),
        (
            "([], {'x': ['a'] * 200})",
            "line 'x': the value at candle 0 must be a number, got str",
        ),
        (
            "([buy(c.time[0], 1), {'time': c.time[1], 'side': 'hold', 'price': 1}], {})",
            "marker 1: side must be 'buy' or 'sell', got 'hold'",
        ),
        (
            "([{'time': c.time[1], 'price': 1}], {})",
            "marker 0: missing 'side'",
        ),
        (
            "([{'time': c.time[1], 'side': 'buy', 'price': 1, 'size': 2}], {})",
            "marker 0: unknown key 'size'",
        ),
        (
            "([buy(c.time[0] + 1, 1)], {})",
            "marker 0: time 1700000000001 is not the open time of a candle",
        ),
        (
            "([buy(1.7e12, 1)], {})",
            "marker 0: time must be a candle's open time (an int, e.g. c.time[i]), got float",
        ),
        (
            "([buy(c.time[0], 'cheap')], {})",
            "marker 0 (buy at 1700000000000): price must be a number, got str",
        ),
        (
            "([sell(c.time[2], float('nan'))], {})",
            "marker 0 (sell at 1700000120000): price is NaN",
        ),
        (
            "([buy(c.time[0], 1, 'x' * 65)], {})",
            "marker 0: label is over 64 characters",
        ),
        ("('markers', {})", "markers must be a list, got str"),
        (
            "([], {f'l{i}': c.close for i in range(17)})",
            "17 lines: at most 16 fit on a chart",
        ),
        (
            "([buy(c.time[0], 1)] * 10001, {})",
            "10001 markers: at most 10000 fit on a chart",
        ),
        (
            "([], {'x': line(c.close, pane=3)})",
            "line 'x': pane must be a str (a name such as 'RSI'), got int",
        ),
        (
            "([], {'x': line(c.close, pane=' ')})",
            "line 'x': pane ' ' must be a name of 1 to 64 characters",
        ),
        (
            "([], {'x': histogram(c.close, pane='RSI\\u202e')})",
            "line 'x': pane 'RSI\\u202e' holds U+202E, a bidirectional control",
        ),
        (
            "([], {'x': level('70')})",
            "level 'x': the value must be a number, got str",
        ),
        ("([], {'x': level(float('nan'))})", "level 'x': the value is NaN"),
        (
            "([], {'x': level(30, color='green')})",
            "level 'x': colour 'green' is not '#rrggbb'",
        ),
        (
            "([], {'x': level(30, pane='')})",
            "level 'x': pane '' must be a name of 1 to 64 characters",
        ),
        (
            "([], {f'l{i}': level(i) for i in range(17)})",
            "17 levels: at most 16 fit on a chart",
        ),
        (
            "([], {f'p{i}': histogram(c.close) for i in range(5)})",
            "5 panes ('p0', 'p1', 'p2', 'p3', 'p4'): at most 4 fit under the candles",
        ),
        // Only the server knows the candles' scale.
        (
            "([], {'x': level(1e300)})",
            "level \"x\": the value 1e300 is more than 1000x away from the candles' prices",
        ),
    ];
    for (returned, message) in cases {
        let source = format!(
            "from inchart import sma, buy, sell, line, histogram, level\ndef signals(c):\n    return {returned}\n"
        );
        let report = worker.run_script(&source);
        let error = err(&report);
        assert_eq!(error.kind, ErrorKind::InvalidOutput, "{returned}: {error:?}");
        assert!(
            error.message.starts_with(message),
            "{returned}: {:?} does not start with {message:?}",
            error.message
        );
    }
}

#[test]
fn printed_text_is_in_the_log_and_capped() {
    let mut worker = Worker::start();
    let report = worker.run_script(
        "import sys\ndef signals(c):\n    print('candles:', len(c))\n    print('warn', file=sys.stderr)\n    return [], {}\n",
    );
    ok(&report);
    assert_eq!(report.log, "candles: 200\nwarn\n");

    let report = worker.run_script(
        "def signals(c):\n    for i in range(100_000):\n        print(i, 'é' * 10)\n    return [], {}\n",
    );
    ok(&report);
    assert!(
        report.log.len() <= worker_protocol::MAX_LOG,
        "{}",
        report.log.len()
    );
    assert!(
        report.log.len() > worker_protocol::MAX_LOG - 32,
        "{}",
        report.log.len()
    );
    assert!(report.log.starts_with("0 éééééééééé\n1 éééééééééé\n"));
}
