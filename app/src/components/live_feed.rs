//! The chart's live connection: one WebSocket per chart page to `/ws`,
//! speaking [`inchart_api::stream`]'s frames, and the status indicator it drives.
//!
//! Policy: the chart shows candles in strictly ascending open time. A live
//! candle is drawn only if it updates the newest candle or opens a newer
//! one ([`LiveEdge`]); anything older is dropped, never reordered. A
//! connection that hears nothing for two heartbeats is dead: it is closed
//! and reopened with exponential backoff and jitter, and the subscription
//! is renewed with `since` = the newest candle, so the server fills the gap.

use inchart_api::market::FeedStatus;
use leptos::prelude::*;

/// The longest wait between two reconnection attempts, in milliseconds.
pub const MAX_BACKOFF_MS: u32 = 15_000;
/// The first wait after a connection drops, before jitter.
const FIRST_BACKOFF_MS: u32 = 500;

/// How long to wait before reconnection attempt `attempt` (1, 2, …):
/// doubling from half a second up to [`MAX_BACKOFF_MS`], of which `jitter`
/// (0 ≤ jitter < 1, random) takes off up to half, so that a thousand
/// charts dropped together do not come back in the same millisecond.
pub fn backoff_ms(attempt: u32, jitter: f64) -> u32 {
    let doublings = attempt.saturating_sub(1).min(16);
    let ceiling = FIRST_BACKOFF_MS
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_MS);
    let jitter = jitter.clamp(0.0, 1.0);
    (f64::from(ceiling) * (1.0 - jitter / 2.0)).round() as u32
}

/// The newest open time a chart holds, and the rule for what a live frame
/// may change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveEdge {
    newest: Option<i64>,
}

impl LiveEdge {
    /// An edge at the newest candle the chart loaded (`None`: no candles).
    pub fn at(newest: Option<i64>) -> Self {
        Self { newest }
    }

    /// The newest open time, the `since` of a subscription.
    pub fn newest(self) -> Option<i64> {
        self.newest
    }

    /// Whether a candle opened at `open_time` may be drawn: it updates the
    /// newest candle or opens a newer one. Admitting it moves the edge.
    pub fn admit(&mut self, open_time: i64) -> bool {
        match self.newest {
            Some(newest) if open_time < newest => false,
            _ => {
                self.newest = Some(open_time);
                true
            }
        }
    }
}

/// The feed's status as the page shows it: what the server last said, and
/// whether this page's own connection is down.
#[derive(Debug, Clone, Copy)]
pub struct FeedIndicator {
    pub feed: RwSignal<FeedStatus>,
    pub socket_down: RwSignal<bool>,
}

impl FeedIndicator {
    /// Starts from the status the server rendered the page with.
    pub fn new(initial: FeedStatus) -> Self {
        Self {
            feed: RwSignal::new(initial),
            socket_down: RwSignal::new(false),
        }
    }
}

/// The CSS class, the `data-feed` value and the words of the indicator.
/// Simulated data stays labelled as such even while reconnecting.
pub fn indicator_parts(feed: FeedStatus, socket_down: bool) -> (&'static str, &'static str, &'static str) {
    match (feed, socket_down) {
        (FeedStatus::Simulated, false) => ("status simulated", "simulated", FeedStatus::Simulated.label()),
        (FeedStatus::Simulated, true) => (
            "status simulated reconnecting",
            "simulated",
            "Simulated data · reconnecting",
        ),
        (FeedStatus::Live, false) => ("status live", "live", FeedStatus::Live.label()),
        (FeedStatus::Live | FeedStatus::Reconnecting, _) => (
            "status reconnecting",
            "reconnecting",
            FeedStatus::Reconnecting.label(),
        ),
    }
}

/// The status in the top bar: a dot for a glance and the word for
/// everyone; screen readers hear changes when the reader is idle.
#[component]
pub fn FeedStatusIndicator(indicator: FeedIndicator) -> impl IntoView {
    let parts = move || indicator_parts(indicator.feed.get(), indicator.socket_down.get());
    view! {
        <span class=move || parts().0 role="status" aria-live="polite" data-feed=move || parts().1>
            <span class="dot" aria-hidden="true"></span>
            <span class="status-text">{move || parts().2}</span>
        </span>
    }
}

#[cfg(feature = "hydrate")]
pub(crate) mod socket {
    //! The WebSocket itself. Callbacks hold the connection weakly, so a
    //! timer or a socket event that fires after the chart is gone does
    //! nothing.

    use std::cell::RefCell;
    use std::rc::{Rc, Weak};
    use std::time::Duration;

    use inchart_api::charts::DrawingChange;
    use inchart_api::market::{Candle, Interval, Symbol};
    use inchart_api::stream::{ClientMessage, HEARTBEAT_MS, ServerMessage};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    use web_sys::{MessageEvent, WebSocket};

    use super::{FeedIndicator, backoff_ms};
    use crate::scripts::RunView;

    /// Called with the candles of the followed series, in the order the
    /// server sent them.
    pub type OnCandles = Rc<dyn Fn(&Symbol, Interval, &[Candle])>;
    /// The newest open time the chart holds, asked at every subscription.
    pub type Since = Rc<dyn Fn() -> Option<i64>>;
    /// Called with a live run of one of the viewer's scripts on the
    /// followed series.
    pub type OnSignals = Rc<dyn Fn(String, RunView)>;
    /// Called with a change to one of the viewer's drawings, made in this
    /// tab or another.
    pub type OnDrawing = Rc<dyn Fn(DrawingChange)>;

    struct Handlers {
        _open: Closure<dyn FnMut()>,
        _message: Closure<dyn FnMut(MessageEvent)>,
        _close: Closure<dyn FnMut()>,
    }

    struct Inner {
        socket: Option<WebSocket>,
        // The previous socket's callbacks; dropped when the next socket
        // replaces them, never from inside one of them.
        handlers: Option<Handlers>,
        series: Option<(Symbol, Interval)>,
        since: Since,
        on_candles: OnCandles,
        on_signals: Option<OnSignals>,
        on_drawing: Option<OnDrawing>,
        indicator: FeedIndicator,
        attempt: u32,
        last_frame: f64,
        retry: Option<TimeoutHandle>,
        watchdog: Option<IntervalHandle>,
        closed: bool,
    }

    /// This page's connection to `/ws`. Cloning shares it.
    #[derive(Clone)]
    pub struct LiveSocket(Rc<RefCell<Inner>>);

    impl LiveSocket {
        /// Opens the connection; it follows nothing until [`Self::follow`].
        pub fn connect(indicator: FeedIndicator, since: Since, on_candles: OnCandles) -> Self {
            let inner = Rc::new(RefCell::new(Inner {
                socket: None,
                handlers: None,
                series: None,
                since,
                on_candles,
                on_signals: None,
                on_drawing: None,
                indicator,
                attempt: 0,
                last_frame: now(),
                retry: None,
                watchdog: None,
                closed: false,
            }));
            let weak = Rc::downgrade(&inner);
            let watchdog = set_interval_with_handle(
                move || check_alive(&weak),
                Duration::from_millis(HEARTBEAT_MS / 3),
            )
            .ok();
            inner.borrow_mut().watchdog = watchdog;
            open(&inner);
            Self(inner)
        }

        /// Hands live runs of the viewer's scripts to `on_signals`.
        pub fn on_signals(&self, on_signals: OnSignals) {
            self.0.borrow_mut().on_signals = Some(on_signals);
        }

        /// Hands changes to the viewer's drawings to `on_drawing`.
        pub fn on_drawing(&self, on_drawing: OnDrawing) {
            self.0.borrow_mut().on_drawing = Some(on_drawing);
        }

        /// Follows `series` instead of the current one (`None`: nothing).
        /// Frames of the old series that are still on their way are
        /// dropped.
        pub fn follow(&self, series: Option<(Symbol, Interval)>) {
            let mut inner = self.0.borrow_mut();
            if inner.series == series {
                return;
            }
            let old = std::mem::replace(&mut inner.series, series);
            if let Some((symbol, interval)) = old {
                send(&inner, &ClientMessage::Unsubscribe { symbol, interval });
            }
            subscribe(&inner);
        }

        /// Closes the connection for good.
        pub fn close(&self) {
            let mut inner = self.0.borrow_mut();
            inner.closed = true;
            if let Some(retry) = inner.retry.take() {
                retry.clear();
            }
            if let Some(watchdog) = inner.watchdog.take() {
                watchdog.clear();
            }
            if let Some(socket) = inner.socket.take() {
                detach(&socket);
                let _ = socket.close();
            }
            inner.handlers = None;
        }
    }

    fn now() -> f64 {
        js_sys::Date::now()
    }

    fn url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/ws", location.host().ok()?))
    }

    fn send(inner: &Inner, message: &ClientMessage) {
        let Some(socket) = inner
            .socket
            .as_ref()
            .filter(|s| s.ready_state() == WebSocket::OPEN)
        else {
            // Not open yet: `on_open` subscribes to the current series.
            return;
        };
        if let Ok(text) = serde_json::to_string(message) {
            let _ = socket.send_with_str(&text);
        }
    }

    fn subscribe(inner: &Inner) {
        if let Some((symbol, interval)) = inner.series.clone() {
            let since = (inner.since)();
            send(
                inner,
                &ClientMessage::Subscribe {
                    symbol,
                    interval,
                    since,
                },
            );
        }
    }

    fn detach(socket: &WebSocket) {
        socket.set_onopen(None);
        socket.set_onmessage(None);
        socket.set_onclose(None);
        socket.set_onerror(None);
    }

    fn open(shared: &Rc<RefCell<Inner>>) {
        let mut inner = shared.borrow_mut();
        inner.retry = None;
        if inner.closed {
            return;
        }
        inner.last_frame = now();
        let socket = match url().map(|url| WebSocket::new(&url)) {
            Some(Ok(socket)) => socket,
            _ => {
                drop(inner);
                retry_later(shared);
                return;
            }
        };

        let weak = Rc::downgrade(shared);
        let on_open = Closure::<dyn FnMut()>::new(move || {
            let Some(shared) = weak.upgrade() else { return };
            let inner = shared.borrow();
            inner.indicator.socket_down.set(false);
            subscribe(&inner);
        });
        let weak = Rc::downgrade(shared);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let (Some(shared), Some(text)) = (weak.upgrade(), event.data().as_string()) {
                receive(&shared, &text);
            }
        });
        let weak = Rc::downgrade(shared);
        // `error` is always followed by `close`; one handler is enough.
        let on_close = Closure::<dyn FnMut()>::new(move || {
            if let Some(shared) = weak.upgrade() {
                drop_socket(&shared);
            }
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        inner.socket = Some(socket);
        inner.handlers = Some(Handlers {
            _open: on_open,
            _message: on_message,
            _close: on_close,
        });
    }

    fn receive(shared: &Rc<RefCell<Inner>>, text: &str) {
        let (on_candles, on_signals, on_drawing, series) = {
            let mut inner = shared.borrow_mut();
            inner.last_frame = now();
            inner.attempt = 0;
            (
                inner.on_candles.clone(),
                inner.on_signals.clone(),
                inner.on_drawing.clone(),
                inner.series.clone(),
            )
        };
        let Ok(message) = serde_json::from_str::<ServerMessage>(text) else {
            web_sys::console::warn_1(&"InChart: an unreadable /ws frame was ignored".into());
            return;
        };
        let is_followed = |symbol: &Symbol, interval: Interval| {
            series
                .as_ref()
                .is_some_and(|(s, i)| s == symbol && *i == interval)
        };
        match message {
            ServerMessage::Snapshot {
                symbol,
                interval,
                candles,
            } if is_followed(&symbol, interval) => {
                on_candles(&symbol, interval, &candles);
            }
            ServerMessage::Candle {
                symbol,
                interval,
                candle,
                ..
            } if is_followed(&symbol, interval) => {
                on_candles(&symbol, interval, &[candle]);
            }
            ServerMessage::Signals { script_name, run } if is_followed(&run.symbol, run.interval) => {
                if let Some(on_signals) = on_signals {
                    on_signals(script_name, *run);
                }
            }
            ServerMessage::Drawing { change } => {
                if let Some(on_drawing) = on_drawing {
                    on_drawing(change);
                }
            }
            ServerMessage::Status { feed } => {
                let indicator = shared.borrow().indicator;
                indicator.feed.set(feed);
            }
            ServerMessage::Error { code, message } => {
                web_sys::console::warn_1(&format!("InChart /ws: {code:?}: {message}").into());
            }
            _ => {}
        }
    }

    /// The socket closed or went silent: show it, and try again later.
    fn drop_socket(shared: &Rc<RefCell<Inner>>) {
        {
            let mut inner = shared.borrow_mut();
            if inner.closed {
                return;
            }
            if let Some(socket) = inner.socket.take() {
                detach(&socket);
                let _ = socket.close();
            }
            inner.indicator.socket_down.set(true);
        }
        retry_later(shared);
    }

    fn retry_later(shared: &Rc<RefCell<Inner>>) {
        let mut inner = shared.borrow_mut();
        if inner.closed || inner.retry.is_some() {
            return;
        }
        inner.indicator.socket_down.set(true);
        inner.attempt = inner.attempt.saturating_add(1);
        let delay = backoff_ms(inner.attempt, js_sys::Math::random());
        let weak = Rc::downgrade(shared);
        inner.retry = set_timeout_with_handle(
            move || {
                if let Some(shared) = weak.upgrade() {
                    open(&shared);
                }
            },
            Duration::from_millis(u64::from(delay)),
        )
        .ok();
    }

    fn check_alive(weak: &Weak<RefCell<Inner>>) {
        let Some(shared) = weak.upgrade() else { return };
        let silent = {
            let inner = shared.borrow();
            inner.socket.is_some() && now() - inner.last_frame > 2.0 * HEARTBEAT_MS as f64
        };
        if silent {
            drop_socket(&shared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_taking_at_most_half() {
        assert_eq!(backoff_ms(1, 0.0), 500);
        assert_eq!(backoff_ms(2, 0.0), 1_000);
        assert_eq!(backoff_ms(3, 0.0), 2_000);
        assert_eq!(backoff_ms(1, 0.999), 250);
        assert_eq!(backoff_ms(6, 0.0), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(u32::MAX, 0.0), MAX_BACKOFF_MS);
        assert!((MAX_BACKOFF_MS / 2..=MAX_BACKOFF_MS).contains(&backoff_ms(40, 0.5)));
    }

    #[test]
    fn the_edge_takes_updates_of_the_newest_candle_and_newer_ones_only() {
        let mut edge = LiveEdge::at(Some(3_600_000));
        assert!(edge.admit(3_600_000), "the forming candle moves");
        assert!(!edge.admit(0), "an older candle is never redrawn out of order");
        assert!(edge.admit(7_200_000), "the next candle opens");
        assert!(!edge.admit(3_600_000), "the previous one is final now");
        assert_eq!(edge.newest(), Some(7_200_000));

        let mut empty = LiveEdge::at(None);
        assert!(empty.admit(60_000));
        assert_eq!(empty.newest(), Some(60_000));
    }

    #[test]
    fn simulated_data_stays_labelled_while_reconnecting() {
        assert_eq!(indicator_parts(FeedStatus::Live, false).2, "Live");
        assert_eq!(indicator_parts(FeedStatus::Live, true).2, "Reconnecting");
        assert_eq!(indicator_parts(FeedStatus::Reconnecting, false).2, "Reconnecting");
        assert_eq!(indicator_parts(FeedStatus::Simulated, false).2, "Simulated data");
        assert!(
            indicator_parts(FeedStatus::Simulated, true)
                .2
                .starts_with("Simulated data")
        );
    }
}
