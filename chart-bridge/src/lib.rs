//! Rust ↔ trading-vue-js.
//!
//! The chart is the Vue 2 widget `trading-vue-js`, bundled with Vue 2.7 from
//! npm into `public/vendor/inchart-chart.js` (see `js/`). That bundle sets
//! `window.InChartChart`; this crate loads it on demand and wraps it in a
//! small typed API: [`load`], [`Chart::mount`], then replace, upsert and
//! prepend candles, set overlays, resize, theme and [`Chart::destroy`].
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

pub use editor::{Diagnostic, Editor};

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
    // Keeps the range callback alive as long as the chart is.
    _on_range: Option<Closure<dyn FnMut(JsValue)>>,
    // Keeps the drawing-change callback alive (see `drawings`).
    on_drawing: Option<Closure<dyn FnMut(JsValue)>>,
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
            on_drawing: None,
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
