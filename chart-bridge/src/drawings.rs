//! The trader's drawings on a [`Chart`]: trend lines, horizontal lines, rays,
//! rectangles, Fibonacci retracements and text notes (`js/src/drawings.js`).
//!
//! Drawings cross this boundary as JSON text in the server's shapes (`Drawing`
//! and `DrawingChange` in the `api` crate), so that chart-bridge does not
//! depend on the API types: the caller serialises and parses with serde.
//! JSON that does not parse is ignored here; the bundle itself drops drawings
//! that are not well formed (unknown kind, wrong number of points).
//!
//! The same overlay draws the trader's price alerts as dashed lines
//! ([`AlertLine`]), dragged like a horizontal line; they are not drawings
//! (no undo, no drawing change), and a finished drag is reported to
//! [`Chart::on_alert_move`].

use js_sys::{Array, Function, JSON, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::{Chart, JsChart};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(method, js_name = enableDrawings)]
    fn enable_drawings(this: &JsChart, on_change: &Function);

    #[wasm_bindgen(method, js_name = setDrawings)]
    fn set_drawings(this: &JsChart, symbol: &str, drawings: &JsValue);

    #[wasm_bindgen(method, js_name = applyDrawingChange)]
    fn apply_drawing_change(this: &JsChart, change: &JsValue);

    #[wasm_bindgen(method, js_name = setAlertLines)]
    fn set_alert_lines(this: &JsChart, lines: &JsValue);

    #[wasm_bindgen(method, js_name = onAlertMove)]
    fn on_alert_move(this: &JsChart, callback: &Function);

    #[wasm_bindgen(method, js_name = lastCandle)]
    fn last_candle(this: &JsChart) -> JsValue;
}

/// One line of a price alert on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertLine {
    /// The alert's id, given back when the line is dragged.
    pub id: String,
    /// Which of the alert's levels: 0 (its level, or a range's low), 1 (a
    /// range's high).
    pub index: u32,
    pub price: f64,
    /// Drawn grey.
    pub paused: bool,
    /// A few words after the level (`crosses up`); may be empty.
    pub label: String,
}

/// An alert line the trader dragged and dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertMove {
    pub id: String,
    pub index: u32,
    pub price: f64,
}

impl Chart {
    /// Shows the drawing toolbar; `on_change` gets each edit as the JSON of a DrawingChange.
    ///
    /// One call per committed edit (a line drawn, a drag finished, a note's
    /// text saved, a deletion, an undo or a redo), never per mouse move. A
    /// second call replaces the callback.
    pub fn enable_drawings(&mut self, mut on_change: impl FnMut(String) + 'static) {
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |change: JsValue| {
            if let Some(json) = JSON::stringify(&change).ok().and_then(|text| text.as_string()) {
                on_change(json);
            }
        });
        self.inner.enable_drawings(closure.as_ref().unchecked_ref());
        self.on_drawing = Some(closure);
    }

    /// The symbol new drawings belong to and its drawings (a JSON array of Drawing).
    ///
    /// Replaces everything drawn and clears the undo history; drawings of
    /// another symbol are left out. Does not call the `on_change` callback.
    pub fn set_drawings(&self, symbol: &str, drawings_json: &str) {
        if let Ok(drawings) = JSON::parse(drawings_json) {
            self.inner.set_drawings(symbol, &drawings);
        }
    }

    /// Replaces the price alerts' lines drawn over the candles (`&[]`
    /// removes them).
    pub fn set_alert_lines(&self, lines: &[AlertLine]) {
        let list = Array::new();
        for line in lines {
            let object = js_sys::Object::new();
            let _ = Reflect::set(&object, &"id".into(), &line.id.as_str().into());
            let _ = Reflect::set(&object, &"index".into(), &line.index.into());
            let _ = Reflect::set(&object, &"price".into(), &line.price.into());
            let _ = Reflect::set(&object, &"paused".into(), &line.paused.into());
            let _ = Reflect::set(&object, &"label".into(), &line.label.as_str().into());
            list.push(&object);
        }
        self.inner.set_alert_lines(&list);
    }

    /// Calls `callback` once per finished drag of an alert line (only while
    /// the drawing tools are enabled); replaces an earlier callback. The
    /// line stays where it was dropped until the next
    /// [`Chart::set_alert_lines`].
    pub fn on_alert_move(&mut self, mut callback: impl FnMut(AlertMove) + 'static) {
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |moved: JsValue| {
            let field = |name: &str| Reflect::get(&moved, &name.into()).ok();
            let id = field("id").and_then(|v| v.as_string());
            let index = field("index").and_then(|v| v.as_f64());
            let price = field("price").and_then(|v| v.as_f64());
            if let (Some(id), Some(index), Some(price)) = (id, index, price)
                && price.is_finite()
            {
                callback(AlertMove {
                    id,
                    index: index as u32,
                    price,
                });
            }
        });
        self.inner.on_alert_move(closure.as_ref().unchecked_ref());
        self.on_alert_move = Some(closure);
    }

    /// The close of the newest candle drawn (the forming one's price).
    pub fn last_close(&self) -> Option<f64> {
        let candle = self.inner.last_candle();
        let row = candle.dyn_ref::<Array>()?;
        row.get(4).as_f64().filter(|close| close.is_finite())
    }

    /// A change made elsewhere (JSON of a DrawingChange), applied without a callback.
    ///
    /// Ignored when it is for another symbol than the one given to
    /// [`Chart::set_drawings`].
    pub fn apply_drawing_change(&self, change_json: &str) {
        if let Ok(change) = JSON::parse(change_json) {
            self.inner.apply_drawing_change(&change);
        }
    }
}
