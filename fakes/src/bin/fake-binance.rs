//! `fake-binance`: the fake Binance as a standalone server, so a developer
//! can point InChart at it (`--listen 127.0.0.1:9100 --tick-ms 1000
//! --symbols BTCUSDT,ETHUSDT --listed-days 1000`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use inchart_api::market::Symbol;
use inchart_fakes::binance::{FakeBinance, FakeBinanceConfig};
use tracing_subscriber::EnvFilter;

/// A local fake of Binance's spot market data (REST and kline streams).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Where to listen; must be on 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1:9100", env = "FAKE_BINANCE_LISTEN")]
    listen: SocketAddr,
    /// Milliseconds between market ticks (each pushes one event per series).
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
    /// Comma-separated symbols to serve (by default InChart's defaults).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,DOGEUSDT,ADAUSDT,TRXUSDT,AVAXUSDT,LINKUSDT"
    )]
    symbols: Vec<String>,
    /// Hours of REST history kept as a walk (and streamed).
    #[arg(long, default_value_t = 48)]
    history_hours: u64,
    /// Days since the symbols were listed: REST serves deep history back
    /// to then (0: only the walk's hours).
    #[arg(long, default_value_t = 0)]
    listed_days: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let symbols = args
        .symbols
        .iter()
        .map(|raw| Symbol::parse(raw).with_context(|| format!("while reading --symbols: {raw:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("while reading the system clock")?
        .as_millis();
    let listed_days_ms = u128::from(args.listed_days) * 86_400_000;
    let listed_at = (args.listed_days > 0)
        .then(|| i64::try_from(now_ms.saturating_sub(listed_days_ms)))
        .transpose()
        .context("--listed-days is too far back")?;
    let config = FakeBinanceConfig {
        symbols,
        history: Duration::from_secs(args.history_hours * 3600),
        listed_at,
        ..FakeBinanceConfig::default()
    };
    let fake = FakeBinance::start_on(config, args.listen).await?;
    let _ticker = fake.spawn_ticker(Duration::from_millis(args.tick_ms.max(1)));
    tracing::info!(rest = %fake.rest_url(), ws = %fake.ws_url(), "fake binance is serving; Ctrl-C stops it");
    tokio::signal::ctrl_c()
        .await
        .context("while waiting for Ctrl-C")?;
    fake.shutdown().await;
    Ok(())
}
