//! `fake-marketaux`: the fake Marketaux news API as a standalone server, so
//! a developer can point InChart's news at it (`--listen 127.0.0.1:9300
//! --token fake-marketaux-token`, then the client's base URL is
//! `http://127.0.0.1:9300`). It serves the seeded crypto corpus, dated
//! back from the time it starts.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use inchart_fakes::marketaux::{FakeMarketaux, FakeMarketauxConfig, NEWS_PATH};
use tracing_subscriber::EnvFilter;

/// A local fake of the Marketaux news API (`GET /v1/news/all`).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Where to listen; must be on 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1:9300", env = "FAKE_MARKETAUX_LISTEN")]
    listen: SocketAddr,
    /// The only api_token accepted.
    #[arg(long, default_value = "fake-marketaux-token", env = "FAKE_MARKETAUX_TOKEN")]
    token: String,
    /// Articles per page at most (Marketaux's free plan: 3).
    #[arg(long, default_value_t = 3)]
    max_limit: u32,
    /// Requests a day before 402 usage_limit_reached (free plan: 100).
    #[arg(long, default_value_t = 100)]
    daily_allowance: u32,
    /// Requests within 60 seconds before 429 rate_limit_reached.
    #[arg(long, default_value_t = 60)]
    per_minute: u32,
    /// Comma-separated crypto bases the corpus is about (by default InChart's defaults).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "BTC,ETH,BNB,SOL,XRP,DOGE,ADA,TRX,AVAX,LINK"
    )]
    bases: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let config = FakeMarketauxConfig {
        api_token: args.token,
        max_limit: args.max_limit,
        daily_allowance: args.daily_allowance,
        per_minute: args.per_minute,
        bases: args.bases,
        ..FakeMarketauxConfig::default()
    };
    let fake = FakeMarketaux::start_on(config, args.listen).await?;
    tracing::info!(
        base_url = %fake.base_url(),
        endpoint = NEWS_PATH,
        articles = fake.articles().len(),
        "fake marketaux is serving; Ctrl-C stops it"
    );
    tokio::signal::ctrl_c()
        .await
        .context("while waiting for Ctrl-C")?;
    fake.shutdown().await;
    Ok(())
}
