//! Market data: where candles come from ([`binance`], [`simulated`], run by
//! the [`ingest`]er holding the [`lease`]), where they are kept
//! ([`candle_store`] for history, [`window`] for the recent window and its
//! changes), how older ones are loaded on demand ([`deep_history`], for
//! backtests), how the newest are read ([`newest`]) and how they are served
//! ([`api`], [`symbols`], [`summary`] for the market pages; live charts
//! are the [`stream`](crate::stream)'s).

pub mod api;
pub mod binance;
pub mod candle_store;
pub mod deep_history;
pub mod entity;
pub mod ingest;
pub mod lease;
pub mod metrics;
pub mod newest;
pub mod simulated;
pub mod summary;
pub mod symbols;
pub mod window;

use std::sync::Arc;

use inchart_api::market::{FeedStatus, Symbol};

use self::api::LatestReads;
use self::binance::rest::RestClient;
use self::candle_store::CandleStore;
use self::deep_history::DeepHistory;
use self::metrics::FeedMetrics;
use self::newest::NewestCandles;
use self::window::LiveMarket;
use crate::platform::cache::Cache;
use crate::web::ApiError;

/// The symbols this deployment carries (`INCHART_SYMBOLS`).
#[derive(Debug, Clone)]
pub struct Symbols(Arc<[Symbol]>);

impl Symbols {
    pub fn new(symbols: Vec<Symbol>) -> Self {
        Self(symbols.into())
    }

    pub fn contains(&self, symbol: &Symbol) -> bool {
        self.0.contains(symbol)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Symbol> {
        self.0.iter()
    }

    pub fn to_vec(&self) -> Vec<Symbol> {
        self.0.to_vec()
    }

    /// Reads a symbol a client sent for `field`: a 400 when it is not a
    /// symbol, or not one carried here.
    pub fn carried(&self, raw: &str, field: &'static str) -> Result<Symbol, ApiError> {
        let symbol = Symbol::parse(raw).map_err(|error| ApiError::invalid(field, error.to_string()))?;
        self.check(symbol, field)
    }

    /// `symbol` when it is carried here, a 400 for `field` otherwise.
    pub fn check(&self, symbol: Symbol, field: &'static str) -> Result<Symbol, ApiError> {
        if self.contains(&symbol) {
            Ok(symbol)
        } else {
            Err(ApiError::unknown(
                field,
                format!("{symbol} is not a symbol InChart carries."),
            ))
        }
    }
}

/// The market, as the request handlers read it: one shared copy, since
/// the state is cloned for every request.
#[derive(Clone)]
pub struct Market(Arc<MarketParts>);

impl Market {
    pub fn new(parts: MarketParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for Market {
    type Target = MarketParts;

    fn deref(&self) -> &MarketParts {
        &self.0
    }
}

pub struct MarketParts {
    pub symbols: Symbols,
    pub candles: CandleStore,
    pub window: LiveMarket,
    pub newest: NewestCandles,
    /// Encoded answers to the newest-candles reads, while current.
    pub latest_reads: Arc<LatestReads>,
    pub binance: RestClient,
    pub cache: Cache,
    pub metrics: Arc<FeedMetrics>,
    /// Older candles, loaded on demand (for backtests).
    pub history: DeepHistory,
}

impl MarketParts {
    /// The feed's status now.
    pub fn status(&self) -> FeedStatus {
        self.window.current_status()
    }
}
