//! `/features`: what InChart does, section by section, with one way in.

use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;

use crate::components::site::{SiteFooter, SiteHeader};
use crate::seo::{Seo, json_ld, site_url};

const DESCRIPTION: &str = "Live Binance candlesticks from one minute to one day, Python signal \
scripts that run sandboxed on every closed candle, and news with sentiment for the coin you watch.";

/// Each feature: a heading and what it means for a trader.
const FEATURES: [(&str, &str); 6] = [
    (
        "Live candles",
        "Binance's candles for every interval from 1m to 1d: history at once, the forming candle as it moves, and a clear mark when the data is simulated.",
    ),
    (
        "Signals in Python",
        "Write a signals(candles) function with numpy and ready indicators (SMA, EMA, RSI, MACD, Bollinger, ATR). Its buy and sell markers and lines appear on the chart.",
    ),
    (
        "Live on every close",
        "Attach a script to a chart and it runs again on every closed candle; new markers arrive over the chart's own connection.",
    ),
    (
        "Sandboxed by design",
        "Each run is a fresh fork of a confined CPython worker: no network, no files, no processes, with CPU, memory and time limits.",
    ),
    (
        "Quick Look news",
        "Headlines for the symbol on screen beside the chart, with Marketaux's sentiment for the coin as a green, grey or red badge.",
    ),
    (
        "Free to start",
        "Charts, three scripts and a watchlist cost nothing. Pro runs more scripts live, follows more symbols and reads deeper history.",
    ),
];

#[component]
pub fn FeaturesPage() -> impl IntoView {
    let site = site_url();
    let structured = json_ld(&serde_json::json!({
        "@context": "https://schema.org",
        "@type": "SoftwareApplication",
        "name": "InChart",
        "applicationCategory": "FinanceApplication",
        "operatingSystem": "Web browser",
        "url": format!("{site}/"),
        "description": DESCRIPTION,
        "offers": { "@type": "Offer", "price": "0", "priceCurrency": "USD" },
        "featureList": FEATURES.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
    }));
    view! {
        <Seo title="Features: live charts, Python signals, news · InChart" description=DESCRIPTION path="/features" structured />
        <SiteHeader current="features" />
        <main class="mx-auto max-w-5xl px-4 py-8 sm:px-6 sm:py-12">
            <section class="max-w-3xl py-8 sm:py-12">
                <h1 class="text-xl sm:text-2xl font-semibold">"Everything a chart should do"</h1>
                <p class="mt-4 mb-8 text-lg text-muted">{DESCRIPTION}</p>
                <a class="button primary" href=chart_href(&Symbol::default(), Interval::default())>"Open a live chart"</a>
            </section>
            <ul class="m-0 grid list-none gap-6 p-0 sm:grid-cols-2 lg:grid-cols-3" aria-label="Features">
                {FEATURES
                    .iter()
                    .map(|(name, text)| view! {
                        <li class="rounded-xl bg-surface p-6">
                            <h2 class="mb-2 text-lg font-semibold">{*name}</h2>
                            <p class="m-0 text-sm text-muted">{*text}</p>
                        </li>
                    })
                    .collect_view()}
            </ul>
        </main>
        <SiteFooter />
    }
}
