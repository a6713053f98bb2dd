//! `cargo bench -p server --bench accounts`: what accounts cost on this
//! machine, printed as figures (BENCHMARKS.md records them).
//!
//! - **Argon2id**: one hash with the production parameters, in process.
//! - **Requests**, against the real `inchart serve` on PostgreSQL and
//!   Redis, 64 signed-up users: a signed-in `GET /api/v1/me` (access token
//!   checked, revocation looked up in Redis) and the signed-in `/account`
//!   page (rendered on the server from PostgreSQL), next to `/healthz`,
//!   which skips the session layer: the baseline, measured in the same
//!   run. Then refresh-token rotations (a PostgreSQL transaction each) and
//!   logins (an Argon2id verification each, bounded to one per core).
//!
//! Arguments: `--seconds N` per measurement (default 5). Needs PostgreSQL
//! and Redis (`INCHART_TEST_POSTGRES_URL`, `INCHART_TEST_REDIS_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use inchart::auth::password::Passwords;
use inchart::platform::metrics::Histogram;

use support::{BenchDatabase, Server, cookie_value, hammer, ms};

const USERS: usize = 64;
const PASSWORD: &str = "violet heron sails at dusk";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let args: Vec<String> = std::env::args().collect();
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .map_or(5, |n| n.parse().expect("--seconds takes a number"));
    runtime.block_on(async {
        argon2().await;
        requests(Duration::from_secs(seconds)).await;
    });
}

async fn argon2() {
    let passwords = Passwords::new().unwrap();
    let mut times = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        passwords.hash(PASSWORD).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    println!("## Argon2id (m=19 MiB, t=2, p=1), in process");
    println!(
        "one hash: median {:.1} ms, slowest of 10 {:.1} ms\n",
        ms(times[5]),
        ms(times[9])
    );
}

/// A signed-in user: their cookies.
#[derive(Clone)]
struct User {
    email: String,
    access: String,
    refresh: String,
}

const CSRF: &str = "benchmark-csrf-token-benchmark-csrf-token";

async fn requests(seconds: Duration) {
    let database = BenchDatabase::create("inchart_bench_accounts").await;
    let server = Server::start(&[
        ("DATABASE_URL", database.url.clone()),
        ("REDIS_URL", database.redis_url.clone()),
        ("INCHART_CACHE_PREFIX", database.name.clone()),
        ("INCHART_SYMBOLS", "BTCUSDT".to_string()),
        ("INCHART_SIM_HISTORY", "50".to_string()),
        ("INCHART_FEED", "simulated".to_string()),
        (
            "INCHART_JWT_SECRET",
            "a benchmark signing secret, long enough for HS256".to_string(),
        ),
        // Every sign-up and login here comes from 127.0.0.1.
        ("INCHART_LOGIN_IP_LIMIT", "1000000".to_string()),
        ("INCHART_SIGNUP_LIMIT", "1000000".to_string()),
    ]);
    server.wait_until_filled().await;

    let client = reqwest::Client::new();
    let mut users = Vec::new();
    for n in 0..USERS {
        let email = format!("trader{n}@example.com");
        let response = client
            .post(server.url("/signup"))
            .header("origin", server.url(""))
            .header("accept", "application/json")
            .header("cookie", format!("inchart_csrf={CSRF}"))
            .form(&[("csrf", CSRF), ("email", email.as_str()), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "sign-up: {}", response.status());
        users.push(User {
            access: cookie_value(&response, "inchart_access").unwrap(),
            refresh: cookie_value(&response, "inchart_refresh").unwrap(),
            email,
        });
    }
    let rotating = users.clone();
    let users = Arc::new(users);
    let next = Arc::new(AtomicU64::new(0));
    let signed_in = |path: &'static str| {
        let (server_url, users, next) = (server.url(path), users.clone(), next.clone());
        move |client: &reqwest::Client| {
            let user = &users[next.fetch_add(1, Relaxed) as usize % users.len()];
            client
                .get(&server_url)
                .header("cookie", format!("inchart_access={}", user.access))
        }
    };

    println!("## Sessions: {USERS} users, PostgreSQL and Redis");
    println!("| request | connections | requests/s | p50 | p99 | p99 / baseline p99 |");
    println!("|---|---:|---:|---:|---:|---:|");
    let healthz = server.url("/healthz");
    let (rate, p50, baseline) = hammer(64, seconds, move |client| client.get(&healthz)).await;
    row(
        "/healthz (baseline, no session layer)",
        64,
        rate,
        p50,
        baseline,
        baseline,
    );
    let (rate, p50, p99) = hammer(64, seconds, signed_in("/api/v1/me")).await;
    row("GET /api/v1/me, signed in", 64, rate, p50, p99, baseline);
    let (rate, p50, p99) = hammer(16, seconds, signed_in("/account")).await;
    row("GET /account page, signed in", 16, rate, p50, p99, baseline);

    let (rate, p50, p99) = rotations(&server, &rotating, seconds).await;
    row(
        "POST /api/v1/auth/refresh (rotation)",
        USERS,
        rate,
        p50,
        p99,
        baseline,
    );
    let (rate, p50, p99) = logins(&server, &users, seconds).await;
    row("POST /login (Argon2id verify)", 8, rate, p50, p99, baseline);
    println!();

    drop(server);
    database.drop_now().await;
}

fn row(label: &str, connections: usize, rate: f64, p50: Duration, p99: Duration, baseline: Duration) {
    println!(
        "| {label} | {connections} | {rate:.0} | {:.2} ms | {:.2} ms | {:.1}× |",
        ms(p50),
        ms(p99),
        p99.as_secs_f64() / baseline.as_secs_f64()
    );
}

/// Runs one loop per initial state until `duration` has passed (after a
/// one-second warm-up); `step` takes the loop's state and returns the next.
/// Requests per second, p50 and p99 of the steps.
async fn run_loops<S, F, Fut>(states: Vec<S>, duration: Duration, step: F) -> (f64, Duration, Duration)
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = S> + Send,
{
    let latency = Arc::new(Histogram::default());
    let done = Arc::new(AtomicU64::new(0));
    let warm_until = Instant::now() + Duration::from_secs(1);
    let stop_at = warm_until + duration;
    let loops: Vec<_> = states
        .into_iter()
        .map(|mut state| {
            let (step, latency, done) = (step.clone(), latency.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < stop_at {
                    let started = Instant::now();
                    state = step(state).await;
                    if started >= warm_until {
                        latency.record(started.elapsed());
                        done.fetch_add(1, Relaxed);
                    }
                }
            })
        })
        .collect();
    for running in loops {
        running.await.unwrap();
    }
    let rate = done.load(Relaxed) as f64 / duration.as_secs_f64();
    (rate, latency.quantile(0.5), latency.quantile(0.99))
}

/// Each user trades their refresh token back to back, keeping the new one.
async fn rotations(server: &Server, users: &[User], duration: Duration) -> (f64, Duration, Duration) {
    let client = reqwest::Client::new();
    let (url, origin) = (server.url("/api/v1/auth/refresh"), server.url(""));
    let states = users.iter().map(|user| user.refresh.clone()).collect();
    run_loops(states, duration, move |refresh: String| {
        let request = client
            .post(&url)
            .header("origin", &origin)
            .header("x-csrf-token", CSRF)
            .header(
                "cookie",
                format!("inchart_csrf={CSRF}; inchart_refresh={refresh}"),
            );
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "refresh: {}", response.status());
            cookie_value(&response, "inchart_refresh").unwrap()
        }
    })
    .await
}

/// Eight browsers log in over and over, as the users in turn.
async fn logins(server: &Server, users: &[User], duration: Duration) -> (f64, Duration, Duration) {
    let client = reqwest::Client::new();
    let (url, origin) = (server.url("/login"), server.url(""));
    let emails: Arc<Vec<String>> = Arc::new(users.iter().map(|user| user.email.clone()).collect());
    run_loops((0..8).collect(), duration, move |turn: usize| {
        let email = emails[turn % emails.len()].clone();
        let request = client
            .post(&url)
            .header("origin", &origin)
            .header("accept", "application/json")
            .header("cookie", format!("inchart_csrf={CSRF}"))
            .form(&[("csrf", CSRF), ("email", email.as_str()), ("password", PASSWORD)]);
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "login: {}", response.status());
            turn + 8
        }
    })
    .await
}
