//! `fake-stripe`: the fake Stripe as a standalone server, so a developer
//! can point InChart at it and click through Checkout and the customer
//! portal (`--listen 127.0.0.1:12111 --webhook-url
//! http://127.0.0.1:3000/webhooks/stripe`). It delivers every event to the
//! webhook URL as it happens.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use inchart_fakes::stripe::{FakeStripe, FakeStripeConfig};
use tracing_subscriber::EnvFilter;

/// A local fake of Stripe Billing (Checkout, the customer portal,
/// subscriptions, invoices, signed webhooks).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Where to listen; must be on 127.0.0.1.
    #[arg(long, default_value = "127.0.0.1:12111", env = "FAKE_STRIPE_LISTEN")]
    listen: SocketAddr,
    /// Where events are POSTed (InChart's webhook endpoint).
    #[arg(long, env = "FAKE_STRIPE_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// The webhook signing secret InChart checks signatures with.
    #[arg(long, default_value = "whsec_inchart", env = "FAKE_STRIPE_WEBHOOK_SECRET")]
    webhook_secret: String,
    /// The only API key accepted.
    #[arg(long, default_value = "sk_test_inchart", env = "FAKE_STRIPE_SECRET_KEY")]
    secret_key: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let config = FakeStripeConfig {
        secret_key: args.secret_key,
        webhook_secret: args.webhook_secret,
        webhook_url: args.webhook_url.clone(),
        auto_deliver: true,
        ..FakeStripeConfig::default()
    };
    let fake = FakeStripe::start_on(config, args.listen).await?;
    if args.webhook_url.is_none() {
        tracing::warn!("no --webhook-url: events are recorded but not delivered");
    }
    tracing::info!(
        url = %fake.url(),
        webhook_url = args.webhook_url.as_deref().unwrap_or("none"),
        prices = "price_pro_monthly, price_pro_yearly",
        "fake stripe is serving; Ctrl-C stops it"
    );
    tokio::signal::ctrl_c()
        .await
        .context("while waiting for Ctrl-C")?;
    fake.shutdown().await;
    Ok(())
}
