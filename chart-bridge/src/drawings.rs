//! The trader's drawings on a [`Chart`]: trend lines, horizontal lines, rays,
//! rectangles, Fibonacci retracements and text notes (`js/src/drawings.js`).
//!
//! Drawings cross this boundary as JSON text in the server's shapes (`Drawing`
//! and `DrawingChange` in the `api` crate), so that chart-bridge does not
//! depend on the API types: the caller serialises and parses with serde.
//! JSON that does not parse is ignored here; the bundle itself drops drawings
//! that are not well formed (unknown kind, wrong number of points).

use js_sys::{Function, JSON};
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
