//! `<Chart>`: the trading-vue-js chart for one series.
//!
//! The server renders the container and a skeleton; in the browser the
//! component loads the chart bundle, fetches the candles from the API and
//! mounts the chart once. A new symbol or interval replaces the candles in
//! the same chart; the container's size and the page's theme are followed;
//! leaving the page destroys the Vue instance and closes the live
//! connection.
//!
//! Live candles arrive over `/ws` ([`super::live_feed`]); scrolling back
//! to within [`HISTORY_MARGIN`] candles of the oldest one loads the
//! [`INITIAL_CANDLES`] before it, one request at a time, until the API has
//! no more (the chart says so), or the plan's history ends.
//!
//! Scripts' runs are drawn by [`super::chart_panes`]: price-scale lines
//! and markers over the candles, oscillators in panes under them. A
//! backtest's trades, equity and drawdown are [`super::chart_backtest`]'s.
//! The drawing tools keep their drawings through [`super::chart_drawings`];
//! a signed-in trader's price alerts are lines too ([`super::chart_alerts`]).
//! Several charts on one page can share their crosshair and time range
//! ([`ChartSync`]).

use std::collections::HashSet;

use inchart_api::market::{Interval, Symbol};
use leptos::prelude::*;

use super::chart_alerts::ChartAlerts;
use super::chart_backtest::BacktestLayer;
use super::chart_drawings::DrawingHome;
pub use super::chart_panes::LINE_COLOURS;
use super::chart_panes::PaneView;
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

/// Where scrolling back stands, as the chart shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryBadge {
    None,
    /// Older candles are on their way.
    Loading,
    /// The view reached the oldest candle there is (or the plan shows).
    Start,
}

impl HistoryBadge {
    fn as_str(self) -> &'static str {
        match self {
            HistoryBadge::None => "",
            HistoryBadge::Loading => "loading",
            HistoryBadge::Start => "start",
        }
    }
}

/// Charts on one page that follow each other: the crosshair of the one
/// under the pointer shows on all, and scrolling one moves all to the same
/// time, each when switched on.
#[derive(Debug, Clone, Copy)]
pub struct ChartSync {
    /// This chart's place on the page.
    pub index: usize,
    pub crosshair: Signal<bool>,
    pub time: Signal<bool>,
    /// The chart under the pointer and the time there.
    pub cursor: RwSignal<Option<(usize, i64)>>,
    /// The chart scrolled last and its visible range.
    pub range: RwSignal<Option<(usize, i64, i64)>>,
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

/// What a chart shows beside its candles, all optional.
#[derive(Clone, Default)]
pub struct ChartExtras {
    /// Scripts (by id) whose runs are not drawn.
    pub hidden: Option<RwSignal<HashSet<String>>>,
    /// The trader's arrangement of panes; the browser's own when absent.
    pub panes: Option<RwSignal<PaneView>>,
    /// Drawing tools, and where the drawings are kept.
    pub drawings: Option<DrawingHome>,
    pub sync: Option<ChartSync>,
    /// A backtest: its trades over the candles, its equity and drawdown
    /// in panes, and where the chart should look.
    pub backtest: Option<BacktestLayer>,
    /// The signed-in trader's price alerts on the series, as lines.
    pub alerts: Option<ChartAlerts>,
}

/// The trading-vue-js chart of `symbol` at `interval`. `indicator` shows
/// the state of its live connection; `extras` are what else it draws and
/// whom it follows; `children` are controls shown over its top right.
#[component]
pub fn Chart(
    symbol: Signal<Symbol>,
    interval: Signal<Interval>,
    indicator: FeedIndicator,
    #[prop(optional)] signals: Option<ChartSignals>,
    #[prop(optional)] extras: ChartExtras,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let canvas_host = NodeRef::<leptos::html::Div>::new();
    let state = RwSignal::new(ChartState::Loading);
    let badge = RwSignal::new(HistoryBadge::None);
    let notice = RwSignal::new(None::<String>);
    let signals = signals.unwrap_or_else(|| RwSignal::new(Vec::new()));

    #[cfg(feature = "hydrate")]
    browser::drive(
        browser::Parts {
            host: canvas_host,
            symbol,
            interval,
            state,
            badge,
            notice,
            indicator,
            signals,
        },
        extras,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (indicator, signals, extras, notice);

    view! {
        <section
            class="chart"
            data-chart=""
            data-state=move || state.with(|s| s.as_str())
            data-history=move || badge.get().as_str()
            aria-label="Price chart"
        >
            // Vue owns this element's children; Leptos never renders into it.
            <div class="chart-host" node_ref=canvas_host></div>
            {move || match badge.get() {
                HistoryBadge::Loading => Some(view! {
                    <p class="chart-badge" role="status" aria-live="polite">"Loading older candles…"</p>
                }.into_any()),
                HistoryBadge::Start => Some(view! {
                    <p class="chart-badge" role="status">"Start of history"</p>
                }.into_any()),
                HistoryBadge::None => None,
            }}
            {move || notice.get().map(|message| view! {
                <p class="chart-notice" role="alert">
                    {message}
                    <button type="button" class="link-button" on:click=move |_| notice.set(None)>"Dismiss"</button>
                </p>
            })}
            {children.map(|children| view! { <div class="chart-controls">{children()}</div> })}
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
    use std::collections::HashSet;
    use std::rc::Rc;

    use chart_bridge::{Chart as BridgeChart, ChartOptions, Ohlcv, PaneEvent};
    use inchart_api::error::ApiErrorBody;
    use inchart_api::market::{Candle, CandleSeries, Interval, Symbol};
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;

    use super::{ChartExtras, ChartState, ChartSync, HISTORY_MARGIN, HistoryBadge, INITIAL_CANDLES};
    use crate::components::chart_backtest::{self, BacktestLayer};
    use crate::components::chart_drawings;
    use crate::components::chart_panes::{PaneView, drawn_of};
    use crate::components::live_feed::socket::LiveSocket;
    use crate::components::live_feed::{FeedIndicator, LiveEdge};
    use crate::theme::use_theme;

    /// The observer that resizes the chart, and the callback it calls.
    type SizeFollower = (web_sys::ResizeObserver, Closure<dyn FnMut()>);

    /// The mounted chart, shared by the chart's parts.
    pub type Slot = StoredValue<Option<BridgeChart>, LocalStorage>;

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

    type ShownValue = StoredValue<Shown, LocalStorage>;

    /// The chart's own signals and nodes.
    pub struct Parts {
        pub host: NodeRef<leptos::html::Div>,
        pub symbol: Signal<Symbol>,
        pub interval: Signal<Interval>,
        pub state: RwSignal<ChartState>,
        pub badge: RwSignal<HistoryBadge>,
        pub notice: RwSignal<Option<String>>,
        pub indicator: FeedIndicator,
        pub signals: super::ChartSignals,
    }

    pub fn drive(parts: Parts, extras: ChartExtras) {
        let Parts {
            host,
            symbol,
            interval,
            state,
            badge,
            notice,
            indicator,
            signals,
        } = parts;
        let chart: Slot = StoredValue::new_local(None::<BridgeChart>);
        let observer = StoredValue::new_local(None::<SizeFollower>);
        let theme = use_theme();
        let hidden = extras.hidden.unwrap_or_else(|| RwSignal::new(HashSet::new()));
        let alerts = extras.alerts;
        let panes = extras
            .panes
            .unwrap_or_else(crate::components::chart_panes::pane_view);
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
                apply_live(chart, shown, symbol, interval, candles);
                if let Some(alerts) = alerts {
                    chart.with_value(|slot| {
                        if let Some(chart) = slot {
                            alerts.follow_price(chart);
                        }
                    });
                }
            }),
        );
        live.on_signals(Rc::new(move |name: String, run: crate::scripts::RunView| {
            signals.update(|shown| {
                shown.retain(|(_, old)| old.script_id != run.script_id);
                shown.push((name, run));
            });
        }));
        let drawings = extras
            .drawings
            .map(|home| chart_drawings::Drawings::new(home, chart, symbol, notice));
        if let Some(drawings) = drawings {
            live.on_drawing(Rc::new(move |change| drawings.apply_remote(change)));
        }
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
            badge.set(HistoryBadge::None);
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
                                let sync = extras.sync;
                                mounted.on_range_change(move |first, last| {
                                    load_older(chart, shown, badge, first);
                                    if let Some(sync) = sync
                                        && sync.time.get_untracked()
                                    {
                                        sync.range.set(Some((sync.index, first, last)));
                                    }
                                });
                                mounted.on_pane_event(move |event| match event {
                                    PaneEvent::Closed(name) => panes.update(|view| view.close(&name)),
                                    PaneEvent::Heights(heights) => {
                                        panes.update(|view| view.remember_heights(heights))
                                    }
                                });
                                if let Some(sync) = sync {
                                    mounted.on_cursor(move |time| {
                                        if sync.crosshair.get_untracked() {
                                            sync.cursor.set(time.map(|time| (sync.index, time)));
                                        }
                                    });
                                }
                                if let Some(drawings) = drawings {
                                    drawings.enable(&mut mounted);
                                }
                                if let Some(alerts) = alerts {
                                    alerts.follow_drags(&mut mounted);
                                }
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
                // The first candles drawn, on the browser's performance
                // timeline (the chart page's benchmark reads it).
                if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
                    let _ = performance.mark("inchart:chart-ready");
                }
                follow_size(&element, chart, observer);
                // A short series, or a tall view, may start at the oldest
                // candle already.
                if let Some((first, _)) =
                    chart.with_value(|slot| slot.as_ref().and_then(BridgeChart::visible_range))
                {
                    load_older(chart, shown, badge, first);
                }
                if let Some(drawings) = drawings {
                    drawings.load();
                }
            });
        });

        // Script output follows the signals, the layers shown and the
        // series on screen; the panes follow the trader's arrangement.
        Effect::new(move |_| {
            let ready = state.with(|s| *s == ChartState::Ready);
            let series = (symbol.get(), interval.get());
            let (closed, heights, volume) = panes.with(|view: &PaneView| {
                (
                    view.closed.iter().cloned().collect::<HashSet<_>>(),
                    view.heights.clone(),
                    view.volume,
                )
            });
            let mut drawn = hidden.with(|hidden| {
                signals.with(|runs| {
                    let on_screen: Vec<_> = runs
                        .iter()
                        .filter(|(_, run)| {
                            run.symbol == series.0
                                && run.interval == series.1
                                && !hidden.contains(&run.script_id)
                        })
                        .cloned()
                        .collect();
                    drawn_of(&on_screen, &closed)
                })
            });
            if let Some(layer) = extras.backtest {
                let panes = layer.shown.with(|shown| {
                    shown
                        .as_deref()
                        .filter(|backtest| chart_backtest::drawn_on(backtest, &series.0, series.1))
                        .map(chart_backtest::backtest_panes)
                        .unwrap_or_default()
                });
                drawn
                    .panes
                    .extend(panes.into_iter().filter(|pane| !closed.contains(&pane.name)));
            }
            if !ready {
                return;
            }
            chart.with_value(|slot| {
                if let Some(chart) = slot {
                    chart.set_overlays(&drawn.overlays);
                    chart.set_price_levels(&drawn.price_levels);
                    chart.set_panes(&drawn.panes);
                    chart.set_pane_heights(&heights);
                    chart.set_volume(volume.mode());
                }
            });
        });

        if let Some(sync) = extras.sync {
            follow_others(chart, state, sync);
        }
        if let Some(layer) = extras.backtest {
            draw_backtest(chart, host, state, symbol, interval, layer);
        }
        if let Some(alerts) = alerts {
            crate::components::chart_alerts::draw(chart, state, symbol, interval, alerts);
        }

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

    /// Shows the other charts' crosshair and time range on this one, each
    /// while its sync is on.
    fn follow_others(chart: Slot, state: RwSignal<ChartState>, sync: ChartSync) {
        Effect::new(move |_| {
            let ready = state.with(|s| *s == ChartState::Ready);
            let cursor = sync.cursor.get();
            if !ready {
                return;
            }
            let time = match cursor {
                Some((index, time)) if index != sync.index && sync.crosshair.get_untracked() => Some(time),
                _ => None,
            };
            chart.with_value(|slot| {
                if let Some(chart) = slot {
                    chart.set_cursor(time);
                }
            });
        });
        Effect::new(move |_| {
            let ready = state.with(|s| *s == ChartState::Ready);
            if let (true, Some((index, first, last))) = (ready, sync.range.get())
                && index != sync.index
                && sync.time.get_untracked()
            {
                chart.with_value(|slot| {
                    if let Some(chart) = slot {
                        chart.set_range(first, last);
                    }
                });
            }
        });
    }

    /// Draws a backtest's trades on its own series, the trade the trader
    /// points at stronger, and moves the view to each new focus (once the
    /// chart is ready, when it comes while the series loads).
    fn draw_backtest(
        chart: Slot,
        host: NodeRef<leptos::html::Div>,
        state: RwSignal<ChartState>,
        symbol: Signal<Symbol>,
        interval: Signal<Interval>,
        layer: BacktestLayer,
    ) {
        Effect::new(move |_| {
            let ready = state.with(|s| *s == ChartState::Ready);
            let (symbol, interval) = (symbol.get(), interval.get());
            let marks = layer.shown.with(|shown| {
                shown
                    .as_deref()
                    .filter(|backtest| chart_backtest::drawn_on(backtest, &symbol, interval))
                    .map(chart_backtest::trade_marks)
                    .unwrap_or_default()
            });
            if ready {
                chart.with_value(|slot| {
                    if let Some(chart) = slot {
                        chart.set_trades(&marks);
                        chart.highlight_trade(layer.highlight.get_untracked());
                    }
                });
            }
        });
        Effect::new(move |_| {
            let highlight = layer.highlight.get();
            if state.with(|s| *s == ChartState::Ready) {
                chart.with_value(|slot| {
                    if let Some(chart) = slot {
                        chart.highlight_trade(highlight);
                    }
                });
            }
        });
        // The focus moved to last, so that a series loading again does not
        // bring an old one back.
        let applied = StoredValue::new_local(None::<u32>);
        Effect::new(move |_| {
            let ready = state.with(|s| *s == ChartState::Ready);
            let Some(focus) = layer.focus.get() else { return };
            if !ready || applied.get_value() == Some(focus.seq) {
                return;
            }
            applied.set_value(Some(focus.seq));
            chart.with_value(|slot| {
                if let Some(chart) = slot {
                    chart.go_to(focus.time);
                }
            });
            // On a phone the chart may be above the fold: bring it in.
            if let Some(element) = host.get_untracked() {
                let options = web_sys::ScrollIntoViewOptions::new();
                options.set_block(web_sys::ScrollLogicalPosition::Nearest);
                element.scroll_into_view_with_scroll_into_view_options(&options);
            }
        });
    }

    /// Draws the live candles of the series on screen that keep its order.
    /// A hole between the newest candle and a newer one (the server drops
    /// a slow client's oldest waiting candles) is read from the API.
    fn apply_live(chart: Slot, shown: ShownValue, symbol: &Symbol, interval: Interval, candles: &[Candle]) {
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
                        // The server sends an older candle only as the late
                        // close of one the chart holds: drawn in place.
                        if s.oldest.is_some_and(|oldest| candle.open_time >= oldest) {
                            admitted.push(to_ohlcv(candle));
                        }
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
    /// it, and puts them in front without moving the view. The view may
    /// still be near the oldest candle once they are in (a pan that ended
    /// there, a short answer): then the next page is fetched too, without
    /// waiting for another pan, until the history ends.
    fn load_older(chart: Slot, shown: ShownValue, badge: RwSignal<HistoryBadge>, first_visible: i64) {
        let request = shown
            .try_update_value(|s| {
                let (symbol, interval) = s.series.clone()?;
                let oldest = s.oldest?;
                let near = first_visible - oldest <= HISTORY_MARGIN * interval.millis();
                let ready = match s.history {
                    History::Idle => true,
                    History::FailedAt(at) => js_sys::Date::now() - at > HISTORY_RETRY_MS,
                    History::Complete => {
                        badge.set(if near {
                            HistoryBadge::Start
                        } else {
                            HistoryBadge::None
                        });
                        false
                    }
                    History::Loading => false,
                };
                if !ready || !near {
                    return None;
                }
                s.history = History::Loading;
                Some((symbol, interval, oldest, s.generation))
            })
            .flatten();
        let Some((symbol, interval, oldest, generation)) = request else {
            return;
        };
        badge.set(HistoryBadge::Loading);
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
            if shown.try_with_value(|s| s.generation) != Some(generation) {
                return;
            }
            badge.set(HistoryBadge::None);
            let view = chart
                .try_with_value(|slot| {
                    let chart = slot.as_ref()?;
                    if let Some(older) = older.as_ref().filter(|older| !older.is_empty()) {
                        chart.prepend_candles(older);
                    }
                    chart.visible_range()
                })
                .flatten();
            // Where the view is now decides what comes next: another page,
            // the start-of-history badge, or nothing (a failure waits for
            // the next pan).
            if let Some((first, _)) = view {
                load_older(chart, shown, badge, first);
            }
        });
    }

    /// Resizes the chart with its container, once per chart.
    fn follow_size(
        element: &web_sys::HtmlDivElement,
        chart: Slot,
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
