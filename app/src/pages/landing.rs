//! `/`: what InChart is, in one screen, with one way in.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};

use crate::components::account::AccountLink;
use crate::components::top_bar::chart_href;
use crate::market::{Interval, Symbol};
use crate::theme::ThemeToggle;

const DESCRIPTION: &str = "Live crypto candlestick charts with Python signal scripts that draw \
buy and sell markers as each candle closes.";

#[component]
pub fn LandingPage() -> impl IntoView {
    view! {
        <Title text="InChart — live crypto charts with Python signals" />
        <Meta name="description" content=DESCRIPTION />
        <Link rel="canonical" href="/" />
        <header class="site-header">
            <a class="brand" href="/">"InChart"</a>
            <nav class="site-nav" aria-label="Site">
                <a href="/pricing" rel="external">"Pricing"</a>
                <AccountLink />
            </nav>
            <ThemeToggle />
        </header>
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
        </main>
    }
}
