//! Rust ↔ trading-vue-js.
//!
//! The chart is the Vue 2 widget `trading-vue-js`, bundled with Vue 2.7 from
//! npm into `public/vendor/inchart-chart.js` (see `js/`). That bundle sets
//! `window.InChartChart`; this crate loads it on demand and wraps it in a
//! small typed API: [`load`], [`Chart::mount`], then replace, upsert and
//! prepend candles, set overlays, indicator panes ([`Pane`]) and price
//! levels, a backtest's trades ([`TradeMark`], in [`trades`]), follow
//! another chart's crosshair and range, go to a time, resize, theme and
//! [`Chart::destroy`].
//!
//! The bundle is loaded lazily rather than from every page's `<head>`: only
//! the chart page pays for Vue.
//!
//! The signal-script editor (CodeMirror 6, `public/vendor/inchart-editor.js`)
//! is wrapped the same way in [`editor`].
//!
//! Everything here touches the DOM, so it is called only from browser-side
//! code (Leptos effects). On the server the `wasm_bindgen` imports compile to
//! stubs that are never reached, which is why there is no separate no-op twin.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlElement;

pub mod drawings;
pub mod editor;
pub mod trades;

pub use drawings::{AlertLine, AlertMove};
pub use editor::{Diagnostic, Editor};
pub use trades::{TradeMark, TradeSide};

/// Where the bundle is served from. The query string busts caches when the
/// bundle changes with a release.
pub const BUNDLE_URL: &str = concat!("/vendor/inchart-chart.js?v=", env!("CARGO_PKG_VERSION"));

const GLOBAL_NAME: &str = "InChartChart";
const SCRIPT_ID: &str = "inchart-chart-bundle";

/// What went wrong between Rust and the chart or editor bundle.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("the chart bundle could not be loaded ({0})")]
    Load(String),
    #[error("the chart could not be created ({0})")]
    Mount(String),
    #[error("the editor bundle could not be loaded ({0})")]
    EditorLoad(String),
    #[error("the editor could not be created ({0})")]
    EditorMount(String),
}

/// One candle as the chart draws it. `time_ms` is the open time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ohlcv {
    pub time_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// Colour scheme of the chart and the editor; it follows the page's theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Dark,
    Light,
}

impl Theme {
    fn as_str(self) -> &'static str {
        match self {
            Theme::Dark => "dark",
            Theme::Light => "light",
        }
    }
}

/// How to create a chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChartOptions {
    pub width: f64,
    pub height: f64,
    pub theme: Theme,
    /// Shown in the chart's legend, e.g. `BTCUSDT · 1h`.
    pub title: String,
}

/// A line or marker series drawn over the candles, in trading-vue-js's
/// overlay format (`type` is e.g. `Spline` or `Trades`).
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    pub name: String,
    pub kind: String,
    /// Rows of `[time_ms, value, …]`.
    pub rows: Vec<Vec<f64>>,
    /// A text for each row, added as its last element when present (the
    /// label of a `Trades` marker); empty for overlays without any.
    pub labels: Vec<Option<String>>,
    /// Overlay settings as a JSON object (colour, line width …).
    pub settings_json: String,
}

/// How a pane draws one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    /// A line through the points (gaps where a value is not finite).
    Line,
    /// Bars from zero.
    Histogram,
}

impl SeriesStyle {
    fn as_str(self) -> &'static str {
        match self {
            SeriesStyle::Line => "line",
            SeriesStyle::Histogram => "histogram",
        }
    }
}

/// One series of a [`Pane`].
#[derive(Debug, Clone, PartialEq)]
pub struct PaneSeries {
    pub name: String,
    pub style: SeriesStyle,
    /// `#rrggbb`. For a histogram, an empty string draws the bars in the
    /// theme's up/down colours by sign; a colour draws the negative bars
    /// dimmer.
    pub color: String,
    /// `(time_ms, value)`; any order, points without a finite time dropped.
    pub points: Vec<(i64, f64)>,
}

/// A horizontal dashed line at `value`, in a pane or on the price chart.
#[derive(Debug, Clone, PartialEq)]
pub struct PaneLevel {
    /// Shown before the value in the line's label; may be empty.
    pub name: String,
    pub value: f64,
    /// `#rrggbb`; `None` uses the theme's axis text colour.
    pub color: Option<String>,
}

/// An indicator pane under the candles, with its own value scale (which
/// always includes its levels). Panes are identified by `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pane {
    pub name: String,
    pub series: Vec<PaneSeries>,
    pub levels: Vec<PaneLevel>,
}

/// Where the chart shows the candles' volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VolumeMode {
    /// Bars at the bottom of the price chart.
    #[default]
    Overlay,
    /// A pane of its own, named `Volume`, above the other panes.
    Pane,
    Hidden,
}

impl VolumeMode {
    fn as_str(self) -> &'static str {
        match self {
            VolumeMode::Overlay => "overlay",
            VolumeMode::Pane => "pane",
            VolumeMode::Hidden => "hidden",
        }
    }
}

/// What the trader did to the panes.
#[derive(Debug, Clone, PartialEq)]
pub enum PaneEvent {
    /// The pane with this name was removed with its close button (`Volume`
    /// for the volume pane, after which the volume is hidden).
    Closed(String),
    /// A drag (or the arrow keys) on a pane's top edge ended: every pane's
    /// share of the chart's height without its time axis, in pane order.
    Heights(Vec<(String, f64)>),
}

#[wasm_bindgen]
extern "C" {
    /// A mounted chart as the bundle returns it.
    type JsChart;

    #[wasm_bindgen(js_namespace = InChartChart, js_name = mount, catch)]
    fn js_mount(el: &HtmlElement, options: &JsValue) -> Result<JsChart, JsValue>;

    #[wasm_bindgen(js_namespace = InChartChart, js_name = liveInstances)]
    fn js_live_instances() -> u32;

    #[wasm_bindgen(method, js_name = setCandles)]
    fn set_candles(this: &JsChart, candles: &Array);

    #[wasm_bindgen(method, js_name = upsertCandle)]
    fn upsert_candle(this: &JsChart, candle: &Array);

    #[wasm_bindgen(method, js_name = prependCandles)]
    fn prepend_candles(this: &JsChart, candles: &Array);

    #[wasm_bindgen(method, js_name = setOverlays)]
    fn set_overlays(this: &JsChart, overlays: &Array);

    #[wasm_bindgen(method, js_name = setPanes)]
    fn set_panes(this: &JsChart, panes: &Array);

    #[wasm_bindgen(method, js_name = setPriceLevels)]
    fn set_price_levels(this: &JsChart, levels: &Array);

    #[wasm_bindgen(method, js_name = setPaneHeights)]
    fn set_pane_heights(this: &JsChart, heights: &js_sys::Object);

    #[wasm_bindgen(method, js_name = onPaneEvent)]
    fn on_pane_event(this: &JsChart, callback: &Function);

    #[wasm_bindgen(method, js_name = setVolume)]
    fn set_volume(this: &JsChart, mode: &str);

    #[wasm_bindgen(method, js_name = onCursor)]
    fn on_cursor(this: &JsChart, callback: &Function);

    #[wasm_bindgen(method, js_name = setCursor)]
    fn set_cursor(this: &JsChart, time: &JsValue);

    #[wasm_bindgen(method, js_name = setRange)]
    fn set_range(this: &JsChart, first: f64, last: f64);

    #[wasm_bindgen(method, js_name = visibleRange)]
    fn visible_range(this: &JsChart) -> JsValue;

    #[wasm_bindgen(method)]
    fn resize(this: &JsChart, width: f64, height: f64);

    #[wasm_bindgen(method, js_name = setTheme)]
    fn set_theme(this: &JsChart, theme: &str);

    #[wasm_bindgen(method, js_name = setTitle)]
    fn set_title(this: &JsChart, title: &str);

    #[wasm_bindgen(method, js_name = candleCount)]
    fn candle_count(this: &JsChart) -> u32;

    #[wasm_bindgen(method, js_name = onRangeChange)]
    fn on_range_change(this: &JsChart, callback: &Function);

    #[wasm_bindgen(method)]
    fn destroy(this: &JsChart);
}

/// Makes sure the chart bundle is loaded, adding its `<script>` to the page
/// the first time. Safe to call concurrently and repeatedly.
pub async fn load() -> Result<(), BridgeError> {
    load_bundle(BUNDLE_URL, SCRIPT_ID, GLOBAL_NAME, BridgeError::Load).await
}

/// Adds `<script id="{script_id}" src="{url}">` to the page unless it is
/// there, and waits until it has defined `window[global]`. Errors are
/// wrapped with `wrap`, so they name the bundle.
async fn load_bundle(
    url: &str,
    script_id: &str,
    global: &str,
    wrap: fn(String) -> BridgeError,
) -> Result<(), BridgeError> {
    let window = web_sys::window().ok_or_else(|| wrap("no window".into()))?;
    if bundle_ready(&window, global) {
        return Ok(());
    }
    let document = window.document().ok_or_else(|| wrap("no document".into()))?;

    let script: web_sys::HtmlScriptElement = match document.get_element_by_id(script_id) {
        Some(existing) => existing.unchecked_into(),
        None => {
            let created: web_sys::HtmlScriptElement = document
                .create_element("script")
                .map_err(js_error(wrap))?
                .unchecked_into();
            created.set_id(script_id);
            created.set_src(url);
            created.set_async(true);
            let head = document.head().ok_or_else(|| wrap("no <head>".into()))?;
            head.append_child(&created).map_err(js_error(wrap))?;
            created
        }
    };

    // The script may have finished between the check above and now.
    if bundle_ready(&window, global) {
        return Ok(());
    }
    let loaded = Promise::new(&mut |resolve, reject| {
        let options = web_sys::AddEventListenerOptions::new();
        options.set_once(true);
        let _ = script
            .add_event_listener_with_callback_and_add_event_listener_options("load", &resolve, &options);
        let _ = script
            .add_event_listener_with_callback_and_add_event_listener_options("error", &reject, &options);
    });
    JsFuture::from(loaded).await.map_err(|_| {
        // A failed <script> never fires again: drop it so that a retry adds
        // a fresh one instead of waiting forever.
        script.remove();
        wrap(format!("{url} did not load"))
    })?;
    if bundle_ready(&window, global) {
        Ok(())
    } else {
        Err(wrap(format!("{url} did not define {global}")))
    }
}

fn bundle_ready(window: &web_sys::Window, global: &str) -> bool {
    Reflect::get(window, &JsValue::from_str(global))
        .map(|value| !value.is_undefined())
        .unwrap_or(false)
}

/// How many charts are mounted and not yet destroyed on this page; a leak
/// shows here first.
pub fn live_instances() -> u32 {
    js_live_instances()
}

/// A trading-vue-js chart mounted on an element. Dropping it does not
/// unmount it: call [`Chart::destroy`] (the owning component does, on
/// cleanup), so that a clone held by a callback cannot tear the chart down.
pub struct Chart {
    inner: JsChart,
    // Keep the callbacks alive as long as the chart is.
    _on_range: Option<Closure<dyn FnMut(JsValue)>>,
    _on_pane_event: Option<Closure<dyn FnMut(JsValue)>>,
    _on_cursor: Option<Closure<dyn FnMut(JsValue)>>,
    // Keeps the drawing-change callback alive (see `drawings`).
    on_drawing: Option<Closure<dyn FnMut(JsValue)>>,
    // Keeps the alert-line callback alive (see `drawings`).
    on_alert_move: Option<Closure<dyn FnMut(JsValue)>>,
}

impl Chart {
    /// Mounts a chart in `el` (which it fills) with `candles` already drawn.
    /// [`load`] must have finished first.
    pub fn mount(el: &HtmlElement, options: &ChartOptions, candles: &[Ohlcv]) -> Result<Self, BridgeError> {
        let js_options = js_sys::Object::new();
        let set = |key: &str, value: JsValue| Reflect::set(&js_options, &key.into(), &value);
        set("width", options.width.into())
            .and_then(|_| set("height", options.height.into()))
            .and_then(|_| set("theme", options.theme.as_str().into()))
            .and_then(|_| set("title", options.title.as_str().into()))
            .and_then(|_| set("candles", candles_to_js(candles).into()))
            .map_err(js_error(BridgeError::Mount))?;
        let inner = js_mount(el, &js_options).map_err(js_error(BridgeError::Mount))?;
        Ok(Self {
            inner,
            _on_range: None,
            _on_pane_event: None,
            _on_cursor: None,
            on_drawing: None,
            on_alert_move: None,
        })
    }

    /// Replaces the whole series and shows its most recent candles.
    pub fn set_candles(&self, candles: &[Ohlcv]) {
        self.inner.set_candles(&candles_to_js(candles));
    }

    /// Updates the forming candle, or appends a new one, without moving the
    /// view away from where the trader is looking.
    pub fn upsert_candle(&self, candle: &Ohlcv) {
        self.inner.upsert_candle(&candle_to_js(candle));
    }

    /// Merges older history in front of the series.
    pub fn prepend_candles(&self, candles: &[Ohlcv]) {
        self.inner.prepend_candles(&candles_to_js(candles));
    }

    /// Replaces the overlays (lines and markers) drawn over the candles.
    pub fn set_overlays(&self, overlays: &[Overlay]) {
        let list = Array::new();
        for overlay in overlays {
            let object = js_sys::Object::new();
            let rows = Array::new();
            for (index, row) in overlay.rows.iter().enumerate() {
                let cells = row.iter().copied().map(JsValue::from).collect::<Array>();
                if let Some(Some(label)) = overlay.labels.get(index) {
                    cells.push(&JsValue::from_str(label));
                }
                rows.push(&cells);
            }
            let settings =
                js_sys::JSON::parse(&overlay.settings_json).unwrap_or_else(|_| js_sys::Object::new().into());
            let _ = Reflect::set(&object, &"name".into(), &overlay.name.as_str().into());
            let _ = Reflect::set(&object, &"type".into(), &overlay.kind.as_str().into());
            let _ = Reflect::set(&object, &"data".into(), &rows);
            let _ = Reflect::set(&object, &"settings".into(), &settings);
            list.push(&object);
        }
        self.inner.set_overlays(&list);
    }

    /// Replaces the indicator panes under the candles, in this order (`&[]`
    /// removes them). Call it when a script's output changes, not per
    /// candle: the panes stay through candle updates, resizes and theme
    /// changes.
    pub fn set_panes(&self, panes: &[Pane]) {
        let list = Array::new();
        for pane in panes {
            let series = Array::new();
            for line in &pane.series {
                let points = line
                    .points
                    .iter()
                    .map(|&(time, value)| Array::of2(&(time as f64).into(), &value.into()))
                    .collect::<Array>();
                series.push(&js_object(&[
                    ("name", line.name.as_str().into()),
                    ("style", line.style.as_str().into()),
                    ("color", line.color.as_str().into()),
                    ("data", points.into()),
                ]));
            }
            list.push(&js_object(&[
                ("name", pane.name.as_str().into()),
                ("series", series.into()),
                ("levels", levels_to_js(&pane.levels).into()),
            ]));
        }
        self.inner.set_panes(&list);
    }

    /// Replaces the dashed level lines on the price chart (`&[]` removes
    /// them). They do not widen the price scale.
    pub fn set_price_levels(&self, levels: &[PaneLevel]) {
        self.inner.set_price_levels(&levels_to_js(levels));
    }

    /// Applies remembered pane heights, as shares of the chart's height
    /// without its time axis (what [`PaneEvent::Heights`] reports). Names
    /// that are not a current pane are ignored, so call it after
    /// [`Chart::set_panes`]; the price chart keeps at least 40%.
    pub fn set_pane_heights(&self, heights: &[(String, f64)]) {
        let object = js_sys::Object::new();
        for (name, share) in heights {
            let _ = Reflect::set(&object, &name.as_str().into(), &(*share).into());
        }
        self.inner.set_pane_heights(&object);
    }

    /// Calls `callback` when the trader closes a pane or finishes resizing
    /// one; replaces an earlier callback.
    pub fn on_pane_event(&mut self, mut callback: impl FnMut(PaneEvent) + 'static) {
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            if let Some(event) = pane_event_from_js(&event) {
                callback(event);
            }
        });
        self.inner.on_pane_event(closure.as_ref().unchecked_ref());
        self._on_pane_event = Some(closure);
    }

    /// Shows the volume on the price chart, in a pane of its own, or not
    /// at all.
    pub fn set_volume(&self, mode: VolumeMode) {
        self.inner.set_volume(mode.as_str());
    }

    /// Calls `callback(Some(time_ms))` as the trader's crosshair moves over
    /// the chart (at most once per frame, with the candle time under it),
    /// and `callback(None)` when it leaves; replaces an earlier callback.
    /// Positions set with [`Chart::set_cursor`] are not reported.
    pub fn on_cursor(&mut self, mut callback: impl FnMut(Option<i64>) + 'static) {
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |time: JsValue| {
            callback(time.as_f64().map(|t| t as i64));
        });
        self.inner.on_cursor(closure.as_ref().unchecked_ref());
        self._on_cursor = Some(closure);
    }

    /// Shows the crosshair's vertical line at `time` (e.g. another chart's
    /// cursor), or hides it with `None` or a time out of view.
    pub fn set_cursor(&self, time: Option<i64>) {
        let value = time.map_or(JsValue::NULL, |t| JsValue::from(t as f64));
        self.inner.set_cursor(&value);
    }

    /// Shows `first..last` (ms) without reporting it to
    /// [`Chart::on_range_change`], e.g. to follow another chart.
    pub fn set_range(&self, first: i64, last: i64) {
        self.inner.set_range(first as f64, last as f64);
    }

    /// The time range in view, in ms.
    pub fn visible_range(&self) -> Option<(i64, i64)> {
        let range = self.inner.visible_range();
        let range = range.dyn_ref::<Array>()?;
        Some((range.get(0).as_f64()? as i64, range.get(1).as_f64()? as i64))
    }

    pub fn resize(&self, width: f64, height: f64) {
        self.inner.resize(width, height);
    }

    /// Changes the legend's title, e.g. after switching symbol.
    pub fn set_title(&self, title: &str) {
        self.inner.set_title(title);
    }

    pub fn set_theme(&self, theme: Theme) {
        self.inner.set_theme(theme.as_str());
    }

    /// How many candles the mounted component holds.
    pub fn candle_count(&self) -> u32 {
        self.inner.candle_count()
    }

    /// Calls `callback(first_ms, last_ms)` whenever the trader scrolls or
    /// zooms; the chart page uses it to load older candles.
    pub fn on_range_change(&mut self, mut callback: impl FnMut(i64, i64) + 'static) {
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |range: JsValue| {
            let range: Array = range.unchecked_into();
            let (Some(first), Some(last)) = (range.get(0).as_f64(), range.get(1).as_f64()) else {
                return;
            };
            callback(first as i64, last as i64);
        });
        self.inner.on_range_change(closure.as_ref().unchecked_ref());
        self._on_range = Some(closure);
    }

    /// Unmounts the Vue instance and frees what it held.
    pub fn destroy(self) {
        self.inner.destroy();
    }
}

fn js_object(fields: &[(&str, JsValue)]) -> js_sys::Object {
    let object = js_sys::Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object
}

fn levels_to_js(levels: &[PaneLevel]) -> Array {
    levels
        .iter()
        .map(|level| {
            let color = level.color.as_deref().map_or(JsValue::NULL, JsValue::from_str);
            js_object(&[
                ("name", level.name.as_str().into()),
                ("value", level.value.into()),
                ("color", color),
            ])
        })
        .collect()
}

/// `{type: 'closed', name}` or `{type: 'heights', heights: {name: share}}`.
fn pane_event_from_js(event: &JsValue) -> Option<PaneEvent> {
    let field = |key: &str| Reflect::get(event, &key.into()).ok();
    match field("type")?.as_string()?.as_str() {
        "closed" => Some(PaneEvent::Closed(field("name")?.as_string()?)),
        "heights" => {
            let heights = field("heights")?.dyn_into::<js_sys::Object>().ok()?;
            let shares = js_sys::Object::entries(&heights)
                .iter()
                .filter_map(|entry| {
                    let entry: Array = entry.dyn_into().ok()?;
                    Some((entry.get(0).as_string()?, entry.get(1).as_f64()?))
                })
                .collect();
            Some(PaneEvent::Heights(shares))
        }
        _ => None,
    }
}

fn candle_to_js(candle: &Ohlcv) -> Array {
    [
        candle.time_ms as f64,
        candle.open,
        candle.high,
        candle.low,
        candle.close,
        candle.volume,
    ]
    .into_iter()
    .map(JsValue::from)
    .collect()
}

fn candles_to_js(candles: &[Ohlcv]) -> Array {
    candles.iter().map(candle_to_js).collect()
}

fn js_error(wrap: fn(String) -> BridgeError) -> impl Fn(JsValue) -> BridgeError {
    move |value| {
        let text = value
            .dyn_ref::<js_sys::Error>()
            .map(|error| String::from(error.message()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| format!("{value:?}"));
        wrap(text)
    }
}
