//! Building and running the application. [`Application::build`] does
//! everything `inchart serve` does before it accepts connections (connect,
//! migrate, bind), and returns the bound port, so tests start the real
//! thing on port 0. Market data fills in the background once it runs.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use anyhow::Context;
use app::account::AccountService;
use app::market::MarketDirectory;
use app::markets::MarketService;
use app::news::NewsService;
use app::seo::SiteUrl;
use app::{App, content_security_policy, shell};
use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use futures::FutureExt;
use futures::future::BoxFuture;
use inchart_api::market::{MarketOverview, Symbol};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Auth;
use crate::auth::pages::AccountReader;
use crate::billing::Billing;
use crate::billing::pages::BillingReader;
use crate::billing::store::BillingStore;
use crate::cache::Cache;
use crate::config::Settings;
use crate::market::api::LatestReads;
use crate::market::binance::rest::RestClient;
use crate::market::ingest::{IngestSettings, Ingestor};
use crate::market::lease::Lease;
use crate::market::live::LiveMarket;
use crate::market::simulated::SimulatedFeed;
use crate::market::store::CandleStore;
use crate::market::summary::MarketReader;
use crate::market::ws::Hub;
use crate::metrics::Metrics;
use crate::news::News;
use crate::scripts::Scripts;
use crate::scripts::live::SignalBus;
use crate::scripts::pages::ScriptReader;
use crate::scripts::store::ScriptStore;
use crate::{auth, billing, db, health, market, metrics, scripts, site};
use app::scripts::ScriptService;

/// Everything a request handler may need, cloned cheaply per request.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub candles: CandleStore,
    pub cache: Cache,
    /// The symbols on offer.
    pub symbols: Arc<[Symbol]>,
    /// The recent window of each series, its changes and the feed status.
    pub live: LiveMarket,
    /// This instance's chart connections.
    pub hub: Arc<Hub>,
    pub binance: RestClient,
    pub metrics: Arc<Metrics>,
    /// Encoded answers to the newest-candles reads, while current.
    pub latest_reads: Arc<LatestReads>,
    /// Whether this instance has filled the store (while it ingests).
    pub filled: watch::Receiver<bool>,
    /// Accounts and sessions.
    pub auth: Auth,
    /// What `/metrics` asks for, when set.
    pub metrics_token: Option<SecretString>,
    /// Signal scripts and their workers.
    pub scripts: Scripts,
    /// Plans, Stripe and watchlists.
    pub billing: Billing,
    /// Quick Look news.
    pub news: News,
}

/// A built application, bound to its port and ready to run.
pub struct Application {
    port: u16,
    listener: TcpListener,
    router: Router,
    /// Work that runs while the app serves: started by `run_until_stopped`,
    /// stopped with it, so a built but never run app leaves nothing behind.
    background: Vec<BoxFuture<'static, ()>>,
    /// Given up on a clean stop, so another instance ingests at once.
    lease: Arc<Lease>,
}

impl Application {
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        // Binance's stream and REST client, and Stripe's client, speak TLS
        // through rustls, with ring (a second installation is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("while binding {} (INCHART_LISTEN)", settings.listen))?;
        let bound = listener.local_addr().context("while reading the bound port")?;
        // On port 0 (tests) the default public URL names the port bound.
        if settings.auth.public_url == format!("http://{}", settings.listen) {
            settings.auth.public_url = format!("http://{bound}");
        }
        let connection = db::connect(&settings.database_url).await?;
        db::migrate_up(&connection).await?;
        let cache = Cache::connect(settings.redis_url.as_ref(), &settings.cache_prefix).await?;
        let auth = Auth::new(&settings.auth, connection.clone(), cache.clone())?;
        let script_store = ScriptStore::new(connection.clone());
        let billing = Billing::new(
            settings.billing.clone(),
            BillingStore::new(connection.clone()),
            &settings.auth.public_url,
        )?;
        let candles = CandleStore::new(connection);
        let symbols: Arc<[Symbol]> = settings.symbols.clone().into();
        let news = News::new(settings.news.clone(), cache.clone(), symbols.clone())?;
        let metrics = Arc::new(Metrics::default());
        let live = LiveMarket::connect(
            settings.redis_url.as_ref(),
            &settings.cache_prefix,
            settings.live_window,
        )
        .await?;
        let hub = Arc::new(Hub::new(settings.ws_max_clients, metrics.clone()));
        let binance = RestClient::new(&settings.binance_rest_url, metrics.clone())?;
        let lease = Arc::new(
            Lease::new(
                settings.redis_url.as_ref(),
                &settings.cache_prefix,
                settings.lease_ttl,
            )
            .await?,
        );
        let (filled_sender, filled) = watch::channel(false);
        let ingestor = Ingestor {
            symbols: settings.symbols.clone(),
            settings: IngestSettings {
                feed: settings.feed,
                stream_url: settings.binance_ws_url.clone(),
                backfill: settings.backfill,
                rollover: settings.stream_rollover,
                retry: settings.retry_max,
                window: settings.live_window,
            },
            store: candles.clone(),
            live: live.clone(),
            rest: binance.clone(),
            lease: lease.clone(),
            simulated: SimulatedFeed::new(settings.symbols.clone(), settings.sim_history),
            sim_tick: settings.sim_tick,
            metrics: metrics.clone(),
            filled: filled_sender,
        };
        let bus = SignalBus::connect(settings.redis_url.as_ref(), &settings.cache_prefix).await?;
        let scripts = Scripts::new(
            settings.scripts.clone(),
            script_store,
            bus.clone(),
            candles.clone(),
            live.clone(),
            billing.clone(),
            cache.clone(),
        );
        // Subscribed before anything runs, so the hub misses nothing.
        let events = live.subscribe();
        let closes = live.subscribe();
        let mut background = vec![
            ingestor.run().boxed(),
            live.clone().listen().boxed(),
            hub.clone().run(events).boxed(),
            hub.clone().relay_signals(bus.subscribe()).boxed(),
            auth.clone().housekeeping().boxed(),
            bus.listen().boxed(),
            scripts::live::rerun_attached(scripts.clone(), cache.clone(), closes).boxed(),
            scripts.clone().housekeeping().boxed(),
        ];
        background.extend(scripts.engine.workers());

        let leptos_options = LeptosOptions::builder()
            .output_name("inchart")
            .site_root(settings.site_root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .site_addr(settings.listen)
            .build();
        let state = AppState {
            leptos_options,
            candles,
            cache: cache.clone(),
            symbols,
            live,
            hub,
            binance,
            metrics,
            latest_reads: Arc::default(),
            filled,
            auth,
            metrics_token: settings.metrics_token.clone(),
            scripts,
            billing,
            news,
        };

        let port = bound.port();
        tracing::info!(port, cache = cache.kind(), "InChart is ready");

        Ok(Self {
            port,
            listener,
            router: router(state),
            background,
            lease,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` completes, then lets in-flight requests
    /// finish and stops the background tasks.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let tasks: Vec<_> = self.background.into_iter().map(tokio::spawn).collect();
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .context("while serving HTTP");
        for task in tasks {
            task.abort();
        }
        self.lease.release().await;
        tracing::info!("InChart stopped");
        served
    }
}

/// What the pages are told of the market, read anew for every request so
/// that the feed's status is current.
fn market_directory(state: &AppState) -> impl Fn() -> MarketDirectory + Clone + Send + Sync + 'static {
    let live = state.live.clone();
    let symbols = state.symbols.clone();
    move || {
        let status = live.current_status();
        MarketDirectory(MarketOverview {
            source: status.source(),
            status,
            symbols: symbols.to_vec(),
        })
    }
}

fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let directory = market_directory(&state);
    let accounts = AccountService(Arc::new(AccountReader(state.auth.store.clone())));
    let script_pages = ScriptService(Arc::new(ScriptReader {
        scripts: state.scripts.clone(),
        symbols: state.symbols.clone(),
    }));
    let (billing_pages, watchlists) = billing::pages::services(BillingReader {
        billing: state.billing.clone(),
        scripts: state.scripts.store.clone(),
    });
    let form_targets = state.billing.form_targets();
    let news = NewsService(Arc::new(state.news.clone()));
    let markets = MarketService(Arc::new(MarketReader {
        candles: state.candles.clone(),
        symbols: state.symbols.clone(),
    }));
    let site = SiteUrl(state.auth.settings.public_url.trim_end_matches('/').to_string());
    let page_context = move || {
        provide_context(site.clone());
        provide_context(news.clone());
        provide_context(markets.clone());
        provide_context(form_targets.clone());
        provide_context(directory());
        provide_context(accounts.clone());
        provide_context(script_pages.clone());
        provide_context(billing_pages.clone());
        provide_context(watchlists.clone());
    };
    let server_fn_context = page_context.clone();
    let options = state.leptos_options.clone();
    let auth = state.auth.clone();

    Router::new()
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::serve))
        .route("/robots.txt", get(site::robots))
        .route("/sitemap.xml", get(site::sitemap))
        .route("/ws", get(market::ws::upgrade))
        .route("/api/v1/candles", get(market::api::candles))
        .route("/api/v1/symbols", get(market::symbols::search))
        .route(
            "/api/{*fn_name}",
            axum::routing::post(move |request: axum::extract::Request| {
                leptos_axum::handle_server_fns_with_context(server_fn_context.clone(), request)
            }),
        )
        .leptos_routes_with_context(&state, routes, page_context, move || shell(options.clone()))
        .merge(auth::handlers::routes())
        .merge(scripts::handlers::routes())
        .merge(billing::handlers::routes())
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        // The session middleware runs inside the CSRF check: a forged
        // request is refused before it can rotate anything.
        .layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::session::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(auth, auth::csrf::middleware))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(revalidate_assets))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// Headers every response carries, unless the handler set its own.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    (
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    ),
];

/// The Content-Security-Policy of every response that is not a page.
static DEFAULT_POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&content_security_policy(None))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
});

/// The site's assets keep their names across releases (`/pkg/inchart.wasm`),
/// so browsers must revalidate them (a cheap 304) rather than guess a
/// freshness and pair an old Wasm file with new HTML.
async fn revalidate_assets(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let asset = ["/pkg/", "/vendor/"]
        .iter()
        .any(|prefix| request.uri().path().starts_with(prefix));
    let mut response = next.run(request).await;
    if asset {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    // Pages set their own policy, with their nonce; everything else gets
    // the same policy without one, written once.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert_with(|| DEFAULT_POLICY.clone());
    response
}

/// Completes on Ctrl-C or SIGTERM, whichever comes first.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
