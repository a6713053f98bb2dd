//! A local fake of Binance's spot market data: REST (`/api/v3/ping`, `time`,
//! `klines`, `exchangeInfo`) and the kline WebSocket streams (`/stream` and
//! `/ws/<stream>`), speaking Binance's exact wire format, with a clock the
//! test controls and faults it can inject on demand.
//!
//! Policies:
//! - It binds 127.0.0.1 only.
//! - The market is deterministic: each series (symbol × interval) is a random
//!   walk seeded from its name, so two fakes started at the same instant agree.
//! - History is gap-free: a candle that passes while nobody listens is still
//!   generated, so REST serves every candle a real exchange would have.
//! - Deep history costs nothing until asked for: candles older than
//!   `history` (back to `listed_at`) are a pure function of their open time,
//!   drawn when a request reaches them, and join the walk without a jump.
//! - Everything a test can observe (`candles`, `requests`, connection counts)
//!   is updated before the call that caused it returns.

mod exchange_info;
mod gate;
mod market;
mod rest;
mod stream;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use inchart_api::market::{Candle, Interval, Symbol};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use self::gate::{Gate, GateListener};
use self::market::{Kline, Series};
use self::stream::Command;

/// How the fake behaves; the defaults are Binance's.
#[derive(Debug, Clone)]
pub struct FakeBinanceConfig {
    /// The series served are every symbol × [`Interval::ALL`].
    pub symbols: Vec<Symbol>,
    /// How far back the walk goes (its candles are kept, and streamed).
    pub history: Duration,
    /// When the symbols were listed, in ms since the Unix epoch: REST serves
    /// candles from then on, those older than `history` drawn on demand
    /// (deep history). `None`, or a time within `history`: from `history` ago.
    pub listed_at: Option<i64>,
    /// How often the server pings each stream (Binance: 20 s).
    pub ping_interval: Duration,
    /// A stream that does not answer a ping within this is dropped (Binance: 60 s).
    pub pong_timeout: Duration,
    /// A stream is closed at this age (Binance: 24 h).
    pub max_connection_age: Duration,
    /// REQUEST_WEIGHT allowed per weight window (Binance: 6000 a minute).
    pub weight_limit_1m: u32,
    /// The weight window, in whole seconds (Binance: a minute). Shorter
    /// ones let a test see many windows; `exchangeInfo` and the
    /// `X-MBX-USED-WEIGHT-<window>` header state it as Binance would.
    pub weight_window: Duration,
    /// Between the `serverShutdown` event and the close frame (about 1 s).
    pub server_shutdown_grace: Duration,
}

impl Default for FakeBinanceConfig {
    fn default() -> Self {
        Self {
            symbols: ["BTCUSDT", "ETHUSDT"]
                .into_iter()
                .filter_map(|name| Symbol::parse(name).ok())
                .collect(),
            history: Duration::from_secs(2 * 24 * 3600),
            listed_at: None,
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(60),
            max_connection_age: Duration::from_secs(24 * 3600),
            weight_limit_1m: 6000,
            weight_window: Duration::from_secs(60),
            server_shutdown_grace: Duration::from_secs(1),
        }
    }
}

/// A bad frame [`FakeBinance::send_malformed`] can put on every stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not JSON at all (a truncated frame).
    NotJson,
    /// A kline event without its close price (`k.c`).
    MissingField,
    /// A kline event whose open time (`k.t`) is a string, not a number.
    WrongType,
    /// A kline event with a negative close and low.
    NegativePrice,
    /// A kline event whose high is below its low.
    HighBelowLow,
    /// A kline event for a symbol nobody subscribed to (`NOPEUSDT`).
    UnknownSymbol,
    /// A kline event whose open time is not on the interval's grid.
    UnalignedOpenTime,
    /// Well-formed JSON with an event type no client knows.
    UnknownEvent,
}

/// One REST request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestRequest {
    /// The path, e.g. `/api/v3/klines`.
    pub path: String,
    /// The raw query string, without `?` (empty when there was none).
    pub query: String,
    /// The HTTP status answered (418 means the client ignored a back-off).
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
    /// The weight window's REQUEST_WEIGHT once this request was counted
    /// (what its `X-MBX-USED-WEIGHT` header said).
    pub used_weight: u32,
}

type SeriesKey = (Symbol, Interval);

/// Takes a lock even if a panicking test thread poisoned it: the fake's state
/// stays usable, and the panic itself is what the test reports.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An open stream connection, as the fake's controls see it.
#[derive(Debug)]
struct StreamConnection {
    /// Stream names as subscribed, in order.
    streams: Vec<String>,
    /// The known series among them, with the name each was subscribed as.
    series: Vec<(SeriesKey, String)>,
    /// A `/ws/<stream>` connection: events go out unwrapped.
    raw: bool,
    commands: mpsc::UnboundedSender<Command>,
}

#[derive(Debug, Default)]
struct Streams {
    next_id: u64,
    open: BTreeMap<u64, StreamConnection>,
    /// Fault budgets asked for while no stream was open: the next one takes them.
    pending_repeat: usize,
    pending_reorder: usize,
}

impl Streams {
    fn listened(&self) -> BTreeSet<SeriesKey> {
        self.open
            .values()
            .flat_map(|c| c.series.iter().map(|(key, _)| key.clone()))
            .collect()
    }

    fn send_all(&self, command: impl Fn() -> Command) {
        for connection in self.open.values() {
            let _ = connection.commands.send(command());
        }
    }
}

#[derive(Debug)]
struct RestState {
    log: Vec<RestRequest>,
    /// The weight window (of the fake's clock) `used_weight` counts.
    window: i64,
    used_weight: u32,
    /// Until when the client was told to back off (Retry-After).
    backoff_until: Option<Instant>,
    forced_429: usize,
    forced_retry_after: Duration,
}

/// State shared by the handle, the HTTP handlers and the stream tasks.
#[derive(Debug)]
struct Shared {
    config: FakeBinanceConfig,
    addr: SocketAddr,
    gate: Arc<Gate>,
    clock_offset_ms: AtomicI64,
    /// Lock order: `market` before `streams`.
    market: Mutex<BTreeMap<SeriesKey, Series>>,
    streams: Mutex<Streams>,
    rest: Mutex<RestState>,
    connections_total: AtomicUsize,
    pongs_received: AtomicUsize,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        wall + self.clock_offset_ms.load(Ordering::SeqCst)
    }

    fn weight_window_ms(&self) -> i64 {
        i64::try_from(self.config.weight_window.as_millis())
            .unwrap_or(60_000)
            .max(1_000)
    }

    fn is_configured(&self, symbol: &Symbol) -> bool {
        self.config.symbols.contains(symbol)
    }

    /// Brings every series up to the clock (finalising and opening candles
    /// as needed), then moves the forming candle of each series `step`
    /// selects, and pushes the resulting events to the streams that listen.
    fn advance_market(&self, step: impl Fn(&SeriesKey) -> bool) {
        let mut market = lock(&self.market);
        let now = self.now_ms();
        let listened = lock(&self.streams).listened();
        let mut events: Vec<(SeriesKey, Kline)> = Vec::new();
        let mut buffer = Vec::new();
        for (key, series) in market.iter_mut() {
            let listening = listened.contains(key);
            series.catch_up(now, &mut buffer, listening);
            events.extend(buffer.drain(..).map(|kline| (key.clone(), kline)));
            if step(key)
                && let Some(kline) = series.step()
                && listening
            {
                events.push((key.clone(), kline.clone()));
            }
        }
        let streams = lock(&self.streams);
        for (key, kline) in events {
            let data: Arc<str> = kline.stream_event(&key.0, key.1, now).to_string().into();
            for connection in streams.open.values() {
                for (_, name) in connection.series.iter().filter(|(k, _)| *k == key) {
                    let _ = connection.commands.send(Command::Kline {
                        stream: name.clone(),
                        data: Arc::clone(&data),
                    });
                }
            }
        }
    }

    fn with_series<T>(
        &self,
        symbol: &Symbol,
        interval: Interval,
        read: impl FnOnce(&Series) -> T,
    ) -> Option<T> {
        self.advance_market(|_| false);
        let market = lock(&self.market);
        market.get(&(symbol.clone(), interval)).map(read)
    }

    fn drop_streams(&self) {
        // Dropping the command sender ends the connection's task, which drops
        // the socket without a close frame.
        lock(&self.streams).open.clear();
    }

    fn stop(&self) {
        self.gate.close();
        self.drop_streams();
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// A running fake Binance. Dropping it (or [`FakeBinance::shutdown`]) stops
/// the server, its streams and any ticker it spawned.
#[derive(Debug)]
pub struct FakeBinance {
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
}

impl FakeBinance {
    /// Starts the fake on 127.0.0.1 on a free port.
    pub async fn start(config: FakeBinanceConfig) -> anyhow::Result<FakeBinance> {
        Self::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts the fake on `listen`, which must be on 127.0.0.1 (port 0 picks
    /// a free one). For the `fake-binance` binary and fixed-port setups.
    pub async fn start_on(config: FakeBinanceConfig, listen: SocketAddr) -> anyhow::Result<FakeBinance> {
        anyhow::ensure!(
            listen.ip() == Ipv4Addr::LOCALHOST,
            "the fake Binance listens on 127.0.0.1 only, not {listen}; use 127.0.0.1:{}",
            listen.port()
        );
        anyhow::ensure!(
            !config.symbols.is_empty(),
            "the fake Binance needs at least one symbol"
        );
        anyhow::ensure!(
            config.weight_window >= Duration::from_secs(1) && config.weight_window.subsec_nanos() == 0,
            "weight_window must be a whole number of seconds"
        );
        for (name, value) in [
            ("ping_interval", config.ping_interval),
            ("pong_timeout", config.pong_timeout),
            ("max_connection_age", config.max_connection_age),
        ] {
            anyhow::ensure!(!value.is_zero(), "{name} must be longer than zero");
        }
        let (gate, addr) = Gate::open(listen).with_context(|| format!("while binding {listen}"))?;
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("while reading the system clock")?
            .as_millis();
        let now = i64::try_from(wall_ms).context("while reading the system clock")?;
        let history_ms = i64::try_from(config.history.as_millis()).context("history is too long")?;
        let walk_from = now - history_ms;
        let listed_at = config.listed_at.map_or(walk_from, |at| at.min(walk_from));
        let mut market = BTreeMap::new();
        for symbol in &config.symbols {
            for interval in Interval::ALL {
                let series = Series::generate(symbol.clone(), interval, walk_from, now).listed_at(listed_at);
                market.insert((symbol.clone(), interval), series);
            }
        }
        let shared = Arc::new(Shared {
            addr,
            gate: Arc::clone(&gate),
            clock_offset_ms: AtomicI64::new(0),
            market: Mutex::new(market),
            streams: Mutex::new(Streams::default()),
            rest: Mutex::new(RestState {
                log: Vec::new(),
                window: 0,
                used_weight: 0,
                backoff_until: None,
                forced_429: 0,
                forced_retry_after: Duration::ZERO,
            }),
            connections_total: AtomicUsize::new(0),
            pongs_received: AtomicUsize::new(0),
            tasks: Mutex::new(Vec::new()),
            config,
        });
        let router = rest::router(Arc::clone(&shared)).merge(stream::router(Arc::clone(&shared)));
        let listener = GateListener { gate, addr };
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "fake binance: the server stopped");
            }
        });
        tracing::debug!(%addr, "fake binance started");
        Ok(FakeBinance {
            shared,
            server: Some(server),
        })
    }

    /// The REST base, `http://127.0.0.1:PORT` (paths `/api/v3/...`).
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The stream base, `ws://127.0.0.1:PORT` (paths `/stream?streams=...`, `/ws/<stream>`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.shared.addr)
    }

    /// The fake's clock in milliseconds since the Unix epoch: the wall clock
    /// plus whatever [`FakeBinance::advance`] added.
    pub fn now_ms(&self) -> i64 {
        self.shared.now_ms()
    }

    /// Moves every series' forming candle one step and pushes one kline
    /// event (x=false) to every stream subscribed to it.
    pub fn tick(&self) {
        self.shared.advance_market(|_| true);
    }

    /// [`FakeBinance::tick`] for one series.
    pub fn tick_series(&self, symbol: &Symbol, interval: Interval) {
        self.shared.advance_market(|(s, i)| s == symbol && *i == interval);
    }

    /// Moves the clock forward. Every candle whose close time passes is
    /// finalised (its x=true event is pushed) and the next one opens (its
    /// first event, x=false, is pushed).
    pub fn advance(&self, by: Duration) {
        let by_ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.shared.clock_offset_ms.fetch_add(by_ms, Ordering::SeqCst);
        self.shared.advance_market(|_| false);
    }

    /// Calls [`FakeBinance::tick`] every `every`, finalising candles as wall
    /// time passes. The task ends when the fake stops.
    pub fn spawn_ticker(&self, every: Duration) -> JoinHandle<()> {
        let shared: Weak<Shared> = Arc::downgrade(&self.shared);
        let every = every.max(Duration::from_millis(1));
        let handle = tokio::spawn(async move {
            let mut timer = tokio::time::interval(every);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                timer.tick().await;
                let Some(shared) = shared.upgrade() else { return };
                shared.advance_market(|_| true);
            }
        });
        lock(&self.shared.tasks).push(handle.abort_handle());
        handle
    }

    /// The fake's truth for a series, ascending, the last candle forming.
    /// Empty for a series the fake does not serve. Deep history (before
    /// `history`) is not included: see [`FakeBinance::history`].
    pub fn candles(&self, symbol: &Symbol, interval: Interval) -> Vec<Candle> {
        self.shared
            .with_series(symbol, interval, Series::candles)
            .unwrap_or_default()
    }

    /// The fake's truth for the candles of a series opening from `from` to
    /// `to` (inclusive), deep history included, ascending: what paging
    /// REST over that range gives.
    pub fn history(&self, symbol: &Symbol, interval: Interval, from: i64, to: i64) -> Vec<Candle> {
        self.shared
            .with_series(symbol, interval, |series| {
                series
                    .between(Some(from), Some(to), usize::MAX)
                    .into_iter()
                    .map(|kline| kline.candle)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The open time of the first candle REST serves for a series (the
    /// listing), or `None` for a series the fake does not serve.
    pub fn first_open_time(&self, symbol: &Symbol, interval: Interval) -> Option<i64> {
        self.shared.with_series(symbol, interval, Series::first_open_time)
    }

    /// Abruptly ends every stream: no close frame, the TCP connection just ends.
    pub fn drop_streams(&self) {
        self.shared.drop_streams();
    }

    /// Offline: the port refuses connections (the listener is closed) and
    /// every open connection, REST or stream, is dropped. Back online, the
    /// same port is bound again.
    pub fn set_offline(&self, offline: bool) {
        if offline {
            self.shared.gate.close();
            self.shared.drop_streams();
        } else if let Err(error) = self.shared.gate.reopen(self.shared.addr) {
            tracing::error!(%error, addr = %self.shared.addr, "fake binance: could not listen again");
        }
    }

    /// Whether the fake accepts connections (not [`FakeBinance::set_offline`]).
    pub fn is_online(&self) -> bool {
        self.shared.gate.is_open()
    }

    /// Sends Binance's `serverShutdown` event on every stream, then closes
    /// each `server_shutdown_grace` later.
    pub fn server_shutdown(&self) {
        let event = serde_json::json!({"e": "serverShutdown", "E": self.now_ms()}).to_string();
        lock(&self.shared.streams).send_all(|| Command::ServerShutdown(event.clone()));
    }

    /// Each of the next `n` events on every open stream is sent twice. Asked
    /// while no stream is open, it applies to the next stream that opens.
    pub fn repeat_next(&self, n: usize) {
        let mut streams = lock(&self.shared.streams);
        if streams.open.is_empty() {
            streams.pending_repeat += n;
        } else {
            streams.send_all(|| Command::RepeatNext(n));
        }
    }

    /// The next `n` events on every open stream go out with each pair
    /// swapped (an odd last one goes out as is): the first of a pair is held
    /// until the second is sent. Asked while no stream is open, it applies to
    /// the next stream that opens.
    pub fn reorder_next(&self, n: usize) {
        let mut streams = lock(&self.shared.streams);
        if streams.open.is_empty() {
            streams.pending_reorder += n;
        } else {
            streams.send_all(|| Command::ReorderNext(n));
        }
    }

    /// Sends one bad frame of `kind` on every open stream.
    pub fn send_malformed(&self, kind: Malformed) {
        let now = self.now_ms();
        let market = lock(&self.shared.market);
        let streams = lock(&self.shared.streams);
        for connection in streams.open.values() {
            let frame = stream::malformed_frame(kind, connection, &market, now);
            let _ = connection.commands.send(Command::Frame(frame));
        }
    }

    /// The next `n` REST requests are answered 429 with `Retry-After`
    /// (`retry_after` in whole seconds, rounded up).
    pub fn rate_limit_next(&self, n: usize, retry_after: Duration) {
        let mut rest = lock(&self.shared.rest);
        rest.forced_429 += n;
        rest.forced_retry_after = retry_after;
    }

    /// Every REST request so far, oldest first.
    pub fn requests(&self) -> Vec<RestRequest> {
        lock(&self.shared.rest).log.clone()
    }

    /// Stream connections open now.
    pub fn stream_connections(&self) -> usize {
        lock(&self.shared.streams).open.len()
    }

    /// Stream connections accepted so far (including ones closed for an
    /// invalid stream name).
    pub fn connections_total(&self) -> usize {
        self.shared.connections_total.load(Ordering::SeqCst)
    }

    /// The stream names of every open connection.
    pub fn subscribed_streams(&self) -> Vec<String> {
        lock(&self.shared.streams)
            .open
            .values()
            .flat_map(|c| c.streams.iter().cloned())
            .collect()
    }

    /// Pongs that answered one of the fake's pings (echoing its payload).
    pub fn pongs_received(&self) -> usize {
        self.shared.pongs_received.load(Ordering::SeqCst)
    }

    /// REQUEST_WEIGHT used in the current weight window of the fake's
    /// clock (a minute unless `weight_window` says otherwise).
    pub fn used_weight_1m(&self) -> u32 {
        let now_window = self.now_ms().div_euclid(self.shared.weight_window_ms());
        let rest = lock(&self.shared.rest);
        if rest.window == now_window {
            rest.used_weight
        } else {
            0
        }
    }

    /// Stops everything and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.shared.stop();
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for FakeBinance {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
