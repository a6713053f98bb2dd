//! Building and running the application. [`Application::build`] does
//! everything `inchart serve` does before it accepts connections (connect,
//! migrate, fill the market data, bind), and returns the bound port, so
//! tests start the real thing on port 0.

use std::sync::Arc;

use anyhow::Context;
use app::market::{FeedSource, FeedStatus, MarketDirectory, MarketOverview};
use app::{App, shell};
use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use futures::FutureExt;
use futures::future::BoxFuture;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::cache::Cache;
use crate::config::Settings;
use crate::market::simulated::{SimulatedFeed, now_millis};
use crate::market::store::CandleStore;
use crate::{db, health, market};

/// Everything a request handler may need, cloned cheaply per request.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub candles: CandleStore,
    pub cache: Cache,
    /// The symbols on offer and where their candles come from.
    pub market: Arc<MarketOverview>,
}

/// A built application, bound to its port and ready to run.
pub struct Application {
    port: u16,
    listener: TcpListener,
    router: Router,
    /// Work that runs while the app serves: started by `run_until_stopped`,
    /// stopped with it, so a built but never run app leaves nothing behind.
    background: Vec<BoxFuture<'static, ()>>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let connection = db::connect(&settings.database_url).await?;
        db::migrate_up(&connection).await?;
        let cache = Cache::connect(settings.redis_url.as_ref(), &settings.cache_prefix).await?;
        let candles = CandleStore::new(connection);

        let feed = SimulatedFeed::new(settings.symbols.clone(), settings.sim_history);
        let filled_at = now_millis();
        candles.claim_for(FeedSource::Simulated, filled_at).await?;
        let written = feed
            .fill(&candles, filled_at)
            .await
            .context("while filling the simulated feed")?;
        tracing::info!(written, "simulated market data is filled up to now");
        let background = vec![feed.run(candles.clone(), settings.sim_tick, filled_at).boxed()];

        let market = Arc::new(MarketOverview {
            symbols: settings.symbols.clone(),
            source: FeedSource::Simulated,
            status: FeedStatus::Simulated,
        });
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
            market,
        };

        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("while binding {} (INCHART_LISTEN)", settings.listen))?;
        let port = listener
            .local_addr()
            .context("while reading the bound port")?
            .port();
        tracing::info!(port, cache = cache.kind(), "InChart is ready");

        Ok(Self {
            port,
            listener,
            router: router(state),
            background,
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
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("while serving HTTP");
        for task in tasks {
            task.abort();
        }
        tracing::info!("InChart stopped");
        served
    }
}

fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let directory = MarketDirectory(MarketOverview::clone(&state.market));
    let server_fn_directory = directory.clone();
    let options = state.leptos_options.clone();

    Router::new()
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/api/v1/candles", get(market::api::candles))
        .route(
            "/api/{*fn_name}",
            axum::routing::post(move |request: axum::extract::Request| {
                let directory = server_fn_directory.clone();
                leptos_axum::handle_server_fns_with_context(
                    move || provide_context(directory.clone()),
                    request,
                )
            }),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(directory.clone()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(revalidate_assets))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// Headers every response carries, unless the handler set its own.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    (
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    ),
    // 'wasm-unsafe-eval' lets the page compile its own WebAssembly; the
    // inline scripts are Leptos's hydration bootstrap and the theme script.
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; \
         frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
];

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
