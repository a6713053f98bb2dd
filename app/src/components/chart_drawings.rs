//! The trader's drawings (trend lines, levels, Fibonacci retracements,
//! notes …) on a symbol's charts: drawn with the chart's tools, kept by
//! the account (and sent to the trader's other tabs and devices over
//! `/ws`), or by the browser for a visitor. A visitor's drawings move to
//! the account the first time someone signs in on that browser.

use std::collections::BTreeMap;

use inchart_api::charts::Drawing;

/// Where a chart's drawings are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrawingHome {
    /// The signed-in trader's account; changes are sent with the session's
    /// CSRF token.
    Account { csrf: String },
    /// This browser: a visitor's.
    Browser,
}

/// Where the browser keeps a visitor's drawings: by symbol.
pub const BROWSER_KEY: &str = "inchart.drawings";

/// The most drawings a browser keeps for a visitor, over all symbols.
pub const BROWSER_LIMIT: usize = 200;

/// A visitor's drawings by symbol, as the browser keeps them.
pub type BrowserDrawings = BTreeMap<String, Vec<Drawing>>;

/// Applies a change to the browser's drawings; `false` when a new drawing
/// does not fit [`BROWSER_LIMIT`].
pub fn apply_to_browser(kept: &mut BrowserDrawings, change: &inchart_api::charts::DrawingChange) -> bool {
    use inchart_api::charts::DrawingChange;

    match change {
        DrawingChange::Put { drawing } => {
            let total: usize = kept.values().map(Vec::len).sum();
            let list = kept.entry(drawing.symbol.to_string()).or_default();
            match list.iter_mut().find(|old| old.id == drawing.id) {
                Some(old) => *old = drawing.clone(),
                None if total >= BROWSER_LIMIT => return false,
                None => list.push(drawing.clone()),
            }
        }
        DrawingChange::Delete { symbol, id } => {
            if let Some(list) = kept.get_mut(symbol.as_str()) {
                list.retain(|old| old.id != *id);
                if list.is_empty() {
                    kept.remove(symbol.as_str());
                }
            }
        }
    }
    true
}

#[cfg(feature = "hydrate")]
pub use browser::Drawings;

#[cfg(feature = "hydrate")]
mod browser {
    use chart_bridge::Chart as BridgeChart;
    use inchart_api::charts::{Drawing, DrawingChange, DrawingImport, DrawingList, ImportOutcome};
    use inchart_api::market::Symbol;
    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use super::{BROWSER_KEY, BROWSER_LIMIT, BrowserDrawings, DrawingHome, apply_to_browser};
    use crate::api_client::{get, send};
    use crate::browser_store;

    type Slot = StoredValue<Option<BridgeChart>, LocalStorage>;

    /// One chart's drawings: what it loads, what it sends, what it hears.
    #[derive(Clone, Copy)]
    pub struct Drawings {
        home: StoredValue<DrawingHome, LocalStorage>,
        chart: Slot,
        symbol: Signal<Symbol>,
        notice: RwSignal<Option<String>>,
        /// This tab's own changes (as JSON) that `/ws` has not yet echoed:
        /// an echo is skipped, so that it never interrupts the trader
        /// dragging that drawing again, nor puts back an older version.
        sent: StoredValue<Vec<String>, LocalStorage>,
    }

    /// The most changes waiting for their echo (a lost echo must not pile up).
    const MAX_UNECHOED: usize = 64;

    impl Drawings {
        pub fn new(
            home: DrawingHome,
            chart: Slot,
            symbol: Signal<Symbol>,
            notice: RwSignal<Option<String>>,
        ) -> Self {
            Self {
                home: StoredValue::new_local(home),
                chart,
                symbol,
                notice,
                sent: StoredValue::new_local(Vec::new()),
            }
        }

        /// Turns the chart's drawing tools on; every edit is kept.
        pub fn enable(self, chart: &mut BridgeChart) {
            chart.enable_drawings(move |json| match serde_json::from_str::<DrawingChange>(&json) {
                Ok(change) => self.keep(change),
                Err(error) => {
                    web_sys::console::warn_1(&format!("InChart: an unreadable drawing: {error}").into())
                }
            });
        }

        /// Draws the symbol's drawings, moving a visitor's to the account
        /// first when someone is signed in.
        pub fn load(self) {
            let symbol = self.symbol.get_untracked();
            match self.home.get_value() {
                DrawingHome::Browser => {
                    let kept: BrowserDrawings = browser_store::read(BROWSER_KEY).unwrap_or_default();
                    self.draw(
                        &symbol,
                        kept.get(symbol.as_str()).map(Vec::as_slice).unwrap_or_default(),
                    );
                }
                DrawingHome::Account { csrf } => spawn_local(async move {
                    self.import_visitors(&csrf).await;
                    let url = format!("/api/v1/drawings?symbol={symbol}");
                    match get::<DrawingList>(&url).await {
                        Ok(list) if self.symbol.get_untracked() == symbol => {
                            self.draw(&symbol, &list.drawings)
                        }
                        Ok(_) => {}
                        Err(message) => self
                            .notice
                            .set(Some(format!("Your drawings could not be loaded: {message}"))),
                    }
                }),
            }
        }

        /// A change the server relays from the trader's other tabs (or
        /// this one's own, echoed: skipped).
        pub fn apply_remote(self, change: DrawingChange) {
            if let Ok(json) = serde_json::to_string(&change) {
                let echo = self
                    .sent
                    .try_update_value(|sent| match sent.iter().position(|own| *own == json) {
                        Some(at) => {
                            sent.remove(at);
                            true
                        }
                        None => false,
                    })
                    .unwrap_or(false);
                if echo {
                    return;
                }
            }
            self.apply(change);
        }

        /// Draws a change without reporting it back.
        fn apply(self, change: DrawingChange) {
            let symbol = match &change {
                DrawingChange::Put { drawing } => &drawing.symbol,
                DrawingChange::Delete { symbol, .. } => symbol,
            };
            if *symbol != self.symbol.get_untracked() {
                return;
            }
            if let Ok(json) = serde_json::to_string(&change) {
                self.chart.with_value(|slot| {
                    if let Some(chart) = slot {
                        chart.apply_drawing_change(&json);
                    }
                });
            }
        }

        fn draw(self, symbol: &Symbol, drawings: &[Drawing]) {
            let json = serde_json::to_string(drawings).unwrap_or_else(|_| "[]".into());
            self.chart.with_value(|slot| {
                if let Some(chart) = slot {
                    chart.set_drawings(symbol.as_str(), &json);
                }
            });
        }

        /// Keeps one edit; one that cannot be kept is taken off the chart
        /// again, and the trader told why.
        fn keep(self, change: DrawingChange) {
            match self.home.get_value() {
                DrawingHome::Browser => {
                    let mut kept: BrowserDrawings = browser_store::read(BROWSER_KEY).unwrap_or_default();
                    if apply_to_browser(&mut kept, &change) {
                        browser_store::write(BROWSER_KEY, &kept);
                    } else {
                        self.undo(&change);
                        self.notice.set(Some(format!(
                            "This browser keeps {BROWSER_LIMIT} drawings. Sign up to keep more, on every device."
                        )));
                    }
                }
                DrawingHome::Account { csrf } => spawn_local(async move {
                    if let Ok(json) = serde_json::to_string(&change) {
                        self.sent.update_value(|sent| {
                            sent.push(json);
                            if sent.len() > MAX_UNECHOED {
                                sent.remove(0);
                            }
                        });
                    }
                    let sent = match &change {
                        DrawingChange::Put { drawing } => {
                            let url = format!("/api/v1/drawings/{}", drawing.id);
                            let body = serde_json::to_string(drawing).unwrap_or_default();
                            send::<serde_json::Value>(gloo_net::http::Request::put(&url), &csrf, Some(body))
                                .await
                        }
                        DrawingChange::Delete { id, .. } => {
                            let url = format!("/api/v1/drawings/{id}");
                            send::<serde_json::Value>(gloo_net::http::Request::delete(&url), &csrf, None)
                                .await
                        }
                    };
                    if let Err(message) = sent {
                        if matches!(change, DrawingChange::Put { .. }) {
                            self.undo(&change);
                        }
                        self.notice.set(Some(message));
                    }
                }),
            }
        }

        /// Takes a drawing that could not be kept off the chart.
        fn undo(self, change: &DrawingChange) {
            if let DrawingChange::Put { drawing } = change {
                self.apply(DrawingChange::Delete {
                    symbol: drawing.symbol.clone(),
                    id: drawing.id.clone(),
                });
            }
        }

        /// Moves the drawings a visitor made on this browser to the account.
        async fn import_visitors(self, csrf: &str) {
            let kept: BrowserDrawings = browser_store::read(BROWSER_KEY).unwrap_or_default();
            let drawings: Vec<Drawing> = kept.into_values().flatten().collect();
            if drawings.is_empty() {
                return;
            }
            let body = serde_json::to_string(&DrawingImport { drawings }).unwrap_or_default();
            let url = "/api/v1/drawings/import";
            match send::<ImportOutcome>(gloo_net::http::Request::post(url), csrf, Some(body)).await {
                Ok(outcome) => {
                    browser_store::remove(BROWSER_KEY);
                    if let Some(outcome) = outcome.filter(|outcome| outcome.refused > 0) {
                        self.notice.set(Some(format!(
                            "{} of the drawings you made before signing in did not fit your plan.",
                            outcome.refused
                        )));
                    }
                }
                Err(message) => self.notice.set(Some(format!(
                    "The drawings you made before signing in could not be moved to your account yet: {message}"
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use inchart_api::charts::{Anchor, DrawingChange, DrawingKind};
    use inchart_api::market::Symbol;

    use super::*;

    fn drawing(id: &str, symbol: &str) -> Drawing {
        Drawing {
            id: id.into(),
            symbol: Symbol::parse(symbol).unwrap(),
            kind: DrawingKind::Horizontal,
            points: vec![Anchor { time: 1, price: 2.0 }],
            text: None,
            color: None,
        }
    }

    #[test]
    fn a_visitors_drawings_are_kept_by_symbol_up_to_the_browsers_limit() {
        let mut kept = BrowserDrawings::new();
        let put = |id: &str, symbol: &str| DrawingChange::Put {
            drawing: drawing(id, symbol),
        };
        assert!(apply_to_browser(&mut kept, &put("a", "BTCUSDT")));
        assert!(
            apply_to_browser(&mut kept, &put("a", "BTCUSDT")),
            "a change replaces"
        );
        assert!(apply_to_browser(&mut kept, &put("b", "ETHUSDT")));
        assert_eq!(kept["BTCUSDT"].len(), 1);
        let delete = DrawingChange::Delete {
            symbol: Symbol::parse("BTCUSDT").unwrap(),
            id: "a".into(),
        };
        assert!(apply_to_browser(&mut kept, &delete));
        assert!(!kept.contains_key("BTCUSDT"));

        for n in 1..BROWSER_LIMIT {
            assert!(apply_to_browser(&mut kept, &put(&format!("n{n}"), "SOLUSDT")));
        }
        assert!(
            !apply_to_browser(&mut kept, &put("over", "SOLUSDT")),
            "the limit holds"
        );
        assert!(
            apply_to_browser(&mut kept, &put("n1", "SOLUSDT")),
            "a change still fits"
        );
    }
}
