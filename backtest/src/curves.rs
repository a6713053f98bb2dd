//! The equity and drawdown curves the chart draws under the candles, cut
//! down to a number of points a browser draws at once without hiding any
//! drop: the series is cut into stretches and each keeps its lowest and
//! highest equity and its deepest drawdown, in time order. Both curves
//! carry the same times.

/// A curve's points: a candle's open time and the value at its close.
pub type Curve = Vec<(i64, f64)>;

/// The equity curve and the drawdown curve (percent from the running
/// peak: 0 or negative) of `equity`, one value per candle opening at
/// `time`, with at most `max_points` points each.
///
/// Up to `max_points` candles every point is kept. Past it, the first and
/// last candles are kept and the ones between are cut into equal stretches,
/// each giving the candles of its lowest equity, its highest equity and
/// its deepest drawdown (one point when they are the same candle). The
/// drawdown is measured from the peak over all candles before, not only
/// the points kept. Below 5 points there is no room for a stretch: first
/// and last only.
pub fn curves(time: &[i64], equity: &[f64], max_points: usize) -> (Curve, Curve) {
    let n = time.len().min(equity.len());
    let mut peak = equity.first().copied().unwrap_or(0.0);
    let mut drawdown_at = |value: f64| {
        peak = peak.max(value);
        if peak > 0.0 {
            (value / peak - 1.0) * 100.0
        } else {
            0.0
        }
    };

    if n <= max_points {
        let equity_curve: Curve = time.iter().copied().zip(equity.iter().copied()).collect();
        let drawdown_curve = equity_curve
            .iter()
            .map(|&(at, value)| (at, drawdown_at(value)))
            .collect();
        return (equity_curve, drawdown_curve);
    }

    let mut equity_curve = Vec::with_capacity(max_points);
    let mut drawdown_curve = Vec::with_capacity(max_points);
    let mut keep = |at: usize, value: f64, drawdown: f64| {
        equity_curve.push((time[at], value));
        drawdown_curve.push((time[at], drawdown));
    };

    // Each stretch gives up to three points; first and last take two.
    let stretches = (max_points.saturating_sub(2) / 3).min(n.saturating_sub(2));
    if max_points >= 1 {
        keep(0, equity[0], drawdown_at(equity[0]));
    }
    if stretches > 0 {
        let between = n - 2;
        for stretch in 0..stretches {
            let start = 1 + stretch * between / stretches;
            let end = 1 + (stretch + 1) * between / stretches;
            let mut lowest = Point {
                at: start,
                value: equity[start],
                drawdown: 0.0,
            };
            let mut highest = lowest;
            let mut deepest = lowest;
            deepest.drawdown = f64::INFINITY;
            for (at, &value) in equity.iter().enumerate().take(end).skip(start) {
                let point = Point {
                    at,
                    value,
                    drawdown: drawdown_at(value),
                };
                if at == start || value < lowest.value {
                    lowest = point;
                }
                if at == start || value > highest.value {
                    highest = point;
                }
                if point.drawdown < deepest.drawdown {
                    deepest = point;
                }
            }
            let mut points = [lowest, highest, deepest];
            points.sort_by_key(|point| point.at);
            let mut last_kept = None;
            for point in points {
                if last_kept != Some(point.at) {
                    keep(point.at, point.value, point.drawdown);
                    last_kept = Some(point.at);
                }
            }
        }
    } else {
        // Nothing between first and last: the drawdown still runs from
        // every candle's equity.
        for &value in equity.iter().take(n.saturating_sub(1)).skip(1) {
            drawdown_at(value);
        }
    }
    if max_points >= 2 {
        keep(n - 1, equity[n - 1], drawdown_at(equity[n - 1]));
    }
    (equity_curve, drawdown_curve)
}

/// A candle's equity and drawdown.
#[derive(Clone, Copy)]
struct Point {
    at: usize,
    value: f64,
    drawdown: f64,
}

#[cfg(test)]
mod tests {
    use super::curves;

    #[test]
    fn short_series_are_kept_whole() {
        let time = [0, 60, 120, 180];
        let equity = [100.0, 110.0, 99.0, 121.0];
        let (equity_curve, drawdown) = curves(&time, &equity, 10);
        assert_eq!(
            equity_curve,
            vec![(0, 100.0), (60, 110.0), (120, 99.0), (180, 121.0)]
        );
        assert_eq!(
            drawdown,
            vec![
                (0, 0.0),
                (60, 0.0),
                (120, (99.0 / 110.0 - 1.0) * 100.0),
                (180, 0.0)
            ]
        );
    }

    #[test]
    fn a_long_series_keeps_its_drops_its_ends_and_the_limit() {
        let n = 100_000;
        let time: Vec<i64> = (0..n).map(|i| i * 60_000).collect();
        let mut equity: Vec<f64> = (0..n)
            .map(|i| 1_000.0 + (i as f64 * 0.001).sin() * 10.0)
            .collect();
        // A one-candle crash and a one-candle spike in the middle.
        equity[54_321] = 500.0;
        equity[77_777] = 2_000.0;
        let (equity_curve, drawdown) = curves(&time, &equity, 4_000);
        // Every stretch moves, so it keeps at least its lowest and highest.
        let stretches = (4_000 - 2) / 3;
        assert!(equity_curve.len() <= 4_000, "{}", equity_curve.len());
        assert!(equity_curve.len() >= 2 * stretches + 2, "{}", equity_curve.len());
        assert_eq!(equity_curve.len(), drawdown.len());
        assert_eq!(equity_curve[0], (0, equity[0]));
        assert_eq!(equity_curve.last(), Some(&(time[99_999], equity[99_999])));
        assert!(equity_curve.contains(&(time[54_321], 500.0)));
        assert!(equity_curve.contains(&(time[77_777], 2_000.0)));
        assert!(equity_curve.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert!(drawdown.iter().zip(&equity_curve).all(|(d, e)| d.0 == e.0));
        // The crash's drawdown is from the peak before it, not a kept one.
        let peak = equity[..54_321].iter().copied().fold(f64::MIN, f64::max);
        assert!(drawdown.contains(&(time[54_321], (500.0 / peak - 1.0) * 100.0)));
        // Every candle's drawdown lies within what the kept points show,
        // and the deepest of all is among them.
        let mut peak = f64::MIN;
        let every: Vec<f64> = equity
            .iter()
            .map(|&value| {
                peak = peak.max(value);
                (value / peak - 1.0) * 100.0
            })
            .collect();
        let deepest = every.iter().copied().fold(0.0, f64::min);
        assert!(drawdown.iter().any(|point| point.1 == deepest));
        // After the spike the drawdown is from 2,000, not from a kept point.
        let lowest_after = equity[77_778..].iter().copied().fold(f64::MAX, f64::min);
        assert!(
            drawdown
                .iter()
                .any(|point| point.1 == (lowest_after / 2_000.0 - 1.0) * 100.0)
        );
    }

    #[test]
    fn tiny_limits_keep_first_and_last() {
        let time = [0, 1, 2, 3, 4, 5];
        let equity = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(curves(&time, &equity, 2).0, vec![(0, 1.0), (5, 6.0)]);
        assert_eq!(curves(&time, &equity, 1).0, vec![(0, 1.0)]);
        assert!(curves(&time, &equity, 0).0.is_empty());
        assert!(curves(&[], &[], 10).0.is_empty());
    }
}
