//! Rust ↔ the signal-script editor.
//!
//! The editor is CodeMirror 6 with Python support, bundled from npm into
//! `public/vendor/inchart-editor.js` (see `js/`). That bundle sets
//! `window.InChartEditor`; this module loads it on demand, like the chart
//! bundle, and wraps it: [`load`], [`Editor::mount`], read and replace the
//! text, show diagnostics, listen for edits and for Mod-Enter (run), theme,
//! [`Editor::destroy`].
//!
//! As with the chart, the calls only make sense in the browser; on the
//! server the imports compile to stubs that are never reached.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use crate::{BridgeError, Theme, js_error, load_bundle};

/// Where the editor bundle is served from; the query string busts caches
/// when it changes with a release.
pub const BUNDLE_URL: &str = concat!("/vendor/inchart-editor.js?v=", env!("CARGO_PKG_VERSION"));

const GLOBAL_NAME: &str = "InChartEditor";
const SCRIPT_ID: &str = "inchart-editor-bundle";

/// A problem to show in the editor: a mark beside the line and an
/// underline, with `message` on hover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based; out-of-range lines are clamped to the text.
    pub line: u32,
    /// 1-based. The word at that column is underlined; `None` (or `Some(0)`)
    /// underlines the whole line.
    pub column: Option<u32>,
    pub message: String,
    /// An error (red); otherwise a warning (amber).
    pub error: bool,
}

#[wasm_bindgen]
extern "C" {
    /// A mounted editor as the bundle returns it.
    type JsEditor;

    #[wasm_bindgen(js_namespace = InChartEditor, js_name = mount, catch)]
    fn js_mount(el: &HtmlElement, options: &JsValue) -> Result<JsEditor, JsValue>;

    #[wasm_bindgen(js_namespace = InChartEditor, js_name = liveInstances)]
    fn js_live_instances() -> u32;

    #[wasm_bindgen(method, js_name = getDoc)]
    fn get_doc(this: &JsEditor) -> String;

    #[wasm_bindgen(method, js_name = setDoc)]
    fn set_doc(this: &JsEditor, text: &str);

    #[wasm_bindgen(method, js_name = setDiagnostics)]
    fn set_diagnostics(this: &JsEditor, diagnostics: &Array);

    /// A function, or `null` to remove the callback.
    #[wasm_bindgen(method, js_name = onChange)]
    fn on_change(this: &JsEditor, callback: &JsValue);

    /// A function, or `null` to remove the callback.
    #[wasm_bindgen(method, js_name = onRun)]
    fn on_run(this: &JsEditor, callback: &JsValue);

    #[wasm_bindgen(method, js_name = setTheme)]
    fn set_theme(this: &JsEditor, theme: &str);

    #[wasm_bindgen(method)]
    fn focus(this: &JsEditor);

    #[wasm_bindgen(method)]
    fn destroy(this: &JsEditor);
}

/// Makes sure the editor bundle is loaded, adding its `<script>` to the
/// page the first time. Safe to call concurrently and repeatedly.
pub async fn load() -> Result<(), BridgeError> {
    load_bundle(BUNDLE_URL, SCRIPT_ID, GLOBAL_NAME, BridgeError::EditorLoad).await
}

/// How many editors are mounted and not yet destroyed on this page.
pub fn live_instances() -> u32 {
    js_live_instances()
}

/// A CodeMirror editor mounted on an element. Dropping it does not unmount
/// it (call [`Editor::destroy`]), but it does disconnect the callbacks,
/// whose closures die with it.
pub struct Editor {
    inner: JsEditor,
    // Keep the callbacks alive as long as the editor is.
    on_change: Option<Closure<dyn FnMut(JsValue)>>,
    on_run: Option<Closure<dyn FnMut()>>,
}

impl Editor {
    /// Mounts an editor holding `doc` in `el`, which it fills (give `el` a
    /// height, or the editor grows with its text). [`load`] must have
    /// finished first.
    pub fn mount(el: &HtmlElement, doc: &str, theme: Theme) -> Result<Self, BridgeError> {
        let options = Object::new();
        Reflect::set(&options, &"doc".into(), &doc.into())
            .and_then(|_| Reflect::set(&options, &"theme".into(), &theme.as_str().into()))
            .map_err(js_error(BridgeError::EditorMount))?;
        let inner = js_mount(el, &options).map_err(js_error(BridgeError::EditorMount))?;
        Ok(Self {
            inner,
            on_change: None,
            on_run: None,
        })
    }

    /// The current text (lines end with `\n`).
    pub fn doc(&self) -> String {
        self.inner.get_doc()
    }

    /// Replaces the text. The user can undo it (Mod-z) back to the previous
    /// text; [`Editor::on_change`] is not called for it.
    pub fn set_doc(&self, text: &str) {
        self.inner.set_doc(text);
    }

    /// Shows these diagnostics instead of the previous ones; `&[]` clears.
    pub fn set_diagnostics(&self, diagnostics: &[Diagnostic]) {
        let list = Array::new();
        for diagnostic in diagnostics {
            let object = Object::new();
            let column = diagnostic.column.map_or(JsValue::NULL, JsValue::from);
            let severity = if diagnostic.error { "error" } else { "warning" };
            let _ = Reflect::set(&object, &"line".into(), &diagnostic.line.into());
            let _ = Reflect::set(&object, &"column".into(), &column);
            let _ = Reflect::set(&object, &"message".into(), &diagnostic.message.as_str().into());
            let _ = Reflect::set(&object, &"severity".into(), &severity.into());
            list.push(&object);
        }
        self.inner.set_diagnostics(&list);
    }

    /// Calls `callback(text)` after every edit by the user (typing, paste,
    /// undo …), synchronously and not debounced. Replaces the previous
    /// callback.
    pub fn on_change(&mut self, mut callback: impl FnMut(String) + 'static) {
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |text: JsValue| {
            callback(text.as_string().unwrap_or_default());
        });
        self.inner.on_change(closure.as_ref());
        self.on_change = Some(closure);
    }

    /// Calls `callback()` when the user presses Mod-Enter (Ctrl-Enter, or
    /// Cmd-Enter on a Mac). Replaces the previous callback.
    pub fn on_run(&mut self, callback: impl FnMut() + 'static) {
        let closure = Closure::<dyn FnMut()>::new(callback);
        self.inner.on_run(closure.as_ref());
        self.on_run = Some(closure);
    }

    pub fn set_theme(&self, theme: Theme) {
        self.inner.set_theme(theme.as_str());
    }

    /// Moves the keyboard focus into the editor.
    pub fn focus(&self) {
        self.inner.focus();
    }

    /// Unmounts the editor and empties its element.
    pub fn destroy(self) {
        self.inner.destroy();
    }
}

impl Drop for Editor {
    // The bundle would otherwise go on calling closures that no longer exist.
    fn drop(&mut self) {
        if self.on_change.is_some() {
            self.inner.on_change(&JsValue::NULL);
        }
        if self.on_run.is_some() {
            self.inner.on_run(&JsValue::NULL);
        }
    }
}
