//! `<Chart>`: the trading-vue-js chart for one series.
//!
//! The server renders the container and a skeleton; in the browser the
//! component loads the chart bundle, fetches the candles from the API and
//! mounts the chart once. A new symbol or interval replaces the candles in
//! the same chart; the container's size and the page's theme are followed;
//! leaving the page destroys the Vue instance.

use leptos::prelude::*;

use crate::market::{Interval, Symbol};

/// What the trader sees while the chart is not drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum ChartState {
    Loading,
    Ready,
    Failed(String),
}

impl ChartState {
    fn as_str(&self) -> &'static str {
        match self {
            ChartState::Loading => "loading",
            ChartState::Ready => "ready",
            ChartState::Failed(_) => "failed",
        }
    }
}

/// How many candles the chart asks for at first: the API's maximum.
pub const INITIAL_CANDLES: u32 = 1000;

#[component]
pub fn Chart(symbol: Signal<Symbol>, interval: Signal<Interval>) -> impl IntoView {
    let canvas_host = NodeRef::<leptos::html::Div>::new();
    let state = RwSignal::new(ChartState::Loading);

    #[cfg(feature = "hydrate")]
    browser::drive(canvas_host, symbol, interval, state);
    #[cfg(not(feature = "hydrate"))]
    let _ = (symbol, interval);

    view! {
        <section class="chart" data-chart="" data-state=move || state.with(|s| s.as_str()) aria-label="Price chart">
            // Vue owns this element's children; Leptos never renders into it.
            <div class="chart-host" node_ref=canvas_host></div>
            {move || match state.get() {
                ChartState::Loading => Some(view! { <div class="chart-skeleton" aria-busy="true">"Loading candles…"</div> }.into_any()),
                ChartState::Failed(message) => Some(view! { <div class="chart-error" role="alert">{message}</div> }.into_any()),
                ChartState::Ready => None,
            }}
        </section>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use chart_bridge::{Chart as BridgeChart, ChartOptions, Ohlcv};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;

    use super::{ChartState, INITIAL_CANDLES};
    use crate::market::{ApiErrorBody, Candle, CandleSeries, Interval, Symbol};
    use crate::theme::use_theme;

    /// The observer that resizes the chart, and the callback it calls.
    type SizeFollower = (web_sys::ResizeObserver, Closure<dyn FnMut()>);

    pub fn drive(
        host: NodeRef<leptos::html::Div>,
        symbol: Signal<Symbol>,
        interval: Signal<Interval>,
        state: RwSignal<ChartState>,
    ) {
        let chart = StoredValue::new_local(None::<BridgeChart>);
        let observer = StoredValue::new_local(None::<SizeFollower>);
        let theme = use_theme();
        // Each load gets a number; a slow answer for a symbol the trader has
        // already left is dropped instead of overwriting the newer one. Once
        // the component is gone the number is gone too, so a load finishing
        // after cleanup mounts nothing.
        let generation = StoredValue::new(0_u64);

        Effect::new(move |_| {
            let symbol = symbol.get();
            let interval = interval.get();
            let Some(element) = host.get() else { return };
            let this_load = generation.get_value() + 1;
            generation.set_value(this_load);
            state.set(ChartState::Loading);
            spawn_local(async move {
                let loaded = load(&symbol, interval).await;
                if generation.try_get_value() != Some(this_load) {
                    return;
                }
                let candles = match loaded {
                    Ok(candles) => candles,
                    Err(message) => {
                        state.set(ChartState::Failed(message));
                        return;
                    }
                };
                let title = format!("{symbol} · {interval}");
                let mut failure = None;
                chart.update_value(|slot| match slot {
                    Some(existing) => {
                        existing.set_title(&title);
                        existing.set_candles(&candles);
                    }
                    None => {
                        let html: &web_sys::HtmlElement = element.unchecked_ref();
                        let options = ChartOptions {
                            width: f64::from(html.client_width().max(1)),
                            height: f64::from(html.client_height().max(1)),
                            theme: theme.get_untracked(),
                            title,
                        };
                        match BridgeChart::mount(html, &options, &candles) {
                            Ok(mounted) => *slot = Some(mounted),
                            Err(error) => failure = Some(error.to_string()),
                        }
                    }
                });
                match failure {
                    Some(message) => state.set(ChartState::Failed(message)),
                    None => {
                        state.set(ChartState::Ready);
                        follow_size(&element, chart, observer);
                    }
                }
            });
        });

        Effect::new(move |_| {
            let theme = theme.get();
            chart.with_value(|slot| {
                if let Some(chart) = slot {
                    chart.set_theme(theme);
                }
            });
        });

        on_cleanup(move || {
            if let Some((observer, _closure)) = observer.try_update_value(Option::take).flatten() {
                observer.disconnect();
            }
            if let Some(chart) = chart.try_update_value(Option::take).flatten() {
                chart.destroy();
            }
        });
    }

    /// Resizes the chart with its container, once per chart.
    fn follow_size(
        element: &web_sys::HtmlDivElement,
        chart: StoredValue<Option<BridgeChart>, LocalStorage>,
        observer: StoredValue<Option<SizeFollower>, LocalStorage>,
    ) {
        if observer.with_value(Option::is_some) {
            return;
        }
        let watched = element.clone();
        let on_resize = Closure::<dyn FnMut()>::new(move || {
            let (width, height) = (watched.client_width(), watched.client_height());
            if width > 0 && height > 0 {
                chart.with_value(|slot| {
                    if let Some(chart) = slot {
                        chart.resize(f64::from(width), f64::from(height));
                    }
                });
            }
        });
        if let Ok(resize_observer) = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()) {
            resize_observer.observe(element);
            observer.set_value(Some((resize_observer, on_resize)));
        }
    }

    /// Loads the bundle and the candles together; the message is for the
    /// trader.
    async fn load(symbol: &Symbol, interval: Interval) -> Result<Vec<Ohlcv>, String> {
        let url = format!("/api/v1/candles?symbol={symbol}&interval={interval}&limit={INITIAL_CANDLES}");
        let (bundle, response) =
            futures::future::join(chart_bridge::load(), gloo_net::http::Request::get(&url).send()).await;
        bundle.map_err(|error| format!("{error}. Reload the page to try again."))?;
        let response = response
            .map_err(|_| "The server could not be reached. Check your connection and reload.".to_string())?;
        if !response.ok() {
            let reason = match response.json::<ApiErrorBody>().await {
                Ok(body) => body.error.message,
                Err(_) => format!("the server answered {}", response.status()),
            };
            return Err(format!("Candles could not be loaded: {reason}."));
        }
        let series: CandleSeries = response
            .json()
            .await
            .map_err(|_| "The server sent candles this page cannot read. Reload the page.".to_string())?;
        Ok(series.candles.iter().map(to_ohlcv).collect())
    }

    fn to_ohlcv(candle: &Candle) -> Ohlcv {
        Ohlcv {
            time_ms: candle.open_time,
            open: candle.open,
            high: candle.high,
            low: candle.low,
            close: candle.close,
            volume: candle.volume,
        }
    }
}
