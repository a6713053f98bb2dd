//! The market overview a chart page asks the server for. The vocabulary
//! itself (symbols, intervals, candles, the feed's status) is
//! [`inchart_api::market`].

use inchart_api::market::MarketOverview;

/// The server's answer to [`get_market_overview`], put in each request's
/// context by the server.
#[derive(Debug, Clone)]
pub struct MarketDirectory(pub MarketOverview);

/// The feed source and the symbols on offer. A GET: it changes nothing,
/// so it needs no form token.
#[leptos::server(input = leptos::server_fn::codec::GetUrl)]
pub async fn get_market_overview() -> Result<MarketOverview, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<MarketDirectory>()
        .map(|MarketDirectory(overview)| overview)
        .ok_or_else(|| {
            leptos::prelude::ServerFnError::new("The market list is not configured on this server.")
        })
}
