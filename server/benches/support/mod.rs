//! What the benchmarks share: the real `inchart serve` process, a load
//! generator and units. Not every benchmark uses every helper.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use inchart::platform::metrics::Histogram;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

pub const INCHART: &str = env!("CARGO_BIN_EXE_inchart");

/// A running `inchart serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(env: &[(&str, String)]) -> Self {
        let mut command = Command::new(INCHART);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("INCHART_LISTEN", "127.0.0.1:0")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn,inchart=info")
            .env("LEPTOS_SITE_ROOT", std::env::temp_dir());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines.next().expect("inchart printed its port").unwrap();
            if let Some(rest) = line.split("port=").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        // Keep reading so that a full pipe never stalls the server.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Self { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn wait_until_filled(&self) {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok(response) = reqwest::get(self.url("/readyz")).await
                && let Ok(ready) = response.json::<serde_json::Value>().await
                && ready["market"]["filled"] == true
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server never filled its market data"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in bytes (Linux).
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        kib * 1024
    }

    /// The server's `/metrics` page.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The fine bucket counts of the server's fan-out histogram.
    pub async fn fanout_buckets(&self) -> Vec<u64> {
        let text = self.metrics_text().await;
        let cumulative: Vec<u64> = text
            .lines()
            .filter(|line| {
                line.starts_with("inchart_ws_fanout_seconds_bucket{le=\"") && !line.contains("+Inf")
            })
            .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        let mut counts: Vec<u64> = cumulative.windows(2).map(|pair| pair[1] - pair[0]).collect();
        counts.insert(0, cumulative.first().copied().unwrap_or(0));
        counts
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics_text().await;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `connections` keep-alive connections, each sending requests back to back
/// for `duration` after a one-second warm-up: requests/s, p50, p99.
pub async fn hammer(
    connections: usize,
    duration: Duration,
    request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Clone + Send + 'static,
) -> (f64, Duration, Duration) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let latency = Arc::new(Histogram::default());
    let done = Arc::new(AtomicU64::new(0));
    let warm_until = Instant::now() + Duration::from_secs(1);
    let stop_at = warm_until + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (client, request, latency, done) =
                (client.clone(), request.clone(), latency.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < stop_at {
                    let started = Instant::now();
                    let response = request(&client).send().await.unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                    let _ = response.bytes().await.unwrap();
                    if started >= warm_until {
                        latency.record(started.elapsed());
                        done.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let rate = done.load(Relaxed) as f64 / duration.as_secs_f64();
    (rate, latency.quantile(0.5), latency.quantile(0.99))
}

/// A PostgreSQL database of the benchmark's own (from
/// `INCHART_TEST_POSTGRES_URL`, as the tests), and the Redis the tests use
/// (`INCHART_TEST_REDIS_URL`); the database is dropped by [`Self::drop_now`].
pub struct BenchDatabase {
    admin: DatabaseConnection,
    pub name: String,
    pub url: String,
    pub redis_url: String,
}

impl BenchDatabase {
    pub async fn create(name: &str) -> Self {
        let admin_url = std::env::var("INCHART_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let redis_url =
            std::env::var("INCHART_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let name = format!("{name}_{}", std::process::id());
        let admin = Database::connect(&admin_url)
            .await
            .expect("PostgreSQL is reachable");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
        Self {
            admin,
            name,
            url,
            redis_url,
        }
    }

    /// Drops the database (the server using it must be stopped first).
    pub async fn drop_now(self) {
        self.admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name))
            .await
            .ok();
    }
}

/// The value of cookie `name` that `response` sets.
pub fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|header| {
            let text = header.to_str().ok()?;
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_string())
        })
}
