//! What the chart page reads of the watchlist, through [`WatchlistPages`].

use app::PageAnswer as Answer;
use app::ids::UserId;
use app::watchlist::{Watchlist, WatchlistPages};

use super::Watchlists;
use crate::web::error::page_error;

impl WatchlistPages for Watchlists {
    fn watchlist(&self, user: UserId) -> Answer<Watchlist> {
        let lists = self.clone();
        Box::pin(async move {
            lists
                .of(user.uuid())
                .await
                .map_err(|cause| page_error(cause, "Your watchlist could not be read; please reload."))
        })
    }
}
