//! The frame of the public pages: the site header and footer.

use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;

use super::account::AccountLink;
use crate::theme::ThemeToggle;

/// The header of the public and plan pages; `current` names the page's
/// own link (`news`, `markets`, `features`, `pricing`, `billing`).
#[component]
pub fn SiteHeader(current: &'static str) -> impl IntoView {
    let here = move |page: &'static str| (page == current).then_some("page");
    view! {
        <header class="site-header">
            <a class="brand" href="/">"InChart"</a>
            <nav class="site-nav" aria-label="Site">
                <a href=chart_href(&Symbol::default(), Interval::default())>"Charts"</a>
                <a href="/markets" aria-current=here("markets")>"Markets"</a>
                <a href="/news" aria-current=here("news")>"News"</a>
                <a href="/features" class="hide-narrow" aria-current=here("features")>"Features"</a>
                <a href="/pricing" rel="external" aria-current=here("pricing")>"Pricing"</a>
                <AccountLink />
            </nav>
            <ThemeToggle />
        </header>
    }
}

/// The footer of the public pages: every section, one line.
#[component]
pub fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <nav aria-label="Footer">
                <a href="/features">"Features"</a>
                <a href="/markets">"Markets"</a>
                <a href="/news">"News"</a>
                <a href="/pricing" rel="external">"Pricing"</a>
                <a href="/scripts" rel="external">"Scripts"</a>
                <a href="/alerts" rel="external">"Alerts"</a>
            </nav>
            <p>"Market data from Binance. News and sentiment from Marketaux. Not investment advice."</p>
        </footer>
    }
}
