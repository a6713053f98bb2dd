//! The `inchart` binary as an operator runs it: `migrate`, a bad setting,
//! and `serve` stopping cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Db, fresh_database, site_root};

const INCHART: &str = env!("CARGO_BIN_EXE_inchart");

fn inchart(database_url: &str) -> Command {
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

#[tokio::test]
async fn migrate_applies_lists_and_reverts_the_schema() {
    let url = fresh_database(Db::Sqlite).await;
    let run = |args: &[&str]| {
        let output = inchart(&url).args(args).output().expect("inchart runs");
        let logs =
            String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), logs)
    };

    let (ok, logs) = run(&["migrate"]);
    assert!(ok, "{logs}");
    let (ok, logs) = run(&["migrate", "status"]);
    assert!(
        ok && logs.contains("m20261124_000001_create_candles") && logs.contains("applied"),
        "{logs}"
    );
    let (ok, logs) = run(&["migrate", "down"]);
    assert!(ok, "{logs}");
    let (ok, logs) = run(&["migrate", "status"]);
    assert!(ok && logs.contains("pending"), "{logs}");
}

#[tokio::test]
async fn a_bad_setting_stops_the_start_with_a_message() {
    let output = inchart("sqlite://unused.db")
        .env("INCHART_SIM_HISTORY", "plenty")
        .output()
        .expect("inchart runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("INCHART_SIM_HISTORY must be a whole number"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() {
    let url = fresh_database(Db::Sqlite).await;
    let mut child = inchart(&url)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("inchart serve starts");

    // The port is in the "ready" log line.
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
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|line| line.contains("SIGTERM received")),
        "{rest:?}"
    );
}
