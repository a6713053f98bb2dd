//! The application's state: what request handlers may ask for. Each field
//! is a sub-state (`FromRef`), so a handler names only what it uses
//! (`State<Scripts>`, `State<Plans>`), never the whole.

use std::sync::Arc;

use app::seo::SiteUrl;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use secrecy::SecretString;
use tokio::sync::watch;

use crate::alerts::Alerts;
use crate::auth::Auth;
use crate::backtests::Backtests;
use crate::billing::Billing;
use crate::charts::Charts;
use crate::market::{Market, Symbols};
use crate::news::News;
use crate::plans::Plans;
use crate::platform::metrics::Registry;
use crate::scripts::Scripts;
use crate::stream::Hub;
use crate::watchlist::Watchlists;
use crate::web::Cookies;

/// Everything a request handler may need. axum clones it for every
/// request, so every field is a handle to shared parts (an `Arc` inside),
/// never owned strings or settings: copying them once cost `/healthz` a
/// third more CPU (see BENCHMARKS.md).
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The public URL, without a trailing slash.
    pub site: Arc<SiteUrl>,
    pub market: Market,
    pub symbols: Symbols,
    /// This instance's chart connections.
    pub hub: Arc<Hub>,
    /// Accounts and sessions.
    pub auth: Auth,
    pub cookies: Cookies,
    /// Plans, Stripe and the webhook.
    pub billing: Billing,
    /// The gate for plan limits.
    pub plans: Plans,
    /// Signal scripts and their workers.
    pub scripts: Scripts,
    /// Strategy backtests of the scripts.
    pub backtests: Backtests,
    /// Alerts and their deliveries.
    pub alerts: Alerts,
    /// Quick Look news.
    pub news: News,
    pub watchlists: Watchlists,
    /// Drawings and layouts.
    pub charts: Charts,
    pub ops: Arc<Ops>,
}

/// What the operator endpoints read.
pub struct Ops {
    pub metrics: Registry,
    /// What `/metrics` asks for, when set.
    pub metrics_token: Option<SecretString>,
    /// Whether this instance has filled the store (while it ingests).
    pub filled: watch::Receiver<bool>,
}
