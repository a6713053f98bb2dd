//! `/markets` and `/markets/:symbol`: each carried symbol's public page,
//! whole in the HTML: its price over the last day, its two-day price line
//! drawn on the server as SVG, and its latest news. A symbol InChart does
//! not carry is a 404.

use inchart_api::market::{FeedSource, Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::PageError;
use crate::components::news::NewsFeedView;
use crate::components::site::{SiteFooter, SiteHeader};
use crate::markets::{
    MarketSummary, format_change, format_price, format_volume, get_market_summaries, get_market_summary,
    line_path,
};
use crate::news::{base_asset, get_news, news_href};
use crate::pages::not_found::{NotFoundContent, set_not_found};
use crate::seo::{Seo, json_ld, site_url};

/// The price line's box, in SVG units.
const LINE_WIDTH: f64 = 640.0;
const LINE_HEIGHT: f64 = 200.0;

#[component]
pub fn MarketsPage() -> impl IntoView {
    let summaries = Resource::new_blocking(|| (), |_| get_market_summaries());
    view! {
        <Seo
            title="Crypto markets: prices, charts and news · InChart"
            description="Every coin InChart charts, with its last price and change over 24 hours, its hourly price line and its latest news."
            path="/markets"
        />
        <SiteHeader current="markets" />
        <main class="page">
            <h1>"Markets"</h1>
            <p class="lede">"The coins InChart charts live, with their last day at a glance."</p>
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading the markets…"</p> }>
                {move || Suspend::new(async move {
                    match summaries.await {
                        Ok(summaries) => view! {
                            <ul class="m-0 grid list-none grid-cols-1 gap-4 p-0 sm:grid-cols-2 lg:grid-cols-4">
                                {summaries.into_iter().map(|summary| view! { <MarketCard summary /> }).collect_view()}
                            </ul>
                        }
                        .into_any(),
                        Err(error) => view! {
                            <p class="form-error" role="alert">
                                {PageError::from_server_fn_error(&error).to_string()}
                            </p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
        </main>
        <SiteFooter />
    }
}

#[component]
fn MarketCard(summary: MarketSummary) -> impl IntoView {
    let change = summary.change();
    let path = line_path(&summary.closes, 160.0, 40.0, 2.0);
    view! {
        <li>
            <a
                class="grid grid-cols-[1fr_auto] gap-x-2 gap-y-1 rounded-xl border border-transparent bg-surface p-4 text-text no-underline transition-colors hover:border-hairline"
                href=format!("/markets/{}", summary.symbol)
            >
                <span class="font-semibold">{summary.symbol.to_string()}</span>
                <span class=format!("{} row-span-2 self-center text-sm", change_class(change))>{format_change(change)}</span>
                <span class="text-lg tabular-nums">{format_price(summary.last)}</span>
                <svg class=format!("{} col-span-2 h-10 w-full", change_class(change)) viewBox="0 0 160 40" width="160" height="40" preserveAspectRatio="none" aria-hidden="true">
                    <path d=path fill="none" stroke="currentColor" stroke-width="1.5" />
                </svg>
            </a>
        </li>
    }
}

fn change_class(change: f64) -> &'static str {
    if change > 0.0 {
        "change up"
    } else if change < 0.0 {
        "change down"
    } else {
        "change"
    }
}

#[component]
pub fn MarketPage() -> impl IntoView {
    let params = use_params_map();
    let raw = params.with_untracked(|p| p.get("symbol").unwrap_or_default());
    let symbol = Symbol::parse(&raw).ok();
    let asked = symbol.clone();
    let summary = Resource::new_blocking(
        move || asked.clone(),
        |symbol| async move {
            match symbol {
                Some(symbol) => get_market_summary(symbol.to_string()).await,
                None => Ok(None),
            }
        },
    );
    let news_symbol = symbol.clone();
    let news = Resource::new_blocking(
        move || news_symbol.clone(),
        |symbol| async move {
            match symbol {
                Some(symbol) => get_news(Some(symbol.to_string()), 1).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <SiteHeader current="markets" />
        <main class="page market-page">
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Loading the market…"</p> }>
                {move || Suspend::new(async move {
                    let summary = match summary.await {
                        Ok(Some(summary)) => summary,
                        Ok(None) => {
                            set_not_found();
                            return view! { <NotFoundContent sentence="InChart does not chart that symbol." /> }.into_any();
                        }
                        Err(error) => {
                            return view! {
                                <p class="form-error" role="alert">
                                    {PageError::from_server_fn_error(&error).to_string()}
                                </p>
                            }
                            .into_any();
                        }
                    };
                    let news = news.await.ok().flatten();
                    view! { <MarketBody summary news /> }.into_any()
                })}
            </Suspense>
        </main>
        <SiteFooter />
    }
}

#[component]
fn MarketBody(summary: MarketSummary, news: Option<crate::news::NewsView>) -> impl IntoView {
    let symbol = summary.symbol.clone();
    let base = base_asset(&symbol).to_string();
    let change = summary.change();
    let last = format_price(summary.last);
    let title = format!("{symbol} price, chart and news · InChart");
    let description = format!(
        "{base} against {}: last price {last}, {} over 24 hours. The hourly price line, the live chart and the latest {base} news with sentiment.",
        &symbol.as_str()[base.len()..],
        format_change(change),
    );
    let path = format!("/markets/{symbol}");
    let site = site_url();
    let structured = json_ld(&serde_json::json!({
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            { "@type": "ListItem", "position": 1, "name": "InChart", "item": format!("{site}/") },
            { "@type": "ListItem", "position": 2, "name": "Markets", "item": format!("{site}/markets") },
            { "@type": "ListItem", "position": 3, "name": symbol.to_string(), "item": format!("{site}{path}") },
        ]
    }));
    let line = line_path(&summary.closes, LINE_WIDTH, LINE_HEIGHT, 8.0);
    let (low, high) = summary
        .closes
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &c| {
            (low.min(c), high.max(c))
        });
    let line_label = format!(
        "{symbol} hourly closes over the last {} hours, between {} and {}",
        summary.closes.len(),
        format_price(low),
        format_price(high)
    );
    let simulated = (summary.source == FeedSource::Simulated).then(|| {
        view! { <p class="notice-inline">"Simulated data: this server cannot reach Binance right now."</p> }
    });
    let as_of = crate::pages::account::format_time(summary.as_of);
    view! {
        <Seo title description path structured />
        <nav class="breadcrumbs" aria-label="Breadcrumbs">
            <a href="/markets">"Markets"</a>
            <span aria-hidden="true">" / "</span>
            <span aria-current="page">{symbol.to_string()}</span>
        </nav>
        <h1>{format!("{base} price")}<span class="muted">{format!(" \u{00b7} {symbol}")}</span></h1>
        <p class="quote">
            <span class="quote-price tabular">{last}</span>
            <span class=change_class(change)>{format_change(change)}</span>
            <span class="muted quote-note">"24 h"</span>
        </p>
        {simulated}
        <figure class="price-line">
            <svg
                class=format!("line {}", change_class(change))
                viewBox=format!("0 0 {LINE_WIDTH} {LINE_HEIGHT}")
                width=LINE_WIDTH.to_string()
                height=LINE_HEIGHT.to_string()
                preserveAspectRatio="none"
                role="img"
                aria-label=line_label
            >
                <path d=line fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" />
            </svg>
            <figcaption class="muted">{format!("Hourly closes, the last one opened {as_of}.")}</figcaption>
        </figure>
        <dl class="stats">
            <div><dt>"24 h high"</dt><dd class="tabular">{format_price(summary.high_24h)}</dd></div>
            <div><dt>"24 h low"</dt><dd class="tabular">{format_price(summary.low_24h)}</dd></div>
            <div><dt>{format!("24 h volume ({base})")}</dt><dd class="tabular">{format_volume(summary.volume_24h)}</dd></div>
        </dl>
        <p class="actions">
            <a class="button primary" href=chart_href(&symbol, Interval::default())>{format!("Open the live {symbol} chart")}</a>
        </p>
        <section class="market-news" aria-labelledby="market-news-heading">
            <h2 id="market-news-heading">{format!("{base} news")}</h2>
            {news.map(|view| view! { <NewsFeedView view /> })}
            <p><a href=news_href(Some(&symbol), 1)>{format!("All {symbol} news")}</a></p>
        </section>
    }
}
