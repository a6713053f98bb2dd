//! `spawn_app`: starts InChart exactly as `inchart serve` does, on port 0,
//! with a database and cache keys of its own.
//!
//! PostgreSQL gets a fresh, UUID-named database per test (created from
//! `INCHART_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`);
//! SQLite a fresh file; Redis (`INCHART_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`) a fresh key prefix.

use std::path::PathBuf;

use inchart::config::Settings;
use inchart::startup::Application;
use sea_orm::{ConnectionTrait, Database};

/// Symbols every test app carries.
pub const SYMBOLS: &str = "BTCUSDT,ETHUSDT";
/// Candles of history per series in a test app.
pub const HISTORY: usize = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    Memory,
    Redis,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the app answers")
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("INCHART_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("INCHART_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The site cargo-leptos built; only the browser test needs it.
pub fn site_root() -> PathBuf {
    std::env::var("LEPTOS_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/site"))
}

/// A new, empty database of the given kind; returns its URL.
pub async fn fresh_database(db: Db) -> String {
    let name = format!("inchart_test_{}", uuid::Uuid::new_v4().simple());
    match db {
        Db::Postgres => {
            let admin_url = postgres_admin_url();
            let admin = Database::connect(&admin_url)
                .await
                .expect("PostgreSQL is reachable for tests");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("a test database can be created");
            admin.close().await.ok();
            let (base, _) = admin_url
                .rsplit_once('/')
                .expect("the admin URL names a database");
            format!("{base}/{name}")
        }
        Db::Sqlite => {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            format!("sqlite://{}?mode=rwc", path.display())
        }
    }
}

pub async fn spawn_app(db: Db, cache: CacheKind) -> TestApp {
    spawn_app_with(db, cache, &[]).await
}

/// Like [`spawn_app`], with extra environment settings.
pub async fn spawn_app_with(db: Db, cache: CacheKind, extra: &[(&str, &str)]) -> TestApp {
    // `RUST_LOG=inchart=debug cargo test … -- --nocapture` shows the apps' logs.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let database_url = fresh_database(db).await;
    let prefix = format!("inchart-test-{}", uuid::Uuid::new_v4().simple());
    let site_root = site_root().display().to_string();
    let redis = redis_url();
    let mut env: Vec<(String, String)> = vec![
        ("INCHART_LISTEN".into(), "127.0.0.1:0".into()),
        ("DATABASE_URL".into(), database_url),
        ("INCHART_CACHE_PREFIX".into(), prefix),
        ("INCHART_SYMBOLS".into(), SYMBOLS.into()),
        ("INCHART_SIM_HISTORY".into(), HISTORY.to_string()),
        ("LEPTOS_SITE_ROOT".into(), site_root),
        // Tests that want Binance pass the fake's URLs and another feed.
        ("INCHART_FEED".into(), "simulated".into()),
    ];
    if cache == CacheKind::Redis {
        env.push(("REDIS_URL".into(), redis));
    }
    for (key, value) in extra {
        env.retain(|(existing, _)| existing != key);
        env.push((key.to_string(), value.to_string()));
    }
    let settings = Settings::from_lookup(|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("test settings are valid");
    let app = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let app = TestApp {
        address,
        client: reqwest::Client::new(),
    };
    app.wait_until_filled().await;
    app
}

impl TestApp {
    /// Waits until the app has filled its market data (it ingests alone).
    pub async fn wait_until_filled(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let ready: serde_json::Value = self.get("/readyz").await.json().await.expect("readyz is JSON");
            if ready["market"]["filled"] == true {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the app did not fill its market data: {ready}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
