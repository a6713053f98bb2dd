//! Counters an operator watches, served at `GET /metrics` in Prometheus's
//! text format. One [`Metrics`] per running application (tests run several
//! in one process), shared by `Arc`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::auth::session::device_of;
use crate::error::ApiError;
use crate::market::binance::wire::Rejection;
use crate::startup::AppState;

#[derive(Default)]
pub struct Metrics {
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
    pub binance_messages: AtomicU64,
    rejected: [AtomicU64; Rejection::ALL.len()],
    rejected_logged: [AtomicBool; Rejection::ALL.len()],
    pub binance_reconnects: AtomicU64,
    pub binance_rest_requests: AtomicU64,
    pub binance_rate_limited: AtomicU64,
    /// 1 while this instance holds the ingestion lease.
    pub ingest_leader: AtomicI64,
}

impl Metrics {
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

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            "inchart_ws_frames_sent_total",
            "Frames written to chart clients.",
            self.ws_frames_sent.load(Relaxed),
        );
        counter(
            "inchart_ws_coalesced_total",
            "Updates superseded before a slow client took them.",
            self.ws_coalesced.load(Relaxed),
        );
        counter(
            "inchart_ws_slow_dropped_total",
            "Clients dropped for stalled writes.",
            self.ws_slow_dropped.load(Relaxed),
        );
        counter(
            "inchart_ws_bad_frames_total",
            "Client frames answered with an error.",
            self.ws_bad_frames.load(Relaxed),
        );
        counter(
            "inchart_ws_refused_total",
            "Connections refused at the client limit.",
            self.ws_refused.load(Relaxed),
        );
        counter(
            "inchart_binance_messages_total",
            "Stream frames received from Binance.",
            self.binance_messages.load(Relaxed),
        );
        counter(
            "inchart_binance_reconnects_total",
            "Binance stream reconnections.",
            self.binance_reconnects.load(Relaxed),
        );
        counter(
            "inchart_binance_rest_requests_total",
            "REST requests sent to Binance.",
            self.binance_rest_requests.load(Relaxed),
        );
        counter(
            "inchart_binance_rate_limited_total",
            "Binance answers asking us to back off (429/418).",
            self.binance_rate_limited.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP inchart_binance_rejected_total Binance messages skipped, by kind.\n\
             # TYPE inchart_binance_rejected_total counter"
        );
        for rejection in Rejection::ALL {
            let _ = writeln!(
                out,
                "inchart_binance_rejected_total{{kind=\"{}\"}} {}",
                rejection.as_str(),
                self.rejected(rejection)
            );
        }
        let mut gauge = |name: &str, help: &str, value: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        gauge(
            "inchart_ws_clients",
            "Chart clients connected.",
            self.ws_clients.load(Relaxed),
        );
        gauge(
            "inchart_ws_clients_signed_in",
            "Chart clients whose page is signed in.",
            self.ws_clients_signed_in.load(Relaxed),
        );
        gauge(
            "inchart_ws_subscriptions",
            "Series followed, over all clients.",
            self.ws_subscriptions.load(Relaxed),
        );
        gauge(
            "inchart_ingest_leader",
            "1 while this instance ingests.",
            self.ingest_leader.load(Relaxed),
        );
        self.ws_fanout.render(
            &mut out,
            "inchart_ws_fanout_seconds",
            "From an exchange frame arriving to the last client socket write of it.",
        );
        out
    }
}

/// `GET /metrics`. With `INCHART_METRICS_TOKEN` set, for requests that
/// carry it as a bearer token; without, for requests from this machine
/// only (behind a trusted proxy, the proxied client's address counts).
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let allowed = match &state.metrics_token {
        Some(token) => request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|presented| {
                let expected = token.expose_secret().as_bytes();
                presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected))
            }),
        None => {
            let device = device_of(&request, state.auth.settings.trust_proxy);
            device.ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    };
    if !allowed {
        return ApiError::forbidden(
            "authorization",
            "Metrics are for this machine, or for requests with INCHART_METRICS_TOKEN as a bearer token.",
        )
        .into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render() + &state.scripts.engine.stats().render() + &state.news.render(),
    )
        .into_response()
}

/// Durations in log-spaced buckets (about 9% wide, 1 µs to 100 s): quantiles
/// within a bucket's width, recorded with one atomic add.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

const BUCKETS_PER_DOUBLING: f64 = 8.0;
const BUCKET_COUNT: usize = 220;

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKET_COUNT).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.record_micros(micros);
    }

    pub fn record_micros(&self, micros: u64) {
        let index = ((micros.max(1) as f64).log2() * BUCKETS_PER_DOUBLING) as usize;
        self.buckets[index.min(BUCKET_COUNT - 1)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(micros, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// The upper edge of the bucket holding quantile `q` (0..=1).
    pub fn quantile(&self, q: f64) -> Duration {
        Self::quantile_of(&self.counts(), q)
    }

    /// A Prometheus histogram with eight buckets a doubling (each about 9%
    /// wide) from 16 µs to about 17 s, fine enough that quantiles of the
    /// difference of two scrapes are exact to a bucket.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let counts = self.counts();
        let per_doubling = BUCKETS_PER_DOUBLING as usize;
        let mut cumulative = 0;
        for (index, count) in counts.iter().enumerate() {
            cumulative += count;
            let upper = index + 1;
            if (4 * per_doubling..=24 * per_doubling).contains(&upper) {
                let le = Self::upper_edge(index).as_secs_f64();
                let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
            }
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", counts.iter().sum::<u64>());
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {}", self.count());
    }

    fn upper_edge(index: usize) -> Duration {
        Duration::from_micros(2f64.powf((index + 1) as f64 / BUCKETS_PER_DOUBLING) as u64)
    }

    /// The raw bucket counts, for differences between two moments.
    pub fn counts(&self) -> Vec<u64> {
        self.buckets.iter().map(|bucket| bucket.load(Relaxed)).collect()
    }

    /// Quantile `q` of counts taken from [`Histogram::counts`] (or of the
    /// difference of two such takes).
    pub fn quantile_of(counts: &[u64], q: f64) -> Duration {
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::upper_edge(index);
            }
        }
        Duration::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_within_a_bucket() {
        let histogram = Histogram::default();
        for micros in 1..=1000 {
            histogram.record_micros(micros);
        }
        let p50 = histogram.quantile(0.5).as_micros() as f64;
        let p99 = histogram.quantile(0.99).as_micros() as f64;
        assert!((500.0..=560.0).contains(&p50), "{p50}");
        assert!((990.0..=1090.0).contains(&p99), "{p99}");
        assert_eq!(histogram.count(), 1000);
    }
}
