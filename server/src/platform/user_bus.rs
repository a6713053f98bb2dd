//! The per-user bus: frames for one user's open `/ws` connections, on
//! every instance. A domain encodes its server message once, into a
//! [`UserFrame`] with a [`UserRoute`] that says whose connections hear it
//! (and, for a frame scoped to a series, only those following it); the
//! frame is published on one Redis channel (or in process without Redis)
//! and each instance's stream hands it to that user's connections.
//!
//! It carries a script's live run to its owner's charts (scoped to the
//! run's series) and a drawing's change to all of its owner's tabs and
//! devices. It knows no more of either than the route: the frame is text
//! ready to write, shared by every connection through an `Arc`, never
//! copied or re-encoded per connection.
//!
//! Memory is bounded here and in the stream: a frame is at most
//! [`MAX_USER_FRAME`] bytes, and the bus holds at most [`BACKLOG`] frames
//! for this instance's one relay (the stream's hub), so at most
//! 64 × 512 KiB = 32 MiB while it lags.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ws::Utf8Bytes;
use futures::StreamExt;
use inchart_api::market::{Interval, Symbol};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::platform::redis::Redis;

/// Frames the bus holds for this instance's relay before the relay skips
/// the oldest. The relay only puts frames in connections' mailboxes, so it
/// keeps up unless the process is starved.
pub const BACKLOG: usize = 64;
/// The largest frame the bus carries, in bytes.
pub const MAX_USER_FRAME: usize = 512 * 1024;

/// Whose connections a frame is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRoute {
    pub user: Uuid,
    /// Only the user's connections following this series hear it; all of
    /// them when `None`.
    pub series: Option<(Symbol, Interval)>,
    /// What the frame is about (a script, a drawing): a newer frame with
    /// the same route supersedes one still waiting for a connection.
    pub topic: String,
}

/// A server message for one user's connections, encoded once.
#[derive(Debug)]
pub struct UserFrame {
    pub route: UserRoute,
    /// The server message, ready to write.
    pub frame: Utf8Bytes,
}

impl UserFrame {
    /// What crosses Redis: the route as one line of JSON, then the frame
    /// as it is (JSON never holds a raw newline, so the first one ends the
    /// route).
    fn to_wire(&self) -> anyhow::Result<Vec<u8>> {
        let mut wire = serde_json::to_vec(&self.route).context("while encoding a frame's route")?;
        wire.push(b'\n');
        wire.extend_from_slice(self.frame.as_bytes());
        Ok(wire)
    }

    fn from_wire(wire: &[u8]) -> anyhow::Result<Self> {
        let split = wire
            .iter()
            .position(|&b| b == b'\n')
            .context("a user frame without a route")?;
        let route = serde_json::from_slice(&wire[..split]).context("while reading a frame's route")?;
        let frame = &wire[split + 1..];
        if frame.len() > MAX_USER_FRAME {
            anyhow::bail!("a user frame of {} bytes is over the limit", frame.len());
        }
        let frame = Utf8Bytes::try_from(frame.to_vec()).context("a user frame that is not text")?;
        Ok(Self { route, frame })
    }
}

#[derive(Clone)]
pub struct UserBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    local: broadcast::Sender<Arc<UserFrame>>,
    redis: Option<Redis>,
    channel: String,
}

impl UserBus {
    pub fn new(redis: Option<&Redis>, prefix: &str) -> Self {
        Self {
            inner: Arc::new(BusInner {
                local: broadcast::channel(BACKLOG).0,
                redis: redis.cloned(),
                channel: format!("{prefix}:user-frames"),
            }),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<UserFrame>> {
        self.inner.local.subscribe()
    }

    /// Tells every instance. A frame over [`MAX_USER_FRAME`] is an error:
    /// the domain cuts its message to fit before it publishes.
    pub async fn publish(&self, frame: UserFrame) -> anyhow::Result<()> {
        if frame.frame.len() > MAX_USER_FRAME {
            anyhow::bail!("a user frame of {} bytes is over the limit", frame.frame.len());
        }
        match &self.inner.redis {
            Some(redis) => {
                let mut connection = redis.connection();
                let _: i64 = redis::cmd("PUBLISH")
                    .arg(&self.inner.channel)
                    .arg(frame.to_wire()?)
                    .query_async(&mut connection)
                    .await
                    .context("while publishing a user frame")?;
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
                tracing::warn!(error = format!("{error:#}"), "the user frame subscription failed");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn listen_once(&self, redis: &Redis) -> anyhow::Result<()> {
        let mut pubsub = redis.pubsub().await?;
        pubsub
            .subscribe(&self.inner.channel)
            .await
            .context("while subscribing to user frames")?;
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            match UserFrame::from_wire(message.get_payload_bytes()) {
                Ok(frame) => {
                    let _ = self.inner.local.send(Arc::new(frame));
                }
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "skipped an unreadable user frame")
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_crosses_redis_unchanged() {
        for series in [None, Some((Symbol::parse("BTCUSDT").unwrap(), Interval::H1))] {
            let frame = UserFrame {
                route: UserRoute {
                    user: Uuid::new_v4(),
                    series,
                    topic: "drawing:1".into(),
                },
                frame: r#"{"type":"drawing"}"#.into(),
            };
            let crossed = UserFrame::from_wire(&frame.to_wire().unwrap()).unwrap();
            assert_eq!(crossed.route, frame.route);
            assert_eq!(crossed.frame.as_str(), frame.frame.as_str());
        }
        assert!(UserFrame::from_wire(b"no route").is_err());
    }
}
