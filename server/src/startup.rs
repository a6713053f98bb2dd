//! Building and running the application. [`Application::build`] does
//! everything `inchart serve` does before it accepts connections (connect,
//! migrate, bind), and returns the bound port, so tests start the real
//! thing on port 0. Market data fills in the background once it runs.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use app::seo::SiteUrl;
use axum::Router;
use futures::FutureExt;
use futures::future::BoxFuture;
use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::alerts::store::AlertStore;
use crate::alerts::{self, Alerts};
use crate::auth::{AccountCloser, Auth};
use crate::backtests::Backtests;
use crate::backtests::store::BacktestStore;
use crate::billing::Billing;
use crate::billing::store::BillingStore;
use crate::charts::Charts;
use crate::charts::store::ChartStore;
use crate::config::Settings;
use crate::market::binance::rest::RestClient;
use crate::market::candle_store::CandleStore;
use crate::market::deep_history::{DeepHistory, HistorySettings};
use crate::market::ingest::{IngestSettings, Ingestor};
use crate::market::lease::Lease;
use crate::market::metrics::FeedMetrics;
use crate::market::newest::NewestCandles;
use crate::market::simulated::SimulatedFeed;
use crate::market::window::LiveMarket;
use crate::market::{Market, MarketParts, Symbols};
use crate::news::News;
use crate::plans::Plans;
use crate::platform::cache::Cache;
use crate::platform::db;
use crate::platform::metrics::Registry;
use crate::platform::redis::Redis;
use crate::platform::user_bus::UserBus;
use crate::scripts::Scripts;
use crate::scripts::signals::SignalBus;
use crate::scripts::store::ScriptStore;
use crate::state::{AppState, Ops};
use crate::stream::Hub;
use crate::stream::metrics::StreamMetrics;
use crate::watchlist::Watchlists;
use crate::watchlist::store::WatchlistStore;
use crate::{router, scripts};

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
        let prefix = &settings.cache_prefix;
        let redis = Redis::connect_if(settings.redis_url.as_ref()).await?;
        let redis = redis.as_ref();
        let cache = Cache::new(redis, prefix);
        let registry = Registry::default();

        let billing = Billing::new(
            settings.billing.clone(),
            BillingStore::new(connection.clone()),
            &settings.auth.public_url,
        )?;
        let closers: Vec<Arc<dyn AccountCloser>> = vec![Arc::new(billing.clone())];
        let auth = Auth::new(&settings.auth, connection.clone(), cache.clone(), closers)?;
        let plans = Plans::new(billing.clone(), cache.clone());

        let symbols = Symbols::new(settings.symbols.clone());
        let candles = CandleStore::new(connection.clone());
        let feed_metrics = Arc::new(FeedMetrics::default());
        registry.register(feed_metrics.clone());
        let window = LiveMarket::new(redis, prefix, settings.live_window);
        let binance = RestClient::new(&settings.binance_rest_url, feed_metrics.clone())?;
        let lease = Arc::new(Lease::new(redis, prefix, settings.lease_ttl));
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
            live: window.clone(),
            rest: binance.clone(),
            lease: lease.clone(),
            simulated: SimulatedFeed::new(settings.symbols.clone(), settings.sim_history),
            sim_tick: settings.sim_tick,
            metrics: feed_metrics.clone(),
            filled: filled_sender,
        };
        let newest = NewestCandles::new(window.clone(), candles.clone());
        let history = DeepHistory::new(
            candles.clone(),
            binance.clone(),
            redis,
            prefix,
            HistorySettings {
                lease_ttl: settings.lease_ttl,
                ..HistorySettings::default()
            },
            feed_metrics.clone(),
        );
        let market = Market::new(MarketParts {
            symbols: symbols.clone(),
            candles,
            window: window.clone(),
            newest: newest.clone(),
            latest_reads: Arc::default(),
            binance,
            cache: cache.clone(),
            metrics: feed_metrics,
            history,
        });

        let watchlists = Watchlists::new(
            WatchlistStore::new(connection.clone()),
            plans.clone(),
            symbols.clone(),
        );
        let news = News::new(settings.news.clone(), cache.clone(), symbols.clone())?;
        registry.register(Arc::new(news.clone()));
        let user_bus = UserBus::new(redis, prefix);
        let charts = Charts::new(
            ChartStore::new(connection.clone()),
            plans.clone(),
            symbols.clone(),
            user_bus.clone(),
        );
        let scripts = Scripts::new(
            settings.scripts.clone(),
            ScriptStore::new(connection.clone()),
            SignalBus::new(user_bus.clone()),
            plans.clone(),
            newest,
            window.clone(),
        );
        registry.register(scripts.pool.stats());
        let backtests = Backtests::new(
            BacktestStore::new(connection.clone()),
            scripts.clone(),
            market.clone(),
        );
        let alerts = Alerts::new(
            AlertStore::new(connection),
            plans.clone(),
            symbols.clone(),
            scripts.clone(),
            auth.clone(),
            settings.alerts.clone(),
            &settings.auth.public_url,
        )
        .await?;

        let stream_metrics = Arc::new(StreamMetrics::default());
        registry.register(stream_metrics.clone());
        let hub = Arc::new(Hub::new(settings.ws_max_clients, stream_metrics));
        // Subscribed before anything runs, so the hub misses nothing.
        let events = window.subscribe();
        let closes = window.subscribe();
        let prices = window.subscribe();
        let mut background = vec![
            ingestor.run().boxed(),
            window.clone().listen().boxed(),
            hub.clone().run(events).boxed(),
            hub.clone().relay_user_frames(user_bus.subscribe()).boxed(),
            auth.clone().housekeeping().boxed(),
            user_bus.listen().boxed(),
            scripts::on_close::rerun_attached(scripts.clone(), cache.clone(), closes).boxed(),
            scripts.clone().housekeeping().boxed(),
            alerts::watch::watch(alerts.clone(), prices, scripts.live_runs()).boxed(),
            alerts.clone().sweep().boxed(),
            alerts.clone().record_attempts().boxed(),
            alerts.clone().housekeeping().boxed(),
        ];
        background.extend(scripts.pool.workers());

        let leptos_options = LeptosOptions::builder()
            .output_name("inchart")
            .site_root(settings.site_root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .site_addr(settings.listen)
            .build();
        let state = AppState {
            leptos_options,
            site: Arc::new(SiteUrl(
                settings.auth.public_url.trim_end_matches('/').to_string(),
            )),
            market,
            symbols,
            hub,
            cookies: auth.cookies.clone(),
            auth,
            billing,
            plans,
            scripts,
            backtests,
            alerts,
            news,
            watchlists,
            charts,
            ops: Arc::new(Ops {
                metrics: registry,
                metrics_token: settings.metrics_token.clone(),
                filled,
            }),
        };

        let port = bound.port();
        tracing::info!(port, cache = cache.kind(), "InChart is ready");

        Ok(Self {
            port,
            listener,
            router: router::router(state),
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
