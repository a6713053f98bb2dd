//! `/`: what InChart is, in one screen, with one way in.

use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;

use crate::components::site::{SiteFooter, SiteHeader};
use crate::seo::{SITE_NAME, Seo, json_ld, site_url};

const DESCRIPTION: &str = "Live crypto candlestick charts with Python signal scripts that draw \
buy and sell markers as each candle closes.";

#[component]
pub fn LandingPage() -> impl IntoView {
    let site = site_url();
    let structured = json_ld(&serde_json::json!({
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "WebSite",
                "name": SITE_NAME,
                "url": format!("{site}/"),
                "description": DESCRIPTION,
            },
            {
                "@type": "Organization",
                "name": SITE_NAME,
                "url": format!("{site}/"),
                "logo": format!("{site}/favicon.svg"),
            }
        ]
    }));
    view! {
        <Seo title="InChart — live crypto charts with Python signals" description=DESCRIPTION path="/" structured />
        <SiteHeader current="" />
        <main class="page landing">
            <section class="hero">
                <h1>"Charts that think with you."</h1>
                <p class="lede">{DESCRIPTION}</p>
                <a class="button primary" href=chart_href(&Symbol::default(), Interval::default())>
                    {format!("Open the {} chart", Symbol::default())}
                </a>
            </section>
            <section class="features" aria-label="Features">
                <article>
                    <h2>"Live candles"</h2>
                    <p>"Every interval from one minute to one day, history at once and the forming candle as it moves."</p>
                </article>
                <article>
                    <h2>"Your signals, in Python"</h2>
                    <p>"Write a function, see its buy and sell markers and lines on the chart, live on every closed candle."</p>
                </article>
                <article>
                    <h2>"Quick Look news"</h2>
                    <p>"Headlines for the symbol you are watching, with their sentiment at a glance."</p>
                </article>
            </section>
            <p class="more-links">
                <a href="/features">"All features"</a>
                <a href="/markets">"Today's markets"</a>
                <a href="/news">"Crypto news"</a>
            </p>
        </main>
        <SiteFooter />
    }
}
