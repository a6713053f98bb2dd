//! `spawn_app`: starts InChart exactly as `inchart serve` does, on port 0,
//! with a database and cache keys of its own.
//!
//! PostgreSQL gets a fresh, UUID-named database per test (created from
//! `INCHART_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`);
//! SQLite a fresh file; Redis (`INCHART_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`) a fresh key prefix.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

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
    /// The app's own database (empty when the app is another process's).
    pub database_url: String,
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
    let app = start_app_with(db, cache, extra).await;
    app.wait_until_filled().await;
    app
}

/// Like [`spawn_app_with`], without waiting for the app to fill its market
/// data: a further instance of a deployment, which another one fills.
pub async fn start_app_with(db: Db, cache: CacheKind, extra: &[(&str, &str)]) -> TestApp {
    // `RUST_LOG=inchart=debug cargo test … -- --nocapture` shows the apps' logs.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let database_url = fresh_database(db).await;
    let own_database = database_url.clone();
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
        // Script workers start on a test's first run, not with every app.
        ("INCHART_SCRIPT_WARM".into(), "false".into()),
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
    TestApp {
        address,
        client: reqwest::Client::new(),
        database_url: own_database,
    }
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

/// The `inchart` binary, built for these tests.
pub const INCHART: &str = env!("CARGO_BIN_EXE_inchart");

/// `inchart` with a clean environment: SQLite or PostgreSQL at
/// `database_url`, the simulated feed, one symbol, any free port.
pub fn inchart(database_url: &str) -> Command {
    let mut command = Command::new(INCHART);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("INCHART_LISTEN", "127.0.0.1:0")
        .env("INCHART_SYMBOLS", "BTCUSDT")
        .env("INCHART_SIM_HISTORY", "50")
        .env("INCHART_FEED", "simulated")
        .env("LEPTOS_SITE_ROOT", site_root())
        .env("NO_COLOR", "1");
    command
}

/// A running `inchart serve` process; killed when dropped. Its output is
/// read as it comes, so that a full pipe never stalls it.
pub struct Served {
    pub child: Child,
    pub port: u16,
    logs: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    pub fn app(&self) -> TestApp {
        TestApp {
            address: format!("http://127.0.0.1:{}", self.port),
            client: reqwest::Client::new(),
            database_url: String::new(),
        }
    }

    /// Every log line after the "ready" one, once the process has ended.
    pub fn logs_after_exit(&mut self) -> Vec<String> {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command serve` and waits for its "ready" line, which names the
/// port.
pub fn serve(mut command: Command) -> Served {
    let mut child = command
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("inchart serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let port: u16 = loop {
        let line = lines
            .next()
            .expect("a ready line before the output ends")
            .unwrap();
        if let Some(rest) = line.split("port=").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = logs.clone();
    let reader = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Served {
        child,
        port,
        logs,
        reader: Some(reader),
    }
}
