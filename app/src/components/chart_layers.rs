//! The chart's layers menu: the trader's scripts (shown or hidden on this
//! series, run here without opening the workbench, opened in it), where
//! the volume goes, closed panes brought back, and a layout of several
//! charts. What each series shows is kept by the account, so another
//! device opens the same chart.

use std::collections::HashSet;

use inchart_api::charts::{Layer, Layout, LayoutChart};
use inchart_api::market::{Interval, Symbol};
use leptos::prelude::*;

use super::chart::ChartSignals;
use super::chart_panes::{PaneView, Volume};

/// The second chart a layout opened from a chart starts with.
fn companion(symbol: &Symbol) -> Symbol {
    let other = if symbol.as_str() == "ETHUSDT" {
        "BTCUSDT"
    } else {
        "ETHUSDT"
    };
    Symbol::parse(other).unwrap_or_default()
}

/// `/charts` with this chart and a second one beside it.
pub fn layout_href(symbol: &Symbol, interval: Interval) -> String {
    let layout = Layout {
        charts: vec![
            LayoutChart {
                symbol: symbol.clone(),
                interval,
            },
            LayoutChart {
                symbol: companion(symbol),
                interval,
            },
        ],
        sync_crosshair: true,
        sync_time: false,
    };
    format!("/charts?c={}&sync=crosshair", layout.charts_param())
}

/// The menu is a `<details>` (the browser opens and closes it) whose
/// clicks and changes are read by one handler each from the `data-`
/// attributes of what was clicked: the rows carry no closures of their
/// own, which keeps the page's WebAssembly small.
#[component]
pub fn ChartLayers(
    symbol: Signal<Symbol>,
    interval: Signal<Interval>,
    signals: ChartSignals,
    hidden: RwSignal<HashSet<String>>,
    panes: RwSignal<PaneView>,
    /// The session's CSRF token; `None` for a visitor.
    #[prop(optional_no_strip)]
    csrf: Option<String>,
) -> impl IntoView {
    let layers = RwSignal::new(Vec::<Layer>::new());
    let status = RwSignal::new(None::<String>);
    let signed_in = csrf.is_some();

    #[cfg(feature = "hydrate")]
    let actions = csrf.map(|csrf| browser::Actions {
        csrf: StoredValue::new(csrf),
        symbol,
        interval,
        signals,
        hidden,
        layers,
        status,
    });
    #[cfg(feature = "hydrate")]
    if let Some(actions) = actions {
        actions.follow_series();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (csrf, signals);

    // What a control asks for, from its data- attributes.
    let on_change = move |event: leptos::ev::Event| {
        let Some(input) = target_element(&event) else {
            return;
        };
        if let Some(id) = input.get_attribute("data-toggle") {
            #[cfg(feature = "hydrate")]
            if let Some(actions) = actions {
                actions.toggle(id);
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = id;
        } else if let Some(choice) = input
            .get_attribute("data-volume")
            .and_then(|value| Volume::ALL.into_iter().find(|v| v.as_str() == value))
        {
            panes.update(|view| view.volume = choice);
        }
    };
    let on_click = move |event: leptos::ev::MouseEvent| {
        let Some(button) = target_element(&event) else {
            return;
        };
        if let Some(id) = button.get_attribute("data-run") {
            #[cfg(feature = "hydrate")]
            if let Some(actions) = actions {
                actions.run(id);
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = id;
        } else if button.has_attribute("data-restore") {
            panes.update(|view| view.closed.clear());
        }
    };

    let scripts = move || {
        if !signed_in {
            return view! {
                <p class="muted"><a href="/signup" rel="external">"Sign up"</a>" to show your scripts on every chart."</p>
            }
            .into_any();
        }
        let rows: Vec<_> = layers.with(|layers| {
            hidden.with(|hidden| {
                layers
                    .iter()
                    .map(|layer| (layer.clone(), !hidden.contains(&layer.script_id)))
                    .collect()
            })
        });
        if rows.is_empty() {
            return view! { <p class="muted">"No scripts yet. " <a href="/scripts" rel="external">"Write one"</a></p> }
                .into_any();
        }
        let rows = rows
            .into_iter()
            .map(|(layer, shown)| {
                let id = layer.script_id;
                view! {
                    <li class="layer" data-script=id.clone()>
                        <label class="layer-name">
                            <input type="checkbox" data-toggle=id.clone() checked=shown />
                            <span>{layer.name}</span>
                        </label>
                        <span class="badge" title="Runs on every closed candle" hidden=!layer.live>"live"</span>
                        <button type="button" class="link-button" data-run=id.clone()>"Run here"</button>
                        <a href=format!("/scripts/{id}") rel="external">"Edit"</a>
                    </li>
                }
            })
            .collect_view();
        view! { <ul class="layer-list">{rows}</ul> }.into_any()
    };

    let volume = move || {
        let chosen = panes.with(|view| view.volume);
        let closed = panes.with(|view| view.closed.len());
        let choices = Volume::ALL
            .into_iter()
            .map(|choice| {
                view! {
                    <label class="choice">
                        <input type="radio" name="chart-volume" data-volume=choice.as_str() checked=choice == chosen />
                        {choice.label()}
                    </label>
                }
            })
            .collect_view();
        view! {
            <div class="choices">{choices}</div>
            <button type="button" class="link-button" data-restore="" hidden=closed == 0>
                {format!("Bring back closed panes ({closed})")}
            </button>
        }
    };

    view! {
        <details class="chart-layers">
            <summary class="chip">"Layers"</summary>
            <div class="layers-menu" role="group" aria-label="Chart layers" on:change=on_change on:click=on_click>
                <h2>"Scripts"</h2>
                {scripts}
                <p class="layer-status" role="status">{move || status.get()}</p>
                <h2>"Volume"</h2>
                {volume}
                <h2>"Layout"</h2>
                <a class="link-button" href=move || layout_href(&symbol.get(), interval.get())>"Two charts side by side"</a>
            </div>
        </details>
    }
}

/// The element an event happened on.
fn target_element(event: &leptos::ev::Event) -> Option<leptos::web_sys::Element> {
    use leptos::wasm_bindgen::JsCast;

    event.target()?.dyn_into::<leptos::web_sys::Element>().ok()
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::collections::HashSet;

    use inchart_api::charts::{Layer, LayerChoice, Layers};
    use inchart_api::market::{Interval, Symbol};
    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use crate::api_client::{get, send};
    use crate::components::chart::ChartSignals;
    use crate::scripts::{RunRequest, RunView};

    #[derive(Clone, Copy)]
    pub struct Actions {
        pub csrf: StoredValue<String>,
        pub symbol: Signal<Symbol>,
        pub interval: Signal<Interval>,
        pub signals: ChartSignals,
        pub hidden: RwSignal<HashSet<String>>,
        pub layers: RwSignal<Vec<Layer>>,
        pub status: RwSignal<Option<String>>,
    }

    impl Actions {
        /// Reads the series' layers whenever the chart changes series, and
        /// draws the newest run of every script shown.
        pub fn follow_series(self) {
            Effect::new(move |_| {
                let (symbol, interval) = (self.symbol.get(), self.interval.get());
                spawn_local(async move {
                    let url = format!("/api/v1/chart/layers?symbol={symbol}&interval={interval}");
                    let layers = match get::<Layers>(&url).await {
                        Ok(layers) => layers,
                        Err(message) => {
                            self.status
                                .set(Some(format!("Your scripts could not be listed: {message}")));
                            return;
                        }
                    };
                    if (self.symbol.get_untracked(), self.interval.get_untracked()) != (symbol, interval) {
                        return;
                    }
                    let hidden: HashSet<String> = layers
                        .layers
                        .iter()
                        .filter(|layer| !layer.shown)
                        .map(|layer| layer.script_id.clone())
                        .collect();
                    let runs: Vec<(String, RunView)> = layers
                        .layers
                        .iter()
                        .filter_map(|layer| Some((layer.name.clone(), (**layer.run.as_ref()?).clone())))
                        .collect();
                    self.hidden.set(hidden);
                    self.signals.update(|shown| {
                        shown.retain(|(_, run)| !runs.iter().any(|(_, new)| new.script_id == run.script_id));
                        shown.extend(runs);
                    });
                    self.layers.set(layers.layers);
                });
            });
        }

        /// Shows or hides a script on this series, for every device.
        pub fn toggle(self, script_id: String) {
            let shown = self.hidden.with_untracked(|hidden| hidden.contains(&script_id));
            self.set_hidden(&script_id, !shown);
            let choice = LayerChoice {
                symbol: self.symbol.get_untracked(),
                interval: self.interval.get_untracked(),
                shown,
            };
            spawn_local(async move {
                let url = format!("/api/v1/chart/layers/{script_id}");
                let body = serde_json::to_string(&choice).unwrap_or_default();
                let csrf = self.csrf.get_value();
                if let Err(message) =
                    send::<serde_json::Value>(gloo_net::http::Request::put(&url), &csrf, Some(body)).await
                {
                    self.set_hidden(&script_id, shown);
                    self.status.set(Some(message));
                }
            });
        }

        /// Runs a saved script on this series and shows what it found.
        pub fn run(self, script_id: String) {
            let name = self
                .layers
                .with_untracked(|layers| {
                    layers
                        .iter()
                        .find(|l| l.script_id == script_id)
                        .map(|l| l.name.clone())
                })
                .unwrap_or_default();
            self.status.set(Some(format!("Running {name}…")));
            let request = RunRequest {
                symbol: self.symbol.get_untracked(),
                interval: self.interval.get_untracked(),
                version: None,
                candles: None,
            };
            spawn_local(async move {
                let url = format!("/api/v1/scripts/{script_id}/runs");
                let body = serde_json::to_string(&request).unwrap_or_default();
                let csrf = self.csrf.get_value();
                match send::<RunView>(gloo_net::http::Request::post(&url), &csrf, Some(body)).await {
                    Ok(Some(run)) => {
                        let message = match &run.result {
                            Ok(output) => format!(
                                "{name}: {} signals on {} candles.",
                                output.markers.len(),
                                run.candles
                            ),
                            Err(error) => format!("{name} stopped: {}", error.message),
                        };
                        self.set_hidden(&script_id, false);
                        self.signals.update(|shown| {
                            shown.retain(|(_, old)| old.script_id != run.script_id);
                            shown.push((name, run));
                        });
                        self.status.set(Some(message));
                    }
                    Ok(None) => self.status.set(Some("The server sent no run.".into())),
                    Err(message) => self.status.set(Some(message)),
                }
            });
        }

        fn set_hidden(self, script_id: &str, hide: bool) {
            self.hidden.update(|hidden| {
                if hide {
                    hidden.insert(script_id.to_string());
                } else {
                    hidden.remove(script_id);
                }
            });
        }
    }
}
