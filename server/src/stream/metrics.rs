//! What an operator watches of the chart connections: how many, what they
//! were sent, who was dropped or refused, and how long an exchange update
//! takes to reach the last of them.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::platform::metrics::{Collect, Exposition, Histogram};

#[derive(Default)]
pub struct StreamMetrics {
    pub ws_clients: AtomicI64,
    /// Chart clients whose page is signed in.
    pub ws_clients_signed_in: AtomicI64,
    pub ws_subscriptions: AtomicI64,
    pub ws_frames_sent: AtomicU64,
    /// Updates replaced by a newer one of the same series before a slow
    /// client could take them.
    pub ws_coalesced: AtomicU64,
    /// Clients dropped because a write stalled.
    pub ws_slow_dropped: AtomicU64,
    /// Client frames answered with an error frame.
    pub ws_bad_frames: AtomicU64,
    /// Connections refused because the server holds its maximum.
    pub ws_refused: AtomicU64,
    /// From the exchange frame arriving to the last client's socket write.
    pub ws_fanout: Histogram,
}

impl Collect for StreamMetrics {
    fn collect(&self, out: &mut Exposition) {
        out.counter(
            "inchart_ws_frames_sent_total",
            "Frames written to chart clients.",
            self.ws_frames_sent.load(Relaxed),
        );
        out.counter(
            "inchart_ws_coalesced_total",
            "Updates superseded before a slow client took them.",
            self.ws_coalesced.load(Relaxed),
        );
        out.counter(
            "inchart_ws_slow_dropped_total",
            "Clients dropped for stalled writes.",
            self.ws_slow_dropped.load(Relaxed),
        );
        out.counter(
            "inchart_ws_bad_frames_total",
            "Client frames answered with an error.",
            self.ws_bad_frames.load(Relaxed),
        );
        out.counter(
            "inchart_ws_refused_total",
            "Connections refused at the client limit.",
            self.ws_refused.load(Relaxed),
        );
        out.gauge(
            "inchart_ws_clients",
            "Chart clients connected.",
            self.ws_clients.load(Relaxed),
        );
        out.gauge(
            "inchart_ws_clients_signed_in",
            "Chart clients whose page is signed in.",
            self.ws_clients_signed_in.load(Relaxed),
        );
        out.gauge(
            "inchart_ws_subscriptions",
            "Series followed, over all clients.",
            self.ws_subscriptions.load(Relaxed),
        );
        out.histogram(
            "inchart_ws_fanout_seconds",
            "From an exchange frame arriving to the last client socket write of it.",
            &self.ws_fanout,
        );
    }
}
