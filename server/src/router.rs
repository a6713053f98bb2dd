//! Every route of the site, and the layers around them. The Stripe webhook
//! is mounted outside the session middleware and the CSRF check: it comes
//! from Stripe, with no cookie or origin of ours, and its signature
//! (checked by its handler on the raw body) stands in.

use std::sync::{Arc, LazyLock};

use app::account::AccountService;
use app::billing::BillingService;
use app::markets::MarketDirectory;
use app::markets::MarketService;
use app::news::NewsService;
use app::scripts::ScriptService;
use app::seo::SiteUrl;
use app::watchlist::WatchlistService;
use app::{App, content_security_policy, shell};
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use inchart_api::market::MarketOverview;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::auth::pages::AccountReader;
use crate::market::summary::MarketReader;
use crate::scripts::pages::ScriptReader;
use crate::state::AppState;
use crate::usage::BillingReader;
use crate::{alerts, auth, backtests, billing, charts, market, ops, scripts, site, stream, usage, watchlist};

/// What the pages are told of the market, read anew for every request so
/// that the feed's status is current.
fn market_directory(state: &AppState) -> impl Fn() -> MarketDirectory + Clone + Send + Sync + 'static {
    let market = state.market.clone();
    move || {
        let status = market.status();
        MarketDirectory(MarketOverview {
            source: status.source(),
            status,
            symbols: market.symbols.to_vec(),
        })
    }
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let directory = market_directory(&state);
    let accounts = AccountService(Arc::new(AccountReader(state.auth.store.clone())));
    let script_pages = ScriptService(Arc::new(ScriptReader {
        scripts: state.scripts.clone(),
        symbols: state.symbols.clone(),
    }));
    let billing_pages = BillingService(Arc::new(BillingReader {
        billing: state.billing.clone(),
        scripts: state.scripts.store.clone(),
        watchlists: state.watchlists.clone(),
        charts: state.charts.clone(),
        alerts: state.alerts.clone(),
    }));
    let watchlists = WatchlistService(Arc::new(state.watchlists.clone()));
    let form_targets = state.billing.form_targets();
    let news = NewsService(Arc::new(state.news.clone()));
    let markets = MarketService(Arc::new(MarketReader {
        candles: state.market.candles.clone(),
        symbols: state.symbols.clone(),
    }));
    let site_url = SiteUrl::clone(&state.site);
    let page_context = move || {
        provide_context(site_url.clone());
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

    let site = Router::new()
        .route("/healthz", get(ops::alive))
        .route("/readyz", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/robots.txt", get(site::robots))
        .route("/sitemap.xml", get(site::sitemap))
        .route("/ws", get(stream::upgrade))
        .route("/api/v1/candles", get(market::api::candles))
        .route("/api/v1/symbols", get(market::symbols::search))
        .route(
            "/api/{*fn_name}",
            post(move |request: axum::extract::Request| {
                leptos_axum::handle_server_fns_with_context(server_fn_context.clone(), request)
            }),
        )
        .leptos_routes_with_context(&state, routes, page_context, move || shell(options.clone()))
        .merge(auth::handlers::routes())
        .merge(scripts::handlers::routes())
        .merge(scripts::layers::routes())
        .merge(backtests::handlers::routes())
        .merge(alerts::handlers::routes())
        .merge(charts::handlers::routes())
        .merge(billing::handlers::routes())
        .merge(watchlist::handlers::routes())
        .merge(usage::routes())
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // The session middleware runs inside the CSRF check: a forged
        // request is refused before it can rotate anything.
        .layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::session::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(auth, auth::csrf::middleware));

    site.merge(billing::webhook::routes())
        .merge(alerts::handlers::unsubscribe_routes())
        .with_state(state)
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
