//! The signal bus: a live run's result reaches its owner's open charts on
//! every instance, through the [per-user bus](crate::platform::user_bus),
//! scoped to the run's series: only the owner's connections that follow
//! the series hear of it.
//!
//! What a slow chart connection can pin is bounded here and in
//! [`crate::stream`]: a run is encoded once, before it is published,
//! into one `signals` frame of at most [`MAX_SIGNALS_FRAME`] bytes (a
//! whole run can encode to about 6 MB: 10,000 markers and 16 lines of
//! 5,000 points); that frame crosses Redis and is shared by every
//! connection through an `Arc`, never copied or re-encoded per connection.

use std::collections::BTreeMap;

use inchart_api::scripts::RunView;
use inchart_api::stream::ServerMessage;
use serde::Serialize;
use uuid::Uuid;

use crate::platform::user_bus::{MAX_USER_FRAME, UserBus, UserFrame, UserRoute};

/// The largest `signals` frame sent to a chart, in bytes: the most the
/// per-user bus carries. A run over it is sent with its newest signals
/// only, as many as fit (a live chart shows the newest candles); the whole
/// run stays readable at `GET /api/v1/scripts/{id}/runs/{run}`.
pub const MAX_SIGNALS_FRAME: usize = MAX_USER_FRAME;

/// A run's result, for its owner's charts.
#[derive(Debug, Clone)]
pub struct SignalEvent {
    pub user: Uuid,
    pub script_name: String,
    pub run: RunView,
}

/// Encodes a run for its owner's charts that follow its series, cut to
/// [`MAX_SIGNALS_FRAME`] bytes; `None` when not even the run without its
/// signals fits. A newer run of the same script on the same series
/// supersedes one still waiting for a connection.
pub fn signals_user_frame(event: SignalEvent) -> Option<UserFrame> {
    let route = UserRoute {
        user: event.user,
        series: Some((event.run.symbol.clone(), event.run.interval)),
        topic: format!("script:{}", event.run.script_id),
    };
    let frame = signals_frame(event.script_name, event.run, MAX_SIGNALS_FRAME)?;
    Some(UserFrame {
        route,
        frame: frame.into(),
    })
}

/// The `signals` message for a run, with only its newest markers and
/// line values when the whole would be over `limit` bytes: those at and
/// after the earliest open time from which everything newer fits.
fn signals_frame(script_name: String, run: RunView, limit: usize) -> Option<String> {
    let mut message = ServerMessage::Signals {
        script_name,
        run: Box::new(run),
    };
    let whole = serde_json::to_string(&message).ok()?;
    if whole.len() <= limit {
        return Some(whole);
    }
    let ServerMessage::Signals { run, .. } = &mut message else {
        return None;
    };
    let output = run.result.as_mut().ok()?;
    // Encoded sizes add up: each marker or point costs its own JSON and a
    // comma, on top of the run with none.
    let mut cost_at: BTreeMap<i64, usize> = BTreeMap::new();
    for marker in &output.markers {
        *cost_at.entry(marker.time).or_default() += json_len(marker) + 1;
    }
    for line in &output.lines {
        for point in &line.points {
            *cost_at.entry(point.0).or_default() += json_len(point) + 1;
        }
    }
    let markers = std::mem::take(&mut output.markers);
    let points: Vec<_> = output
        .lines
        .iter_mut()
        .map(|line| std::mem::take(&mut line.points))
        .collect();
    let bare = serde_json::to_string(&message).ok()?;
    let mut room = limit.checked_sub(bare.len())?;
    let mut from = i64::MAX;
    for (&time, &cost) in cost_at.iter().rev() {
        if cost > room {
            break;
        }
        room -= cost;
        from = time;
    }
    if let ServerMessage::Signals { run, .. } = &mut message
        && let Ok(output) = &mut run.result
    {
        output.markers = markers.into_iter().filter(|m| m.time >= from).collect();
        for (line, points) in output.lines.iter_mut().zip(points) {
            line.points = points.into_iter().filter(|p| p.0 >= from).collect();
        }
    }
    serde_json::to_string(&message)
        .ok()
        .filter(|frame| frame.len() <= limit)
}

/// The length of `value` in JSON, without building it.
fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Markers and points are numbers and strings: they always encode.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Where live runs are published: the per-user bus.
#[derive(Clone)]
pub struct SignalBus {
    bus: UserBus,
}

impl SignalBus {
    pub fn new(bus: UserBus) -> Self {
        Self { bus }
    }

    /// Tells every instance, as one frame encoded here.
    pub async fn publish(&self, event: SignalEvent) -> anyhow::Result<()> {
        let run = event.run.id.clone();
        let Some(frame) = signals_user_frame(event) else {
            tracing::warn!(%run, "a live run's signals do not fit in a frame; not sent");
            return Ok(());
        };
        self.bus.publish(frame).await
    }
}

#[cfg(test)]
mod tests {
    use inchart_api::market::{Interval, Symbol};
    use inchart_api::scripts::{Line, Marker, Output, Side, Trigger};

    use super::*;

    const HOUR: i64 = 3_600_000;

    /// A run over `candles` hourly candles with a buy on every candle and
    /// `lines` lines with a value on every candle.
    fn run(candles: i64, lines: usize) -> RunView {
        let times: Vec<i64> = (0..candles).map(|i| 1_714_521_600_000 + i * HOUR).collect();
        RunView {
            id: "run".into(),
            script_id: "script".into(),
            version: 1,
            symbol: Symbol::parse("BTCUSDT").unwrap(),
            interval: Interval::H1,
            trigger: Trigger::Live,
            first_candle: times.first().copied(),
            last_candle: times.last().copied(),
            candles: candles as u32,
            result: Ok(Output {
                markers: times
                    .iter()
                    .map(|&time| Marker {
                        time,
                        side: Side::Buy,
                        price: 60_123.5,
                        label: Some("a label of some length, as traders write them".into()),
                    })
                    .collect(),
                lines: (0..lines)
                    .map(|n| Line {
                        name: format!("line {n}"),
                        color: None,
                        points: times.iter().map(|&time| (time, 60_000.25)).collect(),
                        pane: None,
                        style: Default::default(),
                    })
                    .collect(),
                levels: Vec::new(),
            }),
            log: String::new(),
            cpu_ms: 10,
            wall_ms: 12,
            created_at: 0,
        }
    }

    fn decoded(frame: &str) -> RunView {
        match serde_json::from_str(frame).unwrap() {
            ServerMessage::Signals { script_name, run } => {
                assert_eq!(script_name, "cross");
                *run
            }
            other => panic!("not a signals frame: {other:?}"),
        }
    }

    #[test]
    fn a_run_too_large_for_a_chart_keeps_its_newest_signals() {
        let whole = run(5000, 16);
        let encoded = serde_json::to_string(&ServerMessage::Signals {
            script_name: "cross".into(),
            run: Box::new(whole.clone()),
        })
        .unwrap();
        assert!(encoded.len() > 3 * MAX_SIGNALS_FRAME, "{} bytes", encoded.len());

        let frame = signals_frame("cross".into(), whole.clone(), MAX_SIGNALS_FRAME).unwrap();
        assert!(frame.len() <= MAX_SIGNALS_FRAME, "{} bytes", frame.len());
        // Most of the room is used.
        assert!(frame.len() > MAX_SIGNALS_FRAME * 9 / 10, "{} bytes", frame.len());
        let cut = decoded(&frame);
        let (all, kept) = (whole.result.unwrap(), cut.result.clone().unwrap());
        let from = kept.markers[0].time;
        // What is kept is everything from one candle on, up to the newest.
        assert_eq!(kept.markers.last(), all.markers.last());
        assert_eq!(
            kept.markers,
            all.markers
                .iter()
                .filter(|m| m.time >= from)
                .cloned()
                .collect::<Vec<_>>()
        );
        for (kept, all) in kept.lines.iter().zip(&all.lines) {
            assert_eq!(kept.name, all.name);
            assert_eq!(kept.points.first().map(|p| p.0), Some(from));
            assert_eq!(kept.points.last(), all.points.last());
        }
        // The rest of the run is as it was.
        assert_eq!(
            (cut.id.as_str(), cut.candles, cut.last_candle),
            ("run", 5000, whole.last_candle)
        );
    }

    #[test]
    fn a_run_that_fits_is_sent_whole_to_its_series() {
        let small = run(300, 3);
        let frame = signals_user_frame(SignalEvent {
            user: Uuid::nil(),
            script_name: "cross".into(),
            run: small.clone(),
        })
        .unwrap();
        assert_eq!(decoded(frame.frame.as_str()), small);
        assert_eq!(
            (frame.route.topic.as_str(), frame.route.series),
            ("script:script", Some((small.symbol.clone(), Interval::H1)))
        );
    }
}
