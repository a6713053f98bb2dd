//! The metrics registry: every part that an operator watches registers a
//! [`Collect`] once at start-up, and `GET /metrics` renders them all in
//! Prometheus's text format through one [`Exposition`] writer, so the
//! format is written in one place.
//!
//! The values themselves are plain atomics kept by their owners (a
//! counter is one relaxed add on the hot path, a [`Histogram`] sample one
//! add per field); nothing is locked to record. One registry per running
//! application (tests run several in one process).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Something whose metrics `/metrics` shows.
pub trait Collect: Send + Sync {
    fn collect(&self, out: &mut Exposition);
}

/// Every [`Collect`] of an application.
#[derive(Clone, Default)]
pub struct Registry {
    parts: Arc<RwLock<Vec<Arc<dyn Collect>>>>,
}

impl Registry {
    pub fn register(&self, part: Arc<dyn Collect>) {
        self.parts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(part);
    }

    /// The Prometheus text exposition of every registered part.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        for part in self
            .parts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            part.collect(&mut out);
        }
        out.text
    }
}

/// Prometheus's text format (version 0.0.4), written once.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.header(name, help, "counter");
        let _ = writeln!(self.text, "{name} {value}");
    }

    pub fn gauge(&mut self, name: &str, help: &str, value: i64) {
        self.header(name, help, "gauge");
        let _ = writeln!(self.text, "{name} {value}");
    }

    /// A counter with one label: one line per `(label value, count)`.
    pub fn labelled_counter<'a>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        values: impl IntoIterator<Item = (&'a str, u64)>,
    ) {
        self.header(name, help, "counter");
        for (value, count) in values {
            let _ = writeln!(self.text, "{name}{{{label}=\"{value}\"}} {count}");
        }
    }

    /// A histogram with eight buckets a doubling (each about 9% wide) from
    /// 16 µs to about 17 s, fine enough that quantiles of the difference of
    /// two scrapes are exact to a bucket.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) {
        self.header(name, help, "histogram");
        let counts = histogram.counts();
        let per_doubling = BUCKETS_PER_DOUBLING as usize;
        let mut cumulative = 0;
        for (index, count) in counts.iter().enumerate() {
            cumulative += count;
            let upper = index + 1;
            if (4 * per_doubling..=24 * per_doubling).contains(&upper) {
                let le = Histogram::upper_edge(index).as_secs_f64();
                let _ = writeln!(self.text, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
            }
        }
        let _ = writeln!(
            self.text,
            "{name}_bucket{{le=\"+Inf\"}} {}",
            counts.iter().sum::<u64>()
        );
        let _ = writeln!(
            self.text,
            "{name}_sum {}",
            histogram.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(self.text, "{name}_count {}", histogram.count());
    }
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

#[cfg(test)]
mod exposition_tests {
    use super::*;

    struct Two;

    impl Collect for Two {
        fn collect(&self, out: &mut Exposition) {
            out.counter("a_total", "As.", 3);
            out.gauge("b", "Bs.", -1);
            out.labelled_counter("c_total", "Cs.", "kind", [("x", 1), ("y", 2)]);
        }
    }

    #[test]
    fn parts_render_in_prometheus_text() {
        let registry = Registry::default();
        registry.register(Arc::new(Two));
        let histogram = Histogram::default();
        histogram.record(Duration::from_millis(2));
        let mut out = Exposition::default();
        out.histogram("d_seconds", "Ds.", &histogram);
        let text = registry.render() + &out.text;
        assert!(
            text.starts_with("# HELP a_total As.\n# TYPE a_total counter\na_total 3\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE b gauge\nb -1\n"), "{text}");
        assert!(
            text.contains("c_total{kind=\"x\"} 1\nc_total{kind=\"y\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("d_seconds_bucket{le=\"+Inf\"} 1\nd_seconds_sum 0.002\nd_seconds_count 1\n"),
            "{text}"
        );
    }
}
