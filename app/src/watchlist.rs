//! The symbols a trader follows, as the pages see them.

use inchart_api::market::Symbol;
use serde::{Deserialize, Serialize};

/// The signed-in trader's watchlist, oldest entry first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watchlist {
    pub symbols: Vec<Symbol>,
    /// How many symbols the trader's plan allows.
    pub limit: u32,
}

impl Watchlist {
    pub fn contains(&self, symbol: &Symbol) -> bool {
        self.symbols.contains(symbol)
    }

    pub fn is_full(&self) -> bool {
        self.symbols.len() >= self.limit as usize
    }
}

#[cfg(feature = "ssr")]
pub use server_side::*;

#[cfg(feature = "ssr")]
mod server_side {
    use std::sync::Arc;

    use super::Watchlist;

    use crate::PageAnswer as Answer;
    use crate::ids::UserId;

    /// What the pages read of a watchlist, implemented by the server.
    pub trait WatchlistPages: Send + Sync {
        /// `user`'s watchlist.
        fn watchlist(&self, user: UserId) -> Answer<Watchlist>;
    }

    /// The server's [`WatchlistPages`], in each request's context.
    #[derive(Clone)]
    pub struct WatchlistService(pub Arc<dyn WatchlistPages>);
}

/// The signed-in trader's watchlist; `None` when signed out.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_watchlist() -> Result<Option<Watchlist>, leptos::prelude::ServerFnError> {
    use leptos::prelude::{ServerFnError, use_context};
    let Some(user) = crate::account::request_session()
        .and_then(|session| session.ids)
        .map(|(user, _)| user)
    else {
        return Ok(None);
    };
    let WatchlistService(pages) = use_context::<WatchlistService>()
        .ok_or_else(|| ServerFnError::new("Watchlists are not configured on this server."))?;
    pages
        .watchlist(user)
        .await
        .map(Some)
        .map_err(|error| ServerFnError::new(error.message()))
}
