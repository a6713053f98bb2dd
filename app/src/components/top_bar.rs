//! The slim bar above the chart: symbol (with the watchlist star for a
//! signed-in trader), symbol search, symbol switcher, interval segmented
//! control, feed status, site links and theme toggle.
//!
//! Plain `<a>` links: the router turns their clicks into client-side
//! navigations, and unlike `<A>` they leave `aria-current` to us (`<A>`
//! ignores the query, so it would mark every interval current).

use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;

use super::account::AccountLink;
use super::live_feed::{FeedIndicator, FeedStatusIndicator};
use super::symbol_search::SymbolSearch;
use super::watchlist::{WatchToggle, WatchlistState};
use crate::theme::ThemeToggle;

#[component]
pub fn TopBar(
    symbol: Signal<Symbol>,
    interval: Signal<Interval>,
    symbols: Vec<Symbol>,
    indicator: FeedIndicator,
    /// Whether the visitor is signed in: "Billing" rather than "Pricing".
    #[prop(optional)]
    signed_in: bool,
    /// The signed-in trader's watchlist, for the star beside the symbol.
    #[prop(optional_no_strip)]
    watch: Option<WatchlistState>,
) -> impl IntoView {
    let symbol_links = symbols
        .into_iter()
        .map(|candidate| {
            let label = candidate.to_string();
            let current = candidate.clone();
            let href = move || chart_href(&candidate, interval.get());
            let is_current = move || symbol.with(|s| *s == current);
            view! {
                <a href=href class="symbol-link" aria-current=move || is_current().then_some("page")>
                    {label}
                </a>
            }
        })
        .collect_view();

    let interval_links = Interval::ALL
        .into_iter()
        .zip(1..)
        .map(|(candidate, key)| {
            let href = move || chart_href(&symbol.get(), candidate);
            let is_current = move || interval.get() == candidate;
            view! {
                <a
                    href=href
                    class="segment"
                    aria-current=move || is_current().then_some("page")
                    aria-keyshortcuts=key.to_string()
                    title=format!("{candidate} (key {key})")
                >
                    {candidate.as_str()}
                </a>
            }
        })
        .collect_view();

    view! {
        <header class="top-bar">
            <a class="brand" href="/">"InChart"</a>
            <h1 class="symbol">{move || symbol.get().to_string()}</h1>
            {watch.map(|state| view! { <WatchToggle state symbol interval /> })}
            <SymbolSearch interval />
            <nav class="segmented intervals" aria-label="Interval">{interval_links}</nav>
            <nav class="symbols" aria-label="Symbols">{symbol_links}</nav>
            <FeedStatusIndicator indicator />
            // A full page load: the scripts pages read the session on the server.
            <a class="nav-link" href="/scripts" rel="external" title="Your signal scripts">"Scripts"</a>
            <a class="nav-link" href="/alerts" rel="external" title="Your price and signal alerts">"Alerts"</a>
            // Full page loads too: both pages read the session on the server.
            {if signed_in {
                view! { <a class="nav-link" href="/billing" rel="external" title="Your plan and invoices">"Billing"</a> }.into_any()
            } else {
                view! { <a class="nav-link" href="/pricing" rel="external" title="Plans and prices">"Pricing"</a> }.into_any()
            }}
            <AccountLink />
            <ThemeToggle />
        </header>
    }
}
