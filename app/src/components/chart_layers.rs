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
    let open = RwSignal::new(false);
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
    let _ = (csrf, signals, hidden);

    let script_rows = move || {
        layers
            .get()
            .into_iter()
            .map(|layer| {
                let id = layer.script_id.clone();
                let shown_id = id.clone();
                let is_shown = move || !hidden.with(|hidden| hidden.contains(&shown_id));
                let toggle_id = id.clone();
                let run_id = id.clone();
                let on_toggle = move |_| {
                    #[cfg(feature = "hydrate")]
                    if let Some(actions) = actions {
                        actions.toggle(toggle_id.clone());
                    }
                    #[cfg(not(feature = "hydrate"))]
                    let _ = &toggle_id;
                };
                let on_run = move |_| {
                    #[cfg(feature = "hydrate")]
                    if let Some(actions) = actions {
                        actions.run(run_id.clone());
                    }
                    #[cfg(not(feature = "hydrate"))]
                    let _ = &run_id;
                };
                view! {
                    <li class="layer" data-script=id.clone()>
                        <label class="layer-name">
                            <input type="checkbox" prop:checked=is_shown on:change=on_toggle />
                            <span>{layer.name.clone()}</span>
                        </label>
                        {layer.live.then(|| view! { <span class="badge" title="Runs on every closed candle">"live"</span> })}
                        <button type="button" class="link-button" on:click=on_run>"Run here"</button>
                        <a href=format!("/scripts/{id}") rel="external">"Edit"</a>
                    </li>
                }
            })
            .collect_view()
    };

    let volume_choices = Volume::ALL
        .into_iter()
        .map(|choice| {
            view! {
                <label class="choice">
                    <input
                        type="radio"
                        name="chart-volume"
                        prop:checked=move || panes.with(|view| view.volume == choice)
                        on:change=move |_| panes.update(|view| view.volume = choice)
                    />
                    {choice.label()}
                </label>
            }
        })
        .collect_view();

    view! {
        <div class="chart-layers">
            <button
                type="button"
                class="chip"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|open| *open = !*open)
            >
                "Layers"
            </button>
            <div class="layers-menu" role="group" aria-label="Chart layers" hidden=move || !open.get()>
                <h2>"Scripts"</h2>
                {if signed_in {
                    view! {
                        <ul class="layer-list">{script_rows}</ul>
                        {move || layers.with(Vec::is_empty).then(|| view! {
                            <p class="muted">"No scripts yet. " <a href="/scripts" rel="external">"Write one"</a></p>
                        })}
                    }.into_any()
                } else {
                    view! {
                        <p class="muted"><a href="/signup" rel="external">"Sign up"</a>" to show your scripts on every chart."</p>
                    }.into_any()
                }}
                {move || status.get().map(|message| view! { <p class="layer-status" role="status">{message}</p> })}
                <h2>"Volume"</h2>
                <div class="choices">{volume_choices}</div>
                {move || {
                    let closed = panes.with(|view| view.closed.len());
                    (closed > 0).then(|| view! {
                        <button type="button" class="link-button" on:click=move |_| panes.update(|view| view.closed.clear())>
                            {format!("Bring back closed panes ({closed})")}
                        </button>
                    })
                }}
                <h2>"Layout"</h2>
                <a class="link-button" href=move || layout_href(&symbol.get(), interval.get())>"Two charts side by side"</a>
            </div>
        </div>
    }
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
