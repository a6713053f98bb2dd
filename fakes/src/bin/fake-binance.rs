//! `fake-binance`: the fake Binance as a standalone server, so a developer
//! can point InChart at it (`--listen 127.0.0.1:9100 --tick-ms 1000
//! --symbols BTCUSDT,ETHUSDT`).

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
    /// Hours of REST history.
    #[arg(long, default_value_t = 48)]
    history_hours: u64,
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
    let config = FakeBinanceConfig {
        symbols,
        history: Duration::from_secs(args.history_hours * 3600),
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
