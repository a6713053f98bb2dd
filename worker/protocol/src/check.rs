//! What a script's output must be before it is stored or drawn: checked
//! outside the sandbox, against the series the run was given.

use std::collections::HashSet;

use crate::{MAX_LABEL, MAX_LINES, MAX_MARKERS, Output};

impl Output {
    /// Checks what a script returned against the series it ran on: finite
    /// prices and values, times that are candles of the series, lines in
    /// ascending time, and the size caps above. The message says what was
    /// wrong, in the script's terms.
    pub fn check(&self, times: &[i64]) -> Result<(), String> {
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
        let candles: HashSet<i64> = times.iter().copied().collect();
        for (i, marker) in self.markers.iter().enumerate() {
            if !marker.price.is_finite() {
                return Err(format!("marker {i}: the price is not a finite number"));
            }
            if !candles.contains(&marker.time) {
                return Err(format!(
                    "marker {i}: time {} is not the open time of a candle in the series",
                    marker.time
                ));
            }
            if let Some(label) = &marker.label
                && label.chars().count() > MAX_LABEL
            {
                return Err(format!("marker {i}: the label is over {MAX_LABEL} characters"));
            }
        }
        let mut names = HashSet::new();
        for line in &self.lines {
            let name = &line.name;
            if name.trim().is_empty() || name.chars().count() > MAX_LABEL {
                return Err(format!("a line's name must be 1 to {MAX_LABEL} characters"));
            }
            if !names.insert(name.as_str()) {
                return Err(format!("two lines are named {name:?}"));
            }
            if let Some(color) = &line.color
                && !is_hex_color(color)
            {
                return Err(format!("line {name:?}: colour {color:?} is not #rrggbb"));
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
                if !candles.contains(&time) {
                    return Err(format!(
                        "line {name:?}: time {time} is not the open time of a candle in the series"
                    ));
                }
                if previous.is_some_and(|p| p >= time) {
                    return Err(format!("line {name:?}: times are not ascending at {time}"));
                }
                previous = Some(time);
            }
        }
        Ok(())
    }
}

fn is_hex_color(color: &str) -> bool {
    color.len() == 7 && color.starts_with('#') && color[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Line, Marker, Side};

    fn output() -> Output {
        Output {
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
            }],
        }
    }

    #[test]
    fn output_is_checked_against_the_series() {
        let times = [1, 2, 3];
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
}
