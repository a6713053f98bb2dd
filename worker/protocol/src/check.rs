//! What a script's output must be before it is stored or drawn: checked
//! outside the sandbox, against the series the run was given.
//!
//! Finite is not enough for a chart. Policy:
//! - Prices and values stay within [`RANGE`] times the candles' own
//!   prices: a marker sits on the price scale, so with positive prices it
//!   lies between the lowest low / [`RANGE`] and the highest high ×
//!   [`RANGE`]; a line may be an oscillator (RSI's 0 to 100, a negative
//!   MACD), so only its size is bounded, by [`RANGE`] times the largest
//!   price or the series' total volume, whichever is larger (volume
//!   lines such as OBV sit far above a cheap coin's price).
//!   A level is held to the same bound as a line's value.
//! - Line, level and pane names and marker labels are plain, visible
//!   text: no control characters, no bidirectional controls (they make
//!   text read other than it is), no zero-width or invisible characters,
//!   and not empty. A level's name is unique among the lines' and
//!   levels'.
//! - At most [`MAX_PANES`] panes under the candles, counting the
//!   distinct names lines and levels give.

use std::collections::HashSet;

use crate::{Columns, MAX_LABEL, MAX_LEVELS, MAX_LINES, MAX_MARKERS, MAX_PANES, Output};

/// How many times away from the candles' prices a script's number may be.
pub const RANGE: f64 = 1000.0;

impl Output {
    /// Checks what a script returned against the candles it ran on: finite
    /// prices and values within [`RANGE`] of the candles' prices, times
    /// that are candles of the series, lines in ascending time, readable
    /// names, labels and panes, levels within [`RANGE`], and the size
    /// caps. The message says what was wrong, in the trader's terms.
    pub fn check(&self, candles: &Columns) -> Result<(), String> {
        let times = &candles.time;
        let scale = Scale::of(candles);
        if self.markers.len() > MAX_MARKERS {
            return Err(format!(
                "{} markers: at most {MAX_MARKERS} fit on a chart",
                self.markers.len()
            ));
        }
        if self.lines.len() > MAX_LINES {
            return Err(format!(
                "{} lines: at most {MAX_LINES} fit on a chart",
                self.lines.len()
            ));
        }
        if self.levels.len() > MAX_LEVELS {
            return Err(format!(
                "{} levels: at most {MAX_LEVELS} fit on a chart",
                self.levels.len()
            ));
        }
        let panes: HashSet<&str> = (self.lines.iter().filter_map(|line| line.pane.as_deref()))
            .chain(self.levels.iter().filter_map(|level| level.pane.as_deref()))
            .collect();
        if panes.len() > MAX_PANES {
            return Err(format!(
                "{} panes: at most {MAX_PANES} fit under the candles",
                panes.len()
            ));
        }
        let open_times: HashSet<i64> = times.iter().copied().collect();
        for (i, marker) in self.markers.iter().enumerate() {
            if !marker.price.is_finite() {
                return Err(format!("marker {i}: the price is not a finite number"));
            }
            if !open_times.contains(&marker.time) {
                return Err(format!(
                    "marker {i}: time {} is not the open time of a candle in the series",
                    marker.time
                ));
            }
            if let Some(scale) = &scale
                && !scale.holds_price(marker.price)
            {
                return Err(format!(
                    "marker {i}: the price {} at {} is more than {RANGE}x away from the candles' prices ({} to {})",
                    number(marker.price),
                    when(marker.time),
                    number(scale.low),
                    number(scale.high),
                ));
            }
            if let Some(label) = &marker.label {
                if label.trim().is_empty() {
                    return Err(format!("marker {i}: the label is empty; leave it out instead"));
                }
                if label.chars().count() > MAX_LABEL {
                    return Err(format!("marker {i}: the label is over {MAX_LABEL} characters"));
                }
                if let Some(problem) = unreadable(label) {
                    return Err(format!("marker {i}: the label {label:?} {problem}"));
                }
            }
        }
        let mut names = HashSet::new();
        for (i, line) in self.lines.iter().enumerate() {
            let name = &line.name;
            if name.trim().is_empty() || name.chars().count() > MAX_LABEL {
                return Err(format!(
                    "line {i}: a line's name must be 1 to {MAX_LABEL} characters"
                ));
            }
            if let Some(problem) = unreadable(name) {
                return Err(format!("line {i}: the name {name:?} {problem}"));
            }
            if !names.insert(name.as_str()) {
                return Err(format!("two lines are named {name:?}"));
            }
            if let Some(color) = &line.color
                && !is_hex_color(color)
            {
                return Err(format!("line {name:?}: colour {color:?} is not #rrggbb"));
            }
            if let Some(problem) = line.pane.as_deref().and_then(pane_problem) {
                return Err(format!("line {name:?}: {problem}"));
            }
            if line.points.len() > times.len() {
                return Err(format!(
                    "line {name:?}: {} values for {} candles",
                    line.points.len(),
                    times.len()
                ));
            }
            let mut previous = None;
            for &(time, value) in &line.points {
                if !value.is_finite() {
                    return Err(format!(
                        "line {name:?}: the value at {time} is not a finite number"
                    ));
                }
                if !open_times.contains(&time) {
                    return Err(format!(
                        "line {name:?}: time {time} is not the open time of a candle in the series"
                    ));
                }
                if previous.is_some_and(|p| p >= time) {
                    return Err(format!("line {name:?}: times are not ascending at {time}"));
                }
                if let Some(scale) = &scale
                    && !scale.holds_value(value)
                {
                    return Err(format!(
                        "line {name:?}: the value {} at {} is more than {RANGE}x away from the candles' prices",
                        number(value),
                        when(time),
                    ));
                }
                previous = Some(time);
            }
        }
        for (i, level) in self.levels.iter().enumerate() {
            let name = &level.name;
            if name.trim().is_empty() || name.chars().count() > MAX_LABEL {
                return Err(format!(
                    "level {i}: a level's name must be 1 to {MAX_LABEL} characters"
                ));
            }
            if let Some(problem) = unreadable(name) {
                return Err(format!("level {i}: the name {name:?} {problem}"));
            }
            if !names.insert(name.as_str()) {
                return Err(format!("two lines or levels are named {name:?}"));
            }
            if !level.value.is_finite() {
                return Err(format!("level {name:?}: the value is not a finite number"));
            }
            if let Some(scale) = &scale
                && !scale.holds_value(level.value)
            {
                return Err(format!(
                    "level {name:?}: the value {} is more than {RANGE}x away from the candles' prices",
                    number(level.value),
                ));
            }
            if let Some(color) = &level.color
                && !is_hex_color(color)
            {
                return Err(format!("level {name:?}: colour {color:?} is not #rrggbb"));
            }
            if let Some(problem) = level.pane.as_deref().and_then(pane_problem) {
                return Err(format!("level {name:?}: {problem}"));
            }
        }
        Ok(())
    }
}

/// What is wrong with a pane's name, if anything: the rules of a line's
/// name.
fn pane_problem(pane: &str) -> Option<String> {
    if pane.trim().is_empty() || pane.chars().count() > MAX_LABEL {
        return Some(format!("a pane's name must be 1 to {MAX_LABEL} characters"));
    }
    unreadable(pane).map(|problem| format!("the pane {pane:?} {problem}"))
}

/// The size of the candles' numbers, which a script's prices and values
/// are held to.
struct Scale {
    /// The lowest low and the highest high.
    low: f64,
    high: f64,
    /// The largest price by size, and the series' total volume.
    price_size: f64,
    volume: f64,
}

impl Scale {
    /// `None` when there is nothing to measure against: no candles, or
    /// prices that are all zero.
    fn of(candles: &Columns) -> Option<Self> {
        let finite = |values: &[f64]| {
            values
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect::<Vec<_>>()
        };
        let low = finite(&candles.low).into_iter().reduce(f64::min)?;
        let high = finite(&candles.high).into_iter().reduce(f64::max)?;
        let price_size = low.abs().max(high.abs());
        if price_size == 0.0 {
            return None;
        }
        let volume = finite(&candles.volume).iter().map(|v| v.abs()).sum();
        Some(Self {
            low,
            high,
            price_size,
            volume,
        })
    }

    /// Whether a marker's price lies on the candles' price scale.
    fn holds_price(&self, price: f64) -> bool {
        if self.low > 0.0 {
            (self.low / RANGE..=self.high * RANGE).contains(&price)
        } else {
            price.abs() <= self.price_size * RANGE
        }
    }

    /// Whether a line's value is of a size the chart can draw beside the
    /// candles: an oscillator's 0 to 100 passes on any series.
    fn holds_value(&self, value: f64) -> bool {
        value.abs() <= self.price_size.max(self.volume) * RANGE
    }
}

/// What makes a name or label unreadable, if anything: the first control,
/// bidirectional control or invisible character, named as `U+XXXX` with
/// its place.
fn unreadable(text: &str) -> Option<String> {
    text.chars().enumerate().find_map(|(place, c)| {
        let what = if c.is_control() {
            "a control character"
        } else if is_bidi_control(c) {
            "a bidirectional control, which makes text read other than it is"
        } else if is_invisible(c) {
            "an invisible character"
        } else {
            return None;
        };
        Some(format!(
            "holds U+{:04X}, {what}, at character {}: names and labels must be plain, visible text",
            u32::from(c),
            place + 1
        ))
    })
}

pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Zero-width and other format characters that draw nothing.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
    )
}

/// A number as a trader reads it: plain when of a usual size, in
/// exponent form (`1e300`, `1e-6`) when very large or very small.
fn number(value: f64) -> String {
    let size = value.abs();
    if size == 0.0 || (1e-4..1e9).contains(&size) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// A candle's open time (milliseconds since the epoch) as
/// `2024-05-01 12:00 UTC`.
fn when(millis: i64) -> String {
    crate::utc::minute(millis)
}

fn is_hex_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Level, Line, LineStyle, Marker, Side};

    fn output() -> Output {
        Output {
            levels: Vec::new(),
            markers: vec![Marker {
                time: 2,
                side: Side::Buy,
                price: 10.5,
                label: Some("cross".into()),
            }],
            lines: vec![Line {
                name: "SMA 2".into(),
                color: Some("#f0b90b".into()),
                points: vec![(2, 10.0), (3, 11.0)],
                pane: None,
                style: LineStyle::Line,
            }],
        }
    }

    /// Candles opening at `times`, each from `low` to `high`.
    fn candles(times: &[i64], low: f64, high: f64) -> Columns {
        let n = times.len();
        Columns {
            time: times.to_vec(),
            open: vec![low; n],
            high: vec![high; n],
            low: vec![low; n],
            close: vec![high; n],
            volume: vec![1.0; n],
        }
    }

    #[test]
    fn output_is_checked_against_the_series() {
        let times = candles(&[1, 2, 3], 9.0, 12.0);
        assert_eq!(output().check(&times), Ok(()));

        let mut off_series = output();
        off_series.markers[0].time = 4;
        assert!(off_series.check(&times).unwrap_err().contains("marker 0: time 4"));

        let mut infinite = output();
        infinite.lines[0].points[1].1 = f64::INFINITY;
        assert!(
            infinite
                .check(&times)
                .unwrap_err()
                .contains("not a finite number")
        );

        let mut unordered = output();
        unordered.lines[0].points = vec![(3, 1.0), (2, 1.0)];
        assert!(unordered.check(&times).unwrap_err().contains("not ascending"));

        let mut duplicate = output();
        duplicate.lines.push(duplicate.lines[0].clone());
        assert!(duplicate.check(&times).unwrap_err().contains("two lines"));

        let mut colour = output();
        colour.lines[0].color = Some("red".into());
        assert!(colour.check(&times).unwrap_err().contains("#rrggbb"));
    }
    /// Hourly BTC candles around 60,000 from 2024-05-01 00:00 UTC.
    fn btc() -> Columns {
        let start = 1_714_521_600_000;
        let times: Vec<i64> = (0..50).map(|i| start + i * 3_600_000).collect();
        candles(&times, 58_000.0, 61_500.0)
    }

    fn line(name: &str, values: &[f64]) -> Line {
        Line {
            name: name.into(),
            color: None,
            points: btc().time.iter().copied().zip(values.iter().copied()).collect(),
            pane: None,
            style: LineStyle::Line,
        }
    }

    fn marker(price: f64, label: Option<&str>) -> Marker {
        Marker {
            time: btc().time[3],
            side: Side::Sell,
            price,
            label: label.map(str::to_string),
        }
    }

    #[test]
    fn oscillators_pass_beside_btc_and_absurd_numbers_do_not() {
        let btc = btc();
        let oscillators = Output {
            levels: Vec::new(),
            markers: vec![marker(60_250.5, Some("RSI > 70"))],
            lines: vec![
                line("RSI", &[0.0, 12.5, 55.0, 100.0]),
                line("MACD", &[-350.25, -0.004, 0.0, 812.0]),
                line("Funding", &[0.0001, -0.00005]),
            ],
        };
        assert_eq!(oscillators.check(&btc), Ok(()));

        let huge = Output {
            levels: Vec::new(),
            markers: vec![],
            lines: vec![line("RSI", &[50.0, 1e300])],
        };
        assert_eq!(
            huge.check(&btc),
            Err(
                "line \"RSI\": the value 1e300 at 2024-05-01 01:00 UTC is more than 1000x away from the candles' prices"
                    .into()
            )
        );
        let below = Output {
            levels: Vec::new(),
            markers: vec![],
            lines: vec![line("Deep", &[-1e12])],
        };
        assert!(below.check(&btc).unwrap_err().contains("the value -1e12"));

        // A marker sits on the price scale: a millionth of a dollar is
        // nowhere near BTC's candles.
        let dust = Output {
            levels: Vec::new(),
            markers: vec![marker(0.000001, None)],
            lines: vec![],
        };
        assert_eq!(
            dust.check(&btc),
            Err(
                "marker 0: the price 1e-6 at 2024-05-01 03:00 UTC is more than 1000x away from the candles' prices (58000 to 61500)"
                    .into()
            )
        );
        for price in [0.0, -60_000.0, 61_500.0 * 1001.0] {
            let off = Output {
                levels: Vec::new(),
                markers: vec![marker(price, None)],
                lines: vec![],
            };
            assert!(off.check(&btc).is_err(), "{price}");
        }
        // 1000x either way is still on the scale.
        for price in [58.0, 61_500_000.0] {
            let edge = Output {
                levels: Vec::new(),
                markers: vec![marker(price, None)],
                lines: vec![],
            };
            assert_eq!(edge.check(&btc), Ok(()), "{price}");
        }
    }

    #[test]
    fn series_without_a_scale_check_only_what_they_can() {
        // A spread that crosses zero: only size counts, for markers too.
        let spread = candles(&[1, 2], -5.0, 3.0);
        let near = Output {
            levels: Vec::new(),
            markers: vec![Marker {
                time: 1,
                side: Side::Buy,
                price: -4_000.0,
                label: None,
            }],
            lines: vec![],
        };
        assert_eq!(near.check(&spread), Ok(()));
        let far = Output {
            levels: Vec::new(),
            markers: vec![Marker {
                price: 6_000.0,
                ..near.markers[0].clone()
            }],
            lines: vec![],
        };
        assert!(far.check(&spread).unwrap_err().contains("6000"));

        // All-zero prices, or no candles: nothing to measure against.
        let flat = candles(&[1], 0.0, 0.0);
        let any = Output {
            levels: Vec::new(),
            markers: vec![],
            lines: vec![Line {
                name: "x".into(),
                color: None,
                points: vec![(1, 1e200)],
                pane: None,
                style: LineStyle::Line,
            }],
        };
        assert_eq!(any.check(&flat), Ok(()));
        assert_eq!(Output::default().check(&Columns::default()), Ok(()));
    }

    #[test]
    fn volume_lines_pass_on_a_cheap_coin() {
        // A coin at a hundredth of a cent trading billions of units: an
        // on-balance volume line is far above its price, and fine.
        let mut cheap = candles(&[1, 2, 3], 0.0001, 0.00012);
        cheap.volume = vec![4e9, 6e9, 5e9];
        let obv = Output {
            levels: Vec::new(),
            markers: vec![],
            lines: vec![Line {
                name: "OBV".into(),
                color: None,
                points: vec![(1, 4e9), (2, 1e10), (3, 5e9)],
                pane: None,
                style: LineStyle::Line,
            }],
        };
        assert_eq!(obv.check(&cheap), Ok(()));
    }

    #[test]
    fn names_and_labels_are_plain_visible_text() {
        let btc = btc();
        let named = |name: &str| Output {
            levels: Vec::new(),
            markers: vec![],
            lines: vec![line(name, &[1.0])],
        };
        let labelled = |label: &str| Output {
            levels: Vec::new(),
            markers: vec![marker(60_000.0, Some(label))],
            lines: vec![],
        };
        assert_eq!(named("SMA 20 · Δ").check(&btc), Ok(()));
        assert_eq!(labelled("achat ↑ 🚀").check(&btc), Ok(()));

        assert_eq!(
            named("SMA\u{202E}02").check(&btc),
            Err("line 0: the name \"SMA\\u{202e}02\" holds U+202E, a bidirectional control, which makes text read other than it is, at character 4: names and labels must be plain, visible text".into())
        );
        for (name, code) in [
            ("a\u{7}", "U+0007"),
            ("tab\there", "U+0009"),
            ("\u{85}next", "U+0085"),
            ("\u{061C}x", "U+061C"),
            ("x\u{200F}", "U+200F"),
            ("x\u{2066}y", "U+2066"),
            ("zero\u{200B}width", "U+200B"),
            ("join\u{200D}er", "U+200D"),
            ("word\u{2060}joiner", "U+2060"),
            ("\u{FEFF}bom", "U+FEFF"),
            ("soft\u{AD}hyphen", "U+00AD"),
            ("mongolian\u{180E}", "U+180E"),
        ] {
            let error = named(name).check(&btc).unwrap_err();
            assert!(
                error.starts_with("line 0: the name") && error.contains(code),
                "{error}"
            );
            let error = labelled(name).check(&btc).unwrap_err();
            assert!(
                error.starts_with("marker 0: the label") && error.contains(code),
                "{error}"
            );
        }

        for blank in ["", "   ", "\t"] {
            assert!(
                named(blank).check(&btc).unwrap_err().contains("must be 1 to"),
                "{blank:?}"
            );
            assert_eq!(
                labelled(blank).check(&btc),
                Err("marker 0: the label is empty; leave it out instead".into()),
                "{blank:?}"
            );
        }
    }

    fn level(name: &str, value: f64, pane: Option<&str>) -> Level {
        Level {
            name: name.into(),
            value,
            pane: pane.map(str::to_string),
            color: None,
        }
    }

    fn in_pane(mut line: Line, pane: &str) -> Line {
        line.pane = Some(pane.into());
        line
    }

    /// An RSI with its 30 and 70, and a MACD with its histogram, in two
    /// panes under BTC's candles.
    fn oscillator_panes() -> Output {
        let mut histogram = in_pane(line("Histogram", &[-120.5, 0.0, 80.25]), "MACD");
        histogram.style = LineStyle::Histogram;
        Output {
            markers: vec![],
            lines: vec![
                in_pane(line("RSI 14", &[28.0, 55.5, 71.0]), "RSI"),
                in_pane(line("MACD", &[-300.0, 10.0, 250.0]), "MACD"),
                in_pane(line("Signal", &[-200.0, 5.0, 150.0]), "MACD"),
                histogram,
            ],
            levels: vec![
                level("Overbought", 70.0, Some("RSI")),
                Level {
                    color: Some("#26a69a".into()),
                    ..level("Oversold", 30.0, Some("RSI"))
                },
                level("Zero", 0.0, Some("MACD")),
                level("Round number", 60_000.0, None),
            ],
        }
    }

    #[test]
    fn panes_and_levels_pass_beside_btc() {
        assert_eq!(oscillator_panes().check(&btc()), Ok(()));
    }

    #[test]
    fn pane_names_are_plain_visible_text_like_line_names() {
        let btc = btc();
        let with_pane = |pane: &str| Output {
            lines: vec![in_pane(line("RSI 14", &[50.0]), pane)],
            ..Output::default()
        };
        assert_eq!(with_pane("RSI · 14").check(&btc), Ok(()));
        for blank in ["", "  "] {
            assert_eq!(
                with_pane(blank).check(&btc),
                Err("line \"RSI 14\": a pane's name must be 1 to 64 characters".into())
            );
        }
        assert!(with_pane(&"x".repeat(65)).check(&btc).is_err());
        assert_eq!(with_pane(&"x".repeat(64)).check(&btc), Ok(()));
        let error = with_pane("RSI\u{202E}41").check(&btc).unwrap_err();
        assert!(
            error.starts_with("line \"RSI 14\": the pane \"RSI\\u{202e}41\"") && error.contains("U+202E"),
            "{error}"
        );
        let error = with_pane("zero\u{200B}width").check(&btc).unwrap_err();
        assert!(error.contains("U+200B, an invisible character"), "{error}");

        let level_in = |pane: &str| Output {
            levels: vec![level("Overbought", 70.0, Some(pane))],
            ..Output::default()
        };
        assert_eq!(level_in("RSI").check(&btc), Ok(()));
        let error = level_in("a\u{7}").check(&btc).unwrap_err();
        assert!(
            error.starts_with("level \"Overbought\": the pane") && error.contains("U+0007"),
            "{error}"
        );
        assert!(level_in("").check(&btc).unwrap_err().contains("must be 1 to 64"));
    }

    #[test]
    fn at_most_four_panes_counting_lines_and_levels() {
        let btc = btc();
        let mut four = Output {
            lines: ["A", "B", "C", "D"]
                .iter()
                .map(|pane| in_pane(line(&format!("line {pane}"), &[1.0]), pane))
                .collect(),
            // Levels in panes the lines already fill add none.
            levels: vec![level("in A", 1.0, Some("A")), level("on the price", 1.0, None)],
            ..Output::default()
        };
        assert_eq!(four.check(&btc), Ok(()));
        four.levels.push(level("in E", 1.0, Some("E")));
        assert_eq!(
            four.check(&btc),
            Err("5 panes: at most 4 fit under the candles".into())
        );
    }

    #[test]
    fn at_most_sixteen_levels() {
        let btc = btc();
        let mut levels = Output {
            levels: (0..16).map(|i| level(&format!("L{i}"), i as f64, None)).collect(),
            ..Output::default()
        };
        assert_eq!(levels.check(&btc), Ok(()));
        levels.levels.push(level("L16", 16.0, None));
        assert_eq!(
            levels.check(&btc),
            Err("17 levels: at most 16 fit on a chart".into())
        );
    }

    #[test]
    fn level_names_are_readable_and_unique_among_lines_and_levels() {
        let btc = btc();
        let mut twice = oscillator_panes();
        twice.levels.push(level("Overbought", 80.0, Some("RSI")));
        assert_eq!(
            twice.check(&btc),
            Err("two lines or levels are named \"Overbought\"".into())
        );
        let mut like_a_line = oscillator_panes();
        like_a_line.levels.push(level("RSI 14", 50.0, Some("RSI")));
        assert_eq!(
            like_a_line.check(&btc),
            Err("two lines or levels are named \"RSI 14\"".into())
        );

        let named = |name: &str| Output {
            levels: vec![level(name, 70.0, None)],
            ..Output::default()
        };
        let long = "x".repeat(65);
        for blank in ["", " ", long.as_str()] {
            assert_eq!(
                named(blank).check(&btc),
                Err("level 0: a level's name must be 1 to 64 characters".into()),
                "{blank:?}"
            );
        }
        let error = named("70\u{2066}").check(&btc).unwrap_err();
        assert!(
            error.starts_with("level 0: the name") && error.contains("U+2066, a bidirectional control"),
            "{error}"
        );
    }

    #[test]
    fn level_values_are_finite_and_bounded_like_line_values() {
        let btc = btc();
        let at = |value: f64| Output {
            levels: vec![level("Level", value, None)],
            ..Output::default()
        };
        // An oscillator's level and a price level both pass beside BTC.
        for value in [0.0, -0.5, 70.0, 60_000.0, -61_500_000.0] {
            assert_eq!(at(value).check(&btc), Ok(()), "{value}");
        }
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(
                at(value).check(&btc),
                Err("level \"Level\": the value is not a finite number".into()),
                "{value}"
            );
        }
        assert_eq!(
            at(1e300).check(&btc),
            Err("level \"Level\": the value 1e300 is more than 1000x away from the candles' prices".into())
        );
    }

    #[test]
    fn level_colours_are_hex() {
        let mut coloured = oscillator_panes();
        coloured.levels[0].color = Some("red".into());
        assert_eq!(
            coloured.check(&btc()),
            Err("level \"Overbought\": colour \"red\" is not #rrggbb".into())
        );
    }

    #[test]
    fn times_read_as_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_714_566_600_000), "2024-05-01 12:30 UTC");
        assert_eq!(when(951_825_600_000), "2000-02-29 12:00 UTC");
        assert_eq!(when(-60_000), "1969-12-31 23:59 UTC");
    }
}
