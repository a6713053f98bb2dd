//! `<Chart>`: the trading-vue-js chart for one series.
//!
//! The server renders the container and a skeleton; in the browser the
//! component loads the chart bundle, fetches the candles from the API and
//! mounts the chart once. A new symbol or interval replaces the candles in
//! the same chart; the container's size and the page's theme are followed;
//! leaving the page destroys the Vue instance and closes the live
//! connection.
//!
//! Live candles arrive over `/ws` ([`super::live`]); scrolling back to
//! within [`HISTORY_MARGIN`] candles of the oldest one loads the
//! [`INITIAL_CANDLES`] before it, one request at a time, until the API has
//! no more.

use inchart_api::market::{Interval, Symbol};
use leptos::prelude::*;

use super::live_feed::FeedIndicator;
use crate::scripts::RunView;

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

/// How many candles the chart asks for at a time: the API's maximum.
pub const INITIAL_CANDLES: u32 = 1000;

/// Older candles are fetched when the view starts this many candles or
/// fewer after the oldest one loaded.
pub const HISTORY_MARGIN: i64 = 100;

/// Script runs drawn over the candles: one per script, each with the
/// script's name. Live runs of the viewer's attached scripts replace their
/// script's entry as they arrive.
pub type ChartSignals = RwSignal<Vec<(String, RunView)>>;

/// Line colours for lines that do not name one, readable on both themes.
pub const LINE_COLOURS: [&str; 6] = ["#0A84FF", "#FF9F0A", "#BF5AF2", "#64D2FF", "#FFD60A", "#FF375F"];

/// The trading-vue-js chart of `symbol` at `interval`. `indicator` shows
/// the state of its live connection; `signals`, when given, are drawn over
/// the candles of their series.
#[component]
pub fn Chart(
    symbol: Signal<Symbol>,
    interval: Signal<Interval>,
    indicator: FeedIndicator,
    #[prop(optional)] signals: Option<ChartSignals>,
) -> impl IntoView {
    let canvas_host = NodeRef::<leptos::html::Div>::new();
    let state = RwSignal::new(ChartState::Loading);
    let signals = signals.unwrap_or_else(|| RwSignal::new(Vec::new()));

    #[cfg(feature = "hydrate")]
    browser::drive(canvas_host, symbol, interval, state, indicator, signals);
    #[cfg(not(feature = "hydrate"))]
    let _ = (indicator, signals);

    view! {
        <section class="chart" data-chart="" data-state=move || state.with(|s| s.as_str()) aria-label="Price chart">
            // Vue owns this element's children; Leptos never renders into it.
            <div class="chart-host" node_ref=canvas_host></div>
            {move || match state.get() {
                // Names what is coming, large, from the server's first paint.
                ChartState::Loading => Some(view! {
                    <div class="chart-skeleton" aria-busy="true">
                        <div>
                            <p class="chart-skeleton-title">{move || format!("{} \u{00b7} {}", symbol.get(), interval.get())}</p>
                            <p>"Loading candles…"</p>
                        </div>
                    </div>
                }.into_any()),
                ChartState::Failed(message) => Some(view! { <div class="chart-error" role="alert">{message}</div> }.into_any()),
                ChartState::Ready => None,
            }}
        </section>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::rc::Rc;

    use chart_bridge::{Chart as BridgeChart, ChartOptions, Ohlcv};
    use inchart_api::error::ApiErrorBody;
    use inchart_api::market::{Candle, CandleSeries, Interval, Symbol};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;

    use super::{ChartState, HISTORY_MARGIN, INITIAL_CANDLES};
    use crate::components::live_feed::socket::LiveSocket;
    use crate::components::live_feed::{FeedIndicator, LiveEdge};
    use crate::theme::use_theme;

    /// The observer that resizes the chart, and the callback it calls.
    type SizeFollower = (web_sys::ResizeObserver, Closure<dyn FnMut()>);

    /// A failed request for older candles is not repeated sooner than this.
    const HISTORY_RETRY_MS: f64 = 5_000.0;

    /// Where older history stands for the series on screen.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum History {
        Idle,
        Loading,
        /// The last request failed at this time (ms since the epoch).
        FailedAt(f64),
        /// The API has nothing older.
        Complete,
    }

    /// The series the chart shows and what it knows about its ends.
    #[derive(Debug, Clone)]
    struct Shown {
        /// Each load gets a number; a slow answer for a series the trader
        /// has already left is dropped instead of overwriting the newer one.
        generation: u64,
        /// `None` while a series is loading: live frames are not drawn then.
        series: Option<(Symbol, Interval)>,
        edge: LiveEdge,
        oldest: Option<i64>,
        history: History,
    }

    pub fn drive(
        host: NodeRef<leptos::html::Div>,
        symbol: Signal<Symbol>,
        interval: Signal<Interval>,
        state: RwSignal<ChartState>,
        indicator: FeedIndicator,
        signals: super::ChartSignals,
    ) {
        let chart = StoredValue::new_local(None::<BridgeChart>);
        let observer = StoredValue::new_local(None::<SizeFollower>);
        let theme = use_theme();
        // Once the component is gone this is gone too, so a load finishing
        // after cleanup mounts nothing.
        let shown = StoredValue::new_local(Shown {
            generation: 0,
            series: None,
            edge: LiveEdge::default(),
            oldest: None,
            history: History::Idle,
        });

        let live = LiveSocket::connect(
            indicator,
            Rc::new(move || shown.try_with_value(|s| s.edge.newest()).flatten()),
            Rc::new(move |symbol: &Symbol, interval: Interval, candles: &[Candle]| {
                apply_live(chart, shown, symbol, interval, candles)
            }),
        );
        live.on_signals(Rc::new(move |name: String, run: crate::scripts::RunView| {
            signals.update(|shown| {
                shown.retain(|(_, old)| old.script_id != run.script_id);
                shown.push((name, run));
            });
        }));
        let live = StoredValue::new_local(Some(live));
        let follow = move |series| {
            live.with_value(|live| {
                if let Some(live) = live {
                    live.follow(series);
                }
            })
        };

        // When the feed switches between simulated and Binance candles the
        // server replaces the series wholesale: so does the chart.
        let source = Memo::new(move |_| indicator.feed.get().source());
        Effect::new(move |_| {
            let symbol = symbol.get();
            let interval = interval.get();
            source.track();
            let Some(element) = host.get() else { return };
            let this_load = shown
                .try_update_value(|s| {
                    s.generation += 1;
                    s.series = None;
                    s.generation
                })
                .unwrap_or_default();
            follow(None);
            state.set(ChartState::Loading);
            spawn_local(async move {
                let loaded = load(&symbol, interval).await;
                if shown.try_with_value(|s| s.generation) != Some(this_load) {
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
                            Ok(mut mounted) => {
                                mounted.on_range_change(move |first, _last| load_older(chart, shown, first));
                                *slot = Some(mounted);
                            }
                            Err(error) => failure = Some(error.to_string()),
                        }
                    }
                });
                if let Some(message) = failure {
                    state.set(ChartState::Failed(message));
                    return;
                }
                shown.update_value(|s| {
                    s.series = Some((symbol.clone(), interval));
                    s.edge = LiveEdge::at(candles.last().map(|c| c.time_ms));
                    s.oldest = candles.first().map(|c| c.time_ms);
                    s.history = if candles.len() < INITIAL_CANDLES as usize {
                        History::Complete
                    } else {
                        History::Idle
                    };
                });
                follow(Some((symbol, interval)));
                state.set(ChartState::Ready);
                follow_size(&element, chart, observer);
            });
        });

        // Script output follows the signals and the series on screen.
        Effect::new(move |_| {
            let ready = state.with(|s| *s == ChartState::Ready);
            let series = (symbol.get(), interval.get());
            let overlays = signals.with(|runs| {
                let on_screen: Vec<_> = runs
                    .iter()
                    .filter(|(_, run)| run.symbol == series.0 && run.interval == series.1)
                    .cloned()
                    .collect();
                overlays_of(&on_screen)
            });
            if !ready {
                return;
            }
            chart.with_value(|slot| {
                if let Some(chart) = slot {
                    chart.set_overlays(&overlays);
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
            if let Some(live) = live.try_update_value(Option::take).flatten() {
                live.close();
            }
            if let Some((observer, _closure)) = observer.try_update_value(Option::take).flatten() {
                observer.disconnect();
            }
            if let Some(chart) = chart.try_update_value(Option::take).flatten() {
                chart.destroy();
            }
        });
    }

    /// Draws the live candles of the series on screen that keep its order.
    /// A hole between the newest candle and a newer one (the server drops
    /// a slow client's oldest waiting candles) is read from the API.
    fn apply_live(
        chart: StoredValue<Option<BridgeChart>, LocalStorage>,
        shown: StoredValue<Shown, LocalStorage>,
        symbol: &Symbol,
        interval: Interval,
        candles: &[Candle],
    ) {
        let mut holes = Vec::new();
        let (admitted, generation): (Vec<Ohlcv>, u64) = shown
            .try_update_value(|s| {
                let on_screen = s
                    .series
                    .as_ref()
                    .is_some_and(|(sym, int)| sym == symbol && *int == interval);
                if !on_screen {
                    return (Vec::new(), s.generation);
                }
                let mut admitted = Vec::new();
                for candle in candles {
                    let before = s.edge.newest();
                    if !s.edge.admit(candle.open_time) {
                        continue;
                    }
                    if let Some(newest) = before
                        && candle.open_time > newest + interval.millis()
                    {
                        holes.push((newest + 1, candle.open_time - 1));
                    }
                    admitted.push(to_ohlcv(candle));
                }
                (admitted, s.generation)
            })
            .unwrap_or_default();
        if admitted.is_empty() {
            return;
        }
        chart.with_value(|slot| {
            if let Some(chart) = slot {
                for candle in &admitted {
                    chart.upsert_candle(candle);
                }
            }
        });
        for (start, end) in holes {
            let url = format!(
                "/api/v1/candles?symbol={symbol}&interval={interval}&start={start}&end={end}&limit={INITIAL_CANDLES}"
            );
            spawn_local(async move {
                let Ok(series) = fetch_series(&url).await else {
                    return;
                };
                if shown.try_with_value(|s| s.generation) != Some(generation) {
                    return;
                }
                chart.with_value(|slot| {
                    if let Some(chart) = slot {
                        // Inserted in order, between the candles around the hole.
                        for candle in series
                            .candles
                            .iter()
                            .filter(|c| (start..=end).contains(&c.open_time))
                        {
                            chart.upsert_candle(&to_ohlcv(candle));
                        }
                    }
                });
            });
        }
    }

    /// Fetches the candles before the oldest one once the view comes near
    /// it, and puts them in front without moving the view.
    fn load_older(
        chart: StoredValue<Option<BridgeChart>, LocalStorage>,
        shown: StoredValue<Shown, LocalStorage>,
        first_visible: i64,
    ) {
        let request = shown
            .try_update_value(|s| {
                let (symbol, interval) = s.series.clone()?;
                let oldest = s.oldest?;
                let ready = match s.history {
                    History::Idle => true,
                    History::FailedAt(at) => js_sys::Date::now() - at > HISTORY_RETRY_MS,
                    History::Loading | History::Complete => false,
                };
                if !ready || first_visible - oldest > HISTORY_MARGIN * interval.millis() {
                    return None;
                }
                s.history = History::Loading;
                Some((symbol, interval, oldest, s.generation))
            })
            .flatten();
        let Some((symbol, interval, oldest, generation)) = request else {
            return;
        };
        spawn_local(async move {
            let url = format!(
                "/api/v1/candles?symbol={symbol}&interval={interval}&end={}&limit={INITIAL_CANDLES}",
                oldest - 1
            );
            let fetched = fetch_within_plan(&url).await;
            let older = shown
                .try_update_value(|s| {
                    if s.generation != generation {
                        return None;
                    }
                    match fetched {
                        // The plan's history ends here.
                        Ok(None) => {
                            s.history = History::Complete;
                            None
                        }
                        Ok(Some(series)) => {
                            // Only what is really older: the chart's own
                            // candles stay as they are.
                            let older: Vec<Ohlcv> = series
                                .candles
                                .iter()
                                .filter(|c| c.open_time < oldest)
                                .map(to_ohlcv)
                                .collect();
                            s.oldest = older.first().map(|c| c.time_ms).or(s.oldest);
                            s.history = if series.candles.len() < INITIAL_CANDLES as usize || older.is_empty()
                            {
                                History::Complete
                            } else {
                                History::Idle
                            };
                            Some(older)
                        }
                        Err(message) => {
                            web_sys::console::warn_1(&format!("InChart: older candles: {message}").into());
                            s.history = History::FailedAt(js_sys::Date::now());
                            None
                        }
                    }
                })
                .flatten();
            if let Some(older) = older.filter(|older| !older.is_empty()) {
                chart.with_value(|slot| {
                    if let Some(chart) = slot {
                        chart.prepend_candles(&older);
                    }
                });
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
        let (bundle, series) = futures::future::join(chart_bridge::load(), fetch_series(&url)).await;
        bundle.map_err(|error| format!("{error}. Reload the page to try again."))?;
        Ok(series?.candles.iter().map(to_ohlcv).collect())
    }

    /// One `GET /api/v1/candles`; the message is for the trader.
    async fn fetch_series(url: &str) -> Result<CandleSeries, String> {
        fetch_within_plan(url)
            .await?
            .ok_or_else(|| "Candles could not be loaded.".to_string())
    }

    /// Like [`fetch_series`], but `None` when the read reaches past the
    /// history the trader's plan shows (402): there is nothing older to ask for.
    async fn fetch_within_plan(url: &str) -> Result<Option<CandleSeries>, String> {
        let response = gloo_net::http::Request::get(url)
            .send()
            .await
            .map_err(|_| "The server could not be reached. Check your connection and reload.".to_string())?;
        if response.status() == 402 {
            return Ok(None);
        }
        if !response.ok() {
            let reason = match response.json::<ApiErrorBody>().await {
                Ok(body) => body.error.message,
                Err(_) => format!("the server answered {}", response.status()),
            };
            return Err(format!("Candles could not be loaded: {reason}."));
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|_| "The server sent candles this page cannot read. Reload the page.".to_string())
    }

    /// trading-vue-js overlays for script runs: a `Trades` overlay of each
    /// script's markers and a `Spline` for each of its lines.
    pub fn overlays_of(runs: &[(String, crate::scripts::RunView)]) -> Vec<chart_bridge::Overlay> {
        let mut overlays = Vec::new();
        let mut colour = 0;
        for (name, run) in runs {
            let Ok(output) = &run.result else { continue };
            for line in &output.lines {
                let color = line.color.clone().unwrap_or_else(|| {
                    colour += 1;
                    super::LINE_COLOURS[(colour - 1) % super::LINE_COLOURS.len()].to_string()
                });
                overlays.push(chart_bridge::Overlay {
                    name: line.name.clone(),
                    kind: "Spline".into(),
                    rows: line.points.iter().map(|&(t, v)| vec![t as f64, v]).collect(),
                    labels: Vec::new(),
                    settings_json: serde_json::json!({ "color": color, "lineWidth": 1.5 }).to_string(),
                });
            }
            if !output.markers.is_empty() {
                overlays.push(chart_bridge::Overlay {
                    name: name.clone(),
                    kind: "Trades".into(),
                    rows: output
                        .markers
                        .iter()
                        .map(|m| {
                            let side = if m.side == crate::scripts::Side::Buy {
                                1.0
                            } else {
                                0.0
                            };
                            vec![m.time as f64, side, m.price]
                        })
                        .collect(),
                    labels: output.markers.iter().map(|m| m.label.clone()).collect(),
                    settings_json: serde_json::json!({
                        "showLabel": true,
                        "buyColor": "#30D158",
                        "sellColor": "#FF453A",
                        "markerSize": 6,
                    })
                    .to_string(),
                });
            }
        }
        overlays
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
