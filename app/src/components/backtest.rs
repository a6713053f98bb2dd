//! The workbench's backtest panel: the settings (collapsed, stated in
//! words), the progress of a running backtest, its report, its trades
//! (each row moving the chart to the trade) and two backtests compared
//! side by side.
//!
//! The panel renders on the server with nothing run; in the browser it
//! loads the script version's settings and shows its newest finished
//! backtest, or follows the one still running. What the chart draws of a
//! backtest (trades, equity, drawdown) is [`super::chart_backtest`]'s.
//!
//! Controls read their `name` or `data-` attributes in one handler per
//! event, as the chart's layers menu does: the rows carry no closures of
//! their own.

use std::collections::HashMap;
use std::sync::Arc;

use inchart_api::market::{Interval, Symbol};
use leptos::prelude::*;

use super::chart_backtest::{BacktestLayer, Focus, drawn_on};
use crate::api_client::ApiFailure;
use crate::backtests::{
    Backtest, BacktestSummary, Direction, Fill, FormField, SettingsDraft, SignalMeaning, SizeKind,
    SlippageKind, Status, Tone, better_of, describe_range, describe_settings, figures, minute, quantity,
    quote_asset, signed_money, signed_percent, summary_label,
};
use crate::markets::format_price;

/// How many trade rows are shown at first, and added by "Show more".
pub const TRADE_ROWS: usize = 200;

/// A script's backtests as the workbench holds them. Every part is a
/// signal, so the whole is `Copy` and shared by the toolbar's button, the
/// panel and the chart.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct ScriptBacktests {
    script: StoredValue<String>,
    csrf: StoredValue<String>,
    /// The chart's series, where a backtest runs.
    pub symbol: RwSignal<Symbol>,
    pub interval: RwSignal<Interval>,
    /// The script's newest saved version.
    pub version: RwSignal<u32>,
    /// The settings form, as typed.
    pub draft: RwSignal<SettingsDraft>,
    /// Whether the form holds the version's saved settings or the
    /// trader's own: only then are they sent (and saved with the version).
    draft_known: RwSignal<bool>,
    /// A field the trader or the server found wrong, and why.
    pub field_error: RwSignal<Option<(FormField, String)>>,
    pub settings_open: RwSignal<bool>,
    /// The backtest on show: running, done or failed.
    pub current: RwSignal<Option<Arc<Backtest>>>,
    /// Saving or asking the server to start one.
    pub starting: RwSignal<bool>,
    /// Why the last start was refused (a plan limit, a busy server …).
    pub refused: RwSignal<Option<ApiFailure>>,
    /// The trade rows shown, and the trade under the pointer or picked.
    pub rows: RwSignal<usize>,
    pub hovered: RwSignal<Option<usize>>,
    pub selected: RwSignal<Option<usize>>,
    /// Where the chart should look (a trade's entry).
    pub focus: RwSignal<Option<Focus>>,
    /// The compare view: open, the list to pick from, the two picked (by
    /// id), and the backtests fetched for it.
    pub comparing: RwSignal<bool>,
    pub history: RwSignal<Vec<BacktestSummary>>,
    pub history_note: RwSignal<Option<String>>,
    pub picked: RwSignal<(Option<String>, Option<String>)>,
    pub fetched: RwSignal<HashMap<String, Arc<Backtest>>>,
    /// Bumped by every start: a poll for an older backtest stops.
    watching: RwSignal<u64>,
}

/// Where the panel stands, as `data-backtest-state` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelState {
    Idle,
    Starting,
    Loading,
    Running,
    Done,
    Failed,
    Refused,
}

impl PanelState {
    pub fn as_str(self) -> &'static str {
        match self {
            PanelState::Idle => "idle",
            PanelState::Starting => "starting",
            PanelState::Loading => "loading",
            PanelState::Running => "running",
            PanelState::Done => "done",
            PanelState::Failed => "failed",
            PanelState::Refused => "refused",
        }
    }
}

impl ScriptBacktests {
    pub fn new(
        script: String,
        csrf: String,
        symbol: RwSignal<Symbol>,
        interval: RwSignal<Interval>,
        version: RwSignal<u32>,
    ) -> Self {
        Self {
            script: StoredValue::new(script),
            csrf: StoredValue::new(csrf),
            symbol,
            interval,
            version,
            draft: RwSignal::new(SettingsDraft::default()),
            draft_known: RwSignal::new(false),
            field_error: RwSignal::new(None),
            settings_open: RwSignal::new(false),
            current: RwSignal::new(None),
            starting: RwSignal::new(false),
            refused: RwSignal::new(None),
            rows: RwSignal::new(TRADE_ROWS),
            hovered: RwSignal::new(None),
            selected: RwSignal::new(None),
            focus: RwSignal::new(None),
            comparing: RwSignal::new(false),
            history: RwSignal::new(Vec::new()),
            history_note: RwSignal::new(None),
            picked: RwSignal::new((None, None)),
            fetched: RwSignal::new(HashMap::new()),
            watching: RwSignal::new(0),
        }
    }

    /// What the panel shows now.
    pub fn state(&self) -> PanelState {
        if self.starting.get() {
            return PanelState::Starting;
        }
        if self.refused.with(Option::is_some) {
            return PanelState::Refused;
        }
        self.current
            .with(|current| match current.as_deref().map(|b| &b.status) {
                None => PanelState::Idle,
                Some(Status::Loading { .. }) => PanelState::Loading,
                Some(Status::Running) => PanelState::Running,
                Some(Status::Done) => PanelState::Done,
                Some(Status::Failed { .. }) => PanelState::Failed,
            })
    }

    /// Whether a backtest is being started or is running.
    pub fn busy(&self) -> bool {
        matches!(
            self.state(),
            PanelState::Starting | PanelState::Loading | PanelState::Running
        )
    }

    /// What the chart draws of the backtest on show.
    pub fn layer(&self) -> BacktestLayer {
        let (hovered, selected) = (self.hovered, self.selected);
        BacktestLayer {
            shown: self.current.into(),
            focus: self.focus.into(),
            highlight: Signal::derive(move || hovered.get().or_else(|| selected.get())),
        }
    }

    /// Moves the chart to trade `index` of the backtest on show (to its
    /// series first, when the chart shows another) and draws it stronger.
    pub fn show_trade(&self, index: usize) {
        let Some((entry, symbol, interval)) = self.current.with_untracked(|current| {
            let backtest = current.as_deref()?;
            let trade = backtest.result.as_ref()?.trades.get(index)?;
            Some((trade.entry_time, backtest.symbol.clone(), backtest.interval))
        }) else {
            return;
        };
        if self.symbol.get_untracked() != symbol {
            self.symbol.set(symbol);
        }
        if self.interval.get_untracked() != interval {
            self.interval.set(interval);
        }
        self.selected.set(Some(index));
        let seq = self
            .focus
            .with_untracked(|f| f.map_or(0, |f| f.seq.wrapping_add(1)));
        self.focus.set(Some(Focus { time: entry, seq }));
    }

    /// Shows a backtest: its report, trades and curves.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn show(&self, backtest: Arc<Backtest>) {
        let new = self
            .current
            .with_untracked(|current| current.as_ref().map(|c| c.id.clone()) != Some(backtest.id.clone()));
        if new {
            self.rows.set(TRADE_ROWS);
            self.hovered.set(None);
            self.selected.set(None);
        }
        self.current.set(Some(backtest));
    }

    /// Changes one field of the settings form (by its `name`).
    pub fn edit(&self, name: &str, value: String) {
        let changed = self
            .draft
            .try_update(|draft| {
                let before = draft.clone();
                apply_edit(draft, name, value) && *draft != before
            })
            .unwrap_or(false);
        if changed {
            self.draft_known.set(true);
            self.field_error.set(None);
        }
    }

    /// Back to the defaults (all of the history).
    pub fn reset_settings(&self) {
        self.draft.set(SettingsDraft::default());
        self.draft_known.set(true);
        self.field_error.set(None);
    }
}

/// Sets the field `name` of `draft` to `value`; whether it was a field.
pub fn apply_edit(draft: &mut SettingsDraft, name: &str, value: String) -> bool {
    match name {
        "capital" => draft.capital = value,
        "size_kind" => {
            let Some(kind) = SizeKind::parse(&value) else {
                return false;
            };
            draft.size_kind = kind;
        }
        "size" => draft.size = value,
        "fee_pct" => draft.fee_pct = value,
        "slippage_kind" => {
            draft.slippage_kind = if value == "ticks" {
                SlippageKind::Ticks
            } else {
                SlippageKind::Percent
            }
        }
        "slippage" => draft.slippage = value,
        "tick" => draft.tick = value,
        "direction" => {
            draft.direction = if value == "long_and_short" {
                Direction::LongAndShort
            } else {
                Direction::LongOnly
            }
        }
        "meaning" => {
            draft.meaning = if value == "reverse" {
                SignalMeaning::Reverse
            } else {
                SignalMeaning::EnterExit
            }
        }
        "fill" => {
            draft.fill = if value == "signal_close" {
                Fill::SignalClose
            } else {
                Fill::NextOpen
            }
        }
        "from" => draft.from = value,
        "to" => draft.to = value,
        _ => return false,
    }
    true
}

/// The element an event happened on.
fn target_element(event: &leptos::ev::Event) -> Option<leptos::web_sys::Element> {
    use leptos::wasm_bindgen::JsCast;

    event.target()?.dyn_into::<leptos::web_sys::Element>().ok()
}

/// The trade row (its `data-trade` index) an event happened in.
fn trade_row(event: &leptos::ev::Event) -> Option<(usize, leptos::web_sys::Element)> {
    let row = target_element(event)?.closest("tr[data-trade]").ok()??;
    let index = row.get_attribute("data-trade")?.parse().ok()?;
    Some((index, row))
}

/// The panel under the chart. `on_start` saves the script and starts a
/// backtest (the toolbar's "Backtest" does the same).
#[component]
pub fn BacktestPanel(backtests: ScriptBacktests, on_start: Callback<()>) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    backtests.open();

    let collapsed = RwSignal::new(false);
    let state = move || backtests.state();
    let meta = move || {
        backtests.current.with(|current| {
            let backtest = current.as_deref()?;
            let older = backtest.version != backtests.version.get();
            let mut parts = vec![
                if older {
                    format!("v{} (an older version)", backtest.version)
                } else {
                    format!("v{}", backtest.version)
                },
                format!("{} {}", backtest.symbol, backtest.interval),
                describe_range(&backtest.range),
            ];
            if let Some(outcome) = &backtest.result {
                let report = &outcome.report;
                parts[2] = format!(
                    "{} to {}",
                    crate::backtests::day(report.first_candle),
                    crate::backtests::day(report.last_candle)
                );
                parts.push(format!(
                    "{} candles",
                    crate::markets::group_thousands(&report.candles.to_string())
                ));
                parts.push(format!("{:.1} s", outcome.wall_ms as f64 / 1000.0));
            }
            Some(parts.join(" \u{00b7} "))
        })
    };
    view! {
        <section class="backtest-panel" aria-labelledby="backtest-heading"
            data-backtest-state=move || state().as_str() data-collapsed=move || collapsed.get().to_string()>
            <header class="backtest-head">
                <button type="button" class="backtest-toggle" aria-expanded=move || (!collapsed.get()).to_string()
                    aria-controls="backtest-body" on:click=move |_| collapsed.update(|c| *c = !*c)>
                    <span class="chevron" aria-hidden="true"></span>
                    <h2 id="backtest-heading">"Backtest"</h2>
                </button>
                <p class="muted small backtest-meta tabular">{meta}</p>
                <span class="toolbar-gap"></span>
                <button type="button" class="button small" data-compare=""
                    aria-pressed=move || backtests.comparing.get().to_string()
                    on:click=move |_| {
                        collapsed.set(false);
                        backtests.comparing.update(|on| *on = !*on);
                        #[cfg(feature = "hydrate")]
                        if backtests.comparing.get_untracked() {
                            backtests.load_history();
                        }
                    }>"Compare"</button>
            </header>
            <div id="backtest-body" class="backtest-body" hidden=move || collapsed.get()>
                <SettingsPanel backtests on_start />
                <Progress backtests />
                {move || if backtests.comparing.get() {
                    view! { <CompareView backtests /> }.into_any()
                } else {
                    view! { <ReportView backtests /> }.into_any()
                }}
            </div>
        </section>
    }
    .into_any()
}

/// The settings, collapsed to one sentence until opened.
#[component]
fn SettingsPanel(backtests: ScriptBacktests, on_start: Callback<()>) -> impl IntoView {
    let draft = backtests.draft;
    let sentence = move || {
        let symbol = backtests.symbol.get();
        draft.with(|draft| {
            let settings = draft
                .settings()
                .map(|settings| describe_settings(&settings, &symbol))
                .unwrap_or_else(|(_, problem)| problem);
            let range = draft
                .range()
                .map(|range| describe_range(&range))
                .unwrap_or_default();
            format!("{settings}; {range}.")
        })
    };
    let quote = move || backtests.symbol.with(|symbol| quote_asset(symbol).to_string());
    let base = move || {
        backtests
            .symbol
            .with(|symbol| crate::news::base_asset(symbol).to_string())
    };
    let on_input = move |event: leptos::ev::Event| {
        if let Some(name) = target_element(&event).and_then(|element| element.get_attribute("name")) {
            backtests.edit(&name, event_target_value(&event));
        }
    };
    let error_for = move |field: FormField| {
        move || {
            backtests.field_error.with(|error| {
                error
                    .as_ref()
                    .filter(|(at, _)| *at == field)
                    .map(|(_, message)| view! { <p class="field-error" role="alert">{message.clone()}</p> })
            })
        }
    };
    let invalid = move |field: FormField| {
        move || {
            backtests
                .field_error
                .with(|e| e.as_ref().is_some_and(|(at, _)| *at == field))
        }
    };
    let text = move |pick: fn(&SettingsDraft) -> String| move || draft.with(pick);
    view! {
        <details class="backtest-settings" prop:open=move || backtests.settings_open.get()
            on:toggle=move |event| {
                let open = target_element(&event).is_some_and(|element| element.has_attribute("open"));
                backtests.settings_open.set(open);
            }>
            <summary>
                <span class="summary-label">"Settings"</span>
                <span class="settings-sentence">{sentence}</span>
            </summary>
            <form class="settings-form" on:input=on_input on:change=on_input
                on:submit=move |event| {
                    event.prevent_default();
                    on_start.run(());
                }>
                {move || backtests.field_error.with(|error| error.as_ref()
                    .filter(|(at, _)| *at == FormField::Other)
                    .map(|(_, message)| view! { <p class="form-error" role="alert">{message.clone()}</p> }))}
                <div class="settings-grid">
                    <div class="field" class:invalid=invalid(FormField::Capital)>
                        <label for="bt-capital">{move || format!("Starting capital ({})", quote())}</label>
                        <input id="bt-capital" name="capital" inputmode="decimal" autocomplete="off"
                            value=draft.with_untracked(|d| d.capital.clone()) prop:value=text(|d| d.capital.clone()) />
                        {error_for(FormField::Capital)}
                    </div>
                    <div class="field" class:invalid=invalid(FormField::Size)>
                        <label for="bt-size">"Order size"</label>
                        <div class="field-pair">
                            <select name="size_kind" aria-label="Order size is"
                                prop:value=move || draft.with(|d| d.size_kind.as_str())>
                                {SizeKind::ALL.into_iter().map(|kind| view! { <option value=kind.as_str()>{kind.label()}</option> }).collect_view()}
                            </select>
                            <input id="bt-size" name="size" inputmode="decimal" autocomplete="off"
                                value=draft.with_untracked(|d| d.size.clone()) prop:value=text(|d| d.size.clone()) />
                        </div>
                        <p class="field-hint">{move || match draft.with(|d| d.size_kind) {
                            SizeKind::PercentOfEquity => "Of the equity at each entry, fees included.".to_string(),
                            SizeKind::Amount => format!("In {} per trade.", quote()),
                            SizeKind::Quantity => format!("In {} per trade.", base()),
                        }}</p>
                        {error_for(FormField::Size)}
                    </div>
                    <div class="field" class:invalid=invalid(FormField::Fee)>
                        <label for="bt-fee">"Fee per side (%)"</label>
                        <input id="bt-fee" name="fee_pct" inputmode="decimal" autocomplete="off"
                            value=draft.with_untracked(|d| d.fee_pct.clone()) prop:value=text(|d| d.fee_pct.clone()) />
                        <p class="field-hint">"On the entry and on the exit."</p>
                        {error_for(FormField::Fee)}
                    </div>
                    <div class="field" class:invalid=invalid(FormField::Slippage)>
                        <label for="bt-slippage">"Slippage"</label>
                        <div class="field-pair">
                            <select name="slippage_kind" aria-label="Slippage in"
                                prop:value=move || if draft.with(|d| d.slippage_kind) == SlippageKind::Ticks { "ticks" } else { "percent" }>
                                <option value="percent">"%"</option>
                                <option value="ticks">"Ticks"</option>
                            </select>
                            <input id="bt-slippage" name="slippage" inputmode="decimal" autocomplete="off"
                                value=draft.with_untracked(|d| d.slippage.clone()) prop:value=text(|d| d.slippage.clone()) />
                        </div>
                        {move || (draft.with(|d| d.slippage_kind) == SlippageKind::Ticks).then(|| view! {
                            <label class="small" for="bt-tick">"Tick size"</label>
                            <input id="bt-tick" name="tick" inputmode="decimal" autocomplete="off"
                                value=draft.with_untracked(|d| d.tick.clone()) prop:value=text(|d| d.tick.clone()) />
                        })}
                        {error_for(FormField::Slippage)}
                    </div>
                    <div class="field">
                        <label for="bt-direction">"Positions"</label>
                        <select id="bt-direction" name="direction"
                            prop:value=move || if draft.with(|d| d.direction) == Direction::LongAndShort { "long_and_short" } else { "long_only" }>
                            <option value="long_only">"Long only"</option>
                            <option value="long_and_short">"Long and short"</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="bt-meaning">"Signals"</label>
                        <select id="bt-meaning" name="meaning"
                            prop:value=move || if draft.with(|d| d.meaning) == SignalMeaning::Reverse { "reverse" } else { "enter_exit" }>
                            <option value="enter_exit">"Buy enters, sell exits"</option>
                            <option value="reverse">"Each signal reverses"</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="bt-fill">"Fills at"</label>
                        <select id="bt-fill" name="fill"
                            prop:value=move || if draft.with(|d| d.fill) == Fill::SignalClose { "signal_close" } else { "next_open" }>
                            <option value="next_open">"The next candle's open"</option>
                            <option value="signal_close">"The signal candle's close"</option>
                        </select>
                    </div>
                    <div class="field" class:invalid=invalid(FormField::From)>
                        <label for="bt-from">"From (UTC)"</label>
                        <input id="bt-from" name="from" type="date" value=draft.with_untracked(|d| d.from.clone()) prop:value=text(|d| d.from.clone()) />
                        {error_for(FormField::From)}
                    </div>
                    <div class="field" class:invalid=invalid(FormField::To)>
                        <label for="bt-to">"To (UTC)"</label>
                        <input id="bt-to" name="to" type="date" value=draft.with_untracked(|d| d.to.clone()) prop:value=text(|d| d.to.clone()) />
                        {error_for(FormField::To)}
                    </div>
                </div>
                <p class="field-hint">
                    "Empty dates: all the history your plan reaches. Settings are saved with the script's version when a backtest starts."
                </p>
                <div class="settings-actions">
                    <button type="button" class="button small" on:click=move |_| backtests.reset_settings()>"Defaults"</button>
                    <button type="submit" class="button small primary" disabled=move || backtests.busy()>"Backtest"</button>
                </div>
            </form>
        </details>
    }
    // Erased: the form's type nested in the workbench's is past the
    // compiler's depth limit in the browser build.
    .into_any()
}

/// Starting, loading candles, running; or why it failed or was refused.
#[component]
fn Progress(backtests: ScriptBacktests) -> impl IntoView {
    move || {
        if backtests.starting.get() {
            return view! {
                <div class="backtest-progress" role="status" aria-live="polite">
                    <p>"Saving the script and starting the backtest…"</p>
                    <progress aria-label="Starting"></progress>
                </div>
            }
            .into_any();
        }
        if let Some(failure) = backtests.refused.get() {
            let upgrade = (failure.status == 402 || failure.upgrade.is_some()).then(|| {
                let href = failure.upgrade.clone().unwrap_or_else(|| "/pricing".into());
                view! { " "<a href=href>"See the plans"</a> }
            });
            let busy = (failure.status == 429).then_some(" Try again in a minute.");
            // A poll that kept failing leaves a running backtest behind.
            let running = backtests.current.with(|current| {
                matches!(
                    current.as_deref().map(|b| &b.status),
                    Some(Status::Loading { .. } | Status::Running)
                )
            });
            let lead = if running {
                "The backtest's progress could not be read. "
            } else {
                "The backtest did not start. "
            };
            return view! {
                <div class="form-error backtest-refused" role="alert" data-status=failure.status>
                    <strong>{lead}</strong>{failure.message.clone()}{busy}{upgrade}
                </div>
            }
            .into_any();
        }
        backtests.current.with(|current| match current.as_deref().map(|b| &b.status) {
            Some(Status::Loading { have, want }) => {
                let text = format!(
                    "Loading older candles: {} of {}",
                    crate::markets::group_thousands(&have.to_string()),
                    crate::markets::group_thousands(&want.to_string())
                );
                view! {
                    <div class="backtest-progress" role="status" aria-live="polite">
                        <p class="tabular">{text}</p>
                        <progress max=want.to_string() value=have.to_string() aria-label="Candles loaded"></progress>
                    </div>
                }
                .into_any()
            }
            Some(Status::Running) => view! {
                <div class="backtest-progress" role="status" aria-live="polite">
                    <p>"Running the script and trading its signals…"</p>
                    <progress aria-label="Running"></progress>
                </div>
            }
            .into_any(),
            Some(Status::Failed { message }) => view! {
                <div class="form-error backtest-failed" role="alert">
                    <strong>"The backtest failed. "</strong>{message.clone()}
                </div>
            }
            .into_any(),
            Some(Status::Done) | None => ().into_any(),
        })
    }
}

/// The report's figures and the trade list of the backtest on show.
#[component]
fn ReportView(backtests: ScriptBacktests) -> impl IntoView {
    move || {
        let Some(backtest) = backtests.current.get().filter(|b| b.status == Status::Done) else {
            return backtests
                .current
                .with(Option::is_none)
                .then(|| {
                    view! {
                        <p class="muted small backtest-hint">
                            "Backtest trades the script's buy and sell signals over the chart's history and reports how it would have done: "
                            "profit, drawdown, every trade on the chart."
                        </p>
                    }
                })
                .into_any();
        };
        let Some(outcome) = backtest.result.as_deref() else {
            return ().into_any();
        };
        let on_chart = move || {
            let (symbol, interval) = (backtests.symbol.get(), backtests.interval.get());
            backtests
                .current
                .with(|current| current.as_deref().is_none_or(|b| drawn_on(b, &symbol, interval)))
        };
        let elsewhere = {
            let series = (backtest.symbol.clone(), backtest.interval);
            move || {
                (!on_chart()).then(|| {
                    let (symbol, interval) = series.clone();
                    let label = format!("Show {symbol} {interval}");
                    view! {
                        <p class="notice backtest-elsewhere">
                            {format!("This backtest ran on {symbol} {interval}; the chart shows another series. ")}
                            <button type="button" class="link-button" on:click=move |_| {
                                backtests.symbol.set(symbol.clone());
                                backtests.interval.set(interval);
                            }>{label}</button>
                        </p>
                    }
                })
            }
        };
        let all = figures(&outcome.report);
        let (headline, more): (Vec<_>, Vec<_>) = all.into_iter().partition(|f| f.headline);
        let figure_view = |figure: crate::backtests::Figure| {
            view! {
                <div class=format!("figure {}", figure.tone.class()) data-figure=figure.id>
                    <dt>{figure.label}</dt>
                    <dd>
                        <span class="figure-value">{figure.shown()}</span>
                        {figure.detail.map(|detail| view! { <span class="figure-detail">{detail}</span> })}
                    </dd>
                </div>
            }
        };
        let ignored = outcome.report.signals_ignored;
        view! {
            {elsewhere}
            <div class="report" data-report=backtest.id.clone()>
                <dl class="figures headline">{headline.into_iter().map(figure_view).collect_view()}</dl>
                <dl class="figures more">{more.into_iter().map(figure_view).collect_view()}</dl>
                {(ignored > 0).then(|| view! {
                    <p class="muted small">{if ignored == 1 {
                        "1 signal came while already in its position and was ignored.".to_string()
                    } else {
                        format!("{ignored} signals came while already in their position and were ignored.")
                    }}</p>
                })}
            </div>
            <TradeList backtests backtest=backtest.clone() />
        }
        .into_any()
    }
}

/// The trades, oldest first; a click or Enter on a row shows it on the chart.
#[component]
fn TradeList(backtests: ScriptBacktests, backtest: Arc<Backtest>) -> impl IntoView {
    let Some(outcome) = backtest.result.as_deref() else {
        return ().into_any();
    };
    if outcome.trades.is_empty() {
        return view! { <p class="muted small trades-empty">"No trades: the script gave no signal that opened a position."</p> }.into_any();
    }
    let base = crate::news::base_asset(&backtest.symbol).to_string();
    let total = outcome.trades.len();
    let shown = backtests.rows;
    let rows = {
        let backtest = backtest.clone();
        let unit = format!(" {base}");
        move || {
            let Some(outcome) = backtest.result.as_deref() else {
                return Vec::new();
            };
            outcome
                .trades
                .iter()
                .take(shown.get())
                .enumerate()
                .map(|(index, trade)| {
                    let long = trade.position == crate::backtests::Position::Long;
                    let tone = Tone::of(Some(trade.pnl)).class();
                    let label = format!(
                        "Trade {}: {}, entry {} at {}, exit {} at {}, {} ({}), {} bars. Show on the chart.",
                        index + 1,
                        if long { "long" } else { "short" },
                        minute(trade.entry_time),
                        format_price(trade.entry_price),
                        minute(trade.exit_time),
                        format_price(trade.exit_price),
                        signed_money(trade.pnl),
                        signed_percent(trade.pnl_pct),
                        trade.bars
                    );
                    let selected = move || backtests.selected.get() == Some(index);
                    view! {
                        <tr role="row" tabindex="0" data-trade=index class=tone class:selected=selected aria-label=label>
                            <td role="cell" class="trade-n">{index + 1}</td>
                            <td role="cell" class="trade-side">
                                <span aria-hidden="true">{if long { "\u{25B2} " } else { "\u{25BC} " }}</span>
                                {if long { "Long" } else { "Short" }}
                                {trade.closed_at_end.then(|| view! { <span class="muted" title="Closed when the range ended">" \u{00b7} end"</span> })}
                            </td>
                            <td role="cell" class="trade-entry">
                                <span class="trade-time">{minute(trade.entry_time)}</span>
                                <span class="trade-price">{format_price(trade.entry_price)}</span>
                            </td>
                            <td role="cell" class="trade-exit">
                                <span class="trade-time">{minute(trade.exit_time)}</span>
                                <span class="trade-price">{format_price(trade.exit_price)}</span>
                            </td>
                            <td role="cell" class="num trade-size">{quantity(trade.quantity)}<span class="size-unit">{unit.clone()}</span></td>
                            <td role="cell" class="num trade-pnl">
                                <span class="pnl-money">{signed_money(trade.pnl)}</span>
                                <span class="pnl-pct">{signed_percent(trade.pnl_pct)}</span>
                            </td>
                            <td role="cell" class="num trade-bars">{trade.bars}<span class="bars-word">" bars"</span></td>
                        </tr>
                    }
                })
                .collect_view()
        }
    };
    let on_click = move |event: leptos::ev::MouseEvent| {
        if let Some((index, _)) = trade_row(&event) {
            backtests.show_trade(index);
        }
    };
    let on_key = move |event: leptos::ev::KeyboardEvent| {
        let Some((index, row)) = trade_row(&event) else {
            return;
        };
        match event.key().as_str() {
            "Enter" | " " => {
                event.prevent_default();
                backtests.show_trade(index);
            }
            "ArrowDown" | "ArrowUp" => {
                event.prevent_default();
                let next = if event.key() == "ArrowDown" {
                    row.next_element_sibling()
                } else {
                    row.previous_element_sibling()
                };
                if let Some(next) = next {
                    use leptos::wasm_bindgen::JsCast;
                    if let Ok(next) = next.dyn_into::<leptos::web_sys::HtmlElement>() {
                        let _ = next.focus();
                    }
                }
            }
            _ => {}
        }
    };
    let point_at = move |event: &leptos::ev::Event| {
        let index = trade_row(event).map(|(index, _)| index);
        if backtests.hovered.get_untracked() != index {
            backtests.hovered.set(index);
        }
    };
    let on_over = move |event: leptos::ev::MouseEvent| point_at(&event);
    let on_focus = move |event: leptos::ev::FocusEvent| point_at(&event);
    let more = move || {
        let left = total.saturating_sub(shown.get());
        (left > 0).then(|| {
            let next = left.min(TRADE_ROWS);
            view! {
                <button type="button" class="button small trades-more" on:click=move |_| shown.update(|n| *n += TRADE_ROWS)>
                    {format!("Show {next} more of {total}")}
                </button>
            }
        })
    };
    view! {
        <div class="trades-wrap">
            <table class="trades" role="table" aria-describedby="trades-caption">
                <caption id="trades-caption" class="muted small">
                    {format!("{total} trades \u{00b7} times in UTC \u{00b7} a row shows its trade on the chart")}
                </caption>
                <thead role="rowgroup">
                    <tr role="row">
                        <th role="columnheader" scope="col" class="trade-n">"#"</th>
                        <th role="columnheader" scope="col">"Side"</th>
                        <th role="columnheader" scope="col">"Entry"</th>
                        <th role="columnheader" scope="col">"Exit"</th>
                        <th role="columnheader" scope="col" class="num">{format!("Size ({base})")}</th>
                        <th role="columnheader" scope="col" class="num">"P&L"</th>
                        <th role="columnheader" scope="col" class="num trade-bars">"Bars"</th>
                    </tr>
                </thead>
                <tbody role="rowgroup" on:click=on_click on:keydown=on_key on:mouseover=on_over
                    on:focusin=on_focus on:mouseleave=move |_| backtests.hovered.set(None)>
                    {rows}
                </tbody>
            </table>
            {more}
        </div>
    }
    .into_any()
}

/// Two backtests of the script, figure by figure, the better one marked.
#[component]
fn CompareView(backtests: ScriptBacktests) -> impl IntoView {
    let on_change = move |event: leptos::ev::Event| {
        let Some(side) = target_element(&event).and_then(|element| element.get_attribute("data-pick")) else {
            return;
        };
        let id = Some(event_target_value(&event)).filter(|id| !id.is_empty());
        backtests.picked.update(|(a, b)| {
            if side == "a" {
                *a = id.clone();
            } else {
                *b = id.clone();
            }
        });
        #[cfg(feature = "hydrate")]
        if let Some(id) = id {
            backtests.fetch(id);
        }
    };
    let picker = move |side: &'static str| {
        let chosen = move || {
            backtests
                .picked
                .with(|(a, b)| if side == "a" { a.clone() } else { b.clone() })
                .unwrap_or_default()
        };
        view! {
            <label class="compare-pick">
                <span>{if side == "a" { "A" } else { "B" }}</span>
                <select data-pick=side>
                    <option value="">"Pick a backtest"</option>
                    {move || backtests.history.with(|list| list.iter()
                        .filter(|summary| summary.status == Status::Done)
                        .map(|summary| {
                            let id = summary.id.clone();
                            let selected = move || chosen() == id;
                            view! { <option value=summary.id.clone() prop:selected=selected>{summary_label(summary)}</option> }
                        })
                        .collect_view())}
                </select>
            </label>
        }
    };
    let table = move || {
        let (a, b) = backtests.picked.get();
        let fetched = backtests.fetched.get();
        let a = a.and_then(|id| fetched.get(&id).cloned());
        let b = b.and_then(|id| fetched.get(&id).cloned());
        let (Some(a), Some(b)) = (a, b) else {
            return view! { <p class="muted small">"Pick two finished backtests to see their figures side by side."</p> }.into_any();
        };
        let (Some(ra), Some(rb)) = (a.result.as_deref(), b.result.as_deref()) else {
            return ().into_any();
        };
        let (fa, fb) = (figures(&ra.report), figures(&rb.report));
        let context = |label: &'static str, pick: &dyn Fn(&Backtest) -> String| {
            view! {
                <tr class="context"><th scope="row">{label}</th><td>{pick(&a)}</td><td>{pick(&b)}</td></tr>
            }
        };
        let rows = fa
            .into_iter()
            .zip(fb)
            .map(|(x, y)| {
                let better = better_of(x.better, x.value, y.value);
                let cell = |figure: &crate::backtests::Figure, wins: bool| {
                    let class = format!("num {}{}", figure.tone.class(), if wins { " better" } else { "" });
                    view! {
                        <td class=class>
                            {figure.shown()}
                            {figure.detail.clone().map(|detail| view! { <span class="figure-detail">{detail}</span> })}
                            {wins.then(|| view! { <span class="better-mark" aria-hidden="true">" \u{2713}"</span><span class="visually-hidden">" (better)"</span> })}
                        </td>
                    }
                };
                view! {
                    <tr data-figure=x.id>
                        <th scope="row">{x.label}</th>
                        {cell(&x, better == Some(true))}
                        {cell(&y, better == Some(false))}
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="compare-table">
                <thead>
                    <tr>
                        <th scope="col">"Figure"</th>
                        <th scope="col" class="num">{format!("A \u{00b7} v{}", a.version)}</th>
                        <th scope="col" class="num">{format!("B \u{00b7} v{}", b.version)}</th>
                    </tr>
                </thead>
                <tbody>
                    {context("Series", &|b: &Backtest| format!("{} {}", b.symbol, b.interval))}
                    {context("Range", &|b: &Backtest| b.result.as_deref().map_or_else(
                        || describe_range(&b.range),
                        |o| format!("{} to {}", crate::backtests::day(o.report.first_candle), crate::backtests::day(o.report.last_candle)),
                    ))}
                    {context("Settings", &|b: &Backtest| describe_settings(&b.settings, &b.symbol))}
                    {rows}
                </tbody>
            </table>
            <p class="muted small">"\u{2713} marks the better of the two where a figure has a better side."</p>
        }
        .into_any()
    };
    view! {
        <div class="compare" on:change=on_change>
            <div class="compare-picks">{picker("a")}{picker("b")}</div>
            {move || backtests.history_note.get().map(|note| view! { <p class="muted small">{note}</p> })}
            {table}
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::sync::Arc;

    use leptos::prelude::*;
    use leptos::task::spawn_local;

    use super::ScriptBacktests;
    use crate::api_client::{ApiFailure, get_for, send_for};
    use crate::backtests::{
        Backtest, BacktestRequest, BacktestSummary, FormField, Settings, SettingsDraft, Status,
    };

    /// How long one poll waits for a change, in ms (the API's most is 20,000).
    const WAIT_MS: u32 = 15_000;
    /// After a failed poll, the wait before the next, in ms.
    const RETRY_MS: i32 = 2_000;
    /// After an answer without a change, the wait before the next poll, in ms.
    const UNCHANGED_MS: i32 = 500;
    /// Polls that may fail in a row before the panel says so.
    const RETRIES: u32 = 5;

    /// Resolves after `ms`.
    async fn sleep(ms: i32) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }

    impl ScriptBacktests {
        fn url(&self, rest: &str) -> String {
            format!("/api/v1/scripts/{}{rest}", self.script.get_value())
        }

        /// On hydration: the version's settings, and its newest finished
        /// backtest (or the one still running).
        pub fn open(self) {
            spawn_local(async move {
                let version = self.version.get_untracked();
                if let Ok(settings) =
                    get_for::<Settings>(&self.url(&format!("/backtest-settings?version={version}"))).await
                    && !self.draft_known.try_get_untracked().unwrap_or(true)
                {
                    let range = self
                        .draft
                        .with_untracked(|draft| draft.range().unwrap_or_default());
                    self.draft.set(SettingsDraft::new(&settings, &range));
                    self.draft_known.set(true);
                }
                let Ok(list) = get_for::<Vec<BacktestSummary>>(&self.url("/backtests")).await else {
                    return;
                };
                let _ = self.history.try_set(list.clone());
                let Some(pick) = newest_of_version(
                    &list,
                    version,
                    &self.symbol.get_untracked(),
                    self.interval.get_untracked(),
                ) else {
                    return;
                };
                if self.current.try_with_untracked(Option::is_some).unwrap_or(true)
                    || self.starting.get_untracked()
                {
                    // The trader started one meanwhile.
                    return;
                }
                match get_for::<Backtest>(&self.url(&format!("/backtests/{}", pick.id))).await {
                    Ok(backtest) => {
                        let running = matches!(backtest.status, Status::Loading { .. } | Status::Running);
                        if self.current.try_with_untracked(Option::is_some).unwrap_or(true) {
                            return;
                        }
                        let id = backtest.id.clone();
                        // The form repeats the backtest shown: its settings
                        // when the version's were not read, and its range
                        // unless the trader typed one.
                        let known = self.draft_known.get_untracked();
                        if !known
                            || self
                                .draft
                                .with_untracked(|d| d.from.is_empty() && d.to.is_empty())
                        {
                            self.draft.update(|draft| {
                                let settings = if known {
                                    draft.settings().unwrap_or(backtest.settings)
                                } else {
                                    backtest.settings
                                };
                                *draft = SettingsDraft::new(&settings, &backtest.range);
                            });
                            self.draft_known.set(true);
                        }
                        self.show(Arc::new(backtest));
                        if running {
                            let generation = self.watching.get_untracked();
                            self.watch(id, generation).await;
                        }
                    }
                    Err(failure) => web_sys::console::warn_1(
                        &format!(
                            "InChart: the last backtest could not be read: {}",
                            failure.message
                        )
                        .into(),
                    ),
                }
            });
        }

        /// Clears what the last start left, before saving the script.
        pub fn begin(&self) {
            self.starting.set(true);
            self.refused.set(None);
            self.field_error.set(None);
        }

        /// Ends a start that failed before the backtest was asked for.
        pub fn refuse(&self, failure: ApiFailure) {
            self.starting.set(false);
            self.refused.set(Some(failure));
        }

        /// Asks the server to backtest the newest version (saved just
        /// before) on the chart's series, then follows it to its report.
        pub async fn start(self) {
            let settings = match self
                .draft
                .with_untracked(|draft| draft.settings().and_then(|s| Ok((s, draft.range()?))))
            {
                Ok(pair) => pair,
                Err((field, message)) => {
                    self.starting.set(false);
                    self.field_error.set(Some((field, message)));
                    self.settings_open.set(true);
                    return;
                }
            };
            let (settings, range) = settings;
            let request = BacktestRequest {
                symbol: self.symbol.get_untracked(),
                interval: self.interval.get_untracked(),
                version: Some(self.version.get_untracked()),
                range,
                settings: self.draft_known.get_untracked().then_some(settings),
            };
            let Ok(body) = serde_json::to_string(&request) else {
                self.refuse(ApiFailure {
                    status: 0,
                    kind: None,
                    field: None,
                    message: "The request could not be built.".into(),
                    upgrade: None,
                });
                return;
            };
            let generation = self.watching.get_untracked() + 1;
            self.watching.set(generation);
            let answer = send_for::<Backtest>(
                gloo_net::http::Request::post(&self.url("/backtests")),
                &self.csrf.get_value(),
                Some(body),
            )
            .await;
            if self.starting.try_set(false).is_some() {
                return; // the page is gone
            }
            match answer {
                Ok(Some(backtest)) => {
                    let id = backtest.id.clone();
                    let finished = matches!(backtest.status, Status::Done | Status::Failed { .. });
                    self.show(Arc::new(backtest));
                    if finished {
                        self.finished();
                    } else {
                        self.watch(id, generation).await;
                    }
                }
                Ok(None) => self.refuse(ApiFailure {
                    status: 0,
                    kind: None,
                    field: None,
                    message: "The server started nothing.".into(),
                    upgrade: None,
                }),
                Err(failure) => match failure.field.as_deref().map(FormField::of_api) {
                    Some(field) if failure.status == 400 => {
                        self.field_error.set(Some((field, failure.message)));
                        self.settings_open.set(true);
                    }
                    _ => self.refuse(failure),
                },
            }
        }

        /// Polls backtest `id` until it is done or failed, showing each
        /// change; stops when another start (or the page) takes over.
        async fn watch(self, id: String, generation: u64) {
            let url = self.url(&format!("/backtests/{id}?wait_ms={WAIT_MS}"));
            let mut failures = 0;
            loop {
                if self.watching.try_get_untracked() != Some(generation) {
                    return;
                }
                match get_for::<Backtest>(&url).await {
                    Ok(backtest) => {
                        failures = 0;
                        if self.watching.try_get_untracked() != Some(generation) {
                            return;
                        }
                        let finished = matches!(backtest.status, Status::Done | Status::Failed { .. });
                        let changed = self
                            .current
                            .with_untracked(|current| current.as_deref() != Some(&backtest));
                        if finished {
                            if changed {
                                self.show(Arc::new(backtest));
                            }
                            self.finished();
                            return;
                        }
                        if changed {
                            self.show(Arc::new(backtest));
                        } else {
                            // A server that answers before its wait is up
                            // is not asked again at once.
                            sleep(UNCHANGED_MS).await;
                        }
                    }
                    Err(failure) if failure.status == 404 || failures >= RETRIES => {
                        let _ = self.refused.try_set(Some(failure));
                        return;
                    }
                    Err(_) => {
                        failures += 1;
                        sleep(RETRY_MS).await;
                    }
                }
            }
        }

        /// A backtest ended: the compare view learns of it.
        fn finished(&self) {
            if let Some(backtest) = self.current.get_untracked() {
                self.fetched.update(|fetched| {
                    fetched.insert(backtest.id.clone(), backtest);
                });
            }
            if self.comparing.get_untracked() {
                self.load_history();
            }
        }

        /// Reads the script's backtests for the compare view and picks
        /// the two newest finished ones (of two versions when there are).
        pub fn load_history(self) {
            spawn_local(async move {
                match get_for::<Vec<BacktestSummary>>(&self.url("/backtests")).await {
                    Ok(list) => {
                        let done: Vec<&BacktestSummary> =
                            list.iter().filter(|s| s.status == Status::Done).collect();
                        let note = match done.len() {
                            0 => Some("No finished backtests yet.".to_string()),
                            1 => Some("One finished backtest so far: run another (a new version, other settings) to compare.".to_string()),
                            _ => None,
                        };
                        let _ = self.history_note.try_set(note);
                        let Some((a, b)) = self.picked.try_get_untracked() else {
                            return;
                        };
                        let known = |id: &Option<String>| {
                            id.as_ref().is_some_and(|id| done.iter().any(|s| &s.id == id))
                        };
                        let first = done.first().map(|s| s.id.clone());
                        let second = done
                            .iter()
                            .skip(1)
                            .find(|s| Some(s.version) != done.first().map(|f| f.version))
                            .or_else(|| done.get(1))
                            .map(|s| s.id.clone());
                        let a = if known(&a) { a } else { first };
                        let b = if known(&b) && b != a {
                            b
                        } else {
                            second.filter(|s| Some(s) != a.as_ref())
                        };
                        let _ = self.history.try_set(list.clone());
                        let _ = self.picked.try_set((a.clone(), b.clone()));
                        for id in [a, b].into_iter().flatten() {
                            self.fetch(id);
                        }
                    }
                    Err(failure) => {
                        let _ = self.history_note.try_set(Some(failure.message));
                    }
                }
            });
        }

        /// Fetches a backtest for the compare view, unless it has it.
        pub fn fetch(self, id: String) {
            if self.fetched.with_untracked(|fetched| fetched.contains_key(&id)) {
                return;
            }
            spawn_local(async move {
                match get_for::<Backtest>(&self.url(&format!("/backtests/{id}"))).await {
                    Ok(backtest) => {
                        let _ = self.fetched.try_update(|fetched| {
                            fetched.insert(id, Arc::new(backtest));
                        });
                    }
                    Err(failure) => {
                        let _ = self.history_note.try_set(Some(failure.message));
                    }
                }
            });
        }
    }

    /// The backtest to show when the workbench opens: the newest of
    /// `version` still running or finished, one on the chart's series
    /// first.
    fn newest_of_version<'a>(
        list: &'a [BacktestSummary],
        version: u32,
        symbol: &inchart_api::market::Symbol,
        interval: inchart_api::market::Interval,
    ) -> Option<&'a BacktestSummary> {
        let of_version = || {
            list.iter()
                .filter(move |s| s.version == version && !matches!(s.status, Status::Failed { .. }))
        };
        of_version()
            .find(|s| &s.symbol == symbol && s.interval == interval)
            .or_else(|| of_version().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtests::tests_support;

    #[test]
    fn each_input_edits_the_field_its_name_says() {
        let mut draft = SettingsDraft::default();
        assert!(apply_edit(&mut draft, "fee_pct", "0.2".into()));
        assert!(apply_edit(&mut draft, "size_kind", "amount".into()));
        assert!(apply_edit(&mut draft, "slippage_kind", "ticks".into()));
        assert!(apply_edit(&mut draft, "direction", "long_and_short".into()));
        assert!(apply_edit(&mut draft, "fill", "signal_close".into()));
        assert!(apply_edit(&mut draft, "from", "2024-01-01".into()));
        assert_eq!(draft.fee_pct, "0.2");
        assert_eq!(draft.size_kind, SizeKind::Amount);
        assert_eq!(draft.slippage_kind, SlippageKind::Ticks);
        assert_eq!(draft.direction, Direction::LongAndShort);
        assert_eq!(draft.fill, Fill::SignalClose);
        assert_eq!(draft.from, "2024-01-01");
        assert!(!apply_edit(&mut draft, "size_kind", "everything".into()));
        assert!(!apply_edit(&mut draft, "csrf", "x".into()));
    }

    #[test]
    fn the_panel_says_where_the_backtest_stands() {
        let owner = Owner::new();
        owner.with(|| {
            let backtests = ScriptBacktests::new(
                "s1".into(),
                "token".into(),
                RwSignal::new(Symbol::parse("BTCUSDT").unwrap()),
                RwSignal::new(Interval::H1),
                RwSignal::new(2),
            );
            assert_eq!(backtests.state(), PanelState::Idle);
            backtests.starting.set(true);
            assert_eq!(backtests.state(), PanelState::Starting);
            assert!(backtests.busy());
            backtests.starting.set(false);
            let mut running = tests_support::backtest();
            running.status = Status::Loading { have: 10, want: 20 };
            backtests.show(Arc::new(running));
            assert_eq!(backtests.state(), PanelState::Loading);
            backtests.show(Arc::new(tests_support::backtest()));
            assert_eq!(backtests.state(), PanelState::Done);
            assert!(!backtests.busy());

            // A trade row moves the chart to the trade's entry, again on a
            // second click, on the backtest's own series.
            backtests.interval.set(Interval::H4);
            backtests.show_trade(1);
            let first = backtests.focus.get_untracked().unwrap();
            assert_eq!(first.time, 20 * 3_600_000);
            assert_eq!(backtests.interval.get_untracked(), Interval::H1);
            assert_eq!(backtests.selected.get_untracked(), Some(1));
            backtests.show_trade(1);
            assert_ne!(backtests.focus.get_untracked().unwrap().seq, first.seq);
            backtests.show_trade(7);
            assert_eq!(backtests.selected.get_untracked(), Some(1), "no such trade");
        });
    }
}
