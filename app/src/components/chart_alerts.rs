//! A signed-in trader's price alerts on a chart: each a dashed line at its
//! level (two for a range; grey while paused; triggered and expired ones
//! are not drawn), dragged to a new level (a `PATCH` of its condition),
//! and the chart's "Alert" button with the short form, prefilled with the
//! series and the last price.
//!
//! The lines are drawn by the drawing tools' overlay in chart-bridge
//! (`setAlertLines`); the chart's test hook `alertLines()` lists them.

use chart_bridge::AlertLine;
use inchart_api::market::{Interval, Symbol};
use leptos::prelude::*;

use super::alert_form::{AlertForm, WebhookSecret};
use crate::alerts::{Alert, AlertCreated, AlertDraft, AlertState, Condition, drawn_on_chart};

/// One chart's alerts: what it draws and what its button creates.
#[derive(Clone, Copy)]
pub struct ChartAlerts {
    pub csrf: StoredValue<String>,
    /// The series' alerts, as the API lists them.
    pub list: RwSignal<Vec<Alert>>,
    /// The newest candle's close, for the form's level.
    pub last_price: RwSignal<Option<f64>>,
    /// What went wrong with the last load or drag.
    pub notice: RwSignal<Option<String>>,
}

impl ChartAlerts {
    pub fn new(csrf: String) -> Self {
        Self {
            csrf: StoredValue::new(csrf),
            list: RwSignal::new(Vec::new()),
            last_price: RwSignal::new(None),
            notice: RwSignal::new(None),
        }
    }

    /// Puts a saved alert in the list when it is this series'.
    fn put(self, alert: Alert, symbol: &Symbol, interval: Interval) {
        if alert.spec.symbol != *symbol || alert.spec.interval != interval {
            return;
        }
        self.list
            .update(|list| match list.iter_mut().find(|a| a.id == alert.id) {
                Some(old) => *old = alert,
                None => list.insert(0, alert),
            });
    }
}

/// A few words after a line's level.
fn line_label(condition: &Condition, index: u32) -> &'static str {
    match (condition, index) {
        (Condition::CrossingUp { .. }, _) => "crosses up",
        (Condition::CrossingDown { .. }, _) => "crosses down",
        (Condition::Crossing { .. }, _) => "crosses",
        (Condition::EnteringRange { .. }, 0) => "enters (low)",
        (Condition::EnteringRange { .. }, _) => "enters (high)",
        (Condition::LeavingRange { .. }, 0) => "leaves (low)",
        (Condition::LeavingRange { .. }, _) => "leaves (high)",
        (Condition::Script { .. }, _) => "",
    }
}

/// The lines the chart draws for a series' alerts.
pub fn alert_lines(alerts: &[Alert]) -> Vec<AlertLine> {
    alerts
        .iter()
        .filter(|alert| drawn_on_chart(alert))
        .flat_map(|alert| {
            alert
                .spec
                .condition
                .levels()
                .into_iter()
                .zip(0u32..)
                .map(|(price, index)| AlertLine {
                    id: alert.id.clone(),
                    index,
                    price,
                    paused: alert.state == AlertState::Paused,
                    label: line_label(&alert.spec.condition, index).to_string(),
                })
        })
        .collect()
}

/// The chart's "Alert" button and its short form; a visitor is asked to
/// log in.
#[component]
pub fn ChartAlertButton(
    symbol: Signal<Symbol>,
    interval: Signal<Interval>,
    #[prop(optional_no_strip)] alerts: Option<ChartAlerts>,
) -> impl IntoView {
    let Some(alerts) = alerts else {
        return view! {
            <a class="chip chart-alert-button" data-testid="chart-alert-button" href="/login?next=/alerts" rel="external"
                title="Log in to set price alerts">"Alert"</a>
        }
        .into_any();
    };
    let open = RwSignal::new(false);
    let shown_secret = RwSignal::new(None::<String>);
    let saved = Callback::new(move |created: AlertCreated| {
        open.set(false);
        shown_secret.set(created.webhook_secret);
        alerts.put(created.alert, &symbol.get_untracked(), interval.get_untracked());
    });
    let form = move || {
        open.get().then(|| {
            let draft = AlertDraft::price(
                &symbol.get_untracked(),
                interval.get_untracked(),
                alerts.last_price.get_untracked(),
            );
            view! {
                <div class="chart-alert-popover" role="dialog" aria-label="New price alert">
                    <AlertForm csrf=alerts.csrf.get_value() draft compact=true on_saved=saved
                        on_cancel=Callback::new(move |_| open.set(false)) />
                    <p class="field-hint"><a href="/alerts" rel="external">"All your alerts"</a></p>
                </div>
            }
        })
    };
    view! {
        <div class="chart-alert">
            <button type="button" class="chip chart-alert-button" data-testid="chart-alert-button"
                aria-expanded=move || open.get().to_string() title="Set a price alert on this series"
                on:click=move |_| open.update(|o| *o = !*o)>"Alert"</button>
            {form}
            {move || shown_secret.get().map(|secret| view! {
                <div class="chart-alert-popover">
                    <WebhookSecret secret on_done=Callback::new(move |_| shown_secret.set(None)) />
                </div>
            })}
            {move || alerts.notice.get().map(|message| view! {
                <p class="chart-alert-notice" role="alert" data-testid="chart-alert-notice">
                    {message}" "
                    <button type="button" class="link-button" on:click=move |_| alerts.notice.set(None)>"Dismiss"</button>
                </p>
            })}
        </div>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
pub use browser::draw;

#[cfg(feature = "hydrate")]
mod browser {
    use chart_bridge::{AlertMove, Chart as BridgeChart};
    use inchart_api::market::{Interval, Symbol};
    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use super::{ChartAlerts, alert_lines};
    use crate::alerts::{AlertPatch, list_alerts, moved, patch_alert, round_level};
    use crate::components::chart::ChartState;

    type Slot = StoredValue<Option<BridgeChart>, LocalStorage>;

    /// Loads the series' alerts when it changes, draws them whenever they
    /// change, and keeps the last price for the form.
    pub fn draw(
        chart: Slot,
        state: RwSignal<ChartState>,
        symbol: Signal<Symbol>,
        interval: Signal<Interval>,
        alerts: ChartAlerts,
    ) {
        Effect::new(move |_| {
            let (symbol, interval) = (symbol.get(), interval.get());
            alerts.list.set(Vec::new());
            spawn_local(async move {
                match list_alerts(Some((&symbol, interval))).await {
                    Ok(list) => alerts.list.set(
                        list.into_iter()
                            .filter(|a| a.spec.symbol == symbol && a.spec.interval == interval)
                            .collect(),
                    ),
                    Err(failure) => alerts.notice.set(Some(format!(
                        "Your alerts could not be loaded: {}",
                        failure.message
                    ))),
                }
            });
        });
        Effect::new(move |_| {
            let ready = state.with(|s| *s == ChartState::Ready);
            let lines = alerts.list.with(|list| alert_lines(list));
            if !ready {
                return;
            }
            chart.with_value(|slot| {
                if let Some(chart) = slot {
                    chart.set_alert_lines(&lines);
                    alerts.last_price.set(chart.last_close());
                }
            });
        });
    }

    impl ChartAlerts {
        /// Sends a dragged line's new level; the line goes back where it
        /// was when the server refuses.
        pub fn follow_drags(self, chart: &mut BridgeChart) {
            chart.on_alert_move(move |dropped: AlertMove| {
                let Some(alert) = self
                    .list
                    .with_untracked(|list| list.iter().find(|a| a.id == dropped.id).cloned())
                else {
                    return;
                };
                let patch = AlertPatch {
                    paused: None,
                    condition: Some(moved(
                        &alert.spec.condition,
                        dropped.index as usize,
                        round_level(dropped.price),
                    )),
                };
                spawn_local(async move {
                    match patch_alert(&self.csrf.get_value(), &alert.id, &patch).await {
                        Ok(changed) => self.list.update(|list| {
                            if let Some(old) = list.iter_mut().find(|a| a.id == changed.id) {
                                *old = changed;
                            }
                        }),
                        Err(failure) => {
                            self.notice
                                .set(Some(format!("The alert was not moved: {}", failure.message)));
                            // Draws the list again: the line goes back.
                            self.list.update(|_| {});
                        }
                    }
                });
            });
        }

        /// Keeps the last price as the chart draws it.
        pub fn follow_price(self, chart: &BridgeChart) {
            self.last_price.set(chart.last_close());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Sides;

    fn alert(id: &str, condition: Condition, state: AlertState) -> Alert {
        crate::alerts::sample_alert(id, Interval::M1, condition, state)
    }

    #[test]
    fn live_price_alerts_are_lines_paused_ones_grey_and_the_rest_left_out() {
        let list = [
            alert("a", Condition::CrossingUp { level: 65_000.0 }, AlertState::Active),
            alert(
                "b",
                Condition::EnteringRange {
                    low: 60_000.0,
                    high: 62_000.0,
                },
                AlertState::Paused,
            ),
            alert("c", Condition::Crossing { level: 1.0 }, AlertState::Triggered),
            alert("d", Condition::Crossing { level: 2.0 }, AlertState::Expired),
            alert(
                "e",
                Condition::Script {
                    script_id: "s".into(),
                    sides: Sides::Both,
                },
                AlertState::Active,
            ),
        ];
        let lines = alert_lines(&list);
        let drawn: Vec<_> = lines
            .iter()
            .map(|l| (l.id.as_str(), l.index, l.price, l.paused))
            .collect();
        assert_eq!(
            drawn,
            vec![
                ("a", 0, 65_000.0, false),
                ("b", 0, 60_000.0, true),
                ("b", 1, 62_000.0, true),
            ]
        );
        assert_eq!(lines[0].label, "crosses up");
        assert_eq!(lines[2].label, "enters (high)");
    }
}
