//! The `inchart` binary as an operator runs it: `migrate`, a bad setting,
//! and `serve` stopping cleanly on SIGTERM.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{Db, fresh_database, inchart, serve};

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
    let mut served = serve(inchart(&url));
    let (child, port) = (&mut served.child, served.port);
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
    let rest = served.logs_after_exit();
    assert!(
        rest.iter().any(|line| line.contains("SIGTERM received")),
        "{rest:?}"
    );
}
