//! The watchlist: the symbols a trader follows, at most as many as their
//! plan allows ([`crate::plans`]).

pub mod entity;
pub mod handlers;
pub mod pages;
pub mod store;

use app::watchlist::Watchlist;
use inchart_api::market::Symbol;
use uuid::Uuid;

use crate::market::Symbols;
use crate::plans::{Action, Plans};
use crate::platform::clock::now_ms;
use crate::web::ApiError;
use store::WatchlistStore;

#[derive(Clone)]
pub struct Watchlists {
    store: WatchlistStore,
    plans: Plans,
    symbols: Symbols,
}

impl Watchlists {
    pub fn new(store: WatchlistStore, plans: Plans, symbols: Symbols) -> Self {
        Self {
            store,
            plans,
            symbols,
        }
    }

    /// The user's watchlist, with the limit of their plan.
    pub async fn of(&self, user: Uuid) -> anyhow::Result<Watchlist> {
        let limit = self.plans.limits_of(Some(user)).await?.watchlist;
        let symbols = self
            .store
            .watchlist(user)
            .await?
            .iter()
            .filter_map(|name| Symbol::parse(name).ok())
            .collect();
        Ok(Watchlist { symbols, limit })
    }

    /// How many symbols the user follows.
    pub async fn len_of(&self, user: Uuid) -> anyhow::Result<u32> {
        Ok(self.store.watchlist(user).await?.len() as u32)
    }

    /// Adds a carried symbol, within the plan's limit.
    pub async fn add(&self, user: Uuid, symbol: &str) -> Result<Watchlist, ApiError> {
        let symbol = self.symbols.carried(symbol, "symbol")?;
        let allowance = self.plans.check(Some(user), Action::Watch).await?;
        if !self
            .store
            .watch(user, symbol.as_str(), allowance.limit, now_ms())
            .await?
        {
            return Err(allowance.refused());
        }
        Ok(self.of(user).await?)
    }

    /// Removes a symbol (carried or not: an old list may hold one no
    /// longer carried).
    pub async fn remove(&self, user: Uuid, symbol: &str) -> Result<Watchlist, ApiError> {
        let symbol = Symbol::parse(symbol).map_err(|error| ApiError::invalid("symbol", error.to_string()))?;
        self.store.unwatch(user, symbol.as_str()).await?;
        Ok(self.of(user).await?)
    }
}
