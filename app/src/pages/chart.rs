//! `/chart/:symbol?interval=`: the trading view. A signed-in trader also
//! sees a watchlist star beside the symbol and the watchlist's row above
//! the chart, and their price alerts on the series as lines (the "Alert"
//! button sets one).

use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::PageError;
use crate::components::account::page_session;
use crate::components::chart::{Chart, ChartExtras, ChartSignals};
use crate::components::chart_alerts::{ChartAlertButton, ChartAlerts};
use crate::components::chart_drawings::DrawingHome;
use crate::components::chart_layers::ChartLayers;
use crate::components::chart_panes::pane_view;
use crate::components::live_feed::FeedIndicator;
use crate::components::quick_look::QuickLook;
use crate::components::top_bar::TopBar;
use crate::components::watchlist::{WatchlistRow, WatchlistState};
use crate::markets::get_market_overview;
use crate::seo::Seo;
use crate::watchlist::get_watchlist;

/// What the page shows below the bar; it changes far less often than the
/// symbol, so the chart survives symbol and interval switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Chart,
    NotCarried,
    NotASymbol,
}

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
            .unwrap_or_default()
    });
    let bad_interval = move || {
        interval_param
            .get()
            .filter(|raw| raw.parse::<Interval>().is_err())
    };

    let overview = Resource::new(|| (), |_| get_market_overview());
    let watchlist = Resource::new(|| (), |_| get_watchlist());
    interval_keys(parsed_symbol, interval);

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
    // One address per symbol: the interval is a view of the same page.
    let canonical = move || format!("/chart/{}", symbol_param.get().to_ascii_uppercase());

    view! {
        <Seo title=title description=description path=canonical />
        <div class="trading-view">
            <Suspense fallback=|| view! { <header class="top-bar skeleton" aria-busy="true"></header> }>
                // Reads nothing but the resource: a new symbol or interval
                // flows into the same TopBar and Chart through signals
                // instead of rebuilding them.
                {move || Suspend::new(async move {
                    let overview = match overview.await {
                        Ok(overview) => overview,
                        Err(error) => {
                            return view! {
                                <p class="notice" role="alert">
                                    {PageError::from_server_fn_error(&error).to_string()}
                                </p>
                            }
                            .into_any();
                        }
                    };
                    let session = page_session().await;
                    // The chart is the page: a watchlist that cannot be read
                    // leaves it out rather than the chart.
                    let watch = match watchlist.await {
                        Ok(Some(list)) => Some(WatchlistState::new(list, &session)),
                        Ok(None) | Err(_) => None,
                    };
                    let signed_in = session.viewer.is_some();
                    let csrf = signed_in.then(|| session.csrf.clone());
                    // What the chart draws besides candles, shared with its
                    // layers menu.
                    let signals: ChartSignals = RwSignal::new(Vec::new());
                    let hidden = RwSignal::new(std::collections::HashSet::new());
                    let panes = pane_view();
                    let alerts = csrf.as_ref().map(|csrf| ChartAlerts::new(csrf.clone()));
                    let extras = ChartExtras {
                        hidden: Some(hidden),
                        panes: Some(panes),
                        drawings: Some(match &csrf {
                            Some(csrf) => DrawingHome::Account { csrf: csrf.clone() },
                            None => DrawingHome::Browser,
                        }),
                        sync: None,
                        backtest: None,
                        alerts,
                    };
                    let carried = overview.symbols.clone();
                    let content = Memo::new(move |_| match parsed_symbol.get() {
                        None => Content::NotASymbol,
                        Some(symbol) if carried.contains(&symbol) => Content::Chart,
                        Some(_) => Content::NotCarried,
                    });
                    // A chart of nothing is a 404 to crawlers and scripts.
                    if content.get_untracked() != Content::Chart {
                        crate::pages::not_found::set_not_found();
                    }
                    let symbol = Signal::derive(move || parsed_symbol.get().unwrap_or_default());
                    let interval = Signal::from(interval);
                    // One per page: the top bar shows what the chart's
                    // connection hears, starting from what the server knew.
                    let indicator = FeedIndicator::new(overview.status);
                    let symbols = overview.symbols;
                    view! {
                        {move || (content.get() != Content::NotASymbol).then(|| {
                            view! {
                                <TopBar symbol interval symbols=symbols.clone() indicator signed_in watch />
                                {watch.map(|state| view! { <WatchlistRow state symbol interval /> })}
                            }
                            .into_any()
                        })}
                        {move || bad_interval().map(|raw| view! {
                            <p class="notice" role="alert">
                                {format!("\u{201c}{raw}\u{201d} is not an interval; showing {}. Pick one of 1m 5m 15m 1h 4h 1d.", Interval::default())}
                            </p>
                        }.into_any())}
                        {move || match content.get() {
                            Content::Chart => {
                                let (extras, csrf) = (extras.clone(), csrf.clone());
                                view! {
                                <div class="chart-row">
                                    <Chart symbol interval indicator signals extras>
                                        <ChartAlertButton symbol interval alerts />
                                        <ChartLayers symbol interval signals hidden panes csrf />
                                    </Chart>
                                    <QuickLook symbol />
                                </div>
                            }.into_any()
                            }
                            Content::NotCarried => view! {
                                <Meta name="robots" content="noindex" />
                                <p class="notice" role="alert">
                                    {move || format!("InChart does not carry {} yet. Pick one of the symbols above.", symbol.get())}
                                </p>
                            }.into_any(),
                            Content::NotASymbol => view! {
                                <Meta name="robots" content="noindex" />
                                <main class="page narrow">
                                    <h1>"Unknown symbol"</h1>
                                    <p>{move || format!("\u{201c}{}\u{201d} is not a symbol. A symbol is letters and digits, like BTCUSDT.", symbol_param.get())}</p>
                                    <p><a href=chart_href(&Symbol::default(), Interval::default())>{format!("Open {}", Symbol::default())}</a></p>
                                </main>
                            }.into_any(),
                        }}
                    }
                    .into_any()
                })}
            </Suspense>
        </div>
    }
}

/// Keys 1–6 pick the intervals 1m … 1d, unless the trader is typing.
fn interval_keys(symbol: Memo<Option<Symbol>>, current: Memo<Interval>) {
    use leptos::wasm_bindgen::JsCast;

    let navigate = use_navigate();
    let listener = window_event_listener(leptos::ev::keydown, move |event| {
        if event.ctrl_key() || event.meta_key() || event.alt_key() || event.repeat() {
            return;
        }
        let typing = event
            .target()
            .and_then(|target| target.dyn_into::<leptos::web_sys::Element>().ok())
            .is_some_and(|element| {
                matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                    || element.has_attribute("contenteditable")
            });
        let chosen = event
            .key()
            .parse::<usize>()
            .ok()
            .and_then(|digit| Interval::ALL.get(digit.wrapping_sub(1)).copied());
        if let (false, Some(interval), Some(symbol)) = (typing, chosen, symbol.get_untracked())
            && interval != current.get_untracked()
        {
            navigate(&chart_href(&symbol, interval), Default::default());
        }
    });
    on_cleanup(move || listener.remove());
}
