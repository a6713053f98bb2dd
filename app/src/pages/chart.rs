//! `/chart/:symbol?interval=`: the trading view.

use leptos::prelude::*;
use leptos_meta::{Link, Meta, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::chart::Chart;
use crate::components::top_bar::TopBar;
use crate::market::{Interval, Symbol, get_market_overview};

const DEFAULT_INTERVAL: Interval = Interval::H1;

#[component]
pub fn ChartPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();

    let symbol_param = Memo::new(move |_| params.with(|p| p.get("symbol").unwrap_or_default()));
    let interval_param = Memo::new(move |_| query.with(|q| q.get("interval")));

    let parsed_symbol = Memo::new(move |_| Symbol::parse(&symbol_param.get()).ok());
    let interval = Memo::new(move |_| {
        interval_param
            .get()
            .and_then(|raw| raw.parse::<Interval>().ok())
            .unwrap_or(DEFAULT_INTERVAL)
    });
    let bad_interval = move || {
        interval_param
            .get()
            .filter(|raw| raw.parse::<Interval>().is_err())
    };

    let overview = Resource::new(|| (), |_| get_market_overview());

    let title = move || match parsed_symbol.get() {
        Some(symbol) => format!("{symbol} {} chart · InChart", interval.get()),
        None => "Unknown symbol · InChart".to_string(),
    };
    let description = move || {
        let name = parsed_symbol
            .get()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "crypto".into());
        format!(
            "{name} candlestick chart on the {} interval, with Python signal scripts.",
            interval.get()
        )
    };
    let canonical = move || format!("/chart/{}", symbol_param.get().to_ascii_uppercase());

    view! {
        <Title text=title />
        <Meta name="description" content=description />
        {move || view! { <Link rel="canonical" href=canonical() /> }}
        <div class="trading-view">
            <Suspense fallback=|| view! { <header class="top-bar skeleton" aria-busy="true"></header> }>
                {move || Suspend::new(async move {
                    match (overview.await, parsed_symbol.get()) {
                        (Ok(overview), Some(symbol_now)) => {
                            let known = overview.symbols.contains(&symbol_now);
                            let symbol = Signal::derive(move || parsed_symbol.get().unwrap_or_else(|| symbol_now.clone()));
                            let interval = Signal::from(interval);
                            view! {
                                <TopBar symbol interval symbols=overview.symbols source=overview.source />
                                {bad_interval().map(|raw| view! {
                                    <p class="notice" role="alert">
                                        {format!("\u{201c}{raw}\u{201d} is not an interval; showing {DEFAULT_INTERVAL}. Pick one of 1m 5m 15m 1h 4h 1d.")}
                                    </p>
                                })}
                                {if known {
                                    view! { <Chart symbol interval /> }.into_any()
                                } else {
                                    view! {
                                        <p class="notice" role="alert">
                                            {move || format!("InChart does not carry {} yet. Pick one of the symbols above.", symbol.get())}
                                        </p>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                        (Ok(_), None) => view! {
                            <main class="page narrow">
                                <h1>"Unknown symbol"</h1>
                                <p>{move || format!("\u{201c}{}\u{201d} is not a symbol. A symbol is letters and digits, like BTCUSDT.", symbol_param.get())}</p>
                                <p><a href="/chart/BTCUSDT">"Open BTCUSDT"</a></p>
                            </main>
                        }.into_any(),
                        (Err(error), _) => view! {
                            <p class="notice" role="alert">{format!("The market list could not be loaded ({error}). Reload the page to try again.")}</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}
