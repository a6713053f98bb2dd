//! The WebSocket side: combined streams at `/stream?streams=a/b` (events
//! wrapped as `{"stream":..,"data":..}`) and raw streams at `/ws/<stream>`,
//! with Binance's pings, pong timeout, 24-hour limit, `serverShutdown`, and
//! the faults a test asks for (repeats, swapped pairs, bad frames).
//!
//! Policy: a well-formed stream name the fake does not serve (another
//! symbol, another stream type) is accepted and stays silent, as on Binance;
//! a malformed name closes the connection.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use inchart_api::market::{Interval, Symbol};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};

use super::market::Series;
use super::{Malformed, SeriesKey, Shared, StreamConnection, lock};

/// What the fake's controls tell one connection's task.
#[derive(Debug)]
pub(crate) enum Command {
    /// A kline event (the raw `data` object) for the stream named `stream`.
    Kline {
        stream: String,
        data: Arc<str>,
    },
    /// A frame sent as is, outside the event faults.
    Frame(String),
    RepeatNext(usize),
    ReorderNext(usize),
    /// Send this `serverShutdown` event, then close after the grace period.
    ServerShutdown(String),
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/stream", get(combined))
        .route("/ws/{stream}", get(raw))
        .with_state(shared)
}

#[derive(Debug, Deserialize)]
struct CombinedQuery {
    streams: Option<String>,
}

async fn combined(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<CombinedQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let names: Vec<String> = query
        .streams
        .unwrap_or_default()
        .split('/')
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    upgrade.on_upgrade(move |socket| serve(shared, socket, names, false))
}

async fn raw(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| serve(shared, socket, vec![name], true))
}

/// Why a stream name is refused.
#[derive(Debug, PartialEq, Eq)]
struct InvalidStreamName;

/// Checks a stream name's syntax (`<symbol>@<type>`, e.g. `btcusdt@kline_1m`
/// or `btcusdt@depth@100ms`) and returns the series when the fake serves it.
fn parse_stream(shared: &Shared, name: &str) -> Result<Option<SeriesKey>, InvalidStreamName> {
    let (symbol, kind) = name.split_once('@').ok_or(InvalidStreamName)?;
    let symbol_ok = !symbol.is_empty() && symbol.bytes().all(|b| b.is_ascii_alphanumeric());
    let kind_ok = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@!".contains(&b));
    if !symbol_ok || !kind_ok {
        return Err(InvalidStreamName);
    }
    // Binance's stream names are lower case; `BTCUSDT@kline_1m` matches nothing.
    if symbol.bytes().any(|b| b.is_ascii_uppercase()) {
        return Ok(None);
    }
    let served = kind
        .strip_prefix("kline_")
        .and_then(|interval| interval.parse::<Interval>().ok())
        .zip(Symbol::parse(symbol).ok())
        .filter(|(_, symbol)| shared.is_configured(symbol))
        .map(|(interval, symbol)| (symbol, interval));
    Ok(served)
}

/// Registers the connection and returns its id and command queue.
fn register(
    shared: &Shared,
    names: Vec<String>,
    raw: bool,
) -> Result<(u64, mpsc::UnboundedReceiver<Command>), InvalidStreamName> {
    let mut series = Vec::new();
    for name in &names {
        if let Some(key) = parse_stream(shared, name)? {
            series.push((key, name.clone()));
        }
    }
    let (commands, receiver) = mpsc::unbounded_channel();
    let mut streams = lock(&shared.streams);
    let id = streams.next_id;
    streams.next_id += 1;
    for (budget, command) in [
        (
            std::mem::take(&mut streams.pending_repeat),
            Command::RepeatNext as fn(usize) -> Command,
        ),
        (std::mem::take(&mut streams.pending_reorder), Command::ReorderNext),
    ] {
        if budget > 0 {
            let _ = commands.send(command(budget));
        }
    }
    streams.open.insert(
        id,
        StreamConnection {
            streams: names,
            series,
            raw,
            commands,
        },
    );
    Ok((id, receiver))
}

/// Removes the connection from the open set when its task ends, however it ends.
struct Registration<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        lock(&self.shared.streams).open.remove(&self.id);
    }
}

/// Repeats and swaps outgoing events while a test's fault budgets last.
#[derive(Debug, Default)]
struct Faults {
    repeat: usize,
    reorder: usize,
    held: Option<String>,
}

impl Faults {
    /// The frames to send, in order, for one event.
    fn frames(&mut self, frame: String) -> Vec<String> {
        let copies = |faults: &mut Faults, frame: String| {
            if faults.repeat > 0 {
                faults.repeat -= 1;
                vec![frame.clone(), frame]
            } else {
                vec![frame]
            }
        };
        if let Some(held) = self.held.take() {
            let mut out = copies(self, frame);
            out.extend(copies(self, held));
            return out;
        }
        if self.reorder >= 2 {
            self.reorder -= 2;
            self.held = Some(frame);
            return Vec::new();
        }
        self.reorder = 0;
        copies(self, frame)
    }
}

/// One connection, from upgrade to close.
async fn serve(shared: Arc<Shared>, mut socket: WebSocket, names: Vec<String>, raw: bool) {
    shared.connections_total.fetch_add(1, Ordering::SeqCst);
    let (id, mut commands) = match register(&shared, names, raw) {
        Ok(registered) => registered,
        Err(InvalidStreamName) => {
            let frame = CloseFrame {
                code: 1008,
                reason: "Invalid request".into(),
            };
            let _ = socket.send(Message::Close(Some(frame))).await;
            return;
        }
    };
    let _registration = Registration { shared: &shared, id };
    let config = &shared.config;
    let opened = Instant::now();
    let mut pings = tokio::time::interval_at(later(opened, config.ping_interval), config.ping_interval);
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let too_old = sleep_until(later(opened, config.max_connection_age));
    tokio::pin!(too_old);
    // Pings not yet answered, oldest first: (payload, sent at).
    let mut unanswered: VecDeque<(Bytes, Instant)> = VecDeque::new();
    let mut closing_at: Option<Instant> = None;
    let mut faults = Faults::default();
    let mut ping_count: u64 = 0;
    loop {
        let pong_deadline = unanswered
            .front()
            .map(|(_, sent)| later(*sent, config.pong_timeout));
        tokio::select! {
            command = commands.recv() => {
                // `None`: the fake dropped this stream; end without a close frame.
                let Some(command) = command else { return };
                let frames = match command {
                    Command::Kline { stream, data } => {
                        let frame = if raw {
                            data.to_string()
                        } else {
                            format!(r#"{{"stream":"{stream}","data":{data}}}"#)
                        };
                        faults.frames(frame)
                    }
                    Command::Frame(frame) => vec![frame],
                    Command::RepeatNext(n) => { faults.repeat += n; Vec::new() }
                    Command::ReorderNext(n) => { faults.reorder += n; Vec::new() }
                    Command::ServerShutdown(event) => {
                        closing_at.get_or_insert(later(Instant::now(), config.server_shutdown_grace));
                        vec![event]
                    }
                };
                for frame in frames {
                    if socket.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
            }
            _ = pings.tick() => {
                ping_count += 1;
                let payload = Bytes::from(format!("{}-{ping_count}", shared.now_ms()));
                unanswered.push_back((payload.clone(), Instant::now()));
                if socket.send(Message::Ping(payload)).await.is_err() {
                    return;
                }
            }
            () = sleep_until(pong_deadline.unwrap_or_else(Instant::now)), if pong_deadline.is_some() => {
                tracing::debug!(id, "fake binance: no pong in time; dropping the stream");
                return;
            }
            () = &mut too_old => {
                close(&mut socket, 1000, "Connection reached its maximum age").await;
                return;
            }
            () = sleep_until(closing_at.unwrap_or_else(Instant::now)), if closing_at.is_some() => {
                close(&mut socket, 1001, "Server shutdown").await;
                return;
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Pong(payload))) => {
                    if let Some(answered) = unanswered.iter().position(|(sent, _)| *sent == payload) {
                        unanswered.drain(..=answered);
                        shared.pongs_received.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    if let Some(reply) = control_reply(&shared, id, text.as_str())
                        && socket.send(Message::Text(reply.into())).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// `start + by`, or about a century on when a configured duration is absurdly long.
fn later(start: Instant, by: Duration) -> Instant {
    start
        .checked_add(by)
        .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Sends a close frame and waits briefly for the client's, as a clean close does.
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(message)) = socket.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

#[derive(Debug, Deserialize)]
struct ControlRequest {
    method: String,
    #[serde(default)]
    params: Vec<String>,
    id: Value,
}

/// Binance's live subscription requests: `SUBSCRIBE`, `UNSUBSCRIBE` and
/// `LIST_SUBSCRIPTIONS`, answered `{"result":..,"id":..}`.
fn control_reply(shared: &Shared, connection: u64, text: &str) -> Option<String> {
    let Ok(request) = serde_json::from_str::<ControlRequest>(text) else {
        return Some(json!({"error": {"code": 3, "msg": "Invalid JSON"}, "id": null}).to_string());
    };
    let id = request.id;
    let invalid = || Some(json!({"error": {"code": 2, "msg": "Invalid request"}, "id": id}).to_string());
    let mut parsed = Vec::new();
    for name in &request.params {
        match parse_stream(shared, name) {
            Ok(key) => parsed.push((name.clone(), key)),
            Err(InvalidStreamName) => return invalid(),
        }
    }
    let mut streams = lock(&shared.streams);
    let entry = streams.open.get_mut(&connection)?;
    let result = match request.method.as_str() {
        "SUBSCRIBE" => {
            for (name, key) in parsed {
                if !entry.streams.contains(&name) {
                    entry.streams.push(name.clone());
                    if let Some(key) = key {
                        entry.series.push((key, name));
                    }
                }
            }
            Value::Null
        }
        "UNSUBSCRIBE" => {
            entry.streams.retain(|name| !request.params.contains(name));
            entry.series.retain(|(_, name)| !request.params.contains(name));
            Value::Null
        }
        "LIST_SUBSCRIPTIONS" => json!(entry.streams),
        _ => return invalid(),
    };
    Some(json!({"result": result, "id": id}).to_string())
}

/// One bad frame for `connection`, built on the forming candle of its first
/// served series (or of the fake's first series when it serves none).
pub(super) fn malformed_frame(
    kind: Malformed,
    connection: &StreamConnection,
    market: &BTreeMap<SeriesKey, Series>,
    now_ms: i64,
) -> String {
    let stream_name = connection.streams.first().cloned().unwrap_or_default();
    let series = connection
        .series
        .first()
        .and_then(|(key, _)| market.get(key))
        .or_else(|| market.values().next());
    let mut data = series
        .and_then(|s| s.forming().map(|k| k.stream_event(&s.symbol, s.interval, now_ms)))
        .unwrap_or_else(|| json!({"e": "kline", "E": now_ms, "s": "BTCUSDT", "k": {}}));
    let k = &mut data["k"];
    match kind {
        Malformed::NotJson => {
            let wrapped = json!({"stream": stream_name, "data": data}).to_string();
            let cut = wrapped.len() / 2;
            return wrapped.get(..cut).unwrap_or("{").to_owned();
        }
        Malformed::MissingField => {
            if let Some(k) = k.as_object_mut() {
                k.remove("c");
            }
        }
        Malformed::WrongType => k["t"] = json!("soon"),
        Malformed::NegativePrice => {
            k["c"] = json!("-5.00000000");
            k["l"] = json!("-5.00000000");
        }
        Malformed::HighBelowLow => {
            let low: f64 = k["l"].as_str().and_then(|l| l.parse().ok()).unwrap_or(1.0);
            k["h"] = json!(format!("{:.8}", low * 0.5));
        }
        Malformed::UnknownSymbol => {
            k["s"] = json!("NOPEUSDT");
            data["s"] = json!("NOPEUSDT");
        }
        Malformed::UnalignedOpenTime => {
            let open = k["t"].as_i64().unwrap_or(0) + 1_234;
            let width = series.map(|s| s.interval.millis()).unwrap_or(60_000);
            k["t"] = json!(open);
            k["T"] = json!(open + width - 1);
        }
        Malformed::UnknownEvent => data = json!({"e": "somethingNew", "E": now_ms, "s": "BTCUSDT"}),
    }
    if connection.raw {
        return data.to_string();
    }
    json!({"stream": stream_name, "data": data}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_repeat_and_swap_pairs() {
        let frames = |faults: &mut Faults, names: &[&str]| -> Vec<String> {
            names
                .iter()
                .flat_map(|n| faults.frames((*n).to_owned()))
                .collect()
        };
        let mut faults = Faults {
            repeat: 2,
            ..Faults::default()
        };
        assert_eq!(frames(&mut faults, &["a", "b", "c"]), ["a", "a", "b", "b", "c"]);
        let mut faults = Faults {
            reorder: 4,
            ..Faults::default()
        };
        assert_eq!(
            frames(&mut faults, &["a", "b", "c", "d", "e"]),
            ["b", "a", "d", "c", "e"]
        );
        let mut faults = Faults {
            reorder: 3,
            ..Faults::default()
        };
        assert_eq!(frames(&mut faults, &["a", "b", "c", "d"]), ["b", "a", "c", "d"]);
    }
}
