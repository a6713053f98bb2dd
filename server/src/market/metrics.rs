//! What an operator watches of the market feed: Binance's stream and REST
//! traffic, the messages refused, whether this instance ingests, and the
//! deep history it fetches.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

use super::binance::wire::Rejection;
use crate::platform::metrics::{Collect, Exposition};

#[derive(Default)]
pub struct FeedMetrics {
    pub binance_messages: AtomicU64,
    rejected: [AtomicU64; Rejection::ALL.len()],
    rejected_logged: [AtomicBool; Rejection::ALL.len()],
    pub binance_reconnects: AtomicU64,
    pub binance_rest_requests: AtomicU64,
    pub binance_rate_limited: AtomicU64,
    /// 1 while this instance holds the ingestion lease.
    pub ingest_leader: AtomicI64,
    /// Older candles stored by this instance's deep-history fetches.
    pub history_candles: AtomicU64,
    /// Deep-history fetches this instance runs now (it holds their series'
    /// lease; instances that wait for another's fetch are not counted).
    pub history_fetches: AtomicI64,
}

impl FeedMetrics {
    /// Counts a refused exchange message; the first of each kind is logged
    /// with its text, later ones only counted.
    pub fn binance_rejected(&self, rejection: Rejection) {
        self.binance_rejected_with(rejection, "");
    }

    pub fn binance_rejected_with(&self, rejection: Rejection, text: &str) {
        let index = rejection as usize;
        self.rejected[index].fetch_add(1, Relaxed);
        if !self.rejected_logged[index].swap(true, Relaxed) {
            let sample: String = text.chars().take(300).collect();
            tracing::warn!(
                kind = rejection.as_str(),
                sample,
                "skipped a Binance message that cannot be right; later ones of this kind are only counted \
                 (inchart_binance_rejected_total)"
            );
        }
    }

    pub fn rejected(&self, rejection: Rejection) -> u64 {
        self.rejected[rejection as usize].load(Relaxed)
    }

    pub fn binance_rest_request(&self) {
        self.binance_rest_requests.fetch_add(1, Relaxed);
    }

    pub fn binance_rate_limited(&self) {
        self.binance_rate_limited.fetch_add(1, Relaxed);
    }

    /// Whether this instance ingests now.
    pub fn ingesting(&self) -> bool {
        self.ingest_leader.load(Relaxed) == 1
    }
}

impl Collect for FeedMetrics {
    fn collect(&self, out: &mut Exposition) {
        out.counter(
            "inchart_binance_messages_total",
            "Stream frames received from Binance.",
            self.binance_messages.load(Relaxed),
        );
        out.counter(
            "inchart_binance_reconnects_total",
            "Binance stream reconnections.",
            self.binance_reconnects.load(Relaxed),
        );
        out.counter(
            "inchart_binance_rest_requests_total",
            "REST requests sent to Binance.",
            self.binance_rest_requests.load(Relaxed),
        );
        out.counter(
            "inchart_binance_rate_limited_total",
            "Binance answers asking us to back off (429/418).",
            self.binance_rate_limited.load(Relaxed),
        );
        out.labelled_counter(
            "inchart_binance_rejected_total",
            "Binance messages skipped, by kind.",
            "kind",
            Rejection::ALL.map(|rejection| (rejection.as_str(), self.rejected(rejection))),
        );
        out.gauge(
            "inchart_ingest_leader",
            "1 while this instance ingests.",
            self.ingest_leader.load(Relaxed),
        );
        out.counter(
            "inchart_history_candles_fetched_total",
            "Older candles this instance fetched and stored for deep history.",
            self.history_candles.load(Relaxed),
        );
        out.gauge(
            "inchart_history_fetches",
            "Deep-history fetches this instance runs now.",
            self.history_fetches.load(Relaxed),
        );
    }
}
