//! The signal bus: a live run's result reaches its owner's open charts on
//! every instance. The run is published on a Redis channel (or in process
//! without Redis), and each instance's stream hands it to the owner's
//! connections that follow the series.
//!
//! What a slow chart connection can pin is bounded here and in
//! [`crate::stream`]: a run is encoded once, before it is published,
//! into one `signals` frame of at most [`MAX_SIGNALS_FRAME`] bytes (a
//! whole run can encode to about 6 MB: 10,000 markers and 16 lines of
//! 5,000 points); that frame crosses Redis and is shared by every
//! connection through an `Arc`, never copied or re-encoded per connection.
//! The bus holds at most [`BACKLOG`] frames for this instance's one relay
//! (the stream's hub), so at most 64 × 512 KiB = 32 MiB while it lags.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ws::Utf8Bytes;
use futures::StreamExt;
use inchart_api::market::{Interval, Symbol};
use inchart_api::scripts::RunView;
use inchart_api::stream::ServerMessage;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::platform::redis::Redis;
/// Frames the bus holds for this instance's relay before the relay skips
/// the oldest. The relay only puts frames in connections' mailboxes, so it
/// keeps up unless the process is starved.
pub const BACKLOG: usize = 64;
/// The largest `signals` frame sent to a chart, in bytes. A run over it is
/// sent with its newest signals only, as many as fit (a live chart shows
/// the newest candles); the whole run stays readable at
/// `GET /api/v1/scripts/{id}/runs/{run}`.
pub const MAX_SIGNALS_FRAME: usize = 512 * 1024;

/// A run's result, for its owner's charts.
#[derive(Debug, Clone)]
pub struct SignalEvent {
    pub user: Uuid,
    pub script_name: String,
    pub run: RunView,
}

/// Whose charts a `signals` frame is for, and which run it is of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRoute {
    pub user: Uuid,
    /// The script that ran: a newer run of it on the same series
    /// supersedes a frame still waiting for a connection.
    pub script: String,
    pub symbol: Symbol,
    pub interval: Interval,
}

/// A live run as its owner's charts receive it: encoded once, at most
/// [`MAX_SIGNALS_FRAME`] bytes, shared by every connection.
#[derive(Debug)]
pub struct SignalFrame {
    pub route: SignalRoute,
    /// The `signals` server message, ready to write.
    pub frame: Utf8Bytes,
}

impl SignalFrame {
    /// Encodes a run for its owner's charts, cut to [`MAX_SIGNALS_FRAME`]
    /// bytes; `None` when not even the run without its signals fits.
    pub fn encode(event: SignalEvent) -> Option<Self> {
        let route = SignalRoute {
            user: event.user,
            script: event.run.script_id.clone(),
            symbol: event.run.symbol.clone(),
            interval: event.run.interval,
        };
        let frame = signals_frame(event.script_name, event.run, MAX_SIGNALS_FRAME)?;
        Some(Self {
            route,
            frame: frame.into(),
        })
    }

    /// What crosses Redis: the route as one line of JSON, then the frame
    /// as it is (JSON never holds a raw newline, so the first one ends the
    /// route).
    fn to_wire(&self) -> anyhow::Result<Vec<u8>> {
        let mut wire = serde_json::to_vec(&self.route).context("while encoding a signal's route")?;
        wire.push(b'\n');
        wire.extend_from_slice(self.frame.as_bytes());
        Ok(wire)
    }

    fn from_wire(wire: &[u8]) -> anyhow::Result<Self> {
        let split = wire
            .iter()
            .position(|&b| b == b'\n')
            .context("a signal message without a route")?;
        let route = serde_json::from_slice(&wire[..split]).context("while reading a signal's route")?;
        let frame = &wire[split + 1..];
        if frame.len() > MAX_SIGNALS_FRAME {
            anyhow::bail!("a signals frame of {} bytes is over the limit", frame.len());
        }
        let frame = Utf8Bytes::try_from(frame.to_vec()).context("a signals frame that is not text")?;
        Ok(Self { route, frame })
    }
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

#[derive(Clone)]
pub struct SignalBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    local: broadcast::Sender<Arc<SignalFrame>>,
    redis: Option<Redis>,
    channel: String,
}

impl SignalBus {
    pub fn new(redis: Option<&Redis>, prefix: &str) -> Self {
        Self {
            inner: Arc::new(BusInner {
                local: broadcast::channel(BACKLOG).0,
                redis: redis.cloned(),
                channel: format!("{prefix}:signals"),
            }),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SignalFrame>> {
        self.inner.local.subscribe()
    }

    /// Tells every instance, as one frame encoded here.
    pub async fn publish(&self, event: SignalEvent) -> anyhow::Result<()> {
        let run = event.run.id.clone();
        let Some(frame) = SignalFrame::encode(event) else {
            tracing::warn!(%run, "a live run's signals do not fit in a frame; not sent");
            return Ok(());
        };
        match &self.inner.redis {
            Some(redis) => {
                let mut connection = redis.connection();
                let _: i64 = redis::cmd("PUBLISH")
                    .arg(&self.inner.channel)
                    .arg(frame.to_wire()?)
                    .query_async(&mut connection)
                    .await
                    .context("while publishing signals")?;
            }
            None => {
                let _ = self.inner.local.send(Arc::new(frame));
            }
        }
        Ok(())
    }

    /// Hands what other instances publish to this one's connections
    /// (Redis only), subscribing again when Redis drops.
    pub async fn listen(self) {
        let Some(redis) = &self.inner.redis else {
            return std::future::pending().await;
        };
        loop {
            if let Err(error) = self.listen_once(redis).await {
                tracing::warn!(error = format!("{error:#}"), "the signal subscription failed");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen_once(&self, redis: &Redis) -> anyhow::Result<()> {
        let mut pubsub = redis.pubsub().await?;
        pubsub
            .subscribe(&self.inner.channel)
            .await
            .context("while subscribing to signals")?;
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            match SignalFrame::from_wire(message.get_payload_bytes()) {
                Ok(frame) => {
                    let _ = self.inner.local.send(Arc::new(frame));
                }
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "skipped an unreadable signal message"
                    )
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
    fn a_run_that_fits_is_sent_whole_and_crosses_redis_unchanged() {
        let small = run(300, 3);
        let frame = SignalFrame::encode(SignalEvent {
            user: Uuid::nil(),
            script_name: "cross".into(),
            run: small.clone(),
        })
        .unwrap();
        assert_eq!(decoded(frame.frame.as_str()), small);
        assert_eq!(
            (frame.route.script.as_str(), frame.route.interval),
            ("script", Interval::H1)
        );

        let crossed = SignalFrame::from_wire(&frame.to_wire().unwrap()).unwrap();
        assert_eq!(crossed.route, frame.route);
        assert_eq!(crossed.frame.as_str(), frame.frame.as_str());
        assert!(SignalFrame::from_wire(b"no route").is_err());
    }
}
