//! `/charts?c=BTCUSDT:1h,ETHUSDT:15m&sync=crosshair,time`: 1, 2 or 4 live
//! charts on one page, each of its own symbol and interval, their
//! crosshair and time range following each other when asked. The address
//! holds the whole layout, so it can be shared; a signed-in trader's
//! layout is kept by the account too, and `/charts` alone opens it.

use std::collections::HashSet;

use inchart_api::charts::{Layout, LayoutChart};
use inchart_api::market::{Interval, Symbol};
use inchart_api::paths::chart_href;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::PageError;
use crate::components::account::{AccountLink, page_session};
use crate::components::chart::{Chart, ChartExtras, ChartSignals, ChartSync};
use crate::components::chart_drawings::DrawingHome;
use crate::components::chart_layers::ChartLayers;
use crate::components::chart_panes::pane_view;
use crate::components::live_feed::{FeedIndicator, FeedStatusIndicator};
use crate::markets::get_market_overview;
use crate::seo::Seo;
use crate::theme::ThemeToggle;

/// What `/charts` shows without a layout in its address or the account.
fn default_layout() -> Layout {
    let chart = |symbol: &str| LayoutChart {
        symbol: Symbol::parse(symbol).unwrap_or_default(),
        interval: Interval::default(),
    };
    Layout {
        charts: vec![chart("BTCUSDT"), chart("ETHUSDT")],
        sync_crosshair: true,
        sync_time: false,
    }
}

/// The layout an address describes; `None` without a readable `c`.
fn layout_of(charts: Option<String>, sync: Option<String>) -> Option<Layout> {
    let charts = Layout::parse_charts(&charts?)?;
    let sync = sync.unwrap_or_default();
    let flags: HashSet<&str> = sync.split(',').collect();
    Some(Layout {
        charts,
        sync_crosshair: flags.contains("crosshair"),
        sync_time: flags.contains("time"),
    })
}

/// The address of a layout.
pub fn layout_path(layout: &Layout) -> String {
    let mut sync = Vec::new();
    if layout.sync_crosshair {
        sync.push("crosshair");
    }
    if layout.sync_time {
        sync.push("time");
    }
    let mut path = format!("/charts?c={}", layout.charts_param());
    if !sync.is_empty() {
        path.push_str("&sync=");
        path.push_str(&sync.join(","));
    }
    path
}

/// `layout` with `count` charts: the first ones kept, new ones filled in
/// with symbols not shown yet.
fn resized(layout: &Layout, count: usize, symbols: &[Symbol]) -> Layout {
    let mut charts: Vec<LayoutChart> = layout.charts.iter().take(count).cloned().collect();
    let interval = charts.first().map(|c| c.interval).unwrap_or_default();
    for symbol in symbols {
        if charts.len() >= count {
            break;
        }
        if !charts.iter().any(|c| c.symbol == *symbol) {
            charts.push(LayoutChart {
                symbol: symbol.clone(),
                interval,
            });
        }
    }
    while charts.len() < count {
        charts.push(charts.last().cloned().unwrap_or(LayoutChart {
            symbol: Symbol::default(),
            interval,
        }));
    }
    Layout {
        charts,
        ..layout.clone()
    }
}

#[component]
pub fn ChartsPage() -> impl IntoView {
    let query = use_query_map();
    let from_address = Memo::new(move |_| query.with(|q| layout_of(q.get("c"), q.get("sync"))));
    let layout = Memo::new(move |_| from_address.get().unwrap_or_else(default_layout));
    let overview = Resource::new(|| (), |_| get_market_overview());

    let navigate = use_navigate();
    let go = StoredValue::new(move |layout: Layout| {
        navigate(
            &layout_path(&layout),
            leptos_router::NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    });

    view! {
        <Seo title=|| "Chart layout · InChart".to_string() description=|| "Several live crypto charts side by side.".to_string() path=|| "/charts".to_string() />
        <Meta name="robots" content="noindex" />
        <div class="trading-view layout-view">
            <Suspense fallback=|| view! { <header class="top-bar skeleton" aria-busy="true"></header> }>
                {move || Suspend::new(async move {
                    let overview = match overview.await {
                        Ok(overview) => overview,
                        Err(error) => {
                            return view! {
                                <p class="notice" role="alert">{PageError::from_server_fn_error(&error).to_string()}</p>
                            }
                            .into_any();
                        }
                    };
                    let session = page_session().await;
                    let csrf = session.viewer.is_some().then(|| session.csrf.clone());
                    #[cfg(feature = "hydrate")]
                    browser::keep_layout(csrf.clone(), from_address, go);
                    let symbols = overview.symbols.clone();
                    let indicators: Vec<FeedIndicator> = (0..4).map(|_| FeedIndicator::new(overview.status)).collect();
                    let cursor = RwSignal::new(None);
                    let range = RwSignal::new(None);
                    let crosshair = Signal::derive(move || layout.with(|l| l.sync_crosshair));
                    let time = Signal::derive(move || layout.with(|l| l.sync_time));
                    let panes = pane_view();
                    // Only a new count rebuilds the cells: a new symbol or
                    // interval flows into the same charts through signals.
                    let count = Memo::new(move |_| layout.with(|l| l.charts.len()));

                    // One handler for the bar and one for the cells, reading
                    // what was used from its data- attributes (no closure
                    // per control keeps the WebAssembly small).
                    let on_bar = {
                        let symbols = symbols.clone();
                        move |event: leptos::ev::MouseEvent| {
                            let Some(control) = target_element(&event) else { return };
                            let mut next = layout.get_untracked();
                            if let Some(n) = control.get_attribute("data-count").and_then(|n| n.parse().ok()) {
                                next = resized(&next, n, &symbols);
                            } else if let Some(which) = control.get_attribute("data-sync") {
                                if which == "crosshair" {
                                    next.sync_crosshair = !next.sync_crosshair;
                                } else {
                                    next.sync_time = !next.sync_time;
                                }
                            } else {
                                return;
                            }
                            go.with_value(|go| go(next));
                        }
                    };
                    let on_cell = move |event: leptos::ev::Event| {
                        let Some(select) = target_element(&event) else { return };
                        let Some(index) = select.get_attribute("data-cell").and_then(|n| n.parse::<usize>().ok()) else {
                            return;
                        };
                        let value = event_target_value(&event);
                        let mut next = layout.get_untracked();
                        let Some(chart) = next.charts.get_mut(index) else { return };
                        match select.get_attribute("data-field").as_deref() {
                            Some("symbol") => match Symbol::parse(&value) {
                                Ok(symbol) => chart.symbol = symbol,
                                Err(_) => return,
                            },
                            Some("interval") => match value.parse::<Interval>() {
                                Ok(interval) => chart.interval = interval,
                                Err(_) => return,
                            },
                            _ => return,
                        }
                        go.with_value(|go| go(next));
                    };

                    let count_buttons = [1usize, 2, 4]
                        .into_iter()
                        .map(|n| view! {
                            <button type="button" class="segment" data-count=n aria-pressed=move || (count.get() == n).to_string()>
                                {n}
                            </button>
                        })
                        .collect_view();
                    // Symbols and intervals are letters and digits only, so
                    // their options are written as HTML once, for every cell.
                    let options = |values: Vec<String>| -> String {
                        values.iter().map(|v| format!("<option value=\"{v}\">{v}</option>")).collect()
                    };
                    let symbol_options = StoredValue::new(options(symbols.iter().map(|s| s.to_string()).collect()));
                    let interval_options =
                        StoredValue::new(options(Interval::ALL.iter().map(|i| i.to_string()).collect()));

                    let cells = move || {
                        (0..count.get())
                            .map(|index| {
                                let symbol = Signal::derive(move || {
                                    layout.with(|l| l.charts.get(index).map(|c| c.symbol.clone()).unwrap_or_default())
                                });
                                let interval = Signal::derive(move || {
                                    layout.with(|l| l.charts.get(index).map(|c| c.interval).unwrap_or_default())
                                });
                                let signals: ChartSignals = RwSignal::new(Vec::new());
                                let hidden = RwSignal::new(HashSet::new());
                                let extras = ChartExtras {
                                    hidden: Some(hidden),
                                    panes: Some(panes),
                                    drawings: Some(match &csrf {
                                        Some(csrf) => DrawingHome::Account { csrf: csrf.clone() },
                                        None => DrawingHome::Browser,
                                    }),
                                    sync: Some(ChartSync { index, crosshair, time, cursor, range }),
                                    backtest: None,
                                    alerts: None,
                                };
                                let indicator = indicators[index];
                                let layers_csrf = csrf.clone();
                                view! {
                                    <div class="layout-cell" data-cell=index>
                                        <div class="cell-bar">
                                            <select
                                                aria-label=format!("Symbol of chart {}", index + 1)
                                                data-cell=index
                                                data-field="symbol"
                                                inner_html=symbol_options.get_value()
                                                prop:value=move || symbol.get().to_string()
                                            ></select>
                                            <select
                                                aria-label=format!("Interval of chart {}", index + 1)
                                                data-cell=index
                                                data-field="interval"
                                                inner_html=interval_options.get_value()
                                                prop:value=move || interval.get().to_string()
                                            ></select>
                                            <FeedStatusIndicator indicator />
                                            <a class="cell-open" href=move || chart_href(&symbol.get(), interval.get())>"Open"</a>
                                        </div>
                                        <Chart symbol interval indicator signals extras>
                                            <ChartLayers symbol interval signals hidden panes csrf=layers_csrf />
                                        </Chart>
                                    </div>
                                }
                            })
                            .collect_view()
                    };

                    view! {
                        <header class="top-bar" on:click=on_bar>
                            <a class="brand" href="/">"InChart"</a>
                            <h1 class="symbol">"Layout"</h1>
                            <div class="segmented" role="group" aria-label="Charts on the page">{count_buttons}</div>
                            <label class="choice">
                                <input type="checkbox" data-sync="crosshair" prop:checked=crosshair />
                                "Sync crosshair"
                            </label>
                            <label class="choice">
                                <input type="checkbox" data-sync="time" prop:checked=time />
                                "Sync time"
                            </label>
                            <a class="nav-link" href="/scripts" rel="external">"Scripts"</a>
                            <AccountLink />
                            <ThemeToggle />
                        </header>
                        <div class="chart-grid" data-count=move || count.get().to_string() on:change=on_cell>{cells}</div>
                    }
                    .into_any()
                })}
            </Suspense>
        </div>
    }
}

/// The element an event happened on.
fn target_element(event: &leptos::ev::Event) -> Option<leptos::web_sys::Element> {
    use leptos::wasm_bindgen::JsCast;

    event.target()?.dyn_into::<leptos::web_sys::Element>().ok()
}

#[cfg(feature = "hydrate")]
mod browser {
    use inchart_api::charts::Layout;
    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use crate::api_client::{get, send};

    /// A signed-in trader's layout: `/charts` alone opens the saved one,
    /// and every change is saved.
    pub fn keep_layout(
        csrf: Option<String>,
        from_address: Memo<Option<Layout>>,
        go: StoredValue<impl Fn(Layout) + Send + Sync + 'static>,
    ) {
        let Some(csrf) = csrf else { return };
        if from_address.get_untracked().is_none() {
            spawn_local(async move {
                if let Ok(Some(saved)) = get::<Option<Layout>>("/api/v1/chart/layout").await
                    && saved.is_valid()
                    && from_address.get_untracked().is_none()
                {
                    go.with_value(|go| go(saved));
                }
            });
        }
        Effect::new(move |previous: Option<()>| {
            let Some(chosen) = from_address.get() else { return };
            if previous.is_none() {
                // Opening a shared address does not overwrite the saved layout.
                return;
            }
            let csrf = csrf.clone();
            spawn_local(async move {
                let body = serde_json::to_string(&chosen).unwrap_or_default();
                let request = gloo_net::http::Request::put("/api/v1/chart/layout");
                if let Err(message) = send::<serde_json::Value>(request, &csrf, Some(body)).await {
                    web_sys::console::warn_1(&format!("InChart: the layout was not saved: {message}").into());
                }
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_and_its_address_read_each_other() {
        let layout = layout_of(Some("BTCUSDT:1h,ETHUSDT:15m".into()), Some("time".into())).unwrap();
        assert!(layout.sync_time && !layout.sync_crosshair);
        assert_eq!(layout_path(&layout), "/charts?c=BTCUSDT:1h,ETHUSDT:15m&sync=time");
        assert!(layout_of(Some("BTCUSDT:1h,ETHUSDT:15m,SOLUSDT:1h".into()), None).is_none());
        assert!(layout_of(None, None).is_none());
    }

    #[test]
    fn growing_a_layout_adds_symbols_not_shown_yet() {
        let symbols: Vec<Symbol> = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]
            .into_iter()
            .map(|s| Symbol::parse(s).unwrap())
            .collect();
        let two = default_layout();
        let four = resized(&two, 4, &symbols);
        let shown: Vec<_> = four.charts.iter().map(|c| c.symbol.to_string()).collect();
        assert_eq!(shown, ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]);
        assert_eq!(resized(&four, 1, &symbols).charts.len(), 1);
    }
}
