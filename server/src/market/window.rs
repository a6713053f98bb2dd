//! The live market every instance shares: the recent window of each series
//! and the stream of changes to it.
//!
//! With Redis, each series' window is a sorted set scored by open time (so
//! one member per open time, ascending), and every accepted change is
//! published on the series' channel `<prefix>:live:<SYMBOL>:<interval>` in
//! the same script, so that the window and the updates never disagree. Every
//! instance listens to all channels and hands changes to its WebSocket
//! clients; only the ingesting instance writes. Without Redis the same
//! happens in process.
//!
//! Policy: the rule of the candle store holds here too: a closed candle is
//! final, and a forming one only moves forward (its trade count never
//! shrinks). A change that breaks the rule is neither stored nor published.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use inchart_api::market::{Candle, FeedStatus, Interval, Symbol};
use inchart_api::stream::ServerMessage;
use redis::aio::ConnectionManager;

use crate::platform::redis::Redis;
use tokio::sync::{broadcast, watch};

/// A series: one symbol at one interval.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub symbol: Symbol,
    pub interval: Interval,
}

impl SeriesKey {
    pub fn new(symbol: &Symbol, interval: Interval) -> Self {
        Self {
            symbol: symbol.clone(),
            interval,
        }
    }
}

/// One accepted change, as every instance's WebSocket hub receives it.
#[derive(Debug)]
pub struct CandleChange {
    pub key: SeriesKey,
    pub candle: Candle,
    /// Wall-clock microseconds when the ingesting instance received the
    /// exchange's frame: the start of the fan-out latency.
    pub received_us: i64,
    /// The `ServerMessage::Candle` frame, encoded once for every client.
    pub frame: axum::extract::ws::Utf8Bytes,
}

#[derive(Debug, Clone)]
pub enum LiveEvent {
    Candle(Arc<CandleChange>),
    Status(FeedStatus),
}

/// How many events an instance's hub may fall behind before it skips.
const EVENT_BACKLOG: usize = 8192;

/// Applies one change to a window and publishes it; see the module policy.
const PUBLISH_SCRIPT: &str = r"
local t = tonumber(ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], t, t)
if old[1] then
  local stored = cjson.decode(old[1])
  if stored.closed or (ARGV[3] == '0' and tonumber(ARGV[4]) < stored.trades) then
    return 0
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], t, t)
end
redis.call('ZADD', KEYS[1], t, ARGV[2])
local size = redis.call('ZCARD', KEYS[1])
local keep = tonumber(ARGV[5])
if size > keep then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - keep - 1)
end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
";

#[derive(Clone)]
pub struct LiveMarket {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    prefix: String,
    window: usize,
    events: broadcast::Sender<LiveEvent>,
    status: watch::Sender<FeedStatus>,
    /// Counts the changes this instance has heard of, per series, so that
    /// readers can tell whether something they derived is still current.
    versions: Mutex<HashMap<SeriesKey, u64>>,
}

enum Backend {
    Redis {
        redis: Redis,
        connection: ConnectionManager,
        publish: redis::Script,
    },
    Memory {
        windows: Mutex<HashMap<SeriesKey, BTreeMap<i64, Candle>>>,
    },
}

impl LiveMarket {
    /// Redis at `url` when given, in process otherwise. `window` is how many
    /// recent candles of each series are kept.
    pub fn new(redis: Option<&Redis>, prefix: &str, window: usize) -> Self {
        let backend = match redis {
            Some(redis) => Backend::Redis {
                redis: redis.clone(),
                connection: redis.connection(),
                publish: redis::Script::new(PUBLISH_SCRIPT),
            },
            None => Backend::Memory {
                windows: Mutex::new(HashMap::new()),
            },
        };
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let (status, _) = watch::channel(FeedStatus::Reconnecting);
        Self {
            inner: Arc::new(Inner {
                backend,
                prefix: prefix.to_string(),
                window: window.max(1),
                events,
                status,
                versions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Every change and status this instance hears of, from any instance.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.inner.events.subscribe()
    }

    /// The feed's status as this instance last heard it.
    pub fn status(&self) -> watch::Receiver<FeedStatus> {
        self.inner.status.subscribe()
    }

    pub fn current_status(&self) -> FeedStatus {
        *self.inner.status.borrow()
    }

    fn window_key(&self, key: &SeriesKey) -> String {
        format!("{}:window:{}:{}", self.inner.prefix, key.symbol, key.interval)
    }

    fn channel(&self, key: &SeriesKey) -> String {
        format!("{}:live:{}:{}", self.inner.prefix, key.symbol, key.interval)
    }

    fn status_key(&self) -> String {
        format!("{}:live:status", self.inner.prefix)
    }

    /// Stores `candle` in its series' window and tells every instance,
    /// unless the window holds a newer version. Answers whether it did.
    pub async fn publish(
        &self,
        key: &SeriesKey,
        candle: &Candle,
        event_time: i64,
        received_us: i64,
    ) -> anyhow::Result<bool> {
        let frame = serde_json::to_string(&ServerMessage::Candle {
            symbol: key.symbol.clone(),
            interval: key.interval,
            candle: *candle,
            event_time,
        })
        .context("while encoding a candle frame")?;
        match &self.inner.backend {
            Backend::Redis {
                connection, publish, ..
            } => {
                let member = serde_json::to_string(candle).context("while encoding a candle")?;
                let payload = format!("{received_us}\n{frame}");
                let mut connection = connection.clone();
                let accepted: i64 = publish
                    .key(self.window_key(key))
                    .arg(candle.open_time)
                    .arg(member)
                    .arg(if candle.closed { "1" } else { "0" })
                    .arg(candle.trades)
                    .arg(self.inner.window)
                    .arg(self.channel(key))
                    .arg(payload)
                    .invoke_async(&mut connection)
                    .await
                    .context("while publishing a candle to Redis")?;
                Ok(accepted == 1)
            }
            Backend::Memory { windows } => {
                let accepted = {
                    let mut windows = lock(windows);
                    let window = windows.entry(key.clone()).or_default();
                    let accepted = match window.get(&candle.open_time) {
                        Some(stored) => supersedes(candle, stored),
                        None => true,
                    };
                    if accepted {
                        window.insert(candle.open_time, *candle);
                        while window.len() > self.inner.window {
                            window.pop_first();
                        }
                    }
                    accepted
                };
                if accepted {
                    let change = CandleChange {
                        key: key.clone(),
                        candle: *candle,
                        received_us,
                        frame: frame.into(),
                    };
                    // No receiver means no hub is running (a CLI), not a fault.
                    self.bump(key);
                    let _ = self.inner.events.send(LiveEvent::Candle(Arc::new(change)));
                }
                Ok(accepted)
            }
        }
    }

    /// How many changes of a series this instance has heard of (or seeded).
    pub fn version(&self, key: &SeriesKey) -> u64 {
        lock(&self.inner.versions).get(key).copied().unwrap_or(0)
    }

    fn bump(&self, key: &SeriesKey) {
        *lock(&self.inner.versions).entry(key.clone()).or_insert(0) += 1;
    }

    /// Replaces a series' window with the newest of `candles` (ascending),
    /// as the ingesting instance does after reading the store.
    pub async fn seed(&self, key: &SeriesKey, candles: &[Candle]) -> anyhow::Result<()> {
        let newest = &candles[candles.len().saturating_sub(self.inner.window)..];
        match &self.inner.backend {
            Backend::Redis { connection, .. } => {
                let window_key = self.window_key(key);
                let mut pipe = redis::pipe();
                pipe.atomic().del(&window_key).ignore();
                for candle in newest {
                    let member = serde_json::to_string(candle).context("while encoding a candle")?;
                    pipe.zadd(&window_key, member, candle.open_time).ignore();
                }
                let mut connection = connection.clone();
                let () = pipe
                    .query_async(&mut connection)
                    .await
                    .context("while seeding a Redis window")?;
                self.bump(key);
                Ok(())
            }
            Backend::Memory { windows } => {
                let window = newest.iter().map(|candle| (candle.open_time, *candle)).collect();
                lock(windows).insert(key.clone(), window);
                self.bump(key);
                Ok(())
            }
        }
    }

    /// The window's candles from `since` on (all of them without it), at
    /// most the newest `limit`, ascending, each as its JSON text.
    pub async fn recent(
        &self,
        key: &SeriesKey,
        since: Option<i64>,
        limit: usize,
    ) -> anyhow::Result<Vec<WindowCandle>> {
        match &self.inner.backend {
            Backend::Redis { connection, .. } => {
                let mut connection = connection.clone();
                let min = since.map_or_else(|| "-inf".to_string(), |since| since.to_string());
                // Newest first, so that `limit` keeps the newest.
                let rows: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg(self.window_key(key))
                    .arg("+inf")
                    .arg(min)
                    .arg("BYSCORE")
                    .arg("REV")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit)
                    .arg("WITHSCORES")
                    .query_async(&mut connection)
                    .await
                    .context("while reading a Redis window")?;
                Ok(rows
                    .into_iter()
                    .rev()
                    .map(|(json, score)| WindowCandle {
                        open_time: score as i64,
                        json,
                    })
                    .collect())
            }
            Backend::Memory { windows } => {
                let windows = lock(windows);
                let Some(window) = windows.get(key) else {
                    return Ok(Vec::new());
                };
                let mut candles: Vec<WindowCandle> = window
                    .range(since.unwrap_or(i64::MIN)..)
                    .rev()
                    .take(limit)
                    .map(|(open_time, candle)| {
                        serde_json::to_string(candle).map(|json| WindowCandle {
                            open_time: *open_time,
                            json,
                        })
                    })
                    .collect::<Result<_, _>>()
                    .context("while encoding a window")?;
                candles.reverse();
                Ok(candles)
            }
        }
    }

    /// Says the feed's status to every instance (from the ingesting one).
    pub async fn set_status(&self, status: FeedStatus) -> anyhow::Result<()> {
        match &self.inner.backend {
            Backend::Redis { connection, .. } => {
                let mut connection = connection.clone();
                let word = status_word(status);
                let () = redis::pipe()
                    .cmd("SET")
                    .arg(self.status_key())
                    .arg(word)
                    .ignore()
                    .cmd("PUBLISH")
                    .arg(self.status_key())
                    .arg(word)
                    .ignore()
                    .query_async(&mut connection)
                    .await
                    .context("while publishing the feed status")?;
                Ok(())
            }
            Backend::Memory { .. } => {
                self.note_status(status);
                Ok(())
            }
        }
    }

    fn note_status(&self, status: FeedStatus) {
        let changed = self.inner.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
        if changed {
            let _ = self.inner.events.send(LiveEvent::Status(status));
        }
    }

    /// Listens to every instance's changes (Redis only; in process they are
    /// delivered directly), reconnecting when Redis drops, until dropped.
    pub async fn listen(self) {
        let Backend::Redis { redis, .. } = &self.inner.backend else {
            return std::future::pending().await;
        };
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.listen_once(redis).await {
                Ok(()) => tracing::warn!("the Redis subscription ended; subscribing again"),
                Err(error) => tracing::warn!(error = format!("{error:#}"), "the Redis subscription failed"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn listen_once(&self, redis: &Redis) -> anyhow::Result<()> {
        let mut pubsub = redis.pubsub().await?;
        let pattern = format!("{}:live:*", self.inner.prefix);
        pubsub
            .psubscribe(&pattern)
            .await
            .context("while subscribing to the live channels")?;
        // Read the status only once subscribed, so that no change is missed.
        self.refresh_status().await?;
        let status_channel = self.status_key();
        let series_prefix = format!("{}:live:", self.inner.prefix);
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let channel = message.get_channel_name();
            let payload = message.get_payload_bytes();
            if channel == status_channel {
                if let Some(status) = parse_status(payload) {
                    self.note_status(status);
                }
                continue;
            }
            match decode_change(channel.strip_prefix(&series_prefix), payload) {
                Some(change) => {
                    self.bump(&change.key);
                    let _ = self.inner.events.send(LiveEvent::Candle(Arc::new(change)));
                }
                None => tracing::warn!(channel, "skipped an unreadable live message"),
            }
        }
        Ok(())
    }

    /// Reads the status the ingesting instance last set.
    pub async fn refresh_status(&self) -> anyhow::Result<()> {
        if let Backend::Redis { connection, .. } = &self.inner.backend {
            let mut connection = connection.clone();
            let word: Option<Vec<u8>> = redis::cmd("GET")
                .arg(self.status_key())
                .query_async(&mut connection)
                .await
                .context("while reading the feed status")?;
            let status = word
                .as_deref()
                .and_then(parse_status)
                .unwrap_or(FeedStatus::Reconnecting);
            self.note_status(status);
        }
        Ok(())
    }
}

/// A window candle with its open time read from the window's score.
#[derive(Debug, Clone)]
pub struct WindowCandle {
    pub open_time: i64,
    pub json: String,
}

/// Whether `incoming` may replace `stored` (the module's policy).
pub fn supersedes(incoming: &Candle, stored: &Candle) -> bool {
    !stored.closed && (incoming.closed || incoming.trades >= stored.trades)
}

fn decode_change(series: Option<&str>, payload: &[u8]) -> Option<CandleChange> {
    let (symbol, interval) = series?.split_once(':')?;
    let key = SeriesKey {
        symbol: Symbol::parse(symbol).ok()?,
        interval: interval.parse().ok()?,
    };
    let text = std::str::from_utf8(payload).ok()?;
    let (received, frame) = text.split_once('\n')?;
    let ServerMessage::Candle { candle, .. } = serde_json::from_str(frame).ok()? else {
        return None;
    };
    Some(CandleChange {
        key,
        candle,
        received_us: received.parse().ok()?,
        frame: frame.to_string().into(),
    })
}

const fn status_word(status: FeedStatus) -> &'static str {
    match status {
        FeedStatus::Live => "live",
        FeedStatus::Reconnecting => "reconnecting",
        FeedStatus::Simulated => "simulated",
    }
}

fn parse_status(word: &[u8]) -> Option<FeedStatus> {
    match word {
        b"live" => Some(FeedStatus::Live),
        b"reconnecting" => Some(FeedStatus::Reconnecting),
        b"simulated" => Some(FeedStatus::Simulated),
        _ => None,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
