//! `/ws`: live candles for charts, their owner's live signals, and the
//! owner's drawings as they change in another tab (the protocol is
//! `inchart_api::stream`).
//!
//! The [`Hub`] hands every change it hears of to the clients following its
//! series. Each client has a small pending slot: a newer version of a
//! waiting candle replaces it, and at most [`PENDING_PER_SERIES`] candles of
//! a series wait (the oldest goes first; both are counted as coalesced). So
//! a slow client costs a bounded amount of memory however far behind it
//! falls, and the server never buffers for it. A client whose socket does not take a write within
//! [`WRITE_TIMEOUT`] is dropped and counted.
//!
//! Signed-in clients also get their own frames off the
//! [per-user bus](crate::platform::user_bus): `signals` frames, their own
//! scripts' live runs on the series they follow, and `drawing` frames,
//! every change to their drawings. The hub's relay puts each only in the
//! mailboxes of that user's connections (following the run's series, for
//! a run), so no connection reads, or falls behind on, anyone else's. A
//! frame is encoded once and shared (`Arc`), at most [`MAX_SIGNALS_FRAME`]
//! (512 KiB); a newer frame about the same thing (a run of the same script
//! on the same series, a change to the same drawing) replaces a waiting
//! one; at most [`PENDING_SIGNALS`] runs and [`PENDING_ACCOUNT_BYTES`] of
//! other frames wait (the oldest go). A client that never reads thus pins
//! at most, until its next write times out:
//! - 4 × 512 KiB = 2 MiB of signals frames and 1 MiB of drawing changes,
//!   shared with the user's other connections, and
//!   [`PENDING_PER_SERIES`] small candle frames per followed series;
//! - the socket's write buffer, at most [`MAX_WRITE_BUFFER`] (1 MiB: one
//!   frame being written plus the [`WRITE_BUFFER`] gathered); a larger
//!   frame ends the connection instead of growing it. The buffer keeps the
//!   size of the largest frame written while the connection lasts;
//! - its [`READ_BUFFER`].
//!
//! The bus in front of the relay holds at most 64 frames (32 MiB) for the
//! whole instance, whatever its clients do.
//!
//! Policy: every client sees each series in ascending open time; a change
//! older than what the client already holds is not sent, except the late
//! close of the candle before the newest (Binance may send a candle's
//! final values after the next one opened), so that no open chart keeps
//! an unfinished candle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::SinkExt;
use inchart_api::market::Candle;
use inchart_api::stream::{
    ClientMessage, DEFAULT_SNAPSHOT, ErrorCode, HEARTBEAT_MS, MAX_CLIENT_FRAME, MAX_SNAPSHOT,
    MAX_SUBSCRIPTIONS, ServerMessage,
};
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

pub mod metrics;

use self::metrics::StreamMetrics;
use crate::auth::Auth;
use crate::auth::csrf::same_origin;
use crate::market::window::{CandleChange, LiveEvent, LiveMarket, SeriesKey, supersedes};
use crate::market::{Market, Symbols};
use crate::platform::clock::{now_micros, now_ms};
use crate::platform::user_bus::UserFrame;
use crate::scripts::signals::MAX_SIGNALS_FRAME;
use crate::web::{ApiError, SignedIn};

/// How long one batch of writes to a client may take before it is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// A client silent (not even a pong) for this long is gone.
const IDLE_LIMIT: Duration = Duration::from_millis(HEARTBEAT_MS * 4);
/// Bytes tungstenite reads per call; its default (128 KiB) would be most of
/// a client's memory, while client frames are at most a few hundred bytes.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes of frames gathered before a write; a flush writes them anyway.
const WRITE_BUFFER: usize = 16 * 1024;
/// Frames larger than this end the connection; frames above
/// [`MAX_CLIENT_FRAME`] but below it get an error frame.
const MAX_PROTOCOL_FRAME: usize = 64 * 1024;
/// The most bytes waiting in a client's socket buffer: room for the
/// largest frame sent (a signals frame) beside [`WRITE_BUFFER`] gathered
/// ones. A write past it fails and ends the connection.
const MAX_WRITE_BUFFER: usize = 2 * MAX_SIGNALS_FRAME;
// The largest signals frame, with its header, fits beside gathered frames.
const _: () = assert!(MAX_WRITE_BUFFER >= MAX_SIGNALS_FRAME + 14 + WRITE_BUFFER);
/// The most live runs waiting for one client (each at most
/// [`MAX_SIGNALS_FRAME`]); past it, the oldest waiting run goes.
const PENDING_SIGNALS: usize = 4;
/// The most bytes of frames for all of a user's connections (drawing
/// changes, a few hundred bytes each) waiting for one client; past it, the
/// oldest go, though the newest always waits. An import of a few hundred
/// drawings fits.
const PENDING_ACCOUNT_BYTES: usize = 1024 * 1024;

/// The most candles of one series waiting for a client. A newer version of
/// a waiting candle replaces it; past this many, the oldest waiting candle
/// goes (a chart notices the hole in open times and reads it from the API).
const PENDING_PER_SERIES: usize = 4;

/// The clients of this instance, by the series they follow.
pub struct Hub {
    series: RwLock<HashMap<SeriesKey, Vec<Arc<Client>>>>,
    /// Signed-in clients, by user: where their own frames go.
    users: RwLock<HashMap<Uuid, Vec<Arc<Client>>>>,
    connected: AtomicUsize,
    max_clients: usize,
    next_id: AtomicUsize,
    metrics: Arc<StreamMetrics>,
}

/// One client's mailbox, shared between the hub and its connection task.
pub struct Client {
    id: usize,
    pending: Mutex<Vec<Queued>>,
    /// The series the client follows, so live runs of others are not
    /// queued for it.
    followed: Mutex<Vec<SeriesKey>>,
    /// The user's own frames waiting to be written: live runs (at most
    /// [`PENDING_SIGNALS`]) and drawing changes.
    personal: Mutex<Vec<Arc<UserFrame>>>,
    wake: Notify,
}

/// A change waiting for one client, holding its share of the delivery.
struct Queued {
    change: Arc<CandleChange>,
    _delivery: DeliveryShare,
}

/// Counts the clients a change still has to reach; when the last share is
/// dropped (written, superseded or its client gone) the fan-out time is
/// recorded.
struct Delivery {
    remaining: AtomicUsize,
    received_us: i64,
    metrics: Arc<StreamMetrics>,
}

struct DeliveryShare(Arc<Delivery>);

impl Drop for DeliveryShare {
    fn drop(&mut self) {
        if self.0.remaining.fetch_sub(1, Relaxed) == 1 {
            let micros = (now_micros() - self.0.received_us).max(0);
            self.0.metrics.ws_fanout.record_micros(micros as u64);
        }
    }
}

impl Hub {
    pub fn new(max_clients: usize, metrics: Arc<StreamMetrics>) -> Self {
        Self {
            series: RwLock::new(HashMap::new()),
            users: RwLock::new(HashMap::new()),
            connected: AtomicUsize::new(0),
            max_clients,
            next_id: AtomicUsize::new(0),
            metrics,
        }
    }

    /// Hands changes to clients until the live market stops.
    pub async fn run(self: Arc<Self>, mut events: broadcast::Receiver<LiveEvent>) {
        let mut woken = Vec::new();
        loop {
            let first = events.recv().await;
            if matches!(first, Err(broadcast::error::RecvError::Closed)) {
                return;
            }
            self.take(first, &mut woken);
            // Whatever else is already waiting goes out with it: at a
            // minute's end a client gets a candle's close and the next
            // candle's open in one write, not two.
            loop {
                match events.try_recv() {
                    Ok(event) => self.take(Ok(event), &mut woken),
                    Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                        self.take(Err(broadcast::error::RecvError::Lagged(missed)), &mut woken);
                    }
                    Err(_) => break,
                }
            }
            for client in woken.drain(..) {
                client.wake.notify_one();
            }
        }
    }

    fn take(&self, event: Result<LiveEvent, broadcast::error::RecvError>, woken: &mut Vec<Arc<Client>>) {
        match event {
            Ok(LiveEvent::Candle(change)) => self.dispatch(&change, woken),
            // Each client watches the status itself.
            Ok(LiveEvent::Status(_)) | Err(broadcast::error::RecvError::Closed) => {}
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the WebSocket hub fell behind and skipped changes");
            }
        }
    }

    /// Queues `change` for every client following its series; the caller
    /// wakes them (`woken`) once it has queued everything at hand.
    fn dispatch(&self, change: &Arc<CandleChange>, woken: &mut Vec<Arc<Client>>) {
        let series = read(&self.series);
        let Some(clients) = series.get(&change.key) else {
            return;
        };
        let delivery = Arc::new(Delivery {
            remaining: AtomicUsize::new(clients.len()),
            received_us: change.received_us,
            metrics: self.metrics.clone(),
        });
        for client in clients {
            let queued = Queued {
                change: change.clone(),
                _delivery: DeliveryShare(delivery.clone()),
            };
            let mut pending = lock(&client.pending);
            let same_candle = pending.iter_mut().find(|old| {
                old.change.key == change.key && old.change.candle.open_time == change.candle.open_time
            });
            match same_candle {
                Some(old) => {
                    *old = queued;
                    self.metrics.ws_coalesced.fetch_add(1, Relaxed);
                }
                None => {
                    let queued_of_series = pending.iter().filter(|old| old.change.key == change.key).count();
                    if queued_of_series >= PENDING_PER_SERIES
                        && let Some(oldest) = pending.iter().position(|old| old.change.key == change.key)
                    {
                        pending.remove(oldest);
                        self.metrics.ws_coalesced.fetch_add(1, Relaxed);
                    }
                    pending.push(queued);
                }
            }
            drop(pending);
            woken.push(client.clone());
        }
    }

    /// Hands users' own frames to their connections until the per-user
    /// bus closes.
    pub async fn relay_user_frames(self: Arc<Self>, mut frames: broadcast::Receiver<Arc<UserFrame>>) {
        loop {
            match frames.recv().await {
                Ok(frame) => self.dispatch_personal(&frame),
                // The relay resumes at the oldest frame the bus still
                // holds: the newest ones.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the WebSocket hub fell behind and skipped users' frames");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Queues a frame for its user's connections (those that follow its
    /// series, when it has one), and wakes them.
    fn dispatch_personal(&self, frame: &Arc<UserFrame>) {
        let users = read(&self.users);
        let Some(clients) = users.get(&frame.route.user) else {
            return;
        };
        let key = frame
            .route
            .series
            .as_ref()
            .map(|(symbol, interval)| SeriesKey::new(symbol, *interval));
        for client in clients {
            if let Some(key) = &key
                && !lock(&client.followed).contains(key)
            {
                continue;
            }
            if queue_personal(&mut lock(&client.personal), frame.clone()) {
                self.metrics.ws_coalesced.fetch_add(1, Relaxed);
            }
            client.wake.notify_one();
        }
    }

    fn sign_in(&self, user: Uuid, client: &Arc<Client>) {
        write(&self.users).entry(user).or_default().push(client.clone());
    }

    fn sign_out(&self, user: Uuid, client: &Client) {
        let mut users = write(&self.users);
        if let Some(clients) = users.get_mut(&user) {
            clients.retain(|other| other.id != client.id);
            if clients.is_empty() {
                users.remove(&user);
            }
        }
        lock(&client.personal).clear();
    }

    fn follow(&self, key: &SeriesKey, client: &Arc<Client>) {
        write(&self.series)
            .entry(key.clone())
            .or_default()
            .push(client.clone());
        lock(&client.followed).push(key.clone());
        self.metrics.ws_subscriptions.fetch_add(1, Relaxed);
    }

    fn unfollow(&self, key: &SeriesKey, client: &Client) {
        let mut series = write(&self.series);
        if let Some(clients) = series.get_mut(key) {
            if let Some(index) = clients.iter().position(|other| other.id == client.id) {
                clients.swap_remove(index);
                self.metrics.ws_subscriptions.fetch_sub(1, Relaxed);
            }
            if clients.is_empty() {
                series.remove(key);
            }
        }
        lock(&client.pending).retain(|queued| &queued.change.key != key);
        lock(&client.followed).retain(|followed| followed != key);
        lock(&client.personal).retain(|frame| match &frame.route.series {
            Some((symbol, interval)) => *symbol != key.symbol || *interval != key.interval,
            None => true,
        });
    }

    /// Counts a new client in, unless the instance is full.
    fn admit(self: &Arc<Self>) -> Option<Admission> {
        let before = self.connected.fetch_add(1, Relaxed);
        if before >= self.max_clients {
            self.connected.fetch_sub(1, Relaxed);
            return None;
        }
        self.metrics.ws_clients.fetch_add(1, Relaxed);
        Some(Admission(self.clone()))
    }

    /// Clients connected now.
    pub fn connected(&self) -> usize {
        self.connected.load(Relaxed)
    }
}

/// A client's place in the hub; dropping it (the connection ended, or the
/// upgrade never happened) frees the place.
struct Admission(Arc<Hub>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Relaxed);
        self.0.metrics.ws_clients.fetch_sub(1, Relaxed);
    }
}

/// Opens a chart connection. A browser's connection must come from one of
/// InChart's pages (its `Origin`), so another site cannot open one with
/// the visitor's cookies; it is signed in when the page is.
pub async fn upgrade(
    State(hub): State<Arc<Hub>>,
    State(market): State<Market>,
    State(auth): State<Auth>,
    signed_in: Option<SignedIn>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if headers.contains_key(header::ORIGIN) && !same_origin(&headers, &auth.settings.public_url) {
        return ApiError::forbidden("origin", "Chart connections are open to InChart's own pages.")
            .into_response();
    }
    let user = signed_in.map(|signed_in| signed_in.user);
    let metrics = hub.metrics.clone();
    let Some(admission) = hub.admit() else {
        metrics.ws_refused.fetch_add(1, Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "this server holds its most chart connections",
        )
            .into_response();
    };
    upgrade
        .read_buffer_size(READ_BUFFER)
        // Frames are written out at each flush, which follows a batch.
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_PROTOCOL_FRAME)
        .max_frame_size(MAX_PROTOCOL_FRAME)
        .on_upgrade(move |socket| async move {
            let connection = Connection {
                hub: admission.0.clone(),
                live: market.window.clone(),
                carried: market.symbols.clone(),
                metrics: metrics.clone(),
                client: Arc::new(Client {
                    id: admission.0.next_id.fetch_add(1, Relaxed),
                    pending: Mutex::new(Vec::new()),
                    followed: Mutex::new(Vec::new()),
                    personal: Mutex::new(Vec::new()),
                    wake: Notify::new(),
                }),
                following: HashMap::new(),
                user,
            };
            let _signed_in = user.map(|_| SignedInGauge::new(metrics.clone()));
            connection.serve(socket).await;
            drop(admission);
        })
}

/// Counts a signed-in chart connection while it lasts.
struct SignedInGauge(Arc<StreamMetrics>);

impl SignedInGauge {
    fn new(metrics: Arc<StreamMetrics>) -> Self {
        metrics.ws_clients_signed_in.fetch_add(1, Relaxed);
        Self(metrics)
    }
}

impl Drop for SignedInGauge {
    fn drop(&mut self) {
        self.0.ws_clients_signed_in.fetch_sub(1, Relaxed);
    }
}

/// What a client last received of a series.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    newest: Option<Candle>,
    /// The candle before the newest, when the client holds it unfinished
    /// (a newer one opened before its close arrived): its late close is
    /// still due.
    closing: Option<i64>,
}

impl Sent {
    /// Whether the client is to receive `candle`; if so, it counts as sent.
    /// A series only moves forward, except for the late close of the
    /// candle before the newest.
    fn take(&mut self, candle: &Candle) -> bool {
        match &self.newest {
            Some(newest) if candle.open_time < newest.open_time => {
                let late_close = candle.closed && self.closing == Some(candle.open_time);
                if late_close {
                    self.closing = None;
                }
                late_close
            }
            Some(newest) if candle.open_time == newest.open_time && !supersedes(candle, newest) => false,
            Some(newest) => {
                if candle.open_time > newest.open_time {
                    self.closing = (!newest.closed).then_some(newest.open_time);
                }
                self.newest = Some(*candle);
                true
            }
            None => {
                self.newest = Some(*candle);
                true
            }
        }
    }
}

struct Connection {
    hub: Arc<Hub>,
    live: LiveMarket,
    carried: Symbols,
    metrics: Arc<StreamMetrics>,
    client: Arc<Client>,
    following: HashMap<SeriesKey, Sent>,
    /// The signed-in user, who hears of their own scripts' live runs.
    user: Option<Uuid>,
}

/// Puts one of the user's frames in a client's mailbox: it replaces a
/// waiting frame with the same route (the newer supersedes it). Past
/// [`PENDING_SIGNALS`] live runs waiting, the oldest run goes; past
/// [`PENDING_ACCOUNT_BYTES`] of other frames, the oldest of those go.
/// Answers whether a waiting frame was replaced or dropped.
fn queue_personal(waiting: &mut Vec<Arc<UserFrame>>, frame: Arc<UserFrame>) -> bool {
    if let Some(older) = waiting.iter_mut().find(|old| old.route == frame.route) {
        *older = frame;
        return true;
    }
    let scoped = frame.route.series.is_some();
    let mut dropped = false;
    if scoped {
        let runs = waiting.iter().filter(|old| old.route.series.is_some()).count();
        if runs >= PENDING_SIGNALS
            && let Some(oldest) = waiting.iter().position(|old| old.route.series.is_some())
        {
            waiting.remove(oldest);
            dropped = true;
        }
    } else {
        let mut bytes: usize = waiting
            .iter()
            .filter(|old| old.route.series.is_none())
            .map(|old| old.frame.len())
            .sum();
        while bytes + frame.frame.len() > PENDING_ACCOUNT_BYTES
            && let Some(oldest) = waiting.iter().position(|old| old.route.series.is_none())
        {
            bytes -= waiting.remove(oldest).frame.len();
            dropped = true;
        }
    }
    waiting.push(frame);
    dropped
}

/// Why a connection ends.
enum End {
    Closed,
    Stalled,
}

impl Connection {
    async fn serve(mut self, mut socket: WebSocket) {
        let mut status = self.live.status();
        let mut heartbeat = tokio::time::interval(Duration::from_millis(HEARTBEAT_MS));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.reset();
        let mut heard = Instant::now();
        let first = ServerMessage::Status {
            feed: *status.borrow_and_update(),
        };
        if let Some(user) = self.user {
            self.hub.sign_in(user, &self.client);
        }
        let mut outcome = self.send(&mut socket, &[encode(&first)]).await;
        while outcome.is_ok() {
            outcome = tokio::select! {
                () = self.client.wake.notified() => self.flush_pending(&mut socket).await,
                incoming = socket.recv() => match incoming {
                    Some(Ok(message)) => {
                        heard = Instant::now();
                        self.answer(&mut socket, message).await
                    }
                    Some(Err(_)) | None => Err(End::Closed),
                },
                changed = status.changed() => match changed {
                    Ok(()) => {
                        let feed = *status.borrow_and_update();
                        self.send(&mut socket, &[encode(&ServerMessage::Status { feed })]).await
                    }
                    Err(_) => Err(End::Closed),
                },
                _ = heartbeat.tick() => {
                    if heard.elapsed() > IDLE_LIMIT {
                        Err(End::Closed)
                    } else {
                        let beat = encode(&ServerMessage::Heartbeat { time: now_ms() });
                        self.send_messages(&mut socket, vec![Message::Text(beat), Message::Ping(Default::default())]).await
                    }
                }
            };
        }
        if let Err(End::Stalled) = outcome {
            self.metrics.ws_slow_dropped.fetch_add(1, Relaxed);
        }
        for key in self.following.keys() {
            self.hub.unfollow(key, &self.client);
        }
        if let Some(user) = self.user {
            self.hub.sign_out(user, &self.client);
        }
    }

    /// Writes the candles waiting, then the user's own frames (a live
    /// run follows from a candle's close).
    async fn flush_pending(&mut self, socket: &mut WebSocket) -> Result<(), End> {
        let batch = std::mem::take(&mut *lock(&self.client.pending));
        let personal = std::mem::take(&mut *lock(&self.client.personal));
        let mut frames = Vec::with_capacity(batch.len() + personal.len());
        for queued in &batch {
            if let Some(sent) = self.following.get_mut(&queued.change.key)
                && sent.take(&queued.change.candle)
            {
                frames.push(queued.change.frame.clone());
            }
        }
        for own in &personal {
            let followed = match &own.route.series {
                Some((symbol, interval)) => self.following.contains_key(&SeriesKey::new(symbol, *interval)),
                None => true,
            };
            if followed {
                // A shared handle on the one encoded frame, not a copy.
                frames.push(own.frame.clone());
            }
        }
        let result = self.send(socket, &frames).await;
        // The shares go only now, once the socket has taken the frames.
        drop(batch);
        result
    }

    async fn answer(&mut self, socket: &mut WebSocket, message: Message) -> Result<(), End> {
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                return self
                    .refuse(socket, ErrorCode::BadMessage, "frames are JSON text")
                    .await;
            }
            Message::Close(_) => return Err(End::Closed),
            Message::Ping(_) | Message::Pong(_) => return Ok(()),
        };
        if text.len() > MAX_CLIENT_FRAME {
            let message = format!("a frame holds at most {MAX_CLIENT_FRAME} bytes");
            return self.refuse(socket, ErrorCode::TooLarge, &message).await;
        }
        let request = match serde_json::from_str::<ClientMessage>(text.as_str()) {
            Ok(request) => request,
            Err(error) => {
                let message = format!("not a message this server understands: {error}");
                return self.refuse(socket, ErrorCode::BadMessage, &message).await;
            }
        };
        match request {
            ClientMessage::Subscribe {
                symbol,
                interval,
                since,
            } => {
                if !self.carried.contains(&symbol) {
                    let message = format!("{symbol} is not a symbol InChart carries");
                    return self.refuse(socket, ErrorCode::UnknownSymbol, &message).await;
                }
                let key = SeriesKey { symbol, interval };
                if !self.following.contains_key(&key) {
                    if self.following.len() >= MAX_SUBSCRIPTIONS {
                        let message = format!("a connection follows at most {MAX_SUBSCRIPTIONS} series");
                        return self
                            .refuse(socket, ErrorCode::TooManySubscriptions, &message)
                            .await;
                    }
                    // Follow first, then read the window: a change landing
                    // in between waits in the slot and is sent after the
                    // snapshot only if it is newer.
                    self.hub.follow(&key, &self.client);
                    self.following.insert(key.clone(), Sent::default());
                }
                self.send_snapshot(socket, &key, since).await
            }
            ClientMessage::Unsubscribe { symbol, interval } => {
                let key = SeriesKey { symbol, interval };
                if self.following.remove(&key).is_some() {
                    self.hub.unfollow(&key, &self.client);
                }
                let done = ServerMessage::Unsubscribed {
                    symbol: key.symbol,
                    interval: key.interval,
                };
                self.send(socket, &[encode(&done)]).await
            }
            ClientMessage::Ping => {
                let beat = encode(&ServerMessage::Heartbeat { time: now_ms() });
                self.send(socket, &[beat]).await
            }
        }
    }

    async fn send_snapshot(
        &mut self,
        socket: &mut WebSocket,
        key: &SeriesKey,
        since: Option<i64>,
    ) -> Result<(), End> {
        let limit = if since.is_some() {
            MAX_SNAPSHOT
        } else {
            DEFAULT_SNAPSHOT
        };
        let candles = match self.live.recent(key, since, limit).await {
            Ok(candles) => candles,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "a snapshot could not be read");
                Vec::new()
            }
        };
        if let Some(sent) = self.following.get_mut(key) {
            let mut newest = candles
                .iter()
                .rev()
                .map(|c| serde_json::from_str::<Candle>(&c.json).ok());
            if let Some(Some(candle)) = newest.next() {
                sent.newest = Some(candle);
                sent.closing = match newest.next() {
                    Some(Some(before)) if !before.closed => Some(before.open_time),
                    _ => None,
                };
            }
        }
        let mut frame = String::with_capacity(96 + candles.iter().map(|c| c.json.len() + 1).sum::<usize>());
        frame.push_str(r#"{"type":"snapshot","symbol":""#);
        frame.push_str(key.symbol.as_str());
        frame.push_str(r#"","interval":""#);
        frame.push_str(key.interval.as_str());
        frame.push_str(r#"","candles":["#);
        for (index, candle) in candles.iter().enumerate() {
            if index > 0 {
                frame.push(',');
            }
            frame.push_str(&candle.json);
        }
        frame.push_str("]}");
        self.send(socket, &[frame.into()]).await
    }

    async fn refuse(&mut self, socket: &mut WebSocket, code: ErrorCode, message: &str) -> Result<(), End> {
        self.metrics.ws_bad_frames.fetch_add(1, Relaxed);
        let error = ServerMessage::Error {
            code,
            message: message.to_string(),
        };
        self.send(socket, &[encode(&error)]).await
    }

    async fn send(&self, socket: &mut WebSocket, frames: &[Utf8Bytes]) -> Result<(), End> {
        self.send_messages(socket, frames.iter().cloned().map(Message::Text).collect())
            .await
    }

    /// Writes `messages` in one flush, or gives up on a client that does
    /// not take them within [`WRITE_TIMEOUT`].
    async fn send_messages(&self, socket: &mut WebSocket, messages: Vec<Message>) -> Result<(), End> {
        if messages.is_empty() {
            return Ok(());
        }
        let count = messages.len() as u64;
        let write = async {
            for message in messages {
                socket.feed(message).await?;
            }
            socket.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => {
                self.metrics.ws_frames_sent.fetch_add(count, Relaxed);
                Ok(())
            }
            Ok(Err(_)) => Err(End::Closed),
            Err(_) => Err(End::Stalled),
        }
    }
}

fn encode(message: &ServerMessage) -> Utf8Bytes {
    // These messages hold only strings, numbers and enums: they always encode.
    serde_json::to_string(message).unwrap_or_default().into()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use inchart_api::market::{Interval, Symbol};

    use super::*;
    use crate::platform::user_bus::UserRoute;

    fn candle(open_time: i64, trades: i64, closed: bool) -> Candle {
        Candle {
            open_time,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 3.0,
            trades,
            closed,
        }
    }

    #[test]
    fn a_late_close_reaches_a_client_that_already_has_the_next_candle() {
        let mut sent = Sent::default();
        assert!(sent.take(&candle(60, 5, false)));
        assert!(sent.take(&candle(120, 1, false)), "the next candle opens");
        assert!(
            !sent.take(&candle(60, 6, false)),
            "an unfinished older update is not sent"
        );
        assert!(sent.take(&candle(60, 7, true)), "the late close is sent");
        assert!(!sent.take(&candle(60, 7, true)), "once");
        assert!(!sent.take(&candle(0, 9, true)), "nor anything older");
        assert!(sent.take(&candle(120, 2, false)), "the newest goes on");
        assert!(!sent.take(&candle(120, 1, false)), "and never back");
    }

    #[test]
    fn a_candle_closed_in_time_is_not_sent_again() {
        let mut sent = Sent::default();
        assert!(sent.take(&candle(60, 5, true)));
        assert!(sent.take(&candle(120, 1, false)));
        assert!(!sent.take(&candle(60, 5, true)));
    }

    fn run_of(script: &str, symbol: &str, text: &str) -> Arc<UserFrame> {
        Arc::new(UserFrame {
            route: UserRoute {
                user: Uuid::nil(),
                series: Some((Symbol::parse(symbol).unwrap(), Interval::M1)),
                topic: script.into(),
            },
            frame: text.into(),
        })
    }

    fn change_of(drawing: &str, text: &str) -> Arc<UserFrame> {
        Arc::new(UserFrame {
            route: UserRoute {
                user: Uuid::nil(),
                series: None,
                topic: drawing.into(),
            },
            frame: text.into(),
        })
    }

    fn texts(waiting: &[Arc<UserFrame>]) -> Vec<&str> {
        waiting.iter().map(|frame| frame.frame.as_str()).collect()
    }

    #[test]
    fn a_slow_client_keeps_only_the_newest_live_runs() {
        let mut waiting = Vec::new();
        queue_personal(&mut waiting, run_of("cross", "BTCUSDT", "cross 1"));
        queue_personal(&mut waiting, run_of("rsi", "BTCUSDT", "rsi 1"));
        // A newer run of the same script on the same series supersedes the
        // waiting one, in its place; on another series it is another run.
        queue_personal(&mut waiting, run_of("cross", "BTCUSDT", "cross 2"));
        queue_personal(&mut waiting, run_of("cross", "ETHUSDT", "eth 1"));
        assert_eq!(texts(&waiting), ["cross 2", "rsi 1", "eth 1"]);

        // However many distinct runs arrive, at most PENDING_SIGNALS wait,
        // the newest.
        for n in 0..10 {
            queue_personal(
                &mut waiting,
                run_of(&format!("s{n}"), "BTCUSDT", &format!("s{n}")),
            );
        }
        assert_eq!(texts(&waiting), ["s6", "s7", "s8", "s9"]);
        assert_eq!(waiting.len(), PENDING_SIGNALS);
    }

    #[test]
    fn drawing_changes_wait_beside_runs_and_the_newest_of_one_drawing_wins() {
        let mut waiting = Vec::new();
        for n in 0..10 {
            queue_personal(
                &mut waiting,
                run_of(&format!("s{n}"), "BTCUSDT", &format!("s{n}")),
            );
        }
        // Runs do not push changes out, nor changes runs.
        for n in 0..300 {
            queue_personal(&mut waiting, change_of(&format!("d{n}"), &format!("d{n} put")));
        }
        assert_eq!(waiting.len(), PENDING_SIGNALS + 300);
        queue_personal(&mut waiting, change_of("d7", "d7 delete"));
        assert_eq!(waiting.len(), PENDING_SIGNALS + 300);
        assert!(texts(&waiting).contains(&"d7 delete") && !texts(&waiting).contains(&"d7 put"));

        // Past the bytes a client may hold, the oldest changes go.
        let big = "x".repeat(PENDING_ACCOUNT_BYTES / 2);
        queue_personal(&mut waiting, change_of("big1", &big));
        queue_personal(&mut waiting, change_of("big2", &big));
        let changes: Vec<&str> = texts(&waiting)
            .into_iter()
            .filter(|text| !text.starts_with('s'))
            .collect();
        assert_eq!(changes.len(), 2, "only the two newest fit");
        assert_eq!(waiting.len(), PENDING_SIGNALS + 2);
    }
}
